"""Safe edits of the YAML data files: locked, round-trip, validated, atomic.

    with locked(path, lock_dir=settings.cache_dir / "locks"):
        doc = RoundTrip.read(path)            # ruamel.yaml: comments and order kept
        doc.data["facts"].append(...)
        before, after = doc.text, doc.dump()
        check(after)                          # the project's own strict loader + schema
        atomic_write(path, after)

A crash leaves the old or the new file, never a half-written one (temporary file in the same folder,
fsync, ``os.replace``); a temporary file a crash leaves behind is removed by ``remove_stale_temporaries``.
Lock files live in a folder of their own (the cache's ``locks/``), never beside the user's files, where they
would show in ``git status``. Values an admin types are inserted as double-quoted scalars, so ": {}",
"!!python/object" or "&anchor" are stored as the text they are, never read back as YAML.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import filelock
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

from ..crashpoints import crash_point
from ..errors import DataFileError, EditError

LOCK_TIMEOUT = 60.0
MAX_VALUE = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")
# (mapping, sequence, offset) indents of this project's files: knowledge style, and Rasa style ("- " under its key).
_INDENTS = ((2, 4, 2), (2, 2, 0))
_TEMP_SUFFIX = ".tmp"


def default_lock_dir() -> Path:
    """Where locks go when the caller names no folder: per user, outside any content folder."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"ballerina-bot-locks-{uid}"


def lock_path(path: Path, lock_dir: Path | None = None) -> Path:
    """The lock of ``path`` in ``lock_dir``: named for the file and a hash of its absolute path, so files
    of the same name in two folders get two locks, and every process editing one file finds the same."""
    resolved = str(Path(path).resolve())
    digest = hashlib.sha256(resolved.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return Path(lock_dir or default_lock_dir()) / f"{Path(path).name}.{digest}.lock"


@contextlib.contextmanager
def locked(*paths: Path, lock_dir: Path | None = None, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Serialise writers of these files across threads and processes (always in the same order).
    Every writer of a file must pass the same ``lock_dir`` (bot/admin.py uses the cache's ``locks/``)."""
    folder = Path(lock_dir or default_lock_dir())
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        for path in sorted({p.resolve() for p in paths}):
            lock = filelock.FileLock(str(lock_path(path, folder)), timeout=timeout)
            try:
                stack.enter_context(lock)
            except filelock.Timeout as exc:
                raise EditError(f"{path.name} is being edited by someone else; try again in a moment") from exc
        yield


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that readers and crashes see the old or the new file only."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        crash_point("temp-written")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def remove_stale_temporaries(path: Path) -> int:
    """Delete temporary files a killed ``atomic_write`` of ``path`` left beside it. Call with the file's
    lock held: a live writer's temporary file is then never among them."""
    removed = 0
    for tmp in Path(path).parent.glob(f".{Path(path).name}.*{_TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            tmp.unlink()
            removed += 1
    return removed


def clean_text(value: str, what: str = "value", limit: int = MAX_VALUE, one_line: bool = False) -> str:
    """An admin's free text, trimmed; refused with a reason if it cannot be stored as plain data."""
    text = str(value).strip()
    if not text:
        raise EditError(f"the {what} is empty")
    if len(text) > limit:
        raise EditError(f"the {what} is {len(text)} characters long; the limit is {limit}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EditError(f"the {what} is not valid text (undecodable character at {exc.start})") from exc
    if one_line and ("\n" in text or "\r" in text):
        raise EditError(f"the {what} must be one line")
    if _CONTROL.search(text.replace("\n", " ").replace("\t", " ")):
        raise EditError(f"the {what} contains control characters")
    return text


def quoted(text: str) -> DoubleQuotedScalarString:
    return DoubleQuotedScalarString(text)


def flow_map(items: dict[str, Any]) -> CommentedMap:
    out = CommentedMap(items)
    out.fa.set_flow_style()
    return out


def flow_seq(items: list[Any]) -> CommentedSeq:
    out = CommentedSeq(items)
    out.fa.set_flow_style()
    return out


def literal(text: str) -> LiteralScalarString:
    return LiteralScalarString(text)


class RoundTrip:
    """One YAML file read with ruamel.yaml's round-trip loader, dumped back in the same layout."""

    def __init__(self, path: Path, raw: bytes, data: Any, yaml: YAML) -> None:
        self.path, self.raw, self.data, self._yaml = path, raw, data, yaml

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8")

    @classmethod
    def read(cls, path: Path) -> "RoundTrip":
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8")
        except FileNotFoundError:
            raise DataFileError(str(path), "file not found") from None
        except UnicodeDecodeError as exc:
            raise DataFileError(str(path), f"not UTF-8 text ({exc.reason})") from exc
        yaml = _yaml(_indent_of(text))
        try:
            data = yaml.load(text)
        except YAMLError as exc:
            raise DataFileError(str(path), f"invalid YAML: {exc}") from exc
        return cls(path, raw, data, yaml)

    def dump(self) -> bytes:
        return _dump(self._yaml, self.data).encode("utf-8")


def _yaml(indent: tuple[int, int, int]) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long line the author wrote as one
    yaml.indent(mapping=indent[0], sequence=indent[1], offset=indent[2])
    return yaml


def _dump(yaml: YAML, data: Any) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _indent_of(text: str) -> tuple[int, int, int]:
    """How the file indents block sequences: "- " under its key (Rasa files) or two spaces in."""
    match = re.search(r"^[A-Za-z_]\w*:[ \t]*(?:#.*)?\n(?:[ \t]*(?:#.*)?\n)*( *)- ", text, re.M)
    return _INDENTS[1] if match and match.group(1) == "" else _INDENTS[0]


def remove_item(seq: CommentedSeq, index: int) -> None:
    """Delete ``seq[index]``; comment lines written above it (a section header) move to the next item."""
    comment = seq.ca.items.pop(index, None)
    del seq[index]  # ruamel shifts the later items' comments
    if comment and index < len(seq) and index not in seq.ca.items:
        seq.ca.items[index] = comment
