"""What a failed fetch says: one message for each kind of failure, whichever client met it.

Each client (:mod:`codeferry_git.git_program`, :mod:`codeferry_git.transport`) tells what kind of
failure it met from what its own library or program reported; the words users read are decided
here once, so the two clients say the same thing for the same fault.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from codeferry.errors import PullError
from codeferry.secrets import mask, redact_url, remember
from codeferry.timeouts import network_timeouts, server_address

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["SSH_REFUSALS", "Failure", "fetch_failure"]

SSH_REFUSALS = ("permission denied (", "host key verification failed")
"""What the ``ssh`` program says when it refuses the server, or the server refuses the key."""

Failure = Literal["timeout", "authentication", "access", "missing", "ssh", "dropped", "other"]
"""A kind of failed fetch: each has its own message."""

_MESSAGES: dict[Failure, str] = {
    "authentication": "authentication failed for git repository {where} (check the credentials)",
    "access": "access denied to git repository {where} (the credentials lack read access)",
    "missing": "git repository {where} was not found (or the credentials cannot see it)",
    "ssh": "SSH authentication failed for git repository {where}: {text}",
    "dropped": "the connection to git repository {where} was dropped: {text}",
    "other": "cannot fetch git repository {where}: {text}",
}


def fetch_failure(
    kind: Failure,
    url: str,
    secrets: Sequence[str],
    text: str,
    timeout: BaseException | None = None,
) -> PullError:
    """The one-line error for a fetch of ``url`` that failed so, every secret masked.

    ``text`` is what the client was told; ``timeout`` the error of a ``"timeout"`` (it says
    which wait ran out). ``secrets`` (the credentials sent) are remembered, so they stay masked
    in any form, HTTP Basic's ``base64(user:secret)`` included, whatever prints them later.
    """
    remember(*secrets)
    where = redact_url(url)
    if kind == "timeout":
        server = f"git server {_server(url)}"
        waited = timeout if timeout is not None else TimeoutError(text)
        message = f"{network_timeouts().describe(server, waited)} (git repository {where})"
    else:
        message = _MESSAGES[kind].format(where=where, text=text)
    return PullError(mask(message))


def _server(url: str) -> str:
    """``host:port`` of a remote, ``user@host:path`` ones (SSH) included."""
    if "://" in url:
        return server_address(url)
    return server_address(f"ssh://{url.partition(':')[0]}")
