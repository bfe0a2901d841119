"""Virtual environments with Prefect (and its integrations) or Airflow, for side-by-side benchmarks.

Neither is ever installed into codeferry's own environment: the benchmarks create these (once,
then reuse them) and run the orchestrators' commands, steps and bundles in them as separate
processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DEFAULT_DIR = Path(os.environ.get("PREFECT_BENCH_VENV", Path.home() / ".cache" / "codeferry-bench"))

# The release the integration tests run (noxfile.py): 3.8 no longer starts its API server with the
# FastAPI that pip now resolves for it (Body() lost min_items).
PREFECT = "prefect==3.9.1"
# Every integration a benchmark compares with, installed together: one venv, one resolve.
INTEGRATIONS = (
    "prefect-aws",
    "prefect-azure[blob_storage]",
    "prefect-gcp[cloud_storage]",
    "prefect-docker",
)
# Airflow 3 (DAG bundles) and the provider of its own S3 bundle, as the integration tests pin it.
AIRFLOW = ("apache-airflow==3.3.2", "apache-airflow-providers-amazon==9.39.0")


def prefect_python(*packages: str, root: Path = DEFAULT_DIR) -> Path:
    """The interpreter of a venv holding ``prefect``, its integrations and ``packages``.

    Created when missing; packages are installed only when the venv's marker lacks one of them.
    """
    return venv_python("prefect-venv", [PREFECT, *INTEGRATIONS, *packages], root=root)


def airflow_python(*packages: str, root: Path = DEFAULT_DIR) -> Path:
    """The interpreter of a venv holding Airflow 3, its Amazon provider and ``packages``."""
    return venv_python("airflow-venv", [*AIRFLOW, *packages], root=root)


def venv_python(name: str, wanted: list[str], *, root: Path = DEFAULT_DIR) -> Path:
    """The interpreter of venv ``root/name`` holding ``wanted`` (pip requirements or options)."""
    venv = root / name
    python = venv / "bin" / "python"
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
