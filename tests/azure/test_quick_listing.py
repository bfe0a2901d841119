"""A re-pull that finds nothing changed lists with the standard library: no adlfs, no Azure SDK.

Azurite checks Shared Key signatures and shared access signatures as Azure does; whatever the
listing cannot do as adlfs would is left to adlfs (``None``), and the pull is the engine's.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from codeferry_azure.container import AzureBlobStorageContainer
from codeferry_azure.credentials import AzureBlobStorageCredentials
from codeferry_azure.quick_listing import request_for
from tests.azure.conftest import Blobs
from tests.remote.object_stores import listed_files, pull_in_new_interpreter
from tests.servers.azurite import AzuriteServer


def folder(container: str, credentials: AzureBlobStorageCredentials) -> AzureBlobStorageContainer:
    return AzureBlobStorageContainer(
        container_name=container, base_folder="flows", credentials=credentials
    )


def test_the_quick_listing_is_what_adlfs_lists(
    blobs: Blobs, azurite_container: str, credentials: AzureBlobStorageCredentials
) -> None:
    names = [
        "flow.py",
        "with space/ä ö.py",
        "plus+and&amp/percent%41.py",
        "lt<gt>quote'.txt",
        "deep/er/still/x.py",
        *(f"many/{n:04}.py" for n in range(20)),
    ]
    for name in names:
        blobs.put(f"flows/{name}", name.encode())
    blobs.put("flows/empty-marker/", b"")
    blobs.put("flows/adls-folder", b"", metadata={"hdi_isfolder": "true"})
    blobs.put("flows-old/not-this.py", b"no")
    storage = folder(azurite_container, credentials)

    quick = listed_files(storage.quick_listing(), f"{azurite_container}/flows")

    engine = storage.remote().list_files()
    assert quick == {
        path: [remote.fingerprint, remote.size, remote.md5] for path, remote in engine.items()
    }
    assert set(quick) == set(names)
    assert all(md5 for _fingerprint, _size, md5 in quick.values())


def test_pages_are_followed(
    blobs: Blobs, azurite_container: str, credentials: AzureBlobStorageCredentials
) -> None:
    from codeferry_azure import quick_listing

    for n in range(7):
        blobs.put(f"flows/{n}.py", b"x")
    request = request_for(credentials.storage_options())
    assert request is not None
    entries = quick_listing.list_folder(request, azurite_container, "flows", 10.0, page_size=3)
    assert sorted(listed_files(entries, f"{azurite_container}/flows")) == [
        f"{n}.py" for n in range(7)
    ]


def test_a_wrong_key_is_left_to_adlfs_to_report(
    azurite_server: AzuriteServer, blobs: Blobs, azurite_container: str
) -> None:
    blobs.put("flows/flow.py", b"x = 1\n")
    wrong = base64.b64encode(b"not the key").decode()
    credentials = AzureBlobStorageCredentials(
        connection_string=azurite_server.connection_string(key=wrong)
    )
    assert folder(azurite_container, credentials).quick_listing() is None


def test_a_shared_access_signature_lists(
    azurite_server: AzuriteServer, blobs: Blobs, azurite_container: str
) -> None:
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    blobs.put("flows/flow.py", b"x = 1\n")
    sas = generate_container_sas(
        azurite_server.account,
        azurite_container,
        account_key=azurite_server.key,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    credentials = AzureBlobStorageCredentials(
        connection_string=f"BlobEndpoint={azurite_server.account_url};SharedAccessSignature={sas};"
    )
    listed = folder(azurite_container, credentials).quick_listing()
    assert list(listed_files(listed, f"{azurite_container}/flows")) == ["flow.py"]


@pytest.mark.parametrize(
    ("options", "environ"),
    [
        pytest.param(
            {"account_name": "a", "account_host": "a.blob.core.windows.net"}, {}, id="sign-in"
        ),
        pytest.param({}, {}, id="nothing: adlfs reads more variables"),
        pytest.param({"connection_string": "UseDevelopmentStorage=true"}, {}, id="dev storage"),
        pytest.param(
            {"connection_string": "AccountName=a;AccountKey=not base64!"}, {}, id="bad key"
        ),
    ],
)
def test_what_only_adlfs_resolves_is_left_to_it(
    options: dict[str, object], environ: dict[str, str]
) -> None:
    assert request_for(options, environ) is None


def test_the_environment_connection_string_is_used_without_credentials() -> None:
    key = base64.b64encode(b"k").decode()
    environ = {"AZURE_STORAGE_CONNECTION_STRING": f"AccountName=acct;AccountKey={key}"}
    request = request_for({}, environ)
    assert request is not None
    assert (request.scheme, request.host, request.path, request.account) == (
        "https",
        "acct.blob.core.windows.net",
        "",
        "acct",
    )
    assert key not in repr(request)


@pytest.mark.parametrize(
    ("kind", "unchanged_loads"),
    [("url", []), ("block", ["pydantic"])],  # a URL's re-pull makes no block: no pydantic
)
def test_a_repull_with_nothing_changed_imports_no_sdk_and_a_change_is_pulled(
    azurite_server: AzuriteServer,
    blobs: Blobs,
    azurite_container: str,
    tmp_path: Path,
    kind: str,
    unchanged_loads: list[str],
) -> None:
    blobs.put("flows/flow.py", b"V = 1\n")
    env = {
        "CODEFERRY_HOME": str(tmp_path / "home"),
        "AZURE_STORAGE_CONNECTION_STRING": azurite_server.connection_string(),
        "PATH": "/usr/bin:/bin",
    }

    sdk = ["adlfs", "azure", "pydantic"]

    def pull() -> dict[str, object]:
        fields = {"container_name": azurite_container, "base_folder": "flows"}
        block = ("codeferry_azure.container:AzureBlobStorageContainer", fields)
        source = f"az://{azurite_container}/flows"
        return pull_in_new_interpreter(
            source,
            tmp_path / "code",
            watched=sdk,
            env=env,
            block=block if kind == "block" else None,
        )

    assert pull() == {"changed": True, "flow": "V = 1\n", "loaded": sdk}
    assert pull() == {"changed": False, "flow": "V = 1\n", "loaded": unchanged_loads}
    blobs.put("flows/flow.py", b"V = 2\n")
    assert pull() == {"changed": True, "flow": "V = 2\n", "loaded": sdk}
    assert pull() == {"changed": False, "flow": "V = 2\n", "loaded": unchanged_loads}
