"""pytest plugin (entry point ``pytest11``): fixtures for testing codeferry plugins.

Loaded by pytest wherever codeferry is installed, so it only defines fixtures and never changes
anything unless a test asks for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

_SWITCHES = (
    "CODEFERRY_DATABASE_URL",
    "CODEFERRY_ENCRYPTION_KEY",
    "CODEFERRY_PLUGINS",
    "CODEFERRY_DISABLE_PLUGINS",
    "CODEFERRY_TRACE_HOOKS",
)


@pytest.fixture
def codeferry_isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh codeferry home (block store, key, checkouts) and rediscovered plugins."""
    from codeferry.plugins import set_plugins
    from codeferry.store import set_store

    home = tmp_path / "codeferry-home"
    monkeypatch.setenv("CODEFERRY_HOME", str(home))
    for variable in _SWITCHES:
        monkeypatch.delenv(variable, raising=False)
    previous = set_plugins(None)
    set_store(None)
    yield home
    set_plugins(previous)
    set_store(None)
