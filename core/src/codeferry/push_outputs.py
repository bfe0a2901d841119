"""The outputs of the build and push steps, recorded by ``codeferry push`` for later pulls.

Prefect's ``prefect deploy`` runs the build and push steps, fills their outputs into the pull
steps (``{{ build-image.image }}``, ``{{ upload.folder }}``) and stores the result with the
deployment. codeferry keeps the deployment file as it is written, so ``codeferry push`` records
the outputs instead: a ``push-outputs`` block in the block store, named for the project and the
deployment (``etl:nightly``), outputs encrypted like every secret field. ``codeferry pull`` and
``codeferry run`` read it when a reference names an output that no step of their own returned; a
store that workers share (PostgreSQL, ``CODEFERRY_DATABASE_URL``) shares the records.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

import pydantic

from codeferry.blocks import Block
from codeferry.errors import BlockError, BlockNotFoundError, StoreError, TemplateError

if TYPE_CHECKING:
    from collections.abc import Callable

    from codeferry.deployments import Deployment, DeploymentFile
    from codeferry.steps.engine import StepsResult
    from codeferry.steps.outputs import StepOutputs
    from codeferry.store.blockstore import BlockStore

__all__ = ["PushOutputs", "RecordedOutputs", "record_name", "record_push_outputs"]


class PushOutputs(Block):
    """The outputs of a deployment's build and push steps, as ``codeferry push`` recorded them.

    Read by ``codeferry pull`` and ``codeferry run`` for references to build and push outputs.
    """

    block_type_slug: ClassVar[str] = "push-outputs"
    block_type_name: ClassVar[str] = "Push Outputs"
    file: str | None = None
    deployment: str | None = None
    pushed_at: dt.datetime
    # each step that returned outputs: {"step": label, "id": id or None, "outputs": {...}}
    steps: pydantic.Secret[list[dict[str, Any]]]
    # the run's secret values that appear in the outputs, so that pulls mask them too
    secrets: pydantic.Secret[list[str]]


def record_name(project: str | None, deployment: str | None) -> str:
    """The name of the record for ``deployment`` of the file whose ``name`` is ``project``."""
    parts = [quote(part, safe="") for part in (project, deployment) if part]
    return ":".join(parts) or "default"


def record_push_outputs(
    file: DeploymentFile,
    deployment: str | None,
    result: StepsResult,
    *,
    store: BlockStore | None = None,
) -> str:
    """Record the outputs of the build and push steps in ``result``; returns the record's name.

    :param deployment: the resolved name of the deployment pushed, or ``None`` when the file's
        own steps ran (the record then serves every deployment without one of its own).
    """
    steps = [
        {
            "step": record.step.label,
            "id": record.step.id,
            "outputs": json.loads(json.dumps(dict(record.outputs), default=str)),
        }
        for record in result.records
    ]
    text = json.dumps(steps)
    secrets = sorted(secret for secret in result.secrets if secret in text)
    name = record_name(file.name, deployment)
    PushOutputs(
        file=str(file.path) if file.path is not None else None,
        deployment=deployment,
        pushed_at=dt.datetime.now(dt.UTC),
        steps=pydantic.Secret(steps),
        secrets=pydantic.Secret(secrets),
    ).save(name, overwrite=True, store=store)
    return name


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
