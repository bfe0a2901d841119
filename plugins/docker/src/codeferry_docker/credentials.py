"""How to log in to a container registry: the ``docker-registry-credentials`` block."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pydantic
from pydantic import ConfigDict, Field, SecretStr

from codeferry.blocks import Block
from codeferry.errors import CodeferryError

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

    @classmethod
    def from_step_argument(
        cls, value: DockerRegistryCredentials | Mapping[str, Any] | None
    ) -> DockerRegistryCredentials | None:
        """The credentials a step was given: a block, a dictionary (as in ``prefect.yaml``) or none.

        :raises CodeferryError: naming the problem, never a value.
        """
        if value is None or isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise CodeferryError(
                f"credentials must be a mapping or a {cls.block_type_slug} block, "
                f"not {type(value).__name__}"
            )
        fields = {key: item for key, item in value.items() if item is not None}
        try:
            return cls(**fields)
        except pydantic.ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'credentials'}: {e['msg']}"
                for e in error.errors()
            )
            raise CodeferryError(f"invalid {cls.block_type_slug}: {problems}") from None
