"""One decoder for the JSON strangers send (bot/incoming.py): the same refusals, in words, for every front."""
from __future__ import annotations

import json

import pytest

from bot.channels.telegram_webhook import parse_update_json
from bot.cli import MAX_BATCH_LINE, batch_item
from bot.incoming import MAX_DEPTH, BadInput, TooLarge, decode_object, field

DEEP = b'{"x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"  # past Python's recursion limit
NESTED = b'{"x": ' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}"  # parses, but one deeper than allowed


@pytest.mark.parametrize("raw,says", [
    (b"", "empty"),
    (b"   \n", "empty"),
    (b'{"text": "caf\xe9"}', "not UTF-8 text (byte 14)"),
    (b"\xff\xfe{}", "not UTF-8 text (byte 1)"),
    (b'{"text": "hi"', "not JSON"),
    (b"{'text': 'hi'}", "not JSON"),
    (b"NaN-ish garbage", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'"text"', "not a JSON object"),
    (b"null", "not a JSON object"),
    (b"42", "not a JSON object"),
    (DEEP, f"JSON nested more than {MAX_DEPTH} deep"),
    (NESTED, f"JSON nested more than {MAX_DEPTH} deep"),
], ids=["empty", "blank", "latin-1", "utf-16-bom", "truncated", "single-quotes", "garbage", "array", "string",
        "null", "number", "nested-200000", "nested-65"])
def test_bad_json_is_refused_with_a_reason(raw: bytes, says: str) -> None:
    with pytest.raises(BadInput) as caught:
        decode_object(raw, limit=1 << 20)
    assert says in str(caught.value)
    assert len(str(caught.value)) < 200 and "Traceback" not in str(caught.value)


def test_the_size_limit_holds_before_anything_is_parsed() -> None:
    raw = json.dumps({"text": "x" * 2000}).encode()
    with pytest.raises(TooLarge) as caught:
        decode_object(raw, limit=1000)
    assert caught.value.limit == 1000 and "1,000 bytes" in str(caught.value)
    assert decode_object(raw, limit=len(raw))["text"] == "x" * 2000


def test_nesting_up_to_the_limit_and_unicode_escapes_are_accepted() -> None:
    ok = b'{"x": ' + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1) + b"}"
    assert "x" in decode_object(ok, limit=1 << 20)
    assert decode_object('{"text": "who plays \\u00e9 \U0001fa70?"}'.encode(), limit=100)["text"] == "who plays é 🩰?"


@pytest.mark.parametrize("data,key,kinds,options,says", [
    ({"chat": True}, "chat", (str, int), {}, '"chat" must be a string, a number or null'),
    ({"chat": [7]}, "chat", (str, int), {}, '"chat" must be a string, a number or null'),
    ({"text": 3}, "text", (str,), {}, '"text" must be a string or null'),
    ({}, "tracker", (dict,), {"required": True}, '"tracker" must be an object'),
    ({"tracker": []}, "tracker", (dict,), {"required": True}, '"tracker" must be an object'),
    ({"next_action": ""}, "next_action", (str,), {"required": True, "nonempty": True},
     '"next_action" must be a non-empty string'),
    ({"update_id": "1"}, "update_id", (int,), {"required": True}, '"update_id" must be a number'),
])
def test_fields_of_the_wrong_kind_are_named(data, key, kinds, options, says) -> None:
    with pytest.raises(BadInput, match=says):
        field(data, key, kinds, **options)


def test_missing_or_null_optional_fields_are_none() -> None:
    assert field({}, "chat", (str, int)) is None and field({"chat": None}, "chat", (str, int)) is None
    assert field({"chat": 0}, "chat", (str, int)) == 0


@pytest.mark.parametrize("raw,says", [
    (b'{"chat": true, "text": "hi"}', '"chat" must be'),
    (b'{"chat": 1, "text": ["hi"]}', '"text" must be'),
    (b'["hi"]', 'not a JSON object with "text"'),
    (b'{"text": "caf\xe9"}', "not UTF-8"),
    (json.dumps({"text": "x" * MAX_BATCH_LINE}).encode(), "larger than the limit"),
])
def test_a_bad_batch_line_says_why(raw: bytes, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        batch_item(raw)


def test_batch_lines_keep_their_chat_and_text() -> None:
    assert batch_item(b'{"chat": 7, "text": "hi"}') == ("7", "hi")
    assert batch_item(b'{"chat": null}') == (None, "")
    assert batch_item(b'{"chat": "a", "text": "who plays \\ud800 Winston?"}') == ("a", "who plays \ud800 Winston?")


@pytest.mark.parametrize("raw,says", [
    (b'{"message": {}}', '"update_id" must be a number'),
    (b'{"update_id": true}', '"update_id" must be a number'),
    (b"[]", "not a JSON object with an update_id"),
])
def test_a_webhook_body_that_is_no_update_says_why(raw: bytes, says: str) -> None:
    with pytest.raises(BadInput, match=says):
        parse_update_json(raw)
    with pytest.raises(TooLarge):
        parse_update_json(b'{"update_id": 1, "pad": "' + b"x" * 100 + b'"}', limit=50)
