"""codeferry plugin: github credentials for git repositories."""

__version__ = "0.1.0"
