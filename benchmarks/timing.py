"""Measuring commands as separate processes: wall time and peak memory, rounds alternated."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass
class Samples:
    name: str
    seconds: list[float] = field(default_factory=list)
    peak_rss_mb: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def row(self, baseline: Samples | None = None) -> str:
        ratio = f"{self.median / baseline.median:6.2f}x" if baseline else "       "
        rss = f"{max(self.peak_rss_mb):7.1f} MB" if self.peak_rss_mb else ""
        return (
            f"{self.name:<44} median {self.median * 1000:8.1f} ms  "
            f"[{min(self.seconds) * 1000:7.1f} - {max(self.seconds) * 1000:7.1f}]  {ratio} {rss}"
        )


def run_process(
    argv: Sequence[str], env: Mapping[str, str] | None = None, cwd: str | None = None
) -> tuple[float, float]:
    """Run ``argv`` once; return (wall seconds, peak RSS in MB of that process)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        list(argv),
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
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {stderr.decode()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def alternate(cases: Mapping[str, Callable[[], float]], rounds: int) -> dict[str, Samples]:
    """Run each case once per round, in turn, so drift affects every case alike."""
    results = {name: Samples(name) for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            results[name].seconds.append(case())
    return results
