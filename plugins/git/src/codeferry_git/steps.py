"""The ``git_clone`` deployment-file step, with the arguments of Prefect's."""

from __future__ import annotations

from typing import Any

from codeferry_git.credentials import credentials_from_value

__all__ = ["git_clone"]


def git_clone(  # noqa: PLR0917 - Prefect's git_clone takes these positionally
    repository: str,
    branch: str | None = None,
    commit_sha: str | None = None,
    include_submodules: bool = False,
    access_token: Any = None,
    credentials: Any = None,
    directories: list[str] | None = None,
    destination: str | None = None,
    replace: bool = False,
    clone_directory_name: str | None = None,
) -> dict[str, Any]:
    """Clone or update ``repository`` into a versioned checkout (shallow, incremental, atomic).

    ``credentials`` is a credentials block, a mapping in Prefect's style (``{"access_token":
    ...}``) or a token; ``access_token`` a token or :class:`~codeferry.Secret` block.
    ``destination`` (not in Prefect's step) is a folder to link to the checkout; one that holds
    the checkout of another repository is refused unless ``replace`` is true.
    ``clone_directory_name`` (Prefect's folder under the working folder) becomes that folder, a
    link to the versioned checkout, when ``destination`` is not given, so later steps that name
    the folder find the code there, as in Prefect.

    Outputs: ``directory`` (the version's folder, which never changes under a running flow),
    ``commit_sha``, and ``version``, ``files``, ``bytes``, ``changed``, ``source``.
    """
    from codeferry_git.repository import GitRepository

    if access_token is not None and credentials is not None:
        raise ValueError("git_clone: give either access_token or credentials, not both")
    storage = GitRepository(
        url=repository,
        branch=branch,
        commit_sha=commit_sha,
        include_submodules=include_submodules,
        credentials=credentials_from_value(
            credentials if credentials is not None else access_token
        ),
        directories=directories,
    )
    link = destination if destination is not None else clone_directory_name
    result = storage.pull_code(link, replace=replace)
    return {**result.as_dict(), "commit_sha": result.version}
