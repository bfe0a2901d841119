"""S3 pulls against one moto server: codeferry vs a raw concurrent download vs prefect-aws.

    python benchmarks/s3_bench.py [ROUNDS]

For each shape (2,000 files of 1-20 KB in nested folders; 20 files of 5 MB), in every round:
a raw baseline (64 concurrent GETs with aiobotocore, streamed to disk) and codeferry's cold pull,
in turn first; codeferry's warm re-pull with nothing changed and its raw baseline (one listing
of the folder); codeferry's re-pull after 1% of the files changed; and
``prefect_aws.deployments.steps.pull_from_s3``. Every measurement is a fresh process (so imports
and caches are as on a worker and peak RSS is that pull's own); the pull itself is timed inside it.

prefect-aws runs from its own virtual environment (it pins its own boto and fsspec versions),
the one ``prefect_env.py`` creates on first use.
"""

from __future__ import annotations

import functools
import os
import shutil
import statistics
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import blob_shapes
from prefect_env import prefect_python

BUCKET = "bench-bucket"
FOLDER = "flows"
KEY, SECRET = "bench", "bench-secret"
CONCURRENCY = 64
PREFECT = "prefect-aws pull_from_s3"


# -- children (each runs in its own process) ---------------------------------------------------


def child_codeferry(destination: Path) -> float:
    return blob_shapes.url_pull(destination, "s3fs")


def _raw_client(**options: Any) -> Any:
    """A plain aiobotocore client for the benchmark's server (an async context manager)."""
    from aiobotocore.session import get_session

    return get_session().create_client(
        "s3",
        endpoint_url=os.environ["BENCH_ENDPOINT"],
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
        **options,
    )


async def _raw_download(destination: Path) -> None:
    import asyncio

    from aiobotocore.config import AioConfig

    async with _raw_client(config=AioConfig(max_pool_connections=CONCURRENCY)) as client:
        keys: list[str] = []
        async for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Prefix=f"{FOLDER}/"
        ):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        limit = asyncio.Semaphore(CONCURRENCY)

        async def fetch(key: str) -> None:
            target = destination / key.removeprefix(f"{FOLDER}/")
            target.parent.mkdir(parents=True, exist_ok=True)
            async with limit:
                answer = await client.get_object(Bucket=BUCKET, Key=key)
                async with answer["Body"] as body:
                    with target.open("wb") as writer:
                        while chunk := await body.read(1 << 20):
                            writer.write(chunk)

        await asyncio.gather(*(fetch(key) for key in keys))


def child_raw(destination: Path) -> float:
    import asyncio

    import aiobotocore.session  # noqa: F401 - imported before the clock starts

    return blob_shapes.timed(lambda: asyncio.run(_raw_download(destination)))


async def _raw_list() -> int:
    async with _raw_client() as client:
        found = 0
        async for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Prefix=f"{FOLDER}/"
        ):
            found += len(page.get("Contents", []))
        return found


def child_raw_list(_destination: Path) -> float:
    """One listing of the folder: the least a re-pull that finds nothing changed must do."""
    import asyncio

    import aiobotocore.session  # noqa: F401 - imported before the clock starts

    return blob_shapes.timed(lambda: asyncio.run(_raw_list()))


def child_prefect(destination: Path) -> float:
    from prefect_aws.deployments.steps import pull_from_s3

    credentials: dict[str, Any] = {
        "aws_access_key_id": KEY,
        "aws_secret_access_key": SECRET,
        "aws_client_parameters": {"endpoint_url": os.environ["BENCH_ENDPOINT"]},
    }
    return blob_shapes.in_folder(
        destination, lambda: pull_from_s3(bucket=BUCKET, folder=FOLDER, credentials=credentials)
    )


# -- parent ------------------------------------------------------------------------------------


def children_environment(endpoint: str) -> dict[str, str]:
    """What the children read: the server, and codeferry's source with its credentials in the
    environment, as a worker's are."""
    return {
        "BENCH_ENDPOINT": endpoint,
        "BENCH_URL": f"s3://{BUCKET}/{FOLDER}",
        "AWS_ACCESS_KEY_ID": KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_ENDPOINT_URL": endpoint,
    }


def upload(client: Any, files: dict[str, bytes]) -> None:
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda item: client.put_object(
                    Bucket=BUCKET, Key=f"{FOLDER}/{item[0]}", Body=item[1]
                ),
                files.items(),
            )
        )


def main(rounds: int) -> None:
    from tests.servers.moto_s3 import running_moto

    prefect = prefect_python("prefect-aws")
    measured: dict[str, dict[str, blob_shapes.Samples]] = {}
    work = Path(tempfile.mkdtemp(prefix="s3-bench-"))
    with running_moto() as server:
        print(f"moto on {server.endpoint}; {rounds} rounds; concurrency {CONCURRENCY}")
        client = server.client(KEY, SECRET)
        for number, shape in enumerate(blob_shapes.SHAPES):
            server.reset()
            client.create_bucket(Bucket=BUCKET)
            files = blob_shapes.make_tree(shape)
            upload(client, files)
            client.put_object(Bucket=BUCKET, Key=f"{FOLDER}-old/stale.py", Body=b"not pulled")
            measured[shape] = results = blob_shapes.pull_rounds(
                str(Path(__file__).resolve()),
                work / str(number),
                rounds,
                {**children_environment(server.endpoint), "PYTHONDONTWRITEBYTECODE": "1"},
                files,
                functools.partial(upload, client),
                (PREFECT, prefect),
            )
            blob_shapes.print_shape(shape, files, results)
            warm, theirs = results[blob_shapes.WARM], results[PREFECT]
            cold = statistics.median(results[blob_shapes.COLD].seconds)
            print(
                f"  prefect-aws / codeferry: cold {statistics.median(theirs.seconds) / cold:.1f}x,"
                f" warm {statistics.median(theirs.seconds) / statistics.median(warm.seconds):.0f}x"
                f" (pull), {statistics.median(theirs.wall) / statistics.median(warm.wall):.1f}x"
                " (process)"
            )
    shutil.rmtree(work, ignore_errors=True)
    blob_shapes.record_shapes(
        "s3",
        "S3",
        measured,
        rounds,
        "One moto server on 127.0.0.1. Raw is 64 concurrent GETs with aiobotocore, streamed"
        " to disk; Prefect is `prefect_aws.deployments.steps.pull_from_s3`. Times are the pull"
        " itself, timed inside a fresh process; peak RSS is that process's.",
        server="moto_server on 127.0.0.1",
        prefect=PREFECT,
        prefect_python=prefect,
    )


if __name__ == "__main__":
    blob_shapes.run_script(
        "s3",
        "S3",
        main,
        codeferry=child_codeferry,
        raw=child_raw,
        raw_list=child_raw_list,
        prefect=child_prefect,
    )
