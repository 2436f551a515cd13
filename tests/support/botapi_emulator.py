"""A local, in-process emulator of the Telegram Bot API for end-to-end tests.

Why this exists: the bot is built on python-telegram-bot (PTB) and talks HTTP to
``https://api.telegram.org``.  End-to-end tests must exercise the *real* PTB
stack (request encoding, de-jsoning, error mapping, polling, webhooks) without
the network, so this module serves the Bot API over plain HTTP on 127.0.0.1 and
behaves like Telegram where it matters for tests:

* realistic ``Message``/``Poll``/``Update`` objects PTB can de-json;
* Telegram-like validation (entity parsing, length limits, callback data size)
  so formatting bugs fail in tests instead of in production;
* long polling, webhooks (with secret tokens), ``409`` conflicts;
* fault injection (429, 502, 500, slow responses, arbitrary 400/403, a connection dropped after the
  request was carried out);
* a thread-safe record of every call so tests can assert on what the bot did.

The HTTP server is asyncio (HTTP/1.1, keep-alive) on its own event loop in a
background thread, so it never blocks the test's loop; long polls wait
asynchronously. A request whose client hangs up before sending all of it is not
handled (``aborted_requests`` lists it), as on Telegram. For benchmarks,
``tests/support/emulator_process.py`` runs the emulator in a child process so it
does not share the GIL with the bot.

Only the standard library is used on purpose: this is a test fixture and must
not add dependencies to the project.

Typical use::

    with BotAPIEmulator() as emu:
        app = ApplicationBuilder().token(emu.token).base_url(emu.base_url).build()
        ...
        emu.push_message("/start")
        call = (await emu.wait_for_async("sendMessage"))[0]
        assert "Welcome" in call.text
"""

from __future__ import annotations

import asyncio
import copy
import email.parser
import email.policy
import itertools
import json
import random
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ApiError",
    "BotAPIEmulator",
    "Call",
    "WebhookDelivery",
    "parse_entities",
    "utf16_len",
]

JSON = dict[str, Any]

DEFAULT_USER_ID = 1001
DEFAULT_GROUP_ID = -1000001
DEFAULT_SUPERGROUP_ID = -1001000000001
DEFAULT_CHANNEL_ID = -1002000000001
MAX_MESSAGE_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64

_CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
_QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
_NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """An error answered the way Telegram does: ``{"ok": false, "error_code", ...}``.

    Method handlers (including ones added with ``register_method``) raise it to
    produce a Bot API error response.
    """

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(message: str) -> ApiError:
    return ApiError(400, f"Bad Request: {message}")


class EntityParseError(ValueError):
    """Raised by the formatting parsers; becomes "can't parse entities: ..."."""


# --------------------------------------------------------------------------- text formatting


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram uses for entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(src: str, index: int) -> int:
    """Telegram reports parse errors as UTF-8 byte offsets into the source."""
    return len(src[:index].encode("utf-8"))


class _TextBuilder:
    """Accumulates plain text while tracking the UTF-16 offset for entities."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self.offset = 0

    def add(self, text: str) -> None:
        self._parts.append(text)
        self.offset += utf16_len(text)

    def text(self) -> str:
        return "".join(self._parts)


def _link_entity(url: str, offset: int, length: int) -> JSON:
    """``tg://user?id=`` links become text_mention entities, like in Telegram."""
    match = re.fullmatch(r"tg://user\?id=(\d+)", url)
    if match:
        user = {"id": int(match.group(1)), "is_bot": False, "first_name": "User"}
        return {"type": "text_mention", "offset": offset, "length": length, "user": user}
    return {"type": "text_link", "offset": offset, "length": length, "url": url}


def _sorted_entities(entities: list[JSON]) -> list[JSON]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


# ---- HTML

_HTML_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_NAMED_REFS = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_CHAR_REF_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z]+);")
_HTML_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s[^<>]*)?)>")
_HTML_ATTR_RE = re.compile(r"""([A-Za-z_:][-A-Za-z0-9_:.]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?""")


@dataclass
class _OpenTag:
    name: str
    entity: JSON | None  # None: tag produces no entity of its own (e.g. <code> in <pre>)
    src_index: int


def _decode_char_ref(ref: str) -> str | None:
    if ref.startswith(("#x", "#X")):
        return chr(int(ref[2:], 16))
    if ref.startswith("#"):
        return chr(int(ref[1:]))
    return _HTML_NAMED_REFS.get(ref)


def _unescape_attr(value: str) -> str:
    if value[:1] in "\"'" and len(value) >= 2:
        value = value[1:-1]
    return _HTML_CHAR_REF_RE.sub(lambda m: _decode_char_ref(m.group(1)) or m.group(0), value)


class _HtmlParser:
    """Strict parser for Telegram's HTML subset.

    Stricter than tdlib for bare ``&`` on purpose: a bot that forgets to escape
    user input should fail loudly in tests.
    """

    def __init__(self, src: str) -> None:
        self.src = src
        self.out = _TextBuilder()
        self.stack: list[_OpenTag] = []
        self.entities: list[JSON] = []

    def parse(self) -> tuple[str, list[JSON]]:
        i = 0
        while i < len(self.src):
            char = self.src[i]
            if char == "<":
                i = self._tag(i)
            elif char == "&":
                i = self._char_ref(i)
            else:
                end = min(self._find(i, "<"), self._find(i, "&"))
                self.out.add(self.src[i:end])
                i = end
        if self.stack:
            raise EntityParseError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"'
            )
        return self.out.text(), _sorted_entities(self.entities)

    def _find(self, start: int, char: str) -> int:
        pos = self.src.find(char, start)
        return len(self.src) if pos < 0 else pos

    def _char_ref(self, i: int) -> int:
        match = _HTML_CHAR_REF_RE.match(self.src, i)
        decoded = _decode_char_ref(match.group(1)) if match else None
        if decoded is None:
            raise EntityParseError(
                f"Character '&' at byte offset {_byte_offset(self.src, i)} "
                "must be escaped as &amp;"
            )
        self.out.add(decoded)
        return match.end()  # type: ignore[union-attr]

    def _tag(self, i: int) -> int:
        match = _HTML_TAG_RE.match(self.src, i)
        offset = _byte_offset(self.src, i)
        if not match:
            if self.src.find(">", i) < 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {offset}")
            raise EntityParseError(f'Unsupported start tag "" at byte offset {offset}')
        closing, name, attrs = match.group(1) == "/", match.group(2).lower(), match.group(3)
        if closing:
            self._close_tag(name, attrs, offset)
        else:
            self._open_tag(name, attrs, offset, i)
        return match.end()

    def _open_tag(self, name: str, attrs_src: str, offset: int, index: int) -> None:
        if name not in _HTML_ENTITY_TYPES:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {offset}')
        attrs = {
            m.group(1).lower(): _unescape_attr(m.group(2) or "")
            for m in _HTML_ATTR_RE.finditer(attrs_src)
        }
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {offset}'
            )
        entity: JSON | None = {"type": _HTML_ENTITY_TYPES[name], "offset": self.out.offset}
        if name == "a":  # <a> without href is plain text, as in Telegram
            entity = {**entity, "url": attrs["href"]} if attrs.get("href") else None  # type: ignore[dict-item]
        elif name == "blockquote" and "expandable" in attrs:
            entity["type"] = "expandable_blockquote"  # type: ignore[index]
        elif name == "tg-emoji":
            entity["custom_emoji_id"] = attrs.get("emoji-id", "")  # type: ignore[index]
        elif name == "code" and self.stack and self.stack[-1].name == "pre":
            language = attrs.get("class", "")
            pre_entity = self.stack[-1].entity
            if language.startswith("language-") and pre_entity is not None:
                pre_entity["language"] = language[len("language-"):]
            entity = None  # <pre><code> is a single pre entity
        self.stack.append(_OpenTag(name, entity, index))

    def _close_tag(self, name: str, attrs_src: str, offset: int) -> None:
        if attrs_src.strip():
            raise EntityParseError(f"Unexpected end tag attributes at byte offset {offset}")
        if not self.stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {offset}")
        top = self.stack.pop()
        if top.name != name:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {offset}, expected "</{top.name}>", '
                f'found "</{name}>"'
            )
        if top.entity is None:
            return
        length = self.out.offset - top.entity["offset"]
        if length <= 0:
            return
        if top.entity["type"] == "text_link":
            self.entities.append(_link_entity(top.entity["url"], top.entity["offset"], length))
        else:
            self.entities.append({**top.entity, "length": length})


# ---- MarkdownV2

_MD2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MD2_TYPE_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "code": "Code",
    "pre": "Pre",
}
_MD2_OPEN_WIDTH = {"underline": 2, "spoiler": 2, "custom_emoji": 2}  # "__", "||", "!["
_MD2_CLOSE_WIDTH = {"underline": 2, "spoiler": 2, "pre": 3}  # "__", "||", "```"


@dataclass
class _OpenEntity:
    type: str
    offset: int  # UTF-16 offset in the output text
    src_index: int
    language: str = ""


class _MarkdownV2Parser:
    """Parser following tdlib's MarkdownV2 rules closely enough for tests."""

    def __init__(self, src: str) -> None:
        self.src = src
        self.out = _TextBuilder()
        self.stack: list[_OpenEntity] = []
        self.entities: list[JSON] = []
        self.quote_start: int | None = None

    def parse(self) -> tuple[str, list[JSON]]:
        i = 0
        while i < len(self.src):
            i = self._step(i)
        self._end_quote(self.out.offset)
        if self.stack:
            top = self.stack[-1]
            raise EntityParseError(
                f"Can't find end of {_MD2_TYPE_NAMES[top.type]} entity at byte offset "
                f"{_byte_offset(self.src, top.src_index)}"
            )
        return self.out.text(), _sorted_entities(self.entities)

    def _char(self, i: int) -> str:
        return self.src[i] if i < len(self.src) else ""

    def _in_code(self) -> bool:
        return bool(self.stack) and self.stack[-1].type in ("code", "pre")

    def _step(self, i: int) -> int:
        char = self.src[i]
        if not self._in_code() and (i == 0 or self.src[i - 1] == "\n"):
            if char == ">":
                if self.quote_start is None:
                    self.quote_start = self.out.offset
                return i + 1
            if self.quote_start is not None:
                self._end_quote(self.out.offset - 1)  # exclude the preceding newline
        if char == "\\" and 0 < ord(self._char(i + 1) or "\0") <= 126:
            self.out.add(self.src[i + 1])
            return i + 2
        if self._in_code() and char != "`":
            self.out.add(char)
            return i + 1
        if char not in _MD2_RESERVED:
            self.out.add(char)
            return i + 1
        if self._closes_top(i):
            return self._close(i)
        return self._open(i)

    def _end_quote(self, end: int) -> None:
        if self.quote_start is not None and end > self.quote_start:
            self.entities.append(
                {"type": "blockquote", "offset": self.quote_start, "length": end - self.quote_start}
            )
        self.quote_start = None

    def _closes_top(self, i: int) -> bool:
        if not self.stack:
            return False
        char, nxt = self.src[i], self._char(i + 1)
        return {
            "bold": char == "*",
            "italic": char == "_" and nxt != "_",
            "underline": char == "_" and nxt == "_",
            "strikethrough": char == "~",
            "spoiler": char == "|" and nxt == "|",
            "text_link": char == "]",
            "custom_emoji": char == "]",
            "code": char == "`",
            "pre": self.src.startswith("```", i),
        }[self.stack[-1].type]

    def _reserved(self, i: int) -> EntityParseError:
        return EntityParseError(
            f"Character '{self.src[i]}' is reserved and must be escaped with the preceding '\\'"
        )

    def _open(self, i: int) -> int:
        char, nxt = self.src[i], self._char(i + 1)
        if char == "`" and self.src.startswith("```", i):
            if self._in_code():
                raise self._reserved(i)
            return self._open_pre(i)
        kinds = {
            "*": "bold",
            "~": "strikethrough",
            "[": "text_link",
            "`": "code",
            "_": "underline" if nxt == "_" else "italic",
        }
        if char == "|" and nxt == "|":
            kind = "spoiler"
        elif char == "!" and nxt == "[":
            kind = "custom_emoji"
        elif char in kinds and not self._in_code():
            kind = kinds[char]
        else:
            raise self._reserved(i)
        self.stack.append(_OpenEntity(kind, self.out.offset, i))
        return i + _MD2_OPEN_WIDTH.get(kind, 1)

    def _open_pre(self, i: int) -> int:
        start = i
        i += 3
        lang_end = i
        while lang_end < len(self.src) and not self.src[lang_end].isspace() and self.src[lang_end] != "`":
            lang_end += 1
        language = ""
        if lang_end > i and lang_end < len(self.src) and self.src[lang_end] != "`":
            language, i = self.src[i:lang_end], lang_end
        if self._char(i) == "\n":
            i += 1
        self.stack.append(_OpenEntity("pre", self.out.offset, start, language))
        return i

    def _close(self, i: int) -> int:
        opened = self.stack.pop()
        i += _MD2_CLOSE_WIDTH.get(opened.type, 1)
        length = self.out.offset - opened.offset
        entity: JSON | None = {"type": opened.type, "offset": opened.offset, "length": length}
        if opened.type in ("text_link", "custom_emoji"):
            url, i = self._read_url(i)
            entity = self._url_entity(opened, url, length)
        elif opened.type == "pre" and opened.language:
            entity["language"] = opened.language  # type: ignore[index]
        if entity is not None and length > 0:
            self.entities.append(entity)
        return i

    def _url_entity(self, opened: _OpenEntity, url: str | None, length: int) -> JSON | None:
        if url is None:
            return None
        if opened.type == "custom_emoji":
            match = re.fullmatch(r"tg://emoji\?id=(\d+)", url)
            if not match:
                raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
            return {"type": "custom_emoji", "offset": opened.offset, "length": length,
                    "custom_emoji_id": match.group(1)}
        return _link_entity(url, opened.offset, length)

    def _read_url(self, i: int) -> tuple[str | None, int]:
        if self._char(i) != "(":
            return None, i
        start, i, url = i, i + 1, []
        while i < len(self.src) and self.src[i] != ")":
            if self.src[i] == "\\" and i + 1 < len(self.src):
                i += 1
            url.append(self.src[i])
            i += 1
        if i >= len(self.src):
            raise EntityParseError(
                f"Can't find end of a URL at byte offset {_byte_offset(self.src, start)}"
            )
        return "".join(url), i + 1


# ---- legacy Markdown


def _parse_markdown_legacy(src: str) -> tuple[str, list[JSON]]:
    """Telegram's legacy "Markdown" mode: no nesting, few escapes."""
    out, entities, i = _TextBuilder(), [], 0
    simple = {"*": "bold", "_": "italic", "`": "code"}
    while i < len(src):
        char = src[i]
        if char == "\\" and i + 1 < len(src) and src[i + 1] in "_*`[":
            out.add(src[i + 1])
            i += 2
            continue
        if char not in "_*`[":
            out.add(char)
            i += 1
            continue
        marker = "```" if src.startswith("```", i) else ("]" if char == "[" else char)
        body_start = i + (3 if marker == "```" else 1)
        end = src.find(marker, body_start)
        if end < 0:
            raise EntityParseError(
                f"Can't find end of the entity starting at byte offset {_byte_offset(src, i)}"
            )
        body, offset, i = src[body_start:end], out.offset, end + len(marker)
        out.add(body)
        if marker == "```":
            entities.append({"type": "pre", "offset": offset, "length": utf16_len(body)})
        elif marker == "]":
            url_end = src.find(")", i) if src[i:i + 1] == "(" else -1
            if url_end >= 0:
                entities.append(_link_entity(src[i + 1:url_end], offset, utf16_len(body)))
                i = url_end + 1
        elif body:
            entities.append({"type": simple[char], "offset": offset, "length": utf16_len(body)})
    return out.text(), _sorted_entities([e for e in entities if e["length"] > 0])


def parse_entities(text: str, parse_mode: str | None) -> tuple[str, list[JSON]]:
    """Parse ``text`` like Telegram does for ``parse_mode``; returns (plain text, entities).

    Raises ``ApiError`` (400) with Telegram's "can't parse entities" wording.
    """
    mode = (parse_mode or "").strip().lower()
    parsers: dict[str, Callable[[str], tuple[str, list[JSON]]]] = {
        "html": lambda s: _HtmlParser(s).parse(),
        "markdownv2": lambda s: _MarkdownV2Parser(s).parse(),
        "markdown": _parse_markdown_legacy,
    }
    if not mode:
        return text, []
    if mode not in parsers:
        raise _bad_request("unsupported parse_mode")
    try:
        return parsers[mode](text)
    except EntityParseError as exc:
        raise _bad_request(f"can't parse entities: {exc}") from None


# --------------------------------------------------------------------------- reply markup

_BUTTON_ACTIONS = frozenset({
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
    "copy_text", "callback_game", "pay",
})


def _validate_reply_markup(markup: Any) -> JSON | None:
    """Reject keyboards Telegram would reject; returns the markup as a dict."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad_request("can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return markup
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise _bad_request("can't parse inline keyboard markup")
    for button in itertools.chain.from_iterable(rows):
        _validate_inline_button(button)
    return markup


def _validate_inline_button(button: Any) -> None:
    if not isinstance(button, dict) or not button.get("text"):
        raise _bad_request("can't parse inline keyboard button: Text must be non-empty")
    if not _BUTTON_ACTIONS & button.keys():
        raise _bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    data = button.get("callback_data")
    if data is not None and len(str(data).encode("utf-8")) > MAX_CALLBACK_DATA_BYTES:
        raise _bad_request("BUTTON_DATA_INVALID")
    url = button.get("url")
    if url is not None and not re.match(r"(https?|tg)://\S+$", str(url)):
        raise _bad_request("BUTTON_URL_INVALID")


def _inline_markup(markup: JSON | None) -> JSON | None:
    """Telegram only echoes inline keyboards back in the returned Message."""
    return markup if markup and "inline_keyboard" in markup else None


# --------------------------------------------------------------------------- request parsing

# Parameters that must stay strings even when they look like JSON ("42", "true").
_STRING_PARAMS = frozenset({
    "text", "caption", "query", "question", "explanation", "parse_mode",
    "explanation_parse_mode", "question_parse_mode", "url", "secret_token",
    "callback_query_id", "inline_query_id", "inline_message_id", "action",
    "language_code", "ip_address", "next_offset", "description", "short_description",
    "name", "title", "custom_title", "emoji", "business_connection_id",
    "message_effect_id", "switch_pm_text", "switch_pm_parameter",
})


def _coerce(name: str, value: str) -> Any:
    """PTB form-encodes non-string values as JSON; decode them back."""
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _parse_multipart(content_type: str, body: bytes) -> JSON:
    raw = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    params: JSON = {}
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename:
            params[name] = {"filename": filename, "size": len(payload)}
        else:
            params[name] = _coerce(name, payload.decode("utf-8"))
    return params


def _parse_params(query: str, content_type: str, body: bytes) -> JSON:
    params: JSON = {k: _coerce(k, v) for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True)}
    if not body:
        return params
    ctype = content_type.split(";")[0].strip().lower()
    try:
        if ctype == "application/json":
            params.update(json.loads(body.decode("utf-8")))
        elif ctype == "multipart/form-data":
            params.update(_parse_multipart(content_type, body))
        else:
            pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True)
            params.update({k: _coerce(k, v) for k, v in pairs})
    except (ValueError, UnicodeDecodeError):
        raise _bad_request("can't parse request body") from None
    return params


# --------------------------------------------------------------------------- records


@dataclass
class Call:
    """One recorded Bot API request.

    ``text``/``entities`` hold the parsed plain text and entities for methods
    that send or edit text, so tests can assert on what the user would see.
    """

    method: str
    params: JSON
    time: float
    ok: bool = True
    error: str | None = None
    fault: str | None = None
    result: Any = None
    text: str | None = None
    entities: list[JSON] = field(default_factory=list)
    # seconds from the whole request being read to the answer being ready (for long polls: the wait)
    served_in: float | None = None

    @property
    def entity_types(self) -> list[str]:
        return [e["type"] for e in self.entities]

    def summary(self) -> str:
        status = "ok" if self.ok else f"FAILED({self.fault or self.error})"
        shown = {k: v for k, v in self.params.items() if k != "reply_markup"}
        return f"{self.method} {status} {json.dumps(shown, ensure_ascii=False, default=str)[:200]}"


@dataclass
class WebhookDelivery:
    """One POST of an update to the bot's webhook, as seen by Telegram."""

    update_id: int
    status: int
    secret_sent: str | None
    body: bytes


@dataclass
class _Outcome:
    """A handler result plus the parsed text to store in the recorded Call."""

    result: Any
    text: str | None = None
    entities: list[JSON] = field(default_factory=list)


@dataclass
class _Fault:
    kind: str
    remaining: int
    retry_after: int
    delay: float
    description: str | None
    when: Callable[[JSON], bool] | None


_FAULT_KINDS = frozenset({"429", "502", "500", "timeout", "slow", "bad_request", "forbidden", "drop"})
_HANG_UP = 0  # status of an answer never sent: the connection is closed instead ("drop")
_UNSET: Any = object()


# --------------------------------------------------------------------------- HTTP plumbing


class _ClientGone(Exception):
    """The client closed the connection before its request was complete."""


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            409: "Conflict", 413: "Payload Too Large", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway"}
_MAX_HEAD = 64 * 1024
_MAX_BODY = 64 * 1024 * 1024


class _AsyncHTTPServer:
    """A small HTTP/1.1 server on asyncio streams, in its own thread with its own event loop.

    Why not ``http.server``: a thread per connection, each fighting the bot for the GIL, made every
    call wait for interpreter switches (5 ms each), and a request whose client hung up mid-body was
    still handled with the truncated body. Here one loop serves every connection with keep-alive,
    and a request is only handled once all of it has arrived, as on Telegram's servers.
    """

    def __init__(self, emulator: BotAPIEmulator, host: str, port: int) -> None:
        self.emulator = emulator
        self.host, self.requested_port = host, port
        self.port = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._busy: set[asyncio.Task[Any]] = set()
        self._changed: asyncio.Event | None = None  # set when updates arrive or the server stops
        self._started = threading.Event()
        self._error: BaseException | None = None

    # lifecycle (called from other threads) ------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="botapi-emulator", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        try:
            loop.run_until_complete(self._listen())
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._error = exc
            self._started.set()
            loop.close()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _listen(self) -> None:
        self._changed = asyncio.Event()
        self._server = await asyncio.start_server(
            self._connection, self.host, self.requested_port, backlog=1024, reuse_address=True,
            limit=_MAX_HEAD)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self, grace: float = 2.0) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(grace), loop)
        try:
            future.result(timeout=grace + 3)
        except Exception:  # noqa: BLE001 - stopping must not fail a test
            pass
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)

    async def _shutdown(self, grace: float) -> None:
        assert self._server is not None
        self._server.close()
        self.wake_now()  # long polls answer [] at once
        if self._busy:  # let requests being handled answer (a "slow" fault ends early on stop)
            await asyncio.wait(set(self._busy), timeout=grace)
        for writer in list(self._writers):
            writer.close()
        await asyncio.sleep(0)

    def wake(self) -> None:
        """Thread-safe: wake every long poll to look at the queue again."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self.wake_now)
            except RuntimeError:  # loop closed meanwhile
                pass

    def wake_now(self) -> None:
        if self._changed is not None:
            self._changed.set()

    async def wait_changed(self, timeout: float) -> None:
        """Sleep until the next wake() or `timeout`; callers clear-then-check to avoid lost wake-ups."""
        assert self._changed is not None
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    def clear_changed(self) -> None:
        assert self._changed is not None
        self._changed.clear()

    # connections ----------------------------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                try:
                    request = await self._read_request(reader)
                except _ClientGone as gone:
                    if gone.args:
                        self.emulator._note_aborted(*gone.args)
                    return
                except ValueError as exc:  # malformed: answer 400 and hang up, like nginx
                    writer.write(_http_response(400, "text/plain", str(exc).encode(), False))
                    await writer.drain()
                    return
                if request is None:
                    return
                path, query, headers, body, keep_alive = request
                task = asyncio.current_task()
                assert task is not None
                self._busy.add(task)
                try:
                    status, ctype, payload = await self.emulator._handle_http_async(
                        path, query, headers.get("content-type", ""), body)
                finally:
                    self._busy.discard(task)
                if status == _HANG_UP:
                    return  # the request was carried out; the client never hears so
                writer.write(_http_response(status, ctype, payload, keep_alive))
                await writer.drain()
                if not keep_alive:
                    return
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass  # clients (PTB) routinely drop connections on cancel/timeout
        finally:
            self._writers.discard(writer)
            writer.close()

    @staticmethod
    async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], bytes, bool] | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                raise _ClientGone("?", "connection closed inside the request headers") from None
            return None  # an idle keep-alive connection closed: normal
        except asyncio.LimitOverrunError:
            raise ValueError("request headers too large") from None
        lines = head.decode("latin-1").split("\r\n")
        try:
            verb, target, version = lines[0].split(" ")
        except ValueError:
            raise ValueError("malformed request line") from None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        split = urllib.parse.urlsplit(target)
        method = split.path.rstrip("/").rsplit("/", 1)[-1]
        try:
            if headers.get("transfer-encoding", "").lower() == "chunked":
                body = await _read_chunked(reader)
            else:
                length = int(headers.get("content-length") or 0)
                if not 0 <= length <= _MAX_BODY:
                    raise ValueError("bad Content-Length")
                body = await reader.readexactly(length) if length else b""
        except asyncio.IncompleteReadError:
            # The client gave up (a cancelled request): the server never saw a whole request, so it
            # must not act on the part it got. http.server did, and answered "chat_id is empty".
            raise _ClientGone(method, "connection closed before the whole body arrived") from None
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        return split.path, split.query, headers, body, keep_alive


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


def _http_response(status: int, ctype: str, payload: bytes, keep_alive: bool) -> bytes:
    head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nServer: botapi-emulator\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(payload)}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n")
    return head.encode("latin-1") + payload


_PATH_RE = re.compile(r"/bot([^/]+)/([A-Za-z0-9_]+)/?")


def _json_response(status: int, body: JSON) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(body, ensure_ascii=False).encode("utf-8")


# --------------------------------------------------------------------------- the emulator


class BotAPIEmulator:
    """Emulates ``api.telegram.org`` for one bot token on 127.0.0.1."""

    def __init__(
        self,
        token: str = "123:ABC",
        bot_username: str = "ballerina_trivia_bot",
        bot_first_name: str = "Ballerina Trivia",
        host: str = "127.0.0.1",
        port: int = 0,
        latency: tuple[float, float] | None = None,
    ) -> None:
        self.token = token
        # (low, high) s added to every call but getUpdates, drawn uniformly: Telegram's round trip
        self.latency = latency
        self.bot_username = bot_username
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user: JSON = {
            "id": self.bot_id, "is_bot": True, "first_name": bot_first_name, "username": bot_username,
        }
        self._host, self._port = host, port
        self._http: _AsyncHTTPServer | None = None
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._reset_state()
        self._methods: dict[str, tuple[str, Callable[[JSON], Any]]] = {}
        self._register_builtin_methods()

    def _reset_state(self) -> None:
        self.calls: list[Call] = []
        self._calls_generation = 0  # bumped by clear(): wait_for scans only calls it has not seen
        # Requests the client abandoned before sending all of them: (time, method, reason). Telegram
        # never sees those, so they are not Calls; a bench reports them as cancelled requests.
        self.aborted_requests: list[tuple[float, str, str]] = []
        self._polls_waiting = 0
        self.webhook_deliveries: list[WebhookDelivery] = []
        self._pending: list[JSON] = []
        self._update_ids = itertools.count(100_000_001)
        self._ids = itertools.count(1)
        self._allowed_updates: list[str] = []
        self._webhook: JSON | None = None
        self._faults: dict[str, list[_Fault]] = {}
        self._users: dict[int, JSON] = {}
        self._chats: dict[int, JSON] = {}
        self._messages: dict[tuple[int, int], JSON] = {}
        self._next_message_id: dict[int, int] = {}
        self._polls: dict[str, tuple[int, int]] = {}
        self._open_queries: set[str] = set()
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._admins: dict[int, tuple[int | None, list[int]]] = {}
        self._member_status: dict[tuple[int, int], str] = {}

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> BotAPIEmulator:
        """Start serving in a background thread with its own event loop (idempotent)."""
        if self._http is not None:
            return self
        self._stopping.clear()
        http = _AsyncHTTPServer(self, self._host, self._port)
        http.start()
        self._http = http
        return self

    def stop(self) -> None:
        """Stop serving; pending long polls return an empty result immediately."""
        if self._http is None:
            return
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        self._http.stop()
        self._http = None

    def __enter__(self) -> BotAPIEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> BotAPIEmulator:
        return self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._http is None:
            raise RuntimeError("emulator is not started")
        return self._http.port

    @property
    def base_url(self) -> str:
        """Value for ``ApplicationBuilder().base_url()`` / ``Bot(base_url=...)``."""
        return f"http://{self._host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self._host}:{self.port}/file/bot"

    # ------------------------------------------------------------------ configuration

    def register_method(self, name: str, handler: Callable[[JSON], Any]) -> None:
        """Add or override a Bot API method; ``handler(params)`` returns the result
        or raises ``ApiError``. Lets tests cover methods this fixture lacks."""
        self._methods[name.lower()] = (name, handler)

    def set_chat_admins(
        self, chat_id: int, admin_ids: Iterable[int], creator_id: int | None = None
    ) -> None:
        """Configure who getChatAdministrators/getChatMember report as admins."""
        with self._lock:
            self._admins[int(chat_id)] = (creator_id, [int(a) for a in admin_ids])

    def set_chat_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """Set a non-admin status: "member", "left" or "kicked"."""
        if status not in ("member", "left", "kicked"):
            raise ValueError(f"unsupported status {status!r}")
        with self._lock:
            self._member_status[(int(chat_id), int(user_id))] = status

    def inject_fault(
        self,
        method: str,
        kind: str,
        times: int = 1,
        *,
        retry_after: int = 1,
        delay: float = 1.0,
        description: str | None = None,
        when: Callable[[JSON], bool] | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` ("*" = any) misbehave.

        kinds: "429" (RetryAfter), "502" (nginx HTML body), "500", "timeout"/"slow"
        (sleep ``delay`` s, then answer normally - the action still happens, as on
        Telegram), "bad_request" / "forbidden" (400/403 with ``description``), "drop"
        (the call is carried out and recorded, then the connection is closed without an
        answer: a send that reached Telegram whose sender cannot know it did).
        ``when(params)`` limits the fault to matching calls. Faults are consumed
        in the order they were injected.
        """
        if kind not in _FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(_FAULT_KINDS)}")
        fault = _Fault(kind, times, retry_after, delay, description, when)
        with self._lock:
            self._faults.setdefault(method.lower(), []).append(fault)

    def faults_left(self, method: str = "*") -> int:
        """How many injected faults of ``method`` are still to be taken (0: every one hit a request)."""
        with self._lock:
            return sum(f.remaining for f in self._faults.get(method.lower(), []))

    # ------------------------------------------------------------------ inspection

    def calls_from(self, start: int) -> list[Call]:
        """The calls recorded after the first ``start`` (all of them, failed too): a watcher that keeps
        its own copy asks only for what is new. Copying every call each time held the server for a
        noticeable time once there were tens of thousands, and bunched the requests it then read."""
        with self._lock:
            return self.calls[start:]

    def calls_to(self, method: str, *, include_failed: bool = False) -> list[Call]:
        """Recorded calls of ``method`` (case-insensitive), successful only by default."""
        return self._matching(method, include_failed)

    def sent_messages(self, chat_id: int | str | None = None) -> list[Call]:
        """Successful sendMessage/editMessageText calls; ``.text`` is the parsed text."""
        def wanted(call: Call) -> bool:
            if call.method not in ("sendMessage", "editMessageText"):
                return False
            return chat_id is None or str(call.params.get("chat_id")) == str(chat_id)
        return self._matching(wanted, False)

    def wait_for(
        self,
        what: str | Callable[[Call], bool],
        count: int = 1,
        timeout: float = 5.0,
        *,
        include_failed: bool = False,
    ) -> list[Call]:
        """Block until ``count`` calls match (a method name or predicate).

        Blocking: from an ``async`` test that runs the bot in the same event loop
        use ``await wait_for_async(...)`` instead, or the bot can never answer.
        """
        deadline = time.monotonic() + timeout
        predicate = self._predicate(what)
        found: list[Call] = []
        scanned, generation = 0, -1
        with self._cond:
            while True:
                if generation != self._calls_generation:  # clear() emptied the record: start over
                    found, scanned, generation = [], 0, self._calls_generation
                # only the calls recorded since the last look: a long wait stays cheap for the server
                found += [c for c in self.calls[scanned:] if (include_failed or c.ok) and predicate(c)]
                scanned = len(self.calls)
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(self._wait_failure(what, count, found, timeout))
                self._cond.wait(remaining)

    def wait_for_count(self, what: str, count: int = 1, timeout: float = 5.0) -> int:
        """``wait_for`` that returns how many calls matched, not the calls: through an EmulatorProcess the
        calls are pickled across the pipe, which for a long record costs more than the wait itself."""
        return len(self.wait_for(what, count, timeout))

    async def wait_for_async(
        self,
        what: str | Callable[[Call], bool],
        count: int = 1,
        timeout: float = 5.0,
        *,
        include_failed: bool = False,
    ) -> list[Call]:
        """``wait_for`` that yields to the event loop while waiting."""
        return await asyncio.to_thread(
            self.wait_for, what, count, timeout, include_failed=include_failed
        )

    def clear(self) -> None:
        """Forget recorded calls and webhook deliveries (state is kept)."""
        with self._lock:
            self.calls.clear()
            self.webhook_deliveries.clear()
            self.aborted_requests.clear()
            self._calls_generation += 1

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by getUpdates offset / webhook delivery."""
        with self._lock:
            return copy.deepcopy(self._pending)

    def get_message(self, chat_id: int, message_id: int) -> JSON | None:
        """Current server-side state of a message (after edits), or None if deleted."""
        with self._lock:
            msg = self._messages.get((int(chat_id), int(message_id)))
            return copy.deepcopy(msg)

    def last_bot_message(self, chat_id: int) -> JSON | None:
        with self._lock:
            msg = self._latest_message(int(chat_id), self.bot_id)
            return copy.deepcopy(msg)

    def get_commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        with self._lock:
            return copy.deepcopy(self._commands.get(self._commands_key(scope, language_code), []))

    @property
    def webhook_url(self) -> str | None:
        with self._lock:
            return self._webhook["url"] if self._webhook else None

    @property
    def webhook_secret(self) -> str | None:
        with self._lock:
            return self._webhook.get("secret_token") if self._webhook else None

    @staticmethod
    def _predicate(what: str | Callable[[Call], bool]) -> Callable[[Call], bool]:
        if isinstance(what, str):
            name = what.lower()
            return lambda c: c.method.lower() == name
        return what

    def _matching(self, what: str | Callable[[Call], bool], include_failed: bool) -> list[Call]:
        predicate = self._predicate(what)
        with self._lock:
            return [c for c in self.calls if (include_failed or c.ok) and predicate(c)]

    def _wait_failure(self, what: Any, count: int, found: list[Call], timeout: float) -> str:
        label = what if isinstance(what, str) else getattr(what, "__name__", repr(what))
        with self._lock:
            recorded = "\n".join(f"  {c.summary()}" for c in self.calls) or "  (none)"
        return (
            f"timed out after {timeout}s waiting for {count} call(s) matching {label}; "
            f"found {len(found)}. Recorded calls:\n{recorded}"
        )

    # ------------------------------------------------------------------ HTTP dispatch

    async def _handle_http_async(self, path: str, query: str, content_type: str,
                                 body: bytes) -> tuple[int, str, bytes]:
        """One HTTP request, on the server's event loop. Handlers run under the lock and never block;
        only long polls and "slow" faults wait, and they wait asynchronously."""
        started = time.perf_counter()
        match = _PATH_RE.fullmatch(path)
        if not match:
            return _json_response(404, ApiError(404, "Not Found").payload())
        token, method = match.groups()
        try:
            params = _parse_params(query, content_type, body)
        except ApiError as exc:
            return self._fail(method, {}, exc)
        if token != self.token:
            return self._fail(method, params, ApiError(401, "Unauthorized"))
        entry = self._methods.get(method.lower())
        if entry is None:
            return self._fail(method, params, ApiError(404, "Not Found"))
        name, handler = entry
        fault = self._take_fault(name, params)
        if fault is not None and fault.kind in ("timeout", "slow"):
            await self._sleep_unless_stopping(fault.delay)
        elif fault is not None and fault.kind != "drop":
            return self._fault_response(name, params, fault)
        if handler == self._m_get_updates:
            return await self._long_poll(name, params, fault, started)
        if self.latency is not None:
            await self._sleep_unless_stopping(random.uniform(*self.latency))
        answer = self._run(name, params, fault, lambda: handler(params), started)
        if fault is not None and fault.kind == "drop":
            return _HANG_UP, "", b""
        return answer

    def _run(self, name: str, params: JSON, fault: _Fault | None,
             call: Callable[[], Any], started: float) -> tuple[int, str, bytes]:
        """Run a handler under the lock; answer and record its result or its error."""
        try:
            with self._lock:
                outcome = call()
                if not isinstance(outcome, _Outcome):
                    outcome = _Outcome(outcome)
                # Serialised under the lock: the answer is a snapshot, whatever changes next.
                result_json = json.dumps(outcome.result, ensure_ascii=False)
        except ApiError as exc:
            return self._fail(name, params, exc, fault.kind if fault else None)
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
            # Malformed parameters must produce an answer, never a hung client.
            return self._fail(name, params, _bad_request(f"wrong parameter value: {exc!r}"))
        except Exception as exc:  # noqa: BLE001 - surface emulator bugs as 500s, visibly
            return self._fail(name, params, ApiError(500, f"Internal Server Error: emulator bug: {exc!r}"))
        self._record(Call(name, params, time.time(), result=json.loads(result_json), text=outcome.text,
                          entities=outcome.entities, fault=fault.kind if fault else None,
                          served_in=time.perf_counter() - started))
        return 200, "application/json", ('{"ok":true,"result":' + result_json + "}").encode("utf-8")

    async def _long_poll(self, name: str, params: JSON, fault: _Fault | None,
                         started: float) -> tuple[int, str, bytes]:
        """getUpdates: answer at once if updates are queued, else when one arrives or at the timeout."""
        http = self._http
        assert http is not None
        try:
            with self._lock:
                limit, deadline = self._begin_get_updates(params)
        except ApiError as exc:
            return self._fail(name, params, exc, fault.kind if fault else None)
        except (TypeError, ValueError) as exc:
            return self._fail(name, params, _bad_request(f"wrong parameter value: {exc!r}"))
        while True:
            http.clear_changed()  # before looking: a push after the look sets it again
            with self._lock:
                ready = bool(self._deliverable(limit))
                remaining = deadline - time.monotonic()
                done = ready or remaining <= 0 or self._stopping.is_set()
                if done:
                    return self._run(name, params, fault, lambda: self._deliverable(limit), started)
                self._polls_waiting += 1
            try:
                await http.wait_changed(remaining)
            finally:
                with self._lock:
                    self._polls_waiting -= 1

    async def _sleep_unless_stopping(self, delay: float) -> None:
        http = self._http
        assert http is not None
        deadline = time.monotonic() + delay
        while not self._stopping.is_set():
            http.clear_changed()
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._stopping.is_set():
                return
            await http.wait_changed(remaining)

    def _wake_polls(self) -> None:
        """Call with the lock held after queueing updates (any thread)."""
        if self._polls_waiting and self._http is not None:
            self._http.wake()

    def _note_aborted(self, method: str, reason: str) -> None:
        with self._lock:
            self.aborted_requests.append((time.time(), method, reason))

    def _fail(self, method: str, params: JSON, exc: ApiError, fault: str | None = None) -> tuple[int, str, bytes]:
        self._record(Call(method, params, time.time(), ok=False, error=exc.description, fault=fault))
        return _json_response(exc.code, exc.payload())

    def _record(self, call: Call) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    def _take_fault(self, method: str, params: JSON) -> _Fault | None:
        with self._lock:
            for key in (method.lower(), "*"):
                for fault in self._faults.get(key, []):
                    if fault.remaining > 0 and (fault.when is None or fault.when(params)):
                        fault.remaining -= 1
                        return fault
        return None

    def _fault_response(self, method: str, params: JSON, fault: _Fault) -> tuple[int, str, bytes]:
        if fault.kind == "502":
            self._record(Call(method, params, time.time(), ok=False, error="Bad Gateway", fault="502"))
            return 502, "text/html", _NGINX_502
        errors = {
            "429": ApiError(429, f"Too Many Requests: retry after {fault.retry_after}",
                            {"retry_after": fault.retry_after}),
            "500": ApiError(500, fault.description or "Internal Server Error"),
            "bad_request": ApiError(400, fault.description or "Bad Request: injected fault"),
            "forbidden": ApiError(403, fault.description or "Forbidden: bot was blocked by the user"),
        }
        return self._fail(method, params, errors[fault.kind], fault.kind)

    # ------------------------------------------------------------------ helpers for handlers

    def _register_builtin_methods(self) -> None:
        for name, handler in {
            "getMe": self._m_get_me,
            "getUpdates": self._m_get_updates,
            "sendMessage": self._m_send_message,
            "editMessageText": self._m_edit_message_text,
            "editMessageReplyMarkup": self._m_edit_message_reply_markup,
            "deleteMessage": self._m_delete_message,
            "sendChatAction": self._m_send_chat_action,
            "answerInlineQuery": self._m_answer_inline_query,
            "answerCallbackQuery": self._m_answer_callback_query,
            "setMyCommands": self._m_set_my_commands,
            "getMyCommands": self._m_get_my_commands,
            "deleteMyCommands": self._m_delete_my_commands,
            "setWebhook": self._m_set_webhook,
            "deleteWebhook": self._m_delete_webhook,
            "getWebhookInfo": self._m_get_webhook_info,
            "sendPoll": self._m_send_poll,
            "stopPoll": self._m_stop_poll,
            "pinChatMessage": self._m_pin_chat_message,
            "unpinChatMessage": self._m_unpin_chat_message,
            "getChatMember": self._m_get_chat_member,
            "getChatAdministrators": self._m_get_chat_administrators,
            "close": lambda p: True,
            "logOut": lambda p: True,
        }.items():
            self.register_method(name, handler)

    @staticmethod
    def _require(params: JSON, *names: str) -> None:
        for name in names:
            if params.get(name) in (None, ""):
                raise _bad_request(f"{name} is empty")

    def _int_param(self, params: JSON, name: str) -> int:
        self._require(params, name)
        try:
            return int(params[name])
        except (TypeError, ValueError):
            raise _bad_request(f"invalid {name} specified") from None

    def _now(self) -> int:
        return int(time.time())

    def _new_id(self) -> str:
        return str(5_000_000_000_000_000_000 + next(self._ids))

    # ---- users & chats

    def _user(self, user_id: int, username: str | None = None, first_name: str | None = None,
              is_bot: bool = False) -> JSON:
        user = self._users.setdefault(
            user_id, {"id": user_id, "is_bot": is_bot, "first_name": f"User{user_id}",
                      "username": f"user{user_id}", "language_code": "en"},
        )
        if username is not None:
            user["username"] = username
        if first_name is not None:
            user["first_name"] = first_name
        user["is_bot"] = is_bot or user["is_bot"]
        return dict(user)

    def _chat(self, chat_id: int, chat_type: str, user: JSON | None = None, title: str | None = None) -> JSON:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = {"id": chat_id, "type": chat_type}
            self._chats[chat_id] = chat
        if chat_type == "private" and user is not None:
            chat.update({k: user[k] for k in ("first_name", "username") if k in user})
        elif chat_type != "private":
            chat["title"] = title or chat.get("title") or f"Test {chat_type}"
        return dict(chat)

    def _chat_for(self, params: JSON) -> JSON:
        """Resolve ``chat_id`` (int or @username); unknown ids are synthesised."""
        self._require(params, "chat_id")
        raw = params["chat_id"]
        if isinstance(raw, str) and raw.startswith("@"):
            for chat in self._chats.values():
                if chat.get("username", "").lower() == raw[1:].lower():
                    return dict(chat)
            raise _bad_request("chat not found")
        chat_id = self._int_param(params, "chat_id")
        if chat_id in self._chats:
            return dict(self._chats[chat_id])
        if chat_id > 0:
            return self._chat(chat_id, "private", self._user(chat_id))
        return self._chat(chat_id, "supergroup" if str(chat_id).startswith("-100") else "group")

    def _default_chat_id(self, chat_type: str, user_id: int) -> int:
        return {"private": user_id, "group": DEFAULT_GROUP_ID, "channel": DEFAULT_CHANNEL_ID}.get(
            chat_type, DEFAULT_SUPERGROUP_ID
        )

    # ---- messages

    def _store_message(self, chat: JSON, sender: JSON | None, fields: JSON) -> JSON:
        chat_id = chat["id"]
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        msg: JSON = {"message_id": message_id, "date": self._now(), "chat": chat}
        if sender is not None:
            msg["from"] = sender
        msg.update({k: v for k, v in fields.items() if v not in (None, [])})
        self._messages[(chat_id, message_id)] = msg
        return msg

    def _latest_message(self, chat_id: int, sender_id: int | None) -> JSON | None:
        candidates = [
            m for (cid, _), m in self._messages.items()
            if cid == chat_id and (sender_id is None or m.get("from", {}).get("id") == sender_id)
        ]
        return max(candidates, key=lambda m: m["message_id"]) if candidates else None

    def _bot_message_for(self, chat: JSON, message_id: int | None) -> JSON:
        """The bot message a user interacts with; synthesised if tests skipped sending one."""
        if message_id is not None and (chat["id"], message_id) in self._messages:
            return self._messages[(chat["id"], message_id)]
        latest = self._latest_message(chat["id"], self.bot_id) if message_id is None else None
        return latest or self._store_message(chat, self.bot_user, {"text": "(synthesised bot message)"})

    def _reply_target(self, chat: JSON, params: JSON) -> JSON | None:
        reply = params.get("reply_parameters") or {}
        message_id = reply.get("message_id") if isinstance(reply, dict) else None
        message_id = message_id or params.get("reply_to_message_id")
        if not message_id:
            return None
        target = self._messages.get((chat["id"], int(message_id)))
        allow = reply.get("allow_sending_without_reply") or params.get("allow_sending_without_reply")
        if target is None and not allow:
            raise _bad_request("message to be replied not found")
        return _strip_reply(target) if target else None

    def _parsed_text(self, params: JSON, key: str, mode_key: str, entities_key: str,
                     limit: int, empty_error: str | None) -> tuple[str, list[JSON]]:
        raw = params.get(key)
        if raw is None or str(raw).strip() == "":
            if empty_error:
                raise _bad_request(empty_error)
            return "", []
        text, entities = parse_entities(str(raw), params.get(mode_key))
        if not params.get(mode_key) and isinstance(params.get(entities_key), list):
            entities = list(params[entities_key])
        if empty_error and not text.strip():
            raise _bad_request(empty_error)
        if len(text) > limit:
            raise _bad_request("message is too long" if key == "text" else f"{key} is too long")
        return text, entities

    def _message_text(self, params: JSON) -> tuple[str, list[JSON]]:
        return self._parsed_text(params, "text", "parse_mode", "entities",
                                 MAX_MESSAGE_LENGTH, "message text is empty")

    def _editable_message(self, params: JSON, not_found: str) -> JSON:
        chat = self._chat_for(params)
        message_id = self._int_param(params, "message_id")
        msg = self._messages.get((chat["id"], message_id))
        if msg is None:
            raise _bad_request(not_found)
        if msg.get("from", {}).get("id") != self.bot_id:
            raise _bad_request("message can't be edited")
        return msg

    # ------------------------------------------------------------------ method handlers

    def _m_get_me(self, params: JSON) -> JSON:
        return {
            **self.bot_user, "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": True, "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _m_get_updates(self, params: JSON) -> list[JSON]:
        """The registered getUpdates; over HTTP it is served by ``_long_poll``, which waits
        asynchronously. Called directly, it answers at once (no long poll)."""
        limit, _ = self._begin_get_updates(params)
        return self._deliverable(limit)

    def _begin_get_updates(self, params: JSON) -> tuple[int, float]:
        """Validate, remember allowed_updates, confirm the offset; returns (limit, deadline)."""
        if self._webhook is not None:
            raise ApiError(409, _CONFLICT_WEBHOOK)
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = min(max(float(params.get("timeout") or 0), 0.0), 50.0)
        if isinstance(params.get("allowed_updates"), list):
            self._allowed_updates = list(params["allowed_updates"])
        self._confirm(offset)
        return limit, time.monotonic() + timeout

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]

    def _is_allowed(self, update: JSON) -> bool:
        kind = next((k for k in update if k != "update_id"), "")
        if self._allowed_updates:
            return kind in self._allowed_updates
        return kind not in ("chat_member", "message_reaction", "message_reaction_count")

    def _deliverable(self, limit: int) -> list[JSON]:
        """Drop updates the bot did not subscribe to (Telegram never stores them)."""
        self._pending = [u for u in self._pending if self._is_allowed(u)]
        return self._pending[:limit]  # queued updates are never mutated; the answer is serialised

    def _m_send_message(self, params: JSON) -> _Outcome:
        chat = self._chat_for(params)
        text, entities = self._message_text(params)
        markup = _validate_reply_markup(params.get("reply_markup"))
        fields = {
            "text": text, "entities": entities, "reply_markup": _inline_markup(markup),
            "reply_to_message": self._reply_target(chat, params),
            "message_thread_id": params.get("message_thread_id"),
        }
        msg = self._store_message(chat, self.bot_user, fields)
        return _Outcome(msg, text, entities)

    def _m_edit_message_text(self, params: JSON) -> _Outcome:
        if params.get("inline_message_id"):
            text, entities = self._message_text(params)
            _validate_reply_markup(params.get("reply_markup"))
            return _Outcome(True, text, entities)
        msg = self._editable_message(params, "message to edit not found")
        if "text" not in msg:
            raise _bad_request("there is no text in the message to edit")
        text, entities = self._message_text(params)
        markup = _inline_markup(_validate_reply_markup(params.get("reply_markup")))
        self._apply_edit(msg, {"text": text, "entities": entities, "reply_markup": markup})
        return _Outcome(msg, text, entities)

    def _m_edit_message_reply_markup(self, params: JSON) -> Any:
        markup = _inline_markup(_validate_reply_markup(params.get("reply_markup")))
        if params.get("inline_message_id"):
            return True
        msg = self._editable_message(params, "message to edit not found")
        self._apply_edit(msg, {"reply_markup": markup})
        return msg

    def _apply_edit(self, msg: JSON, changes: JSON) -> None:
        """Apply an edit, failing like Telegram when nothing would change."""
        if all((msg.get(k) or None) == (v or None) for k, v in changes.items()):
            raise _bad_request(
                "message is not modified: specified new message content and reply markup "
                "are exactly the same as a current content and reply markup of the message"
            )
        for key, value in changes.items():
            if value in (None, []):
                msg.pop(key, None)
            else:
                msg[key] = value
        msg["edit_date"] = self._now()

    def _m_delete_message(self, params: JSON) -> bool:
        chat = self._chat_for(params)
        message_id = self._int_param(params, "message_id")
        if self._messages.pop((chat["id"], message_id), None) is None:
            raise _bad_request("message to delete not found")
        return True

    _CHAT_ACTIONS = frozenset({
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    })

    def _m_send_chat_action(self, params: JSON) -> bool:
        self._chat_for(params)
        self._require(params, "action")
        if params["action"] not in self._CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        return True

    def _m_answer_callback_query(self, params: JSON) -> bool:
        self._require(params, "callback_query_id")
        if str(params["callback_query_id"]) not in self._open_queries:
            raise _bad_request(_QUERY_TOO_OLD)
        if len(str(params.get("text") or "")) > 200:
            raise _bad_request("MESSAGE_TOO_LONG")
        return True

    def _m_answer_inline_query(self, params: JSON) -> _Outcome:
        self._require(params, "inline_query_id")
        if str(params["inline_query_id"]) not in self._open_queries:
            raise _bad_request(_QUERY_TOO_OLD)
        results = params.get("results")
        if not isinstance(results, list):
            raise _bad_request("results is empty")
        if len(results) > 50:
            raise _bad_request("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            self._validate_inline_result(result, seen)
        return _Outcome(True)

    def _validate_inline_result(self, result: Any, seen: set[str]) -> None:
        if not isinstance(result, dict) or not result.get("type"):
            raise _bad_request("can't parse inline query result")
        result_id = str(result.get("id") or "")
        if not result_id or len(result_id.encode()) > 64:
            raise _bad_request("RESULT_ID_INVALID")
        if result_id in seen:
            raise _bad_request("RESULT_ID_DUPLICATE")
        seen.add(result_id)
        content = result.get("input_message_content")
        if isinstance(content, dict) and "message_text" in content:
            self._parsed_text(content, "message_text", "parse_mode", "entities",
                              MAX_MESSAGE_LENGTH, "message text is empty")
        _validate_reply_markup(result.get("reply_markup"))

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        scope = scope or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(language_code or "")

    def _m_set_my_commands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad_request("commands is empty" if commands is None else "BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        self._commands[key] = [{"command": c["command"], "description": c["description"]} for c in commands]
        return True

    def _m_get_my_commands(self, params: JSON) -> list[JSON]:
        return self._commands.get(self._commands_key(params.get("scope"), params.get("language_code")), [])

    def _m_delete_my_commands(self, params: JSON) -> bool:
        self._commands.pop(self._commands_key(params.get("scope"), params.get("language_code")), None)
        return True

    def _m_set_webhook(self, params: JSON) -> bool:
        url = str(params.get("url") or "")
        if not url:
            return self._m_delete_webhook(params)
        if not re.match(r"https?://", url):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise _bad_request("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self._webhook = {
            "url": url, "secret_token": str(secret) if secret is not None else None,
            "max_connections": int(params.get("max_connections") or 40),
            "allowed_updates": params.get("allowed_updates"),
        }
        if isinstance(params.get("allowed_updates"), list):
            self._allowed_updates = list(params["allowed_updates"])
        self._cond.notify_all()
        self._wake_polls()
        return True

    def _m_delete_webhook(self, params: JSON) -> bool:
        self._webhook = None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    def _m_get_webhook_info(self, params: JSON) -> JSON:
        info: JSON = {"url": "", "has_custom_certificate": False,
                      "pending_update_count": len(self._pending)}
        if self._webhook:
            info.update(url=self._webhook["url"], max_connections=self._webhook["max_connections"],
                        ip_address="127.0.0.1")
            if self._webhook.get("allowed_updates"):
                info["allowed_updates"] = self._webhook["allowed_updates"]
        return info

    def _m_send_poll(self, params: JSON) -> _Outcome:
        chat = self._chat_for(params)
        self._require(params, "question")
        question, q_entities = parse_entities(str(params["question"]), params.get("question_parse_mode"))
        if len(question) > 300:
            raise _bad_request("poll question length must not exceed 300")
        poll_id = self._new_id()
        poll_type = params.get("type") or "regular"
        if poll_type not in ("regular", "quiz"):
            raise _bad_request("poll type is invalid")
        revoting = params.get("allows_revoting")
        poll = {
            "id": poll_id, "question": question,
            "options": self._poll_options(params.get("options"), poll_id),
            "total_voter_count": 0, "is_closed": bool(params.get("is_closed")),
            "is_anonymous": params.get("is_anonymous", True) is not False,
            "type": poll_type,
            "allows_multiple_answers": bool(params.get("allows_multiple_answers")),
            # Bot API 9.6/10.0 fields that PTB 22.8 requires when de-jsoning a Poll
            "allows_revoting": poll_type == "regular" if revoting is None else bool(revoting),
            "members_only": bool(params.get("members_only")),
        }
        if q_entities:
            poll["question_entities"] = q_entities
        description, d_entities = self._parsed_text(
            params, "description", "description_parse_mode", "description_entities", 1024, None
        )
        if description:
            poll["description"] = description
        if d_entities:
            poll["description_entities"] = d_entities
        self._apply_quiz_fields(poll, params)
        self._apply_poll_period(poll, params)
        markup = _inline_markup(_validate_reply_markup(params.get("reply_markup")))
        msg = self._store_message(chat, self.bot_user, {
            "poll": poll, "reply_markup": markup, "reply_to_message": self._reply_target(chat, params),
        })
        self._polls[poll["id"]] = (chat["id"], msg["message_id"])
        return _Outcome(msg, question, q_entities)

    @staticmethod
    def _poll_options(raw: Any, poll_id: str) -> list[JSON]:
        if not isinstance(raw, list) or len(raw) < 2:
            raise _bad_request("poll must have at least 2 option")
        if len(raw) > 12:
            raise _bad_request("poll can't have more than 12 options")
        texts = [str(o.get("text", "")) if isinstance(o, dict) else str(o) for o in raw]
        if any(not 1 <= len(t) <= 100 for t in texts):
            raise _bad_request("poll options length must not exceed 100")
        return [{"persistent_id": f"{poll_id}-{i}", "text": t, "voter_count": 0}
                for i, t in enumerate(texts)]

    def _apply_quiz_fields(self, poll: JSON, params: JSON) -> None:
        """Quiz answers: Bot API 9.6 ``correct_option_ids`` (legacy ``correct_option_id`` accepted)."""
        if poll["type"] != "quiz":
            return
        correct = params.get("correct_option_ids")
        if correct is None and params.get("correct_option_id") is not None:
            correct = [params["correct_option_id"]]
        if not isinstance(correct, list) or not correct:
            raise _bad_request("wrong correct option id specified")
        ids = [int(c) for c in correct]
        if any(not 0 <= c < len(poll["options"]) for c in ids) or ids != sorted(set(ids)):
            raise _bad_request("wrong correct option id specified")
        if len(ids) > 1 and not poll["allows_multiple_answers"]:
            raise _bad_request("wrong correct option id specified")
        poll["correct_option_ids"] = ids
        explanation, entities = self._parsed_text(
            params, "explanation", "explanation_parse_mode", "explanation_entities", 200, None
        )
        if explanation:
            poll["explanation"] = explanation
        if entities:
            poll["explanation_entities"] = entities

    def _apply_poll_period(self, poll: JSON, params: JSON) -> None:
        if params.get("open_period") is not None:
            period = int(params["open_period"])
            if not 5 <= period <= 600:
                raise _bad_request("open_period is invalid")
            poll["open_period"] = period
            poll["close_date"] = self._now() + period
        elif params.get("close_date") is not None:
            poll["close_date"] = int(params["close_date"])

    def _m_stop_poll(self, params: JSON) -> JSON:
        chat = self._chat_for(params)
        msg = self._messages.get((chat["id"], self._int_param(params, "message_id")))
        if msg is None or "poll" not in msg:
            raise _bad_request("message with poll to stop not found")
        if msg["poll"]["is_closed"]:
            raise _bad_request("poll has already been closed")
        msg["poll"]["is_closed"] = True
        markup = _inline_markup(_validate_reply_markup(params.get("reply_markup")))
        if markup is not None:
            msg["reply_markup"] = markup
        return msg["poll"]

    def _m_pin_chat_message(self, params: JSON) -> bool:
        chat = self._chat_for(params)
        if (chat["id"], self._int_param(params, "message_id")) not in self._messages:
            raise _bad_request("message to pin not found")
        return True

    def _m_unpin_chat_message(self, params: JSON) -> bool:
        self._chat_for(params)
        return True

    def _member(self, chat_id: int, user_id: int) -> JSON:
        user = self.bot_user if user_id == self.bot_id else self._user(user_id)
        creator, admins = self._admins.get(chat_id, (None, []))
        if user_id == creator:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if user_id in admins:
            rights = dict.fromkeys((
                "can_be_edited", "can_manage_chat", "can_delete_messages", "can_manage_video_chats",
                "can_restrict_members", "can_change_info", "can_invite_users", "can_post_stories",
                "can_edit_stories", "can_delete_stories", "can_pin_messages",
            ), True)
            return {"status": "administrator", "user": user, "is_anonymous": False,
                    "can_promote_members": False, **rights}
        status = self._member_status.get((chat_id, user_id), "member")
        member: JSON = {"status": status, "user": user}
        if status == "kicked":
            member["until_date"] = 0
        return member

    def _m_get_chat_member(self, params: JSON) -> JSON:
        chat = self._chat_for(params)
        return self._member(chat["id"], self._int_param(params, "user_id"))

    def _m_get_chat_administrators(self, params: JSON) -> list[JSON]:
        chat = self._chat_for(params)
        if chat["type"] == "private":
            raise _bad_request("there are no administrators in the private chat")
        creator, admins = self._admins.get(chat["id"], (None, []))
        ids = ([creator] if creator is not None else []) + [a for a in admins if a != creator]
        return [self._member(chat["id"], user_id) for user_id in ids]

    # ------------------------------------------------------------------ update injection

    def push_update(self, update: JSON) -> JSON:
        """Queue a raw update; a fresh, increasing ``update_id`` is always assigned."""
        with self._cond:
            queued = copy.deepcopy({k: v for k, v in update.items() if k != "update_id"})
            queued = {"update_id": next(self._update_ids), **queued}
            self._pending.append(queued)
            self._cond.notify_all()
            self._wake_polls()
            return copy.deepcopy(queued)

    def _identity(self, chat_id: int | None, user_id: int, chat_type: str, username: str | None,
                  first_name: str | None, is_bot: bool = False, title: str | None = None) -> tuple[JSON, JSON]:
        user = self._user(user_id, username, first_name, is_bot)
        cid = chat_id if chat_id is not None else self._default_chat_id(chat_type, user_id)
        return user, self._chat(cid, chat_type, user if chat_type == "private" else None, title)

    def push_message(
        self,
        text: str,
        chat_id: int | None = None,
        user_id: int = DEFAULT_USER_ID,
        chat_type: str = "private",
        username: str | None = None,
        first_name: str | None = None,
        reply_to_bot: bool = False,
        entities: list[JSON] | None = None,
        is_bot: bool = False,
        *,
        reply_to_message_id: int | None = None,
        chat_title: str | None = None,
        message_thread_id: int | None = None,
        date: int | None = None,
    ) -> JSON:
        """Queue a user message. ``chat_id`` defaults to the user's private chat (or a
        fixed group/supergroup id). Commands and @mentions get entities automatically
        unless ``entities`` is given. ``reply_to_bot`` replies to the bot's last message.
        ``date`` (Unix time) backdates it: a question the bot gets long after it was asked."""
        with self._lock:
            user, chat = self._identity(chat_id, user_id, chat_type, username, first_name, is_bot, chat_title)
            reply_to = self._reply_for_push(chat, reply_to_bot, reply_to_message_id)
            msg = self._store_message(chat, user, {
                "date": date,
                "text": text,
                "entities": entities if entities is not None else self._auto_entities(text),
                "reply_to_message": reply_to, "message_thread_id": message_thread_id,
                # a message in a forum topic (Telegram sets both)
                "is_topic_message": True if message_thread_id is not None else None,
            })
            return self.push_update({"message": msg})

    def _reply_for_push(self, chat: JSON, reply_to_bot: bool, message_id: int | None) -> JSON | None:
        if message_id is not None:
            target = self._messages.get((chat["id"], message_id))
            if target is None:
                raise LookupError(f"no message {message_id} in chat {chat['id']}")
            return _strip_reply(target)
        if reply_to_bot:
            return _strip_reply(self._bot_message_for(chat, None))
        return None

    def _auto_entities(self, text: str) -> list[JSON]:
        """bot_command for a leading /command and mention for every @username."""
        entities: list[JSON] = []
        command = re.match(r"/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{3,32})?", text)
        if command:
            entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command.group(0))})
        taken = command.end() if command else 0
        for mention in re.finditer(r"(?<![\w@/])@[A-Za-z0-9_]{3,32}", text):
            if mention.start() >= taken:
                entities.append({"type": "mention", "offset": utf16_len(text[:mention.start()]),
                                 "length": utf16_len(mention.group(0))})
        return entities

    def push_edited_message(
        self,
        text: str,
        message_id: int | None = None,
        chat_id: int | None = None,
        user_id: int = DEFAULT_USER_ID,
        chat_type: str = "private",
        username: str | None = None,
        first_name: str | None = None,
        entities: list[JSON] | None = None,
    ) -> JSON:
        """Queue an ``edited_message`` for ``message_id`` (default: the user's latest)."""
        with self._lock:
            user, chat = self._identity(chat_id, user_id, chat_type, username, first_name)
            if message_id is None:
                latest = self._latest_message(chat["id"], user_id)
                if latest is None:
                    raise LookupError(f"user {user_id} has no message in chat {chat['id']} to edit")
                message_id = latest["message_id"]
            msg = self._messages.get((chat["id"], message_id))
            if msg is None:
                raise LookupError(f"no message {message_id} in chat {chat['id']}")
            msg.update(text=text, edit_date=self._now())
            new_entities = entities if entities is not None else self._auto_entities(text)
            msg.pop("entities", None)
            if new_entities:
                msg["entities"] = new_entities
            return self.push_update({"edited_message": msg})

    def push_callback_query(
        self,
        data: str,
        chat_id: int | None = None,
        user_id: int = DEFAULT_USER_ID,
        message_id: int | None = None,
        chat_type: str = "private",
        username: str | None = None,
        first_name: str | None = None,
        *,
        inline_message_id: str | None = None,
    ) -> JSON:
        """Queue a button press on ``message_id`` (default: the bot's latest message
        in the chat; one is synthesised if the bot has sent nothing)."""
        with self._lock:
            user, chat = self._identity(chat_id, user_id, chat_type, username, first_name)
            query: JSON = {"id": self._new_id(), "from": user, "chat_instance": str(abs(chat["id"]) * 7919),
                           "data": data}
            if inline_message_id is not None:
                query["inline_message_id"] = inline_message_id
            else:
                query["message"] = self._bot_message_for(chat, message_id)
            self._open_queries.add(query["id"])
            return self.push_update({"callback_query": query})

    def push_inline_query(
        self,
        query: str,
        user_id: int = DEFAULT_USER_ID,
        *,
        offset: str = "",
        chat_type: str = "private",
        username: str | None = None,
        first_name: str | None = None,
    ) -> JSON:
        with self._lock:
            user = self._user(user_id, username, first_name)
            inline = {"id": self._new_id(), "from": user, "query": query, "offset": offset,
                      "chat_type": chat_type}
            self._open_queries.add(inline["id"])
            return self.push_update({"inline_query": inline})

    def push_poll_answer(self, poll_id: str, user_id: int = DEFAULT_USER_ID,
                         option_ids: Iterable[int] = (0,), *, username: str | None = None,
                         first_name: str | None = None) -> JSON:
        """Queue a ``poll_answer`` (empty ``option_ids`` = vote retracted) and update
        the stored poll's counts."""
        with self._lock:
            option_list = list(option_ids)
            location = self._polls.get(str(poll_id))
            persistent_ids = [f"{poll_id}-{i}" for i in option_list]
            if location and location in self._messages:
                poll = self._messages[location]["poll"]
                for option in option_list:
                    poll["options"][option]["voter_count"] += 1
                persistent_ids = [poll["options"][i]["persistent_id"] for i in option_list]
                poll["total_voter_count"] += 1 if option_list else 0
            answer = {"poll_id": str(poll_id), "user": self._user(user_id, username, first_name),
                      "option_ids": option_list, "option_persistent_ids": persistent_ids}
            return self.push_update({"poll_answer": answer})

    def push_channel_post(self, text: str, chat_id: int = DEFAULT_CHANNEL_ID, *,
                          title: str = "Test channel") -> JSON:
        with self._lock:
            chat = self._chat(chat_id, "channel", title=title)
            msg = self._store_message(chat, None, {"sender_chat": chat, "text": text,
                                                   "entities": self._auto_entities(text)})
            return self.push_update({"channel_post": msg})

    def push_sticker(self, chat_id: int | None = None, user_id: int = DEFAULT_USER_ID, *,
                     emoji: str = "👍", chat_type: str = "private") -> JSON:
        with self._lock:
            user, chat = self._identity(chat_id, user_id, chat_type, None, None)
            file_id = f"CAACAgIAAxkBAAE{next(self._ids):010d}"
            sticker = {"file_id": file_id, "file_unique_id": file_id[-12:], "type": "regular",
                       "width": 512, "height": 512, "is_animated": False, "is_video": False,
                       "emoji": emoji, "set_name": "TestStickers", "file_size": 24_000}
            msg = self._store_message(chat, user, {"sticker": sticker})
            return self.push_update({"message": msg})

    def push_photo(self, chat_id: int | None = None, user_id: int = DEFAULT_USER_ID,
                   caption: str | None = None, *, chat_type: str = "private") -> JSON:
        with self._lock:
            user, chat = self._identity(chat_id, user_id, chat_type, None, None)
            base = f"AgACAgIAAxkBAAE{next(self._ids):010d}"
            sizes = [(90, 67, 1_200), (320, 240, 15_000), (1280, 960, 120_000)]
            photo = [{"file_id": f"{base}{i}", "file_unique_id": f"AQAD{base[-8:]}{i}",
                      "width": w, "height": h, "file_size": s} for i, (w, h, s) in enumerate(sizes)]
            msg = self._store_message(chat, user, {
                "photo": photo, "caption": caption,
                "caption_entities": self._auto_entities(caption) if caption else None,
            })
            return self.push_update({"message": msg})

    # ------------------------------------------------------------------ webhook delivery

    def deliver_webhook(
        self,
        update_dict: JSON | None = None,
        secret: str | None = _UNSET,
        use_registered_secret: bool = True,
        timeout: float = 5.0,
        url: str | None = None,
    ) -> int:
        """POST an update to the registered webhook like Telegram; returns the HTTP status.

        ``update_dict`` defaults to the oldest pending update; pushing and delivering
        is ``emu.deliver_webhook(emu.push_message("/start"))``. A 2xx answer removes
        the update from the pending queue (otherwise Telegram would retry it).
        The X-Telegram-Bot-Api-Secret-Token header carries ``secret`` if given
        (``None`` = no header), else the registered secret if ``use_registered_secret``.
        ``url`` posts to that address instead of the registered one: one of several workers behind the
        registered URL, as a load balancer in front of them would.
        Blocking: use ``deliver_webhook_async`` when the bot runs in the same loop.
        """
        with self._lock:
            if self._webhook is None:
                raise AssertionError("no webhook is registered (the bot never called setWebhook)")
            url = url or self._webhook["url"]
            update = update_dict if update_dict is not None else (self._pending[0] if self._pending else None)
            if update is None:
                raise AssertionError("no pending update to deliver")
            update = copy.deepcopy(update)
            if "update_id" not in update:
                update = self.push_update(update)
            header = secret if secret is not _UNSET else (
                self._webhook.get("secret_token") if use_registered_secret else None)
        status, body = _post_json(url, update, header, timeout)
        with self._lock:
            self.webhook_deliveries.append(WebhookDelivery(update["update_id"], status, header, body))
            if 200 <= status < 300:
                self._pending = [u for u in self._pending if u["update_id"] != update["update_id"]]
        return status

    async def deliver_webhook_async(
        self,
        update_dict: JSON | None = None,
        secret: str | None = _UNSET,
        use_registered_secret: bool = True,
        timeout: float = 5.0,
        url: str | None = None,
    ) -> int:
        """``deliver_webhook`` run in a worker thread so an in-loop webhook server can answer."""
        return await asyncio.to_thread(self.deliver_webhook, update_dict, secret,
                                       use_registered_secret, timeout, url)


def _strip_reply(message: JSON) -> JSON:
    """Telegram does not nest reply_to_message more than one level deep."""
    return {k: v for k, v in message.items() if k != "reply_to_message"}


def _post_json(url: str, payload: JSON, secret: str | None, timeout: float) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - local test URL
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
