"""What other processes show of themselves while a pull runs: their command lines, environments."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path


class ProcessWatcher:
    """Reads every process's ``files`` under /proc, over and over, until stopped.

    ``pause``: seconds between rounds; 0 reads without a break, to catch the shortest-lived
    processes, more leaves the CPU to the pull being watched.
    """

    def __init__(self, files: tuple[str, ...] = ("cmdline", "environ"), pause: float = 0) -> None:
        self.files = files
        self.pause = pause
        self.seen: set[bytes] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            for process in Path("/proc").glob("[0-9]*"):
                for name in self.files:
                    with contextlib.suppress(OSError):  # gone already, or another user's
                        self.seen.add((process / name).read_bytes())
            if self.pause:
                self._stop.wait(self.pause)

    def __enter__(self) -> ProcessWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
