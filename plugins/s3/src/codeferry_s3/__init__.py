"""codeferry plugin: S3 buckets (and S3-compatible stores such as MinIO) as code storage."""

__version__ = "0.1.0"
