"""The outputs of the build and push steps, recorded by ``codeferry push`` for later pulls.

Prefect's ``prefect deploy`` runs the build and push steps, fills their outputs into the pull
steps (``{{ build-image.image }}``, ``{{ upload.folder }}``) and stores the result with the
deployment. codeferry keeps the deployment file as it is written, so ``codeferry push`` records
the outputs instead: a ``push-outputs`` block in the block store, named for the project and the
deployment (``etl:nightly``), outputs encrypted like every secret field. ``codeferry pull`` and
``codeferry run`` read it (:class:`~codeferry.recorded_outputs.RecordedOutputs`) when a reference
names an output that no step of their own returned; a store that workers share (PostgreSQL,
``CODEFERRY_DATABASE_URL``) shares the records.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any, ClassVar

import pydantic

from codeferry.blocks import Block
from codeferry.recorded_outputs import RecordedOutputs, record_name

if TYPE_CHECKING:
    from codeferry.deployments import DeploymentFile
    from codeferry.steps.engine import StepsResult
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
