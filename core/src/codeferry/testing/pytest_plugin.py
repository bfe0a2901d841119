"""pytest plugin (entry point ``pytest11``): fixtures for testing codeferry plugins.

Loaded by pytest wherever codeferry is installed, so it only defines fixtures and never changes
anything unless a test asks for them. For the conformance kit it also counts skips: each
:class:`~codeferry.testing.StorageContract`'s ``test_skips_are_only_what_the_store_cannot_hold``
is run after every other test and compares the skips of its class with what the class expects.
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
_SKIP_COUNT = "test_skips_are_only_what_the_store_cannot_hold"

# Per test run: the tests that finished, and the reason of each that skipped, by node id.
_finished: set[str] = set()
_skipped: dict[str, str] = {}


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


def pytest_sessionstart() -> None:
    _finished.clear()
    _skipped.clear()


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the kit's skip counts after every other test, so each sees its class's outcomes."""
    counts = [item for item in items if getattr(item, "originalname", "") == _SKIP_COUNT]
    if counts:
        items[:] = [item for item in items if item not in counts] + counts


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and report.when in {"setup", "call"}:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        _skipped[report.nodeid] = reason.removeprefix("Skipped: ")
    elif report.when == "teardown":
        _finished.add(report.nodeid)


def skipped_beside(node: pytest.Item) -> tuple[dict[str, str], bool]:
    """The tests of ``node``'s class that skipped, with their reasons, and whether every other
    test of the class ran in this process before ``node``."""
    owner = node.nodeid.rsplit("::", 1)[0]
    siblings = [
        item.nodeid
        for item in node.session.items
        if item.nodeid.rsplit("::", 1)[0] == owner and item.nodeid != node.nodeid
    ]
    ran = [nodeid for nodeid in siblings if nodeid in _finished]
    worker = hasattr(node.config, "workerinput")  # pytest-xdist: others ran elsewhere
    skipped = {n.removeprefix(owner + "::"): _skipped[n] for n in ran if n in _skipped}
    return skipped, len(ran) == len(siblings) and not worker
