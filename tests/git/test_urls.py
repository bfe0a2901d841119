"""Properties of the git input checks: ref names, commit ids and remote URLs, for any input."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from codeferry.errors import CodeferryError
from codeferry_git.urls import (
    InvalidGitInputError,
    is_git_source,
    parse_git_url,
    validate_commit_sha,
    validate_ref_name,
)
from tests.servers import need_program
from tests.servers.git_http import git_env

# Characters that git's ref rules are about, plus ordinary ones, so short names hit every rule.
REF_ALPHABET = st.sampled_from([*"ab-_./@{}~^:?*[\\ \t\x7f\x01é", "lock", ".lock"])
ref_names = st.lists(REF_ALPHABET, max_size=10).map("".join)
T = TypeVar("T")
FORBIDDEN_IN_REFS = [" ", "~", "^", ":", "?", "*", "[", "\\", "..", "@{", "//", "\x7f"]


def accepted_or_refused_in_one_line(call: Callable[[], T], refusal: type[Exception]) -> T | None:
    """What ``call`` returns; ``None`` when it raised ``refusal``, whose message is one line."""
    try:
        return call()
    except refusal as error:
        message = str(error)
    assert "\n" not in message
    return None


@given(ref_names)
@example("--upload-pack=touch /tmp/x")
@example("a.lock/b")
@example("@")
def test_an_accepted_ref_name_is_safe_and_returned_unchanged(name: str) -> None:
    accepted = accepted_or_refused_in_one_line(
        lambda: validate_ref_name(name), InvalidGitInputError
    )
    if accepted is None:
        return
    assert accepted == name
    assert name
    assert not name.startswith(("-", "/"))
    assert not name.endswith(("/", ".", ".lock"))
    assert not any(bad in name for bad in FORBIDDEN_IN_REFS), name
    assert all(ord(c) >= 0x20 for c in name)
    assert not any(part.startswith(".") or part.endswith(".lock") for part in name.split("/"))


@settings(max_examples=150, deadline=None)
@given(ref_names.filter(lambda name: "\x00" not in name))
def test_ref_names_are_judged_as_git_check_ref_format_does(name: str) -> None:
    """Accepted exactly when git accepts the branch, but for a leading '-' and a lone '@'."""
    git = need_program("git", "git check-ref-format is the reference for ref names")
    result = subprocess.run(
        [git, "check-ref-format", f"refs/heads/{name}"],
        capture_output=True,
        env=git_env(),
        check=False,
    )
    try:
        validate_ref_name(name)
        ours = True
    except InvalidGitInputError:
        ours = False
    git_says = result.returncode == 0 and not name.startswith("-") and name != "@"
    assert ours == git_says, f"{name!r}: ours {ours}, git {result.returncode == 0}"


@given(st.text(max_size=70))
@example("A" * 40)
@example(" " + "ab" * 20 + "\n")
def test_a_commit_id_is_accepted_only_as_a_full_lowercase_hex_id(text: str) -> None:
    try:
        sha = validate_commit_sha(text)
    except InvalidGitInputError:
        return
    assert len(sha) in {40, 64}
    assert set(sha) <= set("0123456789abcdef")
    assert sha == text.strip().lower()


URL_PIECES = st.sampled_from(["https://", "ssh://", "git+ssh://", "git@", "@", ":", "/", "[", "]"])
url_like = st.lists(st.one_of(URL_PIECES, st.text(max_size=6)), max_size=8).map("".join)


@given(st.one_of(st.text(max_size=80), url_like))
@example("https://[::1")
@example("https://host:99999/x.git")
@example("https://tok:se/cret@host/x.git")
@example("http://[bad/x.git")
@example("ssh://user@[::1/x.git")
@example("-oProxyCommand=evil:x")
@example("git@host:-x")
def test_parsing_any_text_raises_nothing_but_a_codeferry_error(text: str) -> None:
    parsed = accepted_or_refused_in_one_line(lambda: parse_git_url(text), CodeferryError)
    if parsed is None:
        return
    assert not parsed.url.startswith("-")
    is_git_source(text)


hosts = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,5}){0,2}", fullmatch=True)
paths = st.from_regex(r"(/[A-Za-z0-9._-]{1,12}){1,3}", fullmatch=True)
users = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12)
passwords = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=24)


@given(
    scheme=st.sampled_from(["https", "http", "git+https", "ssh", "git+ssh"]),
    host=hosts,
    port=st.none() | st.integers(1, 65535),
    path=paths,
    user=users,
    password=passwords,
)
def test_credentials_in_a_url_come_out_of_it_intact(
    scheme: str, host: str, port: int | None, path: str, user: str, password: str
) -> None:
    netloc = f"{host}:{port}" if port else host
    url = f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{netloc}{path}"
    parsed = parse_git_url(url)
    clean = urlsplit(parsed.url)
    assert "@" not in clean.netloc, parsed.url
    assert clean.password is None, parsed.url
    assert (clean.hostname, clean.port, clean.path) == (host, port, path)
    assert (parsed.username, parsed.secret) == (user, password)
    assert f"secret={password!r}" not in repr(parsed), "the secret is no part of the repr"
    again = parse_git_url(parsed.url)
    assert (again.url, again.secret) == (parsed.url, None), "a clean URL parses to itself"


@given(host=hosts, path=paths, token=users)
def test_a_lone_token_in_an_https_url_is_taken_out_too(host: str, path: str, token: str) -> None:
    parsed = parse_git_url(f"https://{quote(token, safe='')}@{host}{path}")
    assert parsed.url == f"https://{host}{path}"
    assert parsed.username == token


@pytest.mark.parametrize(
    "url", ["ssh://git@example.com/org/repo.git", "git@example.com:org/repo.git"]
)
def test_an_ssh_login_name_stays_in_the_url(url: str) -> None:
    parsed = parse_git_url(url)
    assert parsed.url == url
    assert parsed.username == "git"
    assert parsed.secret is None
