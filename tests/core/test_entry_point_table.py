"""The table of installed plugins, kept between runs: never staler than what is installed."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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

    def counting(group: str, listings: Any) -> list[PluginEntryPoint]:
        made.append(group)
        return read(group, listings)

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


def test_a_folder_without_metadata_on_the_path_keeps_the_table(
    site: Path, reads: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `python -m codeferry` puts the working directory first on sys.path, a script its folder:
    # run from anywhere, the installed plugins are the same.
    install(site, "alpha-plugin")
    first = entry_points(GROUP)
    elsewhere = tmp_path / "some-working-directory"
    elsewhere.mkdir()
    monkeypatch.syspath_prepend(str(elsewhere))
    assert entry_points(GROUP) == first
    assert reads == [GROUP]
    # ...until it holds a distribution.
    install(elsewhere, "beta-plugin")
    assert names(entry_points(GROUP)) == [
        ("alpha_plugin", "alpha-plugin", "1.0"),
        ("beta_plugin", "beta-plugin", "1.0"),
    ]
    assert reads == [GROUP, GROUP]


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


# -- read without importlib.metadata: the same answers ---------------------------------------

_NAMES = st.sampled_from(["alpha-plugin", "Alpha_Plugin", "beta.plugin", "gamma"])
_WORDS = st.text(alphabet="abcxyz_.:", min_size=1, max_size=8).filter(lambda w: w[0] not in ".:")


@st.composite
def _distributions(draw: st.DrawFn) -> list[tuple[int, str, str, str, str]]:
    """Distributions as ``(site, name, version, entry_points.txt, Requires-Dist)``."""
    made = []
    for _ in range(draw(st.integers(0, 4))):
        lines = []
        for section in draw(st.lists(st.sampled_from([GROUP, "other", "console_scripts"]))):
            lines.append(draw(st.sampled_from([f"[{section}]", f"[ {section} ]"])))
            for key, value in draw(st.lists(st.tuples(_WORDS, _WORDS), max_size=3)):
                lines.append(draw(st.sampled_from([f"{key} = {value}", f"{key}={value}"])))
            lines += draw(st.lists(st.sampled_from(["", "# a comment"]), max_size=2))
        requires = draw(st.sampled_from(["", "codeferry>=0.1,<0.2", "codeferry>=9", "pyyaml"]))
        made.append(
            (
                draw(st.integers(0, 1)),
                draw(_NAMES),
                draw(st.sampled_from(["1.0", "2.0.post1"])),
                "\n".join(lines),
                requires,
            )
        )
    return made


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(distributions=_distributions())
def test_dist_info_folders_read_directly_agree_with_importlib_metadata(
    distributions: list[tuple[int, str, str, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    with tempfile.TemporaryDirectory() as root:
        sites = [Path(root) / "first", Path(root) / "second"]
        for site in sites:
            site.mkdir()
        for where, name, version, declared, requires in distributions:
            stem = name.replace("-", "_")
            if list(sites[where].glob(f"{stem}-*")):
                continue  # two of one name in one folder: which wins is the file system's order
            folder = sites[where] / f"{stem}-{version}.dist-info"
            folder.mkdir()
            headers = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            if requires:
                headers += f"Requires-Dist: {requires}\n"
            (folder / "METADATA").write_text(f"{headers}\nA description: not a header\n")
            (folder / "entry_points.txt").write_text(declared)
        with monkeypatch.context() as patched:
            patched.setattr(sys, "path", [*map(str, sites), *sys.path])
            direct = entry_point_table._read_dist_info(GROUP, _path_listings())
            assert direct == entry_point_table._read_with_importlib(GROUP)


def _path_listings() -> Any:
    listings = entry_point_table._listings()
    assert listings is not None
    return listings


def test_an_egg_info_folder_is_left_to_importlib_metadata(site: Path) -> None:
    install(site, "alpha-plugin").rename(site / "alpha_plugin.egg-info")
    assert entry_point_table._read_dist_info(GROUP, _path_listings()) is None
    assert names(entry_points(GROUP)) == [("alpha_plugin", "alpha-plugin", "1.0")]


def test_a_first_command_in_a_new_home_does_not_import_importlib_metadata(
    tmp_path: Path,
) -> None:
    script = (
        "import sys\n"
        "from codeferry.entry_point_table import entry_points\n"
        "found = entry_points('codeferry')\n"
        "print(len(found), 'importlib.metadata' in sys.modules)\n"
    )
    env = {**os.environ, "CODEFERRY_HOME": str(tmp_path / "new-home")}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    count, imported = done.stdout.split()
    assert int(count) > 0
    assert imported == "False"


def test_plugins_an_import_hook_finds_are_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from importlib import metadata

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    found = metadata.PathDistribution(install(elsewhere, "hooked-plugin"))

    class Finder:
        @staticmethod
        def find_spec(*_args: object) -> None:
            return None

        @staticmethod
        def find_distributions(*_args: object) -> list[metadata.Distribution]:
            return [found]

    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder()])
    assert names(entry_points(GROUP)) == [("hooked_plugin", "hooked-plugin", "1.0")]
