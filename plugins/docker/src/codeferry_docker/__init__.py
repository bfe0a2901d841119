"""codeferry plugin: container images as code storage, daemonless code layers, engine builds."""

__version__ = "0.1.0"
