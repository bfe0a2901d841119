"""Several processes writing to one store at once lose nothing."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
from multiprocessing.synchronize import Barrier
from pathlib import Path

from codeferry.store import BlockDocument, BlockStore

PROCESSES = 8
SAVES = 25


def write_many(url: str, home: str, worker: int, barrier: Barrier) -> None:
    os.environ["CODEFERRY_HOME"] = home
    store = BlockStore(url)
    barrier.wait(timeout=60)  # every process opens the new store at the same moment
    for index in range(SAVES):
        store.save_document(
            BlockDocument(
                "conc", f"w{worker}-{index}", {"i": index}, {"token": f"t{worker}-{index}"}
            )
        )
        store.save_document(
            BlockDocument(
                "conc", "shared", {"by": f"{worker}-{index}"}, {"token": f"{worker}-{index}"}
            ),
            overwrite=True,
        )
        store.set_variable("counter", f"{worker}-{index}")
    store.close()


def test_concurrent_processes_creating_and_writing_one_store_lose_nothing(
    database_url: str, codeferry_home: os.PathLike[str]
) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    processes = [
        context.Process(target=write_many, args=(database_url, str(codeferry_home), n, barrier))
        for n in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)
    assert [p.exitcode for p in processes] == [0] * PROCESSES

    documents = {d.name: d for d in BlockStore(database_url).list_documents("conc")}
    expected = {f"w{w}-{i}" for w in range(PROCESSES) for i in range(SAVES)} | {"shared"}
    assert set(documents) == expected
    for worker in range(PROCESSES):
        for index in range(SAVES):
            document = documents[f"w{worker}-{index}"]
            assert document.data == {"i": index}
            assert document.secrets == {"token": f"t{worker}-{index}"}
    shared = documents["shared"]
    assert shared.secrets == {"token": shared.data["by"]}  # one writer's save, whole


def test_a_new_sqlite_store_opens_while_another_connection_writes(tmp_path: Path) -> None:
    # SQLite refuses a switch to WAL at once, busy timeout or not, while another connection of
    # a database still in rollback mode holds its write lock: what processes that create one
    # store together meet.
    path = tmp_path / "codeferry.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE elsewhere (n INTEGER)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO elsewhere VALUES (1)")
    finished = threading.Timer(0.3, other.execute, ("COMMIT",))
    finished.start()
    try:
        store = BlockStore(f"sqlite:///{path}")
        store.set_variable("counter", "1")
        assert store.get_variable("counter") == "1"
        store.close()
    finally:
        finished.join()
        other.close()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA journal_mode").fetchone() == ("wal",)
