"""A module with a plain function, used as an import-path step (not registered by any plugin)."""

from __future__ import annotations


def double(n: int) -> dict[str, int]:
    return {"n": n * 2}
