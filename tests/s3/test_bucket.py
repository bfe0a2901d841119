"""Pulling and pushing S3 folders against moto: folders, markers, integrity, credentials, steps."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from codeferry.errors import CodeferryError, PullError, UnsafePathError
from codeferry.plugins import Plugins
from codeferry.remote import MANIFEST_NAME
from codeferry_s3.bucket import S3Bucket
from codeferry_s3.credentials import AwsCredentials, MinIOCredentials
from tests.remote.object_stores import FOLDER_MARKERS, SIBLINGS, StoreChecks, tree
from tests.s3.conftest import Objects
from tests.servers.moto_s3 import TEST_KEY, TEST_SECRET, MotoServer


def bucket(objects: Objects, credentials: AwsCredentials, folder: str = "code") -> S3Bucket:
    return S3Bucket(bucket_name=objects.bucket, bucket_folder=folder, credentials=credentials)


def test_folder_is_that_folder_and_nothing_beside_it(
    objects: Objects, credentials: AwsCredentials, tmp_path: Path
) -> None:
    storage = bucket(objects, credentials)
    others = {**SIBLINGS, "code-old/flow.py": b"stale"}
    StoreChecks(objects, storage).pulls_only_the_folder(
        tmp_path / "out", {"flow.py": b"mine"}, others
    )


def test_folder_marker_objects_are_skipped(
    objects: Objects, credentials: AwsCredentials, tmp_path: Path
) -> None:
    storage = bucket(objects, credentials)
    code = {"pkg/a.py": b"a"}
    StoreChecks(objects, storage).pulls_only_the_folder(tmp_path / "out", code, FOLDER_MARKERS)


def test_key_that_is_both_file_and_folder_is_refused_and_nothing_is_written(
    objects: Objects, credentials: AwsCredentials, tmp_path: Path
) -> None:
    objects.put("code/a", b"file")
    objects.put("code/a/b.py", b"inside")
    with pytest.raises(UnsafePathError, match="both a file and a folder"):
        bucket(objects, credentials).pull_code(tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_multipart_objects_are_checked_by_size(
    objects: Objects, credentials: AwsCredentials, tmp_path: Path
) -> None:
    client = objects.client
    part = b"x" * (5 * 1024 * 1024)
    upload = client.create_multipart_upload(Bucket=objects.bucket, Key="code/big.bin")
    etags = [
        client.upload_part(
            Bucket=objects.bucket,
            Key="code/big.bin",
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=data,
        )["ETag"]
        for number, data in ((1, part), (2, b"tail"))
    ]
    client.complete_multipart_upload(
        Bucket=objects.bucket,
        Key="code/big.bin",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": e, "PartNumber": n} for n, e in enumerate(etags, 1)]},
    )
    result = bucket(objects, credentials).pull_code(tmp_path / "out")
    assert (result.directory / "big.bin").read_bytes() == part + b"tail"


def test_push_then_pull_round_trips_and_reports_the_manifest_version(
    objects: Objects, credentials: AwsCredentials, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    (source / "pkg").mkdir(parents=True)
    (source / "flow.py").write_text("def main(): ...\n")
    (source / "pkg" / "lib.py").write_text("X = 1\n")
    (source / "notes.log").write_text("ignored\n")
    (source / ".prefectignore").write_text("*.log\n")
    storage = bucket(objects, credentials)
    pushed = storage.push_code(source)
    assert objects.keys("code/") == sorted(
        ["code/.prefectignore", f"code/{MANIFEST_NAME}", "code/flow.py", "code/pkg/lib.py"]
    )
    assert storage.push_code(source).files == 0  # unchanged: compared by MD5 (the ETag)
    pulled = storage.pull_code(tmp_path / "out")
    assert pulled.version == pushed.version
    assert tree(pulled.directory) == {
        ".prefectignore": b"*.log\n",
        "flow.py": b"def main(): ...\n",
        "pkg/lib.py": b"X = 1\n",
    }


def test_repull_downloads_only_changed_files_and_drops_deleted_ones(
    objects: Objects, credentials: AwsCredentials, tmp_path: Path
) -> None:
    objects.replace("code", {"a.py": b"a", "b.py": b"b", "c.py": b"c"})
    storage = bucket(objects, credentials)
    first = storage.pull_code(tmp_path / "out")
    assert storage.pull_code(tmp_path / "out").changed is False
    objects.replace("code", {"a.py": b"a", "b.py": b"B!"})
    second = storage.pull_code(tmp_path / "out")
    assert tree(second.directory) == {"a.py": b"a", "b.py": b"B!"}
    assert (second.files, second.bytes) == (1, 2)
    assert (second.directory / "a.py").samefile(first.directory / "a.py")


def test_a_folder_that_held_many_files_is_listed_by_sub_folder_with_the_same_result(
    objects: Objects, credentials: AwsCredentials, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("codeferry.remote.storage._FLAT_LISTING_MAX", 3)
    code = {"top.py": b"t", "a/one.py": b"1", "a/b/two.py": b"2", "c/three.py": b"3"}
    objects.replace("code", code)
    objects.put("code/empty/", b"")  # a folder marker, in a folder of its own
    remote = bucket(objects, credentials).remote()
    fs = remote.filesystem
    listed: list[tuple[str, str]] = []
    for method in ("_ls", "_find"):
        original = getattr(fs, method)

        async def spy(
            path: str,
            *args: object,
            _call: Callable[..., Awaitable[object]] = original,
            _name: str = method,
            **kwargs: object,
        ) -> object:
            listed.append((_name, path.removeprefix(f"{objects.bucket}/")))
            return await _call(path, *args, **kwargs)

        monkeypatch.setattr(fs, method, spy)

    first = remote.pull_code(tmp_path / "out")
    assert listed == [("_find", "code")], "never pulled: one flat listing"
    assert tree(first.directory) == code
    listed.clear()
    objects.put("code/c/three.py", b"3!")
    second = remote.pull_code(tmp_path / "out")
    assert listed[0] == ("_ls", "code")
    assert sorted(listed[1:]) == [("_find", "code/a"), ("_find", "code/c"), ("_find", "code/empty")]
    assert tree(second.directory) == {**code, "c/three.py": b"3!"}


@pytest.mark.usefixtures("s3_server")
def test_missing_bucket_fails_in_one_line(credentials: AwsCredentials) -> None:
    storage = S3Bucket(bucket_name="no-such-bucket", credentials=credentials)
    with pytest.raises(PullError) as caught:
        storage.pull_code()
    assert "s3://no-such-bucket" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_wrong_secret_is_refused_cleanly_in_iam_mode(
    objects: Objects, s3_server: MotoServer, tmp_path: Path
) -> None:
    objects.put("code/flow.py", b"x")
    key, secret = s3_server.enable_auth()
    endpoint = {"endpoint_url": s3_server.endpoint}
    good = AwsCredentials(
        aws_access_key_id=key, aws_secret_access_key=secret, aws_client_parameters=endpoint
    )
    first = bucket(objects, good).pull_code(tmp_path / "out")
    wrong = "wrong-" + secret[6:]
    bad = AwsCredentials(
        aws_access_key_id=key, aws_secret_access_key=wrong, aws_client_parameters=endpoint
    )
    with pytest.raises(PullError, match="access denied") as caught:
        bucket(objects, bad).pull_code(tmp_path / "out")
    message = str(caught.value)
    assert "\n" not in message
    assert wrong not in message
    assert secret not in message
    assert tree(first.directory) == {"flow.py": b"x"}


def test_unknown_key_is_refused_in_iam_mode(objects: Objects, s3_server: MotoServer) -> None:
    objects.put("code/flow.py", b"x")
    s3_server.enable_auth()
    unknown = AwsCredentials(
        aws_access_key_id="AKIAUNKNOWN",
        aws_secret_access_key=TEST_SECRET,
        aws_client_parameters={"endpoint_url": s3_server.endpoint},
    )
    with pytest.raises(PullError, match="access denied"):
        bucket(objects, unknown).pull_code()


def test_explicit_region_is_honoured(objects: Objects, s3_server: MotoServer) -> None:
    credentials = AwsCredentials(
        aws_access_key_id=TEST_KEY,
        aws_secret_access_key=TEST_SECRET,
        region_name="eu-west-3",
        aws_client_parameters={"endpoint_url": s3_server.endpoint},
    )
    options = credentials.storage_options()
    assert options["client_kwargs"]["region_name"] == "eu-west-3"
    objects.put("code/flow.py", b"x")
    fs = bucket(objects, credentials).remote().filesystem
    assert fs.s3.meta.region_name == "eu-west-3"


def test_pull_step_takes_prefect_credentials_dictionaries_and_names(
    s3_plugins: Plugins, objects: Objects, s3_server: MotoServer, tmp_path: Path
) -> None:
    objects.put("code/flow.py", b"x")
    step = s3_plugins.step("prefect_aws.deployments.steps.pull_from_s3").function
    outputs = step(
        bucket=objects.bucket,
        folder="code",
        credentials={
            "aws_access_key_id": TEST_KEY,
            "aws_secret_access_key": TEST_SECRET,
            "aws_session_token": None,
            "profile_name": None,
            "region_name": None,
            "aws_client_parameters": {"endpoint_url": s3_server.endpoint},
        },
        destination=str(tmp_path / "out"),
    )
    assert outputs is not None
    assert (outputs["bucket"], outputs["folder"]) == (objects.bucket, "code")
    assert tree(Path(outputs["directory"])) == {"flow.py": b"x"}


def test_push_step_takes_minio_credentials_and_client_parameters(
    s3_plugins: Plugins, objects: Objects, s3_server: MotoServer, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "flow.py").write_text("x")
    step = s3_plugins.step("prefect_aws.deployments.steps.push_to_s3").function
    outputs = step(
        bucket=objects.bucket,
        folder="code",
        credentials={"minio_root_user": TEST_KEY, "minio_root_password": TEST_SECRET},
        client_parameters={"endpoint_url": s3_server.endpoint},
        source=str(source),
    )
    assert outputs is not None
    assert outputs["files"] == 1
    assert objects.read("code/flow.py") == b"x"


def test_s3_urls_use_the_aws_environment(
    s3_plugins: Plugins,
    objects: Objects,
    s3_server: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_SECRET)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    objects.put("code/flow.py", b"x")
    storage = s3_plugins.storage_from_source(f"s3://{objects.bucket}/code")
    assert tree(storage.pull_code(tmp_path / "out").directory) == {"flow.py": b"x"}
    # The bucket block of the same URL is the same source: the checkout is kept.
    again = S3Bucket.from_url(f"s3://{objects.bucket}/code").pull_code(tmp_path / "out")
    assert again.changed is False


def test_s3_urls_with_credentials_are_refused(s3_plugins: Plugins) -> None:
    with pytest.raises(CodeferryError, match="must not carry credentials") as caught:
        s3_plugins.storage_from_source("s3://AKIA:topsecret@bucket/code")
    assert "topsecret" not in str(caught.value)


def test_credential_errors_never_echo_the_values() -> None:
    from codeferry_s3.credentials import credentials_from_step_argument

    with pytest.raises(CodeferryError) as caught:
        credentials_from_step_argument({"aws_secret_access_key": "very-secret-value"})
    assert "very-secret-value" not in str(caught.value)


def test_minio_dictionaries_become_minio_credentials() -> None:
    from codeferry_s3.credentials import credentials_from_step_argument

    made = credentials_from_step_argument(
        {"minio_root_user": "u", "minio_root_password": "p"}, {"endpoint_url": "http://m:9000"}
    )
    assert isinstance(made, MinIOCredentials)
    assert made.storage_options() == {
        "key": "u",
        "secret": "p",
        "endpoint_url": "http://m:9000",
    }


def test_a_prefect_aws_credentials_block_as_prefect_resolves_it_is_accepted() -> None:
    from codeferry_s3.credentials import credentials_from_step_argument

    # What {{ prefect.blocks.aws-credentials.NAME }} gives with prefect-aws 0.7: every field,
    # unset ones as None, and the assume-role settings as a mapping of Nones.
    resolved = {
        "aws_access_key_id": "AKIATEST",
        "aws_secret_access_key": "s3cr3t",
        "aws_session_token": None,
        "profile_name": None,
        "region_name": "us-east-1",
        "aws_client_parameters": {
            "api_version": None,
            "use_ssl": True,
            "verify": True,
            "verify_cert_path": None,
            "endpoint_url": "http://127.0.0.1:9000",
            "config": None,
        },
        "assume_role_arn": None,
        "assume_role_kwargs": {"RoleSessionName": None, "DurationSeconds": None, "Tags": None},
    }
    made = credentials_from_step_argument(resolved)
    assert made.storage_options() == {
        "key": "AKIATEST",
        "secret": "s3cr3t",
        "endpoint_url": "http://127.0.0.1:9000",
        "client_kwargs": {"region_name": "us-east-1"},
    }


def test_a_prefect_aws_credentials_block_with_a_role_to_assume_keeps_it() -> None:
    from codeferry_s3.credentials import credentials_from_step_argument

    # Assumed for real through STS when the bucket is opened (see test_prefect_aws.py).
    made = credentials_from_step_argument(
        {
            "aws_access_key_id": "A",
            "aws_secret_access_key": "hidden-1",
            "assume_role_arn": "arn:aws:iam::123456789012:role/r",
            "assume_role_kwargs": {"ExternalId": "ext-1", "Tags": None},
        }
    )
    assert isinstance(made, AwsCredentials)
    assert made.assume_role_arn == "arn:aws:iam::123456789012:role/r"
    assert made.assume_role_kwargs.given() == {"ExternalId": "ext-1"}
    assert "hidden-1" not in repr(made)
