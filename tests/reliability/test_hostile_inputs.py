"""Hostile input the backend suites do not already cover: nothing lands outside the destination.

S3 object keys with ``..`` or an absolute path after the folder, and image layers with block
devices, FIFOs and hard links out of the folder (``tests/docker`` covers character devices,
symbolic links and ``..``/absolute member names). Each is refused with an error naming the problem,
and the tree pulled before stays as it was.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from codeferry.errors import CodeferryError, UnsafePathError
from codeferry_docker.credentials import DockerRegistryCredentials
from codeferry_docker.storage import OciImage
from codeferry_s3.bucket import S3Bucket
from codeferry_s3.credentials import AwsCredentials
from tests.docker.conftest import credentials as registry_credentials
from tests.docker.conftest import pusher, repository
from tests.docker.images import RawPusher, config_for, layer, member
from tests.remote.object_stores import tree
from tests.s3.conftest import BUCKET, Objects
from tests.servers.moto_s3 import TEST_KEY, TEST_SECRET
from tests.servers.registry import RegistryServer

__all__ = ["pusher", "registry_credentials", "repository"]  # fixtures, re-exported for pytest

pytestmark = pytest.mark.reliability

CODE = {"flow.py": b"def main():\n    return 1\n", "pkg/util.py": b"X = 1\n"}


@pytest.fixture
def bucket(objects: Objects) -> S3Bucket:
    credentials = AwsCredentials(
        aws_access_key_id=TEST_KEY,
        aws_secret_access_key=TEST_SECRET,
        aws_client_parameters={"endpoint_url": objects.server.endpoint},
    )
    return S3Bucket(bucket_name=BUCKET, bucket_folder="code/app", credentials=credentials)


@pytest.mark.parametrize(
    "key",
    [
        "code/app/../escaped.py",
        "code/app/pkg/../../../escaped.py",
        "code/app/../../escaped.py",
        "code/app//escaped.py",
        "code/app/./pkg/../../escaped.py",
    ],
)
def test_an_object_key_that_leaves_the_folder_is_refused_and_the_tree_stays(
    objects: Objects, bucket: S3Bucket, tmp_path: Path, key: str
) -> None:
    objects.replace("code/app", CODE)
    good = bucket.pull_code(tmp_path / "work" / "checkout")
    objects.put(key, b"pwned = True\n")
    stored = objects.keys(prefix="code")
    assert key in stored, f"moto stored {stored}"
    with pytest.raises(CodeferryError) as caught:
        bucket.pull_code(tmp_path / "work" / "checkout")
    assert isinstance(caught.value, UnsafePathError) or "path" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert not [p for p in tmp_path.rglob("escaped.py")]
    assert tree(tmp_path / "work" / "checkout") == CODE
    assert tree(good.directory) == CODE


def test_an_object_that_is_also_a_folder_is_a_clear_error(
    objects: Objects, bucket: S3Bucket, tmp_path: Path
) -> None:
    objects.replace("code/app", {**CODE, "pkg": b"a file where a folder is\n"})
    with pytest.raises(CodeferryError, match="pkg"):
        bucket.pull_code(tmp_path / "checkout")
    assert not (tmp_path / "checkout").exists()


@pytest.mark.parametrize(
    ("hostile", "message"),
    [
        (member("app/disk", kind=tarfile.BLKTYPE), "device"),
        (member("app/pipe", kind=tarfile.FIFOTYPE), "FIFO|fifo|special|pipe"),
        (member("app/up", kind=tarfile.LNKTYPE, link="../etc/passwd"), "'..'"),
        (member("app/abs", kind=tarfile.LNKTYPE, link="/etc/passwd"), "absolute"),
    ],
)
def test_special_files_and_hard_links_out_of_an_image_are_refused(
    oci_registry: RegistryServer,
    registry_credentials: DockerRegistryCredentials,
    pusher: RawPusher,
    repository: str,
    tmp_path: Path,
    hostile: tarfile.TarInfo,
    message: str,
) -> None:
    code = layer({"app/flow.py": b"flow"}, extra=[(hostile, b"")])
    pusher.image(repository, "v1", [code], config_for([code], workdir="/app"))
    image = OciImage(image=oci_registry.image(repository, "v1"), credentials=registry_credentials)
    with pytest.raises(UnsafePathError, match=message) as caught:
        image.pull_code(tmp_path / "out")
    assert repository in str(caught.value)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["codeferry-home"]
