"""Engine builds and pushes through the docker SDK, against Podman's Docker-compatible service."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codeferry.errors import CodeferryError
from codeferry.plugins import Plugins
from codeferry_docker.credentials import DockerRegistryCredentials
from codeferry_docker.engine import BuildError, auto_dockerfile
from codeferry_docker.storage import OciImage
from tests.conftest import write_tree
from tests.docker.checks import file_names, skopeo, write_authfile
from tests.docker.conftest import PROJECT
from tests.servers.podman import PodmanEngine
from tests.servers.registry import RegistryServer

BASE = "localhost/codeferry-busybox:1"
OWN_DOCKERFILE = "# the project's own Dockerfile\n"

Steps = Callable[[str], Callable[..., Any]]


@pytest.fixture(scope="session")
def engine_base(podman_engine: PodmanEngine, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A busybox image in the engine, built from Debian's static busybox (no RUN needed)."""
    import docker

    context = tmp_path_factory.mktemp("busybox-context")
    (context / "bin").mkdir()
    shutil.copy2("/bin/busybox", context / "bin" / "busybox")
    for applet in ("sh", "ls", "cat"):
        os.symlink("busybox", context / "bin" / applet)
    (context / "Dockerfile").write_text("FROM scratch\nCOPY bin /bin\nENV PATH=/bin\n")
    client = docker.DockerClient(base_url=podman_engine.docker_host)
    list(client.api.build(path=str(context), tag=BASE, decode=True, rm=True))
    client.images.get(BASE)
    client.close()
    return BASE


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "project", {**PROJECT, "Dockerfile": OWN_DOCKERFILE})


@pytest.fixture
def steps(docker_plugins: Plugins) -> Steps:
    return lambda name: docker_plugins.step(name).function


def skopeo_tags(registry: RegistryServer, repository: str, tmp_path: Path) -> list[str]:
    auth = write_authfile(tmp_path / "auth.json", registry)
    listed = skopeo(
        "list-tags",
        "--tls-verify=false",
        "--authfile",
        str(auth),
        f"docker://{registry.host}/{repository}",
    )
    return sorted(json.loads(listed)["Tags"])


def pulled_names(
    image: str, credentials: DockerRegistryCredentials, destination: Path
) -> list[str]:
    """The files of the code pulled out of ``image``."""
    return file_names(
        OciImage(image=image, credentials=credentials).pull_code(destination).directory
    )


@pytest.mark.usefixtures("docker_host")
def test_auto_dockerfile_build_push_and_pull_code_out_of_the_image(
    steps: Steps,
    engine_base: str,
    project: Path,
    oci_registry: RegistryServer,
    credentials: DockerRegistryCredentials,
    tmp_path: Path,
) -> None:
    outputs = steps("prefect_docker.deployments.steps.build_docker_image")(
        image_name=f"{oci_registry.host}/engine/flows",
        tag="v1",
        dockerfile="auto",
        base_image=engine_base,
        path=str(project),
        additional_tags=["latest"],
    )
    assert outputs["image"] == f"{oci_registry.host}/engine/flows:v1"
    assert str(outputs["image_id"])
    assert (project / "Dockerfile").read_text() == "# the project's own Dockerfile\n"
    assert not (project / "Dockerfile.generated").exists()
    pushed = steps("prefect_docker.deployments.steps.push_docker_image")(
        image_name=f"{oci_registry.host}/engine/flows",
        tag="v1",
        credentials=credentials,
        additional_tags=["latest"],
    )
    assert pushed["image"] == outputs["image"]
    assert skopeo_tags(oci_registry, "engine/flows", tmp_path) == ["latest", "v1"]
    pulled = pulled_names(f"{oci_registry.host}/engine/flows:v1", credentials, tmp_path / "out")
    assert pulled == ["Dockerfile", "flow.py", "pkg/helpers.py"]


@pytest.mark.usefixtures("docker_host")
def test_a_project_dockerfile_builds_from_a_context_with_dockers_ignore_rules(
    steps: Steps,
    engine_base: str,
    project: Path,
    oci_registry: RegistryServer,
    credentials: DockerRegistryCredentials,
    tmp_path: Path,
) -> None:
    (project / "Dockerfile").write_text(f"FROM {engine_base}\nWORKDIR /app\nCOPY . /app/\n")
    (project / "secret.txt").write_text("top\n")
    (project / "pkg" / "secret.txt").write_text("nested\n")
    # The Dockerfile is ignored, yet still sent: the engine needs it to build.
    (project / ".dockerignore").write_text("secret.txt\nDockerfile\n")
    steps("build_docker_image")(
        image_name=f"{oci_registry.host}/engine/own",
        tag="v1",
        path=str(project),
        push=True,
        credentials=credentials,
    )
    pulled = pulled_names(f"{oci_registry.host}/engine/own:v1", credentials, tmp_path / "out")
    assert pulled == [
        ".dockerignore",
        "flow.py",
        "pkg/helpers.py",
        "pkg/secret.txt",
    ]


@pytest.mark.usefixtures("docker_host")
def test_the_generated_dockerfile_is_kept_on_request(
    steps: Steps, engine_base: str, project: Path, oci_registry: RegistryServer
) -> None:
    steps("build_docker_image")(
        image_name=f"{oci_registry.host}/engine/kept",
        tag="v1",
        dockerfile="auto",
        base_image=engine_base,
        path=str(project),
        persist_dockerfile=True,
    )
    kept = (project / "Dockerfile.generated").read_text()
    assert kept.startswith(f"FROM {engine_base}\n")
    assert "COPY . /opt/prefect/project/" in kept
    assert (project / "Dockerfile").read_text() == "# the project's own Dockerfile\n"


def test_the_auto_dockerfile_installs_requirements_before_copying_the_code(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("httpx\n")
    text = auto_dockerfile(tmp_path, "python:3.12-slim", "/opt/prefect/p")
    lines = text.splitlines()
    assert lines.index(
        "RUN python -m pip install --no-cache-dir -r requirements.txt"
    ) < lines.index("COPY . /opt/prefect/p/")
    (tmp_path / "requirements.txt").unlink()
    assert "RUN" not in auto_dockerfile(tmp_path, "base", "/w")
    (tmp_path / "pyproject.toml").write_text("[project]\nname='p'\n")
    assert (
        auto_dockerfile(tmp_path, "base", "/w").splitlines()[-1]
        == "RUN python -m pip install --no-cache-dir ."
    )


@pytest.mark.usefixtures("docker_host")
def test_a_failed_build_names_the_failing_instruction_and_keeps_its_output(
    steps: Steps, engine_base: str, project: Path
) -> None:
    (project / "Dockerfile").write_text(f"FROM {engine_base}\nCOPY does-not-exist.txt /x\n")
    with pytest.raises(BuildError) as caught:
        steps("build_docker_image")(image_name="localhost/broken", tag="v1", path=str(project))
    message = str(caught.value)
    assert "\n" not in message
    assert "STEP 2/2: COPY does-not-exist.txt /x" in message
    assert "STEP 1/2" in caught.value.output


@pytest.mark.usefixtures("docker_host")
def test_pushing_with_wrong_credentials_fails_without_showing_them(
    steps: Steps, engine_base: str, project: Path, oci_registry: RegistryServer
) -> None:
    image_name = f"{oci_registry.host}/engine/denied"
    (project / "Dockerfile").write_text(f"FROM {engine_base}\nCOPY flow.py /app/flow.py\n")
    steps("build_docker_image")(image_name=image_name, tag="v1", path=str(project))
    wrong = DockerRegistryCredentials(
        username="ciuser", password="hunter2-wrong", registry_url=oci_registry.url
    )
    with pytest.raises(CodeferryError) as caught:
        steps("push_docker_image")(image_name=image_name, tag="v1", credentials=wrong)
    assert "pushing" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_no_reachable_engine_is_a_clear_error(
    steps: Steps, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(CodeferryError, match="no container engine is reachable at unix://"):
        steps("build_docker_image")(image_name="localhost/x", tag="v1", path=str(project))
