"""Airflow 3 DAG bundles on S3: Airflow's own ``S3DagBundle`` vs codeferry's bundle.

    python benchmarks/airflow_bundle_bench.py [ROUNDS]

The DAG processor initializes each bundle once, then calls its ``refresh()`` every
``refresh_interval``. Per round, each bundle runs in a fresh process of Airflow's interpreter,
with a bundle folder of its own, and is timed inside it: ``initialize()`` (the first pull),
``refresh()`` with nothing changed at the source, and ``refresh()`` after 1% of the files changed.
Both read the same 2,000 files of 1-20 KB from one moto S3 server on 127.0.0.1: Airflow's through
its ``aws_default`` connection, codeferry's from ``s3://BUCKET/FOLDER`` with the AWS environment.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAMILY, TITLE = "airflow-bundle", "Airflow DAG bundles: refresh"
BUCKET, FOLDER = "bench-dags", "dags"
KEY, SECRET = "bench", "bench-secret"
SHAPE = "2000 x 1-20 KB"
SERVER = "moto S3 server"
PHASES = ("initialize", "refresh, nothing changed", "refresh, 1% changed")


# -- child: one bundle's life, in Airflow's interpreter -----------------------------------------


def child(tool: str, bundle_dir: Path, round_number: int) -> None:
    os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH"] = str(bundle_dir)
    import boto3

    bundle: object
    if tool == "airflow":
        from airflow.providers.amazon.aws.bundles.s3 import S3DagBundle

        bundle = S3DagBundle(name="bench", bucket_name=BUCKET, prefix=FOLDER)
    else:
        from codeferry_airflow import CodeferryDagBundle

        bundle = CodeferryDagBundle(name="bench", source=f"s3://{BUCKET}/{FOLDER}")
    times = {}
    start = time.perf_counter()
    bundle.initialize()  # type: ignore[attr-defined]
    times[PHASES[0]] = time.perf_counter() - start
    start = time.perf_counter()
    bundle.refresh()  # type: ignore[attr-defined]
    times[PHASES[1]] = time.perf_counter() - start

    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    keys = sorted(
        item["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Prefix=f"{FOLDER}/"
        )
        for item in page.get("Contents", [])
    )
    for key in keys[round_number % 100 :: 100]:  # 1%, a different 1% each round
        body = f"# changed by {tool} in round {round_number}\n".encode() * 64
        client.put_object(Bucket=BUCKET, Key=key, Body=body)
    start = time.perf_counter()
    bundle.refresh()  # type: ignore[attr-defined]
    times[PHASES[2]] = time.perf_counter() - start

    folder = Path(bundle.path)  # type: ignore[attr-defined]
    pulled = len(list(folder.rglob("*.py")))
    if pulled != len(keys):
        raise SystemExit(f"{tool}: {pulled} files in the bundle, {len(keys)} in the bucket")
    peak_kb = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak_kb = float(line.split()[1])
    print(json.dumps({"times": times, "peak_rss_mb": peak_kb / 1024}))


# -- parent ------------------------------------------------------------------------------------


def main(rounds: int) -> None:
    import subprocess

    from blob_shapes import Samples, make_tree
    from prefect_env import AIRFLOW, airflow_python
    from recording import case, series, write_family

    from tests.servers.moto_s3 import running_moto

    # Airflow first, then codeferry into it: resolved together, pip backtracks for long through
    # the boto versions s3fs and the Amazon provider each accept.
    airflow_python()
    editable = [f"--editable={ROOT / p}" for p in ("core", "plugins/s3", "integrations/airflow")]
    python = airflow_python(*editable)
    work = Path(tempfile.mkdtemp(prefix="airflow-bundle-bench-"))
    samples = {
        (tool, phase): Samples(f"{tool} {phase}")
        for tool in ("codeferry", "airflow")
        for phase in PHASES
    }
    try:
        with running_moto() as moto:
            client = moto.client(KEY, SECRET)
            client.create_bucket(Bucket=BUCKET)
            for path, data in make_tree(SHAPE).items():
                client.put_object(Bucket=BUCKET, Key=f"{FOLDER}/{path}", Body=data)
            connection = {
                "conn_type": "aws",
                "login": KEY,
                "password": SECRET,
                "extra": {"endpoint_url": moto.endpoint, "region_name": "us-east-1"},
            }
            env = {
                **os.environ,
                "AIRFLOW_HOME": str(work / "airflow-home"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection),
                "AWS_ENDPOINT_URL": moto.endpoint,
                "AWS_ACCESS_KEY_ID": KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET,
                "AWS_DEFAULT_REGION": "us-east-1",
                "PYTHONDONTWRITEBYTECODE": "1",
            }
            print(f"{rounds} rounds; {SHAPE}; Airflow from {python}")
            for number in range(rounds):
                tools = ("codeferry", "airflow")
                for tool in tools if number % 2 == 0 else tools[::-1]:
                    env["CODEFERRY_HOME"] = str(work / f"home-{number}-{tool}")
                    bundle_dir = work / f"bundles-{number}-{tool}"
                    argv = [str(python), __file__, "--child", tool, str(bundle_dir), str(number)]
                    done = subprocess.run(argv, env=env, capture_output=True, check=False)
                    if done.returncode != 0:
                        raise RuntimeError(f"{tool} bundle failed:\n{done.stderr.decode()[-3000:]}")
                    result = json.loads(done.stdout.decode().strip().splitlines()[-1])
                    for phase in PHASES:
                        samples[(tool, phase)].seconds.append(result["times"][phase])
                        samples[(tool, phase)].wall.append(result["times"][phase])
                        samples[(tool, phase)].peak_rss_mb.append(result["peak_rss_mb"])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    cases = []
    for phase, slug in zip(
        PHASES, ("initialize", "refresh-unchanged", "refresh-changed"), strict=True
    ):
        ours, theirs = samples[("codeferry", phase)], samples[("airflow", phase)]
        print(ours.row(theirs))
        cases.append(
            case(
                slug,
                f"S3 bundle {phase}, {SHAPE}",
                series(ours, "codeferry's bundle"),
                others=[series(theirs, "Airflow's S3DagBundle")],
            )
        )
    write_family(
        FAMILY,
        TITLE,
        cases,
        rounds=rounds,
        server=SERVER,
        notes=[
            "Each bundle lives in a fresh process of Airflow's interpreter"
            f" ({', '.join(AIRFLOW)}: the provider's S3DagBundle) and is timed inside it.",
        ],
    )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.path.insert(0, str(ROOT))
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from recording import run_rounds

        run_rounds(FAMILY, TITLE, main, __doc__.split("\n")[0])
