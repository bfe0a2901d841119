"""Recording a benchmark family's results as JSON, for ``report.py`` to turn into the docs page.

Each ``*_bench.py`` ends with :func:`write_family`: one file per family,
``benchmarks/results/<family>.json``, holding every case's samples (ours, the raw baseline and
Prefect side by side), their median, min and max, the ratios, the versions measured, the machine
and the exact command. A family that could not run records why instead (:func:`recorded`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

RESULTS = Path(__file__).resolve().parent / "results"


class Measured(Protocol):
    """What :func:`series` reads: ``timing.Samples`` and ``blob_shapes.Samples`` both are."""

    name: str
    seconds: list[float]
    peak_rss_mb: list[float]


def series(samples: Measured, label: str | None = None) -> dict[str, Any]:
    """One tool's numbers for a case: samples in seconds, median, min, max, peak RSS."""
    wall: list[float] = list(getattr(samples, "wall", []))
    cpu: list[float] = [value for value in getattr(samples, "cpu_seconds", []) if value]
    peaks = [value for value in samples.peak_rss_mb if value]
    return {
        "label": label or samples.name,
        "samples": list(samples.seconds),
        "median": statistics.median(samples.seconds),
        "min": min(samples.seconds),
        "max": max(samples.seconds),
        "peak_rss_mb": max(peaks) if peaks else None,
        "process_median": statistics.median(wall) if wall else None,
        "cpu_median": statistics.median(cpu) if cpu else None,
    }


def case(
    case_id: str,
    title: str,
    ours: dict[str, Any],
    raw: dict[str, Any] | None = None,
    prefect: dict[str, Any] | None = None,
    others: Sequence[dict[str, Any]] = (),
    note: str = "",
) -> dict[str, Any]:
    """A row of the report: codeferry beside the raw baseline and Prefect, with the ratios."""
    return {
        "id": case_id,
        "title": title,
        "ours": ours,
        "raw": raw,
        "prefect": prefect,
        "others": list(others),
        "ratio_to_raw": ours["median"] / raw["median"] if raw else None,
        "ratio_to_prefect": ours["median"] / prefect["median"] if prefect else None,
        "note": note,
    }


def _prefect_versions(python: Path) -> dict[str, str]:
    script = (
        "import json, importlib.metadata as m\n"
        "names = ('prefect', 'prefect-aws', 'prefect-azure', 'prefect-gcp', 'prefect-docker')\n"
        "found = {}\n"
        "for name in names:\n"
        "    try: found[name] = m.version(name)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(found))"
    )
    done = subprocess.run([str(python), "-c", script], capture_output=True, text=True, check=True)
    found: dict[str, str] = json.loads(done.stdout)
    return found


def versions(prefect_python: Path | None = None) -> dict[str, str]:
    """codeferry, Python and, when it took part, Prefect and its integrations."""
    found = {"codeferry": metadata.version("codeferry"), "python": platform.python_version()}
    if prefect_python is not None:
        found.update(_prefect_versions(prefect_python))
    return found


def machine() -> dict[str, Any]:
    """What ran the benchmark; the load average says whether something else competed for it."""
    cpu = platform.processor()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }


def command() -> str:
    """The command line that ran this benchmark, as a reader would type it."""
    script = Path(sys.argv[0]).resolve()
    with contextlib.suppress(ValueError):
        script = script.relative_to(Path.cwd())
    return " ".join(["python", script.as_posix(), *sys.argv[1:]])


def _write(family: str, content: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / f"{family}.json"
    target.write_text(json.dumps(content, indent=2) + "\n")
    return target


def write_family(
    family: str,
    title: str,
    cases: Sequence[dict[str, Any]],
    *,
    rounds: int,
    prefect_python: Path | None = None,
    server: str,
    notes: Sequence[str] = (),
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``results/<family>.json`` with ``cases`` and what they were measured with.

    ``server`` names what served the transfers (``"none"`` when nothing did); ``extra`` adds
    family-specific fields for the report.
    """
    path = _write(
        family,
        {
            "family": family,
            "title": title,
            "command": command(),
            "rounds": rounds,
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "versions": versions(prefect_python),
            "machine": machine(),
            "server": server,
            "notes": list(notes),
            "cases": list(cases),
            **(extra or {}),
        },
    )
    print(f"results written to {path}")
    return path


@contextlib.contextmanager
def recorded(family: str, title: str) -> Iterator[None]:
    """Run a family's benchmark; if it fails, record why it was not measured, then re-raise."""
    try:
        yield
    except (Exception, SystemExit) as error:
        if isinstance(error, SystemExit) and not isinstance(error.code, str):
            raise  # a usage error or a plain exit, not a reason the family could not run
        reason = str(error).strip().splitlines()[-1:] or [type(error).__name__]
        _write(
            family,
            {
                "family": family,
                "title": title,
                "command": command(),
                "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "not_measured": f"{type(error).__name__}: {reason[0]}"[:500],
                "machine": machine(),
            },
        )
        raise


def run_rounds(family: str, title: str, main: Callable[[int], None], description: str) -> None:
    """A family's command line: ``[rounds]`` (5 by default), then ``main(rounds)``, recorded."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("rounds", nargs="?", type=int, default=5)
    with recorded(family, title):
        main(parser.parse_args().rounds)
