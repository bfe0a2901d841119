"""The Bitbucket plugin's tests talk to the git test servers, once with each git client."""

from tests.git.conftest import git_client, pytest_generate_tests

__all__ = ["git_client", "pytest_generate_tests"]
