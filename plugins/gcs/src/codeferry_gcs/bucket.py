"""A folder in a Google Cloud Storage bucket as code storage: the ``gcs-bucket`` block, pulled and
pushed by codeferry's remote-storage engine over gcsfs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from codeferry.blocks import Block
from codeferry.errors import CodeferryError
from codeferry.storage import CodeStorage, FetchResult, PullContext, PushResult
from codeferry_gcs.credentials import EMULATOR_VARIABLE, GcpCredentials, gcsfs_options

if TYPE_CHECKING:
    from codeferry.remote import RemoteStorage

__all__ = ["GcsBucket", "use_plain_gcsfs"]

_GOOGLE_ENDPOINT = "https://storage.googleapis.com"

PULL_STEP = "codeferry_gcs.steps.pull_from_gcs"


class GcsBucket(CodeStorage, Block):
    """A folder in a Google Cloud Storage bucket that holds code.

    Without a service account in ``gcp_credentials``, Google's application default credentials
    are used; with ``STORAGE_EMULATOR_HOST`` set (or ``endpoint_url``), that emulator is used.
    """

    block_type_slug: ClassVar[str] = "gcs-bucket"
    block_type_name: ClassVar[str] = "GCS Bucket"

    bucket: str = Field(description="The bucket's name.")
    bucket_folder: str = Field(default="", description="The folder in the bucket with the code.")
    gcp_credentials: GcpCredentials = Field(
        default_factory=GcpCredentials, description="How to sign in, and the project."
    )
    endpoint_url: str | None = Field(
        default=None, description="Another endpoint than Google's, such as an emulator."
    )

    @field_validator("bucket")
    @classmethod
    def _plain_bucket_name(cls, value: str) -> str:
        if not value or "/" in value or "@" in value or ":" in value:
            raise ValueError("bucket is a single name, such as 'my-flows'")
        return value

    @classmethod
    def from_url(cls, url: str) -> Self:
        """``gs://bucket/folder`` or ``gcs://bucket/folder``, signed in with Google's defaults.

        :raises CodeferryError: for a URL without a bucket, or with credentials in it.
        """
        parts = urlsplit(url)
        if "@" in parts.netloc or parts.query or parts.fragment:
            raise CodeferryError(
                f"GCS source {parts.scheme}://{parts.netloc.rpartition('@')[2]}/... must not "
                "carry credentials or a query; give credentials through a block or the "
                "environment"
            )
        if not parts.netloc:
            raise CodeferryError(f"GCS source {url!r} names no bucket")
        return cls(bucket=parts.netloc, bucket_folder=parts.path)

    @property
    def folder(self) -> str:
        """``bucket_folder`` without outer slashes (``""`` for the whole bucket)."""
        return self.bucket_folder.strip("/")

    def __str__(self) -> str:
        where = f"gs://{self.bucket}/{self.folder}".rstrip("/")
        return f"{where} (at {self.endpoint_url})" if self.endpoint_url else where

    def to_pull_step(self) -> dict[str, dict[str, Any]]:
        arguments: dict[str, Any] = {"bucket": self.bucket, "folder": self.folder}
        credentials = self.gcp_credentials
        if credentials.block_name:
            reference = f"{{{{ blocks.{credentials.block_type_slug}.{credentials.block_name} }}}}"
            arguments["credentials"] = reference
        elif credentials.secret_values():
            raise CodeferryError(
                "save the bucket's credentials as a block first: a pull step refers to "
                "secrets by block name, never by value"
            )
        elif credentials.service_account_file or credentials.project:
            arguments["credentials"] = credentials.public_dict()
        if self.endpoint_url:
            arguments["endpoint_url"] = self.endpoint_url
        return {PULL_STEP: arguments}

    def remote(self, *, project: str | None = None) -> RemoteStorage:
        """The engine's storage for this folder (gcsfs is imported here, not before)."""
        import aiohttp

        from codeferry.remote import RemoteStorage
        from codeferry.timeouts import network_timeouts, server_address

        use_plain_gcsfs()
        options = gcsfs_options(
            self.gcp_credentials, project=project, endpoint_url=self.endpoint_url
        )
        endpoint = options.get("endpoint_url") or os.environ.get(EMULATOR_VARIABLE)
        if endpoint and "://" not in endpoint:
            endpoint = f"http://{endpoint}"  # the emulator variable is often host:port alone
        server = f"GCS endpoint {server_address(endpoint or _GOOGLE_ENDPOINT)}"
        # gcsfs tries a request that timed out on connecting or reading six times, with
        # backoffs of up to 32 s; one that ran past its overall timeout it leaves to the engine,
        # which tries it twice at most. So each request (one page of a listing, one range of a
        # file) must be answered within the read timeout.
        read = network_timeouts().read
        url = f"gs://{self.bucket}/{self.folder}".rstrip("/")
        return RemoteStorage(
            url,
            server=server,
            requests_timeout=aiohttp.ClientTimeout(total=read),
            **options,
        )

    def fetch(self, context: PullContext) -> FetchResult:
        return self.remote().fetch(context)

    def push_code(self, source_dir: str | Path) -> PushResult:
        return self.remote().push_code(source_dir)


def use_plain_gcsfs() -> None:
    """Have fsspec's ``gs://`` and ``gcs://`` use ``gcsfs.core.GCSFileSystem``.

    The class gcsfs exports by default first asks Google's gRPC storage-control API about each
    bucket; against anything but Google (an emulator, a proxy) that stalls for a minute per call.
    Code storage needs none of what it adds. Someone who turned it on explicitly
    (``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=true``) keeps it.
    """
    if os.environ.get("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "").lower() in {"true", "1"}:
        return
    import fsspec

    for protocol in ("gs", "gcs"):
        fsspec.register_implementation(protocol, "gcsfs.core.GCSFileSystem", clobber=True)
