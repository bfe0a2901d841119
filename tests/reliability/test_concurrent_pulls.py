"""Eight ``codeferry pull`` processes into one checkout at once, on every backend family."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.reliability.conftest import Source, codeferry, leftovers, version_files
from tests.remote.object_stores import tree

pytestmark = pytest.mark.reliability

PROCESSES = 8
FILES = 12


def pull_all_at_once(source: Source, dest: Path, env: dict[str, str]) -> list[str]:
    """Start :data:`PROCESSES` pulls together; the error output of those that failed."""
    processes = [
        codeferry("pull", source.url, "--dest", str(dest), env=env) for _ in range(PROCESSES)
    ]
    failures = []
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        if process.returncode != 0:
            failures.append(stderr.decode(errors="replace"))
    return failures


def test_simultaneous_pulls_all_succeed_with_one_whole_tree(
    source: Source, child_env: dict[str, str], tmp_path: Path
) -> None:
    dest = tmp_path / "work" / "code"
    first = version_files(1, FILES)
    source.publish(first)
    assert pull_all_at_once(source, dest, child_env) == []  # the first pull, racing
    assert tree(dest) == first
    second = version_files(2, FILES)
    source.publish(second)
    assert pull_all_at_once(source, dest, child_env) == []  # a new version, racing
    assert tree(dest) == second
    assert leftovers(dest) == []
    versions = [p for p in (Path(os.readlink(dest)).parent / "versions").iterdir() if p.is_dir()]
    assert len(versions) == 2  # one per version of the source, not one per process
