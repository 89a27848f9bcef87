"""Load YAML into pydantic models and report errors as ``file:line: message``.

PyYAML's composer keeps each node's position; we walk the node tree along a
pydantic error's ``loc`` to point at the offending line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

# libyaml's parser where PyYAML was built with it: the same nodes and marks,
# several times faster than the pure-Python one (bot.yaml took ~0.2 s of every start)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ConfigError(Exception):
    """One or more ``file:line: message`` problems."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _node_at(node: yaml.Node | None, loc: tuple[int | str, ...]) -> yaml.Node | None:
    """The deepest node along ``loc`` (falls back to the closest parent)."""
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == str(part)), None)
            if match is None:
                # an unknown or misspelt key: point at the key itself
                key = next((k for k, _ in node.value if getattr(k, "value", None) == str(part)), None)
                return key or node
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def _line(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 1


def problem_at(
    filename: str, node: yaml.Node | None, loc: tuple[int | str, ...], message: str, *, warning: bool = False
) -> str:
    """A ``file:line: where: message`` line for a problem found after pydantic
    (a cross-reference, an expression), pointing at the same node it would;
    ``file:line: warning: where: message`` for what loads but is likely wrong."""
    where = ".".join(str(p) for p in loc) or "(top)"
    return f"{filename}:{_line(_node_at(node, loc))}: {'warning: ' if warning else ''}{where}: {message}"


def parse_yaml(text: str, filename: str) -> tuple[Any, yaml.Node | None]:
    loader = _Loader(text)
    try:
        # composed once; the data is constructed from the very nodes that give the lines
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else 1
        raise ConfigError([f"{filename}:{line}: {exc.problem or exc}"]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([f"{filename}:1: {exc}"]) from exc
    finally:
        loader.dispose()
    return data, node


def validate(model: type[M], data: Any, node: yaml.Node | None, filename: str) -> M:
    try:
        return model.model_validate({} if data is None else data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            where = ".".join(str(p) for p in loc) or "(top)"
            problems.append(f"{filename}:{_line(_node_at(node, loc))}: {where}: {err['msg']}")
        raise ConfigError(problems) from exc


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}:1: cannot read: {exc.strerror}"]) from exc
    return parse_yaml(text, str(path))


def load_model(model: type[M], path: Path) -> M:
    data, node = read_yaml(path)
    return validate(model, data, node, str(path))
