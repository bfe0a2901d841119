"""GitHub credentials: a token, or a GitHub App that mints a short-lived token for each pull."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import PrivateAttr, SecretStr

from codeferry.blocks import Block
from codeferry_git.host_blocks import HostCredentials
from codeferry_github.plugin import GITHUB

if TYPE_CHECKING:
    from codeferry_git.hosts import GitHost

__all__ = ["GitHubAppCredentials", "GitHubCredentials"]

_REFRESH_MARGIN = 300.0  # renew a minted token five minutes before GitHub says it expires


class GitHubCredentials(HostCredentials):
    """A GitHub token (classic, fine-grained, or an installation token), github.com or GHES.

    Sent as the password of ``x-access-token``, which GitHub takes for every kind of token.
    """

    block_type_slug: ClassVar[str] = "github-credentials"
    block_type_name: ClassVar[str] = "GitHub Credentials"
    git_host: ClassVar[GitHost] = GITHUB


class GitHubAppCredentials(Block):
    """A GitHub App installation: mints a read-only installation token at pull time.

    The token lives in this object's memory only and is renewed before it expires (they last an
    hour), so a long-running worker keeps pulling. ``api_url`` is ``https://api.github.com`` or a
    GitHub Enterprise Server's ``https://HOST/api/v3``.
    """

    block_type_slug: ClassVar[str] = "github-app-credentials"
    block_type_name: ClassVar[str] = "GitHub App Credentials"
    git_host: ClassVar[GitHost] = GITHUB
    app_id: str
    private_key: SecretStr
    installation_id: int
    api_url: str = "https://api.github.com"

    _token: tuple[str, float] | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def git_credentials(self, url: str) -> tuple[str, str]:  # noqa: ARG002 - the protocol's
        with self._lock:
            if self._token is None or self._token[1] - _REFRESH_MARGIN <= time.time():
                self._token = self._mint()
            return GITHUB.token_username, self._token[0]

    def app_jwt(self, now: float | None = None) -> str:
        """The app's JSON Web Token (RS256), valid for nine minutes."""
        from codeferry_github.jwt import rs256_jwt

        issued = int(now if now is not None else time.time()) - 60  # allow for clock drift
        claims = {"iat": issued, "exp": issued + 540, "iss": self.app_id}
        return rs256_jwt(claims, self.private_key.get_secret_value())

    def _mint(self) -> tuple[str, float]:
        import json
        import urllib.error
        import urllib.request
        from datetime import datetime

        from codeferry.errors import PullError
        from codeferry.timeouts import network_timeouts

        endpoint = (
            f"{self.api_url.rstrip('/')}/app/installations/{self.installation_id}/access_tokens"
        )
        body = json.dumps({"permissions": {"contents": "read"}}).encode()
        request = urllib.request.Request(  # noqa: S310 - the URL is the configured API
            endpoint,
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {self.app_jwt()}",
                "Accept": "application/vnd.github+json",
                "Content-Type": "application/json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
        )
        # urllib has one limit, for the connection and for each read.
        timeout = network_timeouts().read
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                answer: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise PullError(
                f"GitHub App {self.app_id}: {endpoint} refused an installation token "
                f"(HTTP {error.code})"
            ) from None
        except (OSError, ValueError) as error:
            raise PullError(
                f"GitHub App {self.app_id}: cannot reach {endpoint} ({type(error).__name__})"
            ) from None
        expires = datetime.fromisoformat(answer["expires_at"].replace("Z", "+00:00"))
        return str(answer["token"]), expires.timestamp()
