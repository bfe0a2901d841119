"""codeferry plugin: Azure Blob Storage (and ADLS Gen2) containers as code storage."""

__version__ = "0.1.0"
