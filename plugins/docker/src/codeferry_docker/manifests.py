"""Image manifests and indexes, OCI and Docker (schema 2), as the distribution API serves them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from codeferry.errors import CodeferryError

__all__ = [
    "DOCKER_CONFIG",
    "DOCKER_LAYER_GZIP",
    "DOCKER_LIST",
    "DOCKER_MANIFEST",
    "MANIFEST_ACCEPT",
    "OCI_CONFIG",
    "OCI_INDEX",
    "OCI_LAYER_GZIP",
    "OCI_LAYER_ZSTD",
    "OCI_MANIFEST",
    "Descriptor",
    "ImageIndex",
    "ImageManifest",
    "UnsupportedManifestError",
    "json_object",
    "layer_compression",
    "parse_manifest",
    "sha256_digest",
]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

MANIFEST_ACCEPT = ", ".join((OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST))

_INDEX_TYPES = {OCI_INDEX, DOCKER_LIST}
_MANIFEST_TYPES = {OCI_MANIFEST, DOCKER_MANIFEST}
_GZIP_LAYERS = {
    OCI_LAYER_GZIP,
    DOCKER_LAYER_GZIP,
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
}
_ZSTD_LAYERS = {
    OCI_LAYER_ZSTD,
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
}
_PLAIN_LAYERS = {
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
}


class UnsupportedManifestError(CodeferryError):
    """A manifest, index or layer is of a kind codeferry cannot read."""


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Descriptor:
    """A pointer to content: its media type, digest and size (and platform, in an index)."""

    media_type: str
    digest: str
    size: int
    platform: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any, where: str) -> Descriptor:
        if not isinstance(data, dict):
            raise UnsupportedManifestError(f"{where}: a descriptor is not an object")
        try:
            return cls(
                media_type=str(data.get("mediaType", "")),
                digest=str(data["digest"]),
                size=int(data["size"]),
                platform=dict(data.get("platform") or {}),
            )
        except (KeyError, TypeError, ValueError):
            raise UnsupportedManifestError(f"{where}: a descriptor lacks digest or size") from None

    def to_json(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}

    @property
    def platform_name(self) -> str:
        """``os/architecture[/variant]`` of an index entry."""
        parts = [self.platform.get("os", ""), self.platform.get("architecture", "")]
        if self.platform.get("variant"):
            parts.append(self.platform["variant"])
        return "/".join(parts)


@dataclass(frozen=True)
class ImageManifest:
    """One image: its config blob and its layers, bottom first."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    digest: str
    raw: bytes

    @property
    def is_oci(self) -> bool:
        return self.media_type == OCI_MANIFEST


@dataclass(frozen=True)
class ImageIndex:
    """Several images of one tag, one per platform."""

    media_type: str
    manifests: tuple[Descriptor, ...]
    digest: str

    def select(self, platform: str, where: str) -> Descriptor:
        """The entry for ``platform`` (``os/arch`` or ``os/arch/variant``).

        :raises UnsupportedManifestError: naming the platforms there are.
        """
        wanted = platform.split("/")
        candidates = [
            m for m in self.manifests if m.media_type in _MANIFEST_TYPES or not m.media_type
        ]
        for entry in candidates:
            have = entry.platform_name.split("/")
            if have[:2] == wanted[:2] and (len(wanted) < 3 or have[2:3] == wanted[2:3]):
                return entry
        offered = sorted(
            {m.platform_name for m in candidates if m.platform_name != "unknown/unknown"}
        )
        raise UnsupportedManifestError(
            f"{where} has no image for platform {platform} (it has: {', '.join(offered) or 'none'})"
        )


def json_object(raw: bytes, subject: str, error: Callable[[str], Exception]) -> dict[str, Any]:
    """The JSON object in ``raw``; ``error("SUBJECT is not JSON")`` (or not an object) if not."""
    try:
        data = json.loads(raw)
    except ValueError:
        raise error(f"{subject} is not JSON") from None
    if not isinstance(data, dict):
        raise error(f"{subject} is not a JSON object")
    return data


def parse_manifest(raw: bytes, content_type: str, where: str) -> ImageManifest | ImageIndex:
    """Parse a manifest or index served with ``content_type``.

    :raises UnsupportedManifestError: for schema 1 manifests, artifacts and anything else.
    """
    data = json_object(raw, f"{where}: the manifest", UnsupportedManifestError)
    media_type = str(data.get("mediaType") or content_type.split(";", 1)[0].strip())
    digest = sha256_digest(raw)
    if media_type in _INDEX_TYPES or (not media_type and "manifests" in data):
        entries = data.get("manifests")
        if not isinstance(entries, list):
            raise UnsupportedManifestError(f"{where}: the index lists no manifests")
        return ImageIndex(
            media_type or OCI_INDEX,
            tuple(Descriptor.from_json(e, where) for e in entries),
            digest,
        )
    if media_type in _MANIFEST_TYPES or (not media_type and "layers" in data):
        config = Descriptor.from_json(data.get("config"), where)
        if config.media_type not in {OCI_CONFIG, DOCKER_CONFIG}:
            raise UnsupportedManifestError(
                f"{where} is not a container image (config type {config.media_type!r})"
            )
        layers = data.get("layers")
        if not isinstance(layers, list):
            raise UnsupportedManifestError(f"{where}: the manifest lists no layers")
        return ImageManifest(
            media_type or OCI_MANIFEST,
            config,
            tuple(Descriptor.from_json(e, where) for e in layers),
            digest,
            raw,
        )
    raise UnsupportedManifestError(
        f"{where} has a manifest of unsupported type {media_type or 'unknown'!r} "
        "(OCI and Docker schema 2 images are supported)"
    )


def layer_compression(layer: Descriptor, where: str) -> str:
    """``"gzip"``, ``"zstd"`` or ``""`` (plain tar) for a layer's media type.

    :raises UnsupportedManifestError: for unknown layer types.
    """
    if layer.media_type in _GZIP_LAYERS:
        return "gzip"
    if layer.media_type in _ZSTD_LAYERS:
        return "zstd"
    if layer.media_type in _PLAIN_LAYERS:
        return ""
    raise UnsupportedManifestError(
        f"{where} has a layer of unsupported type {layer.media_type!r} "
        "(plain tar layers and gzip- or zstd-compressed ones are supported)"
    )
