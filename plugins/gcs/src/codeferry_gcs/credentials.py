"""How to reach Google Cloud Storage: the ``gcp-credentials`` block."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

import pydantic
from pydantic import ConfigDict, Field, field_validator, model_validator

from codeferry.blocks import Block
from codeferry.errors import CodeferryError

__all__ = ["EMULATOR_VARIABLE", "GcpCredentials", "gcsfs_options"]

EMULATOR_VARIABLE = "STORAGE_EMULATOR_HOST"


class GcpCredentials(Block):
    """Credentials for Google Cloud: a service account (its JSON key, or a path to it), a project.

    With neither ``service_account_info`` nor ``service_account_file``, Google's application
    default credentials are used (``GOOGLE_APPLICATION_CREDENTIALS``, ``gcloud auth
    application-default login``, the metadata server). Field names follow Prefect's block of the
    same slug, so its saved documents and ``prefect.yaml`` credential dictionaries work unchanged.
    """

    # Validation errors never echo the input: it holds private keys.
    model_config = ConfigDict(hide_input_in_errors=True)

    block_type_slug: ClassVar[str] = "gcp-credentials"
    block_type_name: ClassVar[str] = "GCP Credentials"

    service_account_info: pydantic.Secret[dict[str, Any]] | None = Field(
        default=None, description="The service account's JSON key, as an object or JSON text."
    )
    service_account_file: str | None = Field(
        default=None, description="Path to the service account's JSON key file."
    )
    project: str | None = Field(default=None, description="The Google Cloud project.")

    @field_validator("service_account_info", mode="before")
    @classmethod
    def _parse_json_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError("service_account_info is not valid JSON") from None
        return value

    @model_validator(mode="after")
    def _one_key(self) -> GcpCredentials:
        if self.service_account_info is not None and self.service_account_file is not None:
            raise ValueError("give service_account_info or service_account_file, not both")
        return self

    def effective_project(self) -> str | None:
        """``project``, else the project the service account belongs to."""
        if self.project:
            return self.project
        if self.service_account_info is not None:
            found = self.service_account_info.get_secret_value().get("project_id")
            return str(found) if found else None
        return None

    def token(self) -> dict[str, Any] | str | None:
        """What ``gcsfs`` takes as ``token``: the key's JSON, its path, or ``None`` (defaults)."""
        if self.service_account_info is not None:
            return dict(self.service_account_info.get_secret_value())
        if self.service_account_file is not None:
            path = Path(self.service_account_file).expanduser()
            if not path.is_file():
                raise CodeferryError(f"service account file {path} does not exist")
            return str(path)
        return None

    def secret_values(self) -> list[str]:
        """Every secret this block holds, for masking in messages."""
        if self.service_account_info is None:
            return []
        info = self.service_account_info.get_secret_value()
        return [str(info[key]) for key in ("private_key", "private_key_id") if info.get(key)]


def gcsfs_options(
    credentials: GcpCredentials | None,
    *,
    project: str | None = None,
    endpoint_url: str | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``gcsfs.GCSFileSystem``; they hold the secrets.

    Every explicit argument is honoured: ``project`` wins over the credentials' project, and
    ``endpoint_url`` (else ``STORAGE_EMULATOR_HOST``) over Google's endpoint. Against an emulator
    without credentials, requests go unsigned instead of hunting for Google sign-ins.
    """
    options: dict[str, Any] = {}
    project = project or (credentials.effective_project() if credentials else None)
    if project:
        options["project"] = project
    if endpoint_url:
        options["endpoint_url"] = endpoint_url.rstrip("/")
    token = credentials.token() if credentials else None
    if token is not None:
        options["token"] = token
    elif endpoint_url or os.environ.get(EMULATOR_VARIABLE, "") not in {"", "default"}:
        options["token"] = "anon"  # noqa: S105 - gcsfs's unsigned mode, not a password
    return options
