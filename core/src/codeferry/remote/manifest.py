"""The manifest ``push_code`` writes beside the code: every file's size and SHA-256.

It identifies the version pushed (the hash of its entries, so pushing the same tree twice gives
the same version) and lets a pull check each file it downloads end to end. Its format::

    {"format": "codeferry-manifest/1", "version": "<sha256>",
     "files": {"flows/etl.py": {"size": 1234, "sha256": "<hex>", "md5": "<hex>"}}}
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codeferry.remote.listing import RemoteFile

__all__ = ["MANIFEST_FORMAT", "MANIFEST_NAME", "Manifest", "ManifestEntry"]

MANIFEST_FORMAT = "codeferry-manifest/1"
MANIFEST_NAME = ".codeferry-manifest.json"
"""The file a push writes at the top of the folder it pushed to; never part of a pulled tree."""
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ManifestEntry:
    """One pushed file: its size, SHA-256 and MD5 (hex)."""

    size: int
    sha256: str
    md5: str | None = None

    @classmethod
    def of_file(cls, path: Path) -> ManifestEntry:
        """The entry for the local file ``path`` (read once for both hashes)."""
        sha256, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
        with path.open("rb") as reader:
            while chunk := reader.read(_CHUNK):
                sha256.update(chunk)
                md5.update(chunk)
                size += len(chunk)
        return cls(size, sha256.hexdigest(), md5.hexdigest())

    def describes(self, remote: RemoteFile) -> bool:
        """Whether ``remote`` can be this file: same size, and same MD5 where both are known."""
        if remote.size != self.size:
            return False
        return remote.md5 is None or self.md5 is None or remote.md5 == self.md5


@dataclass(frozen=True)
class Manifest:
    """The files of one pushed version, by ``/``-separated path inside the folder."""

    files: Mapping[str, ManifestEntry]

    @classmethod
    def of_files(cls, files: Mapping[str, Path]) -> Manifest:
        """The manifest of local ``files`` (by path inside the folder), hashed in parallel.

        :raises OSError: when a file cannot be read.
        """
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            entries = pool.map(ManifestEntry.of_file, files.values())
            return cls(dict(zip(files, entries, strict=True)))

    def stale(self, kept: Collection[str]) -> list[str]:
        """The paths this manifest (of the previous push) lists that are not ``kept``, sorted.

        The one deletion rule of every push: a push removes only what the previous push wrote
        and the new one does not send; files someone else put beside them stay.
        """
        return sorted(path for path in self.files if path not in kept)

    @property
    def version(self) -> str:
        """The SHA-256 of the sorted paths, sizes and content hashes."""
        digest = hashlib.sha256()
        for path in sorted(self.files):
            entry = self.files[path]
            digest.update(f"{path}\0{entry.size}\0{entry.sha256}\n".encode())
        return digest.hexdigest()

    def matches(self, listing: Mapping[str, RemoteFile]) -> bool:
        """Whether ``listing`` holds exactly this manifest's files (so its version applies)."""
        return listing.keys() == self.files.keys() and all(
            self.files[path].describes(remote) for path, remote in listing.items()
        )

    def to_bytes(self) -> bytes:
        document = {
            "format": MANIFEST_FORMAT,
            "version": self.version,
            "files": {
                path: {"size": entry.size, "sha256": entry.sha256, "md5": entry.md5}
                for path, entry in sorted(self.files.items())
            },
        }
        return json.dumps(document, indent=1, sort_keys=True).encode()

    @classmethod
    def parse(cls, data: bytes) -> Manifest:
        """Read a manifest.

        :raises ValueError: when ``data`` is not a manifest of a known format.
        """
        try:
            document = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"not JSON: {error}") from None
        if not isinstance(document, dict) or document.get("format") != MANIFEST_FORMAT:
            raise ValueError("not a codeferry manifest (unknown format)")
        raw_files = document.get("files")
        if not isinstance(raw_files, dict):
            raise ValueError("its 'files' is not an object")
        files: dict[str, ManifestEntry] = {}
        for path, raw in raw_files.items():
            if not (
                isinstance(raw, dict)
                and isinstance(raw.get("size"), int)
                and isinstance(raw.get("sha256"), str)
                and isinstance(raw.get("md5"), str | None)
            ):
                raise ValueError(f"its entry for {path!r} is malformed")
            files[str(path)] = ManifestEntry(raw["size"], raw["sha256"], raw.get("md5"))
        return cls(files)
