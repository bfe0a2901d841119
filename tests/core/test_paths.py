"""Paths from storage never land outside the destination."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codeferry.errors import UnsafePathError
from codeferry.paths import is_git_name, is_git_path, safe_join, safe_relative_path
from codeferry.walk import walk_files

ROOT = Path("/dest/root")

segment = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="/\x00"),
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


def cased(name: str, upper: list[bool], tail: str) -> str:
    return "".join(c.upper() if u else c for c, u in zip(name, upper, strict=False)) + tail


# Git's names for its folder: any case, with the trailing dots and spaces Windows drops.
git_name = st.builds(
    cased,
    st.sampled_from([".git", "git~1"]),
    st.lists(st.booleans(), min_size=5, max_size=5),  # one per letter of either name
    st.text(alphabet=". ", max_size=3),
)


@given(st.lists(segment, max_size=3), git_name, st.lists(segment, max_size=3))
def test_a_path_through_git_s_folder_is_left_out_and_never_joined(
    before: list[str], name: str, after: list[str]
) -> None:
    path = "/".join([*before, name, *after])
    assert is_git_path(path)
    with pytest.raises(UnsafePathError):
        safe_relative_path(path)


@given(st.lists(st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.~-]{0,15}", fullmatch=True), min_size=1))
def test_a_path_without_git_s_folder_is_not_left_out(parts: list[str]) -> None:
    if any(p.rstrip(". ").lower() in {".git", "git~1"} for p in parts):
        return
    assert not is_git_path("/".join(parts))


@pytest.mark.parametrize("name", [".git", ".GIT", ".Git", ".git.", ".git ", "GIT~1", "git~1.."])
def test_git_s_own_names_for_its_folder_are_git_names(name: str) -> None:
    assert is_git_name(name)


@pytest.mark.parametrize("name", [".github", ".gitignore", "git", ".git-blame", "a.git", "git~2"])
def test_names_that_only_look_like_git_s_folder_are_kept(name: str) -> None:
    assert not is_git_name(name)


def test_the_walk_of_a_folder_leaves_out_git_s_folder_and_a_submodule_s_git_file(
    tmp_path: Path,
) -> None:
    for path in [".git/hooks/post-checkout", ".GIT/config", "pkg/.git", "pkg/mod.py", "a.py"]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x")
    assert sorted(relative for relative, _ in walk_files(tmp_path)) == ["a.py", "pkg/mod.py"]
