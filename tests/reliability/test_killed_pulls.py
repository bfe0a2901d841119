"""``kill -9`` of ``codeferry pull`` at random points, on every backend family.

Whatever the moment, the destination shows the old tree or the new one, whole, never a mix; the
next pull succeeds and tidies what the killed one left.
"""

from __future__ import annotations

import random
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.reliability.conftest import (
    TRIALS,
    Source,
    codeferry,
    leftovers,
    run_codeferry,
    trial,
    version_files,
)
from tests.remote.object_stores import tree

pytestmark = pytest.mark.reliability

# Enough files that a pull spends a good part of its life writing them.
FILES = {"local": 400, "s3": 30, "git": 400}


def describe(files: dict[str, bytes]) -> str:
    """Which versions a tree's files come from, and how many files it has."""
    versions = sorted(
        {m.decode() for d in files.values() for m in re.findall(rb"VERSION = (\d+)", d)}
    )
    return f"{len(files)} files of version(s) {', '.join(versions) or 'none'}"


def kill_at_random_point(
    process: subprocess.Popen[bytes], home: Path, span: float, rng: random.Random
) -> None:
    """Kill ``process`` (SIGKILL) anywhere in its life, or while it writes its staging folder.

    ``span`` is how long a whole pull took; half the time the kill waits for the staging folder
    to appear, so the moments spent writing files are hit often, not only start-up.
    """
    if rng.random() < 0.5:
        time.sleep(rng.uniform(0, span))
    else:
        deadline = time.monotonic() + 3 * span
        while (
            process.poll() is None
            and time.monotonic() < deadline
            and not any(home.glob("checkouts/*/staging-*"))
        ):
            time.sleep(0.002)
        time.sleep(rng.uniform(0, span / 2))
    process.kill()
    process.communicate()


@dataclass
class Puller:
    """Pulls of this test's source by a child ``codeferry``, whole or killed."""

    source: Source
    env: dict[str, str]
    home: Path
    rng: random.Random

    @property
    def count(self) -> int:
        """How many files each version of the source has."""
        return FILES[self.source.family]

    def pull(self, dest: Path) -> float:
        """Pull into ``dest`` to the end; how many seconds it took."""
        started = time.monotonic()
        run_codeferry("pull", self.source.url, "--dest", str(dest), env=self.env)
        return time.monotonic() - started

    def killed_pull(self, dest: Path, span: float) -> None:
        """A pull into ``dest`` killed at a random point of the ``span`` a whole pull takes."""
        process = codeferry("pull", self.source.url, "--dest", str(dest), env=self.env)
        kill_at_random_point(process, self.home, span, self.rng)


@pytest.fixture
def puller(
    source: Source, child_env: dict[str, str], codeferry_home: Path, rng: random.Random
) -> Puller:
    return Puller(source, child_env, codeferry_home, rng)


def test_a_killed_pull_leaves_the_old_or_the_new_tree_and_the_next_pull_repairs(
    puller: Puller, tmp_path: Path
) -> None:
    rng = puller.rng
    dest = tmp_path / "work" / "code"
    puller.source.publish(version_files(0, puller.count))
    span = puller.pull(dest)
    for number in range(1, TRIALS + 1):
        before = tree(dest)
        new = version_files(number, puller.count)
        puller.source.publish(new)
        puller.killed_pull(dest, span)
        after = tree(dest)
        assert after in (before, new), (
            f"{trial(rng, number)}: the destination has {describe(after)}"
        )

        puller.pull(dest)
        assert tree(dest) == new, f"{trial(rng, number)}: repaired to {describe(tree(dest))}"
        assert leftovers(dest) == [], trial(rng, number)


def test_a_killed_first_pull_leaves_no_destination_or_the_whole_tree(
    puller: Puller, tmp_path: Path
) -> None:
    rng = puller.rng
    files = version_files(1, puller.count)
    puller.source.publish(files)
    span = puller.pull(tmp_path / "measure")
    for number in range(1, max(TRIALS // 2, 1) + 1):  # the later pulls matter more
        dest = tmp_path / f"code-{number}"
        puller.killed_pull(dest, span)
        if dest.exists():
            assert tree(dest) == files, f"{trial(rng, number)}: {describe(tree(dest))}"
        else:
            assert not dest.is_symlink(), f"{trial(rng, number)}: dangling destination link"

        puller.pull(dest)
        assert tree(dest) == files, trial(rng, number)
        assert leftovers(dest) == [], trial(rng, number)
