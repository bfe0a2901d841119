"""codeferry plugin: Google Cloud Storage buckets as code storage."""

__version__ = "0.1.0"
