"""Unpacking one folder of an image from its layers, top layer first, whiteouts honoured.

Layers are read from the top of the image down. A path decided by a higher layer (a file, a
whiteout ``.wh.NAME``, an opaque folder ``.wh..wh..opq``) hides what lower layers hold there, so
nothing is written and then deleted, and reading stops as soon as a layer hides everything below
it in the folder (a code layer that makes its folder opaque is the only layer read).

Layers are not trusted: members with absolute paths or ``..``, device files, hard links and
symbolic links leaving the folder, and writes through symbolic links are refused. Git's folder
(an image built with ``COPY . .`` holds one) is left out (:func:`codeferry.paths.is_git_name`).
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from codeferry.errors import UnsafePathError
from codeferry.paths import is_git_name

if TYPE_CHECKING:
    from codeferry.storage import PullContext

__all__ = ["FolderUnpacker", "member_parts", "tar_stream"]

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_CHUNK = 1 << 20
_IN_MEMORY = 1 << 20
_READ_BUFFER = 1 << 20


def tar_stream(blob: io.RawIOBase, compression: str) -> IO[bytes]:
    """A layer blob as a stream :meth:`FolderUnpacker.apply` reads: zstd is decompressed here.

    tarfile finds gzip (and plain tar) by itself. A zstd layer may hold several frames (as
    zstd:chunked layers do, with skippable ones): all of them are read.
    """
    if compression != "zstd":
        return io.BufferedReader(blob, _READ_BUFFER)
    import zstandard  # only for the images that need it

    reader = zstandard.ZstdDecompressor().stream_reader(
        io.BufferedReader(blob, _READ_BUFFER), read_across_frames=True
    )
    return io.BufferedReader(_Decompressed(reader, zstandard.ZstdError), _READ_BUFFER)


class _Decompressed(io.RawIOBase):
    """A decompressing reader whose errors are tar read errors, as gzip's are."""

    def __init__(self, reader: IO[bytes], error: type[Exception]) -> None:
        self._reader = reader
        self._error = error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._reader.read(len(buffer))
        except self._error as error:
            raise tarfile.ReadError(f"invalid zstd data: {error}") from None
        buffer[: len(data)] = data
        return len(data)


def member_parts(name: str, where: str) -> tuple[str, ...]:
    """The components of a layer member's name (``./`` and empty components dropped).

    :raises UnsafePathError: for absolute names, ``..`` components and NUL bytes.
    """
    if name.startswith("/") or "\x00" in name:
        raise UnsafePathError(f"{where}: layer member {name!r} has an absolute or invalid path")
    parts = tuple(p for p in name.split("/") if p not in {"", "."})
    if ".." in parts:
        raise UnsafePathError(f"{where}: layer member {name!r} has a '..' path component")
    return parts


def _within(parts: tuple[str, ...], folder: tuple[str, ...]) -> bool:
    return parts[: len(folder)] == folder


def _ancestors(rel: tuple[str, ...]) -> list[str]:
    return ["/".join(rel[:i]) for i in range(1, len(rel))]


@dataclass
class _LayerDecisions:
    """What one layer decided; it applies to the layers below it only."""

    hidden: set[str] = field(default_factory=set)
    opaque: set[str] = field(default_factory=set)
    files: set[str] = field(default_factory=set)
    dirs: set[str] = field(default_factory=set)


@dataclass
class FolderUnpacker:
    """Unpacks the folder ``folder`` (image path components) of an image into ``context.target``.

    Feed it layers from the top down with :meth:`apply`; stop when :attr:`complete`.

    :param previous_files: ``path -> sha256`` of the previous pull; an identical file is linked
        from the previous version instead of written again.
    """

    context: PullContext
    folder: tuple[str, ...]
    where: str
    previous_files: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    written: int = 0
    found: bool = False
    complete: bool = False
    _hidden: set[str] = field(default_factory=set)
    _opaque: set[str] = field(default_factory=set)
    _taken_files: set[str] = field(default_factory=set)
    _taken_dirs: set[str] = field(default_factory=set)
    _symlinks: set[str] = field(default_factory=set)
    _closing: bool = False

    @property
    def folder_text(self) -> str:
        return "/" + "/".join(self.folder)

    def apply(self, layer: IO[bytes]) -> bool:
        """Unpack what ``layer`` (a tar stream, compressed or not) holds that is still visible.

        :returns: whether the layer touched the folder at all (whiteouts included).
        """
        seen = _LayerDecisions()
        touched = False
        try:
            with tarfile.open(fileobj=layer, mode="r|*") as archive:
                for member in archive:
                    touched |= self._member(archive, member, seen)
        except tarfile.TarError as error:
            raise UnsafePathError(
                f"{self.where}: a layer is not a valid tar archive ({error})"
            ) from None
        self._hidden |= seen.hidden
        self._opaque |= seen.opaque
        self._taken_files |= seen.files
        self._taken_dirs |= seen.dirs
        self.complete = self.complete or self._closing
        return touched

    def _member(
        self, archive: tarfile.TarFile, member: tarfile.TarInfo, seen: _LayerDecisions
    ) -> bool:
        parts = member_parts(member.name, self.where)
        if not parts:
            return False
        if parts[-1].startswith(WHITEOUT):
            return self._whiteout(parts, seen)
        if not _within(parts, self.folder):
            self._check_on_the_way(parts, member)
            return False
        rel = parts[len(self.folder) :]
        if not rel:
            if not member.isdir():
                raise UnsafePathError(
                    f"{self.where}: {self.folder_text} is not a folder in the image"
                )
            self.found = True
            return True
        if any(is_git_name(part) for part in rel):
            self.found = True
            return True
        if self._visible(rel):
            self.found = True
            self._unpack(archive, member, rel, seen)
        return True

    def _check_on_the_way(self, parts: tuple[str, ...], member: tarfile.TarInfo) -> None:
        """Refuse a file or link that replaces a folder on the way to ours."""
        if self.folder[: len(parts)] == parts and not member.isdir() and self._visible(()):
            raise UnsafePathError(
                f"{self.where}: {'/' + '/'.join(parts)} is not a folder in the image "
                f"(needed for {self.folder_text})"
            )

    def _unpack(
        self,
        archive: tarfile.TarFile,
        member: tarfile.TarInfo,
        rel: tuple[str, ...],
        seen: _LayerDecisions,
    ) -> None:
        path = "/".join(rel)
        if any(a in self._symlinks for a in _ancestors(rel)):
            raise UnsafePathError(
                f"{self.where}: layer member {member.name!r} goes through a symbolic link"
            )
        if path in (seen.dirs if not member.isdir() else seen.files) or any(
            a in seen.files for a in _ancestors(rel)
        ):
            raise UnsafePathError(
                f"{self.where}: layer member {member.name!r} is both a file and a folder in "
                "one layer"
            )
        if member.isdir():
            if path not in self._taken_files:
                self.context.path_for(path).mkdir(exist_ok=True)
                seen.dirs.add(path)
            return
        if path in self._taken_dirs:
            return
        target = self.context.path_for(path)
        if path in seen.files and (target.is_symlink() or target.exists()):
            target.unlink()  # a later entry of the same layer wins
            self._symlinks.discard(path)
            self.files.pop(path, None)
        seen.files.add(path)
        if member.isfile():
            self._write_file(archive, member, path)
        elif member.issym():
            self._symlink(member, rel, path)
        elif member.islnk():
            self._hardlink(member, path)
        else:
            raise UnsafePathError(
                f"{self.where}: layer member {member.name!r} is a device, FIFO or other special "
                "file, which code folders cannot hold"
            )

    def _whiteout(self, parts: tuple[str, ...], seen: _LayerDecisions) -> bool:
        parent, name = parts[:-1], parts[-1]
        opaque = name == OPAQUE  # the folder's lower contents are hidden, else one entry is
        covered = parent if opaque else (*parent, name[len(WHITEOUT) :])
        if _within(self.folder, covered):
            # Our folder, or one above it, was replaced or deleted whole: lower layers cannot show.
            self._closing = self._closing or self._visible(())
            return True
        if _within(covered, self.folder):
            (seen.opaque if opaque else seen.hidden).add("/".join(covered[len(self.folder) :]))
            return True
        return False

    def _visible(self, rel: tuple[str, ...]) -> bool:
        """Whether no higher layer hid ``rel`` (``()``: the folder itself)."""
        if self.complete:
            return False
        path = "/".join(rel)
        above = _ancestors(rel)
        if path in self._hidden or any(a in self._hidden for a in above):
            return False
        if any(a in self._opaque for a in above):
            return False
        if any(a in self._taken_files for a in above):
            return False
        return not (rel and path in self._taken_files)

    def _write_file(self, archive: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> None:
        reader = archive.extractfile(member)
        if reader is None:
            raise UnsafePathError(f"{self.where}: cannot read layer member {member.name!r}")
        digest = hashlib.sha256()
        target = self.context.path_for(path)
        previous = self.previous_files.get(path)
        if previous is not None and member.size <= _IN_MEMORY:
            data = reader.read()
            digest.update(data)
            if digest.hexdigest() == previous and self.context.reuse(path):
                self._finish_file(target, member, path, previous, written=False)
                return
            target.write_bytes(data)
        else:
            with target.open("wb") as writer:
                while chunk := reader.read(_CHUNK):
                    digest.update(chunk)
                    writer.write(chunk)
        self._finish_file(target, member, path, digest.hexdigest(), written=True)

    def _finish_file(
        self, target: Path, member: tarfile.TarInfo, path: str, digest: str, *, written: bool
    ) -> None:
        if written:
            target.chmod(0o755 if member.mode & 0o111 else 0o644)
            self.written += 1
        self.files[path] = digest

    def _symlink(self, member: tarfile.TarInfo, rel: tuple[str, ...], path: str) -> None:
        link = member.linkname
        if link.startswith("/"):
            inside = member_parts(link.lstrip("/"), self.where)
            if not _within(inside, self.folder):
                raise UnsafePathError(
                    f"{self.where}: symbolic link {member.name!r} points outside "
                    f"{self.folder_text} ({link!r})"
                )
            link = posixpath.relpath("/".join(inside), "/".join((*self.folder, *rel[:-1])) or ".")
        components = [c for c in link.split("/") if c not in {"", "."}]
        leading = 0
        while leading < len(components) and components[leading] == "..":
            leading += 1
        if ".." in components[leading:] or leading > len(rel) - 1 or "\x00" in link:
            raise UnsafePathError(
                f"{self.where}: symbolic link {member.name!r} points outside "
                f"{self.folder_text} ({member.linkname!r})"
            )
        target = self.context.path_for(path)
        target.symlink_to("/".join(components) or ".")
        self._symlinks.add(path)
        self.written += 1

    def _hardlink(self, member: tarfile.TarInfo, path: str) -> None:
        source_parts = member_parts(member.linkname, self.where)
        source_rel = "/".join(source_parts[len(self.folder) :])
        if not _within(source_parts, self.folder) or source_rel not in self.files:
            raise UnsafePathError(
                f"{self.where}: hard link {member.name!r} points outside {self.folder_text} "
                f"or to a file not unpacked ({member.linkname!r})"
            )
        self.context.path_for(path).hardlink_to(self.context.path_for(source_rel))
        self.files[path] = self.files[source_rel]
        self.written += 1
