""".dockerignore with Docker's own rules: what `docker build` keeps is what a code layer keeps.

The table holds cases worked out from Docker's documentation of .dockerignore and from the
behaviour moby's patternmatcher and BuildKit's walker are tested for; the properties check the
matcher against an independent reading of the documented rules and the walk against the
per-path decision.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from codeferry_docker.code_layer import project_files
from codeferry_docker.dockerignore import (
    DockerIgnore,
    DockerIgnoreError,
    go_clean,
    read_patterns,
)

# (patterns, path, excluded)
TABLE: list[tuple[list[str], str, bool]] = [
    # A pattern names a path from the context root, never a bare name anywhere.
    (["secret.txt"], "secret.txt", True),
    (["secret.txt"], "pkg/secret.txt", False),
    (["/secret.txt"], "secret.txt", True),
    (["./secret.txt"], "secret.txt", True),
    (["foo/bar"], "foo/bar", True),
    (["/foo/bar"], "foo/bar", True),
    (["foo/bar"], "x/foo/bar", False),
    (["foo/bar"], "foo/barn", False),
    # A matched folder takes everything under it; a trailing slash changes nothing.
    (["docs"], "docs/guide/index.md", True),
    (["docs/"], "docs/index.md", True),
    (["docs"], "docsite/index.md", False),
    # `*` and `?` stay inside one path component.
    (["*/temp*"], "somedir/temporary.txt", True),
    (["*/temp*"], "somedir/temp/file", True),
    (["*/temp*"], "temporary.txt", False),
    (["*/temp*"], "a/b/temporary.txt", False),
    (["*/*/temp*"], "somedir/subdir/temporary.txt", True),
    (["temp?"], "tempa", True),
    (["temp?"], "tempab", False),
    (["temp?"], "d/tempa", False),
    (["*.md"], "README.md", True),
    (["*.md"], "docs/README.md", False),
    (["a*/b"], "a/c/b", False),
    (["a*"], "ab/c", True),
    # `**` spans any number of folders, none included.
    (["**/*.go"], "main.go", True),
    (["**/*.go"], "cmd/tool/main.go", True),
    (["**/*.go"], "main.gone", False),
    (["**"], "anything/at/all", True),
    (["**/dir"], "dir/file", True),
    (["**/dir"], "a/b/dir/file", True),
    (["**/dir2/*"], "dir/dir2/file", True),
    (["**/dir2/**"], "dir/dir2/dir3/file", True),
    (["**file"], "dir/dir/file", True),
    (["**file"], "dir/myfile", True),
    (["**/.foo"], ".foo", True),
    (["**/.foo"], "bar.foo", False),
    (["dir/**"], "dir/dir2/file", True),
    (["abc/**"], "abc", False),
    (["abc/**"], "abc/def/ghi", True),
    (["a**/*.txt"], "a/dir/dir/file.txt", True),
    (["**/**/*.txt2"], "dir/dir/file.txt", False),
    # Classes, escapes and characters that mean something to regular expressions.
    (["a[b-d]e"], "ace", True),
    (["a[b-d]e"], "aae", False),
    (["a[^b-d]e"], "aze", True),
    (["[\\]a]"], "]", True),
    (["[x\\-]"], "-", True),
    (["a\\*b"], "a*b", True),
    (["a\\*b"], "axb", False),
    ([".*"], ".env", True),
    ([".*"], "env", False),
    (["abc.def"], "abcxdef", False),
    (["a(b)c/def"], "a(b)c/def", True),
    (["a.|)$(}+{bc"], "a.|)$(}+{bc", True),
    (["dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    # Exceptions: the last pattern that matches decides.
    (["*.md", "!README.md"], "README.md", False),
    (["*.md", "!README.md"], "CHANGES.md", True),
    (["*.md", "!README*.md", "README-secret.md"], "README-secret.md", True),
    (["*.md", "!README*.md", "README-secret.md"], "README-public.md", False),
    (["*.md", "README-secret.md", "!README*.md"], "README-secret.md", False),
    (["!fileutils.go", "*.go"], "fileutils.go", True),
    (["*.go", "!fileutils.go"], "fileutils.go", False),
    (["*", "!src"], "src/flow.py", False),
    (["*", "!src"], "setup.py", True),
    (["docs", "!docs/README.md"], "docs/README.md", False),
    (["docs", "!docs/README.md"], "docs/other.md", True),
    (["docs/*", "!docs/README.md"], "docs/README.md", False),
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["**", "!dist/*.whl"], "dist/x-1.0-py3-none-any.whl", False),
    (["build", "!build/keep/*"], "build/keep/a.txt", False),
    (["build", "!build/keep/*"], "build/drop/a.txt", True),
    (["logs", "!*/keep.log"], "logs/keep.log", False),
    # BuildKit's corners: a pattern counts for a folder's contents only if it was consulted at
    # the folder, and it is consulted only where it could change the verdict.
    (["a/b", "!a"], "a/b", True),
    (["a", "!a/b/c", "a"], "a/b/c", False),
]


@pytest.mark.parametrize(("patterns", "path", "excluded"), TABLE)
def test_each_path_is_decided_as_docker_build_decides_it(
    patterns: list[str], path: str, excluded: bool
) -> None:
    assert DockerIgnore.from_text("\n".join(patterns)).excludes(path) is excluded


def test_a_bare_name_drops_only_the_top_level_file_from_a_code_layer(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    for name in ("secret.txt", "pkg/secret.txt", "flow.py"):
        (tmp_path / name).write_text("x\n")
    (tmp_path / ".dockerignore").write_text("secret.txt\n")
    assert list(project_files(tmp_path)) == [".dockerignore", "flow.py", "pkg/secret.txt"]


def test_an_exception_inside_an_excluded_folder_brings_back_only_that_file(
    tmp_path: Path,
) -> None:
    for name in ("docs/README.md", "docs/guide.md", "logs/a/keep.log", "logs/drop.log"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n")
    (tmp_path / ".dockerignore").write_text("docs\n!docs/README.md\nlogs\n!logs/*/keep.log\n")
    assert list(project_files(tmp_path)) == [".dockerignore", "docs/README.md", "logs/a/keep.log"]


def test_the_ignore_file_is_read_as_docker_reads_it() -> None:
    text = (
        "\ufeff# a comment\r\n"
        "  # not a comment once trimmed\n"
        "\n"
        "  /build/  \r\n"
        "./dist//x/../y\n"
        "!  keep.txt\n"
        "//root\n"
        "/\n"
    )
    assert read_patterns(text) == [
        (2, "# not a comment once trimmed"),
        (4, "build"),
        (5, "dist/y"),
        (6, "!keep.txt"),
        (7, "root"),
        (8, "/"),
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("[", "not a valid pattern"),
        ("a[", "not a valid pattern"),
        ("[]a]", "not a valid pattern"),
        ("[x-]", "not a valid pattern"),
        ("[a-b-c]", "not a valid pattern"),
        ("[z-a]", "runs backwards"),
        ("foo\\", "not a valid pattern"),
        ("!", "'!' alone"),
        ("!   ", "'!' alone"),
    ],
)
def test_a_malformed_line_is_refused_naming_file_and_line(
    tmp_path: Path, line: str, reason: str
) -> None:
    (tmp_path / ".dockerignore").write_text(f"ok\n{line}\n")
    with pytest.raises(DockerIgnoreError, match=rf"^\.dockerignore: line 2: .*{re.escape(reason)}"):
        DockerIgnore.from_files(tmp_path, [".dockerignore"])


def test_go_clean_keeps_go_semantics() -> None:
    assert [go_clean(p) for p in ("", "//a", "a/", "a/../..", "/..", "./a/./b", "../x")] == [
        ".",
        "/a",
        "a",
        "..",
        "/",
        "a/b",
        "../x",
    ]


# -- properties -----------------------------------------------------------------------------

_NAMES = st.sampled_from(["a", "b", "ab", "a.md", "b.md", ".x"])
_PATHS = st.lists(_NAMES, min_size=1, max_size=4).map("/".join)
_SEGMENTS = st.sampled_from(["a", "b", "ab", "a.md", "*", "?", "a*", "*.md", "**", ".x"])
_SIMPLE = st.lists(_SEGMENTS, min_size=1, max_size=4).map("/".join)


def _segment_matches(pattern: str, name: str) -> bool:
    """`*` any run of characters, `?` one character, anything else itself (one component)."""
    if not pattern:
        return not name
    if pattern[0] == "*":
        return any(_segment_matches(pattern[1:], name[i:]) for i in range(len(name) + 1))
    if not name:
        return False
    return (pattern[0] == "?" or pattern[0] == name[0]) and _segment_matches(pattern[1:], name[1:])


def _documented_match(pattern: list[str], path: list[str], *, leading: bool) -> bool:
    """The documented rules: `**` is any number of folders, a trailing `**` at least one name."""
    if not pattern:
        return not path
    if pattern[0] == "**":
        rest = pattern[1:]
        if not rest:
            return len(path) >= (0 if leading else 1)
        return any(_documented_match(rest, path[i:], leading=False) for i in range(len(path) + 1))
    return bool(path) and (
        _segment_matches(pattern[0], path[0])
        and _documented_match(pattern[1:], path[1:], leading=False)
    )


def _documented_excluded(patterns: list[str], path: str) -> bool:
    """The rules in words, folder by folder from the top.

    The last pattern that matches decides. A pattern is consulted only where it could change the
    verdict (an exclusion where the path is kept so far, an exception where it is excluded); one
    that matched a folder when consulted matches everything under that folder.
    """
    parsed = [(raw.startswith("!"), go_clean(raw.removeprefix("!")).split("/")) for raw in patterns]
    parts = path.split("/")
    carried = [False] * len(parsed)
    excluded = False
    for end in range(1, len(parts) + 1):
        excluded = False
        here = []
        for (exception, segments), inherited in zip(parsed, carried, strict=True):
            hit = inherited or (
                exception == excluded and _documented_match(segments, parts[:end], leading=True)
            )
            here.append(hit)
            if hit:
                excluded = not exception
        carried = here
    return excluded


def _independent(pattern: str) -> bool:
    """Patterns where moby's fast paths and the documented reading agree.

    Left out: a `**` glued to other characters (`a**`, `**x`), where moby's fast paths test a
    plain prefix or suffix of the path.
    """
    return all(s == "**" or "**" not in s for s in pattern.split("/"))


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), _SIMPLE.filter(_independent)),
        min_size=1,
        max_size=4,
    ),
    _PATHS,
)
def test_matching_agrees_with_the_documented_rules(
    lines: list[tuple[bool, str]], path: str
) -> None:
    patterns = [f"!{p}" if exception else p for exception, p in lines]
    assert DockerIgnore(patterns).excludes(path) == _documented_excluded(patterns, path)


@settings(max_examples=300, deadline=None)
@given(_SIMPLE, _PATHS)
def test_leading_slash_dot_slash_and_trailing_slash_change_nothing(pattern: str, path: str) -> None:
    expected = DockerIgnore([pattern]).excludes(path)
    for spelling in (f"/{pattern}", f"./{pattern}", f"{pattern}/", f"  {pattern}  "):
        patterns = [line for _, line in read_patterns(spelling)]
        assert DockerIgnore(patterns).excludes(path) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(_SIMPLE, max_size=4), _PATHS)
def test_the_last_line_naming_a_path_decides(patterns: list[str], path: str) -> None:
    escaped = re.sub(r"([*?\[\]\\])", r"\\\1", path)
    assert DockerIgnore([*patterns, f"!{escaped}"]).excludes(path) is False
    assert DockerIgnore([*patterns, escaped]).excludes(path) is True


@settings(max_examples=200, deadline=None)
@given(_NAMES, st.lists(_NAMES, min_size=1, max_size=3))
def test_a_bare_name_never_reaches_into_folders(name: str, folders: list[str]) -> None:
    assume(folders[0] != name)
    assert DockerIgnore([name]).excludes("/".join([*folders, name])) is False


@settings(max_examples=150, deadline=None)
@given(
    st.lists(_PATHS, min_size=1, max_size=8, unique=True),
    st.lists(st.tuples(st.booleans(), _SIMPLE), min_size=1, max_size=4),
)
def test_the_walk_keeps_exactly_what_each_path_decision_keeps(
    tmp_path_factory: pytest.TempPathFactory, paths: list[str], lines: list[tuple[bool, str]]
) -> None:
    root = tmp_path_factory.mktemp("context")
    files = []
    for path in paths:
        target = root / path
        if any(p.is_file() for p in [*target.parents, target] if p != root) or target.is_dir():
            continue  # a path that is already a folder, or lies under a file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path)
        files.append(path)
    ignore = DockerIgnore([f"!{p}" if exception else p for exception, p in lines])
    expected = sorted(f for f in files if not ignore.excludes(f))
    assert sorted(ignore.walk(root)) == expected
