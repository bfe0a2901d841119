"""Fixtures for the reliability suite: sources on real servers, pulls in child processes.

``CODEFERRY_RELIABILITY_TRIALS`` sets how many random trials each test makes (few by default, many
under ``nox -s reliability``); ``CODEFERRY_RELIABILITY_SEED`` replays one run's random choices.
"""

from __future__ import annotations

import os
import random
import secrets
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.gcs.conftest import token_server
from tests.git.conftest import Served
from tests.s3.conftest import BUCKET, Objects, aws_environment, objects
from tests.servers.git_http import GitHttpServer, GitRepos
from tests.servers.moto_s3 import TEST_KEY, TEST_SECRET

__all__ = ["aws_environment", "objects", "token_server"]  # fixtures, re-exported for pytest

TRIALS = max(int(os.environ.get("CODEFERRY_RELIABILITY_TRIALS") or 2), 1)


@pytest.fixture
def rng() -> random.Random:
    """Random choices for this test; the seed is in the failure message of :func:`trial`."""
    seed = int(os.environ.get("CODEFERRY_RELIABILITY_SEED") or secrets.randbits(32))
    generator = random.Random(seed)
    generator.seed_value = seed  # type: ignore[attr-defined]
    return generator


def trial(rng: random.Random, number: int) -> str:
    """How to name trial ``number`` in an assertion message, so a failure can be replayed."""
    return f"trial {number} (CODEFERRY_RELIABILITY_SEED={rng.seed_value})"  # type: ignore[attr-defined]


def version_files(version: int, count: int) -> dict[str, bytes]:
    """Version ``version`` of a source: every file says which version it belongs to."""
    return {
        f"pkg{n % 7}/mod_{n}.py": f"VERSION = {version}  # file {n}\n".encode() * 40
        for n in range(count)
    }


def codeferry(*args: str, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """``python -m codeferry ARGS`` in a child process (its output captured)."""
    return subprocess.Popen(
        [sys.executable, "-m", "codeferry", *args],
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def run_codeferry(
    *args: str,
    env: Mapping[str, str],
    ok: bool = True,
    cwd: Path | None = None,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """``python -m codeferry ARGS`` to the end; fails the test with its output unless it
    succeeded (``ok``) or failed (not ``ok``)."""
    done = subprocess.run(
        [sys.executable, "-m", "codeferry", *args],
        check=False,
        env=dict(env),
        cwd=cwd,
        input=input,
        capture_output=True,
        timeout=300,
    )
    assert (done.returncode == 0) is ok, (args, done.stdout.decode(), done.stderr.decode())
    return done


def checkout_root(dest: Path) -> Path:
    """The checkout folder behind destination ``dest`` (``dest`` -> ``<root>/current``)."""
    return Path(os.readlink(dest)).parent


def leftovers(dest: Path) -> list[str]:
    """What a finished pull into ``dest`` should not have left behind, by name."""
    root = checkout_root(dest)
    found = [p.name for p in root.iterdir() if p.name.startswith(("staging-", "current-"))]
    versions = root / "versions"
    folders = {p.name for p in versions.iterdir() if p.is_dir()}
    metas = {p.stem for p in versions.glob("*.json")}
    found += [f"versions/{name} (no .json)" for name in folders - metas]
    found += [f"versions/{name}.json (no folder)" for name in metas - folders]
    found += [p.name for p in dest.parent.iterdir() if p.name.startswith(f".{dest.name}.")]
    return found


@dataclass
class Source:
    """A source on one backend family, and how a child ``codeferry`` process reaches it."""

    family: str
    url: str
    publish: Callable[[Mapping[str, bytes]], None]
    env: dict[str, str] = field(default_factory=dict)


def _local_source(tmp_path: Path) -> Source:
    folder = tmp_path / "project"

    def publish(files: Mapping[str, bytes]) -> None:
        # Written beside, then swapped in, so the source itself is never half old, half new.
        fresh = tmp_path / f"project-{secrets.token_hex(4)}"
        for path, data in files.items():
            (fresh / path).parent.mkdir(parents=True, exist_ok=True)
            (fresh / path).write_bytes(data)
        if folder.exists():
            folder.rename(tmp_path / f"old-{secrets.token_hex(4)}")
        fresh.rename(folder)

    return Source("local", str(folder), publish)


def _s3_source(objects: Objects) -> Source:
    env = {
        "AWS_ACCESS_KEY_ID": TEST_KEY,
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET,
        "AWS_ENDPOINT_URL": objects.server.endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return Source("s3", f"s3://{BUCKET}/code", lambda files: objects.replace("code", files), env)


GIT_CLIENTS = {"git": "always", "git-dulwich": "never"}
"""The git sources' variants: pulled by git's own program, and by dulwich (the setting's value)."""


def _git_source(served: Served, client: str) -> Source:
    name = f"rel-{secrets.token_hex(4)}.git"
    served.repos.bare(name)
    served.server.public.add(name)

    def publish(files: Mapping[str, bytes]) -> None:
        served.repos.fast_import(name, [files])  # the versions here all have the same paths

    env = {"CODEFERRY_GIT_BINARY": GIT_CLIENTS[client]}
    return Source("git", served.url(name), publish, env)


@pytest.fixture
def git_host(git_http_server: GitHttpServer, git_repos: GitRepos) -> Served:
    """The session's git server and repository maker, for repositories of these tests' own.

    (Not tests/git's ``served``: a session fixture imported here would run a second time.)
    """
    return Served(git_http_server, git_repos)


@pytest.fixture(params=["local", "s3", *GIT_CLIENTS])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Source:
    """An empty source on each backend family: a folder, an S3 prefix, a git repository (pulled
    with each git client)."""
    if request.param == "local":
        return _local_source(tmp_path)
    if request.param == "s3":
        return _s3_source(request.getfixturevalue("objects"))
    return _git_source(request.getfixturevalue("git_host"), request.param)


@pytest.fixture
def child_env(source: Source, codeferry_home: Path) -> dict[str, str]:
    """The environment of a child ``codeferry``: this test's home and the source's settings."""
    return {**os.environ, "CODEFERRY_HOME": str(codeferry_home), **source.env}
