"""Which files of a local folder a push sends, to any store.

Every push (the local plugin's, the remote engine's for S3, GCS, Azure and any fsspec URL) reads
its files through :func:`files_to_push`: the walk is :func:`codeferry.walk.walk_files`, so tooling
folders (:data:`codeferry.walk.TOOLING_FOLDERS`) and codeferry's own folders are never sent, and
the patterns of the ignore files are applied in gitignore syntax (through the ``pathspec``
library, white space around each pattern dropped as Prefect does): ``.codeferryignore`` and
Prefect's ``.prefectignore`` at the top of the folder, and the file a step names with
``ignore_file``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from codeferry.remote.manifest import MANIFEST_NAME
from codeferry.walk import walk_files

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pathspec

__all__ = ["IGNORE_FILES", "IgnoreRules", "files_to_push"]

IGNORE_FILES = (".codeferryignore", ".prefectignore")
"""Ignore files read from the top of the folder being pushed, when present."""


class IgnoreRules:
    """Gitignore-style rules: the lines of the ignore files."""

    def __init__(self, lines: Iterable[str] = ()) -> None:
        import pathspec

        # White space around a pattern is dropped, as Prefect reads .prefectignore (its own
        # files indent their patterns), where git would keep leading spaces.
        patterns = [line.strip() for line in lines]
        self.spec: pathspec.GitIgnoreSpec = pathspec.GitIgnoreSpec.from_lines(patterns)

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


def files_to_push(root: Path, ignore_file: str | None = None) -> dict[str, Path]:
    """Every file under ``root`` a push sends, by ``/``-separated relative path, sorted.

    Ignored folders are not descended into (as git does, a pattern cannot re-include a file
    inside an ignored folder). The manifest a push writes (:data:`MANIFEST_NAME`) is never sent
    from a local folder.

    :param ignore_file: a further ignore file, relative to ``root`` (Prefect's step argument).
    :raises OSError: when a folder cannot be read, or a link loops.
    """
    rules = IgnoreRules.for_folder(root, [ignore_file] if ignore_file else [])

    def leave_out(path: str, is_dir: bool) -> bool:
        return (not is_dir and path == MANIFEST_NAME) or rules.ignores(path, is_dir=is_dir)

    found = {relative: Path(entry.path) for relative, entry in walk_files(root, leave_out)}
    return dict(sorted(found.items()))
