"""Image references: parsing, Docker Hub's short forms, round trips, and a light entry point."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codeferry.errors import CodeferryError
from codeferry_docker.references import parse_reference

component = st.from_regex(r"[a-z0-9]{1,8}([._-][a-z0-9]{1,8})?", fullmatch=True)
tags = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
digests = st.from_regex(r"sha256:[a-f0-9]{64}", fullmatch=True)
hosts = st.sampled_from(["127.0.0.1:5000", "ghcr.io", "localhost:8080", "registry.example.com"])


@given(hosts, st.lists(component, min_size=1, max_size=3), tags | st.none(), digests | st.none())
def test_a_reference_survives_a_round_trip(
    host: str, parts: list[str], tag: str | None, digest: str | None
) -> None:
    text = (
        f"{host}/{'/'.join(parts)}" + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    )
    parsed = parse_reference(f"docker://{text}")
    assert (parsed.registry, parsed.repository, parsed.digest) == (host, "/".join(parts), digest)
    assert parsed.tag == (tag or (None if digest else "latest"))
    assert parse_reference(str(parsed)) == parsed


@given(st.text(max_size=80))
def test_any_text_parses_or_is_a_one_line_codeferry_error(text: str) -> None:
    try:
        parse_reference(text)
    except CodeferryError as error:
        message = str(error)
    else:
        return
    assert "\n" not in message, "errors are one line, whatever the input"


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag"),
    [
        ("python:3.12", "registry-1.docker.io", "library/python", "3.12"),
        ("docker.io/acme/flows", "registry-1.docker.io", "acme/flows", "latest"),
        ("oci://localhost/flows:v1", "localhost", "flows", "v1"),
        ("127.0.0.1:5000/a/b/c:1.0", "127.0.0.1:5000", "a/b/c", "1.0"),
    ],
)
def test_short_forms_expand_as_docker_pull_does(
    text: str, registry: str, repository: str, tag: str
) -> None:
    parsed = parse_reference(text)
    assert (parsed.registry, parsed.repository, parsed.tag) == (registry, repository, tag)


def test_credentials_in_a_reference_are_refused_without_being_shown() -> None:
    with pytest.raises(CodeferryError) as caught:
        parse_reference("docker://me:s3cr3t@ghcr.io/acme/flows:v1")
    assert "s3cr3t" not in str(caught.value)


def test_the_entry_point_module_imports_neither_httpx_nor_docker() -> None:
    code = (
        "import sys, codeferry_docker.plugin; "
        "print(sorted({'httpx', 'docker', 'pathspec', 'zstandard'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
