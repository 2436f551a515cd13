"""The admin Mini App as an admin uses it: in Debian's chromium at a phone's width, against the bot's own
`serve` process, whose chats (through the Bot API emulator) answer with every change at once."""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.webadmin.conftest import ADMIN, DARK, LIGHT, OTHER_ADMIN, PHONE, Bot, init_data, shown


def edit_release(page: Any) -> None:
    """From the knowledge page to Ballerina's release date, by the links an admin taps."""
    shown(page, "knowledge")
    page.get_by_role("link", name="Ballerina", exact=True).first.click()
    shown(page, "entity")
    page.locator("li.fact", has_text="release").get_by_role("link", name="Change").click()
    shown(page, "edit")


def test_admin_changes_the_release_date_with_a_preview_and_every_chat_answers_with_it(
        open_app: Any, bot: Bot) -> None:
    before = bot.knowledge.read_bytes()
    page = open_app(ADMIN)
    edit_release(page)
    # keyboard only: the value field has the focus, Tab moves on, Enter previews (the form's first button)
    assert page.evaluate("document.activeElement.id") == "f-value"
    page.keyboard.press("Control+A")
    page.keyboard.type("6 June 2025")
    page.keyboard.press("Tab")
    page.keyboard.type("Variety")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-preview-answer]")
    assert "6 June 2025" in page.inner_text("[data-preview-answer]")
    assert "according to Variety" in page.inner_text("[data-preview-answer]").replace("According", "according")
    assert bot.knowledge.read_bytes() == before, "a preview writes nothing"
    assert "6 June 2025" not in bot.chat("when is ballerina out?")
    page.get_by_role("button", name="Save").focus()
    page.keyboard.press("Enter")
    shown(page, "entity")
    assert "Saved" in page.inner_text(".notice")
    assert "6 June 2025" in page.inner_text("li.fact:has-text('release')")
    assert "6 June 2025" in bot.chat("when is ballerina out?")  # at once, no restart, in every chat
    assert "6 June 2025" in bot.chat("when does ballerina come out", user=5151)
    assert page.js_errors == []


def test_undo_in_the_history_restores_the_file_byte_for_byte(open_app: Any, bot: Bot) -> None:
    before = bot.knowledge.read_bytes()
    page = open_app(ADMIN, path="edit?entity=ballerina&relation=directed_by")
    shown(page, "edit")
    page.fill("#f-value", "Chad Stahelski")
    page.fill("#f-source", "a test source")
    page.get_by_role("button", name="Save").click()
    shown(page, "entity")
    assert bot.knowledge.read_bytes() != before
    page.get_by_role("link", name="History").click()
    shown(page, "history")
    top = page.locator("li.entry").first
    assert f"telegram:{ADMIN}" in top.inner_text()  # the author, by Telegram id
    assert "set ballerina directed_by" in top.inner_text()
    top.locator("summary", has_text="Diff").click()
    assert "+" in top.locator("pre.diff .add").first.inner_text()
    top.get_by_role("button", name="Undo this change").click()
    shown(page, "history")
    assert "Undid change" in page.inner_text(".notice")
    assert bot.knowledge.read_bytes() == before
    assert "Len Wiseman" in bot.chat("who directs ballerina?")


def test_removing_a_fact_from_its_entity_page_and_undoing_it(open_app: Any, bot: Bot) -> None:
    before = bot.knowledge.read_bytes()
    page = open_app(ADMIN, path="entity/ballerina")
    shown(page, "entity")
    fact = page.locator("li.fact", has_text="place in the timeline")
    fact.get_by_role("button", name=re.compile("^Remove")).click()
    shown(page, "entity")
    assert "Removed" in page.inner_text(".notice")
    assert page.locator("li.fact", has_text="place in the timeline").count() == 0
    assert "Chapter 3" not in bot.chat("when is ballerina set?", user=81)
    page.get_by_role("navigation").get_by_role("link", name="History").click()
    shown(page, "history")
    page.get_by_role("button", name="Undo this change").click()
    shown(page, "history")
    assert bot.knowledge.read_bytes() == before
    assert "Chapter 3" in bot.chat("when is ballerina set?", user=82)


def test_the_inbox_turns_a_group_of_unanswered_questions_into_a_fact_the_bot_then_answers(
        open_app: Any, bot: Bot) -> None:
    for text, user in (("when is john wick 5 out?", 61), ("When does John Wick 5 come out", 62),
                       ("when is john wick 5 out?", 63), ("who sang the song in the trailer", 64)):
        assert "2027" not in bot.chat(text, user=user)
    page = open_app(ADMIN)
    page.get_by_role("link", name="Inbox").click()
    shown(page, "inbox")
    group = page.locator("section.group", has_text="john wick 5 out")
    assert "×3" in group.inner_text()  # the same thing asked three times, in two wordings
    assert "When does John Wick 5 come out" in group.inner_text()
    group.locator("summary", has_text="Answer with a fact").click()
    assert group.locator("select[name=relation]").input_value() == "release"  # what they ask, understood
    group.get_by_label("The answer").fill("May 2027")
    group.get_by_label("Source: who says so").fill("Lionsgate")
    group.get_by_role("button", name="Save the fact").click()
    shown(page, "inbox")
    assert "Answered" in page.inner_text(".notice")
    assert page.locator("section.group", has_text="john wick 5 out").count() == 0
    assert page.locator("section.group", has_text="who sang the song").count() == 1
    assert "May 2027" in bot.chat("when is john wick 5 out?", user=65)
    assert "May 2027" in bot.chat("john wick 5 release date", user=66)
    examples = (bot.project / "intents" / "nlu" / "facts.yml").read_text(encoding="utf-8")
    assert "- when is john wick 5 out?" in examples  # the wording, taught as a training example


def test_dismissing_a_group_takes_it_off_the_inbox(open_app: Any, bot: Bot) -> None:
    bot.chat("what colour is the ballerina's car", user=71)
    page = open_app(ADMIN, path="inbox")
    shown(page, "inbox")
    group = page.locator("section.group", has_text="colour is the ballerina")
    group.get_by_role("button", name="Dismiss").click()
    shown(page, "inbox")
    assert "Dismissed 1 question" in page.inner_text(".notice")
    assert page.locator("section.group", has_text="colour is the ballerina").count() == 0


def test_two_admins_on_the_same_fact_the_second_is_told_it_changed_and_loses_nothing(
        open_app: Any, bot: Bot) -> None:
    first = open_app(ADMIN, path="edit?entity=ballerina&relation=main_character")
    second = open_app(OTHER_ADMIN, path="edit?entity=ballerina&relation=main_character")
    shown(first, "edit")
    shown(second, "edit")
    first.fill("#f-value", "John Wick")
    first.fill("#f-source", "first admin")
    second.fill("#f-value", "Winston")
    second.fill("#f-source", "second admin")
    first.get_by_role("button", name="Save").click()
    shown(first, "entity")
    saved = bot.knowledge.read_bytes()
    second.get_by_role("button", name="Save").click()
    shown(second, "edit")
    assert "changed since you opened it" in second.inner_text("#e-form")
    assert second.input_value("#f-value") == "Winston"  # what they typed is still there
    assert "John Wick" in second.inner_text("section.now")  # and they see what the other admin saved
    assert bot.knowledge.read_bytes() == saved
    second.get_by_role("button", name="Save").click()  # having looked, they save on top of it
    shown(second, "entity")
    assert "Winston" in second.inner_text("li.fact:has-text('main character')")


@pytest.mark.parametrize("value, message", [
    ("a" * 1_000_000, "1000000 characters long; the limit is"),
    ("\x00\x01\x02\x03binary\x7f", "control characters"),
])
def test_a_huge_or_binary_value_is_refused_next_to_its_field(open_app: Any, bot: Bot, value: str,
                                                            message: str) -> None:
    before = bot.knowledge.read_bytes()
    page = open_app(ADMIN, path="edit?entity=ballerina&relation=release")
    shown(page, "edit")
    page.fill("#f-value", value)
    page.fill("#f-source", "Variety")
    page.get_by_role("button", name="Save").click()
    shown(page, "edit")
    error = page.locator(".field.invalid:has(#f-value) .error")
    assert message in error.inner_text()
    assert page.evaluate("document.activeElement.id") == "f-value"  # the keyboard is taken to it
    assert bot.knowledge.read_bytes() == before


def test_quiz_questions_as_asked_switch_one_off_and_add_one(open_app: Any, bot: Bot) -> None:
    page = open_app(ADMIN, path="quiz")
    shown(page, "quiz")
    first = page.locator("li.question").first
    question_id = first.get_attribute("data-question")
    assert first.locator("ul.options li").count() >= 2 or "Answer:" in first.inner_text()
    first.get_by_role("button", name="Switch off").click()
    shown(page, "quiz")
    assert "Switched off" in page.inner_text(".notice")
    assert "switched off" in page.locator(f"li.question[data-question='{question_id}']").inner_text()
    assert question_id in (bot.project / "knowledge" / "quiz.yml").read_text(encoding="utf-8")
    page.locator("summary", has_text="Add a question").click()
    page.fill("#f-question", "Who is at the helm of Ballerina?")
    page.fill("#f-answer", "Len Wiseman")
    page.fill("#f-wrong", "Chad Stahelski\nKeanu Reeves\nIan McShane")
    page.fill("#f-subject", "Ballerina")
    page.select_option("#f-relation", "directed_by")
    page.fill("#f-object", "Len Wiseman")
    page.get_by_role("button", name="Add the question").click()
    shown(page, "quiz")
    assert "Added the quiz question" in page.inner_text(".notice")
    added = page.locator("li.question", has_text="Who is at the helm of Ballerina?")
    assert "✓ Len Wiseman" in added.inner_text() and "Keanu Reeves" in added.inner_text()
    # a question on a fact the knowledge does not have is refused, with the reason, and the form kept
    page.locator("summary", has_text="Add a question").click()
    page.fill("#f-question", "Who directs Ballerina, really?")
    page.fill("#f-answer", "Keanu Reeves")
    page.fill("#f-subject", "Ballerina")
    page.select_option("#f-relation", "directed_by")
    page.fill("#f-object", "Keanu Reeves")
    page.get_by_role("button", name="Add the question").click()
    shown(page, "quiz")
    assert "would never be asked" in page.inner_text("main")
    assert page.input_value("#f-question") == "Who directs Ballerina, really?"


def test_search_finds_facts_by_value_and_source(open_app: Any, bot: Bot) -> None:
    page = open_app(ADMIN)
    shown(page, "knowledge")
    page.keyboard.press("/")  # the keyboard shortcut to the search field
    page.keyboard.type("Ian McShane")
    page.keyboard.press("Enter")
    shown(page, "knowledge")
    assert page.url.endswith("?q=Ian+McShane")
    assert page.locator("section.card h2", has_text="Ian McShane").count() == 1
    page.go_back()
    shown(page, "knowledge")
    assert page.locator("section.card").count() > 10


@pytest.mark.parametrize("theme, name", [(LIGHT, "light"), (DARK, "dark")])
def test_pages_follow_the_telegram_theme_and_fit_a_phone(open_app: Any, bot: Bot, screenshots: Path,
                                                        theme: dict[str, str], name: str) -> None:
    page = open_app(ADMIN, theme=theme, path="edit?entity=ballerina&relation=release")
    shown(page, "edit")
    page.fill("#f-value", "summer 2025")
    page.fill("#f-source", "Variety")
    page.get_by_role("button", name="Preview").click()
    page.wait_for_selector("[data-preview-answer]")
    for where in ("edit", "knowledge", "history", "inbox", "quiz"):
        if where != "edit":
            page.get_by_role("navigation").get_by_role("link", name=where.title()).click()
            shown(page, where)
        assert page.evaluate("document.documentElement.dataset.scheme") == name
        heading = page.locator("main h1").first.element_handle()
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert _rgb(background) == _rgb(theme["secondary_bg_color"])  # Telegram's colours, not ours
        assert _rgb(page.evaluate("el => getComputedStyle(el).color", heading)) == _rgb(theme["text_color"])
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{where}: {width}px wide on a {PHONE['width']}px screen"
        page.screenshot(path=str(screenshots / f"{where}-{name}.png"))
    assert page.js_errors == []


def _rgb(color: str) -> tuple[int, int, int]:
    if color.startswith("#"):
        return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)
    r, g, b = (int(x) for x in re.findall(r"\d+", color)[:3])
    return r, g, b


def test_a_stale_initdata_in_the_browser_is_refused_with_a_clear_message(open_app: Any, bot: Bot) -> None:
    page = open_app(None, data=init_data(ADMIN, auth_date=int(time.time()) - 2 * 86400))
    page.wait_for_selector("[data-refused]")
    assert "expired" in page.inner_text("[data-refused]")
    assert page.locator("section.card").count() == 0
