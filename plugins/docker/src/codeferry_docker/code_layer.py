"""Daemonless code layers: a project as one reproducible layer on top of a base image.

The layer is a gzip-compressed tar of the project under the working directory, written the same
way every time (sorted entries, fixed times, owners and modes, a gzip header without a name or
time), so an unchanged project gives the same layer digest, and pushing it again moves nothing.
The image config gets the working directory, the environment, the layer's diff ID and a history
entry; base layers are never downloaded when the registry already holds them or can mount them.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import os
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from codeferry.errors import CodeferryError
from codeferry.home import OwnFolders, refuse_own_folder
from codeferry.walk import TOOLING_FOLDERS
from codeferry_docker.dockerignore import DockerIgnore
from codeferry_docker.layers import OPAQUE
from codeferry_docker.manifests import (
    DOCKER_LAYER_GZIP,
    OCI_LAYER_GZIP,
    ImageManifest,
    sha256_digest,
)

__all__ = [
    "CodeLayer",
    "build_layer",
    "image_config_with_layer",
    "manifest_with_layer",
    "project_files",
]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class CodeLayer:
    """A built layer on disk: its compressed digest and size, and its uncompressed diff ID."""

    path: Path
    digest: str
    diff_id: str
    size: int
    files: int


class _Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


class _HashingWriter:
    """Passes bytes on to ``target`` while hashing and counting them."""

    def __init__(self, target: _Writable) -> None:
        self.target = target
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        return self.target.write(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.target.flush()


def project_files(
    directory: Path, ignore_files: Iterable[str] = (".dockerignore",)
) -> Iterator[str]:
    """The ``/``-separated paths of the project's files and links, sorted, ignored ones left out.

    Patterns come from the ignore files found at the project's top, read with Docker's own
    ``.dockerignore`` rules (see :mod:`codeferry_docker.dockerignore`).

    :raises DockerIgnoreError: naming the file and line of a malformed pattern.
    """
    ignore = DockerIgnore.from_files(directory, ignore_files)
    refuse_own_folder(directory)
    own = OwnFolders(directory)  # codeferry's home and checkouts are never shipped
    yield from sorted(ignore.walk(directory, TOOLING_FOLDERS, skip=own.excludes))


def build_layer(
    directory: Path,
    workdir: str,
    destination: Path,
    *,
    ignore_files: Iterable[str] = (".dockerignore",),
    mtime: int = 0,
) -> CodeLayer:
    """Write the project in ``directory`` as a layer holding it at ``workdir``.

    The working directory is made opaque in the layer, so files of an older code layer in the
    base image do not show through, and a puller needs to read this layer only.

    :raises CodeferryError: for a missing folder or a link that leaves the project.
    """
    if not directory.is_dir():
        raise CodeferryError(f"build_code_layer: folder {directory} does not exist")
    folder = PurePosixPath("/", workdir)
    if ".." in folder.parts:
        raise CodeferryError(f"build_code_layer: workdir {workdir!r} has a '..' component")
    inside = [p for p in folder.parts[1:]]
    count = 0
    with destination.open("wb") as raw:
        compressed_hash = _HashingWriter(raw)
        with gzip.GzipFile(
            filename="", mode="wb", fileobj=compressed_hash, mtime=0, compresslevel=6
        ) as gz:
            plain = _HashingWriter(gz)
            with tarfile.open(fileobj=plain, mode="w", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
                for depth in range(1, len(inside) + 1):
                    tar.addfile(_entry("/".join(inside[:depth]), tarfile.DIRTYPE, 0o755, mtime))
                prefix = "/".join(inside)
                if prefix:
                    tar.addfile(_entry(f"{prefix}/{OPAQUE}", tarfile.REGTYPE, 0o644, mtime))
                made: set[str] = set()
                for rel in project_files(directory, ignore_files):
                    parts = rel.split("/")
                    for depth in range(1, len(parts)):
                        parent = "/".join(parts[:depth])
                        if parent not in made:
                            made.add(parent)
                            tar.addfile(
                                _entry(_join(prefix, parent), tarfile.DIRTYPE, 0o755, mtime)
                            )
                    count += _add_file(tar, directory, rel, _join(prefix, rel), mtime)
    return CodeLayer(
        path=destination,
        digest="sha256:" + compressed_hash.hash.hexdigest(),
        diff_id="sha256:" + plain.hash.hexdigest(),
        size=compressed_hash.size,
        files=count,
    )


def _join(prefix: str, rel: str) -> str:
    return f"{prefix}/{rel}" if prefix else rel


def _entry(name: str, kind: bytes, mode: int, mtime: int, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.size = size
    return info


def _add_file(tar: tarfile.TarFile, directory: Path, rel: str, name: str, mtime: int) -> int:
    path = directory / rel
    if path.is_symlink():
        target = str(path.readlink())
        resolved = (path.parent / target).resolve()
        if target.startswith("/") or not resolved.is_relative_to(directory.resolve()):
            raise CodeferryError(
                f"build_code_layer: link {rel} points outside the project ({target})"
            )
        info = _entry(name, tarfile.SYMTYPE, 0o777, mtime)
        info.linkname = target
        tar.addfile(info)
        return 1
    if not path.is_file():
        return 0  # sockets, FIFOs: not code
    executable = os.access(path, os.X_OK)
    size = path.stat().st_size
    info = _entry(name, tarfile.REGTYPE, 0o755 if executable else 0o644, mtime, size)
    with path.open("rb") as reader:
        tar.addfile(info, reader)
    return 1


def image_config_with_layer(
    base: Mapping[str, Any], layer: CodeLayer, workdir: str, env: Mapping[str, str]
) -> bytes:
    """The base image's config with the layer added, the working directory and ``env`` set."""
    config = copy.deepcopy(dict(base))
    inner = config.get("config")
    if not isinstance(inner, dict):
        inner = config["config"] = {}
    inner["WorkingDir"] = str(PurePosixPath("/", workdir))
    if env:
        merged = {k: v for k, _, v in (e.partition("=") for e in inner.get("Env") or [])}
        merged.update({str(k): str(v) for k, v in env.items()})
        inner["Env"] = [f"{k}={v}" for k, v in merged.items()]
    rootfs = config.get("rootfs")
    if not isinstance(rootfs, dict):
        rootfs = config["rootfs"] = {"type": "layers", "diff_ids": []}
    rootfs["diff_ids"] = [*(rootfs.get("diff_ids") or []), layer.diff_id]
    history = config.get("history")
    if isinstance(history, list) and history:
        # History is optional; when the base keeps it, it must describe every layer.
        history.append(
            {
                "created_by": f"codeferry build_code_layer: project at {inner['WorkingDir']}",
                "comment": f"{layer.files} files",
            }
        )
    return json.dumps(config, separators=(",", ":")).encode()


def manifest_with_layer(base: ImageManifest, config: bytes, layer: CodeLayer) -> bytes:
    """The base image's manifest with the new config and the layer on top, in the base's schema."""
    data = json.loads(base.raw)
    data["config"] = {
        "mediaType": base.config.media_type,
        "digest": sha256_digest(config),
        "size": len(config),
    }
    data["layers"] = [
        *data.get("layers", []),
        {
            "mediaType": OCI_LAYER_GZIP if base.is_oci else DOCKER_LAYER_GZIP,
            "digest": layer.digest,
            "size": layer.size,
        },
    ]
    data.pop("annotations", None)  # the base's annotations describe the base, not this image
    return json.dumps(data, separators=(",", ":")).encode()


def temporary_layer_path() -> Path:
    """A new temporary file for a layer (the caller removes it)."""
    handle, name = tempfile.mkstemp(prefix="codeferry-layer-", suffix=".tar.gz")
    os.close(handle)
    return Path(name)
