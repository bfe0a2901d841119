"""Reading YAML while remembering where each value is written, for messages that point at it.

:func:`load_yaml` returns the document (plain dicts, lists and scalars, as ``yaml.safe_load``
gives them) and a :class:`Positions` that answers "which line and column?" for any path of keys
and list indexes into it. An alias (``*name``) is followed to where its anchor is written, since
that is where the text to fix is. :func:`conflict_markers` finds the lines a git merge left.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

__all__ = ["ConflictMarker", "DuplicateKey", "Path", "Position", "Positions", "conflict_markers"]

Path = tuple[Hashable, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"
# At the start of a line, as git writes them; ``|||||||`` opens the base in the diff3 style.
_MARKERS = re.compile(r"^(<{7}|\|{7}|={7}|>{7})(?:[ \t].*)?$")
_MARKER_NAMES = {
    "<": "start of a git merge conflict",
    "|": "base of a git merge conflict",
    "=": "middle of a git merge conflict",
    ">": "end of a git merge conflict",
}


@dataclass(frozen=True)
class Position:
    """A place in the text: 1-based ``line`` and ``column``."""

    line: int
    column: int


@dataclass(frozen=True)
class ConflictMarker:
    """A line a git merge left in the file (``<<<<<<< HEAD``, ``=======``, ``>>>>>>> branch``)."""

    line: int
    text: str
    meaning: str


@dataclass(frozen=True)
class DuplicateKey:
    """A key written twice in one mapping; YAML keeps the second value, silently."""

    path: Path
    key: Hashable
    first: Position
    second: Position


@dataclass(frozen=True)
class _Span:
    start: Position
    start_index: int
    end_index: int


class Positions:
    """Where each node of one YAML document is written, by path from the root.

    A path is a tuple of mapping keys and list indexes, such as ``("deployments", 0, "pull", 1)``.
    A path that is not known (a value that came from a ``<<`` merge, or a path into a scalar)
    gives the position of its nearest known ancestor, so every lookup has an answer.
    """

    def __init__(self, text: str = "") -> None:
        self.text = text
        self.duplicate_keys: list[DuplicateKey] = []
        self._values: dict[Path, _Span] = {}
        self._keys: dict[Path, Position] = {}
        self._aliases: dict[Path, Path] = {}

    def of(self, path: Path) -> Position:
        """Where the value at ``path`` starts."""
        return self._span(path).start

    def of_key(self, path: Path) -> Position:
        """Where the key of the value at ``path`` is written (else where the value is)."""
        canonical = self._canonical(path)
        if canonical in self._keys:
            return self._keys[canonical]
        return self.of(path)

    def of_text(self, path: Path, needle: str) -> Position:
        """Where ``needle`` is written inside the scalar at ``path`` (else where the value is)."""
        span = self._span(path)
        found = self.text.find(needle, span.start_index, max(span.end_index, span.start_index))
        if found < 0:
            return span.start
        before = self.text[span.start_index : found]
        lines = before.count("\n")
        if not lines:
            return Position(span.start.line, span.start.column + len(before))
        return Position(span.start.line + lines, found - self.text.rfind("\n", 0, found))

    def _canonical(self, path: Path) -> Path:
        """``path`` with every alias on the way replaced by where its anchor is."""
        for _ in range(64):  # an alias inside an alias inside...; bounded, never a loop
            for length in range(len(path), 0, -1):
                target = self._aliases.get(path[:length])
                if target is not None:
                    path = target + path[length:]
                    break
            else:
                return path
        return path

    def _span(self, path: Path) -> _Span:
        path = self._canonical(path)
        for length in range(len(path), -1, -1):
            span = self._values.get(path[:length])
            if span is not None:
                return span
        return _Span(Position(1, 1), 0, 0)


def load_yaml(text: str) -> tuple[Any, Positions]:
    """The document in ``text`` (as ``yaml.safe_load`` reads it) and where its parts are.

    :raises yaml.YAMLError: the text is not YAML.
    """
    import yaml

    loader_type: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_type(text)
    try:
        node = loader.get_single_node()
        positions = Positions(text)
        if node is not None:  # before constructing, which flattens ``<<`` merges into the nodes
            _Indexer(loader, positions).walk(node, ())
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return data, positions


def conflict_markers(text: str) -> list[ConflictMarker]:
    """The git merge-conflict marker lines of ``text``, in order."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        match = _MARKERS.match(line.rstrip("\r"))
        if match:
            found.append(ConflictMarker(number, line.strip(), _MARKER_NAMES[match.group(1)[0]]))
    return found


class _Indexer:
    """Walks the node graph once, recording where each path starts; aliases are not re-walked."""

    def __init__(self, loader: Any, positions: Positions) -> None:
        self.loader = loader
        self.positions = positions
        self.seen: dict[int, Path] = {}

    def walk(self, node: Any, path: Path) -> None:
        import yaml

        first = self.seen.get(id(node))
        if first is not None:  # an alias: point at the anchor instead of walking it again
            if first != path:
                self.positions._aliases.setdefault(path, first)
            return
        self.seen[id(node)] = path
        self.positions._values.setdefault(
            path, _Span(_position(node.start_mark), node.start_mark.index, node.end_mark.index)
        )
        if isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.walk(item, (*path, index))
        elif isinstance(node, yaml.MappingNode):
            self._mapping(node, path)

    def _mapping(self, node: Any, path: Path) -> None:
        import yaml

        merged: list[Any] = []
        written: dict[Hashable, Position] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                many = isinstance(value_node, yaml.SequenceNode)
                merged.extend(value_node.value if many else [value_node])
                continue
            key = self._key(key_node)
            if key is None:
                continue
            where = _position(key_node.start_mark)
            if key in written:
                self.positions.duplicate_keys.append(DuplicateKey(path, key, written[key], where))
            written[key] = where
            self.positions._keys[(*path, key)] = where
            self.positions._values.pop((*path, key), None)  # the last one written is used
            self.positions._aliases.pop((*path, key), None)
            self.walk(value_node, (*path, key))
        for number, source in enumerate(merged):  # ``<<: *base``: keys not written here
            if not isinstance(source, yaml.MappingNode):
                continue
            if id(source) not in self.seen:  # ``<<: {inline: mapping}``
                self.walk(source, (*path, _MERGE_TAG, number))
            for key_node, value_node in source.value:
                key = self._key(key_node)
                if key is None or key in written:
                    continue
                written[key] = _position(key_node.start_mark)
                self.positions._aliases.setdefault((*path, key), self._where(value_node))

    def _where(self, node: Any) -> Path:
        first = self.seen.get(id(node))
        return first if first is not None else ()

    def _key(self, node: Any) -> Hashable | None:
        import yaml

        if not isinstance(node, yaml.ScalarNode):
            return None
        try:
            key = self.loader.construct_object(node)
        except yaml.YAMLError:
            return None
        return key if isinstance(key, Hashable) else None


def _position(mark: Any) -> Position:
    return Position(mark.line + 1, mark.column + 1)
