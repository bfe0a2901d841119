"""How to reach S3: the ``aws-credentials`` and ``minio-credentials`` blocks.

Field names are those of ``prefect-aws``'s blocks of the same slugs, so their saved documents and
the ``credentials`` dictionaries of existing ``prefect.yaml`` files work unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pydantic
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from codeferry.blocks import Block
from codeferry.errors import CodeferryError

__all__ = [
    "AwsClientParameters",
    "AwsCredentials",
    "MinIOCredentials",
    "S3Credentials",
    "credentials_from_step_argument",
]


class AwsClientParameters(BaseModel):
    """How the S3 client connects: endpoint (for S3-compatible stores), TLS, botocore config."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, defer_build=True)

    api_version: str | None = Field(default=None, description="The S3 API version to use.")
    use_ssl: bool = Field(default=True, description="Whether to use TLS.")
    verify: bool | str | None = Field(
        default=True,
        description="Whether to verify TLS certificates, or a CA bundle file to verify with.",
    )
    verify_cert_path: str | None = Field(
        default=None, description="A CA bundle file to verify TLS certificates with."
    )
    endpoint_url: str | None = Field(
        default=None,
        description="The S3 endpoint, for S3-compatible stores (MinIO, Ceph, R2...).",
    )
    config: dict[str, Any] | None = Field(
        default=None,
        description="botocore Config settings, such as {'s3': {'addressing_style': 'path'}}.",
    )

    @field_validator("endpoint_url")
    @classmethod
    def _plain_endpoint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = urlsplit(value)
        if url.scheme not in {"http", "https"} or not url.hostname:
            raise ValueError("endpoint_url must be an http(s) URL such as https://minio.local:9000")
        if url.username or url.password:
            raise ValueError("endpoint_url must not carry credentials; use the key fields")
        return value

    def s3fs_options(self) -> dict[str, Any]:
        """The matching ``s3fs.S3FileSystem`` keyword arguments (``client_kwargs`` included)."""
        options: dict[str, Any] = {}
        client: dict[str, Any] = {}
        if self.endpoint_url:
            options["endpoint_url"] = self.endpoint_url
        if not self.use_ssl:
            options["use_ssl"] = False
        if self.verify_cert_path:
            client["verify"] = self.verify_cert_path
        elif self.verify is False or isinstance(self.verify, str):
            client["verify"] = self.verify
        if self.api_version:
            client["api_version"] = self.api_version
        if client:
            options["client_kwargs"] = client
        if self.config:
            options["config_kwargs"] = dict(self.config)
        return options


def _options(
    *,
    key: str | None,
    secret: SecretStr | None,
    token: SecretStr | None,
    profile: str | None,
    region: str | None,
    parameters: AwsClientParameters,
) -> dict[str, Any]:
    options = parameters.s3fs_options()
    if key:
        options["key"] = key
    if secret is not None:
        options["secret"] = secret.get_secret_value()
    if token is not None:
        options["token"] = token.get_secret_value()
    if profile:
        options["profile"] = profile
    if region:
        # Only when asked for: a region of us-east-1 makes bucket creation send a location
        # constraint S3 refuses, and botocore finds the bucket's region by itself otherwise.
        options.setdefault("client_kwargs", {})["region_name"] = region
    return options


class AwsCredentials(Block):
    """Credentials for AWS: access keys, a session token or a profile, and a region.

    Every field is optional: what is left out comes from the standard AWS chain (the
    ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_PROFILE``/``AWS_ENDPOINT_URL``
    environment variables, ``~/.aws``, instance and container roles).
    """

    model_config = ConfigDict(hide_input_in_errors=True)

    block_type_slug: ClassVar[str] = "aws-credentials"
    block_type_name: ClassVar[str] = "AWS Credentials"

    aws_access_key_id: str | None = Field(default=None, description="The access key ID.")
    aws_secret_access_key: SecretStr | None = Field(
        default=None, description="The secret access key."
    )
    aws_session_token: SecretStr | None = Field(
        default=None, description="A session token, for temporary credentials."
    )
    profile_name: str | None = Field(default=None, description="A profile from ~/.aws/config.")
    region_name: str | None = Field(default=None, description="The AWS region, such as eu-west-1.")
    aws_client_parameters: AwsClientParameters = Field(
        default_factory=AwsClientParameters,
        description="Endpoint, TLS and botocore settings of the S3 client.",
    )

    @model_validator(mode="after")
    def _keys_in_pairs(self) -> AwsCredentials:
        if (self.aws_access_key_id is None) != (self.aws_secret_access_key is None):
            raise ValueError("aws_access_key_id and aws_secret_access_key go together")
        if self.aws_session_token is not None and self.aws_access_key_id is None:
            raise ValueError("aws_session_token needs aws_access_key_id and aws_secret_access_key")
        return self

    @property
    def endpoint_url(self) -> str | None:
        return self.aws_client_parameters.endpoint_url

    def storage_options(self) -> dict[str, Any]:
        """Keyword arguments for ``s3fs.S3FileSystem``; they hold the secrets."""
        return _options(
            key=self.aws_access_key_id,
            secret=self.aws_secret_access_key,
            token=self.aws_session_token,
            profile=self.profile_name,
            region=self.region_name,
            parameters=self.aws_client_parameters,
        )

    def secret_values(self) -> list[str]:
        """Every secret this block holds, for masking in messages."""
        return [
            secret.get_secret_value()
            for secret in (self.aws_secret_access_key, self.aws_session_token)
            if secret is not None
        ]


class MinIOCredentials(Block):
    """Credentials for MinIO (or any S3-compatible store): a user, a password, an endpoint."""

    model_config = ConfigDict(hide_input_in_errors=True)

    block_type_slug: ClassVar[str] = "minio-credentials"
    block_type_name: ClassVar[str] = "MinIO Credentials"

    minio_root_user: str = Field(description="The user (access key).")
    minio_root_password: SecretStr = Field(description="The password (secret key).")
    region_name: str | None = Field(default=None, description="The region, if the store has one.")
    aws_client_parameters: AwsClientParameters = Field(
        default_factory=AwsClientParameters,
        description="Endpoint (endpoint_url), TLS and botocore settings of the S3 client.",
    )

    @property
    def endpoint_url(self) -> str | None:
        return self.aws_client_parameters.endpoint_url

    def storage_options(self) -> dict[str, Any]:
        """Keyword arguments for ``s3fs.S3FileSystem``; they hold the secrets."""
        return _options(
            key=self.minio_root_user,
            secret=self.minio_root_password,
            token=None,
            profile=None,
            region=self.region_name,
            parameters=self.aws_client_parameters,
        )

    def secret_values(self) -> list[str]:
        """Every secret this block holds, for masking in messages."""
        return [self.minio_root_password.get_secret_value()]


S3Credentials = AwsCredentials | MinIOCredentials
"""Either kind of credentials an :class:`~codeferry_s3.bucket.S3Bucket` accepts."""


def credentials_from_step_argument(
    value: AwsCredentials | MinIOCredentials | Mapping[str, Any] | None,
    client_parameters: Mapping[str, Any] | None = None,
) -> AwsCredentials | MinIOCredentials:
    """The credentials a step was given: a block, a ``prefect.yaml`` dictionary, or nothing.

    A dictionary with ``minio_root_user`` is MinIO's, any other AWS's; unset (``None``) entries
    are ignored. ``client_parameters`` (Prefect's step argument of that name) is merged over the
    credentials' ``aws_client_parameters``. Nothing at all means the standard AWS chain.

    :raises CodeferryError: naming the problem, never a value.
    """
    if value is None:
        value = {}
    if isinstance(value, AwsCredentials | MinIOCredentials):
        if not client_parameters:
            return value
        value = value.public_dict(show_secrets=True)
    if not isinstance(value, Mapping):
        raise CodeferryError(
            f"credentials must be a mapping or an aws-credentials block, not {type(value).__name__}"
        )
    fields = _without_unset(value)
    if client_parameters:
        merged = dict(fields.get("aws_client_parameters") or {})
        merged.update({k: v for k, v in client_parameters.items() if v is not None})
        fields["aws_client_parameters"] = merged
    kind: type[AwsCredentials | MinIOCredentials] = (
        MinIOCredentials if "minio_root_user" in fields else AwsCredentials
    )
    try:
        return kind.model_validate(fields)
    except pydantic.ValidationError as error:
        raise CodeferryError(f"invalid {kind.block_type_slug}: {_problems(error)}") from None


def _without_unset(value: Mapping[str, Any]) -> dict[str, Any]:
    """``value`` without ``None`` entries, nested ones too, nor mappings left empty by that.

    A ``prefect-aws`` block resolved by Prefect's templating lists every field it has, unset ones
    as ``None`` (``assume_role_kwargs`` is a mapping of them): what is unset is not given.
    """
    fields: dict[str, Any] = {}
    for key, item in value.items():
        kept = _without_unset(item) if isinstance(item, Mapping) else item
        if kept is not None and kept != {}:
            fields[key] = kept
    return fields


def _problems(error: pydantic.ValidationError) -> str:
    """What is wrong, field by field, without the values (they may be secrets)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in item['loc']) or 'credentials'}: {item['msg']}"
        for item in error.errors(include_input=False)
    )
