"""Real servers for the tests, each a pytest plugin module; what they share lives here.

A server that cannot be started fails the tests that need it when ``CI=true`` and skips them
otherwise: CI must never pass by skipping.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import NoReturn

import pytest

__all__ = [
    "answers_http",
    "free_port",
    "logged_process",
    "missing",
    "need_program",
    "stop",
    "wait_until_ready",
]


def missing(server: str, reason: str) -> NoReturn:
    """Fail (under ``CI=true``) or skip a test whose ``server`` cannot run, saying why."""
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{server} is needed on CI: {reason}", pytrace=False)
    pytest.skip(reason)


def need_program(program: str, why: str) -> str:
    """The path of ``program`` (a name on PATH or a file); :func:`missing` when there is none."""
    found = shutil.which(program) or (program if Path(program).is_file() else None)
    if found:
        return found
    missing(program, f"{program} is not installed ({why})")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers_http(url: str) -> bool:
    """Whether anything answers HTTP at ``url`` (an error status counts: the server is up)."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def wait_until_ready(
    ready: Callable[[], bool],
    process: subprocess.Popen[bytes],
    log: Path,
    failure: str,
    timeout: float,
) -> None:
    """Poll ``ready`` until it holds; ``RuntimeError(failure)`` with the tail of ``log`` when
    ``process`` ends first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{failure}:\n{tail}")
        time.sleep(0.05)


@contextlib.contextmanager
def logged_process(
    args: list[str],
    log: Path,
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    stop_timeout: float = 10,
) -> Iterator[subprocess.Popen[bytes]]:
    """``args`` running, both its output streams in the file ``log``; stopped after."""
    with log.open("wb") as output:
        process = subprocess.Popen(args, stdout=output, stderr=subprocess.STDOUT, cwd=cwd, env=env)
    try:
        yield process
    finally:
        stop(process, stop_timeout)


def stop(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Terminate ``process``; kill it if it has not ended after ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
