"""An S3 endpoint that accepts connections and never answers: the pull gives up, in one line.

It used to be tried for minutes: s3fs's five tries and botocore's two of each request, 15 s of
silence each, times the engine's four attempts. The pulls here run with the timeouts lowered to a
second; the last test checks what the client is built with by default.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codeferry_s3.bucket import S3Bucket
from codeferry_s3.credentials import AwsCredentials
from tests.remote.object_stores import assert_pulls_give_up
from tests.servers.moto_s3 import TEST_KEY, TEST_SECRET
from tests.servers.silent import SilentServer, run_codeferry


def silence(server: SilentServer) -> str:
    return (
        f"S3 endpoint {server.address} accepted the connection but sent nothing for 1 s "
        "(tried 2 times)"
    )


def bucket_at(address: str) -> S3Bucket:
    credentials = AwsCredentials(
        aws_access_key_id=TEST_KEY,
        aws_secret_access_key=TEST_SECRET,
        aws_client_parameters={"endpoint_url": f"http://{address}"},
    )
    return S3Bucket(bucket_name="code-bucket", bucket_folder="code", credentials=credentials)


def test_pull_from_a_silent_s3_endpoint_fails_in_one_line_naming_it(
    silent_server: SilentServer, tmp_path: Path
) -> None:
    env = {
        "AWS_ACCESS_KEY_ID": TEST_KEY,
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET,
        "AWS_ENDPOINT_URL": f"http://{silent_server.address}",
    }
    dest = tmp_path / "code"
    for _ in range(2):  # the second into the same folder is not wedged either
        finished = run_codeferry("pull", "s3://code-bucket/code", "--dest", str(dest), env=env)
        assert finished.returncode == 1
        assert finished.stderr == [
            f"Error: cannot list s3://code-bucket/code: {silence(silent_server)}"
        ]


@pytest.mark.usefixtures("lowered_timeouts")
def test_a_failed_pull_from_a_silent_s3_endpoint_releases_the_checkout(
    silent_server: SilentServer, tmp_path: Path
) -> None:
    assert_pulls_give_up(
        bucket_at(silent_server.address),
        tmp_path / "code",
        f"cannot list s3://code-bucket/code: {silence(silent_server)}",
    )


def test_the_s3_client_is_built_with_the_default_limits_and_no_retries_of_its_own() -> None:
    remote = bucket_at("s3.example.com:9000").remote()
    config = remote.filesystem.config_kwargs
    assert (config["connect_timeout"], config["read_timeout"]) == (10.0, 30.0)
    assert config["retries"]["total_max_attempts"] == 1
    assert remote.filesystem.retries == 1
    assert remote.settings.stall_timeout == 30.0
    assert remote.settings.timeout_attempts == 2
