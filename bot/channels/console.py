"""Terminal chat: a front like any other, reading lines and printing Replies."""
from __future__ import annotations

import sys
from typing import TextIO

from ..dialogue import Brain
from ..live import KnowledgeWatcher
from ..reply import Reply

QUIT = {"/quit", "/exit", "quit", "exit"}


def render(reply: Reply) -> str:
    lines = [reply.text]
    if reply.kind in ("unknown", "clarify") and reply.suggestions:
        lines += [f"  → {s}" for s in reply.suggestions]
    return "\n".join(lines)


def run_console(brain: Brain, stdin: TextIO | None = None, stdout: TextIO | None = None,
                chat: str = "console") -> None:
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    interactive = stdin.isatty()
    title = brain.mind.kb.title
    stdout.write(f"{title} trivia bot. Ask me anything about {title}; /quit to leave.\n")
    watcher = KnowledgeWatcher(brain).start()  # answers follow `kb` edits made elsewhere, no restart
    brain.forget(chat)  # a new terminal session is a new conversation
    while True:
        if interactive:
            stdout.write("you> ")
            stdout.flush()
        line = stdin.readline()
        if not line or line.strip().lower() in QUIT:
            break
        if not line.strip():
            continue
        try:
            reply = brain.reply(chat, "console", line.rstrip("\n"))
            stdout.write(f"bot> {render(reply)}\n")
        except Exception:  # the console must survive a bug in one answer
            import logging

            logging.getLogger(__name__).exception("failed to answer %r", line[:200])
            stdout.write("bot> Sorry, something went wrong on my side. Try asking another way.\n")
        stdout.flush()
    watcher.stop()
