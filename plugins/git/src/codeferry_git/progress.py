"""What a git pull reports while it runs: objects and bytes received, files written.

A display (the CLI's progress bar, a log line every few seconds) hooks in with :func:`reporting`::

    with reporting(lambda p: print(p.phase, p.done, p.total, p.bytes)):
        repository.pull_code()

Both git clients report: git's own program what its ``--progress`` output says (objects received
and resolved, with totals, and bytes), dulwich the bytes it reads from the server. Files written
are reported once a tree is in place. Callbacks run on the pulling thread and must be quick; an
exception raised by one fails the pull.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "Phase",
    "ProgressCallback",
    "TransferProgress",
    "current_callback",
    "displayed",
    "reporting",
]

Phase = Literal["receiving", "resolving", "writing"]


@dataclass(frozen=True)
class TransferProgress:
    """One report.

    :param repository: the repository's URL, without credentials.
    :param phase: ``receiving`` objects from the server, ``resolving`` deltas, ``writing`` files.
    :param done: objects received or resolved, or files written.
    :param total: what ``done`` counts up to, when the client knows it.
    :param bytes: bytes received from the server so far (0 when unknown).
    """

    repository: str
    phase: Phase
    done: int
    total: int | None
    bytes: int


ProgressCallback = Callable[[TransferProgress], None]

_CALLBACK: ContextVar[ProgressCallback | None] = ContextVar("codeferry_git_progress", default=None)


@contextlib.contextmanager
def reporting(callback: ProgressCallback) -> Iterator[None]:
    """Send the progress of the git pulls made inside the block (on this thread) to ``callback``."""
    token = _CALLBACK.set(callback)
    try:
        yield
    finally:
        _CALLBACK.reset(token)


def current_callback() -> ProgressCallback | None:
    """The callback of the innermost :func:`reporting` block, if any."""
    return _CALLBACK.get()


_PHASES: dict[Phase, tuple[str, str]] = {
    "receiving": ("receiving objects", "objects"),
    "resolving": ("resolving deltas", "objects"),
    "writing": ("writing files", "files"),
}


@contextlib.contextmanager
def displayed(description: str, also: ProgressCallback | None = None) -> Iterator[ProgressCallback]:
    """A callback that shows the pull's reports with codeferry's progress display (and ``also``).

    The display is :class:`codeferry.progress.TransferProgress`, one bar per phase: it appears only
    on a terminal, and only for a pull that takes long enough.
    """
    from codeferry.progress import TransferProgress as Bar

    shown: dict[str, Any] = {"phase": None, "bar": None, "done": 0, "bytes": 0}

    def callback(report: TransferProgress) -> None:
        if also is not None:
            also(report)
        if report.phase != shown["phase"]:
            if shown["bar"] is not None:
                shown["bar"].close()
            text, unit = _PHASES[report.phase]
            shown.update(phase=report.phase, done=0, bar=Bar(f"{description}: {text}", unit=unit))
        bar = shown["bar"]
        if report.total is not None:
            bar.expect(files=report.total)
        bar.advance(
            max(report.bytes - shown["bytes"], 0), files=max(report.done - shown["done"], 0)
        )
        shown.update(done=report.done, bytes=report.bytes)

    try:
        yield callback
    finally:
        if shown["bar"] is not None:
            shown["bar"].close()
