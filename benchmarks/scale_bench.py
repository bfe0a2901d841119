"""How each pull's cost grows with the number of files, beside the git CLI and the raw baselines.

    python benchmarks/scale_bench.py [--rounds 3] [--large] [--backends git,s3,azure]

- git (nginx + fcgiwrap + git http-backend, Basic auth): a fresh ``codeferry pull URL`` vs
  ``git clone --depth 1``, a re-pull with nothing new vs ``git fetch --depth 1``, and a re-pull of
  one new commit changing 25 files vs ``git fetch --depth 1`` + ``git reset --keep``, at 5,000
  and 20,000 files (and 50,000 with ``--large``), each a whole process;
- blob stores (S3 on moto; Azure on Azurite with ``--backends ...,azure``): codeferry's cold pull
  vs the raw concurrent download and its warm re-pull with nothing changed vs one raw listing, at
  2,000 files of 1-20 KB (and 20,000 with ``--large``); each pull timed inside a fresh process,
  as ``s3_bench.py`` and ``azure_bench.py`` time them (their children are reused).

Writes ``benchmarks/results/scale.json``; ``report.py`` draws its table and chart.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import blob_shapes  # noqa: E402
import git_bench  # noqa: E402
from recording import case, recorded, series, write_family  # noqa: E402
from timing import Samples  # noqa: E402

GIT_FILES = (5_000, 20_000)
GIT_FILES_LARGE = (50_000,)
BLOB_FILES = (2_000,)
BLOB_FILES_LARGE = (20_000,)
GIT_COMMITS = 20  # history beyond depth 1 is never fetched; fewer commits build faster


def git_sizes(files: int, rounds: int) -> list[dict[str, Any]]:
    """The git cases at ``files`` files: fresh clone, nothing new, one new commit."""
    keys = {
        "fresh": ("git clone --depth 1", "codeferry pull"),
        "same": ("git fetch --depth 1 (nothing new)", "codeferry pull"),
        "new": ("git fetch --depth 1 + reset --keep", "codeferry pull"),
    }
    results = {
        f"{kind}-{role}": Samples(name)
        for kind, names in keys.items()
        for role, name in zip(("git", "cf"), names, strict=True)
    }
    work = Path(tempfile.mkdtemp(prefix="scale-git-"))
    try:
        with git_bench.served_repository(work / "served", files, GIT_COMMITS) as served:
            tools = git_bench.Tools(served)
            label = git_bench.server_label()
            for number in range(rounds):
                base = work / f"round{number}"
                base.mkdir()
                git, ours, pull = base / "git", base / "cf", tools.codeferry_pull
                for kind, step in (
                    ("fresh", tools.git_clone),
                    ("same", tools.git_fetch),
                    ("new", tools.git_update),
                ):
                    if kind == "new":
                        served.add_commit(number)
                    pairs = ((f"{kind}-git", step, git), (f"{kind}-cf", pull, ours))
                    git_bench.alternated(results, number, *pairs)
                shutil.rmtree(base, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    titles = {
        "fresh": "git fresh shallow clone",
        "same": "git re-pull, nothing new",
        "new": f"git re-pull, one new commit of {git_bench.CHANGED} files",
    }
    cases = []
    for kind in keys:
        by_git, by_codeferry = results[f"{kind}-git"], results[f"{kind}-cf"]
        print(f"{titles[kind]}, {files:,} files")
        print("  " + by_git.row())
        print("  " + by_codeferry.row(by_git))
        cases.append(
            scale_case(
                f"git-{kind}", titles[kind], files, series(by_codeferry), series(by_git), label
            )
        )
    return cases


def scale_case(
    operation_id: str,
    operation: str,
    files: int,
    ours: dict[str, Any],
    raw: dict[str, Any],
    server: str,
) -> dict[str, Any]:
    """A case of the scale family: one operation at one size, with what served it."""
    found = case(f"{operation_id}-{files}", f"{operation}, {files:,} files", ours, raw=raw)
    found.update(operation_id=operation_id, operation=operation, files=files, server=server)
    return found


# -- blob stores -------------------------------------------------------------------------------


@contextlib.contextmanager
def s3_store(files: dict[str, bytes]) -> Iterator[tuple[dict[str, str], str]]:
    """moto with ``files`` in the bucket and folder ``s3_bench.py``'s children pull."""
    import s3_bench

    from tests.servers.moto_s3 import running_moto

    with running_moto() as server:
        client = server.client(s3_bench.KEY, s3_bench.SECRET)
        client.create_bucket(Bucket=s3_bench.BUCKET)
        s3_bench.upload(client, files)
        yield s3_bench.children_environment(server.endpoint), "moto_server on 127.0.0.1"


@contextlib.contextmanager
def azure_store(files: dict[str, bytes]) -> Iterator[tuple[dict[str, str], str]]:
    """Azurite with ``files`` in the container and folder ``azure_bench.py``'s children pull."""
    import azure_bench
    from azure.storage.blob import BlobServiceClient

    from tests.servers.azurite import azurite_program, running_azurite

    program = azurite_program()
    if program is None:
        raise SystemExit("node and npm are needed for Azurite (tests/servers/node)")
    with running_azurite(program) as server:
        connection = server.connection_string()
        with BlobServiceClient.from_connection_string(connection) as service:
            service.create_container("scale")
        azure_bench.upload(connection, "scale", files)
        yield azure_bench.children_environment(connection, "scale"), "Azurite on 127.0.0.1"


BLOB_STORES = {
    "s3": ("S3", s3_store, HERE / "s3_bench.py"),
    "azure": ("Azure", azure_store, HERE / "azure_bench.py"),
}


def blob_sizes(store: str, files: int, rounds: int) -> list[dict[str, Any]]:
    """Cold pull vs raw download, warm re-pull vs one listing, at ``files`` files of 1-20 KB."""
    title, running, children = BLOB_STORES[store]
    shape = f"{files} x 1-20 KB"
    tree = blob_shapes.make_tree("2000 x 1-20 KB", files=files)
    names = ("raw concurrent download (cold)", "codeferry cold pull")
    cold = {name: blob_shapes.Samples(name) for name in names}
    warm = blob_shapes.Samples("codeferry warm, nothing changed")
    listing = blob_shapes.Samples(blob_shapes.RAW_LISTING)
    work = Path(tempfile.mkdtemp(prefix=f"scale-{store}-"))
    try:
        with running(tree) as (env, server):
            for number in range(rounds):
                base = work / f"round{number}"
                run_env = {**env, "CODEFERRY_HOME": str(base / "home")}

                def child(name: str, target: Path) -> list[str]:
                    return [str(children), "--child", name, str(target)]

                order = [(names[0], "raw", base / "raw"), (names[1], "codeferry", base / "co")]
                for name, kind, target in order if number % 2 == 0 else order[::-1]:
                    blob_shapes.measure(cold[name], child(kind, target), run_env)
                blob_shapes.measure(warm, child("codeferry", base / "co"), run_env)
                blob_shapes.measure(listing, child("raw-list", base / "list"), run_env)
                shutil.rmtree(base, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    raw = cold[names[0]]
    print(f"{title}, {shape}")
    for samples in (*cold.values(), warm, listing):
        print(samples.row(None if samples is raw else raw))
    return [
        scale_case(
            f"{store}-cold",
            f"{title} cold pull",
            files,
            series(cold[names[1]]),
            series(raw),
            server,
        ),
        scale_case(
            f"{store}-warm",
            f"{title} warm re-pull, nothing changed",
            files,
            series(warm),
            series(listing),
            server,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--large",
        action="store_true",
        help="add git at 50,000 files and the blob stores at 20,000 (about 30 min more)",
    )
    parser.add_argument("--backends", default="git,s3", help="comma-separated: git, s3, azure")
    options = parser.parse_args()
    backends = [name.strip() for name in options.backends.split(",") if name.strip()]
    unknown = set(backends) - {"git", *BLOB_STORES}
    if unknown:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    cases: list[dict[str, Any]] = []
    if "git" in backends:
        for files in GIT_FILES + (GIT_FILES_LARGE if options.large else ()):
            cases += git_sizes(files, options.rounds)
    for store in (name for name in backends if name in BLOB_STORES):
        for files in BLOB_FILES + (BLOB_FILES_LARGE if options.large else ()):
            cases += blob_sizes(store, files, options.rounds)
    servers = dict.fromkeys(found["server"] for found in cases)
    write_family(
        "scale",
        "Scale",
        cases,
        rounds=options.rounds,
        server="; ".join(servers),
        notes=[
            "How each cost grows with the number of files. Git: whole processes (`codeferry pull"
            " URL` beside the git CLI), a repository of small Python files served by nginx,"
            " fcgiwrap and `git http-backend`. Blob stores: the pull timed inside a fresh process"
            " beside the raw concurrent download (cold) and one raw listing (warm), files of"
            " 1-20 KB. Sizes beyond the default ones are measured with `--large`.",
        ],
    )


if __name__ == "__main__":
    with recorded("scale", "Scale"):
        main()
