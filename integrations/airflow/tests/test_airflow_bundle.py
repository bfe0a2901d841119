"""codeferry's DAG bundle inside Airflow 3: the calls Airflow makes, and Airflow's own processes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.servers.git_http import GitHttpServer, GitRepos
from tests.servers.moto_s3 import TEST_KEY, TEST_SECRET, MotoServer

CLASSPATH = "codeferry_airflow.CodeferryDagBundle"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def dag_file(version: int, dag_id: str = "hello_codeferry") -> str:
    """A DAG whose one task appends ``v<version>`` to the file named by ``$MARKER_FILE``.

    The version is in the DAG's description too: Airflow records a new DAG version only when
    the DAG's structure changes, not its tasks' code.
    """
    return textwrap.dedent(
        f"""
        import datetime
        import os

        from airflow.sdk import dag, task


        @dag(
            schedule=None,
            start_date=datetime.datetime(2024, 1, 1),
            catchup=False,
            description="version {version}",
        )
        def {dag_id}():
            @task
            def say():
                with open(os.environ["MARKER_FILE"], "a") as marker:
                    marker.write("v{version}\\n")

            say()


        {dag_id}()
        """
    )


def configure(monkeypatch: pytest.MonkeyPatch, **kwargs: object) -> None:
    """Configure one bundle named ``flows`` as ``[dag_processor] dag_bundle_config_list`` does."""
    config = [{"name": "flows", "classpath": CLASSPATH, "kwargs": kwargs}]
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(config))


def bundle_for(version: str | None = None) -> object:
    """The bundle as Airflow's processes get it: through its bundle manager, by name."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    return DagBundlesManager().get_bundle("flows", version=version)


def write_source(folder: Path, version: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hello_dag.py").write_text(dag_file(version))
    (folder / "helpers.py").write_text(f"VERSION = {version}\n")


def versions_of(bundle: object) -> str:
    version = bundle.get_current_version()  # type: ignore[attr-defined]
    return getattr(version, "version", version)


# -- the calls Airflow's processes make -----------------------------------------------------------


def test_bundle_pulls_the_source_into_its_path_and_reports_codeferry_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codeferry.checkouts import Checkout

    source = tmp_path / "src"
    write_source(source, 1)
    configure(monkeypatch, source=str(source))
    bundle = bundle_for()
    bundle.initialize()  # type: ignore[attr-defined]
    path = bundle.path  # type: ignore[attr-defined]
    assert (path / "hello_dag.py").read_text() == dag_file(1)
    checkout = Checkout(Path(bundle.base_dir) / "checkout")  # type: ignore[attr-defined]
    assert checkout.current is not None
    assert versions_of(bundle) == checkout.current.version


def test_refresh_brings_a_change_and_a_new_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "src"
    write_source(source, 1)
    configure(monkeypatch, source=str(source))
    bundle = bundle_for()
    bundle.initialize()  # type: ignore[attr-defined]
    first = versions_of(bundle)
    bundle.refresh()  # type: ignore[attr-defined]
    assert versions_of(bundle) == first  # nothing changed: same version
    write_source(source, 2)
    bundle.refresh()  # type: ignore[attr-defined]
    assert versions_of(bundle) != first
    assert "VERSION = 2" in (bundle.path / "helpers.py").read_text()  # type: ignore[attr-defined]


def test_initialize_brings_the_latest_as_airflows_own_bundles_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "src"
    write_source(source, 1)
    configure(monkeypatch, source=str(source))
    bundle_for().initialize()  # type: ignore[attr-defined]
    write_source(source, 2)
    restarted = bundle_for()  # a DAG processor started again, or `airflow dags test`
    restarted.initialize()  # type: ignore[attr-defined]
    assert "VERSION = 2" in (restarted.path / "helpers.py").read_text()  # type: ignore[attr-defined]


def test_task_runs_on_the_version_its_dag_run_started_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "src"
    write_source(source, 1)
    configure(monkeypatch, source=str(source))
    processor = bundle_for()
    processor.initialize()  # type: ignore[attr-defined]
    started_with = versions_of(processor)
    write_source(source, 2)
    processor.refresh()  # type: ignore[attr-defined]

    task_bundle = bundle_for(version=started_with)
    task_bundle.initialize()  # type: ignore[attr-defined]
    assert "VERSION = 1" in (task_bundle.path / "helpers.py").read_text()  # type: ignore[attr-defined]
    assert versions_of(task_bundle) == started_with
    assert "VERSION = 2" in (processor.path / "helpers.py").read_text()  # type: ignore[attr-defined]


def test_task_version_is_made_from_the_checkout_without_downloading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codeferry.checkouts import Checkout

    source = tmp_path / "src"
    write_source(source, 1)
    configure(monkeypatch, source=str(source))
    processor = bundle_for()
    processor.initialize()  # type: ignore[attr-defined]
    version = versions_of(processor)
    task_bundle = bundle_for(version=version)
    task_bundle.initialize()  # type: ignore[attr-defined]
    checkout = Checkout(Path(processor.base_dir) / "checkout")  # type: ignore[attr-defined]
    assert checkout.current is not None
    kept = checkout.current.directory / "hello_dag.py"
    task_file = task_bundle.path / "hello_dag.py"  # type: ignore[attr-defined]
    assert task_file.stat().st_ino == kept.stat().st_ino  # a hard link


def test_task_on_a_machine_that_never_pulled_pulls_then_runs_that_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "src"
    write_source(source, 1)
    configure(monkeypatch, source=str(source))
    processor = bundle_for()
    processor.initialize()  # type: ignore[attr-defined]
    version = versions_of(processor)
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH", str(tmp_path / "worker"))
    task_bundle = bundle_for(version=version)
    task_bundle.initialize()  # type: ignore[attr-defined]
    assert (task_bundle.path / "hello_dag.py").read_text() == dag_file(1)  # type: ignore[attr-defined]


def test_task_on_a_version_no_longer_kept_fails_naming_keep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.exceptions import AirflowException

    source = tmp_path / "src"
    write_source(source, 1)
    configure(monkeypatch, source=str(source), keep=1)
    processor = bundle_for()
    processor.initialize()  # type: ignore[attr-defined]
    old = versions_of(processor)
    write_source(source, 2)
    processor.refresh()  # type: ignore[attr-defined]
    task_bundle = bundle_for(version=old)
    with pytest.raises(AirflowException, match=r"no longer .* raise the bundle's `keep` \(now 1\)"):
        task_bundle.initialize()  # type: ignore[attr-defined]
    assert not (task_bundle.path).exists()  # type: ignore[attr-defined]


def test_bundle_pinned_to_a_version_refuses_to_refresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.exceptions import AirflowException

    configure(monkeypatch, source=str(tmp_path / "src"))
    with pytest.raises(AirflowException, match="pinned"):
        bundle_for(version="abc").refresh()  # type: ignore[attr-defined]


def test_refresh_waits_for_airflow_bundle_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "src"
    write_source(source, 1)
    configure(monkeypatch, source=str(source))
    holder, refresher = bundle_for(), bundle_for()
    done = threading.Event()

    def refresh() -> None:
        refresher.refresh()  # type: ignore[attr-defined]
        done.set()

    with holder.lock():  # type: ignore[attr-defined]
        thread = threading.Thread(target=refresh)
        thread.start()
        assert not done.wait(1.0)  # Airflow's lock is held by another bundle instance
    thread.join(60)
    assert done.is_set()


def test_airflow_stale_bundle_cleanup_removes_a_task_version_and_it_comes_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.bundles.base import (
        BundleUsageTrackingManager,
        BundleVersionLock,
        TrackedBundleVersionInfo,
    )
    from pendulum import DateTime

    source = tmp_path / "src"
    write_source(source, 1)
    configure(monkeypatch, source=str(source))
    processor = bundle_for()
    processor.initialize()  # type: ignore[attr-defined]
    version = versions_of(processor)
    task_bundle = bundle_for(version=version)
    task_bundle.initialize()  # type: ignore[attr-defined]
    with BundleVersionLock(bundle_name="flows", bundle_version=version) as lock:
        assert lock.lock_file_path is not None
        tracking = lock.lock_file_path
    info = TrackedBundleVersionInfo(lock_file_path=tracking, version=version, dt=DateTime.now())
    BundleUsageTrackingManager._remove_stale_bundle("flows", info)  # noqa: SLF001 - Airflow's cleanup
    assert not task_bundle.path.exists()  # type: ignore[attr-defined]
    again = bundle_for(version=version)
    again.initialize()  # type: ignore[attr-defined]
    assert (again.path / "hello_dag.py").read_text() == dag_file(1)  # type: ignore[attr-defined]


# -- Airflow's own processes ----------------------------------------------------------------------


def run_airflow(*args: str, env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run(
        [AIRFLOW, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    return output


def seen_versions(database: Path, dag_id: str) -> tuple[str, list[str]]:
    """The bundle version Airflow recorded last, and the bundle version of each DAG version."""
    with sqlite3.connect(database) as connection:
        (bundle,) = connection.execute(
            "SELECT version FROM dag_bundle WHERE name = 'flows'"
        ).fetchone()
        rows = connection.execute(
            "SELECT bundle_version FROM dag_version WHERE dag_id = ? AND bundle_name = 'flows' "
            "ORDER BY version_number",
            (dag_id,),
        ).fetchall()
    return bundle, [row[0] for row in rows]


def processor_then_change_then_test(
    database: Path,
    env: dict[str, str],
    change: Callable[[int], None],
    dag_id: str,
    marker: Path,
) -> None:
    """The DAG processor finds the DAG and a task runs it; after a change, a new version runs."""
    change(1)
    run_airflow("dag-processor", "--num-runs", "1", env=env)
    first, dag_versions = seen_versions(database, dag_id)
    assert dag_versions == [first]
    run_airflow("dags", "test", dag_id, env=env)
    assert marker.read_text() == "v1\n"

    change(2)
    run_airflow("dag-processor", "--num-runs", "1", env=env)
    second, dag_versions = seen_versions(database, dag_id)
    assert second != first
    # A DAG that ran gets a new DAG version, not an update. (`airflow dags test` writes the DAG
    # it parsed again, without a bundle version: the first one's is Airflow's business.)
    assert len(dag_versions) == 2, dag_versions
    assert dag_versions[-1] == second, dag_versions
    run_airflow("dags", "test", dag_id, env=env)
    assert marker.read_text() == "v1\nv2\n"


def test_dag_processor_and_dags_test_with_an_s3_bundle(
    airflow_database: Path,
    s3_server: MotoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = s3_server.client()
    client.create_bucket(Bucket="dags")
    dag_id = "hello_from_s3"

    def change(version: int) -> None:
        client.put_object(Bucket="dags", Key="prod/hello_dag.py", Body=dag_file(version, dag_id))

    configure(monkeypatch, source="s3://dags/prod")
    marker = tmp_path / "marker"
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": s3_server.endpoint,
        "AWS_ACCESS_KEY_ID": TEST_KEY,
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "MARKER_FILE": str(marker),
    }
    processor_then_change_then_test(airflow_database, env, change, dag_id, marker)


def test_dag_processor_and_dags_test_with_a_git_bundle_from_a_saved_block(
    airflow_database: Path,
    git_http_server: GitHttpServer,
    git_repos: GitRepos,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from codeferry_git.credentials import GitCredentials
    from codeferry_git.repository import GitRepository

    git_repos.bare("airflow-dags.git")
    worktree = git_repos.worktree("airflow-dags.git")
    dag_id = "hello_from_git"

    def change(version: int) -> None:
        git_repos.commit(worktree, {"dags/hello_dag.py": dag_file(version, dag_id).encode()})

    credentials = GitCredentials(username=git_http_server.user, token=git_http_server.password)
    credentials.save("ci")
    GitRepository(url=git_http_server.url("airflow-dags.git"), credentials=credentials).save("dags")
    configure(monkeypatch, source="block:git-repository/dags", subdir="dags")
    marker = tmp_path / "marker"
    env = {**os.environ, "MARKER_FILE": str(marker)}
    processor_then_change_then_test(airflow_database, env, change, dag_id, marker)
    logs = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*.log"))
    assert git_http_server.password not in logs
