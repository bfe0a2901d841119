"""Git repositories as code storage: the ``git-repository`` block.

The block checks and holds a repository's settings; the pull itself is done by the plain
:class:`~codeferry_git.source.GitSource` it describes (a pull from a URL builds that alone).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import SecretStr, field_validator, model_validator

from codeferry.blocks import Block
from codeferry.errors import CodeferryError, UnsafePathError
from codeferry.paths import safe_relative_path
from codeferry.storage import DelegatingStorage
from codeferry_git.credentials import (
    GitCredentials,
    SshKey,
    credentials_from_value,
    http_auth_for,
    ssh_key_for,
)
from codeferry_git.source import GitSource, split_credentials
from codeferry_git.urls import (
    InvalidGitInputError,
    parse_git_url,
    validate_commit_sha,
    validate_ref_name,
)

if TYPE_CHECKING:
    from codeferry_git.http_auth import HttpAuth

__all__ = ["GitRepository"]


class GitRepository(DelegatingStorage, Block):
    """A git repository reached over HTTPS or SSH: a branch, tag or pinned commit of it.

    ``credentials`` is a credentials block (any block with ``git_credentials(url)``, or an
    :class:`~codeferry_git.credentials.SshKey`), a :class:`~codeferry.Secret` or a token. A URL
    with embedded credentials is accepted; they are moved into ``credentials`` at once.
    ``directories`` limits the checkout to those folders (cone-mode sparse checkout). ``depth``
    is the history fetched (``None`` for all of it); only the tree is ever written.
    """

    block_type_slug: ClassVar[str] = "git-repository"
    block_type_name: ClassVar[str] = "Git Repository"

    url: str
    branch: str | None = None
    commit_sha: str | None = None
    credentials: GitCredentials | SshKey | Block | SecretStr | None = None
    include_submodules: bool = False
    directories: list[str] | None = None
    depth: int | None = 1
    name: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _move_credentials_out_of_url(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            return data
        data = dict(data)
        data["url"], token = split_credentials(data["url"])
        if token is not None and data.get("credentials") is None:
            data["credentials"] = token.as_block()
        if isinstance(data.get("credentials"), dict | str):
            data["credentials"] = credentials_from_value(data["credentials"])
        return data

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parsed = parse_git_url(value)
        if parsed.secret is not None:
            raise InvalidGitInputError("give credentials in `credentials`, not in the URL")
        return parsed.url

    @field_validator("branch")
    @classmethod
    def _check_branch(cls, value: str | None) -> str | None:
        return validate_ref_name(value) if value is not None else None

    @field_validator("commit_sha")
    @classmethod
    def _check_commit(cls, value: str | None) -> str | None:
        return validate_commit_sha(value) if value else None

    @field_validator("directories")
    @classmethod
    def _check_directories(cls, value: list[str] | None) -> list[str] | None:
        if not value:
            return None
        try:
            return sorted({safe_relative_path(d).as_posix() for d in value})
        except UnsafePathError as error:
            raise InvalidGitInputError(f"directories: {error}") from None

    @field_validator("depth")
    @classmethod
    def _check_depth(cls, value: int | None) -> int | None:
        if value is not None and value < 0:
            raise InvalidGitInputError("depth must be 1 or more (or None for all history)")
        return value or None

    # -- CodeStorage ---------------------------------------------------------------------------

    def delegate(self) -> GitSource:
        return GitSource(
            self.url,
            branch=self.branch,
            commit_sha=self.commit_sha,
            credentials_for=self._credentials_for if self.credentials is not None else None,
            include_submodules=self.include_submodules,
            directories=self.directories or (),
            depth=self.depth,
        )

    def to_pull_step(self) -> dict[str, dict[str, Any]]:
        step = self.delegate()
        step.credentials_for = None
        arguments = step.to_pull_step()
        if self.credentials is not None:
            arguments["codeferry_git.steps.git_clone"]["credentials"] = (
                self._credentials_reference()
            )
        return arguments

    # -- internals -----------------------------------------------------------------------------

    def _credentials_reference(self) -> str:
        credentials = self.credentials
        if isinstance(credentials, Block) and credentials.block_name:
            return f"{{{{ blocks.{credentials.block_type_slug}.{credentials.block_name} }}}}"
        raise CodeferryError(
            f"save the credentials of {self} as a block first, so the pull step can name them"
        )

    def _credentials_for(self, url: str) -> tuple[HttpAuth | None, SshKey | None]:
        """What the credentials send to ``url`` now (a rotated token just works)."""
        if parse_git_url(url).is_ssh:
            return None, ssh_key_for(self.credentials, url)
        return http_auth_for(self.credentials, url), None
