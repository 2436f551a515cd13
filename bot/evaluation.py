"""`python -m bot evaluate`: cross-validated intent metrics and accuracy on the held-out conversations.

The conversation set (tests/eval/conversations.yml) is written independently of the training data, with
paraphrases, typos, follow-ups, unanswerable and off-topic messages; each turn says which intent and kind
of reply it expects and which words the reply must (not) contain.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Settings
from .errors import DataFileError
from .yamlio import read_yaml

NOT_ANSWERED = {"unknown", "smalltalk"}


@dataclass(frozen=True)
class TurnResult:
    text: str
    expected_intent: str | None
    intent: str | None
    expected_kind: str | None
    kind: str
    reply: str
    missing: tuple[str, ...]
    forbidden: tuple[str, ...]
    expected_kinds: tuple[str, ...] = ()  # any of these (a turn may allow "answer" or "unknown")
    category: str = ""  # the conversation's class, for per-class figures

    @property
    def intent_ok(self) -> bool:
        if self.expected_intent is None:
            return True
        if self.expected_intent == "out_of_scope":
            return self.intent in (None, "out_of_scope") or self.kind == "unknown"
        return self.intent == self.expected_intent

    @property
    def kind_ok(self) -> bool:
        if self.expected_kinds:
            return self.kind in self.expected_kinds
        return self.expected_kind is None or self.kind == self.expected_kind

    @property
    def content_ok(self) -> bool:
        return not self.missing and not self.forbidden

    @property
    def ok(self) -> bool:
        return self.intent_ok and self.kind_ok and self.content_ok

    @property
    def off_topic_answered(self) -> bool:
        """An out-of-scope message that got a fact: the one mistake a trivia bot must not make."""
        return self.expected_intent == "out_of_scope" and self.kind not in NOT_ANSWERED


# A turn with `setup: true` is played (later turns need its context) but not scored.
PASTE_MARK = "LONG_PASTE"  # in a turn's text: the seed article pasted after the question, to 4,096 characters
TELEGRAM_LIMIT = 4096


def load_conversations(path: Path) -> list[list[dict[str, Any]]]:
    return [turns for _, turns in load_classified(path)]


def load_classified(path: Path) -> list[tuple[str, list[dict[str, Any]]]]:
    """(class, turns) per conversation; the class is "" where the file gives none."""
    data, _ = read_yaml(path)
    try:
        return [(str(c.get("class", "")), list(c["turns"])) for c in data["conversations"]]
    except (KeyError, TypeError, AttributeError) as exc:
        raise DataFileError(str(path), "expected conversations: [{turns: [{text: ...}]}]") from exc


def expand_paste(text: str, root: Path | None = None) -> str:
    """A question followed by a pasted article, cut at Telegram's message limit."""
    if PASTE_MARK not in text:
        return text
    documents = (root or Path(__file__).resolve().parent.parent) / "knowledge" / "documents"
    articles = sorted(documents.glob("*.txt")) if documents.is_dir() else []  # the film's own source text
    body = articles[0].read_text(encoding="utf-8") if articles else "lorem ipsum " * 400
    while len(body) < TELEGRAM_LIMIT:
        body += "\n\n" + body
    return text.replace(PASTE_MARK, "\n\n" + body)[:TELEGRAM_LIMIT]


def run_conversations(brain: Any, conversations: list[list[dict[str, Any]]] | list[tuple[str, list[dict[str, Any]]]]
                      ) -> list[TurnResult]:
    results = []
    for number, item in enumerate(conversations):
        category, turns = item if isinstance(item, tuple) else ("", item)
        chat = f"eval-{number}"
        for turn in turns:
            text = expand_paste(str(turn["text"]))
            reply = brain.reply(chat, "eval", text)
            if turn.get("setup"):
                continue  # played for the context it sets, not scored: its words are training examples
            low = reply.text.lower()
            missing = [w for w in turn.get("contains", []) if str(w).lower() not in low]
            any_of = [str(w) for w in turn.get("contains_any", [])]
            if any_of and not any(w.lower() in low for w in any_of):
                missing.append(" | ".join(any_of))
            kind = turn.get("kind")
            kinds = tuple(kind) if isinstance(kind, list) else ()
            results.append(TurnResult(
                str(turn["text"]), turn.get("intent"), reply.intent, None if kinds else kind, reply.kind,
                reply.text, tuple(missing),
                tuple(w for w in turn.get("not_contains", []) if str(w).lower() in low),
                kinds, category,
            ))
    return results


def per_class(results: list[TurnResult]) -> dict[str, dict[str, Any]]:
    """OK turns per class: the figure the issue's targets are set in."""
    out: dict[str, dict[str, Any]] = {}
    for r in results:
        row = out.setdefault(r.category or "unclassified", {"turns": 0, "ok": 0})
        row["turns"] += 1
        row["ok"] += r.ok
    for row in out.values():
        row["share"] = round(row["ok"] / row["turns"], 4)
    return out


def evaluate_all(settings: Settings, eval_path: Path | None, folds: int = 5,
                 heldout_path: Path | list[Path] | None = None) -> dict[str, Any]:
    from .dialogue import Brain
    from .knowledge import KnowledgeBase
    from .nlu import featurize
    from .nlu.data import load_training_data
    from .nlu.entities import Gazetteer
    from .nlu.train import cross_validate
    from .storage import Storage, open_storage

    kb = KnowledgeBase.load(settings.knowledge)
    data = load_training_data(settings.intents)
    gazetteer = Gazetteer(kb)
    labels = [i for _, i in data.examples]
    predicted = cross_validate([featurize(gazetteer, t) for t, _ in data.examples], labels, folds)
    per_intent = {}
    for intent in sorted(set(labels)):
        tp = sum(1 for y, p in zip(labels, predicted) if y == p == intent)
        fp = sum(1 for y, p in zip(labels, predicted) if p == intent and y != intent)
        fn = sum(1 for y, p in zip(labels, predicted) if y == intent and p != intent)
        per_intent[intent] = {"precision": round(tp / (tp + fp), 3) if tp + fp else 0.0,
                              "recall": round(tp / (tp + fn), 3) if tp + fn else 0.0, "support": tp + fn}
    confused = Counter((y, p) for y, p in zip(labels, predicted) if y != p).most_common(8)
    report: dict[str, Any] = {
        "cross_validation": {
            "folds": folds, "examples": len(labels),
            "accuracy": round(sum(y == p for y, p in zip(labels, predicted)) / len(labels), 4),
            "per_intent": per_intent,
            "confused": [{"expected": y, "predicted": p, "count": n} for (y, p), n in confused],
        }
    }
    if eval_path is not None:
        brain = Brain.from_settings(settings, open_storage(":memory:"), random.Random(0))
        results = run_conversations(brain, load_conversations(eval_path))
        n = len(results)
        report["eval_set"] = {
            "path": str(eval_path), "turns": n,
            "intent_accuracy": round(sum(r.intent_ok for r in results) / n, 4),
            "kind_accuracy": round(sum(r.kind_ok for r in results) / n, 4),
            "answer_accuracy": round(sum(r.content_ok for r in results) / n, 4),
            "all_ok": round(sum(r.ok for r in results) / n, 4),
            "off_topic_answered": sum(r.off_topic_answered for r in results),
            "failures": [
                {"text": r.text, "expected": [r.expected_intent, r.expected_kind], "got": [r.intent, r.kind],
                 "missing": list(r.missing), "forbidden": list(r.forbidden), "reply": r.reply[:160]}
                for r in results if not r.ok
            ],
        }
    if heldout_path is not None:
        brain = Brain.from_settings(settings, open_storage(":memory:"), random.Random(0))
        paths = heldout_path if isinstance(heldout_path, list) else [heldout_path]
        results = run_conversations(brain, [c for p in paths for c in load_classified(p)])
        report["heldout"] = {
            "path": ", ".join(str(p) for p in paths), "turns": len(results),
            "all_ok": round(sum(r.ok for r in results) / len(results), 4) if results else 0.0,
            "per_class": per_class(results),
            "failures": [
                {"class": r.category, "text": r.text[:120], "expected": r.expected_kinds or r.expected_kind,
                 "got": [r.intent, r.kind], "missing": list(r.missing), "forbidden": list(r.forbidden),
                 "reply": r.reply[:160]}
                for r in results if not r.ok
            ],
        }
    return report


def print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    cv = report["cross_validation"]
    table = Table(title=f"Intent classifier, {cv['folds']}-fold cross-validation on {cv['examples']} examples "
                        f"(accuracy {cv['accuracy']:.1%})")
    for col in ("intent", "precision", "recall", "support"):
        table.add_column(col, justify="left" if col == "intent" else "right")
    for intent, m in cv["per_intent"].items():
        table.add_row(intent, f"{m['precision']:.2f}", f"{m['recall']:.2f}", str(m["support"]))
    console.print(table)
    if cv["confused"]:
        confused = Table(title="Most confused pairs")
        for col in ("expected", "predicted", "count"):
            confused.add_column(col)
        for row in cv["confused"]:
            confused.add_row(row["expected"], row["predicted"], str(row["count"]))
        console.print(confused)
    ev = report.get("eval_set")
    if ev:
        summary = Table(title=f"Held-out conversations ({ev['turns']} turns)")
        summary.add_column("measure")
        summary.add_column("value", justify="right")
        for key in ("intent_accuracy", "kind_accuracy", "answer_accuracy", "all_ok"):
            summary.add_row(key.replace("_", " "), f"{ev[key]:.1%}")
        summary.add_row("off-topic answered with a fact", str(ev["off_topic_answered"]))
        console.print(summary)
        for f in ev["failures"][:40]:
            console.print(f"[red]✗[/] {f['text']!r}: expected {f['expected']}, got {f['got']}"
                          f"{' missing ' + str(f['missing']) if f['missing'] else ''}"
                          f"{' forbidden ' + str(f['forbidden']) if f['forbidden'] else ''} → {f['reply']!r}")
    held = report.get("heldout")
    if held:
        table = Table(title=f"Held-out set by class ({held['turns']} turns, {held['all_ok']:.1%} OK)")
        for col in ("class", "ok", "turns", "share"):
            table.add_column(col, justify="left" if col == "class" else "right")
        for name, row in sorted(held["per_class"].items()):
            table.add_row(name, str(row["ok"]), str(row["turns"]), f"{row['share']:.1%}")
        console.print(table)
