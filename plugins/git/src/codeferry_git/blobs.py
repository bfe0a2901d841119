"""Reading blobs out of a git object store in pieces, so a file is written without holding it whole.

A blob stored whole is a zlib stream: a loose object (``blob <size>\\0`` then the content) or an
undeltified pack entry (a type-and-size header, then the content). :meth:`BlobReader.locate` finds
where that stream starts and :meth:`BlobReader.chunks` inflates it at most :data:`CHUNK` bytes at a
time, so memory does not grow with the file.

A deltified pack entry is rebuilt by dulwich in memory (base, delta and result: up to about three
times the blob's size). git stores files larger than ``core.bigFileThreshold`` (512 MiB by
default) undeltified, so only smaller files take that path.
"""

from __future__ import annotations

import os
import threading
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from codeferry_git.object_ids import object_id

if TYPE_CHECKING:
    from collections.abc import Iterator

    from dulwich.object_store import BaseObjectStore

__all__ = ["CHUNK", "BlobLocation", "BlobReader", "CorruptObjectError"]

CHUNK = 1 << 20
"""The most bytes of a blob :func:`read_chunks` holds at once."""

_BLOB = 3
_PACK_TYPES = frozenset(range(1, 5))  # commit, tree, blob, tag; 6 and 7 are deltas
_READ = 1 << 18
_HEADER_READ = 64


class CorruptObjectError(ValueError):
    """An object's stored bytes do not inflate to what its header says."""


@dataclass(frozen=True)
class BlobLocation:
    """Where a blob is stored whole: the file, where its zlib stream starts, its size.

    ``skip`` is how many inflated bytes come before the content (a loose object's header).
    """

    file: str
    offset: int
    size: int
    skip: int = 0


class BlobReader:
    """Reads blobs of ``store`` in pieces; a context manager (it keeps its pack files open).

    Safe to use from several threads: pack files are read with ``pread``.
    """

    def __init__(self, store: BaseObjectStore) -> None:
        self._store = store
        self._files: dict[str, int] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            for descriptor in self._files.values():
                os.close(descriptor)
            self._files.clear()

    def locate(self, sha: str) -> BlobLocation | None:
        """Where blob ``sha`` is stored whole; ``None`` when it is deltified (read it whole).

        :raises KeyError: the store has no such object.
        :raises ValueError: the object is not a blob.
        """
        raw = bytes.fromhex(sha)
        for pack in getattr(self._store, "packs", ()):
            try:
                offset = pack.index.object_offset(raw)
            except KeyError:
                continue
            folder = getattr(self._store, "pack_dir", "")  # the name dulwich gives is a basename
            return self._in_pack(os.path.join(folder, pack.data.filename), offset, sha)  # noqa: PTH118
        root = getattr(self._store, "path", None)
        if root is not None:
            path = os.path.join(os.fspath(root), sha[:2], sha[2:])  # noqa: PTH118 - per blob
            if os.path.exists(path):  # noqa: PTH110
                return _loose(path, sha)
        if object_id(sha) in self._store:
            return None  # a store that keeps its objects elsewhere (in memory)
        raise KeyError(sha)

    def chunks(self, location: BlobLocation) -> Iterator[bytes]:
        """The blob's content, at most :data:`CHUNK` bytes at a time.

        :raises CorruptObjectError: the stream ends early, or holds more than the header says.
        """
        descriptor = self._descriptor(location.file)
        inflater = zlib.decompressobj()
        position = location.offset
        to_skip, left = location.skip, location.size
        # The first read is sized for the blob (deflate barely grows stored data), so a small
        # file costs one small read.
        want = min(_READ, location.skip + location.size + location.size // 1000 + 64)
        pending = b""
        while pending or not inflater.eof:
            if not pending:
                pending = os.pread(descriptor, want, position)
                position, want = position + len(pending), _READ
                if not pending:
                    raise CorruptObjectError(f"an object in {location.file} ends early")
            try:
                data = inflater.decompress(pending, CHUNK)
            except zlib.error as error:
                raise CorruptObjectError(f"an object in {location.file}: {error}") from None
            pending = inflater.unconsumed_tail
            if inflater.eof:
                pending = b""  # what follows the stream is the next entry
            if to_skip:
                cut = min(to_skip, len(data))
                data, to_skip = data[cut:], to_skip - cut
            if len(data) > left:
                raise CorruptObjectError(f"an object in {location.file} is longer than its header")
            left -= len(data)
            if data:
                yield data
        if left or to_skip:
            raise CorruptObjectError(f"an object in {location.file} is shorter than its header")

    def _descriptor(self, file: str) -> int:
        with self._lock:
            descriptor = self._files.get(file)
            if descriptor is None:
                descriptor = os.open(file, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
                self._files[file] = descriptor
            return descriptor

    def _in_pack(self, file: str, offset: int, sha: str) -> BlobLocation | None:
        header = os.pread(self._descriptor(file), 16, offset)
        if not header:
            raise CorruptObjectError(f"object {sha} is past the end of {file}")
        kind, size, used = _entry_header(header, file)
        if kind not in _PACK_TYPES:
            return None  # a delta
        if kind != _BLOB:
            raise ValueError(f"object {sha} is not a blob")
        return BlobLocation(file, offset + used, size)


def _entry_header(header: bytes, file: str) -> tuple[int, int, int]:
    """A pack entry's type, inflated size and header length (git's varint: 4 bits, then 7s)."""
    byte = header[0]
    kind, size, shift, used = (byte >> 4) & 7, byte & 15, 4, 1
    while byte & 0x80:
        if used >= len(header):
            raise CorruptObjectError(f"a pack entry header in {file} is too long")
        byte = header[used]
        size |= (byte & 0x7F) << shift
        shift, used = shift + 7, used + 1
    return kind, size, used


def _loose(path: str, sha: str) -> BlobLocation:
    with open(path, "rb") as reader:  # noqa: PTH123 - one per blob
        start = zlib.decompressobj().decompress(reader.read(_HEADER_READ), _HEADER_READ)
    kind, _, rest = start.partition(b" ")
    length, nul, _ = rest.partition(b"\0")
    if not nul or not length.isdigit():
        raise CorruptObjectError(f"loose object {sha} has no valid header")
    if kind != b"blob":
        raise ValueError(f"object {sha} is not a blob")
    return BlobLocation(path, 0, int(length), skip=len(kind) + 1 + len(length) + 1)
