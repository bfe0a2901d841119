"""A re-pull that finds nothing changed lists with the standard library: no s3fs, no botocore.

The listing is signed here (SigV4); it is checked against botocore's signer and against moto in
IAM mode, which refuses a wrong signature. Whatever it cannot do as botocore would, it leaves to
s3fs (``None``), and the pull is then the engine's as before.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from unittest import mock
from urllib.parse import quote, urlencode

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given
from hypothesis import strategies as st

from codeferry_s3.bucket import S3Bucket
from codeferry_s3.credentials import AwsCredentials
from codeferry_s3.quick_listing import ListingRequest, request_for, sign
from tests.remote.object_stores import listed_files, pull_in_new_interpreter
from tests.s3.conftest import BUCKET, Objects
from tests.servers.moto_s3 import TEST_KEY, TEST_SECRET, MotoServer

NOW = datetime(2026, 12, 3, 6, 30, 5, tzinfo=UTC)
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

query_text = st.text(st.characters(codec="utf-8"), max_size=40)


@given(
    prefix=query_text,
    continuation=query_text,
    token=st.one_of(st.none(), st.text(st.characters(codec="ascii", min_codepoint=33), min_size=1)),
    path_style=st.booleans(),
)
def test_requests_are_signed_as_botocore_signs_them(
    prefix: str, continuation: str, token: str | None, path_style: bool
) -> None:
    host = "127.0.0.1" if path_style else "my-bucket.s3.eu-west-1.amazonaws.com"
    port = 9000 if path_style else None
    request = ListingRequest(
        "http", host, port, path_style, "eu-west-1", "AKIDEXAMPLE", "s/+=", token
    )
    path = "/my-bucket" if path_style else "/"
    query = {"list-type": "2", "prefix": prefix, "continuation-token": continuation}

    ours = sign(request, path, query, NOW)

    encoded = urlencode(sorted(query.items()), quote_via=quote, safe="-_.~")
    url = f"http://{request.host_header}{path}?{encoded}"
    theirs = AWSRequest("GET", url, headers={"X-Amz-Content-SHA256": EMPTY_SHA256})
    signer = botocore.auth.S3SigV4Auth(Credentials("AKIDEXAMPLE", "s/+=", token), "s3", "eu-west-1")
    naive_now = NOW.replace(tzinfo=None)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=naive_now):
        signer.add_auth(theirs)
    assert ours["authorization"] == theirs.headers["Authorization"]
    assert ours["x-amz-date"] == theirs.headers["X-Amz-Date"]


@pytest.mark.parametrize(
    ("options", "environ"),
    [
        pytest.param({}, {}, id="no keys: the chain would read ~/.aws or an instance role"),
        pytest.param({"key": "k", "secret": "s"}, {}, id="no region, no endpoint"),
        pytest.param({"profile": "dev"}, {"AWS_REGION": "eu-west-1"}, id="a profile"),
        pytest.param(
            {"key": "k", "secret": "s", "config_kwargs": {"s3": {"addressing_style": "path"}}},
            {"AWS_REGION": "eu-west-1"},
            id="botocore settings",
        ),
        pytest.param(
            {"key": "k", "secret": "s", "client_kwargs": {"verify": False}},
            {"AWS_REGION": "eu-west-1"},
            id="TLS settings",
        ),
        pytest.param(
            {"key": "k", "secret": "s", "endpoint_url": "http://127.0.0.1:9000"},
            {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"},
            id="endpoints ignored",
        ),
        pytest.param({}, {"AWS_ACCESS_KEY_ID": "k", "AWS_REGION": "eu-west-1"}, id="half a pair"),
        pytest.param(
            {},
            {
                "AWS_ACCESS_KEY_ID": "k",
                "AWS_SECRET_ACCESS_KEY": "s",
                "AWS_REGION": "eu-west-1",
                "AWS_PROFILE": "dev",
            },
            id="keys and a profile in the environment",
        ),
    ],
)
def test_what_only_botocore_resolves_is_left_to_it(
    options: dict[str, object], environ: dict[str, str]
) -> None:
    assert request_for(options, environ) is None


def test_keys_endpoint_and_region_are_taken_as_botocore_takes_them() -> None:
    environ = {
        "AWS_ACCESS_KEY_ID": "env-key",
        "AWS_SECRET_ACCESS_KEY": "env-secret",
        "AWS_SESSION_TOKEN": "env-token",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    from_env = request_for({}, environ)
    assert from_env is not None
    assert (from_env.key, from_env.secret, from_env.token) == ("env-key", "env-secret", "env-token")
    assert (from_env.scheme, from_env.host, from_env.path_style) == (
        "https",
        "s3.eu-west-1.amazonaws.com",
        False,
    )
    given_keys = request_for(
        {"key": "k", "secret": "s", "client_kwargs": {"region_name": "us-west-2"}}, environ
    )
    assert given_keys is not None
    assert (given_keys.key, given_keys.token, given_keys.region) == ("k", None, "us-west-2")
    endpoint = request_for({}, {**environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9000"})
    assert endpoint is not None
    assert (endpoint.host_header, endpoint.path_style) == ("127.0.0.1:9000", True)
    assert "env-secret" not in repr(endpoint)


def test_the_quick_listing_is_what_s3fs_lists(
    objects: Objects, credentials: AwsCredentials
) -> None:
    names = [
        "flow.py",
        "with space/ä ö.py",
        "plus+and&amp/percent%41.py",
        "lt<gt>quote'.txt",
        "deep/er/still/x.py",
        *(f"many/{n:04}.py" for n in range(1_001)),  # more than one page
    ]
    for name in names:
        objects.put(f"flows/{name}", name.encode())
    objects.put("flows/empty-marker/", b"")
    objects.put("flows-old/not-this.py", b"no")
    bucket = S3Bucket(bucket_name=BUCKET, bucket_folder="flows", credentials=credentials)

    quick = listed_files(bucket.quick_listing(), f"{BUCKET}/flows")

    engine = bucket.remote().list_files()
    assert quick == {
        path: [remote.fingerprint, remote.size, remote.md5] for path, remote in engine.items()
    }
    assert set(quick) == set(names)


def test_the_signature_is_accepted_where_it_is_checked(
    s3_server: MotoServer, objects: Objects
) -> None:
    objects.put("flows/flow.py", b"x = 1\n")
    key, secret = s3_server.enable_auth()

    def bucket(secret: str) -> S3Bucket:
        credentials = AwsCredentials(
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_client_parameters={"endpoint_url": s3_server.endpoint},
        )
        return S3Bucket(bucket_name=BUCKET, bucket_folder="flows", credentials=credentials)

    assert list(listed_files(bucket(secret).quick_listing(), f"{BUCKET}/flows")) == ["flow.py"]
    assert bucket(secret + "x").quick_listing() is None


def test_a_role_to_assume_is_left_to_the_sdk(credentials: AwsCredentials) -> None:
    role = credentials.model_copy(update={"assume_role_arn": "arn:aws:iam::1:role/r"})
    assert S3Bucket(bucket_name=BUCKET, credentials=role).quick_listing() is None


@pytest.mark.parametrize(
    ("kind", "unchanged_loads"),
    [("url", []), ("block", ["pydantic"])],  # a URL's re-pull makes no block: no pydantic
)
def test_a_repull_with_nothing_changed_imports_no_sdk_and_a_change_is_pulled(
    s3_server: MotoServer, objects: Objects, tmp_path: Path, kind: str, unchanged_loads: list[str]
) -> None:
    objects.put("flows/flow.py", b"V = 1\n")
    objects.put("flows/lib/util.py", b"U = 1\n")
    env = {
        "CODEFERRY_HOME": str(tmp_path / "home"),
        "AWS_ACCESS_KEY_ID": TEST_KEY,
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET,
        "AWS_ENDPOINT_URL": s3_server.endpoint,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "PATH": "/usr/bin:/bin",
    }

    sdk = ["aiobotocore", "botocore", "pydantic", "s3fs"]

    def pull() -> dict[str, object]:
        fields = {"bucket_name": BUCKET, "bucket_folder": "flows"}
        block = ("codeferry_s3.bucket:S3Bucket", fields) if kind == "block" else None
        source = f"s3://{BUCKET}/flows"
        return pull_in_new_interpreter(source, tmp_path / "code", watched=sdk, env=env, block=block)

    assert pull() == {"changed": True, "flow": "V = 1\n", "loaded": sdk}
    assert pull() == {"changed": False, "flow": "V = 1\n", "loaded": unchanged_loads}
    objects.put("flows/flow.py", b"V = 2\n")
    assert pull() == {"changed": True, "flow": "V = 2\n", "loaded": sdk}
    assert pull() == {"changed": False, "flow": "V = 2\n", "loaded": unchanged_loads}
    objects.delete("flows/lib/util.py")
    assert pull()["changed"] is True
    assert not (tmp_path / "code" / "lib" / "util.py").exists()


def test_a_url_lists_with_the_options_of_a_block_without_credentials() -> None:
    # A URL's re-pull lists with `{}` (the environment's credentials) before any block is made:
    # the options the block made from that URL would list with.
    assert S3Bucket.from_url(f"s3://{BUCKET}/flows").credentials.storage_options() == {}


def test_a_change_the_quick_listing_finds_is_pulled_from_it(
    objects: Objects, credentials: AwsCredentials, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codeferry.remote import RemoteStorage

    objects.put("flows/flow.py", b"V = 1\n")
    objects.put("flows/same.py", b"S = 1\n")
    bucket = S3Bucket(bucket_name=BUCKET, bucket_folder="flows", credentials=credentials)
    bucket.pull_code(tmp_path / "code")
    objects.put("flows/flow.py", b"V = 2\n")

    def listed_again(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the folder was listed a second time")

    monkeypatch.setattr(RemoteStorage, "list_files", listed_again)
    result = bucket.pull_code(tmp_path / "code")
    assert (result.changed, result.files) == (True, 1)
    assert (result.directory / "flow.py").read_bytes() == b"V = 2\n"
    assert (result.directory / "same.py").read_bytes() == b"S = 1\n"
