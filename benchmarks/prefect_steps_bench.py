"""Pull steps per flow run in Prefect's own step engine: Prefect's steps vs codeferry's.

    python benchmarks/prefect_steps_bench.py [ROUNDS]

A Prefect process worker runs each flow run's pull steps in a fresh process, in a fresh working
folder, through ``prefect.deployments.steps.core.run_steps``. Each measurement here is that: one
fresh process (Prefect's interpreter) running one step through ``run_steps``, timed inside it.
Per round and source, each tool runs two flow runs: **cold** (a new worker: nothing on the
machine) and **warm** (its next flow run, nothing changed at the source). codeferry's steps keep
their checkout in the worker's codeferry home between flow runs; Prefect's steps pull into the
flow run's working folder, so each of their runs is a full pull.

- git: ``prefect.deployments.steps.git_clone`` vs ``codeferry_git.steps.git_clone``, the same
  arguments (``repository``), on a repository of 2,000 files of 1-20 KB (one commit);
- S3: ``prefect_aws.deployments.steps.pull_from_s3`` vs ``codeferry_s3.steps.pull_from_s3``, the
  same arguments, on the same 2,000 files in a moto bucket.

Servers, on 127.0.0.1: git over smart HTTP through nginx, fcgiwrap and ``git http-backend`` with
Basic auth (``tests/servers/nginx_git.py``, as in ``git_bench.py``), and moto's S3 server.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FAMILY, TITLE = "prefect-steps", "Prefect workers: pull steps per flow run"
BUCKET, FOLDER = "bench-flows", "flows"
KEY, SECRET = "bench", "bench-secret"
SHAPE = "2000 x 1-20 KB"
S3_SERVER = "moto S3 server"


# -- child: one flow run's pull step, in Prefect's interpreter ----------------------------------


def step_for(tool: str, source: str) -> dict[str, Any]:
    if source == "git":
        # Prefect's step puts credentials into https:// URLs only; the server speaks http, so
        # both steps get them in the URL (codeferry's moves them out, into memory).
        url = os.environ["BENCH_GIT_URL"].replace(
            "http://", f"http://{os.environ['BENCH_GIT_USER']}:{os.environ['BENCH_GIT_TOKEN']}@"
        )
        arguments: dict[str, Any] = {"repository": url}
        name = {"prefect": "prefect.deployments.steps.git_clone"}.get(
            tool, "codeferry_git.steps.git_clone"
        )
        return {name: arguments}
    arguments = {
        "bucket": BUCKET,
        "folder": FOLDER,
        "credentials": {
            "aws_access_key_id": KEY,
            "aws_secret_access_key": SECRET,
            "aws_client_parameters": {"endpoint_url": os.environ["BENCH_ENDPOINT"]},
        },
    }
    name = {"prefect": "prefect_aws.deployments.steps.pull_from_s3"}.get(
        tool, "codeferry_s3.steps.pull_from_s3"
    )
    return {name: arguments}


def child(tool: str, source: str, workdir: Path) -> None:
    from prefect.deployments.steps.core import run_steps

    workdir.mkdir(parents=True)
    os.chdir(workdir)  # as a worker's flow run: a fresh working folder
    step = step_for(tool, source)
    start = time.perf_counter()
    outputs = asyncio.run(run_steps([step], print_function=lambda *_, **__: None))
    seconds = time.perf_counter() - start
    directory = Path(outputs.get("directory") or workdir)
    if not any(directory.rglob("module_*.py")):
        raise SystemExit(f"{tool} {source}: no code pulled into {directory}")
    peak_kb = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak_kb = float(line.split()[1])
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_kb / 1024}))


# -- parent ------------------------------------------------------------------------------------


def prefect_interpreter() -> Path:
    from prefect_env import prefect_python

    editable = [f"--editable={ROOT / p}" for p in ("core", "plugins/git", "plugins/s3")]
    return prefect_python(*editable)


def main(rounds: int) -> None:
    from blob_shapes import Samples, make_tree, measure
    from git_bench import server_label
    from recording import case, series, write_family

    from tests.servers.git_http import GitRepos
    from tests.servers.moto_s3 import running_moto
    from tests.servers.nginx_git import running_nginx_git

    python = prefect_interpreter()
    work = Path(tempfile.mkdtemp(prefix="prefect-steps-bench-"))
    files = make_tree(SHAPE)
    names = [f"{tool} {flow}" for tool in ("codeferry", "prefect") for flow in ("cold", "warm")]
    results: dict[str, dict[str, Samples]] = {}
    (work / "repos").mkdir()
    repos = GitRepos(work / "repos", work / "git-work")
    repos.work.mkdir(parents=True)
    repos.bare("flows.git")
    repos.fast_import("flows.git", [files])
    user, token = "bench-user", "bench-token-7d2e"
    try:
        with running_nginx_git(work / "repos", user, token) as git, running_moto() as moto:
            git_server = server_label()
            client = moto.client(KEY, SECRET)
            client.create_bucket(Bucket=BUCKET)
            for path, data in files.items():
                client.put_object(Bucket=BUCKET, Key=f"{FOLDER}/{path}", Body=data)
            env = {
                "BENCH_ENDPOINT": moto.endpoint,
                "BENCH_GIT_URL": git.url("flows.git"),
                "BENCH_GIT_USER": user,
                "BENCH_GIT_TOKEN": token,
                "PYTHONDONTWRITEBYTECODE": "1",
                # No server: run_steps needs one only for block and variable references.
                "PREFECT_API_URL": "http://127.0.0.1:9/api",
            }
            print(f"{rounds} rounds; {SHAPE}; Prefect from {python}")
            for source in ("git", "s3"):
                samples = {name: Samples(name) for name in names}
                for number in range(rounds):
                    base = work / f"{source}-{number}"
                    # codeferry first in even rounds, Prefect in odd ones.
                    tools = ("codeferry", "prefect")
                    for tool in tools if number % 2 == 0 else tools[::-1]:
                        run_env = {**env, "CODEFERRY_HOME": str(base / "home" / tool)}
                        for flow in ("cold", "warm"):
                            argv = [__file__, "--child", tool, source, str(base / tool / flow)]
                            measure(samples[f"{tool} {flow}"], argv, run_env, python)
                    shutil.rmtree(base, ignore_errors=True)
                results[source] = samples
                print(f"\n{source}:")
                for name in names:
                    print(samples[name].row(samples[name.replace("codeferry", "prefect")]))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    cases = []
    for source in ("git", "s3"):
        samples = results[source]
        for flow in ("cold", "warm"):
            cases.append(
                case(
                    f"{source}-{flow}",
                    f"{source} pull step, {flow} flow run, {SHAPE}",
                    series(samples[f"codeferry {flow}"], f"codeferry's step ({source})"),
                    prefect=series(samples[f"prefect {flow}"], f"Prefect's step ({source})"),
                    note=(
                        "Warm: the worker's next flow run with nothing changed at the source;"
                        " codeferry re-uses its checkout, Prefect's step pulls everything again"
                        " into the new flow run's folder."
                        if flow == "warm"
                        else "Cold: the first flow run on a new worker."
                    ),
                )
            )
    write_family(
        FAMILY,
        TITLE,
        cases,
        rounds=rounds,
        prefect_python=python,
        server=f"git: {git_server}; S3: {S3_SERVER}",
        notes=[
            "Each figure is one flow run's pull step run by Prefect's own step engine"
            " (`prefect.deployments.steps.core.run_steps`) in a fresh process of Prefect's"
            " interpreter, in a fresh working folder, timed inside the process.",
        ],
    )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], Path(sys.argv[4]))
    else:
        sys.path.insert(0, str(ROOT))
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from recording import run_rounds

        run_rounds(FAMILY, TITLE, main, __doc__.split("\n")[0])
