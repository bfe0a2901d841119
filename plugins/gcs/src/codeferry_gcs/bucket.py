"""A folder in a Google Cloud Storage bucket as code storage: the ``gcs-bucket`` block, pulled and
pushed by codeferry's remote-storage engine over gcsfs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from codeferry.remote import ObjectStoreFolder
from codeferry_gcs.credentials import EMULATOR_VARIABLE, GcpCredentials, gcsfs_options
from codeferry_gcs.plugin import GCS

if TYPE_CHECKING:
    from codeferry.remote import ObjectStore, RemoteStorage

__all__ = ["GcsBucket", "use_plain_gcsfs"]

_GOOGLE_ENDPOINT = "https://storage.googleapis.com"


class GcsBucket(ObjectStoreFolder):
    """A folder in a Google Cloud Storage bucket that holds code.

    Without a service account in ``gcp_credentials``, Google's application default credentials
    are used; with ``STORAGE_EMULATOR_HOST`` set (or ``endpoint_url``), that emulator is used.
    """

    block_type_slug: ClassVar[str] = "gcs-bucket"
    block_type_name: ClassVar[str] = "GCS Bucket"
    store: ClassVar[type[ObjectStore]] = GCS
    container_field: ClassVar[str] = "bucket"
    folder_field: ClassVar[str] = "bucket_folder"
    credentials_field: ClassVar[str | None] = "gcp_credentials"
    step_arguments: ClassVar[tuple[str, ...]] = ("bucket", "folder", "project", "credentials")
    step_options: ClassVar[tuple[str, ...]] = ("endpoint_url",)

    bucket: str = Field(description="The bucket's name.")
    bucket_folder: str = Field(default="", description="The folder in the bucket with the code.")
    gcp_credentials: GcpCredentials = Field(
        default_factory=GcpCredentials, description="How to sign in, and the project."
    )
    endpoint_url: str | None = Field(
        default=None, description="Another endpoint than Google's, such as an emulator."
    )

    def location(self) -> str:
        return f" (at {self.endpoint_url})" if self.endpoint_url else ""

    @classmethod
    def credentials_from_step_argument(
        cls, value: Any, options: Mapping[str, Any] | None = None
    ) -> GcpCredentials:
        """The credentials a step was given, its ``project`` (if any) winning over theirs."""
        typed = GcpCredentials.from_step_argument(value) or GcpCredentials()
        project = (options or {}).get("project")
        return typed.model_copy(update={"project": project}) if project else typed

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
        return RemoteStorage(
            self.url,
            server=server,
            requests_timeout=aiohttp.ClientTimeout(total=read),
            **options,
        )


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
