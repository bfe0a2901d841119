"""What goes on the wire to authenticate git over HTTP(S): a user name and a password.

Kept free of the block models, so that a pull from a URL (``codeferry pull
https://TOKEN@host/repo.git``, run as a whole process before every flow run) does not import them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from codeferry.secrets import remember

__all__ = ["DEFAULT_TOKEN_USERNAME", "HttpAuth", "token_credentials", "token_for_host"]

# A token with no user name goes on the wire as this user on a host no host plugin serves: GitHub
# takes any name with a token, GitLab any non-empty one with a personal/project/group access token.
DEFAULT_TOKEN_USERNAME = "x-access-token"  # noqa: S105 - a user name, not a password


@dataclass(frozen=True)
class HttpAuth:
    """A user name and password for one pull; the password is never shown."""

    username: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        # Minted at pull time (an app's installation token) or read from a block: either way a
        # secret from now on, in whatever form a server or a library repeats it.
        remember(self.password)


def token_credentials(
    token: str, username: str | None = None, *, token_username: str = DEFAULT_TOKEN_USERNAME
) -> tuple[str, str]:
    """The user name and password that send ``token`` over HTTPS, its prefix sent once.

    A token that already names its user (``oauth2:...``, ``x-token-auth:...``, a GitLab deploy
    token ``user:token``) is split into that pair; ``username``, when given, is the user (and
    left out of the token if the token repeats it); otherwise the user is ``token_username``.
    """
    if username:
        return username, token.removeprefix(f"{username}:")
    user, colon, password = token.partition(":")
    if colon and user and password:
        return user, password
    return token_username, token


def token_for_host(url: str, token: str, username: str | None = None) -> tuple[str, str]:
    """``token`` sent to ``url`` the way the installed plugin of its git host sends one."""
    from codeferry_git.hosts import git_host_for

    host = git_host_for(url) if not username else None  # a user given is the user sent
    if host is None:
        return token_credentials(token, username)
    return host.http_auth(token, username)
