"""What a fact change would do, before it is saved: the file's diff and the bot's answer with it.

The change is made by the very same Admin operation, on a scratch copy of the knowledge file (its
folder's other files, such as the source documents, linked in), with an in-memory audit: the preview
cannot drift from what Save does, and it refuses exactly what Save would refuse. The new knowledge then
builds a Mind (the running intent model is reused) and a fresh Brain answers the admin's question with it.
"""
from __future__ import annotations

import difflib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .storage import Storage

if TYPE_CHECKING:
    from .admin import Actor, Admin, Change
    from .dialogue import Brain

OPERATIONS = ("set", "add", "remove")


@dataclass(frozen=True)
class Preview:
    message: str  # what Save would report
    diff: str  # unified diff of the knowledge file
    question: str
    answer: str  # the bot's reply to ``question`` with the change made


def preview_fact_change(admin: "Admin", actor: "Actor", operation: str, question: str,
                        brain: "Brain | None", **arguments: Any) -> Preview:
    """Run ``operation`` ("set", "add" or "remove") of ``admin`` on a scratch copy; nothing real changes."""
    from .admin import Actor, Admin, parse_knowledge
    from .dialogue import Brain, build_mind

    if operation not in OPERATIONS:
        raise ValueError(f"no preview for {operation!r}")
    real = Path(admin.settings.knowledge)
    with tempfile.TemporaryDirectory(prefix="kb-preview-") as tmp:
        scratch = Path(tmp) / real.name
        for sibling in real.parent.iterdir():
            if sibling.name != real.name and not sibling.name.startswith("."):
                (Path(tmp) / sibling.name).symlink_to(sibling.resolve(), target_is_directory=sibling.is_dir())
        shutil.copyfile(real, scratch)
        before = scratch.read_bytes()
        settings = admin.settings.model_copy(update={"knowledge": scratch})
        storage = Storage(":memory:")
        try:
            shadow = Admin(settings, storage, clock=admin.clock)
            previewer = Actor(f"preview for {actor.who}", actor.user_id, actor.local)  # so its log line says so
            change: Change = {"set": shadow.set_fact, "add": shadow.add_fact,
                              "remove": shadow.remove_fact}[operation](previewer, **arguments)
        finally:
            storage.close()
        after = scratch.read_bytes()
    kb = parse_knowledge(real, after)
    mind = build_mind(admin.settings, kb=kb, nlu=brain.mind.nlu if brain is not None else None)
    reply = Brain(mind, admin.settings, storage=None).reply(None, None, question)
    diff = "".join(difflib.unified_diff(before.decode("utf-8").splitlines(keepends=True),
                                        after.decode("utf-8").splitlines(keepends=True),
                                        real.name, real.name, n=1))
    return Preview(change.message, diff, question, reply.text)
