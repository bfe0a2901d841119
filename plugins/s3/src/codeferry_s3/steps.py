"""Deployment-file steps for S3, with Prefect's arguments and outputs.

Made by the object-store base from :class:`~codeferry_s3.bucket.S3Bucket`'s declaration, and
registered under Prefect's names too (``prefect_aws.deployments.steps.pull_from_s3`` and
``push_to_s3``), so an existing ``prefect.yaml`` runs unchanged: ``credentials`` is the dictionary
a ``{{ prefect.blocks.aws-credentials.NAME }}`` reference expands to, or a typed block, and
``client_parameters`` Prefect's client settings (see
:func:`~codeferry_s3.credentials.credentials_from_step_argument`).
"""

from __future__ import annotations

from codeferry_s3.bucket import S3Bucket

__all__ = ["pull_from_s3", "push_to_s3"]

pull_from_s3, push_to_s3 = S3Bucket.steps()
