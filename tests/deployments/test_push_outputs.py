"""Build and push step outputs used by pull steps: recorded by push, read by pull and run.

In Prefect, ``prefect deploy`` fills the pull steps' references to build and push outputs and
stores the result; here ``codeferry push`` records the outputs in the block store (encrypted), and
``codeferry pull``/``run`` resolve such references from the record.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from codeferry.errors import StepError, TemplateError
from codeferry.push_outputs import PushOutputs, record_name
from codeferry.runs import pull_deployment, push_deployment, run_deployment
from codeferry.secrets import MASK
from codeferry.settings import database_url
from codeferry.store import get_store
from tests.deployments import fake_steps
from tests.deployments.conftest import WriteFile

pytestmark = pytest.mark.usefixtures("steps_plugins")

FILE = """
name: shop
build:
  - outputs: {id: build-image, image: "registry.example/shop:abc123"}
push:
  - outputs: {id: upload, folder: src, bucket: code-bucket}
pull:
  - echo: {id: seen, image: "{{ build-image.image }}", bucket: "{{ bucket }}"}
  - pull_from_directory: {id: code, path: "{{ upload.folder }}"}
deployments:
  - name: web
    entrypoint: flows/hello.py:hello
    parameters: {name: "{{ build-image.image }}"}
"""


def test_pull_steps_read_the_outputs_push_recorded(write_file: WriteFile) -> None:
    path = write_file(FILE)
    pushed = push_deployment(path, "web")
    assert pushed.recorded == "shop:web"
    fake_steps.CALLS.clear()
    pulled = pull_deployment(path, "web")
    assert pulled.steps.outputs["seen"] == {
        "image": "registry.example/shop:abc123",
        "bucket": "code-bucket",
    }
    assert pulled.directory.joinpath("flows", "hello.py").is_file()


def test_run_fills_parameters_from_the_recorded_outputs(write_file: WriteFile) -> None:
    path = write_file(FILE)
    push_deployment(path, "web")
    assert run_deployment(path, "web") == "hello registry.example/shop:abc123!"


def test_without_a_record_the_error_says_to_push_first(write_file: WriteFile) -> None:
    path = write_file(FILE)
    with pytest.raises(TemplateError) as caught:
        pull_deployment(path, "web")
    message = str(caught.value)
    assert "pull step 1 'echo' (id seen): cannot resolve {{ build-image.image }}" in message
    assert "no build or push outputs are recorded for deployment 'web'" in message
    assert "`codeferry push --deployment web` records them" in message
    assert fake_steps.CALLS == []


def test_an_output_no_build_or_push_step_returned_names_the_record(write_file: WriteFile) -> None:
    path = write_file(FILE.replace("{{ bucket }}", "{{ upload.region }}"))
    push_deployment(path, "web")
    with pytest.raises(TemplateError, match=r"has no key 'region' \(it has: bucket, folder\)"):
        pull_deployment(path, "web")
    path = write_file(FILE.replace("{{ bucket }}", "{{ deploy.region }}"))
    with pytest.raises(
        TemplateError, match=r"nor did a build or push step that codeferry push ran"
    ):
        pull_deployment(path, "web")


def test_a_file_pushed_without_a_deployment_serves_every_deployment(write_file: WriteFile) -> None:
    path = write_file(FILE + "  - name: api\n    entrypoint: flows/hello.py:hello\n")
    pushed = push_deployment(path)
    assert pushed.recorded == "shop"
    assert {d.name for d in pushed.deployments} == {"web", "api"}
    assert pull_deployment(path, "api").steps.outputs["seen"]["bucket"] == "code-bucket"


def test_a_deployments_own_record_wins_over_the_files(write_file: WriteFile) -> None:
    path = write_file(FILE)
    push_deployment(path)
    text = FILE.replace("abc123", "def456")
    push_deployment(write_file(text), "web")
    assert pull_deployment(path, "web").steps.outputs["seen"]["image"].endswith("def456")


def test_outputs_of_the_pull_steps_themselves_come_first(write_file: WriteFile) -> None:
    path = write_file(FILE.replace("  - echo:", "  - outputs: {bucket: from-pull}\n  - echo:"))
    push_deployment(path, "web")
    assert pull_deployment(path, "web").steps.outputs["seen"]["bucket"] == "from-pull"


def test_the_record_is_encrypted_at_rest(write_file: WriteFile) -> None:
    push_deployment(write_file(FILE), "web")
    record = PushOutputs.load(record_name("shop", "web"))
    assert record.deployment == "web"
    database = Path(database_url().removeprefix("sqlite:///"))
    get_store().close()
    raw = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    assert b"registry.example/shop" not in raw


def test_secret_values_in_recorded_outputs_are_masked_in_pull_errors(
    write_file: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_TOKEN", "tok-in-an-output-123")
    path = write_file(
        """
        name: shop
        build:
          - echo: {id: login, header: "{{ $REGISTRY_TOKEN }}"}
        pull:
          - fail: {message: "{{ login.header }}"}
        """.replace("\n        ", "\n")
    )
    push_deployment(path)
    monkeypatch.delenv("REGISTRY_TOKEN")
    with pytest.raises(StepError, match=re.escape(f"RuntimeError: {MASK}")) as caught:
        pull_deployment(path)
    assert "tok-in-an-output-123" not in str(caught.value)


SHARED_FILE = """
name: shared
build:
  - run_shell_script: {id: where, script: "echo src", stream_output: false}
pull:
  - pull_from_directory: {path: "{{ where.stdout }}"}
"""


def test_workers_sharing_a_postgresql_store_read_the_record(
    postgres_url: str, tmp_path: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    monkeypatch.setenv("CODEFERRY_DATABASE_URL", postgres_url)
    monkeypatch.setenv("CODEFERRY_ENCRYPTION_KEY", key)
    path = project / "codeferry.yaml"
    path.write_text(SHARED_FILE)
    assert push_deployment(path).recorded == "shared"
    worker = {
        **os.environ,
        "CODEFERRY_HOME": str(tmp_path / "worker-home"),
        "CODEFERRY_DATABASE_URL": postgres_url,
        "CODEFERRY_ENCRYPTION_KEY": key,
    }
    done = subprocess.run(
        [sys.executable, "-m", "codeferry", "pull", "-f", str(path)],
        env=worker,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    pulled = Path(done.stdout.strip())
    assert pulled.joinpath("flows", "hello.py").is_file()
    assert str(tmp_path / "worker-home") in str(pulled)
