"""Daemonless code layers: built, pushed through the distribution API, checked by skopeo, umoci."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codeferry.errors import CodeferryError
from codeferry.plugins import Plugins
from codeferry_docker.credentials import DockerRegistryCredentials
from tests.conftest import write_tree
from tests.docker.checks import file_names, run_tool, skopeo, write_authfile
from tests.docker.conftest import PROJECT
from tests.servers.registry import RegistryServer

Build = Callable[..., dict[str, Any]]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = write_tree(tmp_path / "project", {**PROJECT, "run.sh": "#!/bin/sh\necho hi\n"})
    (root / "run.sh").chmod(0o755)
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "flow.cpython-311.pyc").write_bytes(b"junk")
    return root


@pytest.fixture
def build(
    docker_plugins: Plugins,
    base_image: str,
    oci_registry: RegistryServer,
    credentials: DockerRegistryCredentials,
    repository: str,
    project: Path,
) -> Build:
    function = docker_plugins.step("build_code_layer").function

    def run(**overrides: object) -> dict[str, Any]:
        arguments: dict[str, object] = {
            "base_image": base_image,
            "image_name": f"{oci_registry.host}/{repository}",
            "tag": "v1",
            "directory": str(project),
            "credentials": credentials,
            "env": {"FLOW_ENV": "test"},
        }
        arguments.update(overrides)
        outputs = function(**arguments)
        assert outputs is not None
        return dict(outputs)

    return run


@pytest.fixture
def authfile(tmp_path: Path, oci_registry: RegistryServer) -> Path:
    return write_authfile(tmp_path / "auth.json", oci_registry)


def test_the_image_is_accepted_by_skopeo_and_unpacked_by_umoci(
    build: Build, authfile: Path, tmp_path: Path
) -> None:
    outputs = build()
    image = f"docker://{outputs['image']}"
    inspected = json.loads(
        skopeo("inspect", "--tls-verify=false", "--authfile", str(authfile), image)
    )
    assert inspected["Digest"] == outputs["digest"]
    assert len(inspected["Layers"]) == 2
    config = json.loads(
        skopeo("inspect", "--config", "--tls-verify=false", "--authfile", str(authfile), image)
    )
    assert config["config"]["WorkingDir"] == "/opt/flows"
    assert "FLOW_ENV=test" in config["config"]["Env"]
    assert "PATH=/bin" in config["config"]["Env"]
    assert len(config["history"]) == 2
    layout = tmp_path / "layout"
    skopeo("copy", "--src-tls-verify=false", "--authfile", str(authfile), image, f"oci:{layout}:v1")
    bundle = tmp_path / "bundle"
    run_tool("umoci", "unpack", "--image", f"{layout}:v1", str(bundle))
    rootfs = bundle / "rootfs"
    assert (rootfs / "opt/flows/flow.py").read_text() == "def main():\n    return 1\n"
    assert (rootfs / "opt/flows/pkg/helpers.py").read_text() == "X = 1\n"
    assert (rootfs / "opt/flows/run.sh").stat().st_mode & 0o111
    assert not (rootfs / "opt/flows/__pycache__").exists()
    assert not (rootfs / "opt/flows/.wh..wh..opq").exists()
    assert (rootfs / "bin/busybox").is_file()


def test_an_unchanged_project_gives_the_same_digest_and_uploads_only_the_manifest(
    build: Build,
) -> None:
    first = build()
    again = build()
    assert again["digest"] == first["digest"]
    assert again["blobs_uploaded"] == 0
    assert again["blobs_present"] == 3


def test_a_one_file_change_uploads_only_the_new_layer_config_and_manifest(
    build: Build, project: Path
) -> None:
    first = build()
    (project / "flow.py").write_text("def main():\n    return 2\n")
    second = build()
    assert second["digest"] != first["digest"]
    assert second["blobs_uploaded"] == 2, "only the code layer and the config may be uploaded"
    assert second["blobs_mounted"] == 0
    assert second["blobs_present"] == 1
    assert int(second["bytes_uploaded"]) < 4096


def test_base_layers_are_mounted_from_the_base_repository_not_uploaded(build: Build) -> None:
    outputs = build()
    assert outputs["blobs_mounted"] == 1
    assert int(outputs["bytes_uploaded"]) < 100_000, "the busybox layer (about 1 MB) was uploaded"


def test_without_a_tag_the_tag_follows_the_content(build: Build, project: Path) -> None:
    first = build(tag=None)
    assert str(first["tag"]).startswith("code-")
    assert build(tag=None)["tag"] == first["tag"]
    (project / "flow.py").write_text("changed\n")
    assert build(tag=None)["tag"] != first["tag"]


@pytest.fixture
def pull(
    docker_plugins: Plugins, credentials: DockerRegistryCredentials, tmp_path: Path
) -> Callable[[str], Path]:
    """Pull an image with the ``pull_from_image`` step; the folder its code is in."""
    step = docker_plugins.step("pull_from_image").function

    def run(image: str) -> Path:
        outputs = step(image=image, credentials=credentials, destination=str(tmp_path / "out"))
        assert outputs is not None
        return Path(outputs["directory"])

    return run


def test_ignore_files_leave_files_out(
    build: Build, project: Path, pull: Callable[[str], Path]
) -> None:
    (project / ".dockerignore").write_text("*.sh\n")
    outputs = build()
    pulled = pull(outputs["image_with_digest"])
    assert file_names(pulled) == [".dockerignore", "flow.py", "pkg/helpers.py"]


def test_code_of_an_older_code_image_in_the_base_does_not_show_through(
    build: Build,
    project: Path,
    oci_registry: RegistryServer,
    repository: str,
    pull: Callable[[str], Path],
) -> None:
    build(tag="old")
    (project / "flow.py").unlink()
    (project / "new.py").write_text("NEW = 1\n")
    outputs = build(base_image=f"{oci_registry.host}/{repository}:old", tag="new")
    directory = pull(outputs["image"])
    assert not (directory / "flow.py").exists()
    assert (directory / "new.py").read_text() == "NEW = 1\n"


def test_the_tag_given_twice_is_refused(build: Build) -> None:
    with pytest.raises(CodeferryError, match="the tag once"):
        build(image_name="127.0.0.1:5000/flows:v1", tag="v2")


def test_a_missing_project_folder_is_named(build: Build, tmp_path: Path) -> None:
    with pytest.raises(CodeferryError, match="does not exist"):
        build(directory=str(tmp_path / "nowhere"))


def test_a_missing_base_image_is_named(build: Build, oci_registry: RegistryServer) -> None:
    with pytest.raises(CodeferryError, match=r"base/missing:1.*not found"):
        build(base_image=f"{oci_registry.host}/base/missing:1")


def test_a_codeferry_home_inside_the_project_never_reaches_the_layer_or_build_context(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codeferry.store import BlockStore
    from codeferry_docker.code_layer import build_layer, project_files

    monkeypatch.setenv("CODEFERRY_HOME", str(project / ".codeferry"))
    BlockStore().set_variable("region", "eu-west-1")  # makes the home: database and marker
    assert (project / ".codeferry" / "codeferry.db").is_file()
    assert set(project_files(project)) == {"flow.py", "pkg/helpers.py", "run.sh"}
    layer = build_layer(project, "/app", tmp_path / "layer.tar.gz")
    with tarfile.open(layer.path) as archive:
        assert not [m.name for m in archive.getmembers() if ".codeferry" in m.name]
