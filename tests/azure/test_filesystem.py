"""The private parts of adlfs codeferry-azure relies on are still there, and used as meant."""

from __future__ import annotations

import pytest

from codeferry_azure.filesystem import blob_filesystem, problems


def test_the_installed_adlfs_still_has_what_the_plugin_relies_on() -> None:
    assert problems() == []


class _BareClient:
    """A service client without the url and credential the plugin reads; adlfs can close it."""

    async def close(self) -> None:
        pass


def test_adlfs_without_its_service_client_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import adlfs

    def connect(fs: adlfs.AzureBlobFileSystem) -> None:
        fs.service_client = _BareClient()

    monkeypatch.setattr(adlfs.AzureBlobFileSystem, "do_connect", connect)
    (problem,) = problems()
    assert problem.startswith("adlfs ")
    assert "service_client" in problem


def test_the_bounded_blob_filesystem_waits_at_most_the_timeouts_and_never_retries() -> None:
    from codeferry.timeouts import NetworkTimeouts

    connection = (
        "DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=a2V5;"
        "BlobEndpoint=http://127.0.0.1:9/acct;"
    )
    fs = blob_filesystem(
        timeouts=NetworkTimeouts(connect=3.0, read=7.0),
        connection_string=connection,
        skip_instance_cache=True,
    )
    assert fs.timeouts == NetworkTimeouts(connect=3.0, read=7.0)
    assert fs.service_client.url.startswith("http://127.0.0.1:9/acct")
    policy = fs.service_client._config.retry_policy  # the Azure SDK's settings, read back
    assert (policy.connect_retries, policy.read_retries) == (0, 0)
