"""Pulling a folder out of an image in a real registry: layers, whiteouts, platforms, bad input."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from codeferry.errors import CodeferryError, PullError, UnsafePathError
from codeferry.plugins import Plugins
from codeferry_docker.credentials import DockerRegistryCredentials
from codeferry_docker.storage import OciImage
from tests.docker.images import RawPusher, busybox_layer, config_for, layer, member
from tests.servers.registry import RegistryServer

MakeImage = Callable[..., OciImage]


def tree(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture
def image(
    oci_registry: RegistryServer, credentials: DockerRegistryCredentials, repository: str
) -> MakeImage:
    def make(tag: str = "v1", **options: object) -> OciImage:
        return OciImage(
            image=oci_registry.image(repository, tag), credentials=credentials, **options
        )

    return make


def test_whiteouts_and_opaque_folders_hide_lower_layers(
    pusher: RawPusher, repository: str, image: MakeImage, tmp_path: Path
) -> None:
    bottom = layer(
        {
            "app/keep.py": b"keep",
            "app/removed.py": b"gone",
            "app/old/a.py": b"old a",
            "app/replaced/x.py": b"lower x",
            "app/changed.py": b"v1",
        }
    )
    top = layer(
        {
            "app/.wh.removed.py": b"",
            "app/replaced/.wh..wh..opq": b"",
            "app/replaced/y.py": b"upper y",
            "app/changed.py": b"v2",
        },
        extra=[(member("app/.wh.old"), b"")],
    )
    pusher.image(repository, "v1", [bottom, top], config_for([bottom, top], workdir="/app"))
    result = image().pull_code(tmp_path / "out")
    assert tree(result.directory) == {
        "keep.py": b"keep",
        "replaced/y.py": b"upper y",
        "changed.py": b"v2",
    }


def test_an_opaque_working_directory_means_only_the_top_layer_is_downloaded(
    pusher: RawPusher, repository: str, image: MakeImage, tmp_path: Path
) -> None:
    base = busybox_layer()
    stale = layer({"app/stale.py": b"stale"})
    code = layer({"app/.wh..wh..opq": b"", "app/flow.py": b"flow"})
    pusher.image(
        repository, "v1", [base, stale, code], config_for([base, stale, code], workdir="/app")
    )
    storage = image()
    result = storage.pull_code(tmp_path / "out")
    assert tree(result.directory) == {"flow.py": b"flow"}
    assert result.bytes < len(base.blob), (
        "the base layer was downloaded although the code layer hides it"
    )


def test_layers_without_the_folder_are_remembered_and_skipped_on_the_next_pull(
    pusher: RawPusher, repository: str, image: MakeImage, tmp_path: Path
) -> None:
    base = busybox_layer()
    first = layer({"app/flow.py": b"one"})
    pusher.image(repository, "v1", [base, first], config_for([base, first], workdir="/app"))
    storage = image()
    cold = storage.pull_code(tmp_path / "out")
    assert cold.bytes > len(base.blob)
    second = layer({"app/flow.py": b"two"})
    pusher.image(repository, "v1", [base, second], config_for([base, second], workdir="/app"))
    warm = storage.pull_code(tmp_path / "out")
    assert tree(warm.directory) == {"flow.py": b"two"}
    assert warm.bytes < len(base.blob), "the base layer was downloaded again"


def test_another_tag_of_the_repository_is_the_next_version_of_the_same_checkout(
    pusher: RawPusher, repository: str, image: MakeImage, tmp_path: Path
) -> None:
    base = busybox_layer()
    for tag, text in (("v1", b"one"), ("v2", b"two")):
        code = layer({"app/flow.py": text})
        pusher.image(repository, tag, [base, code], config_for([base, code], workdir="/app"))
    image("v1").pull_code(tmp_path / "out")
    second = image("v2").pull_code(tmp_path / "out")
    assert tree(tmp_path / "out") == {"flow.py": b"two"}
    assert second.bytes < len(base.blob), "the base layer was downloaded again"


def test_another_repository_or_folder_in_the_destination_is_refused(
    pusher: RawPusher,
    oci_registry: RegistryServer,
    credentials: DockerRegistryCredentials,
    repository: str,
    image: MakeImage,
    tmp_path: Path,
) -> None:
    code = layer({"app/flow.py": b"flow", "srv/other.py": b"other"})
    for name in (repository, f"{repository}-other"):
        pusher.image(name, "v1", [code], config_for([code], workdir="/app"))
    image().pull_code(tmp_path / "out")
    other = OciImage(image=oci_registry.image(f"{repository}-other"), credentials=credentials)
    for storage in (other, image(path="/srv")):
        with pytest.raises(PullError, match="replace"):
            storage.pull_code(tmp_path / "out")
    assert tree(tmp_path / "out") == {"flow.py": b"flow"}


def test_unchanged_tag_costs_one_manifest_request(
    pusher: RawPusher,
    repository: str,
    image: MakeImage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code = layer({"app/flow.py": b"flow"})
    pusher.image(repository, "v1", [code], config_for([code], workdir="/app"))
    storage = image()
    storage.pull_code(tmp_path / "out")
    sent: list[str] = []
    real_send = httpx.Client.send

    def counting_send(
        self: httpx.Client, request: httpx.Request, **kwargs: object
    ) -> httpx.Response:
        sent.append(f"{request.method} {request.url.path}")
        return real_send(self, request, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(httpx.Client, "send", counting_send)
    again = storage.pull_code(tmp_path / "out")
    assert not again.changed
    assert sent == [f"GET /v2/{repository}/manifests/v1"]


def test_a_digest_reference_pins_the_image_and_needs_no_request_when_pulled_again(
    pusher: RawPusher,
    oci_registry: RegistryServer,
    credentials: DockerRegistryCredentials,
    repository: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    one = layer({"app/flow.py": b"one"})
    digest = pusher.image(repository, "v1", [one], config_for([one], workdir="/app"))
    two = layer({"app/flow.py": b"two"})
    pusher.image(repository, "v1", [two], config_for([two], workdir="/app"))
    storage = OciImage(image=f"{oci_registry.host}/{repository}@{digest}", credentials=credentials)
    first = storage.pull_code(tmp_path / "out")
    assert tree(first.directory) == {"flow.py": b"one"}
    assert first.version == digest
    monkeypatch.setattr(httpx.Client, "send", lambda *_a, **_k: pytest.fail("a request was sent"))
    assert not storage.pull_code(tmp_path / "out").changed


def test_the_platform_is_picked_from_an_index(
    pusher: RawPusher, repository: str, image: MakeImage, tmp_path: Path
) -> None:
    amd = layer({"app/arch.txt": b"amd64"})
    arm = layer({"app/arch.txt": b"arm64"})
    amd_digest = pusher.image(repository, "amd", [amd], config_for([amd], workdir="/app"))
    arm_digest = pusher.image(repository, "arm", [arm], config_for([arm], workdir="/app"))
    pusher.index(repository, "multi", [(arm_digest, "linux/arm64"), (amd_digest, "linux/amd64")])
    assert tree(image("multi").pull_code(tmp_path / "a").directory) == {"arch.txt": b"amd64"}
    assert tree(image("multi", platform="linux/arm64").pull_code(tmp_path / "b").directory) == {
        "arch.txt": b"arm64"
    }
    with pytest.raises(PullError, match=r"no image for platform linux/s390x .*linux/amd64"):
        image("multi", platform="linux/s390x").pull_code(tmp_path / "c")


def test_docker_schema_2_images_are_read(
    pusher: RawPusher, repository: str, image: MakeImage, tmp_path: Path
) -> None:
    code = layer({"srv/code/flow.py": b"flow"})
    pusher.image(repository, "v1", [code], config_for([code], workdir="/srv/code"), docker=True)
    assert tree(image().pull_code(tmp_path / "out").directory) == {"flow.py": b"flow"}


def test_a_given_path_overrides_the_working_directory(
    pusher: RawPusher, repository: str, image: MakeImage, tmp_path: Path
) -> None:
    code = layer({"app/flow.py": b"flow", "etc/conf/settings.toml": b"x = 1"})
    pusher.image(repository, "v1", [code], config_for([code], workdir="/app"))
    assert tree(image(path="/etc/conf").pull_code(tmp_path / "out").directory) == {
        "settings.toml": b"x = 1"
    }


def test_symlinks_inside_the_folder_are_kept_and_absolute_ones_made_relative(
    pusher: RawPusher, repository: str, image: MakeImage, tmp_path: Path
) -> None:
    code = layer(
        {"app/lib/real.py": b"real"},
        extra=[
            (member("app/alias.py", kind=tarfile.SYMTYPE, link="lib/real.py"), b""),
            (member("app/absolute.py", kind=tarfile.SYMTYPE, link="/app/lib/real.py"), b""),
        ],
    )
    pusher.image(repository, "v1", [code], config_for([code], workdir="/app"))
    directory = image().pull_code(tmp_path / "out").directory
    assert (directory / "alias.py").read_bytes() == b"real"
    assert (directory / "absolute.py").readlink() == Path("lib/real.py")


@pytest.mark.parametrize(
    ("hostile", "message"),
    [
        (member("app/evil", kind=tarfile.SYMTYPE, link="../../etc/passwd"), "symbolic link"),
        (member("app/evil", kind=tarfile.SYMTYPE, link="/etc/passwd"), "symbolic link"),
        (member("app/sub/evil", kind=tarfile.SYMTYPE, link="x/../../.."), "symbolic link"),
        (member("app/evil", kind=tarfile.LNKTYPE, link="etc/passwd"), "hard link"),
        (member("app/dev", kind=tarfile.CHRTYPE), "device"),
        (member("app/../escaped.py", b"x"), "'..'"),
        (member("/escaped.py", b"x"), "absolute"),
    ],
)
def test_hostile_layers_are_refused_naming_the_image(
    pusher: RawPusher,
    repository: str,
    image: MakeImage,
    tmp_path: Path,
    hostile: tarfile.TarInfo,
    message: str,
) -> None:
    data = b"x" * hostile.size
    code = layer({"app/flow.py": b"flow"}, extra=[(hostile, data)])
    pusher.image(repository, "v1", [code], config_for([code], workdir="/app"))
    with pytest.raises(UnsafePathError, match=message) as caught:
        image().pull_code(tmp_path / "out")
    assert repository in str(caught.value)
    assert not (tmp_path / "escaped.py").exists()
    assert not (tmp_path / "out").exists()


def test_writing_through_a_symlink_in_the_layer_is_refused(
    pusher: RawPusher, repository: str, image: MakeImage, tmp_path: Path
) -> None:
    code = layer(
        extra=[
            (member("app/link", kind=tarfile.SYMTYPE, link="."), b""),
            (member("app/link/flow.py", b"x"), b"x"),
        ]
    )
    pusher.image(repository, "v1", [code], config_for([code], workdir="/app"))
    with pytest.raises(UnsafePathError, match="goes through a symbolic link"):
        image().pull_code(tmp_path / "out")


@pytest.mark.parametrize(
    "conflict",
    [
        [member("app/pkg", b"a file"), member("app/pkg/mod.py", b"x")],
        [member("app/pkg", kind=tarfile.DIRTYPE), member("app/pkg", b"a file")],
        [member("app/pkg", b"a file"), member("app/pkg", kind=tarfile.DIRTYPE)],
    ],
    ids=["file-then-child", "folder-then-file", "file-then-folder"],
)
def test_members_of_one_layer_that_conflict_are_one_clear_error(
    pusher: RawPusher,
    repository: str,
    image: MakeImage,
    tmp_path: Path,
    conflict: list[tarfile.TarInfo],
) -> None:
    good = layer({"app/flow.py": b"flow"})
    pusher.image(repository, "v1", [good], config_for([good], workdir="/app"))
    image().pull_code(tmp_path / "out")
    code = layer({"app/flow.py": b"flow 2"}, extra=[(info, b"x" * info.size) for info in conflict])
    pusher.image(repository, "v1", [code], config_for([code], workdir="/app"))
    with pytest.raises(UnsafePathError, match=r"'app/pkg.*' is both a file and a folder") as caught:
        image().pull_code(tmp_path / "out")
    assert repository in str(caught.value)
    assert "\n" not in str(caught.value)
    assert tree(tmp_path / "out") == {"flow.py": b"flow"}


def test_wrong_password_is_a_one_line_error_without_the_password(
    oci_registry: RegistryServer, repository: str, tmp_path: Path
) -> None:
    wrong = DockerRegistryCredentials(
        username="ciuser", password="hunter2-wrong", registry_url=oci_registry.url
    )
    with pytest.raises(PullError) as caught:
        OciImage(image=oci_registry.image(repository), credentials=wrong).pull_code(
            tmp_path / "out"
        )
    text = str(caught.value)
    assert "credentials were refused" in text
    assert "\n" not in text
    assert "hunter2" not in text
    assert "hunter2" not in repr(wrong)


def test_missing_credentials_say_a_block_is_needed(
    oci_registry: RegistryServer, repository: str, tmp_path: Path
) -> None:
    with pytest.raises(PullError, match="needs credentials"):
        OciImage(image=oci_registry.image(repository)).pull_code(tmp_path / "out")


def test_a_missing_tag_is_named(
    pusher: RawPusher, repository: str, image: MakeImage, tmp_path: Path
) -> None:
    code = layer({"app/flow.py": b"flow"})
    pusher.image(repository, "v1", [code], config_for([code], workdir="/app"))
    with pytest.raises(
        PullError, match=rf"manifest of .*{repository}:nope.*not found.*MANIFEST_UNKNOWN"
    ):
        image("nope").pull_code(tmp_path / "out")


def test_a_manifest_of_an_unsupported_type_is_refused(
    pusher: RawPusher, repository: str, image: MakeImage, tmp_path: Path
) -> None:
    config = b"{}"
    pusher.blob(repository, config)
    artifact = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.acme.helm.config+json",
            "digest": pusher.blob(repository, config),
            "size": 2,
        },
        "layers": [],
    }
    pusher.manifest(
        repository,
        "chart",
        json.dumps(artifact).encode(),
        "application/vnd.oci.image.manifest.v1+json",
    )
    with pytest.raises(PullError, match="is not a container image"):
        image("chart").pull_code(tmp_path / "out")


def test_an_image_without_working_directory_needs_a_path(
    pusher: RawPusher, repository: str, image: MakeImage, tmp_path: Path
) -> None:
    code = layer({"app/flow.py": b"flow"})
    pusher.image(repository, "v1", [code], config_for([code]))
    with pytest.raises(
        PullError, match="sets no working directory; give the folder to pull as `path`"
    ):
        image().pull_code(tmp_path / "out")


def test_a_folder_missing_from_the_image_is_named(
    pusher: RawPusher, repository: str, image: MakeImage, tmp_path: Path
) -> None:
    code = layer({"app/flow.py": b"flow"})
    pusher.image(repository, "v1", [code], config_for([code], workdir="/app"))
    with pytest.raises(PullError, match="has no folder /srv"):
        image(path="/srv").pull_code(tmp_path / "out")


def test_docker_and_oci_sources_are_claimed_by_the_plugin(
    docker_plugins: Plugins, oci_registry: RegistryServer
) -> None:
    storage = docker_plugins.storage_from_source(
        f"oci://{oci_registry.host}/flows/app:v2?path=/opt/flows"
    )
    assert isinstance(storage, OciImage)
    assert str(storage) == f"docker://{oci_registry.host}/flows/app:v2?path=/opt/flows"
    assert storage.to_pull_step() == {
        "codeferry_docker.steps.pull_from_image": {
            "image": f"{oci_registry.host}/flows/app:v2",
            "path": "/opt/flows",
        }
    }


def test_a_malformed_source_is_a_one_line_error(docker_plugins: Plugins) -> None:
    with pytest.raises(CodeferryError, match="invalid repository"):
        docker_plugins.storage_from_source("docker://127.0.0.1:5000/Flows:v1")
    with pytest.raises(CodeferryError, match="carries credentials"):
        docker_plugins.storage_from_source("docker://me:secret@127.0.0.1:5000/flows:v1")
