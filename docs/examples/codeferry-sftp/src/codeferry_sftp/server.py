"""An SSH server to read code from, how to log in to it, and how its identity is checked.

The server's host key is checked before any credential is sent: it must be the pinned
``host_key``, or be listed for the host in ``known_hosts``. An unknown key is refused, never
trusted on first use, so a machine in the middle never sees a password.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, SecretStr

from codeferry import Block
from codeferry.errors import PullError

if TYPE_CHECKING:
    from collections.abc import Mapping

    import paramiko
    from fsspec.implementations.sftp import SFTPFileSystem

__all__ = ["SftpServer"]

_KEY_TYPES = ("ssh-", "ecdsa-", "sk-")


class SftpServer(Block):
    """An SSH server reached over SFTP, and the account that reads from it."""

    block_type_slug: ClassVar[str] = "sftp-server"
    block_type_name: ClassVar[str] = "SFTP Server"

    host: str = Field(min_length=1)
    port: int = Field(default=22, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    private_key: SecretStr | None = Field(
        default=None, description="An OpenSSH or PEM private key (its text, not a path)."
    )
    private_key_passphrase: SecretStr | None = None
    private_key_path: str | None = Field(
        default=None, description="A private key file on the machine that pulls."
    )
    host_key: str | None = Field(
        default=None,
        description="The server's public host key, 'TYPE BASE64' (as in known_hosts); "
        "when unset, the key must be listed in known_hosts.",
    )
    known_hosts: str = "~/.ssh/known_hosts"
    timeout: float = Field(default=30.0, gt=0)

    def __str__(self) -> str:
        user = f"{self.username}@" if self.username else ""
        port = f":{self.port}" if self.port != 22 else ""
        return f"sftp://{user}{self.host}{port}"

    def has_secrets(self) -> bool:
        """Whether logging in needs a value that must not appear in a deployment file."""
        return any(
            value is not None
            for value in (self.password, self.private_key, self.private_key_passphrase)
        )

    def connect(self) -> SFTPFileSystem:
        """An SFTP connection, logged in; close it with ``fs.client.close()``.

        :raises PullError: when the server cannot be reached, its host key is not the expected
            one, or the login is refused. The message never holds a credential.
        """
        import paramiko
        from fsspec.implementations.sftp import SFTPFileSystem

        arguments: dict[str, Any] = {
            "port": self.port,
            "username": self.username,
            "timeout": self.timeout,
            "banner_timeout": self.timeout,
            "auth_timeout": self.timeout,
            "host_key_policy": _ExpectedHostKey(self, self._expected_host_keys()),
            "skip_instance_cache": True,  # no shared connection, no credentials in a cache
        }
        if self.password is not None:
            arguments["password"] = self.password.get_secret_value()
        if self.private_key is not None:
            arguments["pkey"] = self._load_private_key()
        if self.private_key_path is not None:
            arguments["key_filename"] = str(Path(self.private_key_path).expanduser())
            if self.private_key_passphrase is not None:
                arguments["passphrase"] = self.private_key_passphrase.get_secret_value()
        # Like ssh: with no credentials given, try the agent and the keys in ~/.ssh.
        given = {"password", "pkey", "key_filename"} & arguments.keys()
        arguments["look_for_keys"] = arguments["allow_agent"] = not given
        try:
            return SFTPFileSystem(self.host, **arguments)
        except _HostKeyRefusedError as error:
            raise PullError(str(error)) from None
        except paramiko.AuthenticationException:
            raise PullError(f"{self} refused the login of {self.username or 'the user'}") from None
        except (paramiko.SSHException, OSError) as error:
            raise PullError(f"cannot connect to {self}: {_first_line(error)}") from None

    def _expected_host_keys(self) -> set[str]:
        import paramiko

        if self.host_key is not None:
            return {_normalise_host_key(self.host_key)}
        path = Path(self.known_hosts).expanduser()
        if not path.is_file():
            return set()
        try:
            known = paramiko.HostKeys(str(path))
        except (OSError, paramiko.SSHException) as error:
            raise PullError(f"cannot read {path}: {_first_line(error)}") from None
        name = self.host if self.port == 22 else f"[{self.host}]:{self.port}"
        entries: Mapping[str, paramiko.PKey] = known.lookup(name) or {}
        return {f"{key.get_name()} {key.get_base64()}" for key in entries.values()}

    def _load_private_key(self) -> paramiko.PKey:
        import paramiko

        assert self.private_key is not None
        text = self.private_key.get_secret_value()
        passphrase = (
            self.private_key_passphrase.get_secret_value()
            if self.private_key_passphrase is not None
            else None
        )
        key_classes: tuple[type[paramiko.PKey], ...] = (
            paramiko.Ed25519Key,
            paramiko.ECDSAKey,
            paramiko.RSAKey,
        )
        for key_class in key_classes:
            try:
                return key_class.from_private_key(io.StringIO(text), password=passphrase)
            except paramiko.PasswordRequiredException:
                raise PullError(f"the private key for {self} needs a passphrase") from None
            except (paramiko.SSHException, ValueError):
                continue
        raise PullError(f"the private key for {self} is not an Ed25519, ECDSA or RSA key")


class _HostKeyRefusedError(Exception):
    """The server showed a host key that is not the expected one."""


def _ExpectedHostKey(server: SftpServer, expected: set[str]) -> paramiko.MissingHostKeyPolicy:  # noqa: N802 - reads as the class it builds
    """A paramiko policy accepting only ``expected`` keys (built here: paramiko loads lazily)."""
    import paramiko

    class ExpectedHostKey(paramiko.MissingHostKeyPolicy):
        def missing_host_key(
            self, _client: paramiko.SSHClient, _hostname: str, key: paramiko.PKey
        ) -> None:
            shown = f"{key.get_name()} {key.get_base64()}"
            if shown in expected:
                return
            if not expected:
                raise _HostKeyRefusedError(
                    f"the host key of {server} is not known: set host_key on the server block "
                    f"or add it to {server.known_hosts} "
                    f"(ssh-keyscan -p {server.port} {server.host})"
                )
            raise _HostKeyRefusedError(
                f"the host key of {server} is not the expected one "
                f"({key.get_name()} {key.fingerprint}); refusing to log in"
            )

    return ExpectedHostKey()


def _normalise_host_key(text: str) -> str:
    """``TYPE BASE64`` from a key as pasted: alone, or as a known_hosts or .pub line."""
    parts = text.split()
    for index, part in enumerate(parts[:-1]):
        if part.startswith(_KEY_TYPES):
            return f"{part} {parts[index + 1]}"
    raise PullError(f"host_key {text[:40]!r} is not of the form 'TYPE BASE64'")


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
