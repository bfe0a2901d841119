"""Images for the tests, assembled in Python and pushed with plain HTTP calls.

Independent of the plugin's own registry client and layer writer, so a test of the plugin's reader
does not rest on the plugin's writer (and hostile layers can be made that no tool would write).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
BUSYBOX = Path("/bin/busybox")


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Layer:
    """A compressed layer (gzip unless said) and the digest of its uncompressed tar (diff ID)."""

    blob: bytes
    diff_id: str
    media_type: str = OCI_LAYER

    @property
    def digest(self) -> str:
        return digest_of(self.blob)


def member(
    name: str,
    data: bytes = b"",
    *,
    kind: bytes = tarfile.REGTYPE,
    link: str = "",
    mode: int = 0o644,
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.linkname = link
    info.mode = 0o755 if kind == tarfile.DIRTYPE else mode
    info.mtime = 1_700_000_000
    return info


def plain_tar(
    files: Mapping[str, bytes] = {}, extra: Iterable[tuple[tarfile.TarInfo, bytes]] = ()
) -> bytes:
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            tar.addfile(member(name, data), io.BytesIO(data))
        for info, data in extra:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return plain.getvalue()


def layer(
    files: Mapping[str, bytes] = {},
    extra: Iterable[tuple[tarfile.TarInfo, bytes]] = (),
) -> Layer:
    """A layer holding ``files`` (image paths without a leading ``/``) and raw ``extra`` members."""
    raw = plain_tar(files, extra)
    return Layer(gzip.compress(raw, mtime=0), digest_of(raw))


def zstd_layer(files: Mapping[str, bytes], *, frames: int = 1, skippable: bool = False) -> Layer:
    """A zstd layer, its tar cut into ``frames`` frames, a skippable frame last if asked
    (as zstd:chunked layers are written)."""
    import struct

    import zstandard

    raw = plain_tar(files)
    step = -(-len(raw) // frames)
    compressor = zstandard.ZstdCompressor()
    blob = b"".join(compressor.compress(raw[i : i + step]) for i in range(0, len(raw), step))
    if skippable:
        note = b"codeferry test metadata"
        blob += struct.pack("<II", 0x184D2A50, len(note)) + note
    return Layer(blob, digest_of(raw), OCI_LAYER_ZSTD)


def busybox_layer() -> Layer:
    """Debian's static busybox at /bin/busybox with a few applet links: a runnable base."""
    data = BUSYBOX.read_bytes()
    extra = [
        (member("bin", kind=tarfile.DIRTYPE), b""),
        (member("bin/busybox", data, mode=0o755), data),
        *(
            (member(f"bin/{applet}", kind=tarfile.SYMTYPE, link="busybox"), b"")
            for applet in ("sh", "ls", "cat", "echo")
        ),
        (member("etc", kind=tarfile.DIRTYPE), b""),
        (member("etc/os-release", b"NAME=busybox-test\n"), b"NAME=busybox-test\n"),
    ]
    return layer(extra=extra)


def config_for(
    layers: Iterable[Layer],
    *,
    workdir: str = "",
    env: Iterable[str] = ("PATH=/bin",),
    history: bool = True,
) -> dict[str, Any]:
    layers = list(layers)
    config: dict[str, Any] = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": list(env), "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [each.diff_id for each in layers]},
    }
    if workdir:
        config["config"]["WorkingDir"] = workdir
    if history:
        config["history"] = [{"created_by": f"test layer {i}"} for i in range(len(layers))]
    return config


class RawPusher:
    """Pushes blobs and manifests to a registry with plain HTTP calls (Basic auth)."""

    def __init__(self, url: str, username: str | None = None, password: str | None = None) -> None:
        auth = httpx.BasicAuth(username, password or "") if username else None
        self.http = httpx.Client(base_url=url, auth=auth, timeout=60)

    def close(self) -> None:
        self.http.close()

    def blob(self, repository: str, data: bytes) -> str:
        digest = digest_of(data)
        if self.http.head(f"/v2/{repository}/blobs/{digest}").status_code == 200:
            return digest
        start = self.http.post(f"/v2/{repository}/blobs/uploads/")
        assert start.status_code == 202, start.text
        location = httpx.URL(str(self.http.base_url)).join(start.headers["Location"])
        done = self.http.put(
            location.copy_merge_params({"digest": digest}),
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert done.status_code == 201, done.text
        return digest

    def manifest(self, repository: str, tag: str, body: bytes, media_type: str) -> str:
        response = self.http.put(
            f"/v2/{repository}/manifests/{tag}", content=body, headers={"Content-Type": media_type}
        )
        assert response.status_code == 201, response.text
        return digest_of(body)

    def image(
        self,
        repository: str,
        tag: str,
        layers: Iterable[Layer],
        config: Mapping[str, Any] | None = None,
        *,
        docker: bool = False,
    ) -> str:
        """Push an image; returns its manifest digest."""
        layers = list(layers)
        config_bytes = json.dumps(config or config_for(layers)).encode()
        self.blob(repository, config_bytes)
        for each in layers:
            self.blob(repository, each.blob)
        media, config_type, layer_type = (
            (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER)
            if docker
            else (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER)
        )
        body = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": media,
                "config": {
                    "mediaType": config_type,
                    "digest": digest_of(config_bytes),
                    "size": len(config_bytes),
                },
                "layers": [
                    {
                        "mediaType": layer_type if docker else e.media_type,
                        "digest": e.digest,
                        "size": len(e.blob),
                    }
                    for e in layers
                ],
            }
        ).encode()
        return self.manifest(repository, tag, body, media)

    def index(self, repository: str, tag: str, entries: Iterable[tuple[str, str]]) -> str:
        """Push an index over already pushed manifests: (digest, "os/arch") pairs."""
        manifests = []
        for digest, platform in entries:
            raw = self.http.get(
                f"/v2/{repository}/manifests/{digest}", headers={"Accept": OCI_MANIFEST}
            ).content
            os_name, arch = platform.split("/")[:2]
            manifests.append(
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": digest,
                    "size": len(raw),
                    "platform": {"os": os_name, "architecture": arch},
                }
            )
        body = json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        ).encode()
        return self.manifest(repository, tag, body, OCI_INDEX)
