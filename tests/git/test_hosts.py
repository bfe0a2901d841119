"""Git-host plugins as declarations: the hooks made from a GitHost, its claims and display names."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from codeferry import hookimpl
from codeferry.known_plugins import distribution_for_source
from codeferry.plugins import Plugins, set_plugins
from codeferry.storage import CodeStorage, FetchResult, PullContext
from codeferry_bitbucket.plugin import BITBUCKET
from codeferry_git.hosts import git_host_for
from codeferry_git.source import GitSource
from codeferry_github.plugin import GITHUB
from codeferry_gitlab.plugin import GITLAB
from tests.git.conftest import host_plugins

HOSTS = {"github": GITHUB, "gitlab": GITLAB, "bitbucket": BITBUCKET}


@pytest.mark.parametrize("name", sorted(HOSTS))
def test_a_host_plugin_registers_what_its_declaration_names(name: str) -> None:
    declared = HOSTS[name]
    registry = host_plugins(name)
    info = registry.plugins[name]
    assert info.status == "ok", info.errors
    registered = {s for s, e in registry.block_types.items() if e.plugin == name}
    assert registered == {t.block_type_slug for t in declared.block_types()}
    assert f"{name}-repository" in registered
    assert f"{name}-credentials" in registered
    [kind] = info.source_kinds
    assert (kind.name, kind.description, kind.examples) == (
        declared.name,
        declared.description,
        declared.examples,
    )
    assert declared.hosts_variable == f"CODEFERRY_{name.upper()}_HOSTS"


@pytest.mark.parametrize(
    "source",
    [
        "https://github.com/org/repo",
        "https://github.com/org/repo.git",
        "https://github.com/org/repo/",
        "git@github.com:org/repo.git",
        "ssh://git@github.com/org/repo.git",
        "https://gitlab.com/group/subgroup/repo",
        "git@gitlab.com:group/subgroup/repo.git",
        "https://bitbucket.org/workspace/repo.git",
    ],
)
def test_a_repository_on_a_host_is_claimed_before_codeferry_gits_generic_claim(
    source: str, hosts: Plugins
) -> None:
    # git's claim of *.git and user@host:path URLs is plain; a tie in one tier would be an error.
    assert isinstance(hosts.storage_from_source(source), GitSource)
    assert any(declared.claims(source) for declared in HOSTS.values())


class ArchiveStorage(CodeStorage):
    """What an archive plugin would return: only its type matters here."""

    def __init__(self, url: str) -> None:
        self.url = url

    def fetch(self, context: PullContext) -> FetchResult:
        raise NotImplementedError

    def to_pull_step(self) -> dict[str, dict[str, Any]]:
        return {}

    def __str__(self) -> str:
        return self.url


def archive_plugin() -> ModuleType:
    """A plugin claiming every http(s) URL, in the plain tier, as an archive plugin would."""
    module = ModuleType("archive_plugin")

    @hookimpl
    def storage_from_source(source: object) -> CodeStorage | None:
        if isinstance(source, str) and source.startswith("https://"):
            return ArchiveStorage(source)
        return None

    module.storage_from_source = storage_from_source  # type: ignore[attr-defined]
    return module


@pytest.mark.parametrize(
    "source",
    [
        "https://github.com/org/repo/archive/v1.tar.gz",
        "https://github.com/org/repo/archive/refs/tags/v1.zip",
        "https://github.com/org/repo/releases/download/v1/flows.tar.gz",
        "https://github.com/org/repo/raw/main/flows.py",
        "https://github.com/org/repo/blob/main/flows.py",
        "https://github.com/org/repo.tar.gz",
        "https://gitlab.com/group/repo/-/archive/v1/repo-v1.tar.gz",
        "https://gitlab.com/group/repo/-/raw/main/flows.py",
        "https://gitlab.com/group/repo/raw/main/flows.py",
        "https://bitbucket.org/workspace/repo/get/v1.tar.gz",
        "https://bitbucket.org/workspace/repo/raw/main/flows.py",
        "https://bitbucket.org/workspace/repo/downloads/flows.zip",
        "https://github.com/org",
    ],
)
def test_urls_on_a_host_that_are_no_repository_are_left_to_an_archive_plugin(source: str) -> None:
    registry = host_plugins(*HOSTS, archive=archive_plugin())
    assert isinstance(registry.storage_from_source(source), ArchiveStorage)
    assert distribution_for_source(source) is None, "no hint to install a host plugin either"


def test_hosts_listed_in_the_hosts_variable_are_claimed(
    hosts: Plugins, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = "https://git.example.com/team/flows"
    with pytest.raises(Exception, match="no installed plugin understands"):
        hosts.storage_from_source(source)
    monkeypatch.setenv("CODEFERRY_GITLAB_HOSTS", " Git.Example.com , other.example.com")
    assert isinstance(hosts.storage_from_source(source), GitSource)
    assert git_host_for(source) is GITLAB


def test_the_host_serving_a_url_is_found_through_the_loaded_plugins_only() -> None:
    registry = host_plugins("gitlab")
    previous = set_plugins(registry)
    try:
        assert git_host_for("https://gitlab.com/g/r.git") is GITLAB
        assert git_host_for("https://bitbucket.org/w/r.git") is None, "plugin not loaded"
        assert git_host_for("https://example.com/w/r.git") is None
    finally:
        set_plugins(previous)


SEGMENTS = st.sampled_from(
    ["org", "repo", "repo.git", "-", "raw", "blob", "tree", "archive", "v1.tar.gz", "x.zip", ""]
)


@given(st.sampled_from(sorted(HOSTS)), st.lists(SEGMENTS, max_size=5), st.booleans())
@example("github", ["org", "repo"], False)
@example("gitlab", ["group", "sub", "repo.git"], True)
@example("bitbucket", ["ws", "repo", "get", "v1.tar.gz"], False)
def test_a_host_is_hinted_exactly_for_the_urls_its_plugin_claims(
    name: str, segments: list[str], slash: bool
) -> None:
    declared = HOSTS[name]
    source = f"https://{declared.host}/{'/'.join(segments)}{'/' if slash else ''}"
    hinted = distribution_for_source(source) == f"codeferry-{name}"
    assert hinted == declared.claims(source)


@given(st.text(max_size=60))
@example("https://github.com/%zz/repo")
@example("git@github.com:")
def test_a_claim_never_raises_whatever_the_text(text: str) -> None:
    for declared in HOSTS.values():
        declared.claims(text)


DISPLAY_NAMES = {
    "git-repository": "Git Repository",
    "git-credentials": "Git Credentials",
    "ssh-key": "SSH Key",
    "github-credentials": "GitHub Credentials",
    "github-app-credentials": "GitHub App Credentials",
    "github-repository": "GitHub Repository",
    "gitlab-credentials": "GitLab Credentials",
    "gitlab-repository": "GitLab Repository",
    "bitbucket-credentials": "Bitbucket Credentials",
    "bitbucket-repository": "Bitbucket Repository",
}


def test_every_git_block_type_names_itself_explicitly(hosts: Plugins) -> None:
    found = {
        slug: entry.block_type
        for slug, entry in hosts.block_types.items()
        if entry.plugin in {"git", *HOSTS}
    }
    assert {slug: t.block_type_name for slug, t in found.items()} == DISPLAY_NAMES
    implicit = [slug for slug, t in found.items() if "block_type_name" not in vars(t)]
    assert implicit == []


def test_a_declaration_is_data_and_its_entry_module_imports_no_block(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from codeferry_git.hosts import GitHost\n"
        "from codeferry_gitlab.plugin import GITLAB\n"
        "print(isinstance(GITLAB, GitHost), 'pydantic' in sys.modules, 'dulwich' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.split() == ["True", "False", "False"]


TOKENS = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=30)
USERS = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters=":"), min_size=1, max_size=15
)


@given(st.sampled_from(sorted(HOSTS)), TOKENS.filter(lambda t: ":" not in t))
def test_a_bare_token_goes_as_the_password_of_the_hosts_user(name: str, token: str) -> None:
    declared = HOSTS[name]
    assert declared.http_auth(token) == (declared.token_username, token)
    assert declared.http_auth(f"{declared.token_username}:{token}") == (
        declared.token_username,
        token,
    ), "a prefix the token carries is sent once"


@given(st.sampled_from(sorted(HOSTS)), USERS, TOKENS)
def test_a_user_given_or_carried_is_the_user_sent_and_never_doubled(
    name: str, user: str, token: str
) -> None:
    declared = HOSTS[name]
    assert declared.http_auth(f"{user}:{token}") == (user, token)
    assert declared.http_auth(f"{user}:{token}", user) == (user, token)
