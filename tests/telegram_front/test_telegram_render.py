"""Unit tests of the pure Reply -> Telegram HTML rendering (no network)."""
from __future__ import annotations

import pytest

from bot.channels import telegram_render as render
from bot.reply import Reply, SourceRef
from tests.support.botapi_emulator import parse_entities

MARKDOWNY = "*_[]()~`>#+-=|{}.!<b>&amp; \\ O'Brien \"x\""


def parsed(html_text: str) -> tuple[str, list[str]]:
    text, entities = parse_entities(html_text, "HTML")
    return text, [e["type"] for e in entities]


def test_dynamic_text_is_escaped_and_round_trips_through_telegram_html() -> None:
    reply = Reply(f"{MARKDOWNY} directs it.", "answer")
    out = render.render_reply(reply, hide_spoilers=False)
    assert parsed(out.text) == (f"{MARKDOWNY} directs it.", [])
    assert out.keyboard is None


def test_spoilers_are_hidden_only_when_asked() -> None:
    reply = Reply("In the end, Eve <wins> & Eve wins again.", "answer", spoilers=("Eve <wins>", "wins"))
    shown = render.render_reply(reply, hide_spoilers=False)
    assert "tg-spoiler" not in shown.text
    hidden = render.render_reply(reply, hide_spoilers=True)
    text, types = parsed(hidden.text)
    assert text == reply.text
    assert types == ["spoiler", "spoiler"]  # overlapping spans merged, every occurrence hidden


def test_spoiler_spans_merge_overlaps() -> None:
    assert render.spoiler_spans("abcdef", ["bcd", "cde", "", "zz"]) == [(1, 5)]
    assert render.spoiler_spans("a-a-a", ["a"]) == [(0, 1), (2, 3), (4, 5)]


@pytest.mark.parametrize("kind", ["clarify", "unknown"])
def test_clarify_and_unknown_replies_carry_suggestion_buttons(kind: str) -> None:
    long_question = "What else has " + "a very long name " * 5 + "directed?"
    reply = Reply("Which one?", kind, suggestions=("Who plays Winston?", long_question))  # type: ignore[arg-type]
    keyboard = render.render_reply(reply, hide_spoilers=False).keyboard
    assert keyboard is not None
    buttons = [row[0] for row in keyboard.inline_keyboard]
    assert buttons[0].callback_data == "ask:Who plays Winston?"
    assert buttons[1].callback_data == "ask#1"  # too long for 64 bytes: the label carries it
    assert all(len(b.callback_data.encode()) <= 64 for b in buttons)
    assert render.question_from_callback("ask:Who plays Winston?", keyboard) == "Who plays Winston?"
    assert render.question_from_callback("ask#1", keyboard) == buttons[1].text
    assert render.question_from_callback("ask#9", keyboard) is None
    assert render.question_from_callback("quiz:1", keyboard) is None


def test_answers_have_no_buttons() -> None:
    reply = Reply("Len Wiseman.", "answer", suggestions=("Who plays Winston?",))
    assert render.render_reply(reply, hide_spoilers=False).keyboard is None


def test_question_echo_and_truncation_to_telegram_limit() -> None:
    reply = Reply("word " * 2000, "unknown")
    out = render.render_reply(reply, hide_spoilers=True, question="<huge> " * 100)
    text, types = parsed(out.text)
    assert render.utf16_len(text) <= render.MAX_TEXT
    assert text.startswith("❓ <huge>") and text.endswith("…")
    assert types[0] == "bold"


def test_truncate_counts_utf16_units() -> None:
    emoji = "🩰" * 3000  # 2 UTF-16 units each
    cut = render.truncate(emoji, 100)
    assert render.utf16_len(cut) <= 100 and cut.endswith("…")
    assert render.truncate("short", 100) == "short"


def test_sources_with_urls_are_linked_and_escaped() -> None:
    source = SourceRef("according to A&B", "2023-03", "A&B <News>", "Title \"q\" & co",
                       "https://example.com/?a=1&b=\"2\"")
    out = render.render_reply(Reply("Yes.", "answer", sources=(source,)), hide_spoilers=False)
    text, entities = parse_entities(out.text, "HTML")
    assert text.endswith('Source: Title "q" & co')
    assert {"type": "text_link", "url": 'https://example.com/?a=1&b="2"'}.items() <= entities[-1].items()
    about = render.about_text("Ballerina <2024>", 10, 99, [source, source])
    about_text, _ = parse_entities(about, "HTML")
    assert about_text.count("A&B <News>") == 1 and "Ballerina <2024>" in about_text


def test_greeting_and_help_escape_names() -> None:
    text, _ = parsed(render.greeting(MARKDOWNY, "Ballerina", group=True, bot_username="trivia_bot"))
    assert MARKDOWNY in text and "@trivia_bot" in text
    help_text, types = parsed(render.help_text("Ask <me> & see", "Ballerina", "trivia_bot"))
    assert help_text.startswith("Ask <me> & see") and "code" in types


def test_strip_mention_and_command_argument() -> None:
    assert render.strip_mention("@Trivia_Bot, who directs it?", "trivia_bot") == "who directs it?"
    assert render.strip_mention("so who directs it @trivia_bot", "trivia_bot") == "so who directs it"
    assert render.strip_mention("@trivia_botx hi", "trivia_bot") == "@trivia_botx hi"
    assert render.command_argument("/ask@trivia_bot who\nplays Winston?") == "who\nplays Winston?"
    assert render.command_argument("/ask") == ""


def test_inline_article_hides_spoilers_and_has_stable_ids() -> None:
    reply = Reply("It ends with a twist.", "answer", spoilers=("a twist",))
    article = render.inline_article("how does it end?", reply)
    content = article.input_message_content
    text, types = parsed(content.message_text)  # type: ignore[union-attr]
    assert text == "❓ how does it end?\nIt ends with a twist." and "spoiler" in types
    assert "twist" not in (article.description or "")
    assert article.id == render.inline_article("how does it end?", reply).id


def test_command_menu() -> None:
    quiz = ["quiz", "score", "leaderboard", "skip", "stop", "quizsettings"]
    assert [c.command for c in render.bot_commands()] == ["start", "help", "ask", "about", "cancel", *quiz]
    assert [c.command for c in render.bot_commands(render.GROUP_COMMANDS)] == ["help", "ask", "about", "cancel",
                                                                               *quiz]
    assert all(len(c.description) <= 256 and c.command.islower() for c in render.bot_commands())


@pytest.mark.parametrize("module", ["telegram_render", "telegram_inbox", "telegram_webhook"])
def test_the_telegram_front_s_examples_hold_on_the_ptb_installed(module: str) -> None:
    """The docstrings' examples build real PTB objects: a Bot API field PTB starts to require (22.8's
    ``option_persistent_ids`` of a poll answer) breaks them, and them only here."""
    import doctest
    import importlib

    assert doctest.testmod(importlib.import_module(f"bot.channels.{module}")).failed == 0
