"""What the blob-storage benchmarks share: the trees they pull, and timing pulls in child processes.

Two shapes, as issue 5 asks: 2,000 files of 1-20 KB in nested folders, and 20 files of 5 MB.
Each measured pull runs in a fresh child process (so imports and caches are as on a worker, and
the child's peak memory is its own); the child times the pull itself and prints it as JSON, and
the parent adds the process's wall time and peak RSS.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SHAPES = {
    "2000 x 1-20 KB": {"files": 2_000, "min": 1_024, "max": 20 * 1_024},
    "20 x 5 MB": {"files": 20, "min": 5 * 1_024 * 1_024, "max": 5 * 1_024 * 1_024},
}


def make_tree(shape: str, seed: int = 5, files: int | None = None) -> dict[str, bytes]:
    """The files of ``shape``: nested folders, sizes drawn from the shape's range.

    ``files`` overrides the shape's count (the scale benchmark: 20,000 files of 1-20 KB).
    """
    spec = SHAPES[shape]
    rng = random.Random(seed)
    tree: dict[str, bytes] = {}
    for number in range(spec["files"] if files is None else files):
        size = rng.randint(spec["min"], spec["max"])
        folder = f"pkg{number % 10}/sub{number % 7}/deep{number % 3}"
        tree[f"{folder}/module_{number}.py"] = rng.randbytes(size)
    return tree


def changed_subset(
    files: Mapping[str, bytes], fraction: float, round_number: int
) -> dict[str, bytes]:
    """``fraction`` of ``files`` (at least one) with new contents."""
    names = sorted(files)[:: max(1, round(1 / fraction))]
    return {
        name: f"changed in round {round_number}\n".encode() + files[name][64:] for name in names
    }


@dataclass
class Samples:
    name: str
    seconds: list[float] = field(default_factory=list)  # the pull itself, timed in the child
    wall: list[float] = field(default_factory=list)  # the child process, start to exit
    peak_rss_mb: list[float] = field(default_factory=list)

    def row(self, baseline: Samples | None = None) -> str:
        median = statistics.median(self.seconds)
        ratio = f"{median / statistics.median(baseline.seconds):6.2f}x" if baseline else "       "
        return (
            f"  {self.name:<40} median {median * 1000:8.1f} ms "
            f"[{min(self.seconds) * 1000:7.1f} - {max(self.seconds) * 1000:7.1f}] {ratio}  "
            f"process {statistics.median(self.wall) * 1000:7.1f} ms, "
            f"peak {max(self.peak_rss_mb):6.1f} MB"
        )


def run_child(
    argv: Sequence[str], env: Mapping[str, str], python: Path | str = sys.executable
) -> tuple[float, float, float]:
    """Run a child that prints ``{"seconds": ...}``; return (pull s, wall s, peak RSS MB).

    ``python`` runs it: codeferry's interpreter, or the Prefect venv's for Prefect's steps.
    """
    start = time.perf_counter()
    process = subprocess.Popen(
        [str(python), *argv],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - start
    # communicate() reaped the child; its rusage is in RUSAGE_CHILDREN only in aggregate, so the
    # child reports its own peak RSS alongside its timing.
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{stderr.decode()[-3000:]}")
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    return float(result["seconds"]), wall, float(result["peak_rss_mb"])


def measure(
    samples: Samples,
    argv: Sequence[str],
    env: Mapping[str, str],
    python: Path | str = sys.executable,
) -> None:
    """Run one child pull and add its numbers to ``samples``."""
    seconds, wall, peak = run_child(argv, env, python)
    samples.seconds.append(seconds)
    samples.wall.append(wall)
    samples.peak_rss_mb.append(peak)


def report_child(seconds: float) -> None:
    """Print what :func:`run_child` reads: the pull's time and this process's peak RSS.

    The peak is ``VmHWM`` of this program image: ``ru_maxrss`` would also count the benchmark
    process this child was forked from (Linux keeps it across ``exec``), which holds the files.
    """
    peak_kb = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak_kb = float(line.split()[1])
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_kb / 1024}))


RAW_LISTING = "raw listing (warm baseline)"
"""The samples of one plain listing of the folder: what a re-pull with nothing changed must do."""

RAW_COLD = "raw concurrent download (cold)"
COLD = "codeferry cold pull"
WARM = "codeferry warm, nothing changed"
WARM_CLI = "codeferry pull, warm, nothing changed (whole process)"
CHANGED = "codeferry warm, 1% changed"
CLI_CHILD = str(Path(__file__).resolve().with_name("cli_child.py"))


def pull_rounds(
    script: str,
    work: Path,
    rounds: int,
    env: Mapping[str, str],
    files: dict[str, bytes],
    upload: Callable[[dict[str, bytes]], None],
    prefect: tuple[str, Path],
) -> dict[str, Samples]:
    """Time ``rounds`` rounds of every pull of one shape, each in a child running ``script``.

    ``script --child NAME DESTINATION`` runs the children ``raw``, ``raw-list``, ``codeferry``
    and ``prefect``; codeferry's pulls the source ``env["BENCH_URL"]`` (its credentials in
    ``env``, as a worker's are). A round: the two cold pulls (raw first in even rounds, codeferry
    in odd ones: neither always follows the other), codeferry's warm re-pull timed inside its
    process and ``codeferry pull BENCH_URL`` as a whole process (in turn first), the raw listing,
    then ``upload`` of 1% of ``files`` changed and the warm re-pull that finds them, then
    Prefect's pull (``prefect``: its samples' name and its interpreter). ``files`` is kept up to
    date.
    """
    prefect_name, prefect_python = prefect
    names = (RAW_COLD, COLD, WARM, WARM_CLI, CHANGED, prefect_name, RAW_LISTING)
    results = {name: Samples(name) for name in names}
    for round_number in range(rounds):
        base = work / f"round-{round_number}"
        run_env = {
            **env,
            "CODEFERRY_HOME": str(base / "home"),
            "PREFECT_HOME": str(base / "prefect-home"),
        }

        def child(name: str, target: str, base: Path = base) -> list[str]:
            return [script, "--child", name, str(base / target)]

        cold = [(RAW_COLD, "raw", "raw"), (COLD, "codeferry", "checkout")]
        for name, kind, target in cold if round_number % 2 == 0 else cold[::-1]:
            measure(results[name], child(kind, target), run_env)
        cli = [CLI_CHILD, "pull", env["BENCH_URL"], "--dest", str(base / "checkout")]
        warm = [(WARM, child("codeferry", "checkout")), (WARM_CLI, cli)]
        for name, argv in warm if round_number % 2 == 0 else warm[::-1]:
            measure(results[name], argv, run_env)
        measure(results[RAW_LISTING], child("raw-list", "list"), run_env)
        changed = changed_subset(files, 0.01, round_number)
        upload(changed)
        files.update(changed)
        measure(results[CHANGED], child("codeferry", "checkout"), run_env)
        measure(results[prefect_name], child("prefect", "prefect"), run_env, prefect_python)
        shutil.rmtree(base, ignore_errors=True)
    return results


def print_shape(shape: str, files: Mapping[str, bytes], results: Mapping[str, Samples]) -> None:
    """The shape's numbers on standard output, each ratio to the raw cold download."""
    total = sum(len(data) for data in files.values())
    print(f"{shape}: {len(files)} files, {total / 1e6:.1f} MB")
    raw = results[RAW_COLD]
    for samples in results.values():
        print(samples.row(None if samples is raw else raw))


def record_shapes(
    family: str,
    title: str,
    shapes: dict[str, dict[str, Samples]],
    rounds: int,
    note: str,
    server: str,
    prefect: str | None = None,
    prefect_python: Path | None = None,
) -> None:
    """Write the family's results: per shape, cold vs raw, then the two warm re-pulls.

    ``server`` names what served them; ``prefect`` names the results' Prefect samples (a full
    download each time), set beside every case; ``prefect_python`` is its interpreter, for the
    versions.
    """
    from recording import case, series, write_family

    cases = []
    for (shape, results), slug in zip(shapes.items(), ("small", "large"), strict=False):
        raw = series(results[RAW_COLD])
        theirs = series(results[prefect]) if prefect else None
        cases += [
            case(
                f"cold-{slug}",
                f"cold pull, {shape}",
                series(results[COLD]),
                raw,
                theirs,
            ),
            case(
                f"warm-{slug}",
                f"warm re-pull, nothing changed, {shape}",
                series(whole_process(results[WARM], results[WARM_CLI])),
                series(results[RAW_LISTING]),
                theirs,
                note="Raw is one listing of the folder with the SDK, in a fresh process: the"
                " least a re-pull that finds nothing changed must do. codeferry's re-pull"
                " lists without the SDK where its plugin can (S3 with keys, Azure with a"
                " connection string), and imports the SDK only when something changed. Its"
                " time is the pull timed inside a process; its whole process is"
                " `codeferry pull URL --dest DIR` (credentials in the environment), run in the"
                " same rounds."
                + (
                    " Prefect has no incremental pull: its number is a full download."
                    if prefect
                    else ""
                ),
            ),
            case(
                f"changed-{slug}",
                f"warm re-pull, 1% changed, {shape}",
                series(results[CHANGED]),
                raw,
                theirs,
                note="The raw baseline has no incremental mode: its number is the cold download.",
            ),
        ]
    write_family(
        family,
        title,
        cases,
        rounds=rounds,
        prefect_python=prefect_python,
        server=server,
        notes=[note],
    )


def whole_process(inside: Samples, process: Samples) -> Samples:
    """The pulls timed ``inside`` a process, with the walls and peaks of the whole ``process``."""
    return Samples(inside.name, inside.seconds, process.wall, process.peak_rss_mb)


def url_pull(destination: Path, sdk: str) -> float:
    """The codeferry child: seconds the pull of the source ``BENCH_URL`` takes (see
    :func:`timed_pull`), its storage made before the clock starts."""
    from codeferry.plugins import get_plugins

    storage = get_plugins().storage_from_source(os.environ["BENCH_URL"])
    return timed_pull(storage, destination, sdk)


def timed_pull(storage: Any, destination: Path, sdk: str) -> float:
    """Seconds ``storage.pull_code(destination)`` takes, the SDK module ``sdk`` imported first
    (as the raw baselines and Prefect's steps have theirs imported before their clocks start).

    A URL's folder block (:class:`~codeferry.remote.url_folder.UrlFolder`) is made with it, as
    the storage objects of the raw baselines are made before their clocks start.

    Neither before a re-pull from a store that lists without its SDK (its ``quick_lister``): that
    pull imports the SDK (and makes the block) only if it finds a change, inside the clock, as a
    worker's does.
    """
    lists_without_sdk = getattr(getattr(storage, "store", None), "quick_lister", None)
    if not (lists_without_sdk and destination.exists()):
        importlib.import_module(sdk)
        getattr(storage, "block", None)
    return timed(lambda: storage.pull_code(destination))


def timed(function: Callable[[], object]) -> float:
    """Seconds ``function`` takes (a child's pull: its libraries are imported before)."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def run_script(
    family: str,
    title: str,
    main: Callable[[int], None],
    **children: Callable[[Path], float],
) -> None:
    """A blob benchmark's entry point: ``--child NAME DESTINATION`` runs one timed child and
    reports it (``children``: codeferry, raw, raw_list, prefect); otherwise ``main(rounds)``
    (``[rounds]``, 5 by default) runs, recorded."""
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        report_child(children[sys.argv[2].replace("-", "_")](Path(sys.argv[3])))
    else:
        from recording import run_rounds  # not in the children: their whole process is timed

        run_rounds(family, title, main, f"{title} pulls: codeferry, a raw download, Prefect")


def in_folder(destination: Path, pull: Callable[[], object]) -> float:
    """Seconds ``pull`` takes run from ``destination``: Prefect's steps pull into the working
    directory."""
    destination.mkdir(parents=True, exist_ok=True)
    os.chdir(destination)
    return timed(pull)
