"""Code pulled out of images whose layers are zstd-compressed (``tar+zstd``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from codeferry.errors import UnsafePathError
from codeferry_docker.storage import OciImage
from tests.docker.checks import pulled_files, skopeo
from tests.docker.images import (
    OCI_LAYER_ZSTD,
    Layer,
    RawPusher,
    config_for,
    digest_of,
    layer,
    plain_tar,
    zstd_layer,
)
from tests.servers.registry import RegistryServer

FILES = {
    "app/flow.py": b"def main():\n    return 1\n",
    "app/pkg/helpers.py": b"X = 1\n" * 5000,
    "app/data/table.csv": bytes(range(256)) * 400,
}


@pytest.fixture(scope="module")
def open_pusher(open_registry: RegistryServer) -> Iterator[RawPusher]:
    pusher = RawPusher(open_registry.url)
    yield pusher
    pusher.close()


def layer_types(registry: RegistryServer, repository: str, tag: str) -> list[str]:
    manifest = httpx.get(
        f"{registry.url}/v2/{repository}/manifests/{tag}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    ).json()
    return [each["mediaType"] for each in manifest["layers"]]


def test_an_image_recompressed_to_zstd_by_skopeo_gives_the_same_code(
    open_registry: RegistryServer, open_pusher: RawPusher, tmp_path: Path
) -> None:
    code = layer(FILES)
    open_pusher.image("zstd/source", "v1", [code], config_for([code], workdir="/app"))
    skopeo(
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--dest-compress-format=zstd",
        f"docker://{open_registry.image('zstd/source', 'v1')}",
        f"docker://{open_registry.image('zstd/copied', 'v1')}",
    )
    assert layer_types(open_registry, "zstd/copied", "v1") == [OCI_LAYER_ZSTD]
    pulled = OciImage(image=open_registry.image("zstd/copied", "v1")).pull_code(tmp_path / "out")
    assert pulled_files(pulled.directory) == FILES


def test_a_zstd_layer_of_several_frames_and_a_skippable_one_is_read_whole(
    open_registry: RegistryServer, open_pusher: RawPusher, tmp_path: Path
) -> None:
    code = zstd_layer(FILES, frames=3, skippable=True)
    open_pusher.image("zstd/frames", "v1", [code], config_for([code], workdir="/app"))
    pulled = OciImage(image=open_registry.image("zstd/frames", "v1")).pull_code(tmp_path / "out")
    assert pulled_files(pulled.directory) == FILES


def test_zstd_and_gzip_layers_stack_with_the_upper_one_winning(
    open_registry: RegistryServer, open_pusher: RawPusher, tmp_path: Path
) -> None:
    lower = layer({"app/flow.py": b"old\n", "app/kept.py": b"kept\n"})
    upper = zstd_layer({"app/flow.py": b"new\n"})
    open_pusher.image(
        "zstd/stack", "v1", [lower, upper], config_for([lower, upper], workdir="/app")
    )
    pulled = OciImage(image=open_registry.image("zstd/stack", "v1")).pull_code(tmp_path / "out")
    assert pulled_files(pulled.directory) == {"app/flow.py": b"new\n", "app/kept.py": b"kept\n"}


def test_a_layer_that_is_not_zstd_is_a_clean_error(
    open_registry: RegistryServer, open_pusher: RawPusher, tmp_path: Path
) -> None:
    raw = plain_tar(FILES)
    broken = Layer(b"\x28\xb5\x2f\xfd" + b"not zstd at all" * 10, digest_of(raw), OCI_LAYER_ZSTD)
    open_pusher.image("zstd/broken", "v1", [broken], config_for([broken], workdir="/app"))
    with pytest.raises(UnsafePathError, match="invalid zstd data") as caught:
        OciImage(image=open_registry.image("zstd/broken", "v1")).pull_code(tmp_path / "out")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "out").exists()
