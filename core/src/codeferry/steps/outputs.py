"""The outputs of the steps of one run, by step id and merged, with no silent overwrites."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["StepOutputs"]


class StepOutputs:
    """What the steps of one run returned.

    ``by_id`` holds each step's outputs under its ``id`` (``{{ clone.directory }}``). ``shared``
    is the merged view: a key that exactly one step returned, or that every step returning it
    returned with the same value. A key two steps returned with different values is not in
    ``shared`` but in ``ambiguous`` (with the steps that returned it): referring to it without an
    id is an error, so a later step never silently replaces an earlier step's output.

    ``directory`` is the exception by design: it says where the code is *now*, so it is the
    ``directory`` output of the last step that returned one.
    """

    def __init__(self) -> None:
        self.by_id: dict[str, Mapping[str, Any]] = {}
        self.shared: dict[str, Any] = {}
        self.ambiguous: dict[str, list[str]] = {}
        self._returned_by: dict[str, list[str]] = {}
        self._directory: str | None = None

    def add(self, step: str, step_id: str | None, outputs: Mapping[str, Any]) -> None:
        """Record the ``outputs`` of ``step`` (a label such as ``pull step 1 'git_clone'``)."""
        outputs = dict(outputs)
        if step_id is not None:
            self.by_id[step_id] = outputs
        for key, value in outputs.items():
            owners = self._returned_by.setdefault(key, [])
            owners.append(step)
            if key in self.ambiguous:
                self.ambiguous[key].append(step)
            elif key in self.shared and self.shared[key] != value:
                del self.shared[key]
                self.ambiguous[key] = list(owners)
            elif key not in self.shared:
                self.shared[key] = value
        if outputs.get("directory") is not None:
            self._directory = str(outputs["directory"])

    @property
    def directory(self) -> Path | None:
        """The ``directory`` output of the last step that returned one."""
        return Path(self._directory) if self._directory is not None else None

    def __contains__(self, step_id: object) -> bool:
        return step_id in self.by_id

    def __getitem__(self, step_id: str) -> Mapping[str, Any]:
        return self.by_id[step_id]
