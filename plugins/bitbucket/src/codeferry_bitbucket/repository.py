"""The ``bitbucket-repository`` block: a Bitbucket repository with prefect-bitbucket's fields."""

from __future__ import annotations

from typing import ClassVar

from codeferry_bitbucket.credentials import BitBucketCredentials  # noqa: TC001 - a field type
from codeferry_git.host_blocks import HostRepository

__all__ = ["BitBucketRepository"]


class BitBucketRepository(HostRepository):
    """A repository on Bitbucket Cloud or Data Center, with prefect-bitbucket's fields.

    ``repository``, its URL; ``reference``, a branch or tag to pin to; ``bitbucket_credentials``
    for a private repository.
    """

    block_type_slug: ClassVar[str] = "bitbucket-repository"
    block_type_name: ClassVar[str] = "Bitbucket Repository"
    credentials_field: ClassVar[str] = "bitbucket_credentials"

    repository: str
    reference: str | None = None
    bitbucket_credentials: BitBucketCredentials | None = None
