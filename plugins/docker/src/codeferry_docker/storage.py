"""Code that lives in a container image, pulled onto a plain worker without running the image."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qsl, urlencode

from pydantic import Field, field_validator

from codeferry.blocks import Block
from codeferry.errors import CodeferryError, PullError, UnsafePathError
from codeferry.progress import TransferProgress
from codeferry.storage import CodeStorage, FetchResult, PullContext
from codeferry_docker.credentials import DockerRegistryCredentials  # noqa: TC001 - a field type
from codeferry_docker.layers import FolderUnpacker, member_parts, tar_stream
from codeferry_docker.manifests import ImageIndex, ImageManifest, json_object, layer_compression
from codeferry_docker.references import ImageReference, parse_reference

if TYPE_CHECKING:
    from codeferry_docker.registry import RegistryClient

__all__ = ["DEFAULT_PLATFORM", "OciImage", "image_folder"]

DEFAULT_PLATFORM = "linux/amd64"


class OciImage(CodeStorage, Block):
    """A folder of a container image in a registry: its working directory, or a given path.

    Pulling downloads the image's manifest and only the layers that hold the folder, and unpacks
    the folder with whiteouts applied; no container engine is needed. The version is the image
    manifest's digest, so an unchanged tag moves nothing but one manifest request.
    """

    block_type_slug: ClassVar[str] = "oci-image"
    block_type_name: ClassVar[str] = "OCI Image"

    image: str = Field(description="The image: REGISTRY/REPOSITORY:TAG or ...@sha256:DIGEST.")
    path: str | None = Field(
        default=None, description="The folder in the image (default: its working directory)."
    )
    platform: str = Field(
        default=DEFAULT_PLATFORM, description="The platform picked from a multi-platform image."
    )
    credentials: DockerRegistryCredentials | None = Field(
        default=None,
        description="Credentials for the registry, when it needs them (default: the login "
        "Docker's config file gives for it, as docker login saved it).",
    )
    insecure: bool | None = Field(
        default=None,
        description="Speak plain HTTP to the registry (default: only for localhost registries).",
    )

    @field_validator("image")
    @classmethod
    def _valid_reference(cls, value: str) -> str:
        return str(parse_reference(value))

    @field_validator("path")
    @classmethod
    def _valid_path(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return "/" + "/".join(member_parts(value.lstrip("/"), "path"))

    @classmethod
    def from_source(cls, source: str) -> OciImage:
        """``docker://REF`` or ``oci://REF``, optionally ``?path=/app&platform=linux/arm64``."""
        reference, _, query = source.partition("?")
        options = dict(parse_qsl(query))
        unknown = set(options) - {"path", "platform"}
        if unknown:
            raise CodeferryError(
                f"image source {reference!r} has unknown options: {', '.join(sorted(unknown))} "
                "(known: path, platform)"
            )
        parse_reference(reference)  # a malformed reference is a one-line error, not a pydantic one
        if options.get("path"):
            member_parts(options["path"].lstrip("/"), f"image source {reference!r}")
        return cls(
            image=reference,
            path=options.get("path"),
            platform=options.get("platform", DEFAULT_PLATFORM),
        )

    @property
    def reference(self) -> ImageReference:
        return parse_reference(self.image)

    def __str__(self) -> str:
        options = {}
        if self.path:
            options["path"] = self.path
        if self.platform != DEFAULT_PLATFORM:
            options["platform"] = self.platform
        query = f"?{urlencode(options, safe='/')}" if options else ""
        return f"docker://{self.reference}{query}"

    def checkout_key(self) -> str:
        # The tag and digest are left out, as a git pull leaves out the branch: the next release
        # of the repository is the next version of the same checkout, and reuses its layers.
        return f"oci {self.reference.name} path={self.path or ''} platform={self.platform}"

    def to_pull_step(self) -> dict[str, dict[str, Any]]:
        arguments: dict[str, Any] = {"image": str(self.reference)}
        if self.path:
            arguments["path"] = self.path
        if self.platform != DEFAULT_PLATFORM:
            arguments["platform"] = self.platform
        if self.insecure is not None:
            arguments["insecure"] = self.insecure
        if self.credentials is not None and self.credentials.block_name:
            arguments["credentials"] = (
                f"{{{{ blocks.{self.credentials.block_type_slug}.{self.credentials.block_name} }}}}"
            )
        return {"codeferry_docker.steps.pull_from_image": arguments}

    def client(self) -> RegistryClient:
        """A client of this image's registry, with the credentials that are for it."""
        from codeferry_docker.registry import RegistryClient  # httpx: only when talking to one

        return RegistryClient.for_reference(
            self.reference, self.credentials, insecure=self.insecure
        )

    def fetch(self, context: PullContext) -> FetchResult:
        try:
            return self._fetch(context)
        except UnsafePathError:
            raise
        except PullError:
            raise
        except CodeferryError as error:
            raise PullError(str(error)) from None

    def _fetch(self, context: PullContext) -> FetchResult:
        reference = self.reference
        where = str(reference)
        before = context.previous_state
        if (
            context.previous is not None
            and reference.digest
            and before.get("reference") == reference.digest
        ):
            return context.unchanged()  # content-addressed: nothing to ask
        with (
            self.client() as client,
            TransferProgress(f"pull {self}", unit="layers") as progress,
        ):
            client.transfer.progress = progress
            top = client.get_manifest(reference.repository, reference.reference, where=where)
            if context.previous is not None and before.get("reference") == top.digest:
                return context.unchanged()
            manifest = resolve_platform(client, reference, top, self.platform)
            config = _image_config(client, reference, manifest)
            folder = image_folder(self.path, config, where)
            unpacker = FolderUnpacker(
                context, folder, where, previous_files=dict(before.get("files", {}))
            )
            cache = _LayerCache(context.cache_dir, folder)
            wanted = [layer for layer in manifest.layers if not cache.irrelevant(layer.digest)]
            # The config is counted already; the layers read are at most these.
            progress.expect(
                files=len(wanted),
                total_bytes=progress.bytes_done + sum(layer.size for layer in wanted),
            )
            layers_read = 0
            for layer in reversed(wanted):
                compression = layer_compression(layer, where)  # refuses unknown layer types
                with client.open_blob(reference.repository, layer.digest) as blob:
                    touched = unpacker.apply(tar_stream(blob, compression))
                    blob.verify()
                layers_read += 1
                progress.file_done()
                if not touched:
                    cache.mark_irrelevant(layer.digest)
                if unpacker.complete:
                    break
            if not unpacker.found:
                raise PullError(f"image {where} has no folder {unpacker.folder_text}")
            downloaded = client.transfer.downloaded
        return FetchResult(
            version=manifest.digest,
            files=unpacker.written,
            bytes=downloaded,
            state={
                "reference": top.digest,
                "manifest": manifest.digest,
                "folder": unpacker.folder_text,
                "layers_read": layers_read,
                "files": unpacker.files,
            },
        )


def resolve_platform(
    client: RegistryClient,
    reference: ImageReference,
    top: ImageManifest | ImageIndex,
    platform: str,
) -> ImageManifest:
    """The image manifest for ``platform``: ``top`` itself, or its entry in an index."""
    if isinstance(top, ImageManifest):
        return top
    entry = top.select(platform, str(reference))
    manifest = client.get_manifest(reference.repository, entry.digest, where=str(reference))
    if not isinstance(manifest, ImageManifest):
        raise PullError(f"image {reference}: an index entry for {platform} is itself an index")
    return manifest


def _image_config(
    client: RegistryClient, reference: ImageReference, manifest: ImageManifest
) -> dict[str, Any]:
    raw = client.get_blob(reference.repository, manifest.config.digest)
    return json_object(raw, f"image {reference}: its config", PullError)


def image_folder(path: str | None, config: dict[str, Any], where: str) -> tuple[str, ...]:
    """The folder to unpack: ``path``, else the image's working directory.

    :raises PullError: when neither is set (the image root is never taken by default).
    """
    if path is None:
        inner = config.get("config") or {}
        path = str(inner.get("WorkingDir") or "") if isinstance(inner, dict) else ""
        if not path or path == "/":
            raise PullError(
                f"image {where} sets no working directory; give the folder to pull as `path`"
            )
    return member_parts(path.lstrip("/"), where) if path.strip("/") else ()


class _LayerCache:
    """Which layers held nothing of a folder, remembered by digest so warm pulls skip them."""

    def __init__(self, cache_dir: Path, folder: tuple[str, ...]) -> None:
        self._dir = cache_dir / "layers"
        self._key = hashlib.sha256("/".join(folder).encode()).hexdigest()[:16]

    def _file(self, digest: str) -> Path:
        return self._dir / f"{digest.replace(':', '-')}-{self._key}.json"

    def irrelevant(self, digest: str) -> bool:
        return self._file(digest).is_file()

    def mark_irrelevant(self, digest: str) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        self._file(digest).write_text(json.dumps({"digest": digest, "touches_folder": False}))
