"""The hooks of codeferry-s3: its entry-point module, kept light (s3fs is imported on use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codeferry import hookimpl

if TYPE_CHECKING:
    from codeferry.hookspecs import RegisterBlockType, RegisterSourceKind, RegisterStep
    from codeferry.storage import CodeStorage

SCHEMES = ("s3", "s3a")


@hookimpl
def register_block_types(register: RegisterBlockType) -> None:
    from codeferry_s3.bucket import S3Bucket
    from codeferry_s3.credentials import AwsCredentials, MinIOCredentials

    register(AwsCredentials)
    register(MinIOCredentials)
    register(S3Bucket)


@hookimpl
def register_steps(register: RegisterStep) -> None:
    from codeferry_s3 import steps

    register(steps.pull_from_s3, aliases=["prefect_aws.deployments.steps.pull_from_s3"])
    register(steps.push_to_s3, aliases=["prefect_aws.deployments.steps.push_to_s3"])


@hookimpl
def register_source_kinds(register: RegisterSourceKind) -> None:
    register(
        "s3",
        description="a folder in an S3 bucket (credentials from the AWS environment or profile; "
        "AWS_ENDPOINT_URL for S3-compatible stores)",
        examples=["s3://bucket/folder"],
    )


@hookimpl
def storage_from_source(source: object) -> CodeStorage | None:
    """Claim ``s3://`` and ``s3a://`` URLs."""
    if not isinstance(source, str) or source.partition("://")[0].lower() not in SCHEMES:
        return None
    from codeferry_s3.bucket import S3Bucket

    return S3Bucket.from_url(source)
