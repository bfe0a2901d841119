"""Pulls through a fault-injecting proxy in front of moto: retried when they can be, else clean.

Every pull either succeeds through bounded retries or fails with a one-line PullError, and the
current tree stays exactly as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypedDict

import pytest

from codeferry.errors import PullError
from codeferry_s3.bucket import S3Bucket
from codeferry_s3.credentials import AwsCredentials
from tests.remote.object_stores import tree
from tests.s3.conftest import Objects
from tests.servers.faulty_proxy import FaultyProxy, any_request
from tests.servers.moto_s3 import TEST_KEY, TEST_SECRET, MotoServer


class FaultOptions(TypedDict, total=False):
    after: int
    status: int


FILES = {f"pkg/m{n}.py": bytes([65 + n]) * (20_000 + n) for n in range(6)}


@pytest.fixture
def proxy(s3_server: MotoServer) -> Iterator[FaultyProxy]:
    with FaultyProxy((s3_server.host, s3_server.port)) as running:
        yield running


@pytest.fixture
def storage(proxy: FaultyProxy, objects: Objects) -> S3Bucket:
    objects.replace("code", FILES)
    credentials = AwsCredentials(
        aws_access_key_id=TEST_KEY,
        aws_secret_access_key=TEST_SECRET,
        aws_client_parameters={
            "endpoint_url": proxy.endpoint,
            # As the plugin sets by default: the engine alone retries, not botocore too.
            "config": {"retries": {"total_max_attempts": 1, "mode": "standard"}, "read_timeout": 3},
        },
    )
    return S3Bucket(bucket_name=objects.bucket, bucket_folder="code", credentials=credentials)


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("reset", {"after": 300}),
        ("reset", {"after": 0}),
        ("truncate", {"after": 2_000}),
        ("corrupt", {"after": 1_000}),
        ("status", {"status": 503}),
        ("status", {"status": 500}),
    ],
)
def test_transient_faults_are_retried_until_the_pull_succeeds(
    proxy: FaultyProxy, storage: S3Bucket, tmp_path: Path, kind: str, options: FaultOptions
) -> None:
    proxy.plan(kind, times=3, **options)
    result = storage.pull_code(tmp_path / "out")
    assert tree(result.directory) == FILES
    assert proxy.faults[0].used == 3


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("reset", {"after": 500}),
        ("truncate", {"after": 5_000}),
        ("corrupt", {"after": 1_000}),
        ("status", {"status": 500}),
    ],
)
def test_lasting_faults_fail_cleanly_and_keep_the_current_tree(
    proxy: FaultyProxy,
    storage: S3Bucket,
    objects: Objects,
    tmp_path: Path,
    kind: str,
    options: FaultOptions,
) -> None:
    good = storage.pull_code(tmp_path / "out")
    objects.put("code/pkg/m0.py", b"changed" * 5_000)  # longer than any cut-off below
    proxy.plan(kind, times=None, **options)
    with pytest.raises(PullError) as caught:
        storage.pull_code(tmp_path / "out")
    assert "\n" not in str(caught.value)
    assert TEST_SECRET not in str(caught.value)
    assert tree(tmp_path / "out") == FILES
    assert tree(good.directory) == FILES
    checkout_root = good.directory.parent.parent
    assert not list(checkout_root.glob("staging-*"))


def test_a_listing_that_fails_for_good_says_so_and_keeps_the_tree(
    proxy: FaultyProxy, storage: S3Bucket, tmp_path: Path
) -> None:
    storage.pull_code(tmp_path / "out")
    proxy.plan("status", times=None, match=any_request, status=500)
    with pytest.raises(PullError, match="cannot list"):
        storage.pull_code(tmp_path / "out")
    assert tree(tmp_path / "out") == FILES


def test_a_stalled_download_is_abandoned_and_retried(
    proxy: FaultyProxy, storage: S3Bucket, tmp_path: Path
) -> None:
    from codeferry.remote import RemoteStorage

    options = storage.credentials.storage_options()
    engine = RemoteStorage("s3://code-bucket/code", stall_timeout=1.0, **options)
    proxy.plan("stall", times=1, seconds=20)
    result = engine.pull_code(tmp_path / "out")
    assert tree(result.directory) == FILES


def test_objects_stored_without_a_checksum_are_checked_by_their_md5(
    proxy: FaultyProxy, storage: S3Bucket, s3_server: MotoServer, objects: Objects, tmp_path: Path
) -> None:
    import boto3
    from botocore.config import Config

    # As objects uploaded before SDKs sent checksums are: an ETag (their MD5) and nothing else.
    old_sdk = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint,
        aws_access_key_id=TEST_KEY,
        aws_secret_access_key=TEST_SECRET,
        region_name="us-east-1",
        config=Config(request_checksum_calculation="when_required"),
    )
    for path, data in FILES.items():
        old_sdk.put_object(Bucket=objects.bucket, Key=f"code/{path}", Body=data)
    listing = storage.remote().list_files()
    assert all(remote.md5 and not remote.checked_on_read for remote in listing.values())
    proxy.plan("corrupt", times=None, after=1_000)
    with pytest.raises(PullError, match="MD5 differs"):
        storage.pull_code(tmp_path / "out")


def test_objects_stored_with_a_checksum_are_checked_by_botocore_instead(
    proxy: FaultyProxy, storage: S3Bucket, tmp_path: Path
) -> None:
    listing = storage.remote().list_files()
    assert all(remote.checked_on_read for remote in listing.values())
    proxy.plan("corrupt", times=None, after=1_000)
    with pytest.raises(PullError, match=r"(?i)checksum"):
        storage.pull_code(tmp_path / "out")
