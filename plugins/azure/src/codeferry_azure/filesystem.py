"""The private parts of adlfs codeferry-azure relies on, in one place, checked by :func:`problems`.

adlfs builds its Blob service client in ``do_connect`` with the Azure SDK's defaults and passes no
client settings through; :func:`blob_filesystem` makes that client again with codeferry's network
limits. An adlfs upgrade that changes ``do_connect`` fails :func:`problems` in the plugin's tests,
naming what changed, rather than a user's pull.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from codeferry.timeouts import NetworkTimeouts

__all__ = ["blob_filesystem", "problems"]


def blob_filesystem(*, timeouts: NetworkTimeouts, **options: Any) -> AbstractFileSystem:
    """An ``adlfs.AzureBlobFileSystem`` whose requests wait at most ``timeouts``, never retried.

    adlfs builds its Blob service client with the Azure SDK's defaults: 20 s to connect, 60 s of
    silence per read, three retries of each with backoffs of 15 s and more, so a silent endpoint
    holds a listing for minutes, and the engine's own retries multiply that. adlfs passes no
    client settings through, so the same client is made again, from the address and credential
    adlfs chose, with ``timeouts`` and without retries of connections or reads (the engine
    retries those, a timed-out one once).
    """
    return _bounded_blob_filesystem_class()(timeouts=timeouts, **options)


_BOUNDED_BLOB_FILESYSTEM: type[AbstractFileSystem] | None = None


def _bounded_blob_filesystem_class() -> type[AbstractFileSystem]:
    global _BOUNDED_BLOB_FILESYSTEM
    if _BOUNDED_BLOB_FILESYSTEM is not None:
        return _BOUNDED_BLOB_FILESYSTEM
    from adlfs import AzureBlobFileSystem

    class BoundedBlobFileSystem(AzureBlobFileSystem):  # type: ignore[misc]  # adlfs: no hints
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

    _BOUNDED_BLOB_FILESYSTEM = BoundedBlobFileSystem
    return BoundedBlobFileSystem


def problems() -> list[str]:
    """What the installed adlfs no longer provides that :func:`blob_filesystem` relies on."""
    return _adlfs_problems()


def _adlfs_problems() -> list[str]:
    try:
        from adlfs import AzureBlobFileSystem
    except ImportError:
        return []
    if not callable(getattr(AzureBlobFileSystem, "do_connect", None)):
        return [_problem("adlfs", "AzureBlobFileSystem.do_connect is gone")]
    connection = (
        "DefaultEndpointsProtocol=http;AccountName=check;AccountKey=Y2hlY2s=;"
        "BlobEndpoint=http://127.0.0.1:9/check;"
    )
    fs = AzureBlobFileSystem(connection_string=connection, skip_instance_cache=True)
    client = getattr(fs, "service_client", None)
    if client is None or not hasattr(client, "url") or not hasattr(client, "credential"):
        what = "do_connect no longer leaves a service_client with a url and a credential"
        return [_problem("adlfs", what)]
    return []


def _problem(distribution: str, what: str) -> str:
    from codeferry.remote import library_changed

    return library_changed(distribution, what, __name__)
