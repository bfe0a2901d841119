"""S3 buckets pass the storage contract every plugin passes, against moto's S3 server."""

from __future__ import annotations

import pytest

from codeferry.plugins import Plugins
from codeferry.storage import CodeStorage
from codeferry.testing import StorageContract, StoreHandle
from codeferry_s3.bucket import S3Bucket
from codeferry_s3.credentials import AwsCredentials
from tests.s3.conftest import Objects
from tests.servers.moto_s3 import TEST_KEY, TEST_SECRET, MotoServer


@pytest.mark.usefixtures("s3_plugins")
class TestS3Bucket(StorageContract):
    @pytest.fixture
    def store(self, objects: Objects, credentials: AwsCredentials) -> StoreHandle:
        credentials.save("moto")  # a pull step names saved credentials, never their values

        def failing() -> S3Bucket:
            return S3Bucket(bucket_name="no-such-bucket", credentials=credentials)

        return StoreHandle(
            S3Bucket(bucket_name=objects.bucket, bucket_folder="code", credentials=credentials),
            lambda files: objects.replace("code", files),
            secrets=[TEST_SECRET],
            failing=failing,
        )


class TestS3Url(StorageContract):
    """``codeferry pull s3://bucket/code`` with the environment's keys (a plain URL folder)."""

    expected_skips = 1  # a URL is not a block: its block is S3Bucket, tested above

    @pytest.fixture
    def store(
        self,
        s3_plugins: Plugins,
        objects: Objects,
        s3_server: MotoServer,
        monkeypatch: pytest.MonkeyPatch,
    ) -> StoreHandle:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_KEY)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_SECRET)
        monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)

        def failing() -> CodeStorage:
            return s3_plugins.storage_from_source("s3://no-such-bucket/code")

        return StoreHandle(
            s3_plugins.storage_from_source(f"s3://{objects.bucket}/code"),
            lambda files: objects.replace("code", files),
            secrets=[TEST_SECRET],
            failing=failing,
        )
