"""Blocks with secret fields saved by eight processes at once, on SQLite and PostgreSQL.

``tests/store/test_concurrency.py`` checks the store's own documents; here the writes go through
the Block API (validation, encryption of the secret fields) and readers load the contended block
while it is being overwritten: every load is one writer's save, whole, never parts of two.
"""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing.synchronize import Barrier

import pytest
from pydantic import SecretStr

from codeferry.errors import BlockNotFoundError
from codeferry_git.credentials import GitCredentials
from tests.reliability.conftest import TRIALS
from tests.store.conftest import database_url

__all__ = ["database_url"]  # fixture, re-exported for pytest

pytestmark = pytest.mark.reliability

WRITERS = 6
READERS = 2
SAVES = 3 * TRIALS


def _settings(home: str, url: str) -> None:
    os.environ["CODEFERRY_HOME"] = home
    if url.startswith("postgresql"):
        os.environ["CODEFERRY_DATABASE_URL"] = url


def write(home: str, url: str, worker: int, barrier: Barrier) -> None:
    _settings(home, url)
    barrier.wait(timeout=120)
    for index in range(SAVES):
        tag = f"w{worker}-{index}"
        GitCredentials(username=tag, token=SecretStr(f"token-{tag}")).save(tag)
        GitCredentials(username=tag, token=SecretStr(f"token-{tag}")).save("shared", overwrite=True)


def read(home: str, url: str, barrier: Barrier, torn: multiprocessing.Queue[str]) -> None:
    _settings(home, url)
    barrier.wait(timeout=120)
    for _ in range(SAVES * 4):
        try:
            loaded = GitCredentials.load("shared")
        except BlockNotFoundError:
            continue  # not saved yet
        assert loaded.token is not None
        if loaded.token.get_secret_value() != f"token-{loaded.username}":
            torn.put(f"{loaded.username} with the token of another save")


def test_blocks_saved_by_concurrent_processes_are_never_lost_or_torn(
    database_url: str, codeferry_home: os.PathLike[str]
) -> None:
    home = str(codeferry_home)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WRITERS + READERS)
    torn: multiprocessing.Queue[str] = context.Queue()
    processes = [
        context.Process(target=write, args=(home, database_url, n, barrier)) for n in range(WRITERS)
    ] + [
        context.Process(target=read, args=(home, database_url, barrier, torn))
        for _ in range(READERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=600)
    assert [p.exitcode for p in processes] == [0] * (WRITERS + READERS)
    found = []
    while not torn.empty():
        found.append(torn.get())
    assert found == []

    for worker in range(WRITERS):
        for index in range(SAVES):
            tag = f"w{worker}-{index}"
            loaded = GitCredentials.load(tag)
            assert loaded.username == tag
            assert loaded.token is not None
            assert loaded.token.get_secret_value() == f"token-{tag}"
    shared = GitCredentials.load("shared")
    assert shared.token is not None
    assert shared.token.get_secret_value() == f"token-{shared.username}"
