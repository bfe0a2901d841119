"""Paths from storage never land outside the destination."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codeferry.errors import UnsafePathError
from codeferry.paths import safe_join, safe_relative_path

ROOT = Path("/dest/root")

segment = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"),
    min_size=0,
    max_size=20,
)
storage_path = st.lists(
    st.one_of(segment, st.sampled_from(["..", ".", "", ".git", "C:", "\\..\\x"])), max_size=6
).map("/".join)


@given(storage_path)
def test_joined_path_is_inside_root_or_refused(path: str) -> None:
    try:
        joined = safe_join(ROOT, path)
    except UnsafePathError:
        return
    assert os.path.commonpath([ROOT, os.path.normpath(joined)]) == str(ROOT)
    assert joined != ROOT
    assert ".." not in joined.relative_to(ROOT).parts


@given(st.lists(st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,15}", fullmatch=True), min_size=1))
def test_ordinary_paths_are_kept(parts: list[str]) -> None:
    if any(p.lower() == ".git" or p in {".", ".."} for p in parts):
        return
    assert safe_relative_path("/".join(parts)).parts == tuple(parts)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../etc/passwd", "'..'"),
        ("a/../../x", "'..'"),
        ("/root/.ssh/authorized_keys", "absolute"),
        ("C:/Windows/x", "drive letter"),
        ("a\\..\\x", "backslash"),
        ("a\x00b", "NUL"),
        (".git/hooks/post-checkout", ".git"),
        ("sub/.GIT/config", ".GIT"),
        ("", "names no file"),
        ("./.", "names no file"),
        ("a/" + "x" * 256, "longer than 255"),
    ],
)
def test_unsafe_paths_are_refused_with_a_reason(path: str, reason: str) -> None:
    with pytest.raises(UnsafePathError, match="path .*" + __import__("re").escape(reason)):
        safe_relative_path(path)


def test_redundant_separators_and_dots_are_normalised() -> None:
    assert safe_join(ROOT, "a//./b/") == ROOT / "a" / "b"
