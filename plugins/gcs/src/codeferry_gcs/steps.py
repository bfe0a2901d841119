"""Deployment-file steps for Google Cloud Storage, with Prefect's arguments and outputs.

Made by the object-store base from :class:`~codeferry_gcs.bucket.GcsBucket`'s declaration, and
registered under Prefect's names too (``prefect_gcp.deployments.steps.*``), so an existing
``prefect.yaml`` runs unchanged: ``credentials`` is the dictionary a
``{{ prefect.blocks.gcp-credentials.NAME }}`` reference expands to, or a typed block. Unlike
Prefect's steps, an explicit ``project`` is honoured (it wins over the credentials' project), and
``endpoint_url`` reaches another endpoint than Google's (an emulator).
"""

from __future__ import annotations

from codeferry_gcs.bucket import GcsBucket

__all__ = ["pull_from_gcs", "push_to_gcs"]

pull_from_gcs, push_to_gcs = GcsBucket.steps()
