"""How to reach S3: the ``aws-credentials`` and ``minio-credentials`` blocks.

Field names are those of ``prefect-aws``'s blocks of the same slugs, so their saved documents and
the ``credentials`` dictionaries of existing ``prefect.yaml`` files work unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from codeferry.blocks import Block
from codeferry.errors import CodeferryError

__all__ = [
    "AssumeRoleParameters",
    "AwsClientParameters",
    "AwsCredentials",
    "MinIOCredentials",
    "S3Credentials",
    "credentials_from_step_argument",
]


class AwsClientParameters(BaseModel):
    """How the S3 client connects: endpoint (for S3-compatible stores), TLS, botocore config.

    Prefect's ``AwsClientParameters``, with its rules: ``verify`` may be a CA bundle file too (as
    ``verify_cert_path``, which wins over it); ``verify: false`` turns checking off, whatever
    ``verify_cert_path`` says; ``config`` is botocore's ``Config`` as a mapping (or a ``Config``),
    and its ``signature_version: unsigned`` reads a public bucket without signing.
    """

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

    @field_validator("config", mode="before")
    @classmethod
    def _config_settings(cls, value: Any) -> Any:
        if value is None or isinstance(value, Mapping):
            return value
        from codeferry_s3.session import config_settings

        return config_settings(value)  # a botocore Config, else a clear error

    def s3fs_options(self) -> dict[str, Any]:
        """The matching ``s3fs.S3FileSystem`` keyword arguments (``client_kwargs`` included)."""
        options: dict[str, Any] = {}
        client: dict[str, Any] = {}
        if self.endpoint_url:
            options["endpoint_url"] = self.endpoint_url
        if not self.use_ssl:
            options["use_ssl"] = False
        if self.verify is False:
            client["verify"] = False
        elif self.verify_cert_path or isinstance(self.verify, str):
            client["verify"] = self.verify_cert_path or self.verify
        if self.api_version:
            client["api_version"] = self.api_version
        if client:
            options["client_kwargs"] = client
        config = dict(self.config or {})
        if str(config.get("signature_version", "")).lower() == "unsigned":
            del config["signature_version"]
            options["anon"] = True  # s3fs then sends requests unsigned
        if config:
            options["config_kwargs"] = config
        return options


class AssumeRoleParameters(BaseModel):
    """Further arguments of the STS ``AssumeRole`` call, under Prefect's (and STS's) names.

    ``RoleSessionName`` (default ``codeferry-session-<random>``), ``DurationSeconds`` (900 to
    43200), ``Policy`` (an inline session policy, JSON), ``PolicyArns`` (``[{"arn": ...}]``),
    ``Tags`` (``[{"Key": ..., "Value": ...}]``), ``TransitiveTagKeys``, ``ExternalId`` (what the
    role's trust policy asks for), ``SerialNumber`` and ``TokenCode`` (MFA),
    ``SourceIdentity``, ``ProvidedContexts``.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, defer_build=True)

    RoleSessionName: str | None = None
    DurationSeconds: int | None = None
    Policy: str | None = None
    PolicyArns: list[dict[str, str]] | None = None
    Tags: list[dict[str, str]] | None = None
    TransitiveTagKeys: list[str] | None = None
    ExternalId: str | None = None
    SerialNumber: str | None = None
    TokenCode: str | None = None
    SourceIdentity: str | None = None
    ProvidedContexts: list[dict[str, str]] | None = None

    def given(self) -> dict[str, Any]:
        """The parameters that are set, as ``AssumeRole`` takes them."""
        return self.model_dump(exclude_none=True)


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
    """Credentials for AWS: access keys, a session token or a profile, a region, a role.

    Every field is optional: what is left out comes from the standard AWS chain (the
    ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_PROFILE``/``AWS_ENDPOINT_URL``
    environment variables, ``~/.aws``, instance and container roles). With ``assume_role_arn``,
    those credentials only ask STS for the role's (as ``prefect-aws`` does).
    """

    model_config = ConfigDict(hide_input_in_errors=True)

    block_type_slug: ClassVar[str] = "aws-credentials"
    block_type_name: ClassVar[str] = "AWS Credentials"

    aws_access_key_id: str | None = Field(default=None, description="The access key ID.")
    aws_secret_access_key: SecretStr | None = Field(default=None, description="The secret key.")
    aws_session_token: SecretStr | None = Field(default=None, description="A session token.")
    profile_name: str | None = Field(default=None, description="A profile from ~/.aws/config.")
    region_name: str | None = Field(default=None, description="The AWS region, such as eu-west-1.")
    aws_client_parameters: AwsClientParameters = Field(
        default_factory=AwsClientParameters,
        description="Endpoint, TLS and botocore settings of the S3 client.",
    )
    assume_role_arn: str | None = Field(
        default=None,
        description="A role to assume through STS: the bucket is read with its temporary "
        "credentials, got with the ones above (or the standard AWS chain).",
    )
    assume_role_kwargs: AssumeRoleParameters = Field(
        default_factory=AssumeRoleParameters,
        description="Further arguments of the AssumeRole call (ExternalId, DurationSeconds...).",
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
        """Keyword arguments for ``s3fs.S3FileSystem``; they hold the secrets.

        Without the role's credentials: those are asked of STS when the bucket is opened
        (:func:`codeferry_s3.roles.assumed_role_options`).
        """
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
    credentials' ``aws_client_parameters``; its ``region_name`` and ``profile_name`` (which older
    Prefect releases read from there) are used when the credentials have none. Nothing at all
    means the standard AWS chain.

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
    fields = dict(value)
    kind: type[AwsCredentials | MinIOCredentials] = (
        MinIOCredentials if fields.get("minio_root_user") is not None else AwsCredentials
    )
    if client_parameters:
        parameters = {k: v for k, v in client_parameters.items() if v is not None}
        for name in ("region_name", "profile_name"):
            if name in parameters and name in kind.model_fields:
                given = parameters.pop(name)
                fields[name] = fields.get(name) or given
        merged = dict(fields.get("aws_client_parameters") or {})
        merged.update(parameters)
        fields["aws_client_parameters"] = merged
    made = kind.from_step_argument(fields)
    assert made is not None
    return made
