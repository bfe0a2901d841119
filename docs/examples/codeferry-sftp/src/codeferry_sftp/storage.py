"""A folder on an SFTP server as code storage: only files whose size or time changed are read.

SFTP servers report modification times in whole seconds, so a file changed within the same
second as a listing can look unchanged. Like git's "racily clean" index entries, a file whose
time is that close to the previous listing is read again and compared by content.
"""

from __future__ import annotations

import hashlib
import posixpath
import stat
import time
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import unquote, urlsplit

from codeferry import Block, CodeStorage, FetchResult, PullContext
from codeferry.errors import CodeferryError, PullError
from codeferry.paths import is_git_name, safe_relative_path
from codeferry_sftp.server import SftpServer

if TYPE_CHECKING:
    from paramiko import SFTPClient

__all__ = ["SftpDirectory"]

_CHUNK = 1 << 20
# Times within this many seconds of the previous listing are not trusted (1 s resolution, plus
# some room for the server's clock running ahead of this machine's).
_RACY_SECONDS = 2.0


class SftpDirectory(CodeStorage, Block):
    """A folder on an SFTP server that holds code.

    ``path`` is absolute (``/srv/flows``) or relative to the account's home folder (``flows``).
    Symbolic links on the server are not followed.
    """

    block_type_slug: ClassVar[str] = "sftp-directory"
    block_type_name: ClassVar[str] = "SFTP Directory"

    server: SftpServer
    path: str = "."

    @classmethod
    def from_url(cls, url: str) -> SftpDirectory:
        """``sftp://[user@]host[:port]/absolute/path`` or ``sftp://host/~/path/in/home``.

        :raises CodeferryError: for a URL with a password (save an ``sftp-server`` block) or
            without a host.
        """
        parts = urlsplit(url)
        if parts.password is not None:
            raise CodeferryError(
                "sftp sources take no password: save it in an sftp-server block and pull "
                "block:sftp-directory/NAME"
            )
        try:
            port = parts.port or 22
        except ValueError:
            raise CodeferryError(f"the port of {parts.hostname}:… is not a number") from None
        if not parts.hostname:
            raise CodeferryError("an sftp source names a host: sftp://HOST/PATH")
        path = unquote(parts.path) or "/"
        if path == "/~" or path.startswith("/~/"):
            path = path[3:] or "."
        server = SftpServer(host=parts.hostname, port=port, username=parts.username or None)
        return cls(server=server, path=path)

    def __str__(self) -> str:
        if self.path.startswith("/"):
            return f"{self.server}{self.path.rstrip('/') or '/'}"
        relative = self.path.strip("/").removeprefix("./")
        return f"{self.server}/~" + ("" if relative in {"", "."} else f"/{relative}")

    def to_pull_step(self) -> dict[str, dict[str, Any]]:
        server: str | dict[str, Any]
        if not self.server.has_secrets():
            server = self.server.model_dump(mode="json", exclude_defaults=True)
        elif self.server.block_name:
            server = f"{{{{ blocks.{SftpServer.block_type_slug}.{self.server.block_name} }}}}"
        else:
            raise CodeferryError(
                f"save the server of {self} as an sftp-server block first, so the pull step "
                "can name it instead of holding its credentials"
            )
        return {"codeferry_sftp.steps.pull_from_sftp": {"path": self.path, "server": server}}

    def fetch(self, context: PullContext) -> FetchResult:
        connection = self.server.connect()
        try:
            return self._fetch(connection.ftp, context)
        finally:
            connection.client.close()

    def _fetch(self, sftp: SFTPClient, context: PullContext) -> FetchResult:
        listed_at = time.time()
        root = self._root(sftp)
        now = dict(self._list(sftp, root))
        for rel in now:
            safe_relative_path(rel)  # refuse the whole pull before anything is transferred
        before: dict[str, list[Any]] = dict(context.previous_state.get("files", {}))
        settled_before = float(context.previous_state.get("listed_at", 0)) - _RACY_SECONDS

        def trusted(rel: str) -> bool:
            old = before.get(rel)
            return old is not None and old[:2] == now[rel] and old[1] < settled_before

        if context.previous is not None and now.keys() == before.keys() and all(map(trusted, now)):
            return context.unchanged()
        files = size = 0
        manifest: dict[str, list[Any]] = {}
        for rel, (length, mtime) in sorted(now.items()):
            if trusted(rel) and context.reuse(rel):
                digest = before[rel][2]
            else:
                digest = self._download(sftp, posixpath.join(root, rel), rel, context)
                files, size = files + 1, size + length
            manifest[rel] = [length, mtime, digest]
        version = hashlib.sha256(
            "".join(f"{rel}\0{entry[2]}\n" for rel, entry in sorted(manifest.items())).encode()
        ).hexdigest()
        state = {"files": manifest, "listed_at": listed_at}
        if context.previous is not None and version == context.previous_version:
            # Only files too recent to trust were read, and none had changed.
            return FetchResult(version, state=state, unchanged=True)
        return FetchResult(version, files, size, state=state)

    def _root(self, sftp: SFTPClient) -> str:
        try:
            root = sftp.normalize(self.path)
            if not stat.S_ISDIR(sftp.stat(root).st_mode or 0):
                raise PullError(f"{self} is not a folder")
        except OSError as error:
            raise PullError(f"cannot open {self}: {error.strerror or error}") from None
        return root

    def _list(self, sftp: SFTPClient, root: str) -> list[tuple[str, list[int]]]:
        """Every regular file under ``root``: ``/``-separated relative path, [size, mtime]."""
        found: list[tuple[str, list[int]]] = []
        pending = [""]
        while pending:
            folder = pending.pop()
            try:
                entries = sftp.listdir_attr(posixpath.join(root, folder) if folder else root)
            except OSError as error:
                raise PullError(f"cannot list {self}/{folder}: {error.strerror or error}") from None
            for entry in entries:
                if is_git_name(entry.filename):
                    continue  # git's folder is never pulled
                rel = f"{folder}/{entry.filename}" if folder else entry.filename
                mode = entry.st_mode or 0
                if stat.S_ISDIR(mode):
                    pending.append(rel)
                elif stat.S_ISREG(mode):
                    found.append((rel, [entry.st_size or 0, int(entry.st_mtime or 0)]))
        return found

    def _download(self, sftp: SFTPClient, remote: str, rel: str, context: PullContext) -> str:
        digest = hashlib.sha256()
        target = context.path_for(rel)
        try:
            with sftp.open(remote, "rb") as reader, target.open("wb") as writer:
                reader.prefetch()  # pipeline the reads: one round trip per file, not per chunk
                while chunk := reader.read(_CHUNK):
                    digest.update(chunk)
                    writer.write(chunk)
        except OSError as error:
            raise PullError(f"cannot copy {self}/{rel}: {error.strerror or error}") from None
        return digest.hexdigest()
