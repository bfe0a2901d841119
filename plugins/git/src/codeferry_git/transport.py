"""Connecting dulwich to a remote with credentials held in memory, and its errors made readable.

Credentials go to dulwich's client as arguments (HTTP Basic, or an in-memory SSH key): never into
a URL, a config file, process arguments or the environment. Errors come back as one-line
:class:`~codeferry.errors.PullError` messages naming the repository without credentials, with any
secret masked out of whatever the server said.

Every client waits a bounded time (:func:`codeferry.timeouts.network_timeouts`): to connect, and
for each read. Over HTTP a request that timed out is sent once more at most; a ``git://`` or SSH
fetch is one stream and is not retried.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from codeferry.timeouts import (
    TIMEOUT_ATTEMPTS,
    NetworkTimeouts,
    is_timeout,
    network_timeouts,
)
from codeferry_git.failures import SSH_REFUSALS, Failure, fetch_failure

if TYPE_CHECKING:
    from dulwich.client import GitClient, HttpGitClient

    from codeferry.errors import PullError
    from codeferry_git.credentials import SshKey
    from codeferry_git.http_auth import HttpAuth

__all__ = ["Remote", "describe_failure", "open_remote"]

# Redirects dulwich follows on one request, as urllib3's default allows.
_REDIRECTS = 3


@dataclass(frozen=True)
class Remote:
    """A dulwich client for one remote and the path to ask it for."""

    client: GitClient
    path: str


def open_remote(
    url: str,
    auth: HttpAuth | None,
    ssh_key: SshKey | None,
    activity: Callable[[int, str], None] | None = None,
) -> Remote:
    """A client for ``url`` (credential-free) authenticating with ``auth`` or ``ssh_key``.

    ``activity`` is dulwich's ``report_activity``: called with the bytes of each read
    (``"read"``) and write (``"write"``), over every transport.
    """
    from dulwich.client import SSHGitClient, get_transport_and_path

    timeouts = network_timeouts()
    if url.startswith(("http://", "https://")):
        client: GitClient = _counting_http_client()(
            url.rstrip("/"),
            pool_manager=_http_pool(url, timeouts),
            username=auth.username if auth else None,
            password=auth.password if auth else None,
            report_activity=activity,
        )
        return Remote(client, "")
    if url.startswith("git://"):
        from codeferry_git.daemon import TimedTCPGitClient

        parts = urlsplit(url)
        assert parts.hostname is not None  # parse_git_url refuses a URL without a host
        daemon = TimedTCPGitClient(parts.hostname, parts.port, timeouts, activity)
        return Remote(daemon, parts.path)
    client, path = get_transport_and_path(url, report_activity=activity)
    if isinstance(client, SSHGitClient) and ssh_key is not None:
        from codeferry_git.ssh import InMemoryKeyVendor

        # dulwich declares its SSHVendor class; any object with its run_command will do.
        client.ssh_vendor = InMemoryKeyVendor(ssh_key, timeouts)  # type: ignore[assignment]
        if client.username is None:
            client.username = ssh_key.username
    elif isinstance(client, SSHGitClient):
        from codeferry_git.ssh import ssh_program

        client.ssh_command = ssh_program(timeouts)
    return Remote(client, path)


@functools.cache
def _counting_http_client() -> type[HttpGitClient]:
    """dulwich's HTTP client, reporting the bytes it reads as its other clients do."""
    from dulwich.client import HttpGitClient

    class CountingHttpGitClient(HttpGitClient):
        def _http_request(self, *args: Any, **kwargs: Any) -> Any:
            response, read = super()._http_request(*args, **kwargs)
            report = self._report_activity
            if report is None:
                return response, read

            def counted(size: int) -> bytes:
                data: bytes = read(size)
                report(len(data), "read")
                return data

            return response, counted

    return CountingHttpGitClient


def _http_pool(url: str, timeouts: NetworkTimeouts) -> Any:
    """dulwich's urllib3 pool manager (proxies from the environment), with our limits."""
    import urllib3
    from dulwich.client import default_urllib3_manager

    manager = default_urllib3_manager(None, base_url=url)
    manager.connection_pool_kw.update(
        timeout=urllib3.Timeout(connect=timeouts.connect, read=timeouts.read),
        # A GET that timed out is sent once more (urllib3 never resends a POST); connection
        # failures likewise. urllib3's default tries a silent server four times.
        retries=urllib3.Retry(
            total=_REDIRECTS,
            connect=TIMEOUT_ATTEMPTS - 1,
            read=TIMEOUT_ATTEMPTS - 1,
            redirect=_REDIRECTS,
        ),
    )
    return manager


def describe_failure(error: BaseException, url: str, secrets: list[str]) -> PullError:
    """A one-line error for ``error`` raised while talking to ``url``, every secret masked.

    ``secrets`` (the credentials sent) stay masked in any form (see :func:`fetch_failure`).
    """
    text = _first_line(error)
    if is_timeout(error):
        return fetch_failure("timeout", url, secrets, text, error)
    kind = _kind(error, text)
    if kind == "other":
        text = f"{type(error).__name__}: {text}"
    return fetch_failure(kind, url, secrets, text)


def _kind(error: BaseException, text: str) -> Failure:
    """What kind of failure dulwich (or the network under it) reported."""
    from dulwich.client import HTTPUnauthorized
    from dulwich.errors import HangupException, NotGitRepository

    status = f" {text} "
    if isinstance(error, HTTPUnauthorized) or " 401 " in status:
        return "authentication"
    if " 403 " in status:
        return "access"
    if isinstance(error, NotGitRepository) or " 404 " in status:
        return "missing"
    if _is_ssh_auth_failure(error) or any(sign in text.lower() for sign in SSH_REFUSALS):
        return "ssh"
    if isinstance(error, HangupException | ConnectionError | EOFError) or (
        "disconnect" in text.lower()
    ):
        return "dropped"
    return "other"


def _is_ssh_auth_failure(error: BaseException) -> bool:
    try:
        import paramiko
    except ImportError:  # pragma: no cover - paramiko is a dependency
        return False
    return isinstance(error, paramiko.AuthenticationException | paramiko.BadHostKeyException) or (
        isinstance(error, paramiko.SSHException) and "not found in known_hosts" in str(error)
    )


def _first_line(error: BaseException) -> str:
    text: Any = error.args[0] if len(error.args) == 1 else str(error)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = str(text).strip().splitlines()
    return lines[0].strip() if lines else type(error).__name__
