"""A folder in an S3 bucket as code storage: the ``s3-bucket`` block, pulled and pushed by
codeferry's remote-storage engine over s3fs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from codeferry.blocks import Block
from codeferry.errors import CodeferryError
from codeferry.storage import CodeStorage, FetchResult, PullContext, PushResult
from codeferry_s3.credentials import AwsCredentials, MinIOCredentials

if TYPE_CHECKING:
    from codeferry.remote import RemoteStorage

__all__ = ["PULL_STEP", "SCHEMES", "S3Bucket"]

PULL_STEP = "codeferry_s3.steps.pull_from_s3"
SCHEMES = ("s3", "s3a")
DEFAULT_CONNECTIONS = 64


class S3Bucket(CodeStorage, Block):
    """A folder in an S3 bucket that holds code.

    ``bucket_folder`` is that folder and nothing beside it (``flows`` never pulls
    ``flows-old/``); empty means the whole bucket. Without explicit ``credentials`` the standard
    AWS chain is used (environment, ``~/.aws``, instance roles).
    """

    block_type_slug: ClassVar[str] = "s3-bucket"
    block_type_name: ClassVar[str] = "S3 Bucket"

    bucket_name: str = Field(description="The bucket's name.")
    bucket_folder: str = Field(default="", description="The folder in the bucket with the code.")
    credentials: AwsCredentials | MinIOCredentials = Field(
        default_factory=AwsCredentials,
        description="How to reach the bucket; the standard AWS chain when left empty.",
    )

    @field_validator("bucket_name")
    @classmethod
    def _plain_bucket_name(cls, value: str) -> str:
        if not value or any(char in value for char in "/:@?# "):
            raise ValueError("bucket_name is a single name, such as 'my-flows'")
        return value

    @classmethod
    def from_url(cls, url: str) -> Self:
        """``s3://bucket/folder`` (or ``s3a://``), with credentials from the AWS chain.

        :raises CodeferryError: for a URL without a bucket, or with credentials or a query.
        """
        parts = urlsplit(url)
        if "@" in parts.netloc or ":" in parts.netloc or parts.query or parts.fragment:
            raise CodeferryError(
                f"S3 source {parts.scheme}://{parts.netloc.rpartition('@')[2]}/... must not "
                "carry credentials or a query; give credentials through a block or the environment"
            )
        if not parts.netloc:
            raise CodeferryError(f"S3 source {url!r} names no bucket")
        try:
            return cls(bucket_name=parts.netloc, bucket_folder=parts.path.strip("/"))
        except ValueError as error:
            raise CodeferryError(f"S3 source {url!r} is malformed: {error}") from None

    @property
    def folder(self) -> str:
        """``bucket_folder`` without outer slashes (``""`` for the whole bucket)."""
        return self.bucket_folder.strip("/")

    @property
    def url(self) -> str:
        return f"s3://{self.bucket_name}/{self.folder}".rstrip("/")

    def __str__(self) -> str:
        endpoint = self.credentials.endpoint_url
        return f"{self.url} at {endpoint}" if endpoint else self.url

    def to_pull_step(self) -> dict[str, dict[str, Any]]:
        arguments: dict[str, Any] = {"bucket": self.bucket_name, "folder": self.folder}
        credentials = self.credentials
        if credentials.block_name:
            slug, name = credentials.block_type_slug, credentials.block_name
            arguments["credentials"] = f"{{{{ blocks.{slug}.{name} }}}}"
        elif credentials.secret_values():
            raise CodeferryError(
                "save the bucket's credentials as a block first: a pull step refers to "
                "secrets by block name, never by value"
            )
        elif credentials.model_dump(exclude_defaults=True):
            arguments["credentials"] = credentials.public_dict()
        return {PULL_STEP: arguments}

    def remote(self, *, connections: int = DEFAULT_CONNECTIONS) -> RemoteStorage:
        """The engine's storage for this folder (s3fs is imported here, not before)."""
        import s3fs

        from codeferry.remote import RemoteStorage
        from codeferry.timeouts import network_timeouts
        from codeferry_s3.session import aio_session

        options = self.credentials.storage_options()
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
            f"s3://{self.bucket_name}/{self.folder}",
            filesystem=filesystem,
            connections=connections,
            read_checksums=config["response_checksum_validation"] == "when_supported",
            server=server,
            **options,
        )

    def fetch(self, context: PullContext) -> FetchResult:
        return self.remote().fetch(context)

    def push_code(self, source_dir: str | Path, *, ignore_file: str | None = None) -> PushResult:
        """Upload ``source_dir`` to the folder: changed files only (see ``RemoteStorage``)."""
        result = self.remote().push_code(source_dir, ignore_file=ignore_file)
        return PushResult(str(self), result.version, result.files, result.bytes)


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
