"""Building and pushing images with a Docker-compatible engine through the ``docker`` SDK.

The engine is whatever ``DOCKER_HOST`` points at: Docker, or Podman's Docker-compatible service
(``podman system service``). Registry credentials go with each push request
(``X-Registry-Auth``), never into an engine login that would be written to disk.
"""

from __future__ import annotations

import datetime
import io
import logging
import os
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeferry.errors import CodeferryError
from codeferry.steps.context import write_output
from codeferry_docker.code_layer import project_files

if TYPE_CHECKING:
    import docker

    from codeferry_docker.credentials import DockerRegistryCredentials

__all__ = ["BuildError", "auto_dockerfile", "build_image", "engine_client", "push_image"]

logger = logging.getLogger("codeferry.docker")
GENERATED_DOCKERFILE = "Dockerfile.codeferry"
_KEPT_LINES = 40


class BuildError(CodeferryError):
    """An image build failed; ``output`` holds the engine's output of the failing build."""

    def __init__(self, message: str, output: str) -> None:
        super().__init__(message)
        self.output = output


def engine_client() -> docker.DockerClient:
    """A client of the engine at ``DOCKER_HOST`` (or the default socket), checked with a ping.

    :raises CodeferryError: when the SDK is missing or no engine answers.
    """
    try:
        import docker
        import docker.errors
    except ImportError:
        raise CodeferryError(
            "the docker SDK is not installed; install it with: "
            "pip install 'codeferry-docker[engine]'"
        ) from None
    where = os.environ.get("DOCKER_HOST") or "the default Docker socket"
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as error:
        first = (str(error).splitlines() or [""])[0][:200]
        raise CodeferryError(
            f"no container engine is reachable at {where} (set DOCKER_HOST to a Docker or Podman "
            f"service): {first}"
        ) from None
    return client


def auto_dockerfile(project: Path, base_image: str, workdir: str) -> str:
    """A Dockerfile that copies the project to ``workdir`` and installs its requirements.

    ``requirements.txt`` is installed before the project is copied (so the install is cached
    while only code changes); a ``pyproject.toml`` is installed after; without either there is no
    install step.
    """
    lines = [f"FROM {base_image}", f"WORKDIR {workdir}"]
    if (project / "requirements.txt").is_file():
        lines += [
            f"COPY requirements.txt {workdir}/requirements.txt",
            "RUN python -m pip install --no-cache-dir -r requirements.txt",
        ]
    lines.append(f"COPY . {workdir}/")
    if not (project / "requirements.txt").is_file() and (project / "pyproject.toml").is_file():
        lines.append("RUN python -m pip install --no-cache-dir .")
    return "\n".join(lines) + "\n"


def _context_archive(
    project: Path, extra: Mapping[str, bytes], destination: Path, always: Iterable[str] = ()
) -> None:
    """A build context as a tar: the project (``.dockerignore`` applied) plus ``extra`` files.

    The files named in ``always`` (the Dockerfile, the ignore file) go in even when ignored, as
    ``docker build`` sends them: the engine needs them, and leaves them out of ``COPY`` itself.
    """
    names = set(project_files(project, (".dockerignore",)))
    names.update(name for name in always if (project / name).is_file())
    with tarfile.open(destination, "w") as tar:
        for rel in sorted(names - extra.keys()):
            tar.add(project / rel, arcname=rel, recursive=False)
        for name, data in extra.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))


def _generated_dockerfile(context: Path, text: bytes) -> dict[str, bytes]:
    """The files that put a Dockerfile into the context under a name ``COPY`` never copies."""
    ignore = context / ".dockerignore"
    ignored = ignore.read_bytes() + b"\n" if ignore.is_file() else b".dockerignore\n"
    return {
        GENERATED_DOCKERFILE: text,
        ".dockerignore": ignored + GENERATED_DOCKERFILE.encode() + b"\n",
    }


def _default_tag() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y%m%dt%H%M%S%fz")


def build_image(
    *,
    image_name: str,
    dockerfile: str,
    tag: str | None,
    additional_tags: Iterable[str],
    nocache: bool,
    persist_dockerfile: bool,
    dockerfile_output_path: str,
    base_image: str | None,
    buildargs: Mapping[str, str],
    platform: str | None,
    context: Path,
    push: bool,
    credentials: DockerRegistryCredentials | None,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """Build ``image_name:tag`` from ``context`` (see ``steps.build_docker_image``)."""
    if not context.is_dir():
        raise CodeferryError(f"build_docker_image: folder {context} does not exist")
    tag = tag or _default_tag()
    image = f"{image_name}:{tag}"
    client = engine_client()
    options: dict[str, Any] = {
        "tag": image,
        "buildargs": dict(buildargs),
        "nocache": nocache,
        "rm": True,
        "decode": True,
        **({"platform": platform} if platform else {}),
        **extra,
    }
    # Every context is packed here, not by the SDK, so .dockerignore has Docker's own rules.
    name = GENERATED_DOCKERFILE
    if dockerfile == "auto":
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        text = auto_dockerfile(
            context,
            base_image or f"python:{version}-slim",
            f"/opt/prefect/{context.resolve().name}",
        )
        if persist_dockerfile:
            kept = context / dockerfile_output_path
            if kept.exists() and kept.resolve() == (context / "Dockerfile").resolve():
                raise CodeferryError(
                    "build_docker_image: dockerfile_output_path would overwrite the project's "
                    "own Dockerfile; choose another name"
                )
            kept.write_text(text)
        added = _generated_dockerfile(context, text.encode())
    else:
        given = context / dockerfile
        if not given.is_file():
            raise CodeferryError(f"build_docker_image: no Dockerfile at {given}")
        if given.resolve().is_relative_to(context.resolve()):
            name, added = given.resolve().relative_to(context.resolve()).as_posix(), {}
        else:  # a Dockerfile outside the context travels inside it under another name
            added = _generated_dockerfile(context, given.read_bytes())
    with tempfile.TemporaryDirectory(prefix="codeferry-build-") as workspace:
        archive = Path(workspace) / "context.tar"
        _context_archive(context, added, archive, always=(name, ".dockerignore"))
        with archive.open("rb") as fileobj:
            _run_build(
                client,
                image,
                dict(options, fileobj=fileobj, custom_context=True, dockerfile=name),
            )
    image_id = str(client.images.get(image).id)
    extra_tags = list(additional_tags)
    for each in extra_tags:
        client.api.tag(image_id, repository=image_name, tag=each)
    outputs: dict[str, Any] = {
        "image_name": image_name,
        "tag": tag,
        "image": image,
        "image_id": image_id,
        "additional_tags": extra_tags,
    }
    if push:
        push_image(
            image_name=image_name, tag=tag, credentials=credentials, additional_tags=extra_tags
        )
    return outputs


def _run_build(client: docker.DockerClient, image: str, options: dict[str, Any]) -> str:
    """Run a build, streaming its output to the log and standard error.

    :raises BuildError: naming the failing instruction, with the build's output attached.
    """
    import docker.errors

    lines: list[str] = []
    step = ""
    try:
        for chunk in _chunks(client.api.build(**options)):
            text = chunk.get("stream")
            if text:
                for line in text.splitlines():
                    lines.append(line)
                    logger.debug("%s", line)  # shown once: on stderr, and in logs with -vv
                    write_output(line)
                    if line.upper().startswith(("STEP ", "#")) or line.startswith("Step "):
                        step = line
            error = chunk.get("error") or (chunk.get("errorDetail") or {}).get("message")
            if error:
                message = " ".join(str(error).split())
                raise BuildError(
                    f"building {image} failed at "
                    f"{step.strip() or 'the first instruction'}: {message}",
                    "\n".join(lines[-_KEPT_LINES:]),
                )
    except docker.errors.APIError as error:
        raise BuildError(
            f"building {image} failed: {' '.join(str(error.explanation or error).split())[:300]}",
            "\n".join(lines[-_KEPT_LINES:]),
        ) from None
    return "\n".join(lines)


def _chunks(stream: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for chunk in stream:
        if isinstance(chunk, dict):
            yield chunk


def push_image(
    *,
    image_name: str,
    tag: str | None,
    credentials: DockerRegistryCredentials | None,
    additional_tags: Iterable[str],
) -> dict[str, Any]:
    """Push ``image_name:tag`` and its additional tags through the engine."""
    import docker.errors

    client = engine_client()
    tags = [tag or "latest", *additional_tags]
    auth = (
        {"username": credentials.username, "password": credentials.password.get_secret_value()}
        if credentials is not None
        else None
    )
    for each in tags:
        try:
            for chunk in _chunks(
                client.api.push(image_name, tag=each, stream=True, decode=True, auth_config=auth)
            ):
                if chunk.get("status"):
                    logger.info("%s", chunk["status"])
                error = chunk.get("error") or (chunk.get("errorDetail") or {}).get("message")
                if error:
                    raise CodeferryError(
                        f"pushing {image_name}:{each} failed: {' '.join(str(error).split())[:300]}"
                    )
        except docker.errors.APIError as error:
            raise CodeferryError(
                f"pushing {image_name}:{each} failed: "
                f"{' '.join(str(error.explanation or error).split())[:300]}"
            ) from None
    return {
        "image_name": image_name,
        "tag": tags[0],
        "image": f"{image_name}:{tags[0]}",
        "additional_tags": tags[1:],
    }
