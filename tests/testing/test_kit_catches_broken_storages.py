"""The conformance kit fails storages that break the contract, and says what they broke.

The kit runs in a separate pytest process (as a plugin author runs it) against the storages in
``broken_storages.py``: one that keeps every rule, passing everything, and one per mistake.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.programs import python

ROOT = Path(__file__).resolve().parents[2]

KIT_MODULE = """
import pytest

from codeferry.blocks import Block
from codeferry.plugins import Plugins, set_plugins
from codeferry.testing import StorageContract
from tests.testing import broken_storages


def contract_for(storage_class):
    class Contract(StorageContract):
        # The round trip of a storage that is not a block: a store of these holds any name.
        expected_skips = 0 if issubclass(storage_class, Block) else 1

        @pytest.fixture(autouse=True)
        def _plugins(self, codeferry_isolated):
            registry = Plugins({"broken": "tests.testing.broken_plugin"}, entry_points=False)
            previous = set_plugins(registry)
            yield
            set_plugins(previous)

        @pytest.fixture
        def store(self, tmp_path):
            return broken_storages.handle_for(storage_class, tmp_path)

    Contract.__name__ = Contract.__qualname__ = f"Test{storage_class.__name__}"
    return Contract


for name in NAMES:
    cls = contract_for(getattr(broken_storages, name))
    globals()[cls.__name__] = cls
"""

BROKEN = {
    "WritesOutsideTarget": (
        "test_pull_into_a_new_destination_gets_every_file",
        "WritesOutsideTarget.fetch wrote outside context.target: "
        "['codeferry-home/checkouts/last-pull.txt']",
    ),
    "WritesIntoCheckoutFolder": (
        "test_pull_into_a_new_destination_gets_every_file",
        "wrote into the checkout folder beside context.target: ['manifest.txt']",
    ),
    "WritesIntoSystemTemp": (
        "test_pull_into_a_new_destination_gets_every_file",
        "WritesIntoSystemTemp.fetch wrote outside context.target: ['/tmp/codeferry-last-pull.txt']",
    ),
    "LeavesScratchFilesInTemp": (
        "test_pull_into_a_new_destination_gets_every_file",
        "in the temporary folder (tempfile.gettempdir()): remove scratch files",
    ),
    "JoinsPathsByHand": (
        "test_hostile_paths_are_refused[/absolute.py]",
        "JoinsPathsByHand.fetch wrote outside context.target: ['/absolute.py']",
    ),
    "ShowsTokenInRepr": (
        "test_secrets_never_appear_in_str_repr_or_pull_step",
        "repr(storage) shows a secret value",
    ),
    "ShowsTokenInStr": (
        "test_secrets_never_appear_in_str_repr_or_pull_step",
        "str(storage) shows a secret value",
    ),
    "ShowsTokenInErrors": (
        "test_failed_pull_says_why_in_one_line_without_secrets",
        "the error of a failed pull shows a secret value",
    ),
    "RecordsTokenInState": (
        "test_pull_into_a_new_destination_gets_every_file",
        "the recorded state",
    ),
    "UpdatesPreviousInPlace": (
        "test_changed_added_and_deleted_files_propagate",
        "UpdatesPreviousInPlace.fetch changed the previous version's files "
        "['flow.py', 'pkg/new.py']",
    ),
    "RewritesReusedFiles": (
        "test_changed_added_and_deleted_files_propagate",
        "RewritesReusedFiles.fetch rewrote files ['flow.py'] that context.reuse() had put "
        "into context.target: they are hard links",
    ),
    "SkipsFilesThatFail": (
        "test_failed_transfer_raises_and_keeps_the_previous_tree",
        "SkipsFilesThatFail.fetch swallowed a failed write and the pull committed",
    ),
    "SwallowsWriteErrors": (
        "test_write_that_fails_midway_fails_the_pull",
        "SwallowsWriteErrors.fetch swallowed a failed write (the disk was full) and the pull "
        "committed ['data/large.bin'] missing or cut short",
    ),
    "SwallowsReadErrors": (
        "test_read_that_fails_is_retried_or_fails_the_pull",
        "SwallowsReadErrors.fetch swallowed a failed read of the store (",
    ),
    "RefusesGitFolder": (
        "test_git_folder_is_left_out",
        "RefusesGitFolder refused a store holding ['.git/config', '.git/hooks/post-checkout', "
        "'data/.GIT/HEAD', 'pkg/.git']",
    ),
    "WritesGitFolder": (
        "test_git_folder_is_left_out",
        "WritesGitFolder.fetch wrote git's folder into the checkout: ['.git/config', "
        "'.git/hooks/post-checkout', 'data/.GIT/HEAD', 'pkg/.git']",
    ),
    "TakesCredentialsAsADict": (
        "test_pull_step_pulls_the_same_code_through_the_step_engine",
        "TakesCredentialsAsADict.to_pull_step() gave a step that fails when the step engine "
        "runs it",
    ),
    "GitFolderSkipped": (
        "test_skips_are_only_what_the_store_cannot_hold",
        "2 of the kit's tests skipped for this storage, expected_skips is 1:\n"
        "  test_block_type_is_registered_and_round_trips: the storage is not a block\n"
        "  test_git_folder_is_left_out: the store cannot hold git's folder",
    ),
}


@dataclass(frozen=True)
class KitRun:
    """What the kit said of each test of each storage, and what the machine's root held."""

    outcomes: dict[tuple[str, str], str]  # (class, test) to "" if passed, else the failure
    skipped: dict[tuple[str, str], str]
    root_file_before: bool
    root_file_after: bool


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> KitRun:
    """Run the kit once against every storage, in a pytest process of its own."""
    folder = tmp_path_factory.mktemp("kit")
    names = ["FolderStore", *BROKEN]
    (folder / "test_kit.py").write_text(f"NAMES = {names!r}\n{KIT_MODULE}")
    report = folder / "report.xml"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CODEFERRY_HOME", None)
    before = Path("/absolute.py").exists()
    python(
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(folder),
        f"--junitxml={report}",
        "--basetemp",
        str(folder / "tmp"),
        str(folder / "test_kit.py"),
        cwd=folder,
        env=env,
        timeout=600,
    )
    outcomes: dict[tuple[str, str], str] = {}
    skipped: dict[tuple[str, str], str] = {}
    for case in ET.parse(report).iter("testcase"):
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        text = "" if failure is None else f"{failure.get('message')}\n{failure.text}"
        key = (case.get("classname", "").rsplit(".", 1)[-1], case.get("name", ""))
        outcomes[key] = text
        skip = case.find("skipped")
        if skip is not None:
            skipped[key] = skip.get("message", "")
    return KitRun(outcomes, skipped, before, Path("/absolute.py").exists())


def test_a_storage_that_keeps_the_contract_passes_the_kit(kit: KitRun) -> None:
    results = {test: text for (cls, test), text in kit.outcomes.items() if cls == "TestFolderStore"}
    assert len(results) >= 17
    assert {test: text for test, text in results.items() if text} == {}


def test_a_storage_that_keeps_the_contract_skips_only_what_is_impossible(kit: KitRun) -> None:
    assert {test: why for (cls, test), why in kit.skipped.items() if cls == "TestFolderStore"} == {
        "test_block_type_is_registered_and_round_trips": "the storage is not a block"
    }


@pytest.mark.parametrize(
    ("storage", "failing_test", "message"), [(k, *v) for k, v in BROKEN.items()], ids=list(BROKEN)
)
def test_kit_fails_a_broken_storage_saying_what_is_wrong(
    kit: KitRun, storage: str, failing_test: str, message: str
) -> None:
    failure = kit.outcomes[(f"Test{storage}", failing_test)]
    assert failure, f"the kit passed {storage} on {failing_test}"
    assert message in failure, failure


def test_kit_keeps_a_write_to_an_absolute_path_off_the_machines_root(kit: KitRun) -> None:
    assert kit.root_file_after == kit.root_file_before, "a kit run wrote /absolute.py"
