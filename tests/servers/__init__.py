"""Real servers for the tests, each a pytest plugin module; what they share lives here.

A server that cannot be started fails the tests that need it when ``CI=true`` and skips them
otherwise: CI must never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from typing import NoReturn

import pytest

__all__ = ["free_port", "missing", "need_program"]


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
