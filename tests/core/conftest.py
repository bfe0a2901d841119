"""Fixtures for core tests: fake installed distributions with codeferry entry points."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

InstallPlugin = Callable[..., str]


@pytest.fixture
def install_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InstallPlugin]:
    """Install a throwaway distribution whose entry point ``codeferry`` names a module.

    ``install_plugin(dist, entry_name, module_source)`` writes the module and a ``.dist-info``
    folder on a new ``sys.path`` entry, so discovery goes through ``importlib.metadata`` for real;
    ``requires`` gives its ``Requires-Dist`` lines.
    """
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    written: list[str] = []

    def install(
        distribution: str,
        entry_name: str,
        source: str,
        version: str = "1.0",
        requires: Sequence[str] = (),
    ) -> str:
        module = distribution.replace("-", "_") + "_plugin"
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n"
            + "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
        )
        (info / "entry_points.txt").write_text(f"[codeferry]\n{entry_name} = {module}\n")
        written.append(module)
        return module

    yield install
    for module in written:
        sys.modules.pop(module, None)
