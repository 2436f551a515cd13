"""YAML reading that is strict about content and precise about errors.

YAML 1.1 quirks are undone (``yes``/``no``/``on`` stay strings, dates stay strings) because a
release window "no" or a date "2024-05" must reach the schema as the text the editor wrote. A key
written twice in one mapping is an error at the second one (YAML would silently keep the last: a
second ``name:`` renamed the film). Each file is parsed once, with libyaml when it is installed (ten
times faster than the pure-Python parser on a large knowledge file), keeping the node tree so that
validation errors point at the line of the offending node.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import DataFileError

Model = TypeVar("Model", bound=BaseModel)
_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it, same behaviour
_ITEM = re.compile(r"^(\w+)(?:\[(\d+)\])?(?:\.(\w+))?: (.*)$", re.S)


class StrictLoader(_Base):  # type: ignore[misc, valid-type]
    """SafeLoader with YAML 1.2 booleans, no implicit timestamps, and duplicate keys refused."""

    _tags: dict[str, str] = {}  # plain scalar -> its tag: a knowledge file repeats the same ids thousands of times

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        # Resolver.resolve runs its regexps for every scalar (half the load time of a large file); the tag
        # of a plain scalar depends on its text only (no path resolvers are registered), so it is cached.
        if kind is yaml.ScalarNode:
            if not implicit[0]:
                return self.DEFAULT_SCALAR_TAG
            tag = self._tags.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(self._tags) < 200_000:
                    self._tags[value] = tag
            return tag
        return super().resolve(kind, value, implicit)

    def construct_plain(self, node: yaml.Node) -> Any:
        """The data of a tree of plain maps, lists and core scalars, built directly (three times faster than
        the generic constructor); anything else (anchors reused, merge keys, explicit tags) goes the
        generic way."""
        seen: set[int] = set()

        def build(n: yaml.Node) -> Any:
            if id(n) in seen:
                raise _NotPlain
            if isinstance(n, yaml.ScalarNode):
                tag = n.tag
                if tag == STR:
                    return n.value
                if tag in _SCALARS:
                    return self.construct_object(n)
                raise _NotPlain
            seen.add(id(n))
            if isinstance(n, yaml.SequenceNode) and n.tag == SEQ:
                return [build(item) for item in n.value]
            if isinstance(n, yaml.MappingNode) and n.tag == MAP:
                out: dict[Any, Any] = {}
                lines: dict[Any, yaml.Node] = {}
                for key_node, value_node in n.value:
                    if key_node.tag == MERGE:
                        raise _NotPlain
                    key = build(key_node)
                    if not isinstance(key, (str, int, float, bool)) and key is not None:
                        raise _NotPlain
                    if key in lines:
                        raise yaml.constructor.ConstructorError(
                            "while constructing a mapping", n.start_mark,
                            f"duplicate key {key!r} (first at line {lines[key].start_mark.line + 1})",
                            key_node.start_mark)
                    lines[key] = key_node
                    out[key] = build(value_node)
                return out
            raise _NotPlain

        try:
            return build(node)
        except _NotPlain:
            return self.construct_document(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeConstructor says so below
                continue
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"duplicate key {key!r} (first at line {first.start_mark.line + 1})", key_node.start_mark)
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


class _NotPlain(Exception):
    """The tree uses more of YAML than plain maps, lists and scalars."""


STR, SEQ, MAP = "tag:yaml.org,2002:str", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"
MERGE = "tag:yaml.org,2002:merge"
_SCALARS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
                      "tag:yaml.org,2002:null"})

StrictLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def parse_text(text: str, path: Path | str) -> tuple[Any, yaml.Node | None]:
    """Parse once: the data and the node tree it was built from (for error lines)."""
    loader = StrictLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_plain(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        raise DataFileError(str(path), f"invalid YAML: {_what(exc)}", line=_error_line(exc, text),
                            field=_duplicate_field(exc)) from exc
    except yaml.YAMLError as exc:
        raise DataFileError(str(path), f"invalid YAML: {exc}") from exc
    finally:
        loader.dispose()
    return data, node


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """Parse ``path``, returning the data and its node tree (for error lines)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataFileError(str(path), "file not found") from None
    except IsADirectoryError:
        raise DataFileError(str(path), "is a folder, not a file") from None
    except UnicodeDecodeError as exc:
        raise DataFileError(str(path), f"not UTF-8 text ({exc.reason})") from exc
    return parse_text(text, path)


def _what(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or str(exc)
    return f"{exc.context}: {problem}" if exc.context and "duplicate key" not in problem else problem


def _error_line(exc: yaml.MarkedYAMLError, text: str) -> int | None:
    """The line to show: where the problem is, or, when the parser only noticed at the end of the file
    (an unclosed ``[`` or quote), where the unclosed thing opened."""
    problem, context = exc.problem_mark, exc.context_mark
    if problem is not None and context is not None and problem.index >= len(text.rstrip()):
        return context.line + 1
    mark = problem or context
    return mark.line + 1 if mark else None


def _duplicate_field(exc: yaml.MarkedYAMLError) -> str | None:
    match = re.match(r"duplicate key '?([^'(]+?)'? \(", exc.problem or "")
    return match.group(1) if match else None


def line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the node reached by following ``loc`` (as in a pydantic error)."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def problems_of(exc: ValidationError, path: Path, node: yaml.Node | None) -> list[DataFileError]:
    """Every error of a validation, each with its line and field.

    Cross-reference checks (a model validator) cannot give a location of their own; each of their
    lines starts with the item it is about ("entities[5].id: ..."), which is turned back into one."""
    out: list[DataFileError] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if loc:
            out.append(DataFileError(str(path), message, line=line_of(node, loc), field=field_name(loc)))
            continue
        for text in message.split("\n"):
            match = _ITEM.match(text)
            item: tuple[int | str, ...] = ()
            if match:
                item = (match.group(1), *([int(match.group(2))] if match.group(2) else []),
                        *([match.group(3)] if match.group(3) else []))
                text = match.group(4)
            out.append(DataFileError(str(path), text, line=line_of(node, item), field=field_name(item)))
    return out


def field_name(loc: tuple[int | str, ...]) -> str | None:
    """("facts", 3, "known") -> "facts[3].known"."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


def validate(model: type[Model], data: Any, path: Path, node: yaml.Node | None) -> Model:
    """Validate ``data`` against ``model``; the error names file, line and field of the first problem
    and carries all of them (``DataFileError.problems``)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = problems_of(exc, path, node)
        first = problems[0]
        raise DataFileError(first.path, first.reason, line=first.line, field=first.field,
                            problems=problems) from exc


def load_with_node(model: type[Model], path: Path) -> tuple[Model, yaml.Node | None]:
    data, node = read_yaml(path)
    return _validated(model, data, node, path), node


def _validated(model: type[Model], data: Any, node: yaml.Node | None, path: Path) -> Model:
    if data is None:
        raise DataFileError(str(path), "file is empty")
    if not isinstance(data, dict):
        raise DataFileError(str(path), f"expected a mapping of keys at the top, found a {type(data).__name__}",
                            line=line_of(node, ()))
    return validate(model, data, path, node)


def load_model(model: type[Model], path: Path, cache_dir: Path | None = None) -> Model:
    """Read and validate ``path``. With ``cache_dir``, the parsed data of a file seen before (same bytes)
    is read back as JSON instead of parsed again: YAML parsing is most of a large knowledge file's load
    (5,000 facts: about a second even with libyaml; JSON: a few milliseconds). The node tree, needed
    only for the lines of errors, is built when validation fails."""
    if cache_dir is None:
        return load_with_node(model, path)[0]
    try:
        raw = path.read_bytes()
    except OSError:
        return load_with_node(model, path)[0]  # says what is wrong with the file
    digest = hashlib.sha256(raw).hexdigest()[:32]
    cached = Path(cache_dir) / f"yaml-{path.stem[:40]}-{digest}.json"
    try:
        data = json.loads(cached.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    if isinstance(data, dict):
        try:
            return model.model_validate(data)
        except ValidationError:
            pass  # report it with lines, below
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFileError(str(path), f"not UTF-8 text ({exc.reason})") from exc
    data, node = parse_text(text, path)
    result = _validated(model, data, node, path)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        tmp.replace(cached)  # never a half-written cache file
        for old in cached.parent.glob(f"yaml-{path.stem[:40]}-*.json"):
            if old != cached:
                old.unlink(missing_ok=True)  # an earlier version of the file: no use any more
    except (OSError, TypeError, ValueError):
        pass  # a read-only cache, or data JSON cannot hold: the next start parses again
    return result
