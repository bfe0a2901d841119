"""The hooks of codeferry-gcs, made from its declaration (gcsfs is imported on use)."""

from __future__ import annotations

from codeferry.remote import ObjectStore


class GCS(ObjectStore):
    """a folder in a Google Cloud Storage bucket (application default credentials;
    STORAGE_EMULATOR_HOST for an emulator)"""

    examples = ("gs://bucket/folder", "gcs://bucket/folder")
    schemes = ("gs", "gcs")
    folder = "codeferry_gcs.bucket:GcsBucket"
    steps = ("pull_from_gcs", "push_to_gcs")
    prefect_steps = "prefect_gcp.deployments.steps"


register_block_types, register_steps, register_source_kinds, storage_from_source = GCS.hooks()
