"""Image references: ``docker://REGISTRY/REPO:TAG``, ``oci://...``, ``...@sha256:...``.

A reference names a registry host, a repository in it and a tag or a digest. Docker Hub's short
forms (``python:3.12``, ``user/app``) expand the way ``docker pull`` expands them.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from codeferry.errors import CodeferryError

__all__ = [
    "DOCKER_HUB",
    "ImageReference",
    "InvalidReferenceError",
    "is_image_source",
    "parse_reference",
]

DOCKER_HUB = "registry-1.docker.io"
_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io"}
_SCHEMES = ("docker://", "oci://")
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_HOST = re.compile(r"^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")


class InvalidReferenceError(CodeferryError, ValueError):
    """An image reference is malformed."""


@dataclass(frozen=True)
class ImageReference:
    """One image in one registry: ``registry/repository`` with a ``tag`` and/or a ``digest``."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """``registry/repository``, as ``docker`` spells it."""
        return f"{self.registry}/{self.repository}"

    @property
    def reference(self) -> str:
        """What the manifest is fetched by: the digest when pinned, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def is_loopback(self) -> bool:
        """Whether the registry runs on this machine (spoken to over plain HTTP by default)."""
        host = self.registry.rsplit(":", 1)[0] if not self.registry.endswith("]") else self.registry
        host = host.strip("[]")
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def with_digest(self, digest: str) -> ImageReference:
        return ImageReference(self.registry, self.repository, self.tag, digest)

    def with_tag(self, tag: str) -> ImageReference:
        return ImageReference(self.registry, self.repository, tag, None)

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def is_image_source(source: str) -> bool:
    """Whether ``source`` is written as an image URL (``docker://`` or ``oci://``)."""
    return source.lower().startswith(_SCHEMES)


def parse_reference(text: str) -> ImageReference:
    """Parse an image reference, with or without ``docker://`` / ``oci://``.

    :raises InvalidReferenceError: naming what is wrong.
    """
    raw = text.strip()
    for scheme in _SCHEMES:
        if raw.lower().startswith(scheme):
            raw = raw[len(scheme) :]
            break
    if not raw:
        raise InvalidReferenceError(f"image reference {text!r} is empty")
    if "@" in raw.split("/", 1)[0] and "/" in raw:
        raise InvalidReferenceError(
            f"image reference {_shown(text)} carries credentials; use a "
            "docker-registry-credentials block instead"
        )
    rest, _, digest = raw.partition("@")
    if digest and not _DIGEST.match(digest):
        raise InvalidReferenceError(f"image reference {text!r} has an invalid digest {digest!r}")
    registry, path = _split_registry(rest, text)
    repository, tag = _split_tag(path, text)
    if registry == DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"
    if tag is None and not digest:
        tag = "latest"
    return ImageReference(registry, repository, tag, digest or None)


def _split_registry(rest: str, text: str) -> tuple[str, str]:
    """``(registry, repository[:tag])``; the first component is a host only if it looks like one."""
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        registry, path = first, remainder
    else:
        registry, path = DOCKER_HUB, rest
    if not _HOST.match(registry):
        raise InvalidReferenceError(
            f"image reference {text!r} has an invalid registry {registry!r}"
        )
    return (DOCKER_HUB if registry.lower() in _HUB_ALIASES else registry), path


def _split_tag(path: str, text: str) -> tuple[str, str | None]:
    repository, tag = path, None
    if ":" in path.rsplit("/", 1)[-1]:
        repository, tag = path.rsplit(":", 1)
        if not _TAG.match(tag):
            raise InvalidReferenceError(f"image reference {text!r} has an invalid tag {tag!r}")
    if not repository or not all(_COMPONENT.match(c) for c in repository.split("/")):
        raise InvalidReferenceError(
            f"image reference {text!r} has an invalid repository {repository!r} "
            "(lowercase letters, digits, '.', '_', '-' and '/')"
        )
    return repository, tag


def _shown(text: str) -> str:
    """``text`` without what looks like credentials before an ``@`` in the host part."""
    host = text.split("://", 1)[-1].split("/", 1)
    return repr(text.replace(host[0], "********@" + host[0].rsplit("@", 1)[-1]))
