"""Podman's Docker-compatible engine service for the tests, as a pytest plugin (``pytest_plugins``).

``podman_engine`` (session) runs ``podman system service`` on a unix socket in a temporary folder
with its own storage (vfs driver, no privileges needed), cgroups off and file events (no systemd
here), polls ``/_ping`` on the socket until it answers, and stops it at the end. The registries
of ``oci_registry`` and ``open_registry`` are listed as plain-HTTP ("insecure") registries, so
the engine can push to them.

``podman`` (Debian ``podman``) is needed: without it the tests that use the engine fail when
``CI=true`` and are skipped otherwise.

Known limit on machines like CI's (cgroup v2 in hybrid mode): ``RUN`` instructions fail in
builds through the service (crun refuses to create the container), so test Dockerfiles use only
``FROM``, ``COPY``, ``WORKDIR``, ``ENV``.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import logged_process, need_program, wait_until_ready
from tests.servers.registry import RegistryServer

__all__ = ["PodmanEngine"]

_READY_TIMEOUT = 30.0


@dataclass
class PodmanEngine:
    """A running Podman service: its socket, as ``DOCKER_HOST`` wants it."""

    directory: Path
    socket_path: Path

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket_path}"


def _ping(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(2)
            client.connect(str(path))
            client.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
            return client.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


@contextlib.contextmanager
def running_podman(insecure_registries: list[str]) -> Iterator[PodmanEngine]:
    program = need_program("podman", "apt-get install podman")
    directory = Path(tempfile.mkdtemp(prefix="codeferry-podman-"))
    registries = directory / "registries.conf"
    registries.write_text(
        "unqualified-search-registries = []\n"
        + "".join(
            f'[[registry]]\nlocation = "{host}"\ninsecure = true\n' for host in insecure_registries
        )
    )
    containers = directory / "containers.conf"
    containers.write_text(
        '[containers]\ncgroups = "disabled"\n[engine]\ncgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
    )
    path = directory / "podman.sock"
    environment = {
        "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": str(directory),
        "CONTAINERS_REGISTRIES_CONF": str(registries),
        "CONTAINERS_CONF": str(containers),
        "BUILDAH_ISOLATION": "chroot",
        "TMPDIR": str(directory),
    }
    log = directory / "podman.log"
    storage = ["--storage-driver", "vfs", "--root", str(directory / "root")]
    service = ["--runroot", str(directory / "run"), "system", "service", "--time", "0"]
    failure = "podman service did not start"
    try:
        with logged_process(
            [program, *storage, *service, f"unix://{path}"], log, env=environment, stop_timeout=15
        ) as process:
            wait_until_ready(lambda: _ping(path), process, log, failure, _READY_TIMEOUT)
            yield PodmanEngine(directory, path)
    finally:
        # vfs layers can hold read-only folders; make them writable before removing
        subprocess.run(["chmod", "-R", "u+w", str(directory)], check=False, capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def podman_engine(
    oci_registry: RegistryServer, open_registry: RegistryServer
) -> Iterator[PodmanEngine]:
    """Podman's Docker-compatible service for the whole session."""
    with running_podman([oci_registry.host, open_registry.host]) as engine:
        yield engine


@pytest.fixture
def docker_host(podman_engine: PodmanEngine, monkeypatch: pytest.MonkeyPatch) -> str:
    """``DOCKER_HOST`` pointing at the Podman service for one test."""
    monkeypatch.setenv("DOCKER_HOST", podman_engine.docker_host)
    return podman_engine.docker_host
