"""S3 buckets pass the storage contract every plugin passes, against moto's S3 server."""

from __future__ import annotations

import pytest

from codeferry.testing import StorageContract, StoreHandle
from codeferry_s3.bucket import S3Bucket
from codeferry_s3.credentials import AwsCredentials
from tests.s3.conftest import Objects
from tests.servers.moto_s3 import TEST_SECRET


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
