"""codeferry plugin: git repositories as code storage, on dulwich (no git binary needed)."""

__version__ = "0.1.0"
