"""The hooks of codeferry-docker: its entry-point module, kept light (no httpx or docker here)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codeferry import hookimpl

if TYPE_CHECKING:
    from codeferry.hookspecs import RegisterBlockType, RegisterSourceKind, RegisterStep
    from codeferry.storage import CodeStorage


@hookimpl
def register_block_types(register: RegisterBlockType) -> None:
    from codeferry_docker.credentials import DockerRegistryCredentials
    from codeferry_docker.storage import OciImage

    register(DockerRegistryCredentials)
    register(OciImage)


@hookimpl
def register_steps(register: RegisterStep) -> None:
    from codeferry_docker import steps

    register(steps.pull_from_image)
    register(steps.build_code_layer)
    register(
        steps.build_docker_image,
        aliases=["prefect_docker.deployments.steps.build_docker_image"],
    )
    register(
        steps.push_docker_image,
        aliases=["prefect_docker.deployments.steps.push_docker_image"],
    )


@hookimpl
def register_source_kinds(register: RegisterSourceKind) -> None:
    register(
        "docker",
        description="a folder of a container image in a registry (its working directory by "
        "default), pulled without a container engine",
        examples=[
            "docker://ghcr.io/acme/flows:latest",
            "oci://registry.example.com/flows@sha256:<digest>",
            "docker://127.0.0.1:5000/flows:v2?path=/opt/flows",
        ],
    )


@hookimpl
def storage_from_source(source: object) -> CodeStorage | None:
    """Claim ``docker://`` and ``oci://`` URLs."""
    if not isinstance(source, str) or not source.lower().startswith(("docker://", "oci://")):
        return None
    from codeferry_docker.storage import OciImage

    return OciImage.from_source(source)
