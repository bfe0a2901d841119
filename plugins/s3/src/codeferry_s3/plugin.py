"""The hooks of codeferry-s3, made from its declaration (s3fs is imported on use)."""

from __future__ import annotations

from codeferry.remote import ObjectStore


class S3(ObjectStore):
    """a folder in an S3 bucket (credentials from the AWS environment or profile;
    AWS_ENDPOINT_URL for S3-compatible stores)"""

    examples = ("s3://bucket/folder",)
    schemes = ("s3", "s3a")
    folder = "codeferry_s3.bucket:S3Bucket"
    steps = ("pull_from_s3", "push_to_s3")
    prefect_steps = "prefect_aws.deployments.steps"
    quick_lister = "codeferry_s3.quick_listing:folder_listing"


register_block_types, register_steps, register_source_kinds, storage_from_source = S3.hooks()
