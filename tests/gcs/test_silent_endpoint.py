"""A GCS endpoint that accepts connections and never answers: the pull gives up, naming it.

gcsfs tries a request whose connection or read timed out six times, with backoffs of up to 32 s:
it is given an overall timeout per request instead, which it leaves to the engine. Here the
timeouts are lowered to a second; the last test checks the default the client is built with.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codeferry_gcs.bucket import GcsBucket
from tests.remote.object_stores import assert_pulls_give_up
from tests.servers.silent import SilentServer


@pytest.mark.usefixtures("lowered_timeouts")
def test_pull_from_a_silent_gcs_endpoint_fails_naming_it_and_releases_the_checkout(
    silent_server: SilentServer, tmp_path: Path
) -> None:
    bucket = GcsBucket(
        bucket="flows", bucket_folder="code", endpoint_url=f"http://{silent_server.address}"
    )
    assert_pulls_give_up(
        bucket,
        tmp_path / "code",
        f"cannot list gs://flows/code: GCS endpoint {silent_server.address} accepted the "
        "connection but sent nothing for 1 s (tried 2 times)",
    )


def test_the_gcs_client_is_built_with_the_default_limit_per_request() -> None:
    bucket = GcsBucket(bucket="flows", endpoint_url="http://gcs.example.com:4443")
    remote = bucket.remote()
    assert remote.filesystem.requests_timeout.total == 30.0
    assert remote.settings.stall_timeout == 30.0
