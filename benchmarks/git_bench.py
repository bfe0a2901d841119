"""Git pulls against nginx + fcgiwrap + git http-backend: codeferry vs the git CLI vs Prefect.

A repository of 5,000 files and 200 commits is made locally and served over smart HTTP with Basic
auth by nginx, fcgiwrap and git's own ``git http-backend`` (``tests/servers/nginx_git.py``), as a
git host serves it. In every round, each tool in a fresh process (imports and start-up count, as
on a worker), rounds alternating which tool goes first:

- fresh shallow pull: ``codeferry pull URL`` vs ``git clone --depth 1`` vs Prefect's
  ``git_clone`` step; also codeferry's ``pull_code`` and dulwich's ``porcelain.clone(depth=1)``
  timed inside this process;
- re-pull with nothing new: ``codeferry pull`` again vs ``git fetch --depth 1``;
- re-pull of one new commit changing 25 files: ``codeferry pull`` (and ``pull_code`` in this
  process) vs ``git fetch --depth 1`` + ``git reset --keep`` vs the ``git_clone`` step run again.

``codeferry pull`` runs with each of its git clients: git's own program (the default where git is
installed, ``CODEFERRY_GIT_BINARY=always``) and dulwich (``never``), each into its own checkout.

Run: ``python benchmarks/git_bench.py [rounds] [--files N] [--no-prefect]``. Prints medians,
min-max, ratios and peak RSS, and writes ``benchmarks/results/git.json``.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from recording import case, recorded, series, write_family  # noqa: E402
from timing import Run, Samples, run_process  # noqa: E402

from tests.servers.git_http import GitRepos, git_env, run_git  # noqa: E402
from tests.servers.nginx_git import NginxGit, running_nginx_git  # noqa: E402

FILES, COMMITS = 5_000, 200
CHANGED = 25  # files changed by the commit each round adds
USER, TOKEN = "bench-user", "bench-token-4f1c9a"
CODEFERRY = str(Path(sys.executable).parent / "codeferry")
CORRECTION = (
    "Earlier versions of this page put codeferry's fresh clone at 0.59-0.68x `git clone --depth 1`."
    " Those runs used the tests' threaded Python HTTP server in front of `git http-backend`, which"
    " was slow enough to dominate both tools (git's own clone took 4 s there, 0.8 s behind nginx):"
    " it hid most of codeferry's own cost and made it look faster than git."
)


@dataclass(frozen=True)
class Served:
    """The benchmark's repository, where it is served, and how to add a commit to it."""

    server: NginxGit
    repos: GitRepos
    name: str
    files: int

    @property
    def url(self) -> str:
        return self.server.url(self.name)

    @property
    def authed_url(self) -> str:
        """The URL with the token in it, as the git CLI and ``codeferry pull URL`` take it."""
        return self.url.replace("http://", f"http://{USER}:{TOKEN}@")

    def add_commit(self, number: int) -> None:
        """One new commit changing :data:`CHANGED` files (a different set each ``number``)."""
        first = number * CHANGED
        changed = {
            _file_name(index % self.files): f"ROUND = {number}\n".encode()
            for index in range(first, first + CHANGED)
        }
        self.repos.fast_import(self.name, [changed])


def _file_name(index: int) -> str:
    return f"pkg{index % 100}/module_{index}.py"


def history(files: int, commits: int) -> list[dict[str, bytes]]:
    """``files`` files in 100 folders, then ``commits - 1`` commits of one changed file each."""
    tree = {_file_name(i): (f"VALUE_{i} = {i}\n" * 20).encode() for i in range(files)}
    changes = [{_file_name(n % files): f"CHANGED = {n}\n".encode()} for n in range(commits - 1)]
    return [tree, *changes]


def server_label() -> str:
    """The server as the results name it, with the versions that served them."""
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True, check=True).stderr
    git = run_git("--version").removeprefix("git version ")
    nginx = nginx.strip().removeprefix("nginx version: ").replace("/", " ")
    return f"{nginx} + fcgiwrap + git http-backend {git} (smart HTTP, Basic auth), on 127.0.0.1"


@contextlib.contextmanager
def served_repository(work: Path, files: int, commits: int = COMMITS) -> Iterator[Served]:
    """Make the repository under ``work`` and serve it until the block ends."""
    (work / "repos").mkdir(parents=True)
    repos = GitRepos(work / "repos", work)
    repos.bare("bench.git")
    repos.fast_import("bench.git", history(files, commits))
    with running_nginx_git(work / "repos", USER, TOKEN) as server:
        yield Served(server, repos, "bench.git", files)


class Tools:
    """Each tool's pull, fetch or update of ``served``, as whole processes."""

    def __init__(self, served: Served, prefect: Path | None = None) -> None:
        self.served = served
        self.prefect = prefect

    def git_clone(self, target: Path) -> Run:
        argv = ["git", "clone", "-q", "--depth", "1", self.served.authed_url, str(target)]
        return run_process(argv, git_env(target.parent))

    def git_fetch(self, target: Path) -> Run:
        argv = ["git", "-C", str(target), "fetch", "-q", "--depth", "1", "origin", "main"]
        return run_process(argv, git_env(target.parent))

    def git_update(self, target: Path) -> Run:
        """The CLI's incremental update: fetch the new commit, then move the tree to it."""
        fetched = self.git_fetch(target)
        argv = ["git", "-C", str(target), "reset", "-q", "--keep", "FETCH_HEAD"]
        reset = run_process(argv, git_env(target.parent))
        return Run(
            fetched.seconds + reset.seconds,
            max(fetched.peak_rss_mb, reset.peak_rss_mb),
            fetched.cpu_seconds + reset.cpu_seconds,
        )

    def codeferry_pull(self, target: Path, client: str = "always") -> Run:
        """``codeferry pull URL --dest target`` with the git client ``client`` chooses (the
        ``CODEFERRY_GIT_BINARY`` setting), with its own home beside ``target``."""
        env = {
            **git_env(target.parent),
            "CODEFERRY_HOME": str(target.parent / f"cf-home-{client}"),
            "CODEFERRY_GIT_BINARY": client,
        }
        argv = [CODEFERRY, "pull", self.served.authed_url, "--dest", str(target)]
        return run_process(argv, env)

    def codeferry_dulwich(self, target: Path) -> Run:
        return self.codeferry_pull(target, "never")

    def prefect_clone(self, target: Path) -> Run:
        """Prefect's ``git_clone`` step, in ``target`` (it clones into the working folder)."""
        assert self.prefect is not None
        target.mkdir(exist_ok=True)
        step = (
            "from prefect.deployments.steps import git_clone; "
            f"git_clone({self.served.authed_url!r})"
        )
        env = {**git_env(target), "PREFECT_HOME": str(target / "prefect-home")}
        return run_process([str(self.prefect), "-c", step], env, cwd=str(target))


def add(samples: Samples, run: Run) -> None:
    samples.seconds.append(run.seconds)
    samples.peak_rss_mb.append(run.peak_rss_mb)
    samples.cpu_seconds.append(run.cpu_seconds)


def alternated(
    results: dict[str, Samples], number: int, *steps: tuple[str, Callable[[Path], Run], Path]
) -> None:
    """Run each ``(key, step, target)``, in order in even rounds and reversed in odd ones, so
    neither tool always goes second (and finds the caches warmer)."""
    for key, step, target in steps if number % 2 == 0 else steps[::-1]:
        add(results[key], step(target))


def in_process(function: Callable[[], object]) -> Run:
    start = time.perf_counter()
    function()
    return Run(time.perf_counter() - start, 0.0, 0.0)


NAMES = {
    "fresh-git": "git clone --depth 1",
    "fresh-cf": "codeferry pull",
    "fresh-cf-dulwich": "codeferry pull (dulwich client)",
    "fresh-cf-in": "codeferry pull_code",
    "fresh-dulwich": "dulwich porcelain.clone(depth=1)",
    "fresh-prefect": "Prefect git_clone step",
    "same-git": "git fetch --depth 1 (nothing new)",
    "same-cf": "codeferry pull",
    "same-cf-dulwich": "codeferry pull (dulwich client)",
    "new-git": "git fetch --depth 1 + reset --keep",
    "new-cf": "codeferry pull",
    "new-cf-dulwich": "codeferry pull (dulwich client)",
    "new-cf-in": "codeferry pull_code",
    "new-prefect": "Prefect git_clone step again",
}


def main(rounds: int, files: int, with_prefect: bool) -> None:
    prefect: Path | None = None
    if with_prefect:
        from prefect_env import prefect_python

        prefect = prefect_python()
    from dulwich import porcelain

    from codeferry_git.credentials import GitCredentials
    from codeferry_git.repository import GitRepository

    def dulwich_clone(target: Path) -> None:
        porcelain.clone(
            served.url, str(target), depth=1, username=USER, password=TOKEN, errstream=io.BytesIO()
        ).close()

    work = Path(tempfile.mkdtemp(prefix="git-bench-"))
    results = {key: Samples(name) for key, name in NAMES.items()}
    with served_repository(work, files) as served:
        tools = Tools(served, prefect)
        label = server_label()
        print(f"{files:,} files, {COMMITS} commits; {label}; {rounds} rounds")
        for number in range(rounds):
            base = work / f"round{number}"
            base.mkdir()
            os.environ["CODEFERRY_HOME"] = str(base / "home")
            repo = GitRepository(
                url=served.url, credentials=GitCredentials(username=USER, token=TOKEN)
            )
            in_repo = partial(repo.pull_code, base / "in")

            def each_tool(
                kind: str, git_step: Callable[[Path], Run], base: Path = base, number: int = number
            ) -> None:
                """git, codeferry, then codeferry on dulwich (the order alternating by round)."""
                alternated(
                    results,
                    number,
                    (f"{kind}-git", git_step, base / "git"),
                    (f"{kind}-cf", tools.codeferry_pull, base / "cf"),
                    (f"{kind}-cf-dulwich", tools.codeferry_dulwich, base / "cf-dulwich"),
                )

            each_tool("fresh", tools.git_clone)
            add(results["fresh-cf-in"], in_process(in_repo))
            add(results["fresh-dulwich"], in_process(partial(dulwich_clone, base / "dulwich")))
            if prefect is not None:
                add(results["fresh-prefect"], tools.prefect_clone(base / "prefect"))
            each_tool("same", tools.git_fetch)
            served.add_commit(number)
            each_tool("new", tools.git_update)
            add(results["new-cf-in"], in_process(in_repo))
            if prefect is not None:
                add(results["new-prefect"], tools.prefect_clone(base / "prefect"))
            shutil.rmtree(base, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    for title, keys in (
        (
            "fresh shallow pull",
            ("fresh-git", "fresh-cf", "fresh-cf-dulwich", "fresh-cf-in", "fresh-dulwich"),
        ),
        ("re-pull, nothing new", ("same-git", "same-cf", "same-cf-dulwich")),
        ("re-pull of one new commit", ("new-git", "new-cf", "new-cf-dulwich", "new-cf-in")),
    ):
        print(title)
        baseline = results[keys[0]]
        for key in (*keys, "fresh-prefect" if title.startswith("fresh") else "new-prefect"):
            if results[key].seconds:
                print("  " + results[key].row(None if key == keys[0] else baseline))
    record(results, rounds, files, label, prefect)


def record(
    results: dict[str, Samples], rounds: int, files: int, label: str, prefect: Path | None
) -> None:
    def measured(key: str, label: str) -> dict[str, Any] | None:
        return series(results[key], label) if results[key].seconds else None

    prefect_fresh = measured("fresh-prefect", "Prefect git_clone step (process)")
    prefect_again = measured("new-prefect", "Prefect git_clone step again (process)")
    process, in_process = "codeferry pull (process)", "codeferry pull_code (in-process)"
    dulwich = "codeferry pull, dulwich (process)"
    fresh = f"fresh shallow clone, {files:,} files"
    repull = f"re-pull of one new commit, {CHANGED} files changed"
    rows: list[tuple[str, str, str, str, str, dict[str, Any] | None, str | None, str]] = [
        # case, title, our samples and their label, the raw baseline, Prefect's, another tool's
        ("fresh-process", f"{fresh} (whole process)", "fresh-cf", process, "fresh-git",
         prefect_fresh, "fresh-cf-dulwich", dulwich),
        ("fresh", f"{fresh} (in-process)", "fresh-cf-in", in_process, "fresh-git",
         prefect_fresh, "fresh-dulwich", "dulwich porcelain.clone(depth=1)"),
        ("unchanged-process", "re-pull, nothing new (whole process)", "same-cf", process,
         "same-git", None, "same-cf-dulwich", dulwich),
        ("repull-process", f"{repull} (whole process)", "new-cf", process, "new-git",
         prefect_again, "new-cf-dulwich", dulwich),
        ("repull", f"{repull} (in-process)", "new-cf-in", in_process, "new-git",
         prefect_again, None, ""),
    ]  # fmt: skip
    cases = [
        case(
            case_id,
            title,
            series(results[ours], label),
            raw=series(results[raw]),
            prefect=theirs,
            others=[series(results[other], other_label)] if other else [],
        )
        for case_id, title, ours, label, raw, theirs, other, other_label in rows
    ]
    write_family(
        "git",
        "Git",
        cases,
        rounds=rounds,
        prefect_python=prefect,
        server=label,
        notes=[
            f"A repository of {files:,} files and {COMMITS} commits, served as a git host serves"
            " it: nginx, fcgiwrap and git's own `git http-backend`, with Basic auth. Whole-process"
            " rows time `codeferry pull URL`, the git CLI and Prefect's `git_clone` step from"
            " process start to exit, each with its peak RSS (the largest process's: `git clone`"
            " also runs `index-pack`); in-process rows time `pull_code` alone. codeferry's rows"
            " use git's own program where git is installed (its default); the dulwich rows"
            " (`CODEFERRY_GIT_BINARY=never`) are what a machine without git gets.",
            CORRECTION,
        ],
    )


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("rounds", nargs="?", type=int, default=5)
    parser.add_argument("--files", type=int, default=FILES)
    parser.add_argument("--no-prefect", action="store_true")
    options = parser.parse_args()
    with recorded("git", "Git"):
        main(options.rounds, options.files, not options.no_prefect)
