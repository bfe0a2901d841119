"""git over SSH with a deploy key held in memory (paramiko), never written to a key file.

dulwich's own SSH support runs the ``ssh`` program, which reads keys from files only. This vendor
speaks SSH in-process instead, so a key from a block goes from the block store to the connection
without touching the disk, and a worker needs no ``ssh`` binary either.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from codeferry.errors import PullError

if TYPE_CHECKING:
    import paramiko

    from codeferry_git.credentials import SshKey

__all__ = ["InMemoryKeyVendor", "load_private_key"]

_CONNECT_TIMEOUT = 30.0


def load_private_key(key: SshKey) -> paramiko.PKey:
    """The block's private key as a paramiko key (OpenSSH or PEM; Ed25519, ECDSA or RSA).

    :raises PullError: when the text is no private key or the passphrase is wrong (the key is
        never part of the message).
    """
    import paramiko

    text = key.private_key.get_secret_value().strip() + "\n"
    passphrase = key.passphrase.get_secret_value() if key.passphrase else None
    kinds: tuple[type[paramiko.PKey], ...] = (
        paramiko.Ed25519Key,
        paramiko.ECDSAKey,
        paramiko.RSAKey,
    )
    for kind in kinds:
        try:
            return kind.from_private_key(io.StringIO(text), password=passphrase)
        except paramiko.PasswordRequiredException:
            raise PullError("the SSH private key is encrypted; give its passphrase") from None
        except (paramiko.SSHException, ValueError, TypeError):
            continue
    raise PullError(
        "the SSH private key could not be read (expected an OpenSSH or PEM private key, "
        "Ed25519, ECDSA or RSA, and the right passphrase)"
    )


class _Channel:
    """A remote command's stdin/stdout, as dulwich's SSH vendors return it."""

    def __init__(self, client: paramiko.SSHClient, channel: paramiko.Channel) -> None:
        self._client = client
        self._channel = channel
        self.read = channel.makefile("rb").read
        self.stderr = channel.makefile_stderr("rb")

    def write(self, data: bytes) -> None:
        self._channel.sendall(data)

    def can_read(self) -> bool:
        return bool(self._channel.recv_ready())

    def close(self, timeout: int | None = None) -> None:
        self._channel.close()
        self._client.close()


class InMemoryKeyVendor:
    """A dulwich SSH vendor that authenticates with one in-memory key and checks host keys."""

    def __init__(self, key: SshKey) -> None:
        self._key = key

    def run_command(  # noqa: PLR0917 - dulwich's SSHVendor.run_command signature
        self,
        host: str,
        command: bytes,
        username: str | None = None,
        port: int | None = None,
        password: str | None = None,
        key_filename: str | None = None,
        ssh_command: str | None = None,
        protocol_version: int | None = None,
        **_: Any,
    ) -> _Channel:
        """Connect to ``host`` and start ``command`` (``git-upload-pack '<path>'``)."""
        import paramiko

        pkey = load_private_key(self._key)
        client = paramiko.SSHClient()
        client.load_system_host_keys()
        if self._key.known_hosts:
            for line in self._key.known_hosts.splitlines():
                entry = paramiko.hostkeys.HostKeyEntry.from_line(line)
                if entry is not None:
                    for name in entry.hostnames:
                        client.get_host_keys().add(name, entry.key.get_name(), entry.key)
        policy = paramiko.RejectPolicy() if self._key.check_host_key else paramiko.AutoAddPolicy()
        client.set_missing_host_key_policy(policy)
        client.connect(
            host,
            port=port or 22,
            username=username or self._key.username,
            pkey=pkey,
            allow_agent=False,
            look_for_keys=False,
            timeout=_CONNECT_TIMEOUT,
            banner_timeout=_CONNECT_TIMEOUT,
            auth_timeout=_CONNECT_TIMEOUT,
        )
        transport = client.get_transport()
        assert transport is not None
        channel = transport.open_session()
        if protocol_version and protocol_version > 0:
            # Servers that do not accept GIT_PROTOCOL fall back to protocol v0 on their own.
            channel.set_environment_variable("GIT_PROTOCOL", f"version={protocol_version}")
        channel.exec_command(command.decode("utf-8", "surrogateescape"))
        return _Channel(client, channel)
