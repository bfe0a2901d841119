"""The conformance kit fails storages that break the contract, and says what they broke.

The kit runs in a separate pytest process (as a plugin author runs it) against the storages in
``broken_storages.py``: one that keeps every rule, passing everything, and one per mistake.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

KIT_MODULE = """
import pytest

from codeferry.testing import StorageContract, StoreHandle
from tests.testing import broken_storages


def contract_for(storage_class):
    class Contract(StorageContract):
        @pytest.fixture
        def store(self, tmp_path):
            root = tmp_path / "source"
            root.mkdir()
            return StoreHandle(
                storage_class(root),
                lambda files: broken_storages.replace_folder(root, files),
                secrets=[broken_storages.TOKEN],
                failing=lambda: storage_class(tmp_path / "missing"),
            )

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
        "test_secrets_never_reach_the_checkout_or_the_result",
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
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], str]:
    """Run the kit once against every storage: (class, test) to "" if passed, else the failure."""
    folder = tmp_path_factory.mktemp("kit")
    names = ["FolderStore", *BROKEN]
    (folder / "test_kit.py").write_text(f"NAMES = {names!r}\n{KIT_MODULE}")
    report = folder / "report.xml"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CODEFERRY_HOME", None)
    subprocess.run(
        [
            sys.executable,
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
            # The pull step needs a plugin registering it; the kit's own tests check that one.
            "-k",
            "not to_pull_step",
            str(folder / "test_kit.py"),
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    found: dict[tuple[str, str], str] = {}
    for case in ET.parse(report).iter("testcase"):
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        text = "" if failure is None else f"{failure.get('message')}\n{failure.text}"
        cls = case.get("classname", "").rsplit(".", 1)[-1]
        found[(cls, case.get("name", "").split("[")[0])] = text
    return found


def test_a_storage_that_keeps_the_contract_passes_the_kit(
    outcomes: dict[tuple[str, str], str],
) -> None:
    results = {test: text for (cls, test), text in outcomes.items() if cls == "TestFolderStore"}
    assert len(results) >= 10
    assert {test: text for test, text in results.items() if text} == {}


@pytest.mark.parametrize(
    ("storage", "failing_test", "message"), [(k, *v) for k, v in BROKEN.items()], ids=list(BROKEN)
)
def test_kit_fails_a_broken_storage_saying_what_is_wrong(
    outcomes: dict[tuple[str, str], str], storage: str, failing_test: str, message: str
) -> None:
    failure = outcomes[(f"Test{storage}", failing_test)]
    assert failure, f"the kit passed {storage} on {failing_test}"
    assert message in failure, failure
