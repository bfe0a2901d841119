"""codeferry plugin: local folders as code storage."""

__version__ = "0.1.0"
