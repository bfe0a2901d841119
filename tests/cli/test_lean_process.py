"""``codeferry pull`` and ``codeferry run`` as a worker runs them: the console script, a process.

These command lines take the lean path (:mod:`codeferry.cli.lean`), which imports no command-line
framework; each test checks a behaviour users rely on through the real script: what is printed
where, secrets masked, exit statuses, the options, and the plugin switches.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from codeferry.secrets import MASK
from tests.programs import SCRIPT, child_environment, python, run

TOKEN = "tok-Lean-path-secret-4711"
WAIT = 60.0  # seconds a child may take before the test gives up on it

FLOW = """
import os, sys, time
from pathlib import Path


def greet(name, times=1):
    return ", ".join([f"hello {name}"] * times)


def leak():
    token = os.environ["DEPLOY_TOKEN"]
    print(f"stdout says {token}")
    print(f"stderr says {token}", file=sys.stderr)
    return {"token": token}


def fails():
    raise ValueError("the flow failed on purpose")


def echo(*args, **kwargs):
    return {"args": list(args), "kwargs": kwargs}


def wait(started):
    Path(started).touch()
    time.sleep(60)
"""


@pytest.fixture
def environment(codeferry_home: Path) -> dict[str, str]:
    return child_environment(codeferry_home, DEPLOY_TOKEN=TOKEN)


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "flow.py").write_text(textwrap.dedent(FLOW))
    return folder


def codeferry(
    env: dict[str, str], *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return run([str(SCRIPT), *args], env=env, cwd=cwd, timeout=WAIT)


def lines(text: str) -> list[str]:
    return text.strip().splitlines()


# -- what is imported ---------------------------------------------------------------------------

# Runs the console script's entry point, then says which of these modules the command imported.
WATCH = textwrap.dedent(
    """
    import atexit, sys
    watched = ("typer", "click", "pydantic", "rich", "asyncio", "filelock", "importlib.metadata")
    atexit.register(
        lambda: sys.__stderr__.write(
            "IMPORTED " + " ".join(name for name in watched if name in sys.modules) + "\\n"
        )
    )
    from codeferry.cli import main
    main(sys.argv[1:])
    """
)


def imported(env: dict[str, str], *args: str) -> list[str]:
    done = python("-c", WATCH, *args, env=env, timeout=WAIT)
    assert done.returncode == 0, done.stderr
    return lines(done.stderr)[-1].split()[1:]


def test_pull_and_run_import_no_cli_framework_models_or_event_loop(
    environment: dict[str, str], code: Path
) -> None:
    env = {**environment}
    env.pop("CODEFERRY_PLUGINS")  # every installed plugin is looked up, as on a worker
    first = imported(env, "pull", str(code))
    assert first in (["importlib.metadata"], []), first  # the plugin table is read once
    assert imported(env, "pull", str(code), "--json") == []
    assert imported(env, "run", str(code), "flow.py:greet", "--", "name=Ada") == []


def test_a_deployment_pull_imports_no_cli_framework_models_or_event_loop(
    environment: dict[str, str], code: Path, tmp_path: Path
) -> None:
    file = tmp_path / "codeferry.yaml"
    file.write_text(
        f"pull:\n  - pull_from_directory: {{path: {code}}}\n"
        "deployments:\n  - name: greet\n    entrypoint: flow.py:greet\n"
    )
    watched = ["pull", "-f", str(file)]
    imported(environment, *watched)  # the plugin table is read once
    assert imported(environment, *watched) == []
    assert imported(environment, "run", "-f", str(file), "greet", "--", "name=Ada") == []


# Runs the console script's entry point, then says how many objects it left frozen.
FROZEN = textwrap.dedent(
    """
    import atexit, gc, sys
    atexit.register(lambda: sys.__stderr__.write(f"FROZEN {gc.get_freeze_count()}\\n"))
    from codeferry.cli import program
    program()
    """
)


@pytest.mark.parametrize("fails", [False, True])
def test_the_program_ends_without_collecting_what_it_leaves(
    environment: dict[str, str], code: Path, tmp_path: Path, fails: bool
) -> None:
    # The interpreter's last full collection is skipped (the objects are frozen), whether the
    # command succeeds or fails; what it printed is whole.
    source = str(tmp_path / "missing") if fails else str(code)
    done = python("-c", FROZEN, "pull", source, "--json", env=environment, timeout=WAIT)
    assert done.returncode == (1 if fails else 0), done.stderr
    assert int(lines(done.stderr)[-1].removeprefix("FROZEN ")) > 1000
    if not fails:
        assert json.loads(done.stdout)["changed"] is True


def test_listing_block_types_imports_no_cli_framework(environment: dict[str, str]) -> None:
    listed = imported(environment, "block", "type", "ls", "--json")
    assert "typer" not in listed
    assert "click" not in listed


def test_help_and_other_commands_still_go_to_typer(environment: dict[str, str]) -> None:
    assert "typer" in imported(environment, "pull", "--help")
    assert "typer" in imported(environment, "plugins", "ls")


# -- output, masking, statuses ------------------------------------------------------------------


def test_run_prints_the_result_alone_on_stdout(environment: dict[str, str], code: Path) -> None:
    result = codeferry(environment, "run", str(code), "flow.py:greet", "--", "name=Ada", "times=2")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == "hello Ada, hello Ada"
    [summary] = lines(result.stderr)
    assert summary.startswith(f"pulled {code} (version ")
    assert ": 1 file, " in summary


def test_run_masks_secrets_on_stdout_and_stderr(environment: dict[str, str], code: Path) -> None:
    result = codeferry(environment, "run", str(code), "flow.py:leak")
    assert result.returncode == 0, result.stderr
    assert TOKEN not in result.stdout + result.stderr
    assert f"stdout says {MASK}" in result.stdout
    assert f"stderr says {MASK}" in result.stderr
    assert json.loads(lines(result.stdout)[-1]) == {"token": MASK}


def test_arguments_after_the_separator_go_to_the_entrypoint(
    environment: dict[str, str], code: Path
) -> None:
    result = codeferry(
        environment, "run", str(code), "flow.py:echo", "--", "a", "n=3", "--flag", "--", "--dest"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "args": ["a", "--"],
        "kwargs": {"n": 3, "flag": True, "dest": True},
    }


def test_a_failing_entrypoint_shows_its_traceback_then_one_error_line_and_exits_1(
    environment: dict[str, str], code: Path
) -> None:
    result = codeferry(environment, "run", str(code), "flow.py:fails")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback (most recent call last)" in result.stderr
    assert lines(result.stderr)[-1] == (
        f"Error: running flow.py:fails from {code}: "
        "the entrypoint raised ValueError: the flow failed on purpose"
    )


def test_a_user_error_is_one_line_and_exit_1(environment: dict[str, str], tmp_path: Path) -> None:
    result = codeferry(environment, "pull", str(tmp_path / "nowhere"))
    assert result.returncode == 1
    assert result.stdout == ""
    assert lines(result.stderr) == [f"Error: folder {tmp_path / 'nowhere'} does not exist"]


def test_a_usage_error_is_typers_and_exit_2(environment: dict[str, str], code: Path) -> None:
    result = codeferry(environment, "run", str(code))
    assert result.returncode == 2
    assert "Missing argument 'ENTRYPOINT'" in result.stderr
    assert codeferry(environment, "pull", str(code), "--dest").returncode == 2


def test_an_interrupted_run_exits_130(
    environment: dict[str, str], code: Path, tmp_path: Path
) -> None:
    started = tmp_path / "started"
    child = subprocess.Popen(
        [str(SCRIPT), "run", str(code), "flow.py:wait", "--", f"started={started}"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + WAIT
    while not started.exists():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the entrypoint never started"
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=WAIT)
    assert child.returncode == 130, stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    "args", [["pull", "CODE", "--json"], ["run", "CODE", "flow.py:greet", "--", "name=x"]]
)
def test_a_closed_output_pipe_ends_quietly(
    environment: dict[str, str], code: Path, args: list[str]
) -> None:
    reader = subprocess.Popen(
        [str(SCRIPT), *(str(code) if word == "CODE" else word for word in args)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout is not None
    assert reader.stderr is not None
    reader.stdout.close()  # like `| head -0`: the reader has gone before the result is written
    stderr = reader.stderr.read().decode()
    assert reader.wait(timeout=WAIT) == 1
    assert "Error" not in stderr
    assert "Exception ignored" not in stderr
    assert "BrokenPipeError" not in stderr


# -- options ------------------------------------------------------------------------------------


def test_pull_json_and_dest(environment: dict[str, str], code: Path, tmp_path: Path) -> None:
    dest = tmp_path / "here"
    result = codeferry(environment, "pull", str(code), "--dest", str(dest), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["link"] == str(dest)
    assert data["changed"] is True
    assert data["files"] == 1
    assert (dest / "flow.py").is_file()
    again = codeferry(environment, "pull", str(code), f"--dest={dest}")
    assert lines(again.stdout) == [str(dest)]
    assert lines(again.stderr)[0].startswith(f"{code} is unchanged (version ")


def test_a_destination_of_another_source_needs_replace(
    environment: dict[str, str], code: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    shutil.copytree(code, other)
    dest = tmp_path / "here"
    assert codeferry(environment, "pull", str(code), "-d", str(dest)).returncode == 0
    refused = codeferry(environment, "pull", str(other), "-d", str(dest))
    assert refused.returncode == 1
    [line] = lines(refused.stderr)
    assert line.startswith(f"Error: destination {dest} holds {code}, not {other}")
    replaced = codeferry(environment, "pull", "--replace", str(other), "-d", str(dest))
    assert replaced.returncode == 0, replaced.stderr
    assert lines(replaced.stdout) == [str(dest)]


# -- sources and plugins ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        f"https://deploy:{TOKEN}@git.example.invalid/org/flows.git",
        f"s3://AKIAEXAMPLE:{TOKEN}@bucket/flows",
    ],
)
def test_errors_name_the_source_without_its_credentials(
    environment: dict[str, str], source: str
) -> None:
    for args in (["pull", source], ["run", source, "flow.py:greet"]):
        result = codeferry(environment, *args)
        assert result.returncode == 1
        [line] = lines(result.stderr)
        assert line.startswith("Error: ")
        assert "no installed plugin understands" in line
        assert TOKEN not in line


def test_the_plugin_switches_apply(environment: dict[str, str], code: Path) -> None:
    unknown = codeferry({**environment, "CODEFERRY_PLUGINS": "no-such-plugin"}, "pull", str(code))
    assert unknown.returncode == 1
    [line] = lines(unknown.stderr)
    assert "CODEFERRY_PLUGINS names 'no-such-plugin'" in line
    disabled = {**environment, "CODEFERRY_DISABLE_PLUGINS": "codeferry-local"}
    disabled.pop("CODEFERRY_PLUGINS")
    refused = codeferry(disabled, "run", str(code), "flow.py:greet", "--", "name=x")
    assert refused.returncode == 1
    assert "no installed plugin understands the source" in refused.stderr


# A distribution, installed by writing its metadata onto the path: a plugin for fake:// sources.
FAKE_PLUGIN = """
from codeferry import hookimpl


@hookimpl
def storage_from_source(source):
    if isinstance(source, str) and source.startswith("fake://"):
        from codeferry_local.folder import LocalFolder

        return LocalFolder(source.removeprefix("fake://"))
    return None
"""


def install_fake_plugin(site: Path) -> None:
    (site / "fake_codeferry_plugin.py").write_text(FAKE_PLUGIN)
    metadata = site / "fake_codeferry_plugin-1.0.dist-info"
    metadata.mkdir()
    (metadata / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fake-codeferry-plugin\nVersion: 1.0\n"
    )
    (metadata / "entry_points.txt").write_text("[codeferry]\nfake = fake_codeferry_plugin\n")


def test_a_plugin_installed_or_removed_is_seen_at_once(
    environment: dict[str, str], code: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    env = {**environment, "PYTHONPATH": str(site)}
    env.pop("CODEFERRY_PLUGINS")
    source = f"fake://{code}"
    assert "no installed plugin understands" in codeferry(env, "pull", source).stderr
    install_fake_plugin(site)
    installed = codeferry(env, "pull", source)
    assert installed.returncode == 0, installed.stderr
    assert (Path(lines(installed.stdout)[0]) / "flow.py").is_file()
    shutil.rmtree(site / "fake_codeferry_plugin-1.0.dist-info")
    assert "no installed plugin understands" in codeferry(env, "pull", source).stderr
    install_fake_plugin(site)
    assert codeferry(env, "pull", source).returncode == 0


# -- deployment files ---------------------------------------------------------------------------


def test_deployment_pull_and_run_through_the_script(
    environment: dict[str, str], code: Path, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "codeferry.yaml").write_text(
        f"pull:\n  - pull_from_directory: {{path: {code}}}\n"
        "deployments:\n  - name: greet\n    entrypoint: flow.py:greet\n"
    )
    pulled = codeferry(environment, "pull", "--json", cwd=project)
    assert pulled.returncode == 0, pulled.stderr
    assert json.loads(pulled.stdout)["steps"][0]["name"] == "pull_from_directory"
    ran = codeferry(environment, "run", "greet", "--", "name=Ada", cwd=project)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == "hello Ada"
    elsewhere = codeferry(
        environment, "run", "-f", str(project / "codeferry.yaml"), "greet", "--", "name=Bo"
    )
    assert json.loads(elsewhere.stdout) == "hello Bo"
