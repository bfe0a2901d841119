"""Deployment-file steps for container images.

``pull_from_image`` and ``build_code_layer`` speak the distribution API directly (no engine);
``build_docker_image`` and ``push_docker_image`` drive a Docker-compatible engine (Docker, or
Podman's service) through the ``docker`` SDK, as Prefect's steps of the same names do.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codeferry.errors import CodeferryError

__all__ = ["build_code_layer", "build_docker_image", "pull_from_image", "push_docker_image"]


def pull_from_image(
    image: str,
    path: str | None = None,
    *,
    platform: str = "linux/amd64",
    credentials: Any = None,
    destination: str | None = None,
    replace: bool = False,
    insecure: bool | None = None,
) -> dict[str, Any]:
    """Pull a folder of an image (its working directory by default) into a checkout.

    No container engine is used: the manifest and the layers holding the folder are downloaded
    from the registry. Outputs: ``directory``, ``version`` (the image manifest's digest),
    ``files`` and ``bytes`` transferred, ``changed``.
    """
    from codeferry_docker.credentials import DockerRegistryCredentials
    from codeferry_docker.storage import OciImage

    storage = OciImage.from_source(image)
    storage = storage.model_copy(
        update={
            "path": path if path is not None else storage.path,
            "platform": platform,
            "credentials": DockerRegistryCredentials.from_step_argument(credentials),
            "insecure": insecure,
        }
    )
    return storage.pull_code(destination, replace=replace).as_dict()


def build_code_layer(
    base_image: str,
    image_name: str,
    tag: str | None = None,
    *,
    directory: str | None = None,
    workdir: str = "/opt/flows",
    env: Mapping[str, Any] | None = None,
    credentials: Any = None,
    base_credentials: Any = None,
    ignore_files: list[str] | None = None,
    platform: str = "linux/amd64",
    insecure: bool | None = None,
) -> dict[str, Any]:
    """Publish the project as one layer on ``base_image``, without a container engine.

    The layer holds ``directory`` (default: the working directory) at ``workdir``; the image
    config gets ``WorkingDir`` and ``env``. Only the new layer, config and manifest are uploaded
    when the registry has the base layers or can mount them. Without ``tag``, the tag is derived
    from the project's content (``code-<12 hex>``), so an unchanged project keeps its tag.
    ``ignore_files`` (default: ``.dockerignore``) leave files out by Docker's own rules.

    Outputs: ``image_name``, ``tag``, ``image`` (``name:tag``), ``digest``,
    ``image_with_digest``, and what was moved (``bytes_uploaded``, ``blobs_uploaded``,
    ``blobs_mounted``, ``blobs_present``).
    """
    from codeferry_docker.credentials import DockerRegistryCredentials
    from codeferry_docker.publish import publish_code_layer
    from codeferry_docker.references import parse_reference

    base = parse_reference(base_image)
    target = parse_reference(image_name)
    named_tag = ":" in image_name.rsplit("/", 1)[-1].split("@", 1)[0]
    if target.digest or (named_tag and tag is not None):
        raise CodeferryError(
            f"build_code_layer: give image_name without a digest, and the tag once ({image_name!r})"
        )
    if tag is not None:
        target = target.with_tag(tag)
    published = publish_code_layer(
        base,
        target,
        Path(directory or Path.cwd()),
        workdir=workdir,
        env={str(k): str(v) for k, v in (env or {}).items()},
        credentials=DockerRegistryCredentials.from_step_argument(credentials),
        base_credentials=DockerRegistryCredentials.from_step_argument(base_credentials),
        ignore_files=ignore_files if ignore_files is not None else [".dockerignore"],
        platform=platform,
        insecure=insecure,
        tag_from_content=tag is None and not named_tag,
    )
    return published.as_outputs()


def build_docker_image(  # noqa: PLR0917 - Prefect's step takes these positionally
    image_name: str,
    dockerfile: str = "Dockerfile",
    tag: str | None = None,
    additional_tags: list[str] | None = None,
    ignore_cache: bool = False,
    persist_dockerfile: bool = False,
    dockerfile_output_path: str = "Dockerfile.generated",
    *,
    base_image: str | None = None,
    build_kwargs: Mapping[str, Any] | None = None,
    buildargs: Mapping[str, Any] | None = None,
    platform: str | None = None,
    path: str | None = None,
    push: bool = False,
    credentials: Any = None,
    **more_build_kwargs: Any,
) -> dict[str, Any]:
    """Build an image with a Docker-compatible engine (``DOCKER_HOST``), as Prefect's step does.

    ``dockerfile: auto`` writes a Dockerfile that copies the project and installs its
    ``requirements.txt`` or ``pyproject.toml`` on ``base_image``, in a temporary build context
    (a project's own ``Dockerfile`` is never touched); ``persist_dockerfile`` keeps a copy at
    ``dockerfile_output_path``. Build output is streamed; a failed build names the failing
    instruction and shows its output.

    Outputs: ``image_name``, ``tag``, ``image``, ``image_id`` (and ``additional_tags``).
    """
    from codeferry_docker.credentials import DockerRegistryCredentials
    from codeferry_docker.engine import build_image

    kwargs = {**(build_kwargs or {}), **more_build_kwargs}
    return build_image(
        image_name=image_name,
        dockerfile=dockerfile,
        tag=tag,
        additional_tags=additional_tags or [],
        nocache=ignore_cache,
        persist_dockerfile=persist_dockerfile,
        dockerfile_output_path=dockerfile_output_path,
        base_image=base_image,
        buildargs={
            str(k): str(v)
            for k, v in {**(kwargs.pop("buildargs", None) or {}), **(buildargs or {})}.items()
        },
        platform=platform,
        context=Path(path or Path.cwd()),
        push=push,
        credentials=DockerRegistryCredentials.from_step_argument(credentials),
        extra=kwargs,
    )


def push_docker_image(
    image_name: str,
    tag: str | None = None,
    credentials: Any = None,
    additional_tags: list[str] | None = None,
    ignore_cache: bool = False,
) -> dict[str, Any]:
    """Push an image (and its ``additional_tags``) with a Docker-compatible engine.

    Outputs: ``image_name``, ``tag``, ``image``, ``additional_tags``.
    """
    from codeferry_docker.credentials import DockerRegistryCredentials
    from codeferry_docker.engine import push_image

    del ignore_cache  # accepted for Prefect compatibility; pushes are not cached
    return push_image(
        image_name=image_name,
        tag=tag,
        credentials=DockerRegistryCredentials.from_step_argument(credentials),
        additional_tags=additional_tags or [],
    )
