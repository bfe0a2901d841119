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

import asyncio
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from blob_shapes import (  # noqa: E402
    RAW_LISTING,
    SHAPES,
    Samples,
    changed_subset,
    make_tree,
    measure,
    record_shapes,
    report_child,
)
from prefect_env import prefect_python  # noqa: E402
from recording import recorded  # noqa: E402

FOLDER = "code"
CONCURRENCY = 32
PREFECT = "prefect-azure pull_from_azure_blob_storage"

NOTE = (
    "Azurite on 127.0.0.1. Raw is azure-storage-blob's asyncio client: list, then 32 downloads "
    "at a time, streamed to disk. Times are the pull itself, timed inside a fresh process; peak"
    " RSS is that process's. Prefect is `prefect_azure.deployments.steps."
    "pull_from_azure_blob_storage` with the same connection string."
)


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
    import adlfs  # noqa: F401 - imported before the clock starts, as the others' libraries are

    from codeferry_azure.container import AzureBlobStorageContainer
    from codeferry_azure.credentials import AzureBlobStorageCredentials

    storage = AzureBlobStorageContainer(
        container_name=os.environ["BENCH_CONTAINER"],
        base_folder=FOLDER,
        credentials=AzureBlobStorageCredentials(
            connection_string=os.environ["BENCH_CONNECTION_STRING"]
        ),
    )
    start = time.perf_counter()
    storage.pull_code(destination)
    return time.perf_counter() - start


async def _raw_download(destination: Path) -> None:
    from azure.storage.blob.aio import ContainerClient

    async with ContainerClient.from_connection_string(
        os.environ["BENCH_CONNECTION_STRING"], os.environ["BENCH_CONTAINER"]
    ) as client:
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
    import azure.storage.blob.aio  # noqa: F401 - imported before the clock starts

    start = time.perf_counter()
    asyncio.run(_raw_download(destination))
    return time.perf_counter() - start


async def _raw_list() -> int:
    from azure.storage.blob.aio import ContainerClient

    async with ContainerClient.from_connection_string(
        os.environ["BENCH_CONNECTION_STRING"], os.environ["BENCH_CONTAINER"]
    ) as client:
        return len([blob async for blob in client.list_blobs(name_starts_with=f"{FOLDER}/")])


def child_raw_list(destination: Path) -> float:
    """One listing of the folder: the least a re-pull that finds nothing changed must do."""
    import azure.storage.blob.aio  # noqa: F401 - imported before the clock starts

    start = time.perf_counter()
    asyncio.run(_raw_list())
    return time.perf_counter() - start


def child_prefect(destination: Path) -> float:
    from prefect_azure.deployments.steps import pull_from_azure_blob_storage

    destination.mkdir(parents=True, exist_ok=True)
    os.chdir(destination)  # prefect-azure pulls into the working directory
    credentials = {"connection_string": os.environ["BENCH_CONNECTION_STRING"]}
    start = time.perf_counter()
    pull_from_azure_blob_storage(os.environ["BENCH_CONTAINER"], FOLDER, credentials)
    return time.perf_counter() - start


CHILDREN = {
    "codeferry": child_codeferry,
    "raw": child_raw,
    "raw-list": child_raw_list,
    "prefect": child_prefect,
}


# -- parent ----------------------------------------------------------------------------------


def main(rounds: int) -> None:
    from azure.storage.blob import BlobServiceClient

    from tests.servers.azurite import azurite_program, running_azurite

    prefect = prefect_python()
    program = azurite_program()
    if program is None:
        raise SystemExit("node and npm are needed for Azurite (tests/servers/node)")
    measured: dict[str, dict[str, Samples]] = {}
    work = Path(tempfile.mkdtemp(prefix="azure-bench-"))
    me = str(Path(__file__).resolve())
    with running_azurite(program) as server:
        connection = server.connection_string()
        print(f"Azurite on 127.0.0.1:{server.port}; {rounds} rounds; concurrency {CONCURRENCY}")
        for number, shape in enumerate(SHAPES):
            container = f"bench-{number}"
            with BlobServiceClient.from_connection_string(connection) as service:
                service.create_container(container)
            files = make_tree(shape)
            upload(connection, container, files)
            env = {"BENCH_CONNECTION_STRING": connection, "BENCH_CONTAINER": container}
            results = {
                name: Samples(name)
                for name in (
                    "raw concurrent download (cold)",
                    "codeferry cold pull",
                    "codeferry warm, nothing changed",
                    "codeferry warm, 1% changed",
                    PREFECT,
                    RAW_LISTING,
                )
            }
            for round_number in range(rounds):
                base = work / f"{number}-{round_number}"
                run_env = {
                    **env,
                    "CODEFERRY_HOME": str(base / "home"),
                    "PREFECT_HOME": str(base / "prefect-home"),
                }

                cold = [
                    ("raw concurrent download (cold)", "raw", base / "raw"),
                    ("codeferry cold pull", "codeferry", base / "checkout"),
                ]
                # Raw first in even rounds, codeferry in odd ones: neither always follows the other.
                for name, child, target in cold if round_number % 2 == 0 else cold[::-1]:
                    measure(results[name], [me, "--child", child, str(target)], run_env)
                measure(
                    results["codeferry warm, nothing changed"],
                    [me, "--child", "codeferry", str(base / "checkout")],
                    run_env,
                )
                measure(
                    results[RAW_LISTING], [me, "--child", "raw-list", str(base / "list")], run_env
                )
                upload(connection, container, changed_subset(files, 0.01, round_number))
                measure(
                    results["codeferry warm, 1% changed"],
                    [me, "--child", "codeferry", str(base / "checkout")],
                    run_env,
                )
                measure(
                    results[PREFECT],
                    [me, "--child", "prefect", str(base / "prefect")],
                    run_env,
                    prefect,
                )
                shutil.rmtree(base, ignore_errors=True)
            total = sum(len(data) for data in files.values())
            print(f"{shape}: {len(files)} files, {total / 1e6:.1f} MB")
            raw = results["raw concurrent download (cold)"]
            for samples in results.values():
                print(samples.row(None if samples is raw else raw))
            measured[shape] = results
    shutil.rmtree(work, ignore_errors=True)
    record_shapes(
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
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        report_child(CHILDREN[sys.argv[2]](Path(sys.argv[3])))
    else:
        with recorded("azure", "Azure Blob Storage"):
            main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
