"""Several processes writing to one store at once lose nothing."""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing.synchronize import Barrier

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
