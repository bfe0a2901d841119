"""codeferry plugin: code kept in a folder on an SFTP server."""

__version__ = "0.1.0"
