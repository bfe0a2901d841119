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
import json
import os
import random
import secrets
import string
import sys
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from pydantic import SecretStr

from codeferry.blocks import Block
from codeferry_git.credentials import GitCredentials
from codeferry_git.repository import GitRepository
from codeferry_s3.bucket import S3Bucket
from codeferry_s3.credentials import AwsCredentials
from tests.git.conftest import Served
from tests.git.processes import ProcessWatcher
from tests.reliability.conftest import GIT_CLIENTS, TRIALS, run_codeferry, trial, version_files
from tests.remote.object_stores import tree
from tests.s3.conftest import BUCKET, Objects

pytestmark = pytest.mark.reliability

S = TypeVar("S", bound=Block)


class Evidence:
    """Everything a secret must not be found in."""

    def __init__(self) -> None:
        self.outputs: list[bytes] = []
        self.snapshots: set[bytes] = set()
        self.commands = 0

    def run(
        self,
        *args: str,
        env: dict[str, str],
        ok: bool = True,
        cwd: Path | None = None,
        input: bytes | None = None,
    ) -> bytes:
        """Run ``python -m codeferry ARGS``, keeping all it prints; returns its standard output."""
        done = run_codeferry(*args, env=env, ok=ok, cwd=cwd, input=input)
        self.commands += 1
        self.outputs += [done.stdout, done.stderr]
        return done.stdout

    def codeferry(
        self, *args: str, env: dict[str, str], ok: bool = True, secret_in_env: bool = False
    ) -> bytes:
        """Run ``python -m codeferry ARGS`` while watching /proc; returns its standard output.

        ``secret_in_env``: the secret is given in the environment (``@env:``), on purpose, so
        only command lines are searched while this one runs.
        """
        watched = ("cmdline",) if secret_in_env else ("cmdline", "environ")
        with ProcessWatcher(watched, pause=0.01) as watcher:
            done = run_codeferry(*args, env=env, ok=ok)
        self.snapshots |= watcher.seen
        self.commands += 1
        self.outputs += [done.stdout, done.stderr]
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


ESCAPES: tuple[Callable[[str], str], ...] = (
    lambda text: urllib.parse.quote(text, safe=""),
    urllib.parse.quote,
    urllib.parse.quote_plus,
    lambda text: json.dumps(text)[1:-1],
    lambda text: json.dumps(text, ensure_ascii=False)[1:-1],
)
"""How a text is written in a URL or in JSON."""


def _forms(secret: str) -> set[bytes]:
    """``secret`` in every form it may travel in, as bytes to look for.

    As is, URL-encoded (``quote`` and ``quote_plus``), JSON-escaped (ASCII or not), and inside
    any base64 text: the base64 characters that only the secret's bytes decide, at each of the
    three alignments a prefix (``user:`` of HTTP Basic, for any user) can put it in, in the
    standard and the URL-safe alphabet. A multi-line secret (a private key) is looked for line
    by line too.
    """
    found = {secret, *(escape(secret) for escape in ESCAPES)}
    data = secret.encode()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + data + b"\0\0").decode()
        core = encoded[-(-8 * shift // 6) : 8 * (shift + len(data)) // 6]
        found |= {core, core.translate(str.maketrans("+/", "-_"))}
    forms = {form.encode() for form in found if len(form) >= 8}
    for line in secret.splitlines() if "\n" in secret else ():
        if len(line.strip()) >= 16 and not line.startswith("-----"):
            forms |= _forms(line.strip())
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


@pytest.mark.parametrize("client", list(GIT_CLIENTS))
def test_a_git_token_saved_through_the_python_api_is_found_nowhere(
    git_host: Served, evidence: Evidence, codeferry_home: Path, tmp_path: Path, client: str
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
        env = {
            **os.environ,
            "CODEFERRY_HOME": str(codeferry_home),
            "CODEFERRY_GIT_BINARY": GIT_CLIENTS[client],
        }
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


# -- everything every command prints, on every backend ----------------------------------------

# Prints each secret it is given (in environment variables SECRET_*) in the forms it may travel
# in, on standard output and standard error: a program a step runs that shows what it should not.
ECHO_FORMS = """
import base64, json, os, sys, urllib.parse

for name, value in sorted(os.environ.items()):
    if name.startswith("SECRET_"):
        for stream in (sys.stdout, sys.stderr):
            print(name, value, file=stream)
            print(urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value), file=stream)
            print(json.dumps({"value": value}), file=stream)
            print("Basic", base64.b64encode(f"robot:{value}".encode()).decode(), file=stream)
"""

FLOW = """
import os


def main():
    print("the token is", os.environ["DEPLOY_TOKEN"])
    return {"token": os.environ["DEPLOY_TOKEN"]}
"""

# Characters that URL-encoding, JSON and shells treat specially, and some that are not ASCII.
_SPECIAL = "/+=%&?#\\\"' éü€"


def random_secret(rng: random.Random, prefix: str) -> str:
    """A secret of 20 to 40 characters, some of them special."""
    alphabet = string.ascii_letters + string.digits + _SPECIAL
    body = "".join(rng.choice(alphabet) for _ in range(rng.randint(20, 40)))
    return f"{prefix}-{body.strip()}x"


@dataclass
class SecretBackend:
    """Code on one backend, pulled with saved credentials that must never be shown."""

    family: str
    storage: Any  # a saved storage block: its to_pull_step() is the deployment's pull step
    publish: Callable[[Mapping[str, bytes]], None]
    secrets: list[str] = field(default_factory=list)
    bad: str | None = None  # a saved block of the same storage whose pull fails
    credential: str | None = None  # a template of a credential field, to be echoed
    env: dict[str, str] = field(default_factory=dict)

    @property
    def reference(self) -> str:
        return f"block:{self.storage.block_type_slug}/good"


def saved_good_and_bad(make: Callable[[str, str], S], good: str, bad: str) -> S:
    """``make(name, value)`` for the names "good" and "bad", each block saved under its name
    (``make`` saves the credentials it makes); the good one."""
    made = {name: make(name, value) for name, value in (("good", good), ("bad", bad))}
    for name, storage in made.items():
        storage.save(name)
    return made["good"]


def _local_backend(tmp_path: Path) -> SecretBackend:
    from codeferry_local.storage import LocalDirectory

    folder = tmp_path / "local-code"

    def publish(files: Mapping[str, bytes]) -> None:
        for path, data in files.items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(data)

    storage = LocalDirectory(path=str(folder))
    storage.save("good")
    return SecretBackend("local", storage, publish)


def _git_backend(request: pytest.FixtureRequest, client: str) -> SecretBackend:
    served: Served = request.getfixturevalue("git_host")
    name = f"scan-{secrets.token_hex(4)}.git"
    served.repos.bare(name)
    token, wrong = f"tok-{secrets.token_urlsafe(24)}", f"wrong-{secrets.token_urlsafe(24)}"
    served.server.allow("rel-user", token)
    request.addfinalizer(lambda: served.server.revoke("rel-user", token))

    def repository(block_name: str, value: str) -> GitRepository:
        credentials = GitCredentials(username="rel-user", token=SecretStr(value))
        credentials.save(block_name)
        return GitRepository(url=served.url(name), credentials=credentials)

    def publish(files: Mapping[str, bytes]) -> None:
        served.repos.fast_import(name, [files])

    good = saved_good_and_bad(repository, token, wrong)
    return SecretBackend(
        "git",
        good,
        publish,
        secrets=[token, wrong],
        bad="block:git-repository/bad",
        credential="{{ blocks.git-credentials.good.token }}",
        env={"CODEFERRY_GIT_BINARY": GIT_CLIENTS[client]},
    )


@dataclass
class SignedObjects(Objects):
    """The bucket's objects, written with the one key the server accepts once auth is on."""

    key: str = ""
    secret: str = field(default="", repr=False)

    @property
    def client(self) -> Any:
        return self.server.client(key=self.key, secret=self.secret)


def _s3_backend(request: pytest.FixtureRequest) -> SecretBackend:
    unsigned: Objects = request.getfixturevalue("objects")
    key, secret = unsigned.server.enable_auth()
    objects = SignedObjects(unsigned.server, unsigned.bucket, key, secret)
    wrong = f"wrong-{secrets.token_urlsafe(24)}"

    def bucket(block_name: str, value: str) -> S3Bucket:
        endpoint = {"endpoint_url": objects.server.endpoint}
        credentials = AwsCredentials(
            aws_access_key_id=key,
            aws_secret_access_key=SecretStr(value),
            aws_client_parameters=endpoint,
        )
        credentials.save(block_name)
        return S3Bucket(bucket_name=BUCKET, bucket_folder="code", credentials=credentials)

    good = saved_good_and_bad(bucket, secret, wrong)
    return SecretBackend(
        "s3",
        good,
        lambda files: objects.replace("code", files),
        secrets=[secret, wrong],
        bad="block:s3-bucket/bad",
        credential="{{ blocks.aws-credentials.good.aws_secret_access_key }}",
        env={"AWS_EC2_METADATA_DISABLED": "true"},
    )


def _azure_backend(request: pytest.FixtureRequest) -> SecretBackend:
    from codeferry_azure.container import AzureBlobStorageContainer
    from codeferry_azure.credentials import AzureBlobStorageCredentials
    from tests.azure.conftest import Blobs

    server = request.getfixturevalue("azurite_server")
    blobs = Blobs(server, request.getfixturevalue("azurite_container"))
    wrong = base64.b64encode(secrets.token_bytes(64)).decode()

    def container(block_name: str, key: str) -> AzureBlobStorageContainer:
        connection_string = server.connection_string(key=key)
        credentials = AzureBlobStorageCredentials(connection_string=connection_string)
        credentials.save(block_name)
        return AzureBlobStorageContainer(
            container_name=blobs.container, base_folder="code", credentials=credentials
        )

    good = saved_good_and_bad(container, server.key, wrong)
    return SecretBackend(
        "azure",
        good,
        lambda files: blobs.replace("code", files),
        secrets=[server.key, wrong, server.connection_string()],
        bad="block:azure-blob-storage-container/bad",
        credential="{{ blocks.azure-blob-storage-credentials.good.connection_string }}",
    )


def _gcs_backend(request: pytest.FixtureRequest) -> SecretBackend:
    from codeferry_gcs.bucket import GcsBucket
    from codeferry_gcs.credentials import GcpCredentials
    from tests.gcs.conftest import Objects as GcsObjects
    from tests.gcs.conftest import service_account_info

    emulator = request.getfixturevalue("gcs_emulator")
    tokens = request.getfixturevalue("token_server")
    tokens.access_token = f"ya29.{secrets.token_urlsafe(32)}"
    emulator.create_bucket("scan-bucket")
    objects = GcsObjects(emulator, "scan-bucket")
    info = service_account_info(tokens.url)
    credentials = GcpCredentials(service_account_info=info)
    credentials.save("good")

    def bucket_of(_block_name: str, bucket: str) -> GcsBucket:
        endpoint = emulator.endpoint
        return GcsBucket(
            bucket=bucket, bucket_folder="code", gcp_credentials=credentials, endpoint_url=endpoint
        )

    good = saved_good_and_bad(bucket_of, "scan-bucket", "no-such-bucket")
    return SecretBackend(
        "gcs",
        good,
        lambda files: objects.replace("code", files),
        secrets=[info["private_key"], tokens.access_token],
        bad="block:gcs-bucket/bad",
        credential="{{ blocks.gcp-credentials.good.service_account_info.private_key }}",
    )


def _docker_backend(request: pytest.FixtureRequest) -> SecretBackend:
    from codeferry_docker.credentials import DockerRegistryCredentials
    from codeferry_docker.storage import OciImage
    from tests.docker.images import RawPusher, config_for, layer

    registry = request.getfixturevalue("oci_registry")
    assert registry.username
    assert registry.password
    pusher = RawPusher(registry.url, registry.username, registry.password)
    request.addfinalizer(pusher.close)
    repository = f"scan/code{secrets.token_hex(4)}"
    wrong = f"wrong-{secrets.token_urlsafe(18)}"

    def image(block_name: str, password: str) -> OciImage:
        credentials = DockerRegistryCredentials(
            username=registry.username, password=password, registry_url=registry.url
        )
        credentials.save(block_name)
        return OciImage(image=registry.image(repository, "v1"), credentials=credentials)

    good = saved_good_and_bad(image, registry.password, wrong)

    def publish(files: Mapping[str, bytes]) -> None:
        code = layer({f"app/{path}": data for path, data in files.items()})
        pusher.image(repository, "v1", [code], config_for([code], workdir="/app"))

    return SecretBackend(
        "docker",
        good,
        publish,
        secrets=[registry.password, wrong],
        bad="block:oci-image/bad",
        credential="{{ blocks.docker-registry-credentials.good.password }}",
    )


@pytest.fixture(params=["local", *GIT_CLIENTS, "s3", "azure", "gcs", "docker"])
def secret_backend(request: pytest.FixtureRequest, tmp_path: Path) -> SecretBackend:
    """A backend holding nothing yet, with saved credentials (good and bad) for it (in the
    test's home: ``codeferry_home`` is autouse, so it is made first)."""
    if request.param == "local":
        return _local_backend(tmp_path)
    if request.param in GIT_CLIENTS:
        return _git_backend(request, request.param)
    builders = {
        "s3": _s3_backend,
        "azure": _azure_backend,
        "gcs": _gcs_backend,
        "docker": _docker_backend,
    }
    return builders[request.param](request)


# A scan costs a dozen commands per backend: it makes one trial in ten of the suite's.
SCAN_TRIALS = max(1, TRIALS // 10)


def test_no_command_prints_a_secret_in_any_form_on_any_backend(
    secret_backend: SecretBackend,
    evidence: Evidence,
    codeferry_home: Path,
    tmp_path: Path,
    rng: random.Random,
) -> None:
    backend = secret_backend
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CODEFERRY_"))}
    env |= {"CODEFERRY_HOME": str(codeferry_home), **backend.env}
    for number in range(1, SCAN_TRIALS + 1):
        block_secret = random_secret(rng, "blk")
        env_token = random_secret(rng, "env")
        backend.publish({"flow.py": FLOW.encode(), "pkg/mod.py": f"N = {number}\n".encode()})
        project = tmp_path / f"project-{number}"
        project.mkdir()
        (project / "echo_forms.py").write_text(ECHO_FORMS)
        shown = {
            "SECRET_BLOCK": "{{ blocks.secret.api }}",
            "SECRET_ENV": "{{ $DEPLOY_TOKEN }}",
            **({"SECRET_CREDENTIAL": backend.credential} if backend.credential else {}),
        }
        echo = {"script": f"{sys.executable} echo_forms.py", "env": shown}
        deployment = {
            "pull": [{"run_shell_script": echo}, backend.storage.to_pull_step()],
            "deployments": [{"name": "flow", "entrypoint": "flow.py:main"}],
        }
        (project / "codeferry.yaml").write_text(yaml.safe_dump(deployment))
        trial_env = {**env, "DEPLOY_TOKEN": env_token}
        evidence.run(
            "block", "create", "secret", "api", "--overwrite", "--json", "-",
            env=trial_env, input=json.dumps({"value": block_secret}).encode(),
        )  # fmt: skip
        dest = tmp_path / f"dest-{number}"
        evidence.run("pull", "--dest", str(dest), env=trial_env, cwd=project)
        evidence.run("pull", "--json", "--dest", str(dest), env=trial_env, cwd=project)
        evidence.run("run", "flow", env=trial_env, cwd=project)
        source_dest = str(tmp_path / f"source-{number}")
        evidence.run("pull", backend.reference, "--dest", source_dest, env=trial_env)
        evidence.run("pull", backend.reference, "--json", "--dest", source_dest, env=trial_env)
        evidence.run("run", backend.reference, "flow.py:main", env=trial_env)
        if backend.bad:
            evidence.run("pull", backend.bad, "--dest", source_dest, env=trial_env, ok=False)
        evidence.run("block", "inspect", backend.reference.removeprefix("block:"), env=env)
        evidence.run("block", "ls", "--json", env=env)
        evidence.run("deployment", "ls", env=env, cwd=project)
        found = evidence.hits(tmp_path, *backend.secrets, block_secret, env_token)
        assert found == [], (trial(rng, number), backend.family, found)
    assert evidence.commands == SCAN_TRIALS * (11 if backend.bad else 10)
