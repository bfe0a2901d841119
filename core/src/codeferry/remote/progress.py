"""A progress bar (files and bytes) on standard error for long transfers; silent otherwise."""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["TransferProgress"]

# Below these a transfer is over before a bar would help.
_MIN_FILES = 200
_MIN_BYTES = 32 << 20


class TransferProgress:
    """Counts files and bytes moved; draws a Rich bar when asked to or when it is worth it.

    :param show: ``True`` always draws, ``False`` never does, ``None`` (the default) draws only
        when standard error is a terminal and the transfer is long (many files or many bytes).

    Safe to call from several threads; a failed attempt's bytes are taken back with a negative
    :meth:`advance`.
    """

    def __init__(self, description: str, files: int, total_bytes: int, show: bool | None) -> None:
        self.files_done = 0
        self.bytes_done = 0
        self._lock = threading.Lock()
        self._bar: Any = None
        self._task: Any = None
        self._files = files
        if show is None:
            show = sys.stderr.isatty() and (files >= _MIN_FILES or total_bytes >= _MIN_BYTES)
        if show and files:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TextColumn("{task.fields[files]}"),
                TimeRemainingColumn(),
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            from codeferry.secrets import mask

            self._task = self._bar.add_task(
                mask(description), total=total_bytes, files=f"0/{files}"
            )
            self._bar.start()

    def advance(self, nbytes: int) -> None:
        """``nbytes`` more were moved (negative: an attempt failed and will start over)."""
        with self._lock:
            self.bytes_done += nbytes
            if self._bar is not None:
                self._bar.update(self._task, advance=nbytes)

    def file_done(self) -> None:
        """One more file is complete."""
        with self._lock:
            self.files_done += 1
            if self._bar is not None:
                self._bar.update(self._task, files=f"{self.files_done}/{self._files}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> TransferProgress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
