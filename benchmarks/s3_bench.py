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

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from blob_shapes import RAW_LISTING, SHAPES, Samples, changed_subset, make_tree
from prefect_env import prefect_python
from recording import case, recorded, series, write_family

BUCKET = "bench-bucket"
FOLDER = "flows"
KEY, SECRET = "bench", "bench-secret"
CONCURRENCY = 64


# -- children (each runs in its own process) ---------------------------------------------------


def child_codeferry(destination: Path) -> float:
    import s3fs  # noqa: F401 - imported before the clock starts, as prefect-aws imports boto3

    from codeferry_s3.bucket import S3Bucket
    from codeferry_s3.credentials import AwsCredentials

    storage = S3Bucket(
        bucket_name=BUCKET,
        bucket_folder=FOLDER,
        credentials=AwsCredentials(
            aws_access_key_id=KEY,
            aws_secret_access_key=SECRET,
            aws_client_parameters={"endpoint_url": os.environ["BENCH_ENDPOINT"]},
        ),
    )
    start = time.perf_counter()
    storage.pull_code(destination)
    return time.perf_counter() - start


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
    import aiobotocore.session  # noqa: F401 - imported before the clock starts

    start = time.perf_counter()
    asyncio.run(_raw_download(destination))
    return time.perf_counter() - start


async def _raw_list() -> int:
    async with _raw_client() as client:
        found = 0
        async for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Prefix=f"{FOLDER}/"
        ):
            found += len(page.get("Contents", []))
        return found


def child_raw_list(destination: Path) -> float:
    """One listing of the folder: the least a re-pull that finds nothing changed must do."""
    import aiobotocore.session  # noqa: F401 - imported before the clock starts

    start = time.perf_counter()
    asyncio.run(_raw_list())
    return time.perf_counter() - start


def child_prefect(destination: Path) -> float:
    from prefect_aws.deployments.steps import pull_from_s3

    destination.mkdir(parents=True, exist_ok=True)
    os.chdir(destination)  # prefect-aws pulls into the working directory
    credentials: dict[str, Any] = {
        "aws_access_key_id": KEY,
        "aws_secret_access_key": SECRET,
        "aws_client_parameters": {"endpoint_url": os.environ["BENCH_ENDPOINT"]},
    }
    start = time.perf_counter()
    pull_from_s3(bucket=BUCKET, folder=FOLDER, credentials=credentials)
    return time.perf_counter() - start


def report_child(seconds: float) -> None:
    """Print the pull's time and this process's peak RSS as JSON for the parent.

    The peak is ``VmHWM`` of this program image: ``ru_maxrss`` would also count the benchmark
    process this child was forked from (Linux keeps it across ``exec``).
    """
    peak_kb = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak_kb = float(line.split()[1])
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_kb / 1024}))


CHILDREN = {
    "codeferry": child_codeferry,
    "raw": child_raw,
    "raw-list": child_raw_list,
    "prefect": child_prefect,
}


# -- parent ------------------------------------------------------------------------------------


def measure(
    samples: Samples, python: Path | str, case: str, target: Path, env: dict[str, str]
) -> None:
    """Run one child pull in a fresh process; record its time, wall time and peak RSS."""
    start = time.perf_counter()
    done = subprocess.run(
        [str(python), __file__, "--child", case, str(target)],
        env={**os.environ, **env},
        capture_output=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{case} pull failed:\n{done.stderr.decode()[-3000:]}")
    result = json.loads(done.stdout.decode().strip().splitlines()[-1])
    samples.seconds.append(float(result["seconds"]))
    samples.wall.append(wall)
    samples.peak_rss_mb.append(float(result["peak_rss_mb"]))


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
    cases: list[dict[str, Any]] = []
    work = Path(tempfile.mkdtemp(prefix="s3-bench-"))
    names = (
        "raw 64-way GET (cold)",
        "codeferry cold pull",
        "codeferry warm, nothing changed",
        "codeferry warm, 1% changed",
        "prefect-aws pull_from_s3",
        RAW_LISTING,
    )
    with running_moto() as server:
        print(f"moto on {server.endpoint}; {rounds} rounds; concurrency {CONCURRENCY}")
        client = server.client(KEY, SECRET)
        for number, shape in enumerate(SHAPES):
            server.reset()
            client.create_bucket(Bucket=BUCKET)
            files = make_tree(shape)
            upload(client, files)
            client.put_object(Bucket=BUCKET, Key=f"{FOLDER}-old/stale.py", Body=b"not pulled")
            env = {"BENCH_ENDPOINT": server.endpoint, "PYTHONDONTWRITEBYTECODE": "1"}
            results = {name: Samples(name) for name in names}
            for round_number in range(rounds):
                base = work / f"{number}-{round_number}"
                run_env = {
                    **env,
                    "CODEFERRY_HOME": str(base / "home"),
                    "PREFECT_HOME": str(base / "prefect-home"),
                }
                cold = [(names[0], "raw", base / "raw"), (names[1], "codeferry", base / "co")]
                # Raw first in even rounds, codeferry in odd ones: neither always follows the other.
                for name, child, target in cold if round_number % 2 == 0 else cold[::-1]:
                    measure(results[name], sys.executable, child, target, run_env)
                measure(results[names[2]], sys.executable, "codeferry", base / "co", run_env)
                measure(results[names[5]], sys.executable, "raw-list", base / "list", run_env)
                changed = changed_subset(files, 0.01, round_number)
                upload(client, changed)
                files.update(changed)
                measure(results[names[3]], sys.executable, "codeferry", base / "co", run_env)
                measure(results[names[4]], prefect, "prefect", base / "prefect", run_env)
                shutil.rmtree(base, ignore_errors=True)
            total = sum(len(data) for data in files.values())
            print(f"\n{shape}: {len(files)} files, {total / 1e6:.1f} MB (ratio vs raw)")
            raw = results[names[0]]
            for samples in results.values():
                print(samples.row(None if samples is raw else raw))
            warm = statistics.median(results[names[2]].seconds)
            warm_wall = statistics.median(results[names[2]].wall)
            theirs = statistics.median(results[names[4]].seconds)
            theirs_wall = statistics.median(results[names[4]].wall)
            cold = statistics.median(results[names[1]].seconds)
            print(
                f"  prefect-aws / codeferry: cold {theirs / cold:.1f}x, "
                f"warm {theirs / warm:.0f}x (pull), {theirs_wall / warm_wall:.1f}x (process)"
            )
            raw_series, prefect_series = series(raw), series(results[names[4]])
            slug = ("small", "large")[number]
            cases += [
                case(
                    f"cold-{slug}",
                    f"cold pull, {shape}",
                    series(results[names[1]]),
                    raw=raw_series,
                    prefect=prefect_series,
                ),
                case(
                    f"warm-{slug}",
                    f"warm re-pull, nothing changed, {shape}",
                    series(results[names[2]]),
                    raw=series(results[names[5]]),
                    prefect=prefect_series,
                    note=(
                        "Raw is one listing of the folder (aiobotocore's paginator, in a fresh"
                        " process): the least a re-pull that finds nothing changed must do."
                        " Prefect has no incremental pull: its number is a full download."
                    ),
                ),
                case(
                    f"changed-{slug}",
                    f"warm re-pull, 1% changed, {shape}",
                    series(results[names[3]]),
                    prefect=prefect_series,
                ),
            ]
    shutil.rmtree(work, ignore_errors=True)
    write_family(
        "s3",
        "S3",
        cases,
        rounds=rounds,
        prefect_python=prefect,
        server="moto_server on 127.0.0.1",
        notes=[
            "One moto server on 127.0.0.1. Raw is 64 concurrent GETs with aiobotocore, streamed"
            " to disk; Prefect is `prefect_aws.deployments.steps.pull_from_s3`. Times are the pull"
            " itself, timed inside a fresh process; peak RSS is that process's.",
        ],
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        report_child(CHILDREN[sys.argv[2]](Path(sys.argv[3])))
    else:
        parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
        parser.add_argument("rounds", nargs="?", type=int, default=5)
        arguments = parser.parse_args()
        with recorded("s3", "S3"):
            main(arguments.rounds)
