"""How long codeferry waits: for a server to connect and to answer, and for a checkout's lock.

Every transport takes its limits from here (git over HTTP, ``git://`` and SSH, S3, Azure and GCS
through the remote-storage engine, container registries), so one setting changes them all, and a
plugin for another backend should do the same:

``CODEFERRY_CONNECT_TIMEOUT``
    Seconds to wait for a server to accept a connection (TLS and SSH handshakes included);
    default 10.
``CODEFERRY_READ_TIMEOUT``
    Seconds a server may send nothing, while an answer is awaited or in the middle of one,
    before the wait is given up; default 30.
``CODEFERRY_LOCK_TIMEOUT``
    Seconds a pull waits for another pull into the same checkout to finish; default 300.

Each takes a number of seconds (``2.5``, ``30s``), or ``0``/``off`` for no limit. A request
that timed out is tried once more at most (:data:`TIMEOUT_ATTEMPTS`), wherever the transport
retries at all, so a pull gives up on a server that accepts connections and then says nothing
within about a minute, with one line naming the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from codeferry import settings

if TYPE_CHECKING:
    import socket

__all__ = [
    "CONNECT_TIMEOUT",
    "LOCK_TIMEOUT",
    "READ_TIMEOUT",
    "TIMEOUT_ATTEMPTS",
    "ConnectTimeoutError",
    "NetworkTimeouts",
    "format_seconds",
    "is_connect_timeout",
    "is_timeout",
    "lock_timeout",
    "network_timeouts",
    "open_connection",
    "server_address",
]

CONNECT_TIMEOUT = 10.0
"""Default of ``CODEFERRY_CONNECT_TIMEOUT``, in seconds."""
READ_TIMEOUT = 30.0
"""Default of ``CODEFERRY_READ_TIMEOUT``, in seconds."""
LOCK_TIMEOUT = 300.0
"""Default of ``CODEFERRY_LOCK_TIMEOUT``, in seconds."""
TIMEOUT_ATTEMPTS = 2
"""Tries of a request that timed out, the first included: a silent server is tried twice."""

_CHAIN_LIMIT = 16
_DEFAULT_PORTS = {"http": 80, "https": 443, "git": 9418, "ssh": 22}


class ConnectTimeoutError(TimeoutError):
    """A server did not accept a connection within the connect timeout."""


@dataclass(frozen=True)
class NetworkTimeouts:
    """The limits of one connection, in seconds (``None``: no limit).

    :param connect: to wait for the server to accept the connection.
    :param read: the server may send nothing before the wait is given up.
    """

    connect: float | None = CONNECT_TIMEOUT
    read: float | None = READ_TIMEOUT

    def describe(self, server: str, error: BaseException) -> str:
        """What happened when ``error`` (a timeout) ended a wait on ``server`` (``host:port``).

        ``"git server example.com:9418 accepted the connection but sent nothing for 30 s"``,
        or that it ``"did not accept a connection within 10 s"``.
        """
        if is_connect_timeout(error):
            return f"{server} did not accept a connection within {format_seconds(self.connect)}"
        return f"{server} accepted the connection but sent nothing for {format_seconds(self.read)}"


def open_connection(host: str, port: int, timeouts: NetworkTimeouts) -> socket.socket:
    """A TCP connection to ``host:port`` made within ``timeouts.connect``, whose every read
    then waits at most ``timeouts.read`` (and raises :class:`TimeoutError` after that).

    :raises ConnectTimeoutError: when the server did not accept it in time.
    :raises OSError: when it refused, or the host is unknown or unreachable.
    """
    import socket  # here: the pulls that open no connection of their own start faster

    try:
        connection = socket.create_connection((host, port), timeout=timeouts.connect)
    except TimeoutError as error:
        raise ConnectTimeoutError(f"connecting to {host}:{port} timed out") from error
    connection.settimeout(timeouts.read)
    return connection


def network_timeouts() -> NetworkTimeouts:
    """The connect and read timeouts the settings ask for now.

    :raises SettingError: for a value that is not a number of seconds.
    """
    return NetworkTimeouts(
        connect=settings.seconds("CODEFERRY_CONNECT_TIMEOUT", CONNECT_TIMEOUT),
        read=settings.seconds("CODEFERRY_READ_TIMEOUT", READ_TIMEOUT),
    )


def lock_timeout() -> float | None:
    """Seconds a pull waits for a checkout's lock (``CODEFERRY_LOCK_TIMEOUT``; ``None``: forever).

    :raises SettingError: for a value that is not a number of seconds.
    """
    return settings.seconds("CODEFERRY_LOCK_TIMEOUT", LOCK_TIMEOUT)


def is_timeout(error: BaseException) -> bool:
    """Whether a wait timing out caused ``error``, anywhere in its chain of causes.

    Clients wrap their timeouts in errors of their own (dulwich in ``GitProtocolError``, botocore
    and urllib3 in ``ReadTimeoutError``, azure-core in ``ServiceResponseError``); the standard
    library's :class:`TimeoutError` (``socket.timeout``, ``asyncio.TimeoutError``, aiohttp's) or a
    class named as a timeout is found beneath them.
    """
    return any(
        isinstance(link, TimeoutError) or "Timeout" in type(link).__name__ for link in _chain(error)
    )


def is_connect_timeout(error: BaseException) -> bool:
    """Whether ``error`` came of a server not accepting a connection in time.

    :class:`ConnectTimeoutError`, or recognised by name (``ConnectTimeoutError`` of urllib3 and
    botocore, httpx's ``ConnectTimeout``, aiohttp's ``ConnectionTimeoutError``), as those clients
    give no common base class.
    """
    return any(
        isinstance(link, ConnectTimeoutError)
        or "ConnectTimeout" in type(link).__name__
        or "ConnectionTimeout" in type(link).__name__
        for link in _chain(error)
    )


def server_address(url: str) -> str:
    """``host:port`` of the server ``url`` connects to, for naming it in a message.

    ``https://minio.local/x`` gives ``minio.local:443``; credentials in the URL are left out.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or _DEFAULT_PORTS.get(parts.scheme.lower())
    return f"{host}:{port}" if port else host


def format_seconds(seconds: float | None) -> str:
    """``30`` as ``"30 s"``, ``2.5`` as ``"2.5 s"``; ``None`` as ``"ever"``."""
    if seconds is None:
        return "ever"
    return f"{seconds:g} s"


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and its causes: ``__cause__``, ``__context__`` and urllib3's ``reason``."""
    found: list[BaseException] = []
    pending: list[BaseException] = [error]
    while pending and len(found) < _CHAIN_LIMIT:
        link = pending.pop(0)
        if any(link is seen for seen in found):
            continue
        found.append(link)
        reason = getattr(link, "reason", None)
        pending.extend(
            e for e in (link.__cause__, link.__context__, reason) if isinstance(e, BaseException)
        )
    return found
