"""A long git pull shows its progress on the terminal: the pack arriving, the files written."""

from __future__ import annotations

import re
from pathlib import Path

from tests.git.conftest import BIG_FILES, Served
from tests.terminal import ESCAPE, run_codeferry, terminal_env


def test_a_long_git_pull_shows_the_files_written_on_the_terminal_only(
    served: Served, tmp_path: Path
) -> None:
    user, password = served.server.user, served.server.password
    url = served.url("big.git").replace("http://", f"http://{user}:{password}@")
    env = terminal_env(tmp_path / "home", CODEFERRY_PLUGINS="git")
    finished = run_codeferry("pull", url, env=env)
    assert finished.returncode == 0, finished.text
    label = served.url("big.git")
    assert f"pull {label}: writing files" in finished.text
    written = re.search(r"pulled .* \(version \w+\): (\d+) files", finished.text)
    assert written is not None
    assert int(written.group(1)) >= BIG_FILES
    assert f"/{written.group(1)} files" in finished.text  # the bar counts them all
    assert password not in finished.text
    directory = Path(finished.stdout.decode().removesuffix("\n"))
    assert ESCAPE not in finished.stdout
    assert (directory / "pkg3" / "mod_3.py").is_file()


def test_a_git_pull_into_a_pipe_draws_nothing(served: Served, tmp_path: Path) -> None:
    user, password = served.server.user, served.server.password
    url = served.url("big.git").replace("http://", f"http://{user}:{password}@")
    env = terminal_env(tmp_path / "home", CODEFERRY_PLUGINS="git")
    finished = run_codeferry("pull", url, env=env, terminal=False)
    assert finished.returncode == 0, finished.text
    assert finished.text.startswith(f"pulled {served.url('big.git')} (version ")
    assert ESCAPE not in finished.terminal


def test_the_pack_is_shown_arriving(served: Served, tmp_path: Path, git_client: str) -> None:
    user, password = served.server.user, served.server.password
    url = served.url("app.git").replace("http://", f"http://{user}:{password}@")
    env = terminal_env(tmp_path / "home", CODEFERRY_PLUGINS="git")
    finished = run_codeferry("pull", url, env=env, lowered=True)  # a small pack counts as long
    assert finished.returncode == 0, finished.text
    receiving = rf"pull {re.escape(served.url('app.git'))}: receiving objects"
    assert re.search(receiving, finished.text)
    if git_client == "git":  # git's own program says how many objects come; dulwich only bytes
        assert re.search(receiving + r" \S+ \d+/\d+ objects", finished.text)
    assert password not in finished.text
