"""codeferry inside Prefect 3: runner storage, Prefect's step engine, a real server and worker."""

from __future__ import annotations

import asyncio
import copy
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.servers.git_http import GitHttpServer, GitRepos
from tests.servers.moto_s3 import MotoServer

PREFECT = str(Path(sys.executable).with_name("prefect"))


def flow_file(label: str, flow_name: str = "hello") -> str:
    """A flow that appends ``label`` to ``$MARKER_FILE`` and returns the folder it ran in."""
    return textwrap.dedent(
        f"""
        import os

        from prefect import flow


        @flow
        def {flow_name}(name: str = "world") -> str:
            with open(os.environ["MARKER_FILE"], "a") as marker:
                marker.write("{label}\\n")
            return os.getcwd()
        """
    )


def write_folder(folder: Path, label: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hello.py").write_text(flow_file(label))
    return folder


# -- the storage object --------------------------------------------------------------------------


def test_codeferry_source_is_a_prefect_runner_storage(tmp_path: Path) -> None:
    from prefect.runner.storage import RunnerStorage

    from codeferry_prefect import CodeferrySource

    assert isinstance(CodeferrySource(str(write_folder(tmp_path / "src", "v1"))), RunnerStorage)


def test_pull_code_links_the_destination_to_a_new_version_and_keeps_the_old(
    tmp_path: Path,
) -> None:
    from codeferry_prefect import CodeferrySource

    source = write_folder(tmp_path / "src", "v1")
    storage = CodeferrySource(str(source))
    storage.set_base_path(tmp_path / "runner")
    asyncio.run(storage.pull_code())
    assert storage.destination.is_symlink()
    assert storage.destination.parent == tmp_path / "runner"
    assert "v1" in (storage.destination / "hello.py").read_text()
    first = storage.last
    assert first is not None

    write_folder(source, "v2")
    asyncio.run(storage.pull_code())
    assert "v2" in (storage.destination / "hello.py").read_text()
    assert "v1" in (first.directory / "hello.py").read_text()  # a running flow keeps its files


def test_runner_copies_share_the_source_and_compare_equal(tmp_path: Path) -> None:
    from codeferry_prefect import CodeferrySource

    storage = CodeferrySource(str(write_folder(tmp_path / "src", "v1")), pull_interval=30)
    copied = copy.deepcopy(storage)
    copied.set_base_path(tmp_path / "elsewhere")
    assert copied == storage
    assert copied.storage is storage.storage
    assert storage.destination.parent != copied.destination.parent
    assert copied.pull_interval == 30
    assert CodeferrySource(str(tmp_path / "src"), pull_interval=None) != storage


def test_pull_step_is_codeferrys_by_import_path_with_prefect_block_references(
    git_http_server: GitHttpServer,
) -> None:
    from codeferry_git.credentials import GitCredentials
    from codeferry_git.repository import GitRepository
    from codeferry_prefect import CodeferrySource

    credentials = GitCredentials(username="ci", token="not-in-the-step")
    credentials.save("ci")
    storage = CodeferrySource(
        GitRepository(url=git_http_server.url("x.git"), credentials=credentials)
    )
    step = storage.to_pull_step()
    assert step == {
        "codeferry_git.steps.git_clone": {
            "repository": git_http_server.url("x.git"),
            "credentials": "{{ prefect.blocks.git-credentials.ci }}",
        }
    }


def test_every_registered_codeferry_step_is_importable_by_prefects_engine() -> None:
    from prefect.utilities.importtools import import_object

    from codeferry.plugins import get_plugins

    steps = {info.function for info in get_plugins().steps.values()}
    assert len(steps) >= 4
    for function in steps:
        path = f"{function.__module__}.{function.__qualname__}"
        assert import_object(path) is function, path


# -- Prefect's own step engine -------------------------------------------------------------------


def run_prefect_steps(steps: list[dict[str, Any]]) -> dict[str, Any]:
    from prefect.deployments.steps.core import run_steps

    outputs: dict[str, Any] = asyncio.run(run_steps(steps))
    return outputs


@pytest.mark.usefixtures("prefect_server")
def test_prefect_runs_the_local_step_by_import_path(tmp_path: Path) -> None:
    source = write_folder(tmp_path / "src", "v1")
    outputs = run_prefect_steps(
        [{"codeferry_local.steps.pull_from_directory": {"path": str(source)}}]
    )
    assert "v1" in (Path(outputs["directory"]) / "hello.py").read_text()


@pytest.mark.usefixtures("prefect_server")
def test_prefect_gives_codeferry_s3_a_prefect_aws_block_as_a_dict(s3_server: MotoServer) -> None:
    from prefect_aws import AwsCredentials

    client = s3_server.client()
    client.create_bucket(Bucket="flows")
    client.put_object(Bucket="flows", Key="prod/hello.py", Body=flow_file("s3"))
    key, secret = s3_server.enable_auth()
    AwsCredentials(
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        aws_client_parameters={"endpoint_url": s3_server.endpoint},
    ).save("engine-ci", overwrite=True)
    step = {
        "codeferry_s3.steps.pull_from_s3": {
            "bucket": "flows",
            "folder": "prod",
            "credentials": "{{ prefect.blocks.aws-credentials.engine-ci }}",
        }
    }
    outputs = run_prefect_steps([step])
    assert "s3" in (Path(outputs["directory"]) / "hello.py").read_text()
    again = run_prefect_steps([step])
    assert again["directory"] == outputs["directory"]
    assert again["files"] == 0  # warm: nothing moved


@pytest.mark.usefixtures("prefect_server")
def test_prefect_gives_codeferry_git_a_secret_block_as_a_string(
    git_http_server: GitHttpServer, git_repos: GitRepos
) -> None:
    from prefect.blocks.system import Secret

    git_repos.bare("engine.git")
    git_repos.commit(git_repos.worktree("engine.git"), {"hello.py": flow_file("git").encode()})
    git_http_server.allow("x-access-token", "engine-token-5678")
    Secret(value="engine-token-5678").save("engine-git-token", overwrite=True)
    outputs = run_prefect_steps(
        [
            {
                "codeferry_git.steps.git_clone": {
                    "repository": git_http_server.url("engine.git"),
                    "access_token": "{{ prefect.blocks.secret.engine-git-token }}",
                }
            }
        ]
    )
    assert "git" in (Path(outputs["directory"]) / "hello.py").read_text()


# -- a Prefect server and a process worker ---------------------------------------------------------


def prefect(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [PREFECT, "--no-prompt", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    return output


def worker_runs_one(pool: str, deployment: str, env: dict[str, str]) -> str:
    """Start a run of ``deployment`` and let a process worker of ``pool`` execute it."""
    prefect("deployment", "run", deployment, env=env)
    output = prefect("worker", "start", "--pool", pool, "--type", "process", "--run-once", env=env)
    assert "Finished in state Completed" in output, output[-4000:]
    return output


def deploy_prefect_yaml(project: Path, pull_step: dict[str, Any], pool: str, env: dict[str, str]):
    import yaml

    prefect("work-pool", "create", pool, "--type", "process", "--overwrite", env=env)
    (project / "prefect.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "codeferry-integration",
                "pull": [pull_step],
                "deployments": [
                    {"name": pool, "entrypoint": "hello.py:hello", "work_pool": {"name": pool}}
                ],
            }
        )
    )
    prefect("deploy", "--all", cwd=project, env=env)


@pytest.mark.usefixtures("prefect_server")
def test_worker_runs_a_deployment_whose_pull_step_is_codeferrys_s3_step(
    s3_server: MotoServer, tmp_path: Path
) -> None:
    from prefect_aws import AwsCredentials

    client = s3_server.client()
    client.create_bucket(Bucket="flows")
    key, secret = s3_server.enable_auth()
    project = write_folder(tmp_path / "project", "s3 v1")
    for path in project.iterdir():
        client = s3_server.client(key, secret)
        client.put_object(Bucket="flows", Key=f"prod/{path.name}", Body=path.read_bytes())
    AwsCredentials(
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_client_parameters={"endpoint_url": s3_server.endpoint},
    ).save("worker-ci", overwrite=True)
    step = {
        "codeferry_s3.steps.pull_from_s3": {
            "bucket": "flows",
            "folder": "prod",
            "credentials": "{{ prefect.blocks.aws-credentials.worker-ci }}",
        }
    }
    marker = tmp_path / "marker"
    env = {**os.environ, "MARKER_FILE": str(marker)}
    deploy_prefect_yaml(project, step, "pool-s3", env)
    output = worker_runs_one("pool-s3", "hello/pool-s3", env)
    assert marker.read_text() == "s3 v1\n"
    assert secret not in output


@pytest.mark.usefixtures("prefect_server")
def test_worker_runs_a_deployment_whose_pull_step_is_codeferrys_git_step(
    git_http_server: GitHttpServer, git_repos: GitRepos, tmp_path: Path
) -> None:
    from prefect.blocks.system import Secret

    git_repos.bare("worker.git")
    worktree = git_repos.worktree("worker.git")
    project = write_folder(tmp_path / "project", "git v1")
    git_repos.commit(worktree, {"hello.py": (project / "hello.py").read_bytes()})
    git_http_server.allow("x-access-token", "worker-token-9012")
    Secret(value="worker-token-9012").save("worker-git-token", overwrite=True)
    step = {
        "codeferry_git.steps.git_clone": {
            "repository": git_http_server.url("worker.git"),
            "access_token": "{{ prefect.blocks.secret.worker-git-token }}",
        }
    }
    marker = tmp_path / "marker"
    env = {**os.environ, "MARKER_FILE": str(marker)}
    deploy_prefect_yaml(project, step, "pool-git", env)
    worker_runs_one("pool-git", "hello/pool-git", env)
    git_repos.commit(worktree, {"hello.py": flow_file("git v2").encode()})
    output = worker_runs_one("pool-git", "hello/pool-git", env)
    assert marker.read_text() == "git v1\ngit v2\n"
    assert "worker-token-9012" not in output


@pytest.mark.usefixtures("prefect_server")
def test_from_source_loads_and_runs_a_flow_and_deploys_it_for_a_worker(
    s3_server: MotoServer, tmp_path: Path
) -> None:
    client = s3_server.client()
    client.create_bucket(Bucket="sources")
    client.put_object(Bucket="sources", Key="flows/hello.py", Body=flow_file("from_source"))
    marker = tmp_path / "marker"
    env = {
        **os.environ,
        "MARKER_FILE": str(marker),
        "AWS_ENDPOINT_URL": s3_server.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing-secret-value",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    script = textwrap.dedent(
        """
        from prefect import flow

        from codeferry_prefect import CodeferrySource

        loaded = flow.from_source(CodeferrySource("s3://sources/flows"), "hello.py:hello")
        print("ran in", loaded())
        print("deployed", loaded.deploy(name="from-source", work_pool_name="pool-source"))
        """
    )
    prefect("work-pool", "create", "pool-source", "--type", "process", "--overwrite", env=env)
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert marker.read_text() == "from_source\n"
    output = prefect("deployment", "inspect", "hello/from-source", env=env)
    assert "codeferry_s3.steps.pull_from_s3" in output
    worker_runs_one("pool-source", "hello/from-source", env)
    assert marker.read_text() == "from_source\nfrom_source\n"


# -- codeferry's block types on a Prefect server --------------------------------------------------


@pytest.fixture(scope="module")
def registered_blocks(prefect_server: str) -> str:  # noqa: ARG001 - blocks register with it
    """``prefect block register -m codeferry_prefect.blocks`` run once; its output."""
    return prefect("block", "register", "-m", "codeferry_prefect.blocks")


def test_prefect_registers_codeferrys_own_block_types_and_leaves_its_integrations_alone(
    registered_blocks: str,
) -> None:
    listed = prefect("block", "type", "ls")
    for slug in ("git-repository", "git-credentials", "ssh-key", "local-directory"):
        assert slug in listed
    for name in ("Git Repository", "Git Credentials", "Local Directory"):
        assert name in registered_blocks
    for name in ("AWS Credentials", "S3 Bucket", "Secret"):  # prefect-aws's and Prefect's own
        assert name not in registered_blocks, registered_blocks


@pytest.mark.usefixtures("registered_blocks")
def test_a_codeferry_block_saved_in_prefect_converts_to_codeferrys() -> None:
    from codeferry_git.repository import GitRepository as CodeferryGitRepository
    from codeferry_prefect.blocks import GitCredentials, GitRepository

    credentials = GitCredentials(username="ci", token="kept-secret-3456")
    credentials.save("convert-ci", overwrite=True)
    GitRepository(url="https://git.example.com/flows.git", credentials=credentials).save(
        "convert", overwrite=True
    )
    loaded = GitRepository.load("convert").to_codeferry()
    assert isinstance(loaded, CodeferryGitRepository)
    assert loaded.url == "https://git.example.com/flows.git"
    assert loaded.credentials.git_credentials(loaded.url) == ("ci", "kept-secret-3456")


@pytest.mark.usefixtures("registered_blocks")
def test_prefect_gives_codeferry_git_a_codeferry_git_credentials_block_as_a_dict(
    git_http_server: GitHttpServer, git_repos: GitRepos
) -> None:
    from codeferry_prefect.blocks import GitCredentials

    git_repos.bare("blocks.git")
    git_repos.commit(git_repos.worktree("blocks.git"), {"hello.py": flow_file("block").encode()})
    git_http_server.allow("blocks-user", "blocks-token-7890")
    GitCredentials(username="blocks-user", token="blocks-token-7890").save("engine", overwrite=True)
    outputs = run_prefect_steps(
        [
            {
                "codeferry_git.steps.git_clone": {
                    "repository": git_http_server.url("blocks.git"),
                    "credentials": "{{ prefect.blocks.git-credentials.engine }}",
                }
            }
        ]
    )
    assert "block" in (Path(outputs["directory"]) / "hello.py").read_text()


@pytest.mark.usefixtures("registered_blocks")
def test_worker_pulls_a_codeferry_git_repository_block_with_prefects_pull_with_block(
    git_http_server: GitHttpServer, git_repos: GitRepos, tmp_path: Path
) -> None:
    from codeferry_prefect.blocks import GitCredentials, GitRepository

    git_repos.bare("with-block.git")
    project = write_folder(tmp_path / "project", "with_block")
    git_repos.commit(
        git_repos.worktree("with-block.git"), {"hello.py": (project / "hello.py").read_bytes()}
    )
    git_http_server.allow("block-user", "block-token-2468")
    credentials = GitCredentials(username="block-user", token="block-token-2468")
    credentials.save("worker", overwrite=True)
    GitRepository(url=git_http_server.url("with-block.git"), credentials=credentials).save(
        "worker", overwrite=True
    )
    step = {
        "prefect.deployments.steps.pull_with_block": {
            "block_type_slug": "git-repository",
            "block_document_name": "worker",
        }
    }
    marker = tmp_path / "marker"
    env = {**os.environ, "MARKER_FILE": str(marker)}
    deploy_prefect_yaml(project, step, "pool-block", env)
    output = worker_runs_one("pool-block", "hello/pool-block", env)
    assert marker.read_text() == "with_block\n"
    assert "block-token-2468" not in output


@pytest.mark.usefixtures("prefect_server")
def test_a_serving_runner_pulls_a_codeferry_source_and_runs_the_flow_from_it(
    tmp_path: Path,
) -> None:
    source = write_folder(tmp_path / "src", "served")
    marker = tmp_path / "marker"
    env = {**os.environ, "MARKER_FILE": str(marker)}
    # What flow.from_source(...).serve() does, with a runner that stops after one poll.
    script = textwrap.dedent(
        f"""
        import asyncio

        from prefect import flow
        from prefect.client.orchestration import get_client
        from prefect.runner import Runner

        from codeferry_prefect import CodeferrySource


        async def main():
            loaded = await flow.from_source(
                CodeferrySource({str(source)!r}, pull_interval=5), "hello.py:hello"
            )
            runner = Runner(name="codeferry-serve")
            deployment_id = await runner.aadd_deployment(await loaded.ato_deployment("served"))
            async with get_client() as client:
                run = await client.create_flow_run_from_deployment(deployment_id)
            await runner.start(run_once=True)
            async with get_client() as client:
                state = (await client.read_flow_run(run.id)).state
            print("state", state.type.value)


        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "state COMPLETED" in output, output[-4000:]
    # The runner pulled into its own folder (its base path), through codeferry's checkout.
    assert "Downloading flow code from storage at '/tmp/runner_storage/" in output, output[-4000:]
    assert list((tmp_path / "codeferry-home" / "checkouts").glob("*/versions/*/hello.py"))
    assert marker.read_text() == "served\n"
