"""How to log in to a container registry: the ``docker-registry-credentials`` block."""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, SecretStr

from codeferry.blocks import Block

__all__ = ["DockerRegistryCredentials"]


class DockerRegistryCredentials(Block):
    """A user name and password (or token) for one container registry.

    Field names follow Prefect's block of the same slug, so its saved documents and
    ``prefect.yaml`` credential dictionaries work unchanged.
    """

    model_config = ConfigDict(hide_input_in_errors=True)

    block_type_slug: ClassVar[str] = "docker-registry-credentials"
    block_type_name: ClassVar[str] = "Docker Registry Credentials"

    username: str = Field(description="The user name to log in with.")
    password: SecretStr = Field(description="The password or access token.")
    registry_url: str = Field(
        default="",
        description="The registry these credentials are for, such as ghcr.io or "
        "http://127.0.0.1:5000 (empty: any registry they are given for).",
    )
    reauth: bool = Field(default=True, description="Accepted for Prefect compatibility.")

    @property
    def registry_host(self) -> str:
        """The registry's ``host[:port]``, without scheme or path (empty when not set)."""
        url = self.registry_url.strip()
        if not url:
            return ""
        netloc = urlsplit(url if "://" in url else f"//{url}").netloc
        return netloc.rsplit("@", 1)[-1].lower()

    def matches(self, registry: str) -> bool:
        """Whether these credentials are meant for ``registry`` (``host[:port]``)."""
        host = self.registry_host
        if not host or host == registry.lower():
            return True
        hub = {"docker.io", "index.docker.io", "registry-1.docker.io"}
        return host in hub and registry.lower() in hub
