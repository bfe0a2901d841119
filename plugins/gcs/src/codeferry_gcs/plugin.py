"""The hooks of codeferry-gcs: its entry-point module, kept light (gcsfs is imported on use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codeferry import hookimpl

if TYPE_CHECKING:
    from codeferry.hookspecs import RegisterBlockType, RegisterSourceKind, RegisterStep
    from codeferry.storage import CodeStorage

SCHEMES = ("gs", "gcs")


@hookimpl
def register_block_types(register: RegisterBlockType) -> None:
    from codeferry_gcs.bucket import GcsBucket
    from codeferry_gcs.credentials import GcpCredentials

    register(GcpCredentials)
    register(GcsBucket)


@hookimpl
def register_steps(register: RegisterStep) -> None:
    from codeferry_gcs import steps

    register(steps.pull_from_gcs, aliases=["prefect_gcp.deployments.steps.pull_from_gcs"])
    register(steps.push_to_gcs, aliases=["prefect_gcp.deployments.steps.push_to_gcs"])


@hookimpl
def register_source_kinds(register: RegisterSourceKind) -> None:
    register(
        "gcs",
        description="a folder in a Google Cloud Storage bucket (application default "
        "credentials; STORAGE_EMULATOR_HOST for an emulator)",
        examples=["gs://bucket/folder", "gcs://bucket/folder"],
    )


@hookimpl
def storage_from_source(source: object) -> CodeStorage | None:
    """Claim ``gs://`` and ``gcs://`` URLs."""
    if not isinstance(source, str) or source.partition("://")[0].lower() not in SCHEMES:
        return None
    from codeferry_gcs.bucket import GcsBucket

    return GcsBucket.from_url(source)
