"""A virtual environment with Prefect and its integrations, for side-by-side benchmarks.

Prefect is never installed into codeferry's own environment: the benchmarks create this one
(once, then reuse it) and run Prefect's commands and steps in it as separate processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DEFAULT_DIR = Path(os.environ.get("PREFECT_BENCH_VENV", Path.home() / ".cache" / "codeferry-bench"))

# The release line the developers' guide compares with.
PREFECT = "prefect~=3.8.0"
# Every integration a benchmark compares with, installed together: one venv, one resolve.
INTEGRATIONS = (
    "prefect-aws",
    "prefect-azure[blob_storage]",
    "prefect-gcp[cloud_storage]",
    "prefect-docker",
)


def prefect_python(*packages: str, root: Path = DEFAULT_DIR) -> Path:
    """The interpreter of a venv holding ``prefect``, its integrations and ``packages``.

    Created when missing; packages are installed only when the venv's marker lacks one of them.
    """
    venv = root / "prefect-venv"
    python = venv / "bin" / "python"
    wanted = [PREFECT, *INTEGRATIONS, *packages]
    marker = venv / ".installed"
    if marker.exists() and set(marker.read_text().split()) >= set(wanted):
        return python
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-U", "pip"], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *wanted], check=True)
    marker.write_text("\n".join(sorted(set(wanted))))
    return python


def prefect_bin(python: Path, name: str = "prefect") -> Path:
    return python.parent / name
