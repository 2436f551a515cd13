"""Reply -> Telegram HTML, as small pure functions (no network, no Application).

    >>> render_reply(Reply("Len Wiseman <directs> it.", "answer"), hide_spoilers=False).text
    'Len Wiseman &lt;directs&gt; it.'

Every piece of dynamic text (answers, names, user text, sources) goes through `escape` before it is
placed between our own tags; spoilers (substrings of `Reply.text`) are wrapped in `<tg-spoiler>` only
where the front asks for it (groups and inline results).
"""
from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
)
from telegram.constants import ParseMode

from ..reply import Reply, SourceRef

MAX_TEXT = 4096  # Telegram's limit, in UTF-16 code units of the parsed text
TEXT_BUDGET = 3900  # what the answer itself may use, leaving room for the question echo
MAX_BUTTONS = 4
CALLBACK_PREFIX = "ask:"  # callback_data "ask:<question>" when it fits in 64 bytes
CALLBACK_INDEX_PREFIX = "ask#"  # else "ask#<n>": the question is the label of button n
MAX_CALLBACK_BYTES = 64
SUGGESTION_KINDS = frozenset({"clarify", "unknown"})

COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "Say hello and see example questions"),
    ("help", "What you can ask, and how"),
    ("ask", "Ask a question (in groups: /ask who directs it?)"),
    ("about", "What I know and where it comes from"),
    ("cancel", "Forget the current topic and start afresh"),
    ("quiz", "Start a trivia quiz: /quiz or /quiz 10"),
    ("score", "Scores in the running quiz"),
    ("leaderboard", "All-time quiz leaderboard (/leaderboard global: every chat)"),
    ("skip", "Skip the current quiz question"),
    ("stop", "Stop the quiz"),
    ("quizsettings", "Quiz settings: questions, seconds, mode, difficulty"),
)
GROUP_COMMANDS = ("ask", "help", "about", "cancel", "quiz", "score", "leaderboard", "skip", "stop", "quizsettings")


@dataclass(frozen=True)
class Rendered:
    """A message ready for `send_message(text=..., parse_mode=HTML, reply_markup=...)`."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None
    plain: str = ""  # the same message without markup, for a fallback send
    parse_mode: str = ParseMode.HTML


def escape(text: str) -> str:
    """Escape text for Telegram HTML (text nodes: <, > and &)."""
    return html.escape(text, quote=False)


def escape_attr(text: str) -> str:
    return html.escape(text, quote=True)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def truncate(text: str, limit: int = TEXT_BUDGET) -> str:
    """Cut `text` to `limit` UTF-16 units, on a word boundary when one is near, with an ellipsis."""
    if utf16_len(text) <= limit:
        return text
    cut = text[: limit - 1]
    while utf16_len(cut) > limit - 1:
        cut = cut[:-1]
    space = cut.rfind(" ")
    if space > limit * 0.8:
        cut = cut[:space]
    return cut.rstrip() + "…"


def spoiler_spans(text: str, spoilers: Iterable[str]) -> list[tuple[int, int]]:
    """Merged, sorted [start, end) spans of every occurrence of every spoiler substring."""
    spans: list[tuple[int, int]] = []
    for spoiler in {s for s in spoilers if s and s.strip()}:
        start = text.find(spoiler)
        while start >= 0:
            spans.append((start, start + len(spoiler)))
            start = text.find(spoiler, start + len(spoiler))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def html_text(text: str, spoilers: Iterable[str] = (), hide_spoilers: bool = False) -> str:
    """Escape `text`; with `hide_spoilers`, wrap each spoiler substring in <tg-spoiler>."""
    if not hide_spoilers:
        return escape(text)
    out, pos = [], 0
    for start, end in spoiler_spans(text, spoilers):
        out += [escape(text[pos:start]), "<tg-spoiler>", escape(text[start:end]), "</tg-spoiler>"]
        pos = end
    out.append(escape(text[pos:]))
    return "".join(out)


def suggestion_keyboard(suggestions: Sequence[str]) -> InlineKeyboardMarkup | None:
    """One button per suggested question; pressing it asks that question."""
    rows = []
    for index, question in enumerate(s for s in suggestions[:MAX_BUTTONS] if s.strip()):
        label = truncate(question.strip(), 64)
        rows.append([InlineKeyboardButton(label, callback_data=callback_data(question.strip(), index))])
    return InlineKeyboardMarkup(rows) if rows else None


def callback_data(question: str, index: int) -> str:
    data = CALLBACK_PREFIX + question
    if len(data.encode("utf-8")) <= MAX_CALLBACK_BYTES:
        return data
    return f"{CALLBACK_INDEX_PREFIX}{index}"


def question_from_callback(data: str | None, keyboard: InlineKeyboardMarkup | None) -> str | None:
    """The question a suggestion button stands for, or None if the data is not ours / is stale."""
    if not data:
        return None
    if data.startswith(CALLBACK_PREFIX):
        return data[len(CALLBACK_PREFIX):].strip() or None
    if data.startswith(CALLBACK_INDEX_PREFIX) and keyboard is not None:
        for row in keyboard.inline_keyboard:
            for button in row:
                if button.callback_data == data:
                    return button.text
    return None


def render_reply(reply: Reply, *, hide_spoilers: bool, question: str | None = None) -> Rendered:
    """A Reply as an HTML message; `question` (e.g. a pressed button's) is echoed in bold first."""
    text = truncate(reply.text)
    body = html_text(text, reply.spoilers, hide_spoilers)
    plain = text
    if question:
        shown = truncate(question, 150)
        body = f"❓ <b>{escape(shown)}</b>\n{body}"
        plain = f"❓ {shown}\n{plain}"
    footer = sources_footer(reply.sources) if reply.kind in ("answer", "search") else ""
    if footer:
        body += "\n" + footer
    keyboard = suggestion_keyboard(reply.suggestions) if reply.kind in SUGGESTION_KINDS else None
    return Rendered(body, keyboard, plain)


def sources_footer(sources: Sequence[SourceRef]) -> str:
    """A linked source line, only for sources with a URL (the answer text already names the others)."""
    linked = [s for s in sources if s.url and re.match(r"https?://", s.url)]
    if not linked:
        return ""
    links = ", ".join(f'<a href="{escape_attr(s.url or "")}">{escape(s.title or s.publication or s.url or "")}</a>'
                      for s in linked)
    return f"<i>Source: {links}</i>"


def source_line(source: SourceRef) -> str:
    """One line of /about: publication, title (linked when there is a URL), and when it was known."""
    name = escape(source.publication or source.attribution)
    title = source.title or ""
    if title and source.url and re.match(r"https?://", source.url):
        name += f' — <a href="{escape_attr(source.url)}">{escape(title)}</a>'
    elif title:
        name += f" — “{escape(title)}”"
    elif source.url and re.match(r"https?://", source.url):
        name = f'<a href="{escape_attr(source.url)}">{name}</a>'
    return f"• {name} <i>({escape(source.known)})</i>" if source.known else f"• {name}"


def greeting(first_name: str | None, title: str, group: bool, bot_username: str | None) -> str:
    name = f", <b>{escape(first_name)}</b>" if first_name else ""
    lines = [f"👋 Hi{name}! I answer questions about <b>{escape(title)}</b> in plain words."]
    if group and bot_username:
        lines.append(f"In this group, mention me (@{escape(bot_username)}), reply to one of my messages, "
                     f"or use /ask.")
    else:
        lines.append("Just type a question, or tap an example:")
    return "\n".join(lines)


def help_text(core_help: str, title: str, bot_username: str | None) -> str:
    """The core's help plus how to reach the bot on Telegram."""
    at = f"@{escape(bot_username)}" if bot_username else "me"
    return "\n".join([
        escape(core_help),
        "",
        "<b>On Telegram</b>",
        "• In a private chat, every message is a question.",
        f"• In groups, mention {at}, reply to my message, or use /ask &lt;question&gt;.",
        f"• In any chat, type <code>{at} who directs {escape(title)}</code> to share an answer.",
        "• /about tells what I know and where it comes from; /cancel forgets the current topic.",
    ])


def about_text(title: str, entities: int, facts: int, sources: Sequence[SourceRef]) -> str:
    seen: set[tuple[str | None, str | None, str | None]] = set()
    lines = []
    for source in sources:
        key = (source.publication or source.attribution, source.title, source.url)
        if key not in seen:
            seen.add(key)
            lines.append(source_line(source))
    return "\n".join([
        f"<b>{escape(title)} trivia</b>",
        f"I know {facts} facts about {entities} films, people and characters around {escape(title)}, "
        "each with its source and the date it was known.",
        "",
        "<b>Sources</b>",
        *lines,
    ])


def strip_mention(text: str, username: str) -> str:
    """Remove @username (any case) and the punctuation people put after it."""
    cleaned = re.sub(rf"@{re.escape(username)}\b[,:;!]?", " ", text, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", cleaned).strip(" ,:;")


def command_argument(text: str) -> str:
    """The text after "/cmd" or "/cmd@bot", keeping the user's own line breaks."""
    parts = text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def result_id(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def inline_article(question: str, reply: Reply) -> InlineQueryResultArticle:
    """An inline result that, when picked, sends the question and its answer (spoilers hidden: the
    chat it lands in may be a group)."""
    rendered = render_reply(reply, hide_spoilers=True, question=question)
    description = truncate(" ".join(reply.text.split()), 200)
    if reply.spoilers:
        description = "(contains a spoiler: tap to send it hidden)"
    return InlineQueryResultArticle(
        id=result_id(question, reply.text),
        title=truncate(question, 100),
        description=description,
        input_message_content=InputTextMessageContent(rendered.text, parse_mode=ParseMode.HTML),
    )


def bot_commands(names: Iterable[str] | None = None) -> list[BotCommand]:
    wanted = set(names) if names is not None else None
    return [BotCommand(c, d) for c, d in COMMANDS if wanted is None or c in wanted]
