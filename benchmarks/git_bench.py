"""Git pulls: codeferry vs the git CLI vs dulwich's porcelain, on a ~5,000-file repository.

A repository of 5,000 files and 200 commits is made locally and served by the smart-HTTP test
server (git http-backend, Basic auth). In the same run, rounds alternate between the tools:

- fresh pull: codeferry (in-process, and ``codeferry pull`` as a whole process) vs ``git clone
  --depth 1`` vs ``porcelain.clone(depth=1)`` vs Prefect's ``git_clone`` step (whole process);
- warm re-pull of one new commit: codeferry in-process and as a whole process vs ``git fetch
  --depth 1`` + ``git checkout`` (the CLI's incremental update) vs Prefect's ``git_clone`` step
  run again on its checkout (``--no-prefect`` leaves Prefect out).

Run: ``python benchmarks/git_bench.py [rounds] [--no-prefect]``. Prints medians, min-max and
ratios, and writes ``benchmarks/results/git.json``.
"""

from __future__ import annotations

import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "benchmarks"))

from recording import case, recorded, series, write_family  # noqa: E402
from timing import Samples, run_process  # noqa: E402

from tests.servers.git_http import GitRepos, git_env, start_git_http_server  # noqa: E402

FILES, COMMITS = 5_000, 200


def timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def summary(name: str, seconds: list[float], baseline: list[float] | None) -> str:
    ratio = f"{statistics.median(seconds) / statistics.median(baseline):5.2f}x" if baseline else ""
    return (
        f"{name:<42} median {statistics.median(seconds) * 1000:7.1f} ms "
        f"[{min(seconds) * 1000:7.1f} - {max(seconds) * 1000:7.1f}] {ratio}"
    )


def main(rounds: int = 5, with_prefect: bool = True) -> None:
    prefect: Path | None = None
    if with_prefect:
        from prefect_env import prefect_python

        prefect = prefect_python()
    work = Path(tempfile.mkdtemp(prefix="git-bench-"))
    os.environ["CODEFERRY_HOME"] = str(work / "home")
    (work / "repos").mkdir()
    state, server = start_git_http_server(work / "repos")
    repos = GitRepos(work / "repos", work)
    repos.bare("bench.git")
    files = {
        f"pkg{i % 100}/module_{i}.py": (f"VALUE_{i} = {i}\n" * 20).encode() for i in range(FILES)
    }
    history = [files] + [
        {f"pkg{n % 100}/module_{n}.py": f"CHANGED = {n}\n".encode()} for n in range(COMMITS - 1)
    ]
    repos.fast_import("bench.git", history)
    url = state.url("bench.git")
    authed = url.replace("http://", f"http://{state.user}:{state.password}@")

    from dulwich import porcelain

    from codeferry_git.credentials import GitCredentials
    from codeferry_git.repository import GitRepository

    credentials = GitCredentials(username=state.user, token=state.password)
    fresh: dict[str, list[float]] = {
        "git": [],
        "codeferry": [],
        "dulwich": [],
        "codeferry pull": [],
        "prefect": [],
    }
    repull: dict[str, list[float]] = {
        "git": [],
        "codeferry": [],
        "codeferry pull": [],
        "prefect": [],
    }
    codeferry_cli = str(Path(sys.executable).parent / "codeferry")
    prefect_step = f"from prefect.deployments.steps import git_clone; git_clone({authed!r})"

    def one_round(number: int) -> None:
        target = work / f"round{number}"
        target.mkdir()
        os.environ["CODEFERRY_HOME"] = str(target / "home")

        def git(*args: str, cwd: Path | None = None) -> None:
            subprocess.run(["git", *args], cwd=cwd, check=True, env=git_env(target))

        fresh["git"].append(
            timed(lambda: git("clone", "-q", "--depth", "1", authed, str(target / "git")))
        )
        repo = GitRepository(url=url, credentials=credentials)
        fresh["codeferry"].append(timed(lambda: repo.pull_code(target / "cf")))

        def dulwich_clone() -> None:
            porcelain.clone(
                url,
                str(target / "dw"),
                depth=1,
                username=state.user,
                password=state.password,
                errstream=io.BytesIO(),
            ).close()

        fresh["dulwich"].append(timed(dulwich_clone))
        # Whole processes, each with its own home: imports and start-up count, as on a worker.
        cli_env = {**git_env(target), "CODEFERRY_HOME": str(target / "cli-home")}
        cli = [codeferry_cli, "pull", authed, "--dest", str(target / "cli")]
        fresh["codeferry pull"].append(run_process(cli, cli_env)[0])
        (target / "pf").mkdir()
        pf_env = {**git_env(target), "PREFECT_HOME": str(target / "prefect-home")}
        if prefect is not None:
            pf = [str(prefect), "-c", prefect_step]
            fresh["prefect"].append(run_process(pf, pf_env, cwd=str(target / "pf"))[0])
        repos.fast_import(
            "bench.git",
            [
                {
                    f"pkg7/new_{number}.py": b"NEW = 1\n",
                    "pkg1/module_1.py": f"R = {number}\n".encode(),
                }
            ],
        )

        def git_update() -> None:
            git("fetch", "-q", "--depth", "1", "origin", "main", cwd=target / "git")
            git("checkout", "-q", "FETCH_HEAD", cwd=target / "git")

        repull["git"].append(timed(git_update))
        repull["codeferry"].append(timed(lambda: repo.pull_code(target / "cf")))
        repull["codeferry pull"].append(run_process(cli, cli_env)[0])
        if prefect is not None:
            repull["prefect"].append(run_process(pf, pf_env, cwd=str(target / "pf"))[0])
        shutil.rmtree(target, ignore_errors=True)

    for number in range(rounds):
        one_round(number)
    print(
        f"repository: {FILES} files, {COMMITS} commits, served by git http-backend; {rounds} rounds"
    )
    for title, table in (("fresh shallow pull", fresh), ("re-pull of one new commit", repull)):
        print(title)
        for name, seconds in table.items():
            if seconds:
                baseline = None if name == "git" else table["git"]
                print("  " + summary(name, seconds, baseline))
    record(fresh, repull, rounds, prefect)
    server.shutdown()
    shutil.rmtree(work, ignore_errors=True)


def record(
    fresh: dict[str, list[float]],
    repull: dict[str, list[float]],
    rounds: int,
    prefect: Path | None,
) -> None:
    def measured(seconds: list[float], label: str) -> dict[str, Any] | None:
        return series(Samples(label, seconds)) if seconds else None

    clone = measured(fresh["git"], "git clone --depth 1")
    update = measured(repull["git"], "git fetch --depth 1 + checkout")
    prefect_fresh = measured(fresh["prefect"], "Prefect git_clone step (process)")
    prefect_repull = measured(repull["prefect"], "Prefect git_clone step again (process)")
    cases = [
        case(
            "fresh",
            f"fresh shallow clone, {FILES:,} files (in-process)",
            series(Samples("codeferry pull_code", fresh["codeferry"])),
            raw=clone,
            prefect=prefect_fresh,
            others=[series(Samples("dulwich porcelain.clone(depth=1)", fresh["dulwich"]))],
        ),
        case(
            "fresh-process",
            f"fresh shallow clone, {FILES:,} files (whole process)",
            series(Samples("codeferry pull", fresh["codeferry pull"])),
            raw=clone,
            prefect=prefect_fresh,
        ),
        case(
            "repull",
            "re-pull of one new commit (in-process)",
            series(Samples("codeferry pull_code", repull["codeferry"])),
            raw=update,
            prefect=prefect_repull,
        ),
        case(
            "repull-process",
            "re-pull of one new commit (whole process)",
            series(Samples("codeferry pull", repull["codeferry pull"])),
            raw=update,
            prefect=prefect_repull,
        ),
    ]
    write_family(
        "git",
        "Git",
        cases,
        rounds=rounds,
        prefect_python=prefect,
        notes=[
            f"A repository of {FILES:,} files and {COMMITS} commits served by `git http-backend`"
            " (smart HTTP, Basic auth) on 127.0.0.1. In-process rows time `pull_code` alone;"
            " whole-process rows time `codeferry pull URL` and Prefect's `git_clone` step from"
            " process start to exit. The git CLI rows are always whole processes.",
        ],
    )


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("rounds", nargs="?", type=int, default=5)
    parser.add_argument("--no-prefect", action="store_true")
    options = parser.parse_args()
    with recorded("git", "Git"):
        main(options.rounds, not options.no_prefect)
