"""Measuring commands as separate processes: wall time, peak memory and CPU time."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

_GNU_TIME = "/usr/bin/time"
_MARK = "@@peak-kb "


@dataclass
class Samples:
    name: str
    seconds: list[float] = field(default_factory=list)
    peak_rss_mb: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def row(self, baseline: Samples | None = None) -> str:
        ratio = f"{self.median / baseline.median:6.2f}x" if baseline else "       "
        rss = f"{max(self.peak_rss_mb):7.1f} MB" if any(self.peak_rss_mb) else ""
        cpu = (
            f" cpu {statistics.median(self.cpu_seconds) * 1000:7.1f} ms"
            if any(self.cpu_seconds)
            else ""
        )
        return (
            f"{self.name:<44} median {self.median * 1000:8.1f} ms  "
            f"[{min(self.seconds) * 1000:7.1f} - {max(self.seconds) * 1000:7.1f}]  {ratio} {rss}"
            f"{cpu}"
        )


class Run(NamedTuple):
    """One run of a command: wall seconds, peak RSS in MB, CPU seconds (user + system)."""

    seconds: float
    peak_rss_mb: float
    cpu_seconds: float


def run_process(
    argv: Sequence[str], env: Mapping[str, str] | None = None, cwd: str | None = None
) -> Run:
    """Run ``argv`` once; return its wall time, peak RSS and CPU time (children included).

    The peak comes from GNU ``time`` (``%M``) when it is installed: the ``ru_maxrss`` this
    process gets from ``wait4`` starts at the RSS of the process the child was forked from
    (Linux carries it across ``exec``), so a small command run from a benchmark holding 300 MB
    would show 300 MB. ``time`` is small, and it forks the command itself. Where several
    processes take part (``git clone`` runs ``index-pack``), the peak is the largest one's.
    """
    gnu_time = _GNU_TIME if Path(_GNU_TIME).is_file() else None
    command = [gnu_time, "-f", f"{_MARK}%M", *argv] if gnu_time else list(argv)
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)  # this child's own rusage, unlike RUSAGE_CHILDREN
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr, _, peak = stderr.rpartition(_MARK.encode())
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {stderr.decode()[-2000:]}")
    peak_kb = float(peak.split()[0]) if gnu_time else usage.ru_maxrss
    return Run(elapsed, peak_kb / 1024, usage.ru_utime + usage.ru_stime)


def alternate(cases: Mapping[str, Callable[[], float]], rounds: int) -> dict[str, Samples]:
    """Run each case once per round, in turn, so drift affects every case alike."""
    results = {name: Samples(name) for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            results[name].seconds.append(case())
    return results
