"""Image pulls and code-layer pushes show their progress on the terminal, never on stdout.

The test images are small, so the thresholds of a long transfer are lowered to one byte: what is
checked is that the transfers report, and where the bar goes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docker.images import RawPusher, busybox_layer, config_for, layer
from tests.servers.registry import RegistryServer
from tests.terminal import ESCAPE, run_codeferry, terminal_env

_names = itertools.count()


@pytest.fixture
def open_pusher(open_registry: RegistryServer) -> Iterator[RawPusher]:
    pusher = RawPusher(open_registry.url)
    yield pusher
    pusher.close()


@pytest.fixture
def repository() -> str:
    return f"tests/progress{next(_names)}"


def test_an_image_pull_shows_its_layers_arriving_on_the_terminal(
    open_registry: RegistryServer, open_pusher: RawPusher, repository: str, tmp_path: Path
) -> None:
    code = layer({f"app/mod_{i}.py": f"V = {i}\n".encode() for i in range(50)})
    open_pusher.image(repository, "v1", [code], config_for([code], workdir="/app"))
    source = f"docker://{open_registry.image(repository, 'v1')}"
    env = terminal_env(tmp_path / "home", CODEFERRY_PLUGINS="docker")
    finished = run_codeferry("pull", source, env=env, lowered=True)
    assert finished.returncode == 0, finished.text
    assert f"pull {source}" in finished.text
    assert "1/1 layers" in finished.text
    directory = Path(finished.stdout.decode().removesuffix("\n"))
    assert ESCAPE not in finished.stdout
    assert (directory / "mod_7.py").read_text() == "V = 7\n"


def test_a_code_layer_push_shows_its_progress_beside_the_step(
    open_registry: RegistryServer, open_pusher: RawPusher, repository: str, tmp_path: Path
) -> None:
    base = busybox_layer()
    open_pusher.image("base/progress", "1", [base], config_for([base]))
    project = tmp_path / "project"
    project.mkdir()
    for index in range(20):
        (project / f"flow_{index}.py").write_text(f"V = {index}\n")
    (project / "codeferry.yaml").write_text(
        "push:\n"
        "  - codeferry_docker.steps.build_code_layer:\n"
        f"      base_image: {open_registry.image('base/progress', '1')}\n"
        f"      image_name: {open_registry.host}/{repository}\n"
        "      tag: v1\n"
    )
    env = terminal_env(tmp_path / "home", CODEFERRY_PLUGINS="docker")
    finished = run_codeferry("push", env=env, lowered=True, cwd=project)
    assert finished.returncode == 0, finished.text
    assert f"push {open_registry.host}/{repository}:v1" in finished.text
    assert " blobs" in finished.text
    assert "push step 1 'codeferry_docker.steps.build_code_layer'" in finished.text
    assert finished.stdout == b""


def test_quiet_pushes_and_pulls_draw_nothing(
    open_registry: RegistryServer, open_pusher: RawPusher, repository: str, tmp_path: Path
) -> None:
    code = layer({"app/flow.py": b"V = 1\n"})
    open_pusher.image(repository, "v1", [code], config_for([code], workdir="/app"))
    source = f"docker://{open_registry.image(repository, 'v1')}"
    env = terminal_env(tmp_path / "home", CODEFERRY_PLUGINS="docker")
    finished = run_codeferry("-q", "pull", source, env=env, lowered=True)
    assert finished.returncode == 0
    assert finished.terminal == b""
