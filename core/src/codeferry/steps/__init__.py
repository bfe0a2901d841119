"""Deployment-file steps: resolving them by name, running them, and core's own steps.

``engine`` runs a list of steps; ``resolution`` finds a step's function by name; ``context`` is
what a running step can ask for (masked output, time left); ``shell`` and ``pip`` are core's own
steps. Nothing is imported here, so ``import codeferry.steps.context`` stays cheap.
"""

from __future__ import annotations

__all__: list[str] = []
