"""The Rasa front end to end: the real action server (`python -m bot actions`) on a free loopback port,
called with the webhook JSON a Rasa 3.x server sends; and its life cycle under SIGINT/SIGTERM."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOMAIN_SLOTS = {name: {"type": "text", "influence_conversation": False, "mappings": [{"type": "custom"}]}
                for name in ("last_person", "last_film", "last_character", "last_intent")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def bot_config(tmp_path_factory) -> Path:
    """A snapshot of config.yml, knowledge/ and intents/ (contract 4), so edits made elsewhere during the run
    cannot change the bot under test; the model cache stays the checkout's, usually warm."""
    tmp = tmp_path_factory.mktemp("bot")
    for name in ("knowledge", "intents"):
        shutil.copytree(ROOT / name, tmp / name)
    text = (ROOT / "config.yml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^cache_dir:.*$", f"cache_dir: {json.dumps(str(ROOT / '.cache'))}", text)
    text = re.sub(r"(?m)^database:.*$", "database: bot.sqlite3", text)
    (tmp / "config.yml").write_text(text, encoding="utf-8")
    return tmp / "config.yml"


def start_server(config: Path, port: int) -> subprocess.Popen:
    """The server, its stderr going to a file (``proc.log``) that tests read at any moment."""
    env = dict(os.environ, BOT_CONFIG=str(config), PYTHONUNBUFFERED="1")
    for name in ("BOT_ACTIONS_HOST", "BOT_DATABASE"):
        env.pop(name, None)
    env.pop("SANIC_HOST", None)
    log = config.parent / f"actions-{port}.log"
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "actions", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    proc.log = log  # type: ignore[attr-defined]
    return proc


def server_log(proc: subprocess.Popen) -> str:
    return proc.log.read_text(encoding="utf-8", errors="replace")  # type: ignore[attr-defined]


def wait_for_line(proc: subprocess.Popen, text: str, timeout: float = 60) -> None:
    """Wait until the server's stderr shows ``text`` (a readiness signal, not a guess at how long it takes)."""
    deadline = time.monotonic() + timeout
    while text not in server_log(proc):
        assert proc.poll() is None, f"action server exited: {server_log(proc)[-2000:]}"
        assert time.monotonic() < deadline, f"no {text!r} from the server: {server_log(proc)[-2000:]}"
        time.sleep(0.01)


def wait_ready(proc: subprocess.Popen, port: int, timeout: float = 90) -> None:  # a stale model cache retrains
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"action server exited: {server_log(proc)[-2000:]}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("action server not ready")


def session_processes(sid: int) -> list[int]:
    """Processes still alive in the server's session (it and anything it spawned)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            alive.append(int(entry.name))
    return alive


def assert_stops(proc: subprocess.Popen, sig: int) -> int:
    sid = proc.pid  # start_new_session: the server leads its own session
    proc.send_signal(sig)
    try:
        code = proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(sid, signal.SIGKILL)
        proc.wait()
        raise AssertionError(f"still running 10 s after {signal.Signals(sig).name}")
    time.sleep(0.1)
    left = session_processes(sid)
    if left:
        os.killpg(sid, signal.SIGKILL)
    assert not left, f"processes left behind after {signal.Signals(sig).name}: {left}"
    return code


@pytest.fixture(scope="module")
def server(bot_config):
    port = free_port()
    proc = start_server(bot_config, port)
    try:
        wait_ready(proc, port)
        yield port, proc
    finally:
        alive = proc.poll() is None
        if alive:
            assert_stops(proc, signal.SIGINT)
        else:
            proc.wait()
    assert alive, "the action server died during the tests"


def call(port: int, body, *, raw: bytes | None = None, headers: dict | None = None) -> tuple[int, object]:
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/webhook", data,
                                 {"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        payload = e.read()
        try:
            return e.code, json.loads(payload)
        except ValueError:
            return e.code, payload.decode(errors="replace")


def webhook(action: str, text: str, intent: str | None = None, confidence: float = 0.95,
            entities: list | None = None, slots: dict | None = None, sender: str = "rasa-user",
            domain_slots: dict | None = None) -> dict:
    """The body Rasa 3.6's RemoteAction posts to the action endpoint."""
    intent_info = {"name": intent, "confidence": confidence} if intent else {}
    latest = {"text": text, "intent": intent_info, "entities": entities or [],
              "intent_ranking": [intent_info] if intent else [], "message_id": "m1", "metadata": {}}
    all_slots = {name: None for name in DOMAIN_SLOTS}
    all_slots.update(slots or {})
    tracker = {"sender_id": sender, "slots": all_slots, "latest_message": latest,
               "latest_event_time": 1700000000.0, "followup_action": None, "paused": False,
               "events": [{"event": "action", "name": "action_session_start", "timestamp": 1700000000.0},
                          {"event": "user", "text": text, "parse_data": latest, "timestamp": 1700000001.0}],
               "latest_input_channel": "rest", "active_loop": {}, "latest_action": {"action_name": "action_listen"},
               "latest_action_name": "action_listen"}
    domain = {"version": "3.1", "intents": [], "entities": ["film", "person", "character"],
              "slots": DOMAIN_SLOTS if domain_slots is None else domain_slots, "responses": {},
              "actions": [action], "forms": {}, "e2e_actions": [],
              "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": True}}
    return {"next_action": action, "sender_id": sender, "tracker": tracker, "domain": domain, "version": "3.6.21"}


def said(result: dict) -> tuple[str, dict]:
    responses = result["responses"]
    assert len(responses) == 1, responses
    return responses[0]["text"], responses[0]["custom"]


def slot_events(result: dict) -> dict:
    return {e["name"]: e["value"] for e in result["events"] if e["event"] == "slot"}


FACTS = [
    ("ask_director", "who directs Ballerina?", "Len Wiseman"),
    ("ask_cast", "who is in the cast of Ballerina?", "Ana de Armas"),
    ("ask_actor_of_character", "who plays Winston?", "Ian McShane"),
    ("ask_character_of_actor", "who does Ana de Armas play?", "Rooney"),
    ("ask_plot", "what is Ballerina about?", "Rooney"),
    ("ask_main_character", "who is the main character of Ballerina?", "Rooney"),
    ("ask_timeline", "when is Ballerina set?", "Parabellum"),
    ("ask_release", "when is Ballerina out?", "2024"),
    ("ask_franchise", "what franchise is Ballerina part of?", "John Wick"),
    ("ask_box_office", "how did John Wick 4 do at the box office?", "box office"),
    ("ask_production", "tell me about the production of John Wick 4", "back-to-back"),
    ("ask_filmography", "what else has Len Wiseman directed?", "Die Hard"),
]


@pytest.mark.parametrize("intent,text,expected", FACTS, ids=[f[0] for f in FACTS])
def test_fact_intents(server, intent, text, expected):
    port, _ = server
    status, result = call(port, webhook("action_trivia_facts", text, intent, sender=f"fact-{intent}"))
    assert status == 200, result
    reply, custom = said(result)
    assert expected.lower() in reply.lower()
    assert custom["kind"] == "answer" and custom["intent"] == intent
    assert custom["sources"] and custom["sources"][0]["attribution"]
    assert slot_events(result).get("last_intent") == intent


def test_yesno_and_about_actions(server):
    port, _ = server
    status, result = call(port, webhook("action_trivia_yesno", "is Keanu Reeves in Ballerina?", "ask_appears"))
    assert status == 200 and said(result)[0].startswith("Yes")
    status, result = call(port, webhook("action_trivia_about", "who is Winston?", "ask_about_entity"))
    assert status == 200 and "Ian McShane" in said(result)[0]
    assert slot_events(result)["last_character"] == "winston"


def test_smalltalk_action_has_buttons(server):
    port, _ = server
    status, result = call(port, webhook("action_trivia_smalltalk", "help", "help"))
    assert status == 200
    reply, custom = said(result)
    assert custom["kind"] == "smalltalk" and reply


def test_rasa_entities_reach_the_core(server):
    port, _ = server
    # Rasa's synonym mapper turned "the ferryman" into the entity id "charon": the core uses it although
    # its own gazetteer knows no such name.
    text = "who plays the ferryman"
    entity = {"entity": "character", "value": "charon", "start": text.index("the"), "end": len(text),
              "extractor": "DIETClassifier", "processors": ["EntitySynonymMapper"]}
    body = webhook("action_trivia_facts", text, "ask_actor_of_character", entities=[entity])
    status, result = call(port, body)
    assert status == 200 and "Lance Reddick" in said(result)[0]
    assert slot_events(result) == {"last_character": "charon", "last_person": "lance_reddick",
                                   "last_film": "ballerina", "last_intent": "ask_actor_of_character"}


def test_follow_up_uses_slots(server):
    port, _ = server
    # "and Charon?" right after "who plays Winston?", with the context in slots only (a new sender id, so
    # nothing is remembered server-side)
    body = webhook("action_trivia_facts", "and Charon?", None, sender="fresh-1",
                   slots={"last_character": "winston", "last_person": "ian_mcshane",
                          "last_intent": "ask_actor_of_character"})
    status, result = call(port, body)
    assert status == 200
    reply, custom = said(result)
    assert "Lance Reddick" in reply and custom["intent"] == "ask_actor_of_character"
    assert slot_events(result) == {"last_character": "charon", "last_person": "lance_reddick",
                                   "last_film": "ballerina"}  # the film it was about, though unnamed
    # a pronoun resolved from a slot
    body = webhook("action_trivia_facts", "who does she play?", "ask_character_of_actor", sender="fresh-2",
                   slots={"last_person": "ana_de_armas"})
    status, result = call(port, body)
    assert status == 200 and "Rooney" in said(result)[0]
    # "it" is the film in the slot, not the default subject
    body = webhook("action_trivia_facts", "who directed it?", "ask_director", sender="fresh-3",
                   slots={"last_film": "john_wick_4"})
    status, result = call(port, body)
    assert status == 200 and "Stahelski" in said(result)[0]


def test_conversation_round_trip_through_slot_events(server):
    port, _ = server
    slots: dict = {}
    status, result = call(port, webhook("action_trivia_facts", "who plays Winston?", "ask_actor_of_character",
                                        sender="trip", slots=slots))
    slots.update(slot_events(result))
    status, result = call(port, webhook("action_trivia_facts", "and Charon?", "ask_actor_of_character",
                                        confidence=0.4, sender="trip", slots=slots))
    assert status == 200 and "Lance Reddick" in said(result)[0]


def test_a_no_keeps_the_question_for_the_next_name(server):
    port, _ = server
    slots: dict = {}
    status, result = call(port, webhook("action_trivia_yesno", "is Daniel Craig in Ballerina?", "ask_appears",
                                        sender="no-then", slots=slots))
    assert status == 200 and not said(result)[0].startswith("Yes")
    slots.update(slot_events(result))
    assert slots.get("last_intent") == "ask_appears"
    status, result = call(port, webhook("action_trivia_yesno", "what about Ian McShane?", "ask_about_entity",
                                        sender="no-then", slots=slots))
    assert status == 200 and said(result)[0].startswith("Yes")


def test_rasa_unsure_still_lets_a_follow_up_through(server):
    port, _ = server
    slots = {"last_character": "winston", "last_person": "ian_mcshane", "last_intent": "ask_actor_of_character"}
    body = webhook("action_trivia_search", "and Charon?", "nlu_fallback", confidence=0.3, sender="unsure",
                   slots=slots)
    status, result = call(port, body)
    assert status == 200 and "Lance Reddick" in said(result)[0]


def test_low_confidence_goes_to_search(server):
    port, _ = server
    # (not "jaw-dropping action sequences": that is Chapter 4's kinds of action now, a fact the map reads)
    body = webhook("action_trivia_search", "its onslaught of mayhem", "nlu_fallback", confidence=0.3)
    status, result = call(port, body)
    assert status == 200
    reply, custom = said(result)
    assert custom["kind"] == "search" and "breathless" in reply
    assert custom["sources"][0]["publication"] == "Cineworld"
    # a Rasa intent below the bot's threshold falls back too, whatever action Rasa chose
    body = webhook("action_trivia_facts", "young assassin seeking vengeance for her family", "ask_director",
                   confidence=0.05)
    status, result = call(port, body)
    assert status == 200 and said(result)[1]["kind"] == "search"


def test_no_intent_uses_own_nlu(server):
    port, _ = server
    for action in ("action_trivia_search", "action_trivia_smalltalk"):
        status, result = call(port, webhook(action, "who directs Ballerina?", None))
        assert status == 200
        reply, custom = said(result)
        assert "Len Wiseman" in reply and custom["intent"] == "ask_director"
    # an intent this bot has no route for is not usable either
    status, result = call(port, webhook("action_trivia_facts", "who directs Ballerina?", "ask_weather"))
    assert status == 200 and "Len Wiseman" in said(result)[0]


def test_contract_6_tracker_without_slots(server):
    port, _ = server
    tracker = {"sender_id": "c", "slots": {}, "latest_message": {"text": "who directs Ballerina?", "intent": {},
                                                                  "entities": []},
               "events": [], "paused": False, "followup_action": None, "active_loop": {},
               "latest_action_name": "action_listen"}
    body = {"next_action": "action_trivia_facts", "sender_id": "c", "tracker": tracker, "version": "3.6.21",
            "domain": {"intents": [], "entities": [], "slots": {}, "responses": {}, "actions": [], "forms": {}}}
    status, result = call(port, body)
    assert status == 200 and "Len Wiseman" in said(result)[0]
    assert result["events"] == []  # no slots declared: no SlotSet for them


def test_unknown_action_is_404(server):
    port, _ = server
    status, result = call(port, webhook("action_does_not_exist", "hi", "greet"))
    assert status == 404
    assert result["action_name"] == "action_does_not_exist" and "action_does_not_exist" in result["error"]


@pytest.mark.parametrize("raw,headers", [
    (b"{not json", {}),
    (b"", {}),
    (b"[1, 2, 3]", {}),
    (b'"a string"', {}),
    (json.dumps({"tracker": {"sender_id": "x"}, "domain": {}}).encode(), {}),
    (json.dumps({"next_action": "action_trivia_facts", "domain": {}}).encode(), {}),
    (json.dumps({"next_action": "action_trivia_facts", "tracker": "nope", "domain": {}}).encode(), {}),
    (json.dumps({"next_action": "action_trivia_facts", "tracker": {}, "domain": [1]}).encode(), {}),
    (b"not deflated at all", {"Content-Encoding": "deflate"}),
    (zlib.compress(b"{broken"), {"Content-Encoding": "deflate"}),
], ids=["not-json", "empty", "list", "string", "no-action", "no-tracker", "tracker-string", "domain-list",
        "bad-deflate", "deflated-garbage"])
def test_malformed_body_is_400(server, raw, headers):
    port, _ = server
    status, result = call(port, None, raw=raw, headers=headers)
    assert status == 400, result
    assert isinstance(result, dict) and result["error"]


def deflate_bomb(size: int) -> bytes:
    """A valid webhook body padded to ``size`` bytes of JSON, deflated: a few KB on the wire per MB inflated."""
    head = json.dumps(webhook("action_trivia_facts", "who plays Winston?", None))[:-1] + ', "pad": "'
    packer = zlib.compressobj(9)
    out = [packer.compress(head.encode())]
    chunk = b" " * (1 << 20)
    for _ in range(size >> 20):
        out.append(packer.compress(chunk))
    out.append(packer.compress(b'"}'))
    out.append(packer.flush())
    return b"".join(out)


def refusals_logged(proc, since: int) -> list[str]:
    return [line for line in server_log(proc)[since:].splitlines() if line.strip()]


@pytest.mark.parametrize("raw,headers,status", [
    (lambda: deflate_bomb(64 << 20), {"Content-Encoding": "deflate"}, 413),  # built when run, not collected
    (b'{"next_action": "action_trivia_facts", "x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", {}, 400),
    (b'{"next_action": "action_trivia_facts", "x": ' + b"[" * 100 + b"]" * 100 + b"}", {}, 400),
    (b'{"next_action": "caf\xe9", "tracker": {}}', {}, 400),
    (b'{"next_action": "x"}', {"Content-Encoding": "gzip"}, 415),
    (zlib.compress(b'{"next_action": "x"}')[:-3], {"Content-Encoding": "deflate"}, 400),
], ids=["deflate-bomb", "nested-200000", "nested-100", "not-utf8", "gzip", "truncated-deflate"])
def test_hostile_bodies_are_refused_with_one_log_line(server, raw, headers, status):
    port, proc = server
    since = len(server_log(proc))
    code, result = call(port, None, raw=raw() if callable(raw) else raw, headers=headers)
    assert code == status and isinstance(result, dict) and result["error"], (code, result)
    deadline = time.monotonic() + 5
    while not refusals_logged(proc, since) and time.monotonic() < deadline:
        time.sleep(0.01)  # the log line is written right after the answer
    lines = refusals_logged(proc, since)
    assert len(lines) == 1 and "refused POST /webhook" in lines[0], lines
    assert "Traceback" not in server_log(proc)[since:]


def test_deflated_body_works(server):
    port, _ = server
    raw = zlib.compress(json.dumps(webhook("action_trivia_facts", "who plays Winston?", None)).encode())
    status, result = call(port, None, raw=raw, headers={"Content-Encoding": "deflate"})
    assert status == 200 and "Ian McShane" in said(result)[0]


@pytest.mark.parametrize("mutate", [
    lambda b: b["tracker"].pop("sender_id"),
    lambda b: b["tracker"].pop("latest_message"),
    lambda b: b["tracker"].pop("slots"),
    lambda b: b["tracker"].update(latest_message={"text": ""}),
    lambda b: b["tracker"].update(latest_message={"text": None, "intent": None, "entities": None}),
    lambda b: b["tracker"]["latest_message"].update(intent="ask_director"),
    lambda b: b["tracker"]["latest_message"].update(intent={"name": 5, "confidence": "high"}),
    lambda b: b["tracker"]["latest_message"].update(entities="film"),
    lambda b: b["tracker"]["latest_message"].update(entities=[{"entity": "planet", "value": "mars"}, 7,
                                                              {"entity": "film", "value": {"x": 1}}]),
    lambda b: b["tracker"].update(slots={"last_person": "x" * 200_000, "last_film": ["a"], "last_character": 3,
                                         "last_intent": "no_such_intent"}),
    lambda b: b["tracker"]["latest_message"].update(text="who directs " + "ballerina " * 20_000),
    lambda b: b["tracker"].update(slots=[1, 2], events="x", paused="yes"),
    lambda b: b.pop("version"),
    lambda b: b["tracker"].update(sender_id=None),
], ids=["no-sender", "no-latest-message", "no-slots", "empty-text", "null-fields", "intent-string",
        "intent-odd-types", "entities-string", "unknown-entities", "huge-slots", "huge-text", "odd-types",
        "no-version", "null-sender"])
def test_bad_trackers_get_an_answer(server, mutate):
    port, _ = server
    body = webhook("action_trivia_facts", "who directs Ballerina?", None)
    mutate(body)
    status, result = call(port, body)
    assert status == 200, result
    reply, custom = said(result)
    assert reply and custom["kind"] in {"answer", "search", "clarify", "unknown", "smalltalk"}


def test_oversized_body_is_refused(server):
    port, _ = server
    body = webhook("action_trivia_facts", "x" * (5 * 1024 * 1024), None)
    try:
        status, result = call(port, body)
    except (ConnectionError, urllib.error.URLError):
        return  # the server may close the connection while the client still sends: refused either way
    assert status == 413 and "size limit" in result["error"]


def test_actions_listed_and_unknown_route(server):
    port, _ = server
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/actions", timeout=5) as r:
        names = {a["name"] for a in json.loads(r.read())}
    from bot.rasa_export import ACTIONS

    assert names == set(ACTIONS)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/nowhere", timeout=5)
    assert info.value.code == 404


def test_binds_loopback_only(server):
    port, _ = server
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.split(":")
            if state == "0A" and int(hexport, 16) == port:
                listening.add(addr)
    assert listening == {"0100007F"}, listening


def test_server_is_still_up(server):
    port, proc = server
    assert proc.poll() is None
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
        assert json.loads(r.read()) == {"status": "ok"}


# life cycle -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_during_start_up(bot_config, sig):
    """The signal lands while the bot loads (after the server says it is starting, before it is ready):
    it stops at once, exit 0, with no traceback."""
    proc = start_server(bot_config, free_port())
    wait_for_line(proc, "starting the action server")
    assert assert_stops(proc, sig) == 0, server_log(proc)[-2000:]
    log = server_log(proc)
    assert "Traceback" not in log and "Error" not in log and log.rstrip().endswith("stopped"), log[-2000:]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_while_serving(bot_config, sig):
    port = free_port()
    proc = start_server(bot_config, port)
    wait_ready(proc, port)
    status, _ = call(port, webhook("action_trivia_facts", "who plays Winston?", None))
    assert status == 200
    assert assert_stops(proc, sig) == 0
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)


def test_registers_like_rasa_sdk_cli():
    """`python -m rasa_sdk --actions bot.channels.rasa_actions` finds the same actions."""
    from rasa_sdk.executor import ActionExecutor

    from bot.rasa_export import ACTIONS

    executor = ActionExecutor()
    executor.register_package("bot.channels.rasa_actions")
    assert {a.name for a in executor.list_actions()} >= set(ACTIONS)


@pytest.mark.parametrize("intent,text,wanted,unwanted", [
    # Rasa's nearest intent is not what was asked: the same understanding stage decides, as for the bot alone
    ("ask_main_character", "who wrote Ballerina?", "who wrote Ballerina", "Rooney"),
    ("ask_plot", "¿Quién dirige la película Ballerina?", "inglés", "Wiseman"),
    ("ask_director", "why did Chad Stahelski direct Ballerina?", "Len Wiseman", "Chad Stahelski directs"),
])
def test_rasa_intents_go_through_the_understanding_stage(server, intent, text, wanted, unwanted):
    port, _ = server
    status, result = call(port, webhook("action_trivia_facts", text, intent, sender=f"stage-{intent}"))
    assert status == 200, result
    reply, _ = said(result)
    assert wanted in reply and unwanted not in reply
