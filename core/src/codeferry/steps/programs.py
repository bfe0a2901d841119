"""Running one program for a step: no shell, output streamed (masked) and kept, deadline obeyed.

What the program prints, on its standard output or error, is streamed to standard error: standard
output is for codeferry's results only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codeferry.errors import CodeferryError, StepTimeoutError
from codeferry.secrets import remember_named
from codeferry.steps.context import mask, remaining_time, write_output

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

__all__ = ["ProgramError", "ProgramResult", "run_program"]

_TAIL_LINES = 5


class ProgramError(CodeferryError):
    """A program a step ran exited with a non-zero status."""


@dataclass(frozen=True)
class ProgramResult:
    """What a program wrote (whole, newlines kept) and how it exited."""

    stdout: str
    stderr: str
    returncode: int


def run_program(
    argv: Sequence[str],
    *,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    stream_output: bool = True,
) -> ProgramResult:
    """Run ``argv`` and wait for it; its lines are echoed (masked) on standard error when
    ``stream_output``. The values of ``env`` under secret names are remembered as secrets.

    :raises ProgramError: the program cannot start, or exits with a non-zero status (the
        message has the command and the last lines of its standard error, masked).
    :raises StepTimeoutError: the step's timeout passed; the program and its children are killed.
    """
    if env is not None:
        remember_named(env)
    shown = mask(subprocess.list2cmdline(list(argv)))
    try:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,  # so a timeout can kill the program's children too
        )
    except OSError as error:
        raise ProgramError(f"cannot run {shown}: {error.strerror or error}") from None
    captured: dict[str, list[str]] = {"stdout": [], "stderr": []}
    readers = [
        threading.Thread(target=_pump, args=(process.stdout, captured["stdout"], stream_output)),
        threading.Thread(target=_pump, args=(process.stderr, captured["stderr"], stream_output)),
    ]
    for reader in readers:
        reader.start()
    try:
        returncode = process.wait(timeout=remaining_time())
    except subprocess.TimeoutExpired:
        _kill(process)
        raise StepTimeoutError(f"{shown} was killed at the step's timeout") from None
    except BaseException:
        _kill(process)
        raise
    finally:
        for reader in readers:
            reader.join()
    stdout, stderr = "".join(captured["stdout"]), "".join(captured["stderr"])
    if returncode != 0:
        tail = " | ".join(line.strip() for line in stderr.strip().splitlines()[-_TAIL_LINES:])
        raise ProgramError(
            mask(f"{shown} exited with status {returncode}" + (f": {tail}" if tail else ""))
        )
    return ProgramResult(stdout, stderr, returncode)


def _pump(stream: Any, sink: list[str], echo: bool) -> None:
    for line in stream:
        sink.append(line)
        if echo:
            write_output(line)
    stream.close()


def _kill(process: subprocess.Popen[str]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.wait()
