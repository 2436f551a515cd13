"""Manual check, never run in CI: a real Rasa 3.6 (trained on `python -m bot rasa-export`) against this bot's
own NLU, on every user turn of tests/eval/conversations.yml.

Needs, already running (docs/rasa.md, "Checked with a real Rasa 3.6"):
    python -m bot actions --port 5055                          # this bot's action server
    rasa run --enable-api -i 127.0.0.1 -p 5005                 # in the exported, trained project

    python bench/rasa36_compare.py [--rasa http://127.0.0.1:5005] [--repeat 3] [--json OUT] [--diff]

Prints, for the same turns:
- intent accuracy of (a) Rasa's NLU alone (POST /model/parse; FallbackClassifier's nlu_fallback counts as
  "not understood"), (b) this bot's NLU alone (NLU.parse, below nlu.threshold = not understood), and the
  whole conversation through (c) Rasa -> rules -> action server (REST, follow-ups through slots) and
  (d) this bot's Brain (what `python -m bot evaluate` scores). (a) and (b) see each message alone, so
  follow-ups such as "and Charon?" cannot be right there; (c) and (d) have the context.
- parse latency p50/p99: Rasa over HTTP (keep-alive, loopback), this bot's NLU in process;
- end-to-end REST latency p50/p99 (Rasa NLU + rules + action server round trip + Brain).
With --diff, the turns where (c) and (d) disagree on kind, intent or sources.
Asserts nothing: the figures go to docs/rasa.md.
"""
from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_settings  # noqa: E402
from bot.dialogue import Brain  # noqa: E402
from bot.evaluation import TurnResult, load_conversations  # noqa: E402
from bot.storage import Storage, open_storage# noqa: E402

NOT_UNDERSTOOD = {None, "nlu_fallback", "out_of_scope"}


class Http:
    """One keep-alive connection, JSON in and out."""

    def __init__(self, base: str, timeout: float = 30.0) -> None:
        parts = urlsplit(base)
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)

    def post(self, path: str, body: dict[str, Any]) -> tuple[Any, float]:
        data = json.dumps(body).encode()
        start = time.perf_counter()
        self.conn.request("POST", path, data, {"Content-Type": "application/json"})
        resp = self.conn.getresponse()
        raw = resp.read()
        elapsed = time.perf_counter() - start
        if resp.status != 200:
            raise RuntimeError(f"POST {path} -> {resp.status}: {raw[:300]!r}")
        return json.loads(raw), elapsed

    def close(self) -> None:
        self.conn.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(values: list[float]) -> str:
    return f"p50 {percentile(values, 0.5) * 1000:.1f} ms, p99 {percentile(values, 0.99) * 1000:.1f} ms " \
           f"(mean {statistics.fmean(values) * 1000:.1f}, n={len(values)})"


def score(turn: dict[str, Any], intent: str | None, kind: str, reply: str) -> TurnResult:
    """One turn scored as `python -m bot evaluate` scores it."""
    low = reply.lower()
    return TurnResult(str(turn["text"]), turn.get("intent"), intent, turn.get("kind"), kind, reply,
                      tuple(w for w in turn.get("contains", []) if str(w).lower() not in low),
                      tuple(w for w in turn.get("not_contains", []) if str(w).lower() in low))


def intent_right(expected: str | None, got: str | None) -> bool | None:
    """The eval set's rule for one message read alone: out_of_scope is right when nothing was understood."""
    if expected is None:
        return None
    if expected == "out_of_scope":
        return got in NOT_UNDERSTOOD
    return got == expected


def accuracy(flags: list[bool | None]) -> str:
    scored = [f for f in flags if f is not None]
    return f"{sum(scored) / len(scored):.1%} ({sum(scored)}/{len(scored)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rasa", default="http://127.0.0.1:5005", help="Rasa server (rasa run --enable-api)")
    parser.add_argument("--eval", default=str(ROOT / "tests/eval/conversations.yml"))
    parser.add_argument("--config", default=str(ROOT / "config.yml"))
    parser.add_argument("--repeat", type=int, default=3, help="parse every turn this many times for latency")
    parser.add_argument("--json", dest="json_out", help="also write every turn's results here")
    parser.add_argument("--diff", action="store_true", help="print the turns where Rasa+actions and the bot differ")
    args = parser.parse_args()

    settings = load_settings(Path(args.config))
    threshold = settings.nlu.threshold
    conversations = load_conversations(Path(args.eval))
    turns = [t for c in conversations for t in c]
    texts = [str(t["text"]) for t in turns]
    rasa = Http(args.rasa)

    # (b) this bot's NLU, message by message; (d) the whole Brain, conversation by conversation
    brain = Brain.from_settings(settings, open_storage(":memory:"), random.Random(0))
    nlu = brain.mind.nlu
    for text in texts[:20]:
        nlu.parse(text)  # warm up
    bot_intents, bot_parse = [], []
    for _ in range(args.repeat):
        for text in texts:
            start = time.perf_counter()
            parse = nlu.parse(text)
            bot_parse.append(time.perf_counter() - start)
    for text in texts:
        parse = nlu.parse(text)
        ok = parse.ranking and parse.confidence >= threshold
        bot_intents.append(parse.intent if ok else None)
    bot_results: list[TurnResult] = []
    bot_sources: list[list[str]] = []
    for number, conv in enumerate(conversations):
        for turn in conv:
            reply = brain.reply(f"eval-{number}", "eval", str(turn["text"]))
            bot_results.append(score(turn, reply.intent, reply.kind, reply.text))
            bot_sources.append([s.attribution for s in reply.sources])

    # (a) Rasa's NLU, message by message
    for text in texts[:20]:
        rasa.post("/model/parse", {"text": text})
    rasa_intents, rasa_parse = [], []
    for round_ in range(args.repeat):
        for text in texts:
            parsed, elapsed = rasa.post("/model/parse", {"text": text})
            rasa_parse.append(elapsed)
            if round_ == 0:
                rasa_intents.append((parsed.get("intent") or {}).get("name"))

    # (c) Rasa's REST channel -> rules -> this bot's action server, one sender per conversation
    run = f"cmp{int(time.time())}"
    rest_results: list[TurnResult] = []
    rest_sources: list[list[str]] = []
    rest_latency = []
    rasa.post("/webhooks/rest/webhook", {"sender": f"{run}-warm", "message": "hi"})
    for number, conv in enumerate(conversations):
        sender = f"{run}-{number}"
        for turn in conv:
            messages, elapsed = rasa.post("/webhooks/rest/webhook", {"sender": sender, "message": str(turn["text"])})
            rest_latency.append(elapsed)
            text = " ".join(m.get("text", "") for m in messages if m.get("text"))
            custom = next((m["custom"] for m in messages if isinstance(m.get("custom"), dict)), {})
            rest_results.append(score(turn, custom.get("intent"), custom.get("kind", "none"), text))
            rest_sources.append([s.get("attribution", "") for s in custom.get("sources", [])])
    rasa.close()

    expected = [t.get("intent") for t in turns]
    print(f"{len(turns)} turns in {len(conversations)} conversations ({args.eval}); "
          f"{sum(e is not None for e in expected)} with an expected intent")
    print("\nIntent accuracy, each message alone:")
    print(f"  (a) Rasa /model/parse (DIET + FallbackClassifier {threshold}):  "
          f"{accuracy([intent_right(e, g) for e, g in zip(expected, rasa_intents)])}")
    print(f"  (b) this bot's NLU (threshold {threshold}):                     "
          f"{accuracy([intent_right(e, g) for e, g in zip(expected, bot_intents)])}")
    print("\nWhole conversations (intent / kind / answer words / all):")
    for label, results in (("(c) Rasa -> action server", rest_results), ("(d) this bot's Brain", bot_results)):
        n = len(results)
        print(f"  {label:28} intent {sum(r.intent_ok for r in results) / n:.1%}, kind "
              f"{sum(r.kind_ok for r in results) / n:.1%}, answer {sum(r.content_ok for r in results) / n:.1%}, "
              f"all {sum(r.ok for r in results) / n:.1%}, off-topic answered "
              f"{sum(r.off_topic_answered for r in results)}")
    print("\nLatency:")
    print(f"  Rasa /model/parse (HTTP):        {ms(rasa_parse)}")
    print(f"  this bot's NLU.parse (in process): {ms(bot_parse)}")
    print(f"  REST end to end via Rasa:        {ms(rest_latency)}")

    differ = [i for i, (r, b) in enumerate(zip(rest_results, bot_results))
              if (r.kind, r.intent, sorted(rest_sources[i])) != (b.kind, b.intent, sorted(bot_sources[i]))]
    print(f"\nTurns where Rasa+actions and the Brain differ in kind, intent or sources: {len(differ)}"
          f" ({sum(rest_results[i].ok for i in differ)} of them right through Rasa,"
          f" {sum(bot_results[i].ok for i in differ)} right through the Brain)")
    if args.diff:
        for i in differ:
            r, b = rest_results[i], bot_results[i]
            print(f"  {texts[i]!r} (expected {r.expected_intent}/{r.expected_kind}; Rasa NLU: {rasa_intents[i]})\n"
                  f"     rasa: {r.kind}/{r.intent} ok={r.ok} {rest_sources[i]}: {r.reply[:100]!r}\n"
                  f"     bot:  {b.kind}/{b.intent} ok={b.ok} {bot_sources[i]}: {b.reply[:100]!r}")
    if args.json_out:
        rows = [{"text": texts[i], "expected": expected[i], "rasa_parse": rasa_intents[i], "bot_parse": bot_intents[i],
                 "rest": [rest_results[i].intent, rest_results[i].kind, rest_results[i].ok],
                 "rest_sources": rest_sources[i],
                 "bot": [bot_results[i].intent, bot_results[i].kind, bot_results[i].ok],
                 "bot_sources": bot_sources[i]} for i in range(len(turns))]
        Path(args.json_out).write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
