"""What a person sees on standard error: colour only where wanted, progress only on a terminal.

Colour follows ``NO_COLOR`` (any non-empty value turns it off), ``FORCE_COLOR`` and ``TERM=dumb``;
a pipe never gets an escape sequence, and progress is drawn on a terminal only, never on
standard output.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.terminal import ESCAPE, SGR, run_codeferry, terminal_env

FILES = 300  # more than codeferry.progress.REVEAL_FILES: a pull long enough for a bar


@pytest.fixture
def many_files(tmp_path: Path) -> Path:
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(FILES):
        (folder / f"mod_{index}.py").write_text(f"VALUE = {index}\n")
    return folder


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_an_error_on_a_terminal_is_coloured(home: Path, tmp_path: Path) -> None:
    finished = run_codeferry("pull", str(tmp_path / "nowhere"), env=terminal_env(home))
    assert finished.returncode == 1
    assert SGR.search(finished.terminal)
    assert "Error: folder" in finished.text


@pytest.mark.parametrize("value", ["1", "0", "false", "anything"])
def test_no_color_with_any_value_takes_the_colour_out_of_errors(
    home: Path, tmp_path: Path, value: str
) -> None:
    env = terminal_env(home, NO_COLOR=value)
    finished = run_codeferry("pull", str(tmp_path / "nowhere"), env=env)
    assert finished.returncode == 1
    assert ESCAPE not in finished.terminal
    assert finished.text.startswith("Error: folder ")


def test_an_empty_no_color_is_as_if_unset(home: Path, tmp_path: Path) -> None:
    finished = run_codeferry("pull", str(tmp_path / "nowhere"), env=terminal_env(home, NO_COLOR=""))
    assert SGR.search(finished.terminal)


def test_term_dumb_gets_no_colour_and_no_progress(home: Path, many_files: Path) -> None:
    env = terminal_env(home, TERM="dumb")
    pulled = run_codeferry("pull", str(many_files), env=env)
    assert pulled.returncode == 0
    failed = run_codeferry("pull", str(many_files / "nowhere"), env=env)
    assert failed.returncode == 1
    assert ESCAPE not in pulled.terminal + failed.terminal
    assert pulled.text == f"pulled {many_files} (version {_version(pulled.stdout)}): " + (
        f"{FILES} files, {_size(many_files)}\n"
    )


def test_force_color_colours_errors_even_into_a_pipe(home: Path, tmp_path: Path) -> None:
    env = terminal_env(home, FORCE_COLOR="1")
    finished = run_codeferry("pull", str(tmp_path / "nowhere"), env=env, terminal=False)
    assert SGR.search(finished.terminal)


def test_no_color_beats_force_color(home: Path, tmp_path: Path) -> None:
    env = terminal_env(home, FORCE_COLOR="1", NO_COLOR="1")
    finished = run_codeferry("pull", str(tmp_path / "nowhere"), env=env)
    assert ESCAPE not in finished.terminal


def test_a_pipe_gets_no_escape_sequence_and_no_progress(home: Path, many_files: Path) -> None:
    env = terminal_env(home)
    pulled = run_codeferry("pull", str(many_files), env=env, terminal=False)
    failed = run_codeferry("pull", str(many_files / "nowhere"), env=env, terminal=False)
    assert pulled.returncode == 0
    assert failed.returncode == 1
    assert ESCAPE not in pulled.terminal + failed.terminal + pulled.stdout
    assert pulled.terminal.decode().startswith(f"pulled {many_files} (version ")


def test_a_long_local_pull_shows_progress_on_the_terminal_never_on_stdout(
    home: Path, many_files: Path
) -> None:
    finished = run_codeferry("pull", str(many_files), env=terminal_env(home))
    assert finished.returncode == 0
    assert f"pull {many_files}" in finished.text
    assert f"/{FILES} files" in finished.text
    directory = finished.stdout.decode().removesuffix("\n")
    assert "\n" not in directory
    assert ESCAPE not in finished.stdout
    assert Path(directory, "mod_7.py").read_text() == "VALUE = 7\n"


def test_no_color_keeps_the_progress_but_not_its_colours(home: Path, many_files: Path) -> None:
    finished = run_codeferry("pull", str(many_files), env=terminal_env(home, NO_COLOR="1"))
    assert f"/{FILES} files" in finished.text
    assert not SGR.search(finished.terminal)


def test_quiet_silences_progress_and_the_summary_but_not_errors(
    home: Path, many_files: Path
) -> None:
    pulled = run_codeferry("-q", "pull", str(many_files), env=terminal_env(home))
    assert pulled.returncode == 0
    assert pulled.terminal == b""
    assert Path(pulled.stdout.decode().strip(), "mod_1.py").is_file()
    failed = run_codeferry("-q", "pull", str(many_files / "nowhere"), env=terminal_env(home))
    assert failed.returncode == 1
    assert "Error: folder" in failed.text


def _version(stdout: bytes) -> str:
    return stdout.decode().strip().rsplit("-", 1)[1]


def _size(folder: Path) -> str:
    from codeferry.progress import format_bytes

    return format_bytes(sum(path.stat().st_size for path in folder.iterdir()))


# -- verbosity, in this process ------------------------------------------------------------------

DEPLOYMENT = """\
build:
  - no_such_step: {}
pull:
  - codeferry_local.steps.pull_from_directory:
      path: src
deployments:
  - name: flow
    entrypoint: flow.py:main
"""
NOTICE = "no installed plugin provides the step 'no_such_step' (not run by this command)"


@pytest.fixture
def deployment_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A deployment file whose pull works, with a build step that draws a warning at pull."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "flow.py").write_text("def main():\n    return 1\n")
    path = tmp_path / "codeferry.yaml"
    path.write_text(DEPLOYMENT)
    monkeypatch.chdir(tmp_path)
    return path


def test_a_notice_is_shown_by_default_as_its_message_alone(cli: Cli, deployment_file: Path) -> None:
    result = cli("pull")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"{deployment_file}:2:5: warning: build step 1 'no_such_step': {NOTICE}",
        "ran 1 pull step",
    ]


@pytest.mark.usefixtures("deployment_file")
def test_quiet_silences_notices_and_summaries(cli: Cli) -> None:
    result = cli("-q", "pull")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert Path(result.stdout.strip(), "flow.py").is_file()


def test_quiet_keeps_errors(cli: Cli, tmp_path: Path) -> None:
    result = cli("--quiet", "pull", str(tmp_path / "nowhere"))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: folder ")


def test_verbose_shows_what_codeferry_does(cli: Cli, deployment_file: Path) -> None:
    quiet = cli("pull")
    assert "pulling " not in quiet.stderr
    result = cli("-v", "pull")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert f"{deployment_file}:2:5: warning: build step 1 'no_such_step': {NOTICE}" in lines
    assert "running pull step 1 'codeferry_local.steps.pull_from_directory'" in lines
    assert any(line.startswith(f"pulling {deployment_file.parent / 'src'} into ") for line in lines)


def test_very_verbose_names_each_record_level_and_logger(cli: Cli, code_folder: Path) -> None:
    result = cli("-vv", "pull", str(code_folder))
    assert result.exit_code == 0, result.output
    assert f"INFO codeferry.checkouts: pulling {code_folder} into " in result.stderr


def test_verbose_and_quiet_together_are_a_usage_error(cli: Cli, code_folder: Path) -> None:
    result = cli("-v", "-q", "pull", str(code_folder))
    assert result.exit_code == 2
    assert "give -v or -q, not both" in result.stderr


def test_a_command_leaves_logging_as_it_found_it(cli: Cli, code_folder: Path) -> None:
    logger = logging.getLogger("codeferry")
    before = logger.level, list(logger.handlers), logger.propagate
    assert cli("-vv", "pull", str(code_folder)).exit_code == 0
    assert cli("-q", "pull", str(code_folder)).exit_code == 0
    assert (logger.level, list(logger.handlers), logger.propagate) == before
    from codeferry.terminal import is_quiet

    assert not is_quiet()


def test_log_records_on_stderr_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    from codeferry.cli.output import configure_logging, logging_restored
    from codeferry.secrets import MASK, remember

    secret = "tok-" + "x1y2z3" * 4
    remember(secret)
    with logging_restored():
        configure_logging(0)
        logging.getLogger("codeferry.anywhere").warning("token %s", secret)
        logging.getLogger("codeferry.anywhere").info("not shown by default")
    assert capsys.readouterr().err == f"token {MASK}\n"
