"""Load YAML into pydantic models and report errors as ``file:line: message``.

PyYAML's composer keeps each node's position; we walk the node tree along a
pydantic error's ``loc`` to point at the offending line.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from router.config_messages import plain, where

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


def place_at(filename: str, node: yaml.Node | None, loc: tuple[int | str, ...]) -> str:
    """``file:line: where`` of ``loc``: the other place a problem names (the first of two duplicates)."""
    return f"{filename}:{_line(_node_at(node, loc))}: {'.'.join(str(p) for p in loc) or '(top)'}"


def parse_yaml(text: str, filename: str) -> tuple[Any, yaml.Node | None]:
    loader = _Loader(text)
    try:
        # composed once; the data is constructed from the very nodes that give the lines
        node = loader.get_single_node()
        if node is not None and (twice := _duplicate_keys(node, filename)):
            raise ConfigError(twice)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else 1
        raise ConfigError([f"{filename}:{line}: {exc.problem or exc}"]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([f"{filename}:1: {exc}"]) from exc
    except (ValueError, TypeError, OverflowError) as exc:  # a value YAML's own types cannot hold: 2026-02-30
        raise ConfigError([f"{_where_unreadable(node, filename)}: {exc}"]) from exc
    finally:
        loader.dispose()
    return data, node


_MERGE = "tag:yaml.org,2002:merge"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


def _nodes(node: yaml.Node) -> list[yaml.Node]:
    """Every node of a document once, aliases' shared nodes too (an alias bomb stays linear)."""
    found: list[yaml.Node] = []
    seen: set[int] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        found.append(item)
        if isinstance(item, yaml.MappingNode):
            stack.extend(part for pair in item.value for part in pair)
        elif isinstance(item, yaml.SequenceNode):
            stack.extend(item.value)
    return found


def _duplicate_keys(node: yaml.Node, filename: str) -> list[str]:
    """A key written twice in one mapping: PyYAML keeps the last and drops the first without a word
    (a second ``server:`` section replaced the whole first one). A merge (``<<``) may still override."""
    problems: list[tuple[int, str]] = []
    for item in _nodes(node):
        if not isinstance(item, yaml.MappingNode):
            continue
        first: dict[tuple[str, str], int] = {}
        for key, _ in item.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE:
                continue
            line = key.start_mark.line + 1
            if (key.tag, key.value) in first:
                problems.append((line, f"{filename}:{line}: the key {key.value!r} is written twice in one mapping "
                                       f"(first on line {first[key.tag, key.value]}): keep one"))
            else:
                first[key.tag, key.value] = line
    return [text for _, text in sorted(problems)]


def _where_unreadable(node: yaml.Node | None, filename: str) -> str:
    """``file:line`` of the first date YAML cannot make a date of, the likeliest value to fail its type."""
    constructor = yaml.SafeLoader("")
    for item in sorted(_nodes(node) if node is not None else [], key=lambda n: n.start_mark.index):
        if isinstance(item, yaml.ScalarNode) and item.tag == _TIMESTAMP:
            try:
                constructor.construct_yaml_timestamp(item)
            except (ValueError, OverflowError):
                return f"{filename}:{item.start_mark.line + 1}: {item.value!r}"
    return f"{filename}:1"


def validate(model: type[M], data: Any, node: yaml.Node | None, filename: str) -> M:
    try:
        return model.model_validate({} if data is None else data)
    except ValidationError as exc:
        problems = [f"{filename}:{_line(_node_at(node, place))}: {where(place)}: {message}"
                    for place, message in plain(exc.errors(), model)]
        raise ConfigError(problems) from exc


def read_text(path: Path) -> str:
    """A config file's text, or ``ConfigError`` saying why it cannot be read (missing, or not UTF-8)."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}:1: cannot read: {exc.strerror}"]) from exc
    except UnicodeDecodeError as exc:
        line = exc.object[:exc.start].count(b"\n") + 1
        raise ConfigError([f"{path}:{line}: not UTF-8 text ({exc.reason} at byte {exc.start}): save it as UTF-8"]
                          ) from None


def unreadable(path: Path, exc: OSError) -> ConfigError:
    """``path: cannot read: reason``: a stat refused on the way to a config
    file (EACCES: a folder on the way may not be searched, named instead of
    the file), a name too long, a loop of links."""
    where = path.parent if exc.errno == errno.EACCES and path.parent != path else path
    return ConfigError([f"{where}: cannot read: {exc.strerror or exc}"])


def is_folder(path: Path) -> bool:
    """``path.is_dir()``, or ``ConfigError`` when that cannot be told (in
    Python 3.11 ``is_dir`` and ``exists`` raise on a folder that may not be
    searched: a traceback where the config was expected)."""
    try:
        return path.is_dir()
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None


def present(path: Path) -> bool:
    """Whether the config file ``path`` is there (absent: its defaults apply),
    or ``ConfigError`` (``unreadable``) when that cannot be told."""
    try:
        path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        raise unreadable(path, exc) from None
    return True


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    return parse_yaml(read_text(path), str(path))


def load_model(model: type[M], path: Path) -> M:
    data, node = read_yaml(path)
    return validate(model, data, node, str(path))
