"""``.dockerignore`` read and applied the way ``docker build`` (BuildKit) applies it.

Reading follows moby's ``ignorefile``: a UTF-8 byte order mark is dropped, a line starting with
``#`` is a comment, each line is trimmed, cleaned like Go's ``filepath.Clean`` (so ``./a``, ``a/``
and ``a/b/..`` mean ``a``) and loses one leading ``/``. Patterns are matched against paths
relative to the context root, never against a bare name: ``secret.txt`` is ``./secret.txt`` only,
not ``pkg/secret.txt``.

Matching follows moby's ``patternmatcher``: Go's ``filepath.Match`` syntax (``*`` and ``?`` never
cross a ``/``, ``[...]`` classes negated by ``^``, ``\\`` escaping the next character), plus
``**`` for any number of folders (none included). A pattern that matches a folder matches
everything under it. Patterns are read in order and a ``!`` exception re-includes what the lines
before it excluded: the last line that matches a path decides.

The walk follows BuildKit's (``fsutil`` with ``MatchesUsingParentResults``): an excluded folder
is left unread when no exception could re-include anything in it; otherwise its entries are each
decided, carrying which patterns matched their folder. A pattern is consulted only where it could
change the verdict (an exclusion where the path is kept so far, an exception where it is
excluded), and one that matched a folder when consulted matches everything in it; so ``a/b``
then ``!a`` still leaves ``a/b`` out, as ``docker build`` does.

Two corners of moby's translation to regular expressions are not copied; the documented
``filepath.Match`` meaning is kept instead: an escaped letter (``\\d``) is that letter, not a
regular-expression class, and ``*``, ``?`` and ``.`` inside ``[...]`` are those characters.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from codeferry.errors import CodeferryError

__all__ = ["DockerIgnore", "DockerIgnoreError", "IgnoreMatch", "go_clean", "read_patterns"]

# Go's unicode.IsSpace: what strings.TrimSpace removes (Python's str.strip() removes more).
_GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
_BYTE_ORDER_MARK = "\ufeff"
# What makes an exception more than a literal path to BuildKit (fsutil's patternChars).
_PATTERN_CHARS = frozenset("*[]?^\\")


class DockerIgnoreError(CodeferryError):
    """A line of an ignore file is not a valid pattern (``docker build`` refuses it too)."""


def go_clean(path: str) -> str:
    """``path`` as Go's ``filepath.Clean`` gives it on Unix (``os.path.normpath`` keeps ``//``)."""
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in {"", "."}:
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def read_patterns(text: str) -> list[tuple[int, str]]:
    """The patterns of an ignore file's ``text``, with their line numbers (1-based).

    Exceptions keep their leading ``!``; comments and blank lines are left out.
    """
    patterns: list[tuple[int, str]] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        if number == 1:
            line = line.removeprefix(_BYTE_ORDER_MARK)
        if line.startswith("#"):  # a comment only in the first column, before trimming
            continue
        line = line.strip(_GO_SPACE)
        if not line:
            continue
        exception = line.startswith("!")
        if exception:
            line = line[1:].strip(_GO_SPACE)
        if line:
            line = go_clean(line)
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        patterns.append((number, f"!{line}" if exception else line))
    return patterns


class _Kind(Enum):
    EXACT = "exact"
    PREFIX = "prefix"
    SUFFIX = "suffix"
    REGEXP = "regexp"


@dataclass(frozen=True)
class _Pattern:
    text: str
    exception: bool
    kind: _Kind
    regexp: re.Pattern[str] | None

    def matches(self, path: str) -> bool:
        if self.kind is _Kind.EXACT:
            return path == self.text
        if self.kind is _Kind.PREFIX:
            return path.startswith(self.text[:-2])
        if self.kind is _Kind.SUFFIX:
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        assert self.regexp is not None
        return self.regexp.fullmatch(path) is not None

    @property
    def literal_prefix(self) -> bool:
        """Whether it names paths without wildcards, once a trailing ``/*`` or ``/**`` is cut."""
        return not _PATTERN_CHARS.intersection(self.without_trailing_glob)

    @property
    def without_trailing_glob(self) -> str:
        return self.text.removesuffix("/**").removesuffix("/*")


def _class(pattern: str, start: int) -> tuple[str, int]:
    """The ``[...]`` class at ``start`` as a regular expression, and where it ends.

    :raises ValueError: for what ``filepath.Match`` refuses (an empty or unclosed class, a range
        without an end) and for a range running backwards, which moby's regexp refuses.
    """
    i = start + 1
    negated = pattern[i : i + 1] == "^"
    if negated:
        i += 1
    ranges: list[str] = []
    while True:
        if i < len(pattern) and pattern[i] == "]" and ranges:
            return f"[{'^' if negated else ''}{''.join(ranges)}]", i + 1
        low, i = _class_char(pattern, i)
        high = low
        if pattern[i] == "-":
            high, i = _class_char(pattern, i + 1)
        if high < low:
            raise ValueError(f"the range {low}-{high} runs backwards")
        ranges.append(re.escape(low) if high == low else f"{re.escape(low)}-{re.escape(high)}")


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    if i >= len(pattern) or pattern[i] in "-]":
        raise ValueError("a character class is empty, unclosed or has a range without an end")
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise ValueError("a character class ends with '\\'")
    if i + 1 >= len(pattern):
        raise ValueError("a character class is not closed")
    return pattern[i], i + 1


def _double_star(text: str, i: int, kind: _Kind, *, first: bool) -> tuple[int, _Kind, str]:
    """The ``**`` at ``i`` (with one ``/`` after it): where it ends, the kind, its expression.

    A trailing ``**`` after only literal characters makes a prefix test, a leading one a suffix
    test (moby's fast paths, whose answers differ from the expression's in a few corners).
    """
    i += 2
    if text[i : i + 1] == "/":
        i += 1
    expression = ""
    if i == len(text):
        if kind is _Kind.EXACT:
            kind = _Kind.PREFIX
        else:
            expression, kind = ".*", _Kind.REGEXP
    else:
        expression, kind = "(?:.*/)?", _Kind.REGEXP
    return i, _Kind.SUFFIX if first else kind, expression


def _compile(text: str, exception: bool) -> _Pattern:
    """One cleaned pattern, typed the way moby types it (exact, prefix, suffix or regexp).

    :raises ValueError: for a malformed pattern.
    """
    kind = _Kind.EXACT
    parts: list[str] = []
    i = 0
    first = True
    while i < len(text):
        char = text[i]
        if text.startswith("**", i):
            i, kind, expression = _double_star(text, i, kind, first=first)
            parts.append(expression)
        elif char in "*?":
            parts.append("[^/]*" if char == "*" else "[^/]")
            kind = _Kind.REGEXP
            i += 1
        elif char == "\\":
            if i + 1 >= len(text):
                raise ValueError("it ends with '\\'")
            parts.append(re.escape(text[i + 1]))
            kind = _Kind.REGEXP
            i += 2
        elif char == "[":
            expression, i = _class(text, i)
            parts.append(expression)
            kind = _Kind.REGEXP
        else:
            parts.append(re.escape(char))
            if char == "]":
                kind = _Kind.REGEXP
            i += 1
        first = False
    regexp = re.compile("".join(parts)) if kind is _Kind.REGEXP else None
    return _Pattern(text, exception, kind, regexp)


@dataclass(frozen=True)
class IgnoreMatch:
    """Whether a path is excluded, and which patterns matched it or a folder above it.

    The second part is what its entries are decided with, when the path is a folder.
    """

    excluded: bool
    matched: tuple[bool, ...]


class DockerIgnore:
    """The patterns of one or more ignore files, in order."""

    def __init__(self, patterns: Iterable[str], where: str = ".dockerignore") -> None:
        """
        :param patterns: lines as :func:`read_patterns` gives them (exceptions start with ``!``).
        :param where: names the file in errors.
        :raises DockerIgnoreError: for a bare ``!`` or a malformed pattern.
        """
        self._patterns: list[_Pattern] = []
        for number, line in enumerate(patterns, start=1):
            self._add(line, f"{where}: pattern {number}")

    @classmethod
    def from_text(cls, text: str, where: str = ".dockerignore") -> DockerIgnore:
        """The patterns of an ignore file's ``text``.

        :raises DockerIgnoreError: naming ``where`` and the line of a malformed pattern.
        """
        ignore = cls(())
        ignore._read(text, where)
        return ignore

    @classmethod
    def from_files(cls, directory: Path, names: Iterable[str]) -> DockerIgnore:
        """The ignore files ``names`` found at the top of ``directory`` (missing ones skipped).

        :raises DockerIgnoreError: naming the file and line of a malformed pattern.
        """
        ignore = cls(())
        for name in names:
            path = directory / name
            if path.is_file():
                ignore._read(path.read_bytes().decode("utf-8", errors="surrogateescape"), name)
        return ignore

    def _read(self, text: str, where: str) -> None:
        for number, line in read_patterns(text):
            self._add(line, f"{where}: line {number}")

    def _add(self, line: str, where: str) -> None:
        text = go_clean(line.strip(_GO_SPACE)) if line.strip(_GO_SPACE) else ""
        if not text:
            return
        exception = text.startswith("!")
        if exception:
            text = text[1:]
            if not text:
                raise DockerIgnoreError(f"{where}: '!' alone is not a pattern")
        try:
            self._patterns.append(_compile(text, exception))
        except (ValueError, re.error) as error:
            raise DockerIgnoreError(f"{where}: {text!r} is not a valid pattern ({error})") from None

    @property
    def has_exceptions(self) -> bool:
        return any(p.exception for p in self._patterns)

    def match(self, path: str, parent: IgnoreMatch | None = None) -> IgnoreMatch:
        """Decide ``path`` (``/``-separated, relative to the root) given its folder's match.

        Without ``parent``, the folders above ``path`` are tried against each pattern instead.
        """
        excluded = False
        matched: list[bool] = []
        for index, pattern in enumerate(self._patterns):
            hit = parent.matched[index] if parent is not None and parent.matched else False
            if not hit:
                if pattern.exception != excluded:
                    # An exception cannot change a path not excluded, nor a pattern one that is.
                    matched.append(False)
                    continue
                hit = pattern.matches(path)
                if not hit and (parent is None or not parent.matched):
                    hit = any(pattern.matches(folder) for folder in _folders_above(path))
            matched.append(hit)
            if hit:
                excluded = not pattern.exception
        return IgnoreMatch(excluded, tuple(matched))

    def excludes(self, path: str) -> bool:
        """Whether ``docker build`` leaves ``path`` out of the context, its folders walked first."""
        parent: IgnoreMatch | None = None
        for folder in _folders_above(path):
            parent = self.match(folder, parent)
        return self.match(path, parent).excluded

    def prunes(self, folder: str) -> bool:
        """Whether an excluded ``folder`` can be left unread: no exception reaches inside it.

        BuildKit's rule: only when every exception is a plain path (after a trailing ``/*`` or
        ``/**``) and none of them lies inside ``folder``.
        """
        exceptions = [p for p in self._patterns if p.exception]
        if not all(p.literal_prefix for p in exceptions):
            return False
        inside = folder + "/"
        return not any((p.without_trailing_glob + "/").startswith(inside) for p in exceptions)

    def walk(
        self,
        directory: Path,
        skipped_dirs: Collection[str] = (),
        skip: Callable[[str], bool] | None = None,
    ) -> Iterator[str]:
        """The ``/``-separated paths of the files and links under ``directory`` that are kept.

        Folders named in ``skipped_dirs``, and folders (or links to folders) whose path ``skip``
        accepts, are left out; a link to a folder is an entry of its own, not followed. Order:
        ``os.walk``'s, top down.
        """
        folders: dict[str, IgnoreMatch] = {}
        for root, dirs, files in os.walk(directory):
            rel_root = Path(root).relative_to(directory).as_posix()
            prefix = "" if rel_root == "." else f"{rel_root}/"
            parent = folders.pop(rel_root, None)
            kept = []
            for name in sorted(dirs):
                if name in skipped_dirs or (skip is not None and skip(str(Path(root, name)))):
                    continue
                if Path(root, name).is_symlink():
                    files.append(name)
                    continue
                verdict = self.match(prefix + name, parent)
                if verdict.excluded and self.prunes(prefix + name):
                    continue
                folders[prefix + name] = verdict
                kept.append(name)
            dirs[:] = kept
            for name in sorted(files):
                if not self.match(prefix + name, parent).excluded:
                    yield prefix + name


def _folders_above(path: str) -> Sequence[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]
