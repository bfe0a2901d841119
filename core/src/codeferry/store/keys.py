"""The encryption key of secret fields: where it comes from, and the cipher made from it.

The key is never stored in the database. It is, in order: the key given to
:class:`~codeferry.store.BlockStore`, ``CODEFERRY_ENCRYPTION_KEY``, or a key file in the home
folder, created (mode 0600) the first time a new store needs one.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeferry.errors import StoreKeyError

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

__all__ = ["KEY_ENV", "KEY_FILE_NAME", "KeySource", "SecretCipher", "find_key", "key_file"]

KEY_ENV = "CODEFERRY_ENCRYPTION_KEY"
KEY_FILE_NAME = "encryption.key"
_KEY_CHECK_PLAINTEXT = b"codeferry block store key check v1"


def key_file() -> Path:
    """The key file used when no key is given and ``CODEFERRY_ENCRYPTION_KEY`` is not set."""
    from codeferry.settings import home

    return home() / KEY_FILE_NAME


@dataclass(frozen=True)
class KeySource:
    """Where a key comes from, for messages (never the key itself), and the key once read."""

    description: str
    key: bytes | None  # None: the key file does not exist yet
    path: Path | None = None

    def __repr__(self) -> str:
        return f"KeySource({self.description!r})"


def find_key(given: bytes | str | None) -> KeySource:
    """The key to use, without creating anything."""
    if given is not None:
        raw = given.encode() if isinstance(given, str) else given
        return KeySource("the key given to BlockStore", raw.strip())
    from_env = os.environ.get(KEY_ENV, "").strip()
    if from_env:
        return KeySource(KEY_ENV, from_env.encode())
    path = key_file()
    from codeferry.home import private_file

    try:
        private_file(path)  # a key file left readable by others (an older version, by hand)
        return KeySource(f"the key file {path}", path.read_bytes().strip(), path)
    except FileNotFoundError:
        return KeySource(f"the key file {path}", None, path)
    except OSError as error:
        raise StoreKeyError(f"cannot read the key file {path}: {error.strerror}") from None


def create_key_file(source: KeySource) -> KeySource:
    """Create the key file of ``source`` with a new key, or read the one another process made.

    The file is written under a temporary name opened with ``O_EXCL`` and mode 0600 (so it is never
    readable by others, whatever the umask), then hard-linked to its name: readers never see a
    half-written key, and of two processes racing, both end up with the same key.
    """
    from cryptography.fernet import Fernet

    path = source.path
    assert path is not None
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(Fernet.generate_key() + b"\n")
            stream.flush()
            os.fsync(stream.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links: O_EXCL on the name itself
            _write_new(path, temporary.read_bytes())
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return KeySource(source.description, path.read_bytes().strip(), path)


def _write_new(path: Path, content: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as stream:
        stream.write(content)


class SecretCipher:
    """Encrypts the JSON of secret values with Fernet (AES-128-CBC plus HMAC-SHA256)."""

    def __init__(self, source: KeySource) -> None:
        from cryptography.fernet import Fernet

        assert source.key is not None
        self.source = source
        try:
            self._fernet: Fernet = Fernet(source.key)
        except ValueError:
            raise StoreKeyError(
                f"the encryption key from {source.description} is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes)"
            ) from None

    def __repr__(self) -> str:
        return f"SecretCipher({self.source.description!r})"

    def encrypt(self, values: dict[str, Any]) -> bytes:
        """One token for all of ``values``."""
        plain = json.dumps(values, sort_keys=True, separators=(",", ":")).encode()
        return self._fernet.encrypt(plain)

    def decrypt(self, token: bytes) -> dict[str, Any] | None:
        """The values in ``token``; None when it was not made with this key."""
        from cryptography.fernet import InvalidToken

        try:
            plain = self._fernet.decrypt(token)
        except InvalidToken:
            return None
        values: dict[str, Any] = json.loads(plain)
        return values

    def key_check(self) -> str:
        """A token proving which key a store was created with."""
        return self._fernet.encrypt(_KEY_CHECK_PLAINTEXT).decode()

    def matches(self, key_check: str) -> bool:
        """Whether ``key_check`` was made with this key."""
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(key_check.encode()) == _KEY_CHECK_PLAINTEXT
        except InvalidToken:
            return False
