"""Counts the SQL a bench worker sends to PostgreSQL, by kind, for bench_cluster.py --count-statements.

Loaded by Python at start-up (this folder is put first on the worker's PYTHONPATH): it wraps psycopg's
cursors' ``execute`` so that every round trip, and every statement in it (a batch sends several joined
by "; "), is counted under a short kind ("UPDATE outbox", "SELECT bot_send_claim"). The counts are written
to ``$BENCH_STATEMENTS`` as JSON every half second, so the bench reads them while the worker still runs
(a killed worker's last file stays). Measurement only: the bot itself never imports this.
"""
from __future__ import annotations

import json
import os
import re
import threading
from collections import Counter

_OUT = os.environ.get("BENCH_STATEMENTS")
_KIND = re.compile(r"\b(INSERT INTO|UPDATE|DELETE FROM|FROM)\s+\(?\s*([A-Za-z_][A-Za-z_0-9]*)", re.I)
_counts: Counter[str] = Counter()
_guard = threading.Lock()


def kind(sql: str) -> str:
    text = " ".join(sql.split())
    head = text.split(" ", 1)[0].upper()
    if head == "WITH":  # the statement the CTE feeds, named by its first write (or read)
        for verb in ("INSERT INTO", "UPDATE", "DELETE FROM"):
            m = re.search(rf"\b{verb}\s+([A-Za-z_][A-Za-z_0-9]*)", text, re.I)
            if m:
                return f"WITH {verb.split()[0]} {m.group(1)}"
    m = _KIND.search(text)
    if head in ("INSERT", "UPDATE", "DELETE", "SELECT", "WITH") and m:
        return f"{head} {m.group(2)}" if head != "WITH" else f"WITH {m.group(2)}"
    if head == "SELECT":
        fn = re.match(r"SELECT\s+([a-z_]+)\(", text, re.I)
        return f"SELECT {fn.group(1)}()" if fn else "SELECT"
    return head


def _count(query: object) -> None:
    if isinstance(query, bytes):
        sql = query.decode()
    elif isinstance(query, str):
        sql = query
    else:  # psycopg.sql.Composed (LISTEN channel)
        sql = type(query).__name__
    parts = [p for p in str(sql).split("; ") if p.strip()] or [str(sql)]
    with _guard:
        _counts["(round trips)"] += 1
        _counts["(statements)"] += len(parts)
        for part in parts:
            _counts[kind(part)] += 1


def _dump() -> None:
    while True:
        threading.Event().wait(0.5)
        with _guard:
            data = dict(_counts)
        tmp = f"{_OUT}.tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, _OUT)


if _OUT:
    try:
        import psycopg
    except ImportError:
        psycopg = None
    if psycopg is not None:
        for cls in (psycopg.Cursor, psycopg.ClientCursor):
            if "execute" not in cls.__dict__:  # inherited: counted once, by its base
                continue
            original = cls.execute

            def execute(self, query, params=None, *a, __original=original, **k):  # type: ignore[no-untyped-def]
                _count(query)
                return __original(self, query, params, *a, **k)
            cls.execute = execute
        for acls in (psycopg.AsyncCursor, psycopg.AsyncClientCursor):
            if "execute" not in acls.__dict__:
                continue
            aoriginal = acls.execute

            async def aexecute(self, query, params=None, *a, __original=aoriginal, **k):  # type: ignore[no-untyped-def]
                _count(query)
                return await __original(self, query, params, *a, **k)
            acls.execute = aexecute
        threading.Thread(target=_dump, daemon=True, name="statement-count").start()
