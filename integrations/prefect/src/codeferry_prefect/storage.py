"""Prefect's ``RunnerStorage`` for any codeferry source: ``flow.from_source(CodeferrySource(...))``.

::

    from prefect import flow
    from codeferry_prefect import CodeferrySource

    flow.from_source(CodeferrySource("s3://acme-flows/prod"), "flows/etl.py:etl").serve()

The code is pulled into codeferry's checkout of the source (in the codeferry home, shared by every
runner and ``codeferry pull`` on the machine: a re-pull moves only what changed), and
:attr:`CodeferrySource.destination` is a link to its current version, switched atomically.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codeferry.blocks import Block
    from codeferry.storage import CodeStorage, PullResult

__all__ = ["CodeferrySource", "prefect_pull_step"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# codeferry's references to its own store, as Prefect's templating names the same things.
_CODEFERRY_REFERENCE = re.compile(r"\{\{\s*(blocks|variables)\.")


class CodeferrySource:
    """Prefect runner storage for a codeferry source: a URL, a storage object or a saved block.

    :param source: what ``codeferry pull`` takes (``s3://bucket/flows``,
        ``https://git.example.com/flows.git``, ``block:SLUG/NAME``), a codeferry storage object or
        a saved codeferry storage block.
    :param pull_interval: seconds between pulls of a serving runner; ``None`` pulls once.
    :param keep: how many versions the checkout keeps (and any still in use).
    """

    def __init__(
        self,
        source: str | CodeStorage | Block,
        *,
        pull_interval: int | None = 60,
        keep: int = 3,
    ) -> None:
        from codeferry import get_plugins

        self.storage = get_plugins().storage_from_source(source)
        self._pull_interval = pull_interval
        self.keep = keep
        self._base_path = Path.cwd()
        key = self.storage.checkout_key()
        label = _UNSAFE.sub("-", str(self.storage).split("://")[-1]).strip("-")[:40]
        self._name = f"{label or 'source'}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
        self.last: PullResult | None = None

    # -- RunnerStorage -------------------------------------------------------------------------

    def set_base_path(self, path: Path) -> None:
        self._base_path = Path(path)

    @property
    def pull_interval(self) -> int | None:
        return self._pull_interval

    @property
    def destination(self) -> Path:
        """A link to the current version of the code, under the runner's base path."""
        return self._base_path / self._name

    async def pull_code(self) -> None:
        """Pull what changed into a new version and switch :attr:`destination` to it."""
        self.last = await asyncio.to_thread(self.pull)

    def to_pull_step(self) -> dict[str, Any]:
        """The step a Prefect worker runs to pull the same code: codeferry's, by import path."""
        return prefect_pull_step(self.storage.to_pull_step())

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, CodeferrySource)
            and other.storage.checkout_key() == self.storage.checkout_key()
            and other.pull_interval == self.pull_interval
        )

    def __hash__(self) -> int:
        return hash((self.storage.checkout_key(), self.pull_interval))

    def __repr__(self) -> str:
        return f"CodeferrySource({str(self.storage)!r})"

    def __deepcopy__(self, memo: dict[int, Any]) -> CodeferrySource:
        # Prefect's runner copies storages before setting their base path; the storage object
        # itself is configuration (and may hold clients that do not copy), so it is shared.
        duplicate = copy.copy(self)
        memo[id(self)] = duplicate
        return duplicate

    # -- codeferry -----------------------------------------------------------------------------

    def pull(self) -> PullResult:
        """Pull now (blocking); :attr:`destination` links to the version pulled."""
        from codeferry.checkouts import Checkout

        root = Checkout.for_storage(self.storage).root
        return Checkout(root, link=self.destination, keep=self.keep).pull(self.storage)


def prefect_pull_step(step: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A codeferry pull step (``{import path: arguments}``) as Prefect's engine runs it.

    codeferry's references ``{{ blocks.SLUG.NAME }}`` and ``{{ variables.NAME }}`` become
    Prefect's ``{{ prefect.blocks.SLUG.NAME }}`` and ``{{ prefect.variables.NAME }}``: the worker
    reads them from the Prefect server, and codeferry's steps take the dictionaries (and, for
    ``secret`` blocks, the strings) Prefect resolves them to.
    """
    return {name: _prefect_references(arguments) for name, arguments in step.items()}


def _prefect_references(value: Any) -> Any:
    if isinstance(value, str):
        return _CODEFERRY_REFERENCE.sub(lambda match: f"{{{{ prefect.{match[1]}.", value)
    if isinstance(value, dict):
        return {key: _prefect_references(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_prefect_references(item) for item in value]
    return value
