"""Deployment files end to end with the local plugin: pull, run and push."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from codeferry.checkouts import Checkout
from codeferry.errors import (
    CodeferryError,
    DeploymentFileError,
    EntrypointError,
    PullError,
    StepError,
    UserCodeError,
)
from codeferry.runs import pull_deployment, push_deployment, run_deployment
from codeferry.storage import CodeStorage
from tests.deployments import fake_steps
from tests.deployments.conftest import WriteFile

pytestmark = pytest.mark.usefixtures("steps_plugins")

LOCAL_FILE = """
name: demo
pull:
  - codeferry_local.steps.pull_from_directory:
      id: code
      path: src
deployments:
  - name: hello
    entrypoint: flows/hello.py:hello
    parameters: {name: ada}
    tags: [demo]
    work_pool: {name: default}
  - name: where
    entrypoint: flows/hello.py:where
"""


def tree(directory: Path) -> dict[str, str]:
    return {
        p.relative_to(directory).as_posix(): p.read_text()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_pull_runs_the_pull_steps_and_says_where_the_code_is(
    write_file: WriteFile, project: Path
) -> None:
    result = pull_deployment(write_file(LOCAL_FILE), "hello")
    assert tree(result.directory) == tree(project / "src")
    assert result.steps.outputs["code"]["directory"] == str(result.directory)
    assert result.deployment == "hello"
    assert result.as_dict()["steps"][0]["outputs"]["changed"] is True


def test_pull_without_a_file_uses_the_one_in_the_working_folder(
    write_file: WriteFile, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_file(LOCAL_FILE, "prefect.yaml")
    monkeypatch.chdir(project)
    result = pull_deployment()
    assert (result.directory / "flows" / "hello.py").is_file()


def test_steps_run_from_the_files_folder_and_the_working_folder_is_restored(
    write_file: WriteFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = pull_deployment(write_file(LOCAL_FILE), "hello")  # `path: src` is relative
    assert (result.directory / "flows" / "hello.py").is_file()
    assert Path.cwd() == elsewhere


def test_run_pulls_then_calls_the_entrypoint_with_parameters_and_arguments(
    write_file: WriteFile,
) -> None:
    path = write_file(LOCAL_FILE)
    assert run_deployment(path, "hello") == "hello ada!"
    assert run_deployment(path, "hello", kwargs={"punctuation": "?"}) == "hello ada?"
    assert run_deployment(path, "hello", ["bob"], {}) == "hello bob!"


def test_run_calls_the_entrypoint_from_the_pulled_folder(write_file: WriteFile) -> None:
    path = write_file(LOCAL_FILE)
    before = Path.cwd()
    ran_in = run_deployment(path, "where")
    assert Path(ran_in).parent.name == "versions"
    assert Path.cwd() == before


def test_run_of_a_deployment_without_entrypoint_is_an_error(write_file: WriteFile) -> None:
    path = write_file("deployments:\n  - name: bare\n")
    with pytest.raises(EntrypointError, match="deployment 'bare' has no entrypoint"):
        run_deployment(path, "bare")


def test_run_with_an_entrypoint_missing_from_the_code_is_an_error(write_file: WriteFile) -> None:
    path = write_file(LOCAL_FILE.replace("flows/hello.py:where", "flows/nope.py:where"))
    with pytest.raises(EntrypointError, match=r"entrypoint file flows/nope\.py not found"):
        run_deployment(path, "where")


def test_entrypoint_exception_is_a_user_code_error(write_file: WriteFile, project: Path) -> None:
    (project / "src" / "flows" / "broken.py").write_text(
        "def go():\n    raise ValueError('nope')\n"
    )
    path = write_file(LOCAL_FILE.replace("flows/hello.py:where", "flows/broken.py:go"))
    with pytest.raises(UserCodeError, match="ValueError: nope"):
        run_deployment(path, "where")


def test_module_entrypoint_is_imported_only_after_the_pull(
    write_file: WriteFile, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    package = project / "src" / "ferry_pkg_only_after_pull"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "jobs.py").write_text("def job(x=1):\n    return x + 1\n")
    path = write_file(
        LOCAL_FILE.replace("flows/hello.py:where", "ferry_pkg_only_after_pull.jobs.job")
    )
    with pytest.raises(ModuleNotFoundError):
        __import__("ferry_pkg_only_after_pull")
    try:
        assert run_deployment(path, "where", kwargs={"x": 41}) == 42
    finally:
        for name in [m for m in sys.modules if m.startswith("ferry_pkg_only_after_pull")]:
            del sys.modules[name]


def test_each_deployment_uses_its_own_pull_steps(write_file: WriteFile, project: Path) -> None:
    other = project / "other"
    (other / "flows").mkdir(parents=True)
    (other / "flows" / "hello.py").write_text("def hello(name='x'):\n    return 'other ' + name\n")
    path = write_file(
        LOCAL_FILE
        + """
  - name: other
    entrypoint: flows/hello.py:hello
    pull:
      - pull_from_directory: {path: other}
"""
    )
    assert run_deployment(path, "other") == "other x"
    assert run_deployment(path, "hello") == "hello ada!"


def test_pull_with_several_deployments_overriding_pull_needs_a_name(
    write_file: WriteFile,
) -> None:
    path = write_file(
        LOCAL_FILE + "  - name: own\n    entrypoint: a.py:a\n    pull: [{nothing: {}}]\n"
    )
    with pytest.raises(DeploymentFileError, match="--deployment"):
        pull_deployment(path)


def test_pull_with_no_directory_output_gives_the_folder_the_steps_left(
    write_file: WriteFile, project: Path
) -> None:
    path = write_file("pull:\n  - set_working_directory: {directory: src/flows}\n  - nothing: {}\n")
    assert pull_deployment(path).directory == project / "src" / "flows"
    assert pull_deployment(write_file("pull: []\n")).directory == project


def test_failed_pull_in_the_middle_keeps_the_previous_checkout(write_file: WriteFile) -> None:
    good = write_file(
        "pull:\n  - pull_from_dict: {name: mid, files: {a.py: '1', b.py: '1', c.py: '1'}}\n"
    )
    first = pull_deployment(good)
    checkout = Checkout.for_storage(fake_steps.DictStorage("mid", {}))
    bad = write_file(
        "pull:\n"
        "  - pull_from_dict: {name: mid, files: {a.py: '2', b.py: '2', c.py: '2'}, fail_after: 2}\n"
    )
    with pytest.raises(StepError, match="pull step 1 'pull_from_dict' failed: connection dropped"):
        pull_deployment(bad)
    assert checkout.current is not None
    assert checkout.current.directory == first.directory
    assert tree(first.directory) == {"a.py": "1", "b.py": "1", "c.py": "1"}
    assert not list(checkout.root.glob("staging-*"))


def test_failed_step_after_the_pull_leaves_a_complete_checkout(
    write_file: WriteFile, project: Path
) -> None:
    path = write_file(
        """
        pull:
          - pull_from_directory: {path: src}
          - fail: {message: "requirements could not be installed"}
        """.replace("\n        ", "\n")
    )
    with pytest.raises(StepError, match="pull step 2 'fail' failed"):
        pull_deployment(path)
    checkout = Checkout.for_storage(_local(project))
    assert checkout.current is not None
    assert (checkout.current.directory / "flows" / "hello.py").is_file()


def _local(project: Path) -> CodeStorage:
    from codeferry_local.storage import LocalDirectory

    return LocalDirectory(path=str(project / "src"))


def test_missing_source_folder_fails_and_keeps_the_previous_checkout(
    write_file: WriteFile, project: Path
) -> None:
    path = write_file(LOCAL_FILE)
    first = pull_deployment(path, "hello")
    (project / "src").rename(project / "moved")
    with pytest.raises(StepError, match=r"folder .*src does not exist"):
        pull_deployment(path, "hello")
    assert (first.directory / "flows" / "hello.py").is_file()


def test_dest_becomes_a_link_to_the_code(write_file: WriteFile, tmp_path: Path) -> None:
    dest = tmp_path / "code"
    result = pull_deployment(write_file(LOCAL_FILE), "hello", dest=dest)
    assert result.link == dest
    assert dest.is_symlink()
    assert dest.resolve() == result.directory.resolve()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("keep")
    with pytest.raises(CodeferryError, match="already exists and is not a link"):
        pull_deployment(write_file(LOCAL_FILE), "hello", dest=tmp_path / "full")
    assert (tmp_path / "full" / "mine.txt").read_text() == "keep"


def test_dest_that_is_a_users_symlink_is_refused_and_kept(
    write_file: WriteFile, tmp_path: Path
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    dest = tmp_path / "code"
    dest.symlink_to(mine)
    with pytest.raises(PullError, match="symbolic link that codeferry did not make"):
        pull_deployment(write_file(LOCAL_FILE), "hello", dest=dest)
    assert dest.readlink() == mine


def test_dest_linking_to_another_checkout_is_replaced_only_when_asked(
    write_file: WriteFile, project: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "code"
    first = pull_deployment(write_file(LOCAL_FILE), "hello", dest=dest)
    assert pull_deployment(write_file(LOCAL_FILE), "hello", dest=dest).link == dest
    other = project / "other"
    (other / "flows").mkdir(parents=True)
    (other / "flows" / "hello.py").write_text("def hello(name):\n    return 'other'\n")
    other_file = write_file(LOCAL_FILE.replace("path: src", "path: other"))
    with pytest.raises(PullError, match=r"holds .*src, not .*other"):
        pull_deployment(other_file, "hello", dest=dest)
    assert dest.resolve() == first.directory.resolve()
    replaced = pull_deployment(other_file, "hello", dest=dest, replace=True)
    assert dest.resolve() == replaced.directory.resolve()


def test_run_in_progress_keeps_its_version_while_new_pulls_switch(
    write_file: WriteFile, project: Path
) -> None:
    flow = project / "src" / "flows" / "hello.py"
    flow.write_text(
        "from pathlib import Path\n"
        "from tests.deployments import fake_steps\n"
        "VERSION = 'v1'\n"
        "def hello(name='x'):\n"
        "    here = Path(__file__).parent\n"
        "    fake_steps.RELEASE.wait(30)\n"
        "    return here, (here / 'hello.py').read_text().count('v1')\n"
    )
    path = write_file(LOCAL_FILE)
    outcome: dict[str, object] = {}
    runner = threading.Thread(target=lambda: outcome.update(r=run_deployment(path, "hello")))
    runner.start()
    try:
        checkout = Checkout.for_storage(_local(project))
        for _ in range(200):  # wait (bounded) for the run to have pulled and started
            if checkout.current is not None and any(
                p.suffix == ".py" for p in checkout.current.directory.rglob("*.py")
            ):
                break
            threading.Event().wait(0.05)
        running = checkout.current
        assert running is not None
        for n in range(2, 7):  # more pulls than the checkout keeps
            flow.write_text(flow.read_text().replace("'v1'", f"'v{n}'"))
            os.utime(flow, ns=(n * 10**9, n * 10**9))
            pull_deployment(path, "hello")
        assert checkout.current is not None
        assert checkout.current.directory != running.directory
        assert running.directory.exists()
    finally:
        fake_steps.RELEASE.set()
        runner.join(30)
    result = outcome["r"]
    assert isinstance(result, tuple)
    here, count = result
    assert Path(here).parent == running.directory
    assert count == 2


def test_push_runs_build_then_push_steps_which_see_build_outputs(write_file: WriteFile) -> None:
    path = write_file(
        """
        build:
          - outputs: {id: image, name: "acme/flows:1"}
        push:
          - echo: {id: pushed, image: "{{ image.name }}"}
        pull:
          - fail: {message: never pulled}
        """.replace("\n        ", "\n")
    )
    result = push_deployment(path)
    assert result.outputs["pushed"] == {"image": "acme/flows:1"}
    assert [r.step.section for r in result.records] == ["build", "push"]


def test_push_uses_the_deployments_own_build_and_push(write_file: WriteFile) -> None:
    path = write_file(
        """
        push:
          - echo: {id: p, where: top}
        deployments:
          - name: a
            push:
              - echo: {id: p, where: own}
          - name: b
        """.replace("\n        ", "\n")
    )
    assert push_deployment(path, "a").outputs["p"] == {"where": "own"}
    assert push_deployment(path, "b").outputs["p"] == {"where": "top"}


def test_pull_error_from_the_steps_is_a_one_line_error(write_file: WriteFile) -> None:
    path = write_file("pull:\n  - outputs: {directory: /no/such/folder/anywhere}\n")
    with pytest.raises(PullError, match="not a folder"):
        pull_deployment(path)
