"""A folder in an S3 bucket as code storage: the ``s3-bucket`` block, pulled and pushed by
codeferry's remote-storage engine over s3fs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from codeferry.remote import ObjectStoreFolder
from codeferry_s3.credentials import AwsCredentials, MinIOCredentials
from codeferry_s3.plugin import S3

if TYPE_CHECKING:
    from codeferry.remote import ObjectStore, RemoteStorage

__all__ = ["S3Bucket"]

DEFAULT_CONNECTIONS = 64


class S3Bucket(ObjectStoreFolder):
    """A folder in an S3 bucket that holds code.

    ``bucket_folder`` is that folder and nothing beside it (``flows`` never pulls
    ``flows-old/``); empty means the whole bucket. Without explicit ``credentials`` the standard
    AWS chain is used (environment, ``~/.aws``, instance roles).
    """

    block_type_slug: ClassVar[str] = "s3-bucket"
    block_type_name: ClassVar[str] = "S3 Bucket"
    store: ClassVar[type[ObjectStore]] = S3
    container_field: ClassVar[str] = "bucket_name"
    folder_field: ClassVar[str] = "bucket_folder"
    step_arguments: ClassVar[tuple[str, ...]] = (
        "bucket",
        "folder",
        "credentials",
        "client_parameters",
    )

    bucket_name: str = Field(description="The bucket's name.")
    bucket_folder: str = Field(default="", description="The folder in the bucket with the code.")
    credentials: AwsCredentials | MinIOCredentials = Field(
        default_factory=AwsCredentials,
        description="How to reach the bucket; the standard AWS chain when left empty.",
    )

    def location(self) -> str:
        endpoint = self.credentials.endpoint_url
        return f" at {endpoint}" if endpoint else ""

    @classmethod
    def credentials_from_step_argument(
        cls, value: Any, options: Mapping[str, Any] | None = None
    ) -> AwsCredentials | MinIOCredentials:
        """Prefect's ``credentials`` and ``client_parameters`` (see
        :func:`~codeferry_s3.credentials.credentials_from_step_argument`)."""
        from codeferry_s3.credentials import credentials_from_step_argument

        return credentials_from_step_argument(value, (options or {}).get("client_parameters"))

    def quick_listing(self) -> Mapping[str, Mapping[str, Any]] | None:
        """The folder listed over plain HTTP, signed here, when the keys, endpoint and region
        are given (see :mod:`codeferry_s3.quick_listing`); s3fs is not imported."""
        if isinstance(self.credentials, AwsCredentials) and self.credentials.assume_role_arn:
            return None
        options = self.credentials.storage_options()
        return self.store.quick_list(options, self.bucket_name, self.folder)

    def remote(self, *, connections: int = DEFAULT_CONNECTIONS) -> RemoteStorage:
        """The engine's storage for this folder (s3fs is imported here, not before).

        A role to assume (``assume_role_arn``) is assumed now, through STS: the folder is then
        read with the role's temporary credentials.
        """
        import s3fs

        from codeferry.remote import RemoteStorage
        from codeferry.timeouts import network_timeouts
        from codeferry_s3.roles import assumed_role_options
        from codeferry_s3.session import aio_session

        options = self.credentials.storage_options()
        if isinstance(self.credentials, AwsCredentials) and self.credentials.assume_role_arn:
            options.pop("profile", None)  # the role's credentials replace the profile's
            options.update(assumed_role_options(self.credentials))
        server = _server(options)
        options["session"] = aio_session(options.pop("profile", None))
        config = options.setdefault("config_kwargs", {})
        timeouts = network_timeouts()
        # botocore waits 60 s by default for each; None is its "no limit" too.
        config.setdefault("connect_timeout", timeouts.connect)
        config.setdefault("read_timeout", timeouts.read)
        # botocore keeps 10 connections by default; the engine runs `connections` at once.
        config.setdefault("max_pool_connections", connections)
        # The engine retries each request itself (with backoff, bounded): retries inside
        # botocore as well would multiply, and a failing endpoint would take minutes to give up.
        # (botocore's `max_attempts` counts retries only: 1 would send each request twice.)
        config.setdefault("retries", {"total_max_attempts": 1, "mode": "standard"})
        # botocore checks the CRC an object was uploaded with on every GET of it; the engine
        # then does not hash its MD5 as well.
        config.setdefault("response_checksum_validation", "when_supported")
        filesystem = s3fs.S3FileSystem(**options)
        # s3fs tries each request five times itself, a timed-out one included: the engine's
        # retries would multiply that, and a silent endpoint would hold a pull for minutes.
        filesystem.retries = 1
        return RemoteStorage(
            self.url,
            filesystem=filesystem,
            connections=connections,
            read_checksums=config["response_checksum_validation"] == "when_supported",
            server=server,
            **options,
        )


def _server(options: dict[str, Any]) -> str:
    """The S3 endpoint the client will talk to, as messages name it."""
    from codeferry.timeouts import server_address

    endpoint = (
        options.get("endpoint_url")
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
    )
    if endpoint:
        return f"S3 endpoint {server_address(endpoint)}"
    region = options.get("client_kwargs", {}).get("region_name")
    return f"S3 endpoint s3.{region}.amazonaws.com:443" if region else "the S3 endpoint"
