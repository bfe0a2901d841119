"""moto's S3 server for the tests, as a pytest plugin (``pytest_plugins``).

``moto_server`` (session) starts ``python -m moto.server`` on a free 127.0.0.1 port and stops it
at the end; ``s3_server`` (function) gives the same server with all its state wiped before the test
and IAM enforcement switched off after it. ``MotoServer.enable_auth()`` creates an IAM user and
turns on moto's IAM mode, in which wrong keys and wrong secrets are refused with 403.

Without moto the tests that need it fail when ``CI=true`` and are skipped otherwise.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers import answers_http, free_port, logged_process, missing, wait_until_ready

__all__ = ["MotoServer", "running_moto"]

_READY_TIMEOUT = 30.0
# moto accepts any key while IAM mode is off; these are only for the signature's shape.
TEST_KEY = "testing"
TEST_SECRET = "testing-secret-value"


@dataclass
class MotoServer:
    """A running moto S3 server."""

    port: int
    host: str = "127.0.0.1"

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _post(self, path: str, data: bytes = b"") -> None:
        # Not form-encoded: moto reads the raw body (request.data), which forms would consume.
        request = urllib.request.Request(
            self.endpoint + path,
            data=data,
            method="POST",
            headers={"Content-Type": "application/octet-stream"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    def reset(self) -> None:
        """Wipe every bucket, user and key."""
        self._post("/moto-api/reset")

    def client(self, key: str = TEST_KEY, secret: str = TEST_SECRET, service: str = "s3") -> Any:
        """A boto3 client for the server (the tests' own access, not the code under test)."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            region_name="us-east-1",
        )

    def enable_auth(self) -> tuple[str, str]:
        """Create an IAM user allowed all of S3 and switch IAM enforcement on.

        :returns: the user's access key ID and secret; every other key is refused from now on.
        """
        key, secret, _ = self.create_user("ci", "s3:*")
        self.enforce_auth()
        return key, secret

    def create_user(self, name: str, action: str) -> tuple[str, str, str]:
        """An IAM user allowed ``action`` (``"s3:*"``, ``"sts:AssumeRole"``) on everything.

        :returns: its access key ID, its secret and its ARN.
        """
        iam = self.client(service="iam")
        arn = iam.create_user(UserName=name)["User"]["Arn"]
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=_allow(action))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"], arn

    def create_role(self, name: str, trusted: str, action: str) -> str:
        """An IAM role the principal ``trusted`` (an ARN) may assume, allowed ``action``.

        :returns: the role's ARN.
        """
        iam = self.client(service="iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": trusted}, "Action": "sts:AssumeRole"}
            ],
        }
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=_allow(action))
        arn: str = role["Role"]["Arn"]
        return arn

    def enforce_auth(self) -> None:
        """Switch IAM enforcement on: from now on every request is checked against IAM."""
        self._post("/moto-api/reset-auth", b"0")

    def disable_auth(self) -> None:
        self._post("/moto-api/reset-auth", b"inf")


def _allow(action: str) -> str:
    statement = {"Effect": "Allow", "Action": action, "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@contextlib.contextmanager
def running_moto(python: str = sys.executable) -> Iterator[MotoServer]:
    """moto's S3 server on a free 127.0.0.1 port, stopped after (also used by the benchmark)."""
    server = MotoServer(port=free_port())
    with tempfile.TemporaryDirectory(prefix="codeferry-moto-") as workdir:
        log = Path(workdir) / "moto.log"
        url = server.endpoint + "/moto-api/"
        failure = f"moto did not start on {server.endpoint}"
        moto = [python, "-m", "moto.server", "-H", server.host, "-p", str(server.port)]
        with logged_process(moto, log, cwd=workdir) as process:
            wait_until_ready(lambda: answers_http(url), process, log, failure, _READY_TIMEOUT)
            yield server


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """moto's S3 server on 127.0.0.1 for the whole session."""
    try:
        import boto3  # noqa: F401
        import moto.server  # noqa: F401
    except ImportError:
        missing("moto's S3 server", "moto is not installed (pip install --group s3-tests)")
    with running_moto() as server:
        yield server


@pytest.fixture
def s3_server(moto_server: MotoServer) -> Iterator[MotoServer]:
    """The session's moto server, emptied for this test; IAM enforcement off again after it."""
    moto_server.reset()
    yield moto_server
    moto_server.disable_auth()
    moto_server.reset()
