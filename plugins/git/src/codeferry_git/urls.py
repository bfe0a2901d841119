"""Git URLs, ref names and commit ids: recognised and checked before anything touches the network.

Everything here is pure string work (no dulwich), so the plugin's entry point can use it to claim
sources cheaply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

from codeferry.errors import CodeferryError
from codeferry.secrets import redact_url, split_url_credentials

__all__ = [
    "GitUrl",
    "InvalidGitInputError",
    "is_git_source",
    "parse_git_url",
    "same_origin",
    "validate_commit_sha",
    "validate_ref_name",
]

_SCP_LIKE = re.compile(
    r"^(?:(?P<user>[^@/:\s]+)@)?(?P<host>[A-Za-z0-9][\w.-]*):(?P<path>(?!//).+)$"
)
_NETWORK_SCHEMES = {"http", "https", "ssh", "git"}
_PREFIXED = {"git+https": "https", "git+http": "http", "git+ssh": "ssh"}
_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
# git check-ref-format: no control characters, space, ~ ^ : ? * [ \ or DEL anywhere.
_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


class InvalidGitInputError(CodeferryError, ValueError):
    """A git URL, branch or commit id is malformed; raised before any network call."""


@dataclass(frozen=True)
class GitUrl:
    """A git remote split into a credential-free URL and any credentials it carried.

    :param url: the remote without credentials (``git+`` prefixes dropped).
    :param username: the user name that was embedded, if any.
    :param secret: the password or token that was embedded, if any (never shown).
    """

    url: str
    username: str | None = None
    secret: str | None = field(default=None, repr=False)

    @property
    def is_ssh(self) -> bool:
        """Whether the remote is reached over SSH (``ssh://`` or ``user@host:path``)."""
        return self.url.startswith("ssh://") or _SCP_LIKE.match(self.url) is not None

    @property
    def host(self) -> str:
        """The remote's host name, lowercase."""
        match = _SCP_LIKE.match(self.url)
        if match and "://" not in self.url:
            return match.group("host").lower()
        return (urlsplit(self.url).hostname or "").lower()


def is_git_source(source: str) -> bool:
    """Whether ``source`` names a git remote (``*.git``, ``git@host:…``, ``ssh://``, ``git+…``).

    Plain local folders are not git sources, even when they hold a repository.
    """
    lowered = source.lower()
    scheme = lowered.split("://", 1)[0] if "://" in lowered else ""
    if scheme in _PREFIXED or scheme in {"ssh", "git"}:
        return True
    if scheme in {"http", "https"}:
        try:
            return urlsplit(source).path.rstrip("/").endswith(".git")
        except ValueError:  # a malformed URL ("https://[::1") is nobody's source
            return False
    return not scheme and _SCP_LIKE.match(source) is not None and not source.startswith("/")


def parse_git_url(source: str) -> GitUrl:
    """Check a git remote and move any embedded credentials out of it.

    :raises InvalidGitInputError: for anything that is not an http(s), ssh or git remote, or
        that could be taken for a command-line option.
    """
    text = source.strip()
    if not text or text.startswith("-") or any(ord(c) < 0x20 for c in text):
        raise InvalidGitInputError(f"{_shown(text)} is not a git repository URL")
    match = _SCP_LIKE.match(text)
    if "://" not in text and match:
        return GitUrl(text, match.group("user"))
    scheme, _, rest = text.partition("://")
    scheme = _PREFIXED.get(scheme.lower(), scheme.lower())
    if scheme not in _NETWORK_SCHEMES:
        raise InvalidGitInputError(
            f"{_shown(text)} is not a git repository URL (use https://, ssh:// or user@host:path)"
        )
    try:
        clean, username, secret = split_url_credentials(f"{scheme}://{rest}")
        parts = urlsplit(clean)
        _ = parts.port  # raises ValueError for a port that is no number or out of range
    except ValueError:
        # urllib's message may quote part of the URL, and so of a token in it: leave it out.
        raise InvalidGitInputError(
            f"{_shown(text)} is not a valid URL (check the host and port)"
        ) from None
    if scheme == "ssh" and username and secret is None:
        # An SSH login name is no secret, and the remote needs it: it stays in the URL.
        clean = urlunsplit(parts._replace(netloc=f"{username}@{parts.netloc}"))
    if not parts.hostname or parts.hostname.startswith("-"):
        raise InvalidGitInputError(f"{_shown(text)} names no host")
    if parts.query or parts.fragment:
        clean = urlunsplit(parts._replace(query="", fragment=""))
    return GitUrl(
        clean,
        unquote(username) if username else None,
        unquote(secret) if secret is not None else None,
    )


def _shown(text: str) -> str:
    """``text`` quoted for an error message, credentials masked (or left out if unparsable)."""
    try:
        return repr(redact_url(text))
    except ValueError:
        return "the URL given"


def same_origin(first: str, second: str) -> bool:
    """Whether two remotes are on the same scheme, host and port (credentials may be shared)."""
    a, b = urlsplit(first), urlsplit(second)
    if "://" not in first or "://" not in second:
        return parse_git_url(first).host == parse_git_url(second).host and (
            parse_git_url(first).is_ssh == parse_git_url(second).is_ssh
        )
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def validate_ref_name(name: str) -> str:
    """Check a branch or tag name as ``git check-ref-format`` would, plus no leading ``-``.

    :raises InvalidGitInputError: naming what is wrong.
    """
    problem = None
    if not name:
        problem = "is empty"
    elif name.startswith("-"):
        problem = "starts with '-'"
    elif _BAD_REF_CHARS.search(name):
        problem = "contains a space, control character or one of ~ ^ : ? * [ \\"
    elif ".." in name or "@{" in name or "//" in name or name == "@":
        problem = "contains '..', '@{' or '//', or is '@'"
    elif name.startswith("/") or name.endswith(("/", ".", ".lock")):
        problem = "starts with '/' or ends with '/', '.' or '.lock'"
    elif any(part.startswith(".") or part.endswith(".lock") for part in name.split("/")):
        problem = "has a component starting with '.' or ending with '.lock'"
    if problem:
        raise InvalidGitInputError(f"branch or tag {name!r} is not a valid git ref name: {problem}")
    return name


def validate_commit_sha(sha: str) -> str:
    """Check a full commit id (40 hex digits, or 64 for SHA-256 repositories); lowercased.

    :raises InvalidGitInputError: for anything else, abbreviated ids included.
    """
    lowered = sha.strip().lower()
    if not _SHA.match(lowered):
        raise InvalidGitInputError(
            f"commit {sha!r} is not a full commit id (40 hexadecimal digits)"
        )
    return lowered
