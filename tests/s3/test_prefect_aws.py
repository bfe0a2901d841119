"""prefect-aws's S3 steps and credentials, as its own tests assert them, against moto.

Each test is a behaviour prefect-aws's tests assert (``tests/deployments/test_steps.py``,
``test_credentials.py``, ``test_client_parameters.py``), run through codeferry's steps: the same
result, or the documented difference (docs/moving-from-prefect.md) asserted as it is.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import boto3
import pytest

from codeferry.errors import CodeferryError, PullError
from codeferry.plugins import Plugins
from codeferry.remote import MANIFEST_NAME
from codeferry_s3.bucket import S3Bucket
from codeferry_s3.credentials import AwsClientParameters, AwsCredentials
from codeferry_s3.roles import assumed_role_options
from tests.conftest import write_tree
from tests.remote.object_stores import tree
from tests.s3.conftest import Objects
from tests.servers.moto_s3 import TEST_KEY, TEST_SECRET, MotoServer

FOLDER = "my-project"


@pytest.fixture
def aws_keys(monkeypatch: pytest.MonkeyPatch, s3_server: MotoServer) -> None:
    """Credentials and endpoint from the environment, as prefect-aws's tests give them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_SECRET)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)


@pytest.fixture
def tmp_files(tmp_path: Path) -> Path:
    """prefect-aws's project: five files, two folders, a .prefectignore."""
    names = ["testfile1.txt", "testfile2.txt", "testfile3.txt"]
    names += ["testdir1/testfile4.txt", "testdir2/testfile5.txt"]
    ignored = "\n    testdir1/*\n    .prefectignore\n    "  # indented, as prefect-aws writes it
    return write_tree(
        tmp_path / "project", {**dict.fromkeys(names, "Sample text"), ".prefectignore": ignored}
    )


def steps(plugins: Plugins) -> tuple[Any, Any]:
    return (
        plugins.step("prefect_aws.deployments.steps.push_to_s3").function,
        plugins.step("prefect_aws.deployments.steps.pull_from_s3").function,
    )


def pushed_keys(objects: Objects) -> set[str]:
    """The keys a push wrote, without codeferry's manifest (a documented difference)."""
    return {key for key in objects.keys(FOLDER) if not key.endswith(MANIFEST_NAME)}


# -- push_to_s3 and pull_from_s3 -------------------------------------------------------------


@pytest.mark.usefixtures("aws_keys")
def test_push_to_s3_sends_the_working_folder_but_what_prefectignore_lists(
    s3_plugins: Plugins, objects: Objects, tmp_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    push, _ = steps(s3_plugins)
    monkeypatch.chdir(tmp_files)
    assert push(objects.bucket, FOLDER)["bucket"] == objects.bucket
    assert pushed_keys(objects) == {
        f"{FOLDER}/testfile1.txt",
        f"{FOLDER}/testfile2.txt",
        f"{FOLDER}/testfile3.txt",
        f"{FOLDER}/testdir2/testfile5.txt",
    }
    # The difference: codeferry writes its manifest beside the code.
    assert f"{FOLDER}/{MANIFEST_NAME}" in objects.keys(FOLDER)


@pytest.mark.usefixtures("aws_keys")
def test_pull_from_s3_brings_every_file_of_the_folder_nested_ones_too(
    s3_plugins: Plugins, objects: Objects, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "testfile1.txt": b"Hello, world!",
        "testfile2.txt": b"Test content",
        "testdir1/testfile3.txt": b"Nested file",
    }
    for path, data in files.items():
        objects.put(f"{FOLDER}/{path}", data)
    monkeypatch.chdir(tmp_path)
    _, pull = steps(s3_plugins)
    outputs = pull(objects.bucket, FOLDER)
    assert (outputs["bucket"], outputs["folder"]) == (objects.bucket, FOLDER)
    # The difference: the code is in the checkout the output names, not the working folder.
    assert tree(Path(outputs["directory"])) == files
    assert not (tmp_path / "testfile1.txt").exists()


@pytest.mark.usefixtures("aws_keys")
def test_pull_from_s3_ignores_a_sibling_that_shares_the_prefix(
    s3_plugins: Plugins, objects: Objects
) -> None:
    objects.put("my-folder/my-flow.py", b"expected content")
    objects.put("my-folder-2/my-flow.py", b"unrelated content")
    _, pull = steps(s3_plugins)
    outputs = pull(objects.bucket, "my-folder")
    assert tree(Path(outputs["directory"])) == {"my-flow.py": b"expected content"}


@pytest.mark.usefixtures("aws_keys")
def test_empty_folders_are_neither_pushed_nor_pulled(
    s3_plugins: Plugins, objects: Objects, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "empty1").mkdir()
    (tmp_path / "empty2").mkdir()
    (tmp_path / "testfile1.txt").write_text("Sample text")
    monkeypatch.chdir(tmp_path)
    push, pull = steps(s3_plugins)
    push(objects.bucket, FOLDER)
    assert pushed_keys(objects) == {f"{FOLDER}/testfile1.txt"}
    directory = Path(pull(objects.bucket, FOLDER)["directory"])
    assert sorted(path.name for path in directory.iterdir()) == ["testfile1.txt"]


@pytest.mark.usefixtures("aws_keys")
def test_without_a_prefectignore_every_file_is_pushed(
    s3_plugins: Plugins, objects: Objects, tmp_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_files / ".prefectignore").unlink()
    monkeypatch.chdir(tmp_files)
    push, _ = steps(s3_plugins)
    push(objects.bucket, FOLDER)
    assert len(pushed_keys(objects)) == 5


@pytest.mark.usefixtures("aws_keys")
def test_a_prefectignore_with_comments_and_blank_lines_is_read_as_patterns(
    s3_plugins: Plugins, objects: Objects, tmp_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_files / ".prefectignore").write_text(
        "\n        # This is a comment\n        testdir1/*\n\n        .prefectignore\n        "
    )
    monkeypatch.chdir(tmp_files)
    push, _ = steps(s3_plugins)
    push(objects.bucket, FOLDER)
    assert f"{FOLDER}/testdir1/testfile4.txt" not in pushed_keys(objects)
    assert f"{FOLDER}/.prefectignore" not in pushed_keys(objects)
    assert len(pushed_keys(objects)) == 4


def test_minio_credentials_with_the_endpoint_in_client_parameters_push_and_pull(
    s3_plugins: Plugins, objects: Objects, s3_server: MotoServer, tmp_files: Path
) -> None:
    push, pull = steps(s3_plugins)
    arguments = {
        "credentials": {"minio_root_user": TEST_KEY, "minio_root_password": TEST_SECRET},
        "client_parameters": {"endpoint_url": s3_server.endpoint},
    }
    push(objects.bucket, FOLDER, source=str(tmp_files), **arguments)
    pulled = tree(Path(pull(objects.bucket, FOLDER, **arguments)["directory"]))
    assert set(pulled) == {
        "testfile1.txt",
        "testfile2.txt",
        "testfile3.txt",
        "testdir2/testfile5.txt",
    }


# -- client_parameters -------------------------------------------------------------------------


def bucket_from_step(
    s3_server: MotoServer, objects: Objects, client_parameters: dict[str, Any]
) -> S3Bucket:
    """The bucket the S3 steps make of these arguments (what they then pull or push)."""
    return S3Bucket.from_step_arguments(
        objects.bucket,
        FOLDER,
        {"aws_access_key_id": TEST_KEY, "aws_secret_access_key": TEST_SECRET},
        client_parameters={"endpoint_url": s3_server.endpoint, **client_parameters},
    )


@pytest.mark.usefixtures("s3_plugins")
def test_region_name_in_client_parameters_is_the_clients_region(
    s3_server: MotoServer, objects: Objects
) -> None:
    objects.put(f"{FOLDER}/flow.py", b"x")
    storage = bucket_from_step(s3_server, objects, {"region_name": "us-west-1"})
    assert storage.remote().filesystem.s3.meta.region_name == "us-west-1"
    assert tree(storage.pull_code().directory) == {"flow.py": b"x"}


def test_a_region_in_the_credentials_wins_over_client_parameters(
    s3_server: MotoServer, objects: Objects
) -> None:
    storage = S3Bucket.from_step_arguments(
        objects.bucket,
        FOLDER,
        {"region_name": "eu-west-3"},
        client_parameters={"region_name": "us-west-1", "endpoint_url": s3_server.endpoint},
    )
    assert isinstance(storage.credentials, AwsCredentials)
    assert storage.credentials.region_name == "eu-west-3"


def test_profile_name_in_client_parameters_signs_with_that_profile(
    s3_server: MotoServer, objects: Objects, tmp_path: Path
) -> None:
    objects.put(f"{FOLDER}/flow.py", b"x")
    key, secret = s3_server.enable_auth()
    (tmp_path / "no-aws-credentials").write_text(
        f"[deploy]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n"
    )
    storage = S3Bucket.from_step_arguments(
        objects.bucket,
        FOLDER,
        None,
        client_parameters={"profile_name": "deploy", "endpoint_url": s3_server.endpoint},
    )
    assert tree(storage.pull_code().directory) == {"flow.py": b"x"}


def test_config_reaches_botocore(s3_server: MotoServer, objects: Objects) -> None:
    objects.put(f"{FOLDER}/flow.py", b"x")
    settings = {"connect_timeout": 7, "s3": {"addressing_style": "path"}}
    storage = bucket_from_step(s3_server, objects, {"config": settings})
    config = storage.remote().filesystem.s3.meta.config
    assert (config.connect_timeout, config.s3["addressing_style"]) == (7, "path")
    assert tree(storage.pull_code().directory) == {"flow.py": b"x"}


def test_an_unsigned_signature_version_reads_a_public_bucket_without_signing(
    s3_server: MotoServer, objects: Objects, tmp_path: Path
) -> None:
    unsigned = bucket_from_step(s3_server, objects, {"config": {"signature_version": "unsigned"}})
    objects.put(f"{FOLDER}/flow.py", b"x")
    with pytest.raises(PullError, match="access denied"):  # a private object, asked anonymously
        unsigned.pull_code(tmp_path / "private")
    objects.client.put_object(
        Bucket=objects.bucket, Key=f"{FOLDER}/flow.py", Body=b"x", ACL="public-read"
    )
    assert tree(unsigned.pull_code(tmp_path / "public").directory) == {"flow.py": b"x"}


def test_api_version_is_the_clients(s3_server: MotoServer, objects: Objects) -> None:
    objects.put(f"{FOLDER}/flow.py", b"x")
    storage = bucket_from_step(s3_server, objects, {"api_version": "2006-03-01"})
    assert storage.remote().filesystem.s3.meta.service_model.api_version == "2006-03-01"
    assert tree(storage.pull_code().directory) == {"flow.py": b"x"}


def test_use_ssl_and_verify_reach_the_client(s3_server: MotoServer, objects: Objects) -> None:
    objects.put(f"{FOLDER}/flow.py", b"x")
    storage = bucket_from_step(s3_server, objects, {"use_ssl": False, "verify": False})
    options = storage.credentials.storage_options()
    assert (options["use_ssl"], options["client_kwargs"]["verify"]) == (False, False)
    assert tree(storage.pull_code().directory) == {"flow.py": b"x"}


@pytest.mark.parametrize(
    ("parameters", "verify"),
    [
        ({"verify_cert_path": "/etc/ca.pem"}, "/etc/ca.pem"),
        ({"verify": "/etc/old-ca.pem"}, "/etc/old-ca.pem"),  # deprecated in Prefect, still read
        ({"verify": "/etc/old-ca.pem", "verify_cert_path": "/etc/ca.pem"}, "/etc/ca.pem"),
        ({"verify": False, "verify_cert_path": "/etc/ca.pem"}, False),  # Prefect ignores the path
        ({}, None),  # botocore's default: verified
    ],
)
def test_verify_and_verify_cert_path_follow_prefects_rules(
    parameters: dict[str, Any], verify: object
) -> None:
    options = AwsClientParameters.model_validate(parameters).s3fs_options()
    assert options.get("client_kwargs", {}).get("verify") == verify


# -- assume_role_arn -------------------------------------------------------------------------


@pytest.fixture
def sts(s3_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """moto serves STS too: the role is asked for there, as botocore finds the endpoint."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", s3_server.endpoint)
    return s3_server


def role_credentials(
    sts: MotoServer, objects: Objects, **fields: Any
) -> tuple[AwsCredentials, str]:
    """A user allowed only to assume roles, and a role allowed S3; IAM enforced from now on."""
    objects.put(f"{FOLDER}/flow.py", b"x")
    key, secret, user = sts.create_user("deployer", "sts:AssumeRole")
    role = sts.create_role("code-reader", user, "s3:*")
    sts.enforce_auth()
    credentials = AwsCredentials(
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_client_parameters={"endpoint_url": sts.endpoint},
        **fields,
    )
    return credentials, role


def test_a_role_to_assume_is_assumed_through_sts_and_reads_the_bucket(
    sts: MotoServer, objects: Objects
) -> None:
    credentials, role = role_credentials(sts, objects)
    with pytest.raises(PullError, match="access denied"):  # the user alone may not read it
        S3Bucket(
            bucket_name=objects.bucket, bucket_folder=FOLDER, credentials=credentials
        ).pull_code()
    with_role = AwsCredentials.model_validate(
        {**credentials.public_dict(show_secrets=True), "assume_role_arn": role}
    )
    storage = S3Bucket(bucket_name=objects.bucket, bucket_folder=FOLDER, credentials=with_role)
    assert tree(storage.pull_code().directory) == {"flow.py": b"x"}


def test_the_session_is_named_as_asked_or_codeferry_session_and_a_random_suffix(
    sts: MotoServer, objects: Objects
) -> None:
    credentials, role = role_credentials(sts, objects)

    def session_name(**kwargs: Any) -> str:
        asked = AwsCredentials.model_validate(
            {
                **credentials.public_dict(show_secrets=True),
                "assume_role_arn": role,
                "assume_role_kwargs": kwargs,
            }
        )
        options = assumed_role_options(asked)
        identity = boto3.client(
            "sts",
            endpoint_url=sts.endpoint,
            region_name="us-east-1",
            aws_access_key_id=options["key"],
            aws_secret_access_key=options["secret"],
            aws_session_token=options["token"],
        )
        arn: str = identity.get_caller_identity()["Arn"]
        return arn.rpartition("/")[2]

    assert re.fullmatch(r"codeferry-session-[0-9a-f]{8}", session_name())
    assert session_name(RoleSessionName="nightly-etl", ExternalId="prefect-test") == "nightly-etl"


def test_a_prefect_yaml_credentials_dictionary_with_a_role_pulls_through_the_step(
    s3_plugins: Plugins, sts: MotoServer, objects: Objects
) -> None:
    credentials, role = role_credentials(sts, objects)
    resolved = {
        **credentials.public_dict(show_secrets=True),
        "assume_role_arn": role,
        "assume_role_kwargs": {"RoleSessionName": None, "DurationSeconds": 900, "Tags": None},
    }
    _, pull = steps(s3_plugins)
    assert tree(Path(pull(objects.bucket, FOLDER, credentials=resolved)["directory"])) == {
        "flow.py": b"x"
    }


def test_a_role_sts_refuses_is_named_and_no_secret_is_shown(
    sts: MotoServer, objects: Objects
) -> None:
    objects.put(f"{FOLDER}/flow.py", b"x")
    key, secret, _ = sts.create_user("reader", "s3:*")  # may read, may not assume roles
    sts.enforce_auth()
    credentials = AwsCredentials(
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        assume_role_arn="arn:aws:iam::123456789012:role/elsewhere",
        aws_client_parameters={"endpoint_url": sts.endpoint},
    )
    storage = S3Bucket(bucket_name=objects.bucket, bucket_folder=FOLDER, credentials=credentials)
    with pytest.raises(CodeferryError) as caught:
        storage.pull_code()
    message = str(caught.value)
    assert message.startswith("cannot assume the role arn:aws:iam::123456789012:role/elsewhere: ")
    assert "AccessDenied" in message
    assert secret not in message
