"""codeferry for Airflow 3: a DAG bundle for code in any storage codeferry pulls from."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from codeferry_airflow.bundle import CodeferryDagBundle

__all__ = ["CodeferryDagBundle", "__version__"]


def __getattr__(name: str) -> Any:
    # Airflow imports the bundle by its class path; importing the package alone stays light.
    if name == "CodeferryDagBundle":
        from codeferry_airflow.bundle import CodeferryDagBundle

        return CodeferryDagBundle
    raise AttributeError(f"module 'codeferry_airflow' has no attribute {name!r}")
