"""Git pulls: codeferry vs the git CLI vs dulwich's porcelain, on a ~5,000-file repository.

A repository of 5,000 files and 200 commits is made locally and served by the smart-HTTP test
server (git http-backend, Basic auth). In the same run, rounds alternate between the tools:

- fresh pull: codeferry (in-process) vs ``git clone --depth 1`` vs ``porcelain.clone(depth=1)``;
- warm re-pull of one new commit: codeferry in-process vs ``git fetch --depth 1`` + ``git
  checkout`` (the CLI's incremental update).

Run: ``python benchmarks/git_bench.py [rounds]``. Prints medians, min-max and ratios.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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


def main(rounds: int = 5) -> None:
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
    fresh: dict[str, list[float]] = {"git": [], "codeferry": [], "dulwich": []}
    repull: dict[str, list[float]] = {"git": [], "codeferry": []}

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
        shutil.rmtree(target, ignore_errors=True)

    for number in range(rounds):
        one_round(number)
    print(
        f"repository: {FILES} files, {COMMITS} commits, served by git http-backend; {rounds} rounds"
    )
    print("fresh shallow pull")
    for name in ("git", "codeferry", "dulwich"):
        print("  " + summary(name, fresh[name], None if name == "git" else fresh["git"]))
    print("re-pull of one new commit")
    for name in ("git", "codeferry"):
        print("  " + summary(name, repull[name], None if name == "git" else repull["git"]))
    server.shutdown()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
