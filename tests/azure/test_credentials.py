"""AzureBlobStorageCredentials: the ways in, Prefect's dictionaries, and secrets kept secret."""

from __future__ import annotations

import pydantic
import pytest

from codeferry.errors import CodeferryError
from codeferry_azure.credentials import AzureBlobStorageCredentials

KEY = "c2VjcmV0LWtleS10aGF0LW11c3Qtbm90LXNob3c="
CONNECTION = (
    "DefaultEndpointsProtocol=https;AccountName=acme;"
    f"AccountKey={KEY};EndpointSuffix=core.windows.net"
)


def test_a_connection_string_is_passed_to_adlfs_as_is() -> None:
    credentials = AzureBlobStorageCredentials(connection_string=CONNECTION)
    assert credentials.storage_options() == {"connection_string": CONNECTION}
    assert credentials.account_name == "acme"


def test_an_account_key_reaches_a_plain_http_endpoint_through_a_connection_string() -> None:
    credentials = AzureBlobStorageCredentials(
        account_url="http://127.0.0.1:10000/devstore", account_key=KEY
    )
    (text,) = credentials.storage_options().values()
    assert "DefaultEndpointsProtocol=http;" in text
    assert "AccountName=devstore;" in text
    assert f"AccountKey={KEY};" in text
    assert "BlobEndpoint=http://127.0.0.1:10000/devstore;" in text


def test_a_sas_token_is_sent_without_its_question_mark() -> None:
    credentials = AzureBlobStorageCredentials(
        account_url="https://acme.blob.core.windows.net/", sas_token="?sv=2024&sig=abc"
    )
    assert credentials.storage_options() == {
        "connection_string": (
            "BlobEndpoint=https://acme.blob.core.windows.net;SharedAccessSignature=sv=2024&sig=abc;"
        )
    }


def test_an_account_url_alone_signs_in_with_the_default_credential_chain() -> None:
    credentials = AzureBlobStorageCredentials(account_url="https://acme.blob.core.windows.net")
    assert credentials.storage_options() == {
        "account_name": "acme",
        "account_host": "acme.blob.core.windows.net",
        "anon": False,
    }


def test_a_service_principal_is_passed_to_adlfs() -> None:
    credentials = AzureBlobStorageCredentials(
        account_url="https://acme.blob.core.windows.net",
        tenant_id="tenant",
        client_id="client",
        client_secret="principal-secret",
    )
    options = credentials.storage_options()
    assert options["client_secret"] == "principal-secret"
    assert (options["tenant_id"], options["client_id"]) == ("tenant", "client")


def test_token_sign_in_over_plain_http_is_refused_clearly() -> None:
    credentials = AzureBlobStorageCredentials(account_url="http://127.0.0.1:10000/devstore")
    with pytest.raises(CodeferryError, match="needs an https://"):
        credentials.storage_options()


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({}, "either connection_string or account_url"),
        (
            {"connection_string": CONNECTION, "account_url": "https://a.blob.core.windows.net"},
            "either connection_string or account_url",
        ),
        ({"connection_string": CONNECTION, "account_key": KEY}, "go with account_url"),
        ({"account_url": f"https://a.blob.core.windows.net/?sig={KEY}"}, "sas_token"),
        ({"account_url": "ftp://a.blob.core.windows.net"}, "http"),
        (
            {"account_url": "https://a.blob.core.windows.net", "client_secret": KEY},
            "tenant_id, client_id and client_secret",
        ),
        (
            {
                "account_url": "https://a.blob.core.windows.net",
                "account_key": KEY,
                "sas_token": "s",
            },
            "only one of",
        ),
    ],
)
def test_bad_combinations_are_refused_without_echoing_secrets(
    fields: dict[str, str], problem: str
) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        AzureBlobStorageCredentials(**fields)
    assert problem in str(caught.value)
    assert KEY not in str(caught.value)
    with pytest.raises(CodeferryError, match="invalid azure-blob-storage-credentials") as from_step:
        AzureBlobStorageCredentials.from_step_argument(fields)
    assert KEY not in str(from_step.value)


def test_prefect_yaml_dictionaries_are_accepted_with_unset_entries_ignored() -> None:
    # What `{{ prefect.blocks.azure-blob-storage-credentials.NAME }}` expands to.
    credentials = AzureBlobStorageCredentials.from_step_argument(
        {"connection_string": CONNECTION, "account_url": None}
    )
    assert credentials is not None
    assert credentials.connection_string is not None
    assert credentials.connection_string.get_secret_value() == CONNECTION


def test_a_typed_block_and_nothing_pass_through() -> None:
    block = AzureBlobStorageCredentials(connection_string=CONNECTION)
    assert AzureBlobStorageCredentials.from_step_argument(block) is block
    assert AzureBlobStorageCredentials.from_step_argument(None) is None


def test_credentials_of_another_type_are_refused() -> None:
    with pytest.raises(CodeferryError, match="not str"):
        AzureBlobStorageCredentials.from_step_argument(CONNECTION)  # type: ignore[arg-type]


def test_secrets_are_masked_in_repr_str_and_public_dict() -> None:
    credentials = AzureBlobStorageCredentials(
        account_url="https://acme.blob.core.windows.net", account_key=KEY
    )
    for shown in (repr(credentials), str(credentials), repr(credentials.public_dict())):
        assert KEY not in shown
    assert KEY in credentials.secret_values()


def test_the_key_inside_a_connection_string_is_a_secret_value_on_its_own() -> None:
    credentials = AzureBlobStorageCredentials(connection_string=CONNECTION)
    assert KEY in credentials.secret_values()


def test_every_secret_field_is_secret_in_the_schema() -> None:
    assert AzureBlobStorageCredentials.secret_fields() == [
        "account_key",
        "client_secret",
        "connection_string",
        "sas_token",
    ]
