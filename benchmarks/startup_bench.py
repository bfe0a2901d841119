"""Start-up time: codeferry's commands beside Prefect's, as separate processes.

    python benchmarks/startup_bench.py [--rounds 15] [--no-prefect]

Prefect runs from its own virtual environment (see prefect_env.py). Every codeferry plugin
installed in this environment is loaded, as on a worker with every backend.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from recording import case, recorded, series, write_family
from timing import alternate, run_process

FLOOR = "python -c pass (interpreter floor)"
RUN_HELLO = "codeferry run examples/hello flows/hello.py:hello -- name=Ada times=2"
HELLO = Path(__file__).resolve().parent.parent / "examples" / "hello"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--no-prefect", action="store_true")
    options = parser.parse_args()

    codeferry = shutil.which("codeferry") or str(Path(sys.executable).parent / "codeferry")
    home = tempfile.mkdtemp(prefix="codeferry-bench-home-")
    env = {"CODEFERRY_HOME": home, "PREFECT_HOME": home}
    commands: dict[str, list[str]] = {
        FLOOR: [sys.executable, "-c", "pass"],
        "codeferry --help": [codeferry, "--help"],
        "codeferry plugins ls": [codeferry, "plugins", "ls"],
        "codeferry block type ls": [codeferry, "block", "type", "ls"],
        # What a worker runs before a flow run: a re-pull with nothing changed, then the call.
        RUN_HELLO: [
            codeferry,
            "run",
            str(HELLO),
            "flows/hello.py:hello",
            "--",
            "name=Ada",
            "times=2",
        ],
    }
    python: Path | None = None
    if not options.no_prefect:
        from prefect_env import prefect_bin, prefect_python

        python = prefect_python()
        prefect = str(prefect_bin(python))
        commands["prefect --help"] = [prefect, "--help"]
        commands["prefect block type ls"] = [prefect, "block", "type", "ls"]
    for argv in commands.values():  # warm the file cache and create the stores
        warm_up(argv, env)
    runs = {name: (lambda argv=argv: run_process(argv, env)[0]) for name, argv in commands.items()}
    results = alternate(runs, options.rounds)
    print(f"start-up, {options.rounds} rounds alternated, median [min - max]")
    pairs = {
        "codeferry --help": "prefect --help",
        "codeferry block type ls": "prefect block type ls",
    }
    for samples in results.values():
        print(samples.row())
    for ours, theirs in pairs.items():
        if theirs in results:
            ratio = results[theirs].median / results[ours].median
            print(f"{ours}: {ratio:.1f}x faster than {theirs}")
    floor = series(results[FLOOR])
    cases = [
        case(
            ours.removeprefix("codeferry ").replace(" ", "-").strip("-"),
            f"`{ours}`",
            series(results[ours]),
            raw=floor,
            prefect=series(results[theirs]) if theirs in results else None,
        )
        for ours, theirs in (*pairs.items(), ("codeferry plugins ls", ""))
    ]
    cases.append(case("run-hello", f"`{RUN_HELLO}`", series(results[RUN_HELLO]), raw=floor))
    write_family(
        "startup",
        "Start-up",
        cases,
        rounds=options.rounds,
        prefect_python=python,
        server="none: no transfer",
        notes=[
            "Each command is a separate process, rounds alternated; every codeferry plugin of"
            " this repository is installed. Raw is the interpreter floor: `python -c pass`."
            " Without `PREFECT_API_URL`, `prefect block type ls` starts Prefect's temporary API"
            " server for the command, as on a machine with no Prefect server configured."
        ],
    )


def warm_up(argv: list[str], env: dict[str, str], attempts: int = 3) -> None:
    """Run ``argv`` once, untimed; again if it fails, up to ``attempts`` times in all.

    Prefect's first ``block type ls`` in a new home creates its SQLite database, and once failed
    doing so with "database is locked" (an INSERT of its telemetry session). Timed runs still
    fail the benchmark on any error.
    """
    for attempt in range(1, attempts + 1):
        try:
            run_process(argv, env)
            return
        except RuntimeError:
            if attempt == attempts:
                raise


if __name__ == "__main__":
    with recorded("startup", "Start-up"):
        main()
