"""Running ``codeferry`` with its standard error on a pseudo-terminal, as a person would see it.

Standard output stays a pipe, so a test sees apart what a script would capture (the results) and
what the person at the terminal sees (progress, notices, errors).
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ESCAPE", "SGR", "Finished", "run_codeferry", "screen_text", "terminal_env"]

ESCAPE = b"\x1b"
SGR = re.compile(rb"\x1b\[[0-9;]*m")
"""A colour or style sequence (Select Graphic Rendition)."""
_CONTROL = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
_TIMEOUT = 120

_MAIN = "import sys; from codeferry.cli import main; main(sys.argv[1:])"
_LOWERED = (
    "import sys, codeferry.progress as p; p.REVEAL_FILES = p.REVEAL_BYTES = 1; "
    "from codeferry.cli import main; main(sys.argv[1:])"
)


@dataclass(frozen=True)
class Finished:
    """A finished ``codeferry``: its status, its standard output, and what its terminal got."""

    returncode: int
    stdout: bytes
    terminal: bytes

    @property
    def text(self) -> str:
        """What the terminal got, control sequences and carriage returns taken out."""
        return screen_text(self.terminal)


def terminal_env(home: Path, **more: str) -> dict[str, str]:
    """This environment with ``CODEFERRY_HOME`` at ``home``, a colour terminal and no colour
    switches, plus ``more``."""
    env = {k: v for k, v in os.environ.items() if k not in {"NO_COLOR", "FORCE_COLOR"}}
    return {**env, "CODEFERRY_HOME": str(home), "TERM": "xterm-256color", **more}


def screen_text(raw: bytes) -> str:
    """``raw`` terminal output as text, control sequences and carriage returns taken out."""
    return _CONTROL.sub(b"", raw).replace(b"\r", b"").decode("utf-8", "replace")


def run_codeferry(
    *args: str,
    env: Mapping[str, str],
    terminal: bool = True,
    lowered: bool = False,
    cwd: Path | None = None,
) -> Finished:
    """``codeferry ARGS`` with standard error on a 120x40 pseudo-terminal (or a pipe).

    :param env: the whole environment (``TERM`` and colour variables as the test wants them).
    :param lowered: make every transfer long enough for a bar (the thresholds at 1), for
        transfers a test can afford to make only small.
    """
    command = [sys.executable, "-c", _LOWERED if lowered else _MAIN, *args]
    if not terminal:
        done = subprocess.run(
            command, env=dict(env), capture_output=True, timeout=_TIMEOUT, check=False, cwd=cwd
        )
        return Finished(done.returncode, done.stdout, done.stderr)
    controller, device = pty.openpty()
    fcntl.ioctl(device, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=device,
            env=dict(env),
            cwd=cwd,
        )
    finally:
        os.close(device)
    received: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(controller, received), daemon=True)
    reader.start()
    try:
        assert process.stdout is not None
        stdout = process.stdout.read()
        returncode = process.wait(timeout=_TIMEOUT)
        reader.join(timeout=_TIMEOUT)
    finally:
        process.kill()
        os.close(controller)
    return Finished(returncode, stdout, b"".join(received))


def _drain(controller: int, received: list[bytes]) -> None:
    """Read the terminal until the process closes it (Linux then answers EIO)."""
    while True:
        try:
            data = os.read(controller, 65536)
        except OSError:
            return
        if not data:
            return
        received.append(data)
