"""Which files of a local folder a push sends: tooling folders and ignore-file patterns left out.

Ignore files use gitignore syntax (through the ``pathspec`` library): ``.codeferryignore`` and
Prefect's ``.prefectignore`` at the top of the folder are both read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from codeferry.remote.listing import MANIFEST_NAME
from codeferry.walk import walk_files

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pathspec

__all__ = ["ALWAYS_IGNORED", "IGNORE_FILES", "IgnoreRules", "local_files"]

ALWAYS_IGNORED = (".git/", "__pycache__/", ".venv/")
"""Tooling state that is never code to ship, whatever the ignore files say."""

IGNORE_FILES = (".codeferryignore", ".prefectignore")
"""Ignore files read from the top of the folder being pushed, when present."""


class IgnoreRules:
    """Gitignore-style rules: the always-ignored folders plus the lines of the ignore files."""

    def __init__(self, lines: Iterable[str] = ()) -> None:
        import pathspec

        self.spec: pathspec.GitIgnoreSpec = pathspec.GitIgnoreSpec.from_lines(
            [*ALWAYS_IGNORED, *lines]
        )

    @classmethod
    def for_folder(cls, root: Path, extra_files: Iterable[str] = ()) -> IgnoreRules:
        """The rules of the folder ``root``: its ignore files (and ``extra_files``) read."""
        lines: list[str] = []
        for name in dict.fromkeys([*IGNORE_FILES, *extra_files]):
            path = root / name
            if path.is_file():
                lines.extend(path.read_text(encoding="utf-8", errors="replace").splitlines())
        return cls(lines)

    def ignores(self, path: str, *, is_dir: bool = False) -> bool:
        """Whether the ``/``-separated relative ``path`` is left out."""
        return self.spec.match_file(path + "/" if is_dir else path)


def local_files(root: Path, rules: IgnoreRules | None = None) -> dict[str, Path]:
    """Every file under ``root`` a push sends, by ``/``-separated relative path.

    Ignored folders are not descended into (as git does, a pattern cannot re-include a file
    inside an ignored folder). The walk is :func:`codeferry.walk.walk_files`: links followed only
    inside ``root``, codeferry's own folders left out; the manifest name is never sent from a
    local folder.
    """
    rules = rules or IgnoreRules.for_folder(root)

    def leave_out(path: str, is_dir: bool) -> bool:
        return (not is_dir and path == MANIFEST_NAME) or rules.ignores(path, is_dir=is_dir)

    found = {relative: Path(entry.path) for relative, entry in walk_files(root, leave_out)}
    return dict(sorted(found.items()))
