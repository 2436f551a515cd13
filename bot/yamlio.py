"""YAML reading that is strict about content and precise about errors.

YAML 1.1 quirks are undone (``yes``/``no``/``on`` stay strings, dates stay strings) because a
release window "no" or a date "2024-05" must reach the schema as the text the editor wrote.
Validation errors are mapped back to the line of the offending node.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import DataFileError

Model = TypeVar("Model", bound=BaseModel)


class StrictLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans and no implicit timestamps."""


StrictLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """Parse ``path``, returning the data and its node tree (for error lines)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataFileError(str(path), "file not found") from None
    except UnicodeDecodeError as exc:
        raise DataFileError(str(path), f"not UTF-8 text ({exc.reason})") from exc
    try:
        node = yaml.compose(text, Loader=StrictLoader)
        data = yaml.load(text, Loader=StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise DataFileError(str(path), f"invalid YAML: {exc.problem or exc}",
                            line=mark.line + 1 if mark else None) from exc
    except yaml.YAMLError as exc:
        raise DataFileError(str(path), f"invalid YAML: {exc}") from exc
    return data, node


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


def validate(model: type[Model], data: Any, path: Path, node: yaml.Node | None) -> Model:
    """Validate ``data`` against ``model``; the first error names file, line and field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        field = ".".join(str(p) for p in loc) or None
        message = first["msg"].removeprefix("Value error, ")
        if not loc:
            # Cross-reference errors name the list item in their text: "facts[3] (...)".
            match = re.match(r"(\w+)\[(\d+)\]", message)
            if match:
                loc = (match.group(1), int(match.group(2)))
        raise DataFileError(str(path), message, line=line_of(node, loc), field=field) from exc


def load_model(model: type[Model], path: Path) -> Model:
    data, node = read_yaml(path)
    if data is None:
        raise DataFileError(str(path), "file is empty")
    return validate(model, data, path, node)
