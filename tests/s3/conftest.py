"""Fixtures for the S3 plugin's tests: moto's S3 server, a bucket, a way to put objects in it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from codeferry.plugins import Plugins
from codeferry_s3.credentials import AwsCredentials
from tests.conftest import use_plugins
from tests.servers.moto_s3 import TEST_KEY, TEST_SECRET, MotoServer, moto_server, s3_server

__all__ = ["moto_server", "s3_server"]  # fixtures, re-exported for pytest

BUCKET = "code-bucket"


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AWS settings of the machine leak in; no instance-metadata lookups."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@dataclass
class Objects:
    """The objects of one bucket, written with boto3 (not the code under test)."""

    server: MotoServer
    bucket: str

    @property
    def client(self) -> Any:
        return self.server.client()

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def read(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def names(self) -> list[str]:
        return self.keys()

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def replace(self, folder: str, files: Mapping[str, bytes]) -> None:
        """Make ``folder`` hold exactly ``files`` (only differing objects rewritten)."""
        prefix = f"{folder.strip('/')}/" if folder.strip("/") else ""
        wanted = {prefix + path: data for path, data in files.items()}
        for key in self.keys(prefix):
            if key not in wanted:
                self.delete(key)
        for key, data in wanted.items():
            self.put(key, data)


@pytest.fixture
def objects(s3_server: MotoServer) -> Objects:
    s3_server.client().create_bucket(Bucket=BUCKET)
    return Objects(s3_server, BUCKET)


@pytest.fixture
def credentials(s3_server: MotoServer) -> AwsCredentials:
    return AwsCredentials(
        aws_access_key_id=TEST_KEY,
        aws_secret_access_key=TEST_SECRET,
        aws_client_parameters={"endpoint_url": s3_server.endpoint},
    )


@pytest.fixture
def s3_plugins() -> Plugins:
    """Core, local and the S3 plugin, and nothing else installed on the machine."""
    return use_plugins(local="codeferry_local.plugin", s3="codeferry_s3.plugin")
