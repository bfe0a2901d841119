"""Secrets given to codeferry appear nowhere they could be read back.

Pulls run with an S3 secret key and a git HTTP token, saved as blocks through the CLI and the
Python API; then every file under the test's folder (the codeferry home with its block store, key
and checkouts, and the destinations), every output of the CLI, and what ``/proc/*/cmdline`` and
``/proc/*/environ`` showed while the pulls ran are searched for each secret in plain, base64
(HTTP Basic) and URL-quoted forms. The block store keeps secrets encrypted, so not even it holds
them in plain.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from codeferry_git.credentials import GitCredentials
from codeferry_git.repository import GitRepository
from codeferry_s3.bucket import S3Bucket
from codeferry_s3.credentials import AwsCredentials
from tests.git.conftest import Served
from tests.reliability.conftest import BUCKET, Objects, tree, version_files

pytestmark = pytest.mark.reliability


class ProcessWatcher:
    """Reads every process's command line and environment, over and over, until stopped."""

    def __init__(self, files: tuple[str, ...]) -> None:
        self.files = files
        self.seen: set[bytes] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            for process in Path("/proc").glob("[0-9]*"):
                for name in self.files:
                    with contextlib.suppress(OSError):  # gone already, or another user's
                        self.seen.add((process / name).read_bytes())
            self._stop.wait(0.01)  # sampling, not waiting: leave the CPU to the pull

    def __enter__(self) -> ProcessWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


class Evidence:
    """Everything a secret must not be found in."""

    def __init__(self) -> None:
        self.outputs: list[bytes] = []
        self.snapshots: set[bytes] = set()

    def codeferry(
        self, *args: str, env: dict[str, str], ok: bool = True, secret_in_env: bool = False
    ) -> bytes:
        """Run ``python -m codeferry ARGS`` while watching /proc; returns its standard output.

        ``secret_in_env``: the secret is given in the environment (``@env:``), on purpose, so
        only command lines are searched while this one runs.
        """
        watched = ("cmdline",) if secret_in_env else ("cmdline", "environ")
        with ProcessWatcher(watched) as watcher:
            done = subprocess.run(
                [sys.executable, "-m", "codeferry", *args],
                check=False,
                env=env,
                capture_output=True,
            )
        self.snapshots |= watcher.seen
        self.outputs += [done.stdout, done.stderr]
        assert (done.returncode == 0) is ok, (args, done.stdout, done.stderr)
        assert any(b"codeferry\0" + args[0].encode() in seen for seen in watcher.seen)
        return done.stdout

    def hits(self, folder: Path, *secret_values: str) -> list[str]:
        """Where any form of any of ``secret_values`` was found."""
        forms = {form for value in secret_values for form in _forms(value)}
        found = [
            f"file {p}" for p in _files(folder) if any(form in p.read_bytes() for form in forms)
        ]
        found += [f"CLI output {o[:200]!r}" for o in self.outputs if any(f in o for f in forms)]
        found += [
            f"/proc snapshot {s[:200]!r}" for s in self.snapshots if any(f in s for f in forms)
        ]
        return found


def _forms(secret: str) -> set[bytes]:
    forms = {secret.encode(), urllib.parse.quote(secret, safe="").encode()}
    for user in ("", "rel-user"):
        forms.add(base64.b64encode(f"{user}:{secret}".encode()))
    return forms


def _files(folder: Path) -> Iterator[Path]:
    return (p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


@pytest.fixture
def evidence() -> Evidence:
    return Evidence()


def test_an_s3_secret_key_saved_through_the_cli_is_found_nowhere(
    objects: Objects, evidence: Evidence, codeferry_home: Path, tmp_path: Path
) -> None:
    files = version_files(1, 5)
    objects.replace("code", files)
    key, secret = objects.server.enable_auth()
    wrong = f"wrong-{secrets.token_urlsafe(24)}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"CODEFERRY_HOME": str(codeferry_home), "AWS_EC2_METADATA_DISABLED": "true"}
    endpoint = json.dumps({"endpoint_url": objects.server.endpoint})
    evidence.codeferry(
        "block", "create", "aws-credentials", "good",
        "--set", f"aws_access_key_id={key}",
        "--set", "aws_secret_access_key=@env:RELIABILITY_SECRET",
        "--set", f"aws_client_parameters={endpoint}",
        env={**env, "RELIABILITY_SECRET": secret},
        secret_in_env=True,
    )  # fmt: skip
    evidence.codeferry(
        "block", "create", "s3-bucket", "good",
        "--set", f"bucket_name={BUCKET}",
        "--set", "bucket_folder=code",
        "--set", "credentials=@block:aws-credentials/good",
        env=env,
    )  # fmt: skip
    bad = AwsCredentials(
        aws_access_key_id=key,
        aws_secret_access_key=SecretStr(wrong),
        aws_client_parameters={"endpoint_url": objects.server.endpoint},
    )
    bad.save("bad")
    S3Bucket(bucket_name=BUCKET, bucket_folder="code", credentials=bad).save("bad")
    dest = tmp_path / "work" / "code"
    evidence.codeferry("pull", "block:s3-bucket/good", "--dest", str(dest), env=env)
    assert tree(dest) == files
    evidence.codeferry(
        "pull", "block:s3-bucket/bad", "--dest", str(tmp_path / "x"), env=env, ok=False
    )
    assert evidence.hits(tmp_path, secret, wrong) == []


def test_a_git_token_saved_through_the_python_api_is_found_nowhere(
    git_host: Served, evidence: Evidence, codeferry_home: Path, tmp_path: Path
) -> None:
    name = f"secret-{secrets.token_hex(4)}.git"
    git_host.repos.bare(name)
    files = version_files(1, 5)
    git_host.repos.fast_import(name, [files])
    token, wrong = f"tok-{secrets.token_urlsafe(24)}", f"wrong-{secrets.token_urlsafe(24)}"
    git_host.server.allow("rel-user", token)
    try:
        for block_name, value in (("good", token), ("bad", wrong)):
            credentials = GitCredentials(username="rel-user", token=SecretStr(value))
            credentials.save(block_name)
            GitRepository(url=git_host.url(name), credentials=credentials).save(block_name)
        env = {**os.environ, "CODEFERRY_HOME": str(codeferry_home)}
        dest = tmp_path / "work" / "code"
        evidence.codeferry("pull", "block:git-repository/good", "--dest", str(dest), env=env)
        assert tree(dest) == files
        evidence.codeferry(
            "pull", "block:git-repository/bad", "--dest", str(tmp_path / "x"), env=env, ok=False
        )
        evidence.codeferry("block", "inspect", "git-credentials/good", env=env)
    finally:
        git_host.server.revoke("rel-user", token)
    assert evidence.hits(tmp_path, token, wrong) == []
