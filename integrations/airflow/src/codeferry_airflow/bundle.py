"""An Airflow 3 DAG bundle for code in any storage codeferry can pull from.

::

    [dag_processor]
    dag_bundle_config_list = [{"name": "flows", "classpath": "codeferry_airflow.CodeferryDagBundle",
                               "kwargs": {"source": "s3://acme-dags/prod"}}]

Layout, under Airflow's bundle folder (``<dag_bundle_storage_path>/<name>/``)::

    checkout/             the codeferry checkout: every pulled version, the cache, its lock
    tracking -> checkout/current   what the DAG processor parses (the newest version)
    versions/<version>/   what a task runs: the version its DAG run started with

A bundle version is codeferry's version of the code (a commit, a manifest hash), the same on
every machine. A task's folder under ``versions/`` is made from the checkout's copy of that
version (hard links, no download) the first time a task needs it; Airflow's own stale-bundle
cleanup removes it later, under Airflow's own tracking locks, as it does for its git bundle.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.dag_processing.bundles.base import BaseDagBundle
from airflow.exceptions import AirflowException

from codeferry.checkouts import Checkout, link_version
from codeferry.paths import safe_join

if TYPE_CHECKING:
    from codeferry.checkouts import CheckoutVersion
    from codeferry.storage import CodeStorage, PullResult

__all__ = ["CodeferryDagBundle"]

_DEFAULT_KEEP = 10


class CodeferryDagBundle(BaseDagBundle):
    """DAGs kept anywhere codeferry pulls from: S3, GCS, Azure, git, an image, a folder.

    :param source: what ``codeferry pull`` takes: a URL (``s3://bucket/dags``,
        ``https://git.example.com/dags.git``, ``docker://registry/dags:latest``) or
        ``block:SLUG/NAME``, a storage block saved in codeferry's store (credentials included).
    :param subdir: the folder in the code that holds the DAGs (default: all of it).
    :param keep: how many pulled versions the checkout keeps, the newest included. A task whose
        version is no longer kept, on a machine that never ran it, fails with a clear error.
    """

    supports_versioning = True

    def __init__(
        self,
        *,
        source: str,
        subdir: str | None = None,
        keep: int = _DEFAULT_KEEP,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.subdir = subdir
        self.checkout = Checkout(self.base_dir / "checkout", link=self.tracking_dir, keep=keep)
        self._storage: CodeStorage | None = None

    @property
    def tracking_dir(self) -> Path:
        """The link to the newest version, which the DAG processor parses."""
        return Path(self.base_dir) / "tracking"

    @property
    def storage(self) -> CodeStorage:
        """The codeferry storage for :attr:`source` (made on first use: plugins load lazily)."""
        if self._storage is None:
            from codeferry import get_plugins

            self._storage = get_plugins().storage_from_source(self.source)
        return self._storage

    @property
    def path(self) -> Path:
        root = Path(self.versions_dir) / self.version if self.version else self.tracking_dir
        return safe_join(root, self.subdir) if self.subdir else root

    def initialize(self) -> None:
        with self.lock():
            if self.version:
                self._materialize(self.version)
            else:  # as Airflow's own bundles do: the latest (an incremental pull)
                self._pull()
        super().initialize()

    def refresh(self) -> None:
        """Pull what changed since the last pull (nothing is written when nothing changed)."""
        if self.version:
            raise AirflowException(
                f"bundle {self.name!r} is pinned to version {self.version}; it cannot be refreshed"
            )
        with self.lock():
            self._pull()

    def get_current_version(self) -> Any:
        """The codeferry version of the code at :attr:`path`, or ``None`` before a pull."""
        if self.version:
            return _bundle_version(self.version)
        current = self.checkout.current
        return _bundle_version(current.version) if current is not None else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, source={self.source!r})"

    # -- internals -----------------------------------------------------------------------------

    def _pull(self) -> PullResult:
        # Airflow's lock is held: one pull per bundle across Airflow's processes, and codeferry's
        # own checkout lock inside it for anything else pulling into the same checkout.
        return self.checkout.pull(self.storage)

    def _materialize(self, version: str) -> None:
        """Make ``versions/<version>`` from the checkout's copy of it (pulling first if need be)."""
        target = safe_join(Path(self.versions_dir), version)
        if target.is_dir():
            return
        retained = self._retained(version)
        if retained is None:
            # A worker that never pulled this bundle, or a version newer than the last pull.
            self._pull()
            retained = self._retained(version)
        if retained is None:
            kept = ", ".join(v.version for v in self.checkout.versions()) or "none"
            raise AirflowException(
                f"bundle {self.name!r}: version {version} is no longer at {self.storage} nor kept "
                f"in {self.checkout.root} (kept: {kept}); raise the bundle's `keep` "
                f"(now {self.checkout.keep}) to keep more versions for running DAG runs"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
        try:
            link_version(retained.directory, staging)
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _retained(self, version: str) -> CheckoutVersion | None:
        for candidate in self.checkout.versions():
            if candidate.version == version:
                return candidate
        return None


def _bundle_version(version: str) -> Any:
    """Airflow 3.3's ``BundleVersion``, or the plain string earlier releases expect."""
    try:
        from airflow.dag_processing.bundles.base import BundleVersion
    except ImportError:
        return version
    return BundleVersion(version=version)
