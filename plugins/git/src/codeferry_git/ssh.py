"""git over SSH with a deploy key held in memory (paramiko), never written to a key file.

dulwich's own SSH support runs the ``ssh`` program, which reads keys from files only. This vendor
speaks SSH in-process instead, so a key from a block goes from the block store to the connection
without touching the disk, and a worker needs no ``ssh`` binary either.

Both wait a bounded time (:func:`codeferry.timeouts.network_timeouts`): paramiko for the
connection, the server's banner, authentication, the channel and every read; the ``ssh`` program
(used without a key block) for the connection and handshake, and for a connection gone dead.
"""

from __future__ import annotations

import io
import logging
import math
from typing import TYPE_CHECKING, Any

from codeferry.errors import PullError
from codeferry.timeouts import open_connection

if TYPE_CHECKING:
    import paramiko

    from codeferry.timeouts import NetworkTimeouts
    from codeferry_git.credentials import SshKey

__all__ = ["InMemoryKeyVendor", "load_private_key", "ssh_program"]

_QUIET = logging.NullHandler()


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

    def close(self, timeout: int | None = None) -> None:  # noqa: ARG002 - dulwich's signature
        self._channel.close()
        self._client.close()


def ssh_program(timeouts: NetworkTimeouts) -> str:
    """The ``ssh`` command line for dulwich, giving up on a server within ``timeouts``.

    ``ConnectTimeout`` covers the connection and the SSH handshake; a connection that stops
    answering keep-alives for the read timeout is closed.
    """
    options = ["ssh"]
    if timeouts.connect is not None:
        options += ["-o", f"ConnectTimeout={max(math.ceil(timeouts.connect), 1)}"]
    if timeouts.read is not None:
        options += ["-o", f"ServerAliveInterval={max(math.ceil(timeouts.read), 1)}"]
        options += ["-o", "ServerAliveCountMax=1"]
    return " ".join(options)


class InMemoryKeyVendor:
    """A dulwich SSH vendor that authenticates with one in-memory key and checks host keys."""

    def __init__(self, key: SshKey, timeouts: NetworkTimeouts) -> None:
        self._key = key
        self.timeouts = timeouts

    def run_command(  # dulwich's SSHVendor.run_command, which passes all but host by name
        self,
        host: str,
        command: bytes,
        username: str | None = None,
        port: int | None = None,
        protocol_version: int | None = None,
        **_: Any,  # password, key_filename, ssh_command: the key is this vendor's own
    ) -> _Channel:
        """Connect to ``host`` and start ``command`` (``git-upload-pack '<path>'``)."""
        import paramiko

        # paramiko's transport thread logs a failed handshake with its traceback; with no logging
        # configured that lands on standard error beside the one-line error the pull raises.
        # A NullHandler keeps it there only for those who configured logging.
        logging.getLogger("paramiko").addHandler(_QUIET)

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
        read = self.timeouts.read
        # paramiko's own `timeout` would also cut the handshake short at the connect timeout,
        # and then fail with "No existing session": the handshake is bounded by the banner's
        # timeout (then the handshake's own, 15 s) instead.
        sock = open_connection(host, port or 22, self.timeouts)
        client.connect(
            host,
            port=port or 22,
            username=username or self._key.username,
            pkey=pkey,
            allow_agent=False,
            look_for_keys=False,
            sock=sock,
            # The banner is the server's first word: silence there is silence on a connection.
            banner_timeout=read,
            auth_timeout=read,
            channel_timeout=read,
        )
        transport = client.get_transport()
        assert transport is not None
        channel = transport.open_session(timeout=read)
        channel.settimeout(read)
        if protocol_version and protocol_version > 0:
            # Servers that do not accept GIT_PROTOCOL fall back to protocol v0 on their own.
            channel.set_environment_variable("GIT_PROTOCOL", f"version={protocol_version}")
        channel.exec_command(command.decode("utf-8", "surrogateescape"))
        return _Channel(client, channel)
