"""Publishing a project as a code layer on a base image, through the distribution API alone."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeferry.errors import CodeferryError
from codeferry.progress import TransferProgress
from codeferry_docker.code_layer import build_layer, image_config_with_layer, manifest_with_layer
from codeferry_docker.manifests import sha256_digest
from codeferry_docker.registry import RegistryClient
from codeferry_docker.storage import resolve_platform

if TYPE_CHECKING:
    from codeferry_docker.credentials import DockerRegistryCredentials
    from codeferry_docker.references import ImageReference

__all__ = ["PublishedImage", "publish_code_layer"]


@dataclass(frozen=True)
class PublishedImage:
    """An image pushed by :func:`publish_code_layer`, and what the push moved."""

    reference: ImageReference
    digest: str
    layer_digest: str
    layer_size: int
    files: int
    bytes_uploaded: int
    blobs_uploaded: int
    blobs_mounted: int
    blobs_present: int

    def as_outputs(self) -> dict[str, Any]:
        return {
            "image_name": self.reference.name,
            "tag": self.reference.tag,
            "image": f"{self.reference.name}:{self.reference.tag}",
            "digest": self.digest,
            "image_with_digest": f"{self.reference.name}@{self.digest}",
            "layer_digest": self.layer_digest,
            "layer_size": self.layer_size,
            "files": self.files,
            "bytes_uploaded": self.bytes_uploaded,
            "blobs_uploaded": self.blobs_uploaded,
            "blobs_mounted": self.blobs_mounted,
            "blobs_present": self.blobs_present,
        }


def publish_code_layer(
    base: ImageReference,
    target: ImageReference,
    directory: Path,
    *,
    workdir: str = "/opt/flows",
    env: Mapping[str, str] | None = None,
    credentials: DockerRegistryCredentials | None = None,
    base_credentials: DockerRegistryCredentials | None = None,
    ignore_files: Iterable[str] = (".dockerignore",),
    platform: str = "linux/amd64",
    insecure: bool | None = None,
    tag_from_content: bool = False,
) -> PublishedImage:
    """Build the project's layer on ``base`` and push the image as ``target``.

    Only the new layer, the config and the manifest are uploaded when the target repository
    already holds the base layers or can mount them from the base's repository.
    """
    same_registry = base.registry == target.registry
    with contextlib.ExitStack() as stack:
        push = stack.enter_context(
            RegistryClient.for_reference(target, credentials, insecure=insecure)
        )
        pull = (
            push
            if same_registry and base_credentials is None
            else stack.enter_context(
                RegistryClient.for_reference(
                    base, base_credentials or credentials, insecure=insecure
                )
            )
        )
        progress = stack.enter_context(TransferProgress(f"push {target}", unit="blobs"))
        push.transfer.progress = pull.transfer.progress = progress
        top = pull.get_manifest(base.repository, base.reference, where=str(base))
        manifest = resolve_platform(pull, base, top, platform)
        base_config = json.loads(pull.get_blob(base.repository, manifest.config.digest))
        workspace = Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="codeferry-layer-"))
        )
        layer = build_layer(
            directory, workdir, workspace / "layer.tar.gz", ignore_files=ignore_files
        )
        if tag_from_content:
            target = target.with_tag(f"code-{layer.diff_id.split(':')[1][:12]}")
        config = image_config_with_layer(base_config, layer, workdir, env or {})
        body = manifest_with_layer(manifest, config, layer)
        counts = {"uploaded": 0, "mounted": 0, "present": 0}
        # The base's layers are mostly there or mounted already: the code layer is what moves.
        progress.expect(
            files=len(manifest.layers) + 2, total_bytes=progress.bytes_done + layer.size
        )
        for descriptor in manifest.layers:
            _copy_blob(
                pull,
                push,
                base=base,
                target=target,
                digest=descriptor.digest,
                same_registry=same_registry,
                workspace=workspace,
                counts=counts,
            )
            progress.file_done()
        for digest, content in ((layer.digest, layer.path), (sha256_digest(config), config)):
            if push.blob_exists(target.repository, digest):
                counts["present"] += 1
            else:
                push.upload_blob(target.repository, digest, content)
                counts["uploaded"] += 1
            progress.file_done()
        digest = push.put_manifest(
            target.repository, target.tag or "latest", body, manifest.media_type
        )
        return PublishedImage(
            reference=target.with_tag(target.tag or "latest"),
            digest=digest,
            layer_digest=layer.digest,
            layer_size=layer.size,
            files=layer.files,
            bytes_uploaded=push.transfer.uploaded,
            blobs_uploaded=counts["uploaded"],
            blobs_mounted=counts["mounted"],
            blobs_present=counts["present"],
        )
    raise CodeferryError("unreachable")  # pragma: no cover - the with block always returns


def _copy_blob(
    pull: RegistryClient,
    push: RegistryClient,
    *,
    base: ImageReference,
    target: ImageReference,
    digest: str,
    same_registry: bool,
    workspace: Path,
    counts: dict[str, int],
) -> None:
    """Make ``digest`` present in the target repository, moving as little as possible."""
    if push.blob_exists(target.repository, digest):
        counts["present"] += 1
        return
    upload_url = None
    if same_registry:
        upload_url = push.mount_blob(target.repository, digest, base.repository)
        if upload_url is None:
            counts["mounted"] += 1
            return
    spool = workspace / digest.replace(":", "-")
    with pull.open_blob(base.repository, digest) as blob, spool.open("wb") as writer:
        while chunk := blob.read(1 << 20):
            writer.write(chunk)
        blob.verify()
    push.upload_blob(target.repository, digest, spool, upload_url=upload_url)
    spool.unlink()
    counts["uploaded"] += 1
