"""The table of installed plugins, kept between runs: never staler than what is installed."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from codeferry import entry_point_table
from codeferry.entry_point_table import PluginEntryPoint, entry_points

GROUP = "codeferry-test-group"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on ``sys.path`` where distributions are installed by writing their metadata."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each time the installed metadata is read (rather than the kept table)."""
    made: list[str] = []
    read = entry_point_table._read_metadata

    def counting(group: str) -> list[PluginEntryPoint]:
        made.append(group)
        return read(group)

    monkeypatch.setattr(entry_point_table, "_read_metadata", counting)
    return made


def install(site: Path, name: str, version: str = "1.0", *, settled: bool = True) -> Path:
    """Write a distribution's metadata; ``settled``: as if it was written a while ago."""
    metadata = site / f"{name.replace('-', '_')}-{version}.dist-info"
    metadata.mkdir()
    (metadata / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    module = name.replace("-", "_")
    (metadata / "entry_points.txt").write_text(f"[{GROUP}]\n{module} = {module}.plugin\n")
    if settled:
        a_minute_ago = time.time_ns() - 60_000_000_000
        os.utime(metadata, ns=(a_minute_ago, a_minute_ago))
    return metadata


def names(found: list[PluginEntryPoint]) -> list[tuple[str, str, str | None]]:
    return [(ep.name, ep.distribution, ep.version) for ep in found]


def test_the_table_is_read_once_then_kept(site: Path, reads: list[str]) -> None:
    install(site, "alpha-plugin")
    first = entry_points(GROUP)
    assert names(first) == [("alpha_plugin", "alpha-plugin", "1.0")]
    assert first[0].value == "alpha_plugin.plugin"
    assert entry_points(GROUP) == first
    assert reads == [GROUP]


@pytest.mark.usefixtures("reads")
def test_an_installed_plugin_is_seen_at_once(site: Path) -> None:
    install(site, "alpha-plugin")
    entry_points(GROUP)
    install(site, "beta-plugin")
    assert names(entry_points(GROUP)) == [
        ("alpha_plugin", "alpha-plugin", "1.0"),
        ("beta_plugin", "beta-plugin", "1.0"),
    ]


def test_a_removed_plugin_is_gone_at_once(site: Path) -> None:
    import shutil

    metadata = install(site, "alpha-plugin")
    install(site, "beta-plugin")
    entry_points(GROUP)
    shutil.rmtree(metadata)
    assert names(entry_points(GROUP)) == [("beta_plugin", "beta-plugin", "1.0")]


def test_an_upgrade_is_seen_at_once(site: Path) -> None:
    import shutil

    metadata = install(site, "alpha-plugin", "1.0")
    entry_points(GROUP)
    shutil.rmtree(metadata)
    install(site, "alpha-plugin", "2.0")
    assert names(entry_points(GROUP)) == [("alpha_plugin", "alpha-plugin", "2.0")]


def test_metadata_written_after_its_folder_is_seen(site: Path) -> None:
    # An installer makes the metadata folder, then writes its files: a lookup between the two
    # must not keep a table without the plugin.
    metadata = site / "late_plugin-1.0.dist-info"
    metadata.mkdir()
    assert names(entry_points(GROUP)) == []
    (metadata / "METADATA").write_text("Metadata-Version: 2.1\nName: late-plugin\nVersion: 1.0\n")
    (metadata / "entry_points.txt").write_text(f"[{GROUP}]\nlate = late_plugin.plugin\n")
    assert names(entry_points(GROUP)) == [("late", "late-plugin", "1.0")]


def test_nothing_is_kept_while_an_install_may_be_under_way(site: Path, reads: list[str]) -> None:
    # On a file system with coarse times, files written in the same second as their folder
    # leave its time as it was: a table is kept only once the metadata has settled.
    install(site, "fresh-plugin", settled=False)
    entry_points(GROUP)
    entry_points(GROUP)
    assert reads == [GROUP, GROUP]


def test_a_damaged_table_is_read_again(site: Path, reads: list[str], codeferry_home: Path) -> None:
    install(site, "alpha-plugin")
    entry_points(GROUP)
    [kept] = (codeferry_home / "cache").glob(f"entry-points-{GROUP}-*.json")
    kept.write_text("{not json")
    assert names(entry_points(GROUP)) == [("alpha_plugin", "alpha-plugin", "1.0")]
    assert reads == [GROUP, GROUP]
    assert entry_points(GROUP)
    assert reads == [GROUP, GROUP]


def test_a_home_that_cannot_be_written_only_costs_the_reading(
    site: Path, reads: list[str], codeferry_home: Path
) -> None:
    install(site, "alpha-plugin")
    codeferry_home.parent.mkdir(parents=True, exist_ok=True)
    codeferry_home.write_text("a file where the home should be")
    assert names(entry_points(GROUP)) == [("alpha_plugin", "alpha-plugin", "1.0")]
    assert names(entry_points(GROUP)) == [("alpha_plugin", "alpha-plugin", "1.0")]
    assert reads == [GROUP, GROUP]


def test_distributions_found_by_an_import_hook_are_read_every_time(
    site: Path, reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Finder:
        @staticmethod
        def find_spec(*_args: object) -> None:
            return None

        @staticmethod
        def find_distributions(*_args: object) -> list[object]:
            return []

    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder()])
    install(site, "alpha-plugin")
    entry_points(GROUP)
    entry_points(GROUP)
    assert reads == [GROUP, GROUP]
