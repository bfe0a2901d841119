"""Azure Blob Storage pulls: codeferry vs a raw concurrent download vs prefect-azure, on Azurite.

For each shape (2,000 files of 1-20 KB in nested folders; 20 files of 5 MB), in the same run and
with rounds alternated:

- codeferry's cold pull into a new checkout, and a raw baseline (azure-storage-blob's asyncio
  client: list, then download every blob with 32 at a time, streamed to disk);
- codeferry's warm re-pull with nothing changed, beside one plain listing of the folder (its
  raw baseline: the least a re-pull that finds nothing changed must do);
- codeferry's warm re-pull after 1% of the files changed (the raw baseline has no incremental
  mode: its number is the cold download);
- ``prefect_azure.deployments.steps.pull_from_azure_blob_storage`` with the same connection
  string, run from the Prefect venv ``prefect_env.py`` makes (a full download every time).

Each pull runs in its own process; the table gives the pull's own time (median, min-max, ratio to
the raw download), the process's wall time and its peak RSS.

Run: ``python benchmarks/azure_bench.py [rounds]`` (Azurite from tests/servers/node).
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import blob_shapes  # noqa: E402
from prefect_env import prefect_python  # noqa: E402

FOLDER = "code"
CONCURRENCY = 32
PREFECT = "prefect-azure pull_from_azure_blob_storage"

NOTE = (
    "Azurite on 127.0.0.1. Raw is azure-storage-blob's asyncio client: list, then 32 downloads "
    "at a time, streamed to disk. Times are the pull itself, timed inside a fresh process; peak"
    " RSS is that process's. Prefect is `prefect_azure.deployments.steps."
    "pull_from_azure_blob_storage` with the same connection string."
)


def children_environment(connection: str, container: str) -> dict[str, str]:
    """What the children read: the container, and codeferry's source with its credentials in the
    environment, as a worker's are."""
    return {
        "BENCH_CONNECTION_STRING": connection,
        "BENCH_CONTAINER": container,
        "BENCH_URL": f"az://{container}/{FOLDER}",
        "AZURE_STORAGE_CONNECTION_STRING": connection,
    }


def upload(connection_string: str, container: str, files: dict[str, bytes]) -> None:
    from azure.storage.blob import ContainerClient

    with (
        ContainerClient.from_connection_string(connection_string, container) as client,
        ThreadPoolExecutor(16) as pool,
    ):
        list(
            pool.map(
                lambda item: client.upload_blob(f"{FOLDER}/{item[0]}", item[1], overwrite=True),
                files.items(),
            )
        )


# -- children --------------------------------------------------------------------------------


def child_codeferry(destination: Path) -> float:
    return blob_shapes.url_pull(destination, "adlfs")


def _raw_client() -> Any:
    """azure-storage-blob's asyncio client for the benchmark's container."""
    from azure.storage.blob.aio import ContainerClient

    return ContainerClient.from_connection_string(
        os.environ["BENCH_CONNECTION_STRING"], os.environ["BENCH_CONTAINER"]
    )


async def _raw_download(destination: Path) -> None:
    import asyncio

    async with _raw_client() as client:
        names = [blob.name async for blob in client.list_blobs(name_starts_with=f"{FOLDER}/")]
        limit = asyncio.Semaphore(CONCURRENCY)

        async def fetch(name: str) -> None:
            target = destination / name.removeprefix(f"{FOLDER}/")
            target.parent.mkdir(parents=True, exist_ok=True)
            async with limit:
                stream = await client.download_blob(name)
                with target.open("wb") as writer:
                    async for chunk in stream.chunks():
                        writer.write(chunk)

        await asyncio.gather(*(fetch(name) for name in names))


def child_raw(destination: Path) -> float:
    import asyncio

    import azure.storage.blob.aio  # noqa: F401 - imported before the clock starts

    return blob_shapes.timed(lambda: asyncio.run(_raw_download(destination)))


async def _raw_list() -> int:
    async with _raw_client() as client:
        return len([blob async for blob in client.list_blobs(name_starts_with=f"{FOLDER}/")])


def child_raw_list(_destination: Path) -> float:
    """One listing of the folder: the least a re-pull that finds nothing changed must do."""
    import asyncio

    import azure.storage.blob.aio  # noqa: F401 - imported before the clock starts

    return blob_shapes.timed(lambda: asyncio.run(_raw_list()))


def child_prefect(destination: Path) -> float:
    from prefect_azure.deployments.steps import pull_from_azure_blob_storage

    credentials = {"connection_string": os.environ["BENCH_CONNECTION_STRING"]}
    return blob_shapes.in_folder(
        destination,
        lambda: pull_from_azure_blob_storage(os.environ["BENCH_CONTAINER"], FOLDER, credentials),
    )


# -- parent ----------------------------------------------------------------------------------


def main(rounds: int) -> None:
    from azure.storage.blob import BlobServiceClient

    from tests.servers.azurite import azurite_program, running_azurite

    prefect = prefect_python()
    program = azurite_program()
    if program is None:
        raise SystemExit("node and npm are needed for Azurite (tests/servers/node)")
    measured: dict[str, dict[str, blob_shapes.Samples]] = {}
    work = Path(tempfile.mkdtemp(prefix="azure-bench-"))
    with running_azurite(program) as server:
        connection = server.connection_string()
        print(f"Azurite on 127.0.0.1:{server.port}; {rounds} rounds; concurrency {CONCURRENCY}")
        for number, shape in enumerate(blob_shapes.SHAPES):
            container = f"bench-{number}"
            with BlobServiceClient.from_connection_string(connection) as service:
                service.create_container(container)
            files = blob_shapes.make_tree(shape)
            upload(connection, container, files)
            measured[shape] = results = blob_shapes.pull_rounds(
                str(Path(__file__).resolve()),
                work / str(number),
                rounds,
                children_environment(connection, container),
                files,
                functools.partial(upload, connection, container),
                (PREFECT, prefect),
            )
            blob_shapes.print_shape(shape, files, results)
    shutil.rmtree(work, ignore_errors=True)
    blob_shapes.record_shapes(
        "azure",
        "Azure Blob Storage",
        measured,
        rounds,
        NOTE,
        server="Azurite (npm `azurite`, tests/servers/node) on 127.0.0.1",
        prefect=PREFECT,
        prefect_python=prefect,
    )


if __name__ == "__main__":
    blob_shapes.run_script(
        "azure",
        "Azure Blob Storage",
        main,
        codeferry=child_codeferry,
        raw=child_raw,
        raw_list=child_raw_list,
        prefect=child_prefect,
    )
