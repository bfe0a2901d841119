"""Reporting the progress of a pull or a push: the one API core and plugins use.

A storage reports every transfer it makes, long or short, and never decides whether anything is
drawn::

    from codeferry.progress import TransferProgress

    with TransferProgress(f"pull {self}", files=len(jobs), total_bytes=total) as progress:
        for job in jobs:
            for chunk in download(job):
                progress.advance(len(chunk))  # bytes as they arrive
            progress.file_done()  # one more file complete

A bar is drawn on standard error (never standard output) only when codeferry may animate it
(:func:`codeferry.terminal.animation_enabled`: a terminal, not ``TERM=dumb``, not ``-q``) and the
transfer proves long: it expects or has moved :data:`REVEAL_FILES` files or :data:`REVEAL_BYTES`
bytes, or it is still going after :data:`REVEAL_AFTER` seconds. It disappears when the transfer
ends. Totals learnt on the way (a pack's object count, a manifest's layer sizes) are given to
:meth:`TransferProgress.expect`; a transfer with no total shows a moving bar and what it has
moved so far. The description is masked (:func:`codeferry.secrets.mask`) and shown as plain
text: name where the code is with the storage's ``str()``, never with a secret.

Counting costs a lock and two additions, so a storage may report from many threads and every
chunk; Rich is imported only when a bar is drawn.

.. versionadded:: 0.1
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import TaskID

__all__ = ["REVEAL_AFTER", "REVEAL_BYTES", "REVEAL_FILES", "TransferProgress", "format_bytes"]

REVEAL_FILES = 200
"""A transfer of this many files is long enough for a bar."""
REVEAL_BYTES = 32 << 20
"""A transfer of this many bytes is long enough for a bar."""
REVEAL_AFTER = 1.0
"""Seconds after which a transfer still going gets a bar, however little it has moved."""


class TransferProgress:
    """Files and bytes moved by one pull or push, drawn as a bar when it is worth it.

    :param description: what moves where, such as ``pull s3://bucket/flows`` (masked).
    :param files: how many files will move, when known.
    :param total_bytes: how many bytes will move, when known.
    :param show: ``None`` (the default) draws the bar when the transfer proves long; ``True`` draws
        it from the start, ``False`` never. Neither draws where codeferry may not animate.
    :param unit: what :meth:`file_done` counts, in the bar (``"files"``, ``"layers"``,
        ``"objects"``).

    Safe to call from several threads. :attr:`files_done` and :attr:`bytes_done` hold the counts.
    """

    def __init__(
        self,
        description: str,
        files: int | None = None,
        total_bytes: int | None = None,
        show: bool | None = None,
        *,
        unit: str = "files",
    ) -> None:
        from codeferry.secrets import mask
        from codeferry.terminal import animation_enabled

        self.description = mask(description)
        self.unit = unit
        self.files_done = 0
        self.bytes_done = 0
        self.files_total = files
        self.bytes_total = total_bytes
        self._lock = threading.Lock()
        self._task: TaskID | None = None
        self._timer: threading.Timer | None = None
        self._closed = False
        self._drawable = show is not False and animation_enabled()
        if not self._drawable:
            return
        if show or self._long():
            with self._lock:
                self._reveal()
        else:
            self._timer = threading.Timer(REVEAL_AFTER, self._reveal_late)
            self._timer.daemon = True
            self._timer.start()

    @property
    def shown(self) -> bool:
        """Whether the bar is on the screen now."""
        return self._task is not None

    def advance(self, nbytes: int = 0, *, files: int = 0) -> None:
        """``nbytes`` more bytes and ``files`` more files moved.

        A negative ``nbytes`` takes back the bytes of an attempt that failed and will start over.
        """
        with self._lock:
            self.bytes_done += nbytes
            self.files_done += files
            self._changed()

    def file_done(self) -> None:
        """One more file (or layer, or object: the ``unit``) is complete."""
        self.advance(files=1)

    def expect(self, *, files: int | None = None, total_bytes: int | None = None) -> None:
        """Totals learnt on the way: ``files`` and ``total_bytes`` for the whole transfer."""
        with self._lock:
            if files is not None:
                self.files_total = files
            if total_bytes is not None:
                self.bytes_total = total_bytes
            self._changed()

    def describe(self, description: str) -> None:
        """A new description (masked), for a transfer that moves into another phase."""
        from codeferry.secrets import mask

        with self._lock:
            self.description = mask(description)
            self._changed()

    def close(self) -> None:
        """The transfer is over (done or failed): the bar, if any, goes away."""
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._task is not None:
                from codeferry.progress_board import BOARD

                BOARD.remove(self._task)
                self._task = None

    def __enter__(self) -> TransferProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- drawing (with the lock held) ---------------------------------------------------------

    def _long(self) -> bool:
        files = max(self.files_done, self.files_total or 0)
        size = max(self.bytes_done, self.bytes_total or 0)
        return files >= REVEAL_FILES or size >= REVEAL_BYTES

    def _changed(self) -> None:
        if self._task is not None:
            from codeferry.progress_board import BOARD

            BOARD.update_transfer(self._task, self)
        elif self._drawable and not self._closed and self._long():
            self._reveal()

    def _reveal(self) -> None:
        from codeferry.progress_board import BOARD

        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._task = BOARD.add_transfer(self)
        if self._task is None:  # the board cannot draw after all: stop trying
            self._drawable = False

    def _reveal_late(self) -> None:
        with self._lock:
            self._timer = None
            if self._task is None and self._drawable and not self._closed:
                self._reveal()


def format_bytes(count: int) -> str:
    """``1536`` as ``1.5 KiB``."""
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{count} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover
