"""The build and push outputs a pull reads: the record ``codeferry push`` made, read on first use.

Kept apart from :mod:`codeferry.push_outputs` (the record's block type), so that a pull whose
references need no recorded output imports no block model: the record is read, and its type
imported, only when a reference asks for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from codeferry.errors import BlockError, BlockNotFoundError, StoreError, TemplateError

if TYPE_CHECKING:
    from collections.abc import Callable

    from codeferry.deployments import Deployment, DeploymentFile
    from codeferry.push_outputs import PushOutputs
    from codeferry.steps.outputs import StepOutputs
    from codeferry.store.blockstore import BlockStore

__all__ = ["RecordedOutputs", "record_name"]


def record_name(project: str | None, deployment: str | None) -> str:
    """The name of the record for ``deployment`` of the file whose ``name`` is ``project``."""
    parts = [quote(part, safe="") for part in (project, deployment) if part]
    return ":".join(parts) or "default"


class RecordedOutputs:
    """The build and push outputs recorded for a deployment, read from the store on first use.

    The deployment's own record is used, else the file's (pushed without a deployment).
    """

    def __init__(
        self,
        file: DeploymentFile,
        deployment: Deployment | None,
        *,
        store: BlockStore | None = None,
    ) -> None:
        self.file = file
        self.deployment = deployment
        self.store = store
        self._loaded: tuple[PushOutputs | None, StepOutputs | None] | None = None

    def load(self, secrets: set[str], fail: Callable[[str], TemplateError]) -> StepOutputs | None:
        """The recorded outputs (``None``: none were recorded); their secrets join ``secrets``.

        :raises TemplateError: made by ``fail``, when the store or the record cannot be read.
        """
        if self._loaded is None:
            self._loaded = self._read(fail)
        record, outputs = self._loaded
        if record is not None:
            secrets.update(record.secrets.get_secret_value())
        return outputs

    def absence(self) -> str:
        """Why there is nothing to look in, for an error message."""
        name = self._deployment_name()
        option = f" --deployment {name}" if name else ""
        whose = f"deployment {name!r}" if name else "this deployment file"
        return (
            f"no build or push outputs are recorded for {whose} "
            f"(`codeferry push{option}` records them)"
        )

    def describe(self) -> str:
        """Which record was looked in, for an error message."""
        record = self._loaded[0] if self._loaded is not None else None
        if record is None:
            return "recorded by codeferry push"
        when = record.pushed_at.strftime("%Y-%m-%d %H:%M UTC")
        return f"that codeferry push ran at {when} (record {record.block_name})"

    def _deployment_name(self) -> str | None:
        from codeferry.deployment_templates import listed_name

        return listed_name(self.deployment) if self.deployment is not None else None

    def _read(
        self, fail: Callable[[str], TemplateError]
    ) -> tuple[PushOutputs | None, StepOutputs | None]:
        from codeferry.deployment_templates import deployment_name
        from codeferry.push_outputs import PushOutputs
        from codeferry.steps.outputs import StepOutputs

        names = [record_name(self.file.name, None)]
        if self.deployment is not None:
            try:
                own = deployment_name(self.deployment)
            except TemplateError as error:
                raise fail(f"the deployment's name cannot be resolved ({error})") from None
            names.insert(0, record_name(self.file.name, own))
        for name in names:
            try:
                record = PushOutputs.load(name, store=self.store)
            except BlockNotFoundError:
                continue
            except (BlockError, StoreError) as error:
                raise fail(f"cannot read the recorded build and push outputs: {error}") from None
            outputs = StepOutputs()
            for step in record.steps.get_secret_value():
                outputs.add(step["step"], step.get("id"), step.get("outputs") or {})
            return record, outputs
        return None, None
