"""Programs a test starts as a user would (``codeferry``, Python, pip), each run to its end.

Output is captured as text and a failed exit is returned, not raised: the test asserts on it.
Every run has a time limit, so a hung child fails its test instead of the whole session.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["SCRIPT", "child_environment", "codeferry_module", "pip_install_into", "python", "run"]

SCRIPT = Path(sys.executable).parent / "codeferry"
"""The installed console script."""

WAIT = 120.0
"""Seconds a child may take before the test gives up on it."""


def run(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    input: str | None = None,
    timeout: float = WAIT,
) -> subprocess.CompletedProcess[str]:
    """``command`` run to its end with its output captured as text."""
    return subprocess.run(
        list(command),
        cwd=cwd,
        input=input,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def python(
    *args: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    input: str | None = None,
    timeout: float = WAIT,
) -> subprocess.CompletedProcess[str]:
    """This test run's Python with ``args`` (``-c CODE``, ``-m MODULE``...)."""
    return run([sys.executable, *args], env=env, cwd=cwd, input=input, timeout=timeout)


def codeferry_module(
    *args: str,
    env: Mapping[str, str],
    cwd: Path | None = None,
    input: str | None = None,
    timeout: float = WAIT,
) -> subprocess.CompletedProcess[str]:
    """``python -m codeferry ARGS``: the command line as installed, in a process of its own."""
    return python("-m", "codeferry", *args, env=env, cwd=cwd, input=input, timeout=timeout)


def child_environment(home: Path, **more: str) -> dict[str, str]:
    """This environment with ``CODEFERRY_HOME`` at ``home``, only the local plugin, no debug
    tracebacks, plus ``more``."""
    env = {**os.environ, "CODEFERRY_HOME": str(home), "CODEFERRY_PLUGINS": "local", **more}
    env.pop("CODEFERRY_DEBUG", None)
    return env


def pip_install_into(target: Path, project: Path) -> None:
    """Install ``project`` (a folder with a ``pyproject.toml``) into ``target`` with pip,
    without its dependencies or build isolation, as ``pip install --target`` does for a user."""
    done = python(
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "--target",
        str(target),
        str(project),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
