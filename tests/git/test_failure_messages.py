"""Both git clients describe the same fault in the same words (one table of messages)."""

from __future__ import annotations

import pytest

from codeferry_git import git_program, transport

URL = "https://git.example.com/org/app.git"
TOKEN = "tok-failure-words-5521"

# (what git's program says on standard error, what dulwich raises) for one fault each.
FAULTS = {
    "authentication": (
        b"fatal: Authentication failed for 'https://git.example.com/org/app.git/'",
        Exception("unexpected http resp 401 for https://git.example.com/org/app.git"),
    ),
    "access": (
        b"fatal: unable to access '...': The requested URL returned error: 403",
        Exception("unexpected http resp 403 for https://git.example.com/org/app.git"),
    ),
    "missing": (
        b"fatal: unable to access '...': The requested URL returned error: 404",
        Exception("unexpected http resp 404 for https://git.example.com/org/app.git"),
    ),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_both_clients_describe_a_fault_alike(fault: str) -> None:
    said, raised = FAULTS[fault]
    by_git = git_program.describe_failure(
        git_program.GitCommandError("fetch", 128, said), URL, [TOKEN]
    )
    by_dulwich = transport.describe_failure(raised, URL, [TOKEN])
    assert str(by_git) == str(by_dulwich)
    assert "git repository https://git.example.com/org/app.git" in str(by_git)


def test_an_unknown_failure_keeps_what_each_client_was_told_and_masks_the_token() -> None:
    said = f"fatal: the server said {TOKEN} is odd".encode()
    by_git = git_program.describe_failure(
        git_program.GitCommandError("fetch", 128, said), URL, [TOKEN]
    )
    by_dulwich = transport.describe_failure(ValueError(f"odd {TOKEN}"), URL, [TOKEN])
    assert str(by_git).startswith(f"cannot fetch git repository {URL}: the server said ")
    assert str(by_dulwich).startswith(f"cannot fetch git repository {URL}: ValueError: odd ")
    assert TOKEN not in str(by_git) + str(by_dulwich)
