"""A corpus of deployment files shaped like public ``prefect.yaml`` files, checked and pulled.

Each file in ``corpus/`` is written by us after a shape seen in a public repository (named in
its header; nothing is copied). Its header also says what ``deployment check`` must report::

    # expect: SEVERITY KIND TEXT      one line per problem, in file order; TEXT is what the
                                      problem's line and column point at (its start)
    # pull: BACKEND deployment=NAME   pull it against the test server for BACKEND
                                      (git, s3, gcs, azure, local)
    # pull-fails: TEXT                ...and the pull fails with TEXT (refused by the check
                                      before any step runs, or failing in a step)

A file without ``expect`` lines checks clean. Warnings that depend on this machine (blocks,
variables and environment variables missing here) are not part of the expectations.
"""

from __future__ import annotations

import functools
import re
import secrets
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from codeferry.checks import check_deployment_file
from codeferry.deployments import Step, parse_deployment_file
from codeferry.errors import CodeferryError, DeploymentFileError
from codeferry.plugins import Plugins, set_plugins
from codeferry.runs import pull_deployment
from tests.deployments.test_check import pointed

CORPUS = Path(__file__).with_name("corpus")
FILES = sorted(CORPUS.glob("*.yaml"))
NAMES = [path.stem for path in FILES]
IN_TREE = {
    name: f"codeferry_{name}.plugin"
    for name in ("local", "git", "github", "gitlab", "bitbucket", "s3", "gcs", "azure", "docker")
}
_MACHINE = frozenset({"missing-block", "missing-variable", "missing-env", "store"})
_SOURCE = re.compile(r"^# Modelled on: ([\w.-]+/[\w.-]+) \(")


@dataclass
class Header:
    """What a corpus file's leading comments say about it."""

    source: str | None = None
    expected: list[tuple[str, str, str]] = field(default_factory=list)
    backend: str | None = None
    deployment: str | None = None
    pull_fails: str | None = None


def header(path: Path) -> Header:
    found = Header()
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        if match := _SOURCE.match(line):
            found.source = match.group(1)
        elif line.startswith("# expect: "):
            severity, kind, *text = line.removeprefix("# expect: ").split(" ", 2)
            found.expected.append((severity, kind, text[0] if text else ""))
        elif line.startswith("# pull: "):
            backend, *options = line.removeprefix("# pull: ").split()
            found.backend = backend
            found.deployment = dict(o.split("=", 1) for o in options).get("deployment")
        elif line.startswith("# pull-fails: "):
            found.pull_fails = line.removeprefix("# pull-fails: ")
    return found


@pytest.fixture
def in_tree_plugins() -> Iterator[Plugins]:
    """Core and every plugin under plugins/, and nothing else installed on the machine."""
    registry = Plugins(IN_TREE, entry_points=False)
    previous = set_plugins(registry)
    yield registry
    set_plugins(previous)


def test_the_corpus_has_at_least_forty_files_each_naming_its_public_source() -> None:
    assert len(FILES) >= 40
    unnamed = [path.name for path in FILES if header(path).source is None]
    assert unnamed == []


@pytest.mark.parametrize("path", FILES, ids=NAMES)
def test_corpus_file_checks_with_exactly_its_expected_problems(
    path: Path, in_tree_plugins: Plugins
) -> None:
    problems = check_deployment_file(path, plugins=in_tree_plugins, environ={})
    found = [p for p in pointed(problems) if p[1] not in _MACHINE]
    expected = header(path).expected
    assert [(s, k) for s, k, _ in found] == [(s, k) for s, k, _ in expected], found
    for (_, _, text), (_, _, start) in zip(found, expected, strict=True):
        assert text.startswith(start), (text, start)


def test_the_files_that_check_clean_are_those_expecting_no_error(
    in_tree_plugins: Plugins,
) -> None:
    numbers = corpus_numbers(in_tree_plugins)
    expecting_errors = sum(
        any(severity == "error" for severity, _, _ in header(path).expected) for path in FILES
    )
    assert numbers["clean"] == numbers["files"] - expecting_errors
    assert 0 < numbers["resolved"] <= numbers["steps"]


def test_the_corpus_reports_what_this_machine_lacks_as_warnings_only(
    in_tree_plugins: Plugins,
) -> None:
    kinds: dict[str, set[str]] = {}
    for path in FILES:
        for problem in check_deployment_file(path, plugins=in_tree_plugins, environ={}):
            kinds.setdefault(problem.kind, set()).add(problem.severity)
    assert {kind: kinds[kind] for kind in _MACHINE & kinds.keys()} == {
        "missing-block": {"warning"},
        "missing-variable": {"warning"},
        "missing-env": {"warning"},
    }


# -- pulling against the test servers ----------------------------------------------------------

PULLED = [path for path in FILES if header(path).backend is not None]
TOKEN = "corpus-token-1f2e3d"


@dataclass
class Prepared:
    """A corpus file copied into a project folder, rewritten to point at a test server."""

    path: Path
    entrypoint_file: str
    requests_before: int = 0


@dataclass(frozen=True)
class Preparing:
    """What a backend's preparer gets: the corpus file, the project folder, the deployment, and
    the test's fixtures (servers are requested only by the backend that needs them)."""

    path: Path
    project: Path
    deployment: str | None
    request: pytest.FixtureRequest
    monkeypatch: pytest.MonkeyPatch


@pytest.mark.usefixtures("in_tree_plugins")
@pytest.mark.parametrize("path", PULLED, ids=[p.stem for p in PULLED])
def test_corpus_file_pulls_from_the_test_server(
    path: Path, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    about = header(path)
    prepare = {
        "git": _prepare_git,
        "s3": _prepare_s3,
        "gcs": _prepare_gcs,
        "azure": _prepare_azure,
        "local": _prepare_local,
    }[str(about.backend)]
    project = tmp_path / "project"
    project.mkdir()
    prepared = prepare(Preparing(path, project, about.deployment, request, monkeypatch))
    if about.pull_fails is not None:
        with pytest.raises(CodeferryError, match=re.escape(about.pull_fails)) as caught:
            pull_deployment(prepared.path, about.deployment)
        if about.backend == "git" and isinstance(caught.value, DeploymentFileError):
            # refused by the check, before any step ran: the server saw nothing
            server = request.getfixturevalue("git_http_server")
            assert len(server.requests) == prepared.requests_before
        return
    result = pull_deployment(prepared.path, about.deployment)
    assert (result.directory / prepared.entrypoint_file).is_file(), sorted(
        p.relative_to(result.directory).as_posix() for p in result.directory.rglob("*")
    )


def _chosen_steps(text: str, deployment: str | None) -> tuple[list[Step], list[Step]]:
    parsed = parse_deployment_file(text, "prefect.yaml", strict=False)
    chosen = parsed.select(deployment, "pull")
    push_for = parsed.deployment(deployment) if deployment else None
    return list(parsed.steps("pull", chosen)), list(parsed.steps("push", push_for))


def _entrypoint_file(text: str, deployment: str | None) -> str:
    parsed = parse_deployment_file(text, "prefect.yaml", strict=False)
    chosen = parsed.deployment(deployment) if deployment else parsed.deployments[0]
    assert chosen.entrypoint
    where = chosen.entrypoint.rsplit(":", 1)[0].removeprefix("./")
    return where if where.endswith(".py") else where.replace(".", "/") + ".py"


def _code_files(entrypoint_file: str) -> dict[str, bytes]:
    return {entrypoint_file: b"def flow(**kwargs):\n    return 'ran'\n", "requirements.txt": b""}


def _literal(step: Step, key: str, push: list[Step]) -> str:
    """An argument of ``step``: as written, or the push step's value it refers to."""
    value = str(step.arguments.get(key, ""))
    match = re.fullmatch(r"\{\{\s*([\w-]+)\.(\w+)\s*\}\}", value)
    if match is None:
        return value
    source = next(s for s in push if s.id == match.group(1))
    return str(source.arguments[match.group(2)])


def _blocks(text: str, slug: str) -> set[str]:
    return set(re.findall(rf"prefect\.blocks\.{re.escape(slug)}\.([\w-]+)", text))


def _prepare_local(job: Preparing) -> Prepared:
    path, project, deployment = job.path, job.project, job.deployment
    text = path.read_text()
    entrypoint_file = _entrypoint_file(text, deployment)
    for name, data in _code_files(entrypoint_file).items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_bytes(data)
    target = project / "prefect.yaml"
    shutil.copy(path, target)
    return Prepared(target, entrypoint_file)


def _prepare_git(job: Preparing) -> Prepared:
    from codeferry.blocks import Secret
    from codeferry_github.credentials import GitHubCredentials
    from codeferry_github.repository import GitHubRepository

    path, project, deployment, request = job.path, job.project, job.deployment, job.request
    server = request.getfixturevalue("git_http_server")
    repos = request.getfixturevalue("git_repos")
    text = path.read_text()
    entrypoint_file = _entrypoint_file(text, deployment)
    private = bool(_blocks(text, "github-credentials") or _blocks(text, "secret"))
    for url in sorted(set(re.findall(r"repository: (https://github\.com/\S+)", text))):
        name = f"corpus-{secrets.token_hex(4)}.git"
        repos.bare(name)
        worktree = repos.worktree(name)
        repos.commit(worktree, _code_files(entrypoint_file))
        for branch in set(re.findall(r"branch: (\S+)", text)) - {"main"}:
            repos.commit(worktree, {}, branch=branch)
        if not private:
            server.public.add(name)
        text = text.replace(url, server.url(name))
    for name in _blocks(text, "github-repository"):
        served = f"corpus-{secrets.token_hex(4)}.git"
        repos.bare(served)
        repos.commit(repos.worktree(served), _code_files(entrypoint_file))
        GitHubRepository(repository_url=server.url(served), reference="main").save(name)
    for name in _blocks(text, "github-credentials"):
        GitHubCredentials(token=TOKEN).save(name, overwrite=True)
    for name in _blocks(text, "secret"):
        Secret(value=TOKEN).save(name, overwrite=True)
    server.allow("x-access-token", TOKEN)
    target = project / "prefect.yaml"
    target.write_text(text)
    return Prepared(target, entrypoint_file, requests_before=len(server.requests))


def _prepare_s3(job: Preparing) -> Prepared:
    from codeferry_s3.credentials import AwsCredentials
    from tests.servers.moto_s3 import TEST_KEY, TEST_SECRET

    path, project, deployment = job.path, job.project, job.deployment
    server = job.request.getfixturevalue("s3_server")
    _isolate_aws(job.monkeypatch, project)
    for name, value in {
        "AWS_ACCESS_KEY_ID": TEST_KEY,
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET,
        "AWS_ENDPOINT_URL": server.endpoint,
        "S3_ENDPOINT_URL": server.endpoint,
    }.items():
        job.monkeypatch.setenv(name, value)
    text = path.read_text()
    entrypoint_file = _entrypoint_file(text, deployment)
    pull, push = _chosen_steps(text, deployment)
    client = server.client()
    for step in (s for s in pull if s.name.endswith("pull_from_s3")):
        bucket, folder = _literal(step, "bucket", push), _literal(step, "folder", push)
        client.create_bucket(Bucket=bucket)
        for name, data in _code_files(entrypoint_file).items():
            client.put_object(Bucket=bucket, Key=f"{folder.strip('/')}/{name}", Body=data)
    for name in _blocks(text, "aws-credentials"):
        AwsCredentials(
            aws_access_key_id=TEST_KEY,
            aws_secret_access_key=TEST_SECRET,
            aws_client_parameters={"endpoint_url": server.endpoint},
        ).save(name, overwrite=True)
    target = project / "prefect.yaml"
    target.write_text(text)
    return Prepared(target, entrypoint_file)


def _isolate_aws(monkeypatch: Any, folder: Path) -> None:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(folder / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(folder / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _prepare_gcs(job: Preparing) -> Prepared:
    from codeferry_gcs.credentials import GcpCredentials
    from tests.gcs.conftest import Objects

    path, project, deployment = job.path, job.project, job.deployment
    emulator = job.request.getfixturevalue("gcs_emulator")
    job.monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator.endpoint)
    text = path.read_text()
    entrypoint_file = _entrypoint_file(text, deployment)
    pull, push = _chosen_steps(text, deployment)
    for step in (s for s in pull if s.name.endswith("pull_from_gcs")):
        bucket, folder = _literal(step, "bucket", push), _literal(step, "folder", push)
        emulator.create_bucket(bucket)
        Objects(emulator, bucket).replace(folder, _code_files(entrypoint_file))
    for name in _blocks(text, "gcp-credentials"):
        GcpCredentials(project=emulator.project).save(name, overwrite=True)
    target = project / "prefect.yaml"
    target.write_text(text)
    return Prepared(target, entrypoint_file)


def _prepare_azure(job: Preparing) -> Prepared:
    from azure.storage.blob import ContainerClient

    path, project, deployment, request = job.path, job.project, job.deployment, job.request
    from codeferry_azure.credentials import AzureBlobStorageCredentials

    server = request.getfixturevalue("azurite_server")
    text = path.read_text()
    entrypoint_file = _entrypoint_file(text, deployment)
    pull, push = _chosen_steps(text, deployment)
    for step in (s for s in pull if s.name.endswith("pull_from_azure_blob_storage")):
        container = _literal(step, "container", push)
        folder = _literal(step, "folder", push)
        server.create_container(container)
        request.addfinalizer(functools.partial(server.delete_container, container))
        with ContainerClient.from_connection_string(
            server.connection_string(), container
        ) as client:
            for name, data in _code_files(entrypoint_file).items():
                client.upload_blob(f"{folder.strip('/')}/{name}", data, overwrite=True)
    for name in _blocks(text, "azure-blob-storage-credentials"):
        AzureBlobStorageCredentials(connection_string=server.connection_string()).save(
            name, overwrite=True
        )
    target = project / "prefect.yaml"
    target.write_text(text)
    return Prepared(target, entrypoint_file)


def corpus_numbers(plugins: Plugins) -> Mapping[str, int]:
    """How many corpus files check clean and how many of their steps resolve (for the notes)."""
    from codeferry.deployments import SECTIONS
    from codeferry.errors import CodeferryError as Refused
    from codeferry.steps.resolution import resolve_step

    clean = steps = resolved = 0
    for path in FILES:
        problems = check_deployment_file(path, plugins=plugins, environ={})
        clean += not any(p.severity == "error" for p in problems)
        parsed = parse_deployment_file(path.read_text(), path, strict=False)
        seen = [s for section in SECTIONS for s in getattr(parsed, section)]
        for deployment in parsed.deployments:
            seen += [s for section in SECTIONS for s in getattr(deployment, section) or ()]
        for step in {s.location: s for s in seen}.values():
            steps += 1
            try:
                resolve_step(step, plugins=plugins, allow_import_steps=False)
            except Refused:
                continue
            resolved += 1
    return {"files": len(FILES), "clean": clean, "steps": steps, "resolved": resolved}
