"""How to reach an Azure storage account: the ``azure-blob-storage-credentials`` block."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, SecretStr, model_validator

from codeferry.blocks import Block
from codeferry.errors import CodeferryError
from codeferry_azure.quick_listing import connection_string_parts

__all__ = ["AzureBlobStorageCredentials"]


class AzureBlobStorageCredentials(Block):
    """Credentials for Azure Blob Storage: a connection string, or an account URL.

    With ``account_url`` alone, Azure's default credential chain is used (environment, managed
    identity, Azure CLI login...); add ``account_key``, ``sas_token`` or a service principal
    (``tenant_id``, ``client_id``, ``client_secret``) to sign in explicitly. Field names follow
    Prefect's block of the same slug, so its saved documents and ``prefect.yaml`` credential
    dictionaries work unchanged.
    """

    # Validation errors never echo the input: it holds connection strings and keys.
    model_config = ConfigDict(hide_input_in_errors=True)

    block_type_slug: ClassVar[str] = "azure-blob-storage-credentials"
    block_type_name: ClassVar[str] = "Azure Blob Storage Credentials"

    connection_string: SecretStr | None = Field(
        default=None,
        description="The storage account's connection string; wins over everything else.",
    )
    account_url: str | None = Field(
        default=None,
        description="The blob endpoint, such as https://ACCOUNT.blob.core.windows.net.",
    )
    account_key: SecretStr | None = Field(
        default=None, description="The account's shared key (with account_url)."
    )
    sas_token: SecretStr | None = Field(
        default=None, description="A shared access signature (with account_url)."
    )
    tenant_id: str | None = Field(default=None, description="Service principal tenant.")
    client_id: str | None = Field(default=None, description="Service principal client ID.")
    client_secret: SecretStr | None = Field(default=None, description="Service principal secret.")

    @model_validator(mode="after")
    def _one_way_in(self) -> AzureBlobStorageCredentials:
        if (self.connection_string is None) == (self.account_url is None):
            raise ValueError("give either connection_string or account_url, not both or neither")
        if self.account_url is None:
            if self.account_key or self.sas_token or self.client_secret:
                raise ValueError(
                    "account_key, sas_token and client_secret go with account_url, "
                    "not with connection_string"
                )
            return self
        url = urlsplit(self.account_url)
        if url.scheme not in {"http", "https"} or not url.hostname:
            raise ValueError("account_url must be an http(s) URL such as https://ACCOUNT.blob...")
        if url.query or url.username or url.password:
            # A SAS in the URL would be stored and shown as plain text.
            raise ValueError(
                "account_url must not carry a query or credentials; put a SAS in sas_token"
            )
        principal = (self.tenant_id, self.client_id, self.client_secret)
        if any(principal) and not all(principal):
            raise ValueError("a service principal needs tenant_id, client_id and client_secret")
        if sum(bool(x) for x in (self.account_key, self.sas_token, self.client_secret)) > 1:
            raise ValueError("give only one of account_key, sas_token or a service principal")
        return self

    @property
    def account_name(self) -> str | None:
        """The storage account's name, read from ``account_url`` or the connection string."""
        if self.connection_string is not None:
            parts = connection_string_parts(self.connection_string.get_secret_value())
            return parts.get("accountname")
        assert self.account_url is not None
        return _account_from_url(self.account_url)

    def storage_options(self) -> dict[str, Any]:
        """Keyword arguments for ``adlfs.AzureBlobFileSystem``; they hold the secrets."""
        if self.connection_string is not None:
            return {"connection_string": self.connection_string.get_secret_value()}
        assert self.account_url is not None
        url = urlsplit(self.account_url)
        endpoint = self.account_url.rstrip("/")
        name = _account_from_url(self.account_url)
        # adlfs builds https://ACCOUNT_HOST for every credential but a connection string, so
        # keys and SAS tokens go through one: that also reaches plain-http endpoints (Azurite).
        if self.account_key is not None:
            return {
                "connection_string": (
                    f"DefaultEndpointsProtocol={url.scheme};AccountName={name};"
                    f"AccountKey={self.account_key.get_secret_value()};BlobEndpoint={endpoint};"
                )
            }
        if self.sas_token is not None:
            sas = self.sas_token.get_secret_value().lstrip("?")
            return {"connection_string": f"BlobEndpoint={endpoint};SharedAccessSignature={sas};"}
        if url.scheme != "https" or url.path.strip("/"):
            raise CodeferryError(
                f"Azure sign-in with a token needs an https://ACCOUNT.blob... account_url, not "
                f"{self.account_url}; use a connection string or account key for other endpoints"
            )
        options: dict[str, Any] = {"account_name": name, "account_host": url.netloc, "anon": False}
        if self.client_secret is not None:
            options.update(
                tenant_id=self.tenant_id,
                client_id=self.client_id,
                client_secret=self.client_secret.get_secret_value(),
            )
        # Otherwise adlfs signs in with azure-identity's DefaultAzureCredential, imported on use.
        return options

    def secret_values(self) -> list[str]:
        """Every secret this block holds, for masking in messages."""
        values = [
            secret.get_secret_value()
            for secret in (
                self.connection_string,
                self.account_key,
                self.sas_token,
                self.client_secret,
            )
            if secret is not None
        ]
        if self.connection_string is not None:
            parts = connection_string_parts(self.connection_string.get_secret_value())
            values.extend(
                parts[key] for key in ("accountkey", "sharedaccesssignature") if parts.get(key)
            )
        return values


def _account_from_url(account_url: str) -> str:
    """``ACCOUNT`` of ``https://ACCOUNT.blob.core.windows.net`` or ``http://HOST:PORT/ACCOUNT``."""
    url = urlsplit(account_url)
    first_segment = url.path.strip("/").split("/")[0]
    # Emulators and custom domains put the account in the path; Azure puts it in the host.
    return first_segment or (url.hostname or "").split(".")[0]
