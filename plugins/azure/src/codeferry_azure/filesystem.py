"""adlfs's filesystem with a Blob service client that waits a bounded time and does not retry.

adlfs builds its service client with the Azure SDK's defaults: 20 s to connect, 60 s of silence
per read, and three retries of each with backoffs of 15 s and more, so a silent endpoint holds a
listing for minutes, and the engine's own retries multiply that. adlfs passes no client settings
through, so this filesystem makes the same client again, from the address and credential adlfs
chose, with codeferry's timeouts (:func:`codeferry.timeouts.network_timeouts`) and without
retries of connections or reads: the engine retries those (a timed-out one once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adlfs import AzureBlobFileSystem

if TYPE_CHECKING:
    from codeferry.timeouts import NetworkTimeouts

__all__ = ["BoundedBlobFileSystem"]


class BoundedBlobFileSystem(AzureBlobFileSystem):  # type: ignore[misc]  # adlfs has no type hints
    """``adlfs.AzureBlobFileSystem`` whose requests wait at most ``timeouts``."""

    service_client: Any  # an azure.storage.blob.aio.BlobServiceClient, made by do_connect

    def __init__(self, *args: Any, timeouts: NetworkTimeouts, **kwargs: Any) -> None:
        self.timeouts = timeouts  # read by do_connect, which adlfs calls from __init__
        super().__init__(*args, **kwargs)

    def do_connect(self) -> None:
        super().do_connect()
        adlfs_client = self.service_client
        self.service_client = type(adlfs_client)(
            adlfs_client.url,  # with a SAS token in its query, if that is the credential
            credential=adlfs_client.credential,
            connection_timeout=self.timeouts.connect,
            read_timeout=self.timeouts.read,
            retry_connect=0,
            retry_read=0,
        )
