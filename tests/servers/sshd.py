"""An OpenSSH server for the tests, as a pytest plugin (``pytest_plugins``).

``sshd_server`` (session) runs Debian's ``/usr/sbin/sshd`` on a free 127.0.0.1 port with its own
configuration, host key and ``authorized_keys`` in a temporary folder, and a client key pair made
at test time. Logins are as the current user, by key only; ``git-upload-pack`` must be on ``PATH``.
Without ``sshd`` the tests that need it fail when ``CI=true`` and are skipped otherwise.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.servers import free_port, need_program

__all__ = ["SshServer"]

_READY_TIMEOUT = 20.0


@dataclass
class SshServer:
    """A running sshd: its port, login user, client private key and known_hosts line."""

    port: int
    user: str
    private_key: str = field(repr=False)
    known_hosts: str


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    sshd = shutil.which("sshd") or (
        "/usr/sbin/sshd" if Path("/usr/sbin/sshd").is_file() else "sshd"
    )
    need_program(sshd, "the SSH tests run OpenSSH's server (Debian: openssh-server)")
    need_program("ssh-keygen", "the SSH tests make keys with it")
    need_program("git-upload-pack", "git over SSH runs it on the server")
    folder = tmp_path_factory.mktemp("sshd")
    folder.chmod(0o700)
    for name, kind in (("host_key", "ed25519"), ("client_key", "ed25519")):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(folder / name)], check=True
        )
    (folder / "authorized_keys").write_text((folder / "client_key.pub").read_text())
    (folder / "authorized_keys").chmod(0o600)
    port = free_port()
    config = folder / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host_key'}\n"
        f"PidFile {folder / 'sshd.pid'}\nAuthorizedKeysFile {folder / 'authorized_keys'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "StrictModes no\nPermitRootLogin prohibit-password\nAcceptEnv GIT_PROTOCOL\n"
        "Subsystem sftp internal-sftp\n"  # the SFTP example plugin's tests
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation folder sshd insists on
    process = subprocess.Popen(
        [sshd, "-D", "-e", "-f", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=(folder / "sshd.log").open("wb"),
    )
    deadline = time.monotonic() + _READY_TIMEOUT
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                if probe.recv(4) == b"SSH-":
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"sshd did not start: {(folder / 'sshd.log').read_text()}")
        time.sleep(0.02)
    host_key = (folder / "host_key.pub").read_text().split()
    known = f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}"
    try:
        yield SshServer(port, getpass.getuser(), (folder / "client_key").read_text(), known)
    finally:
        process.terminate()
        process.wait(timeout=10)
        os.environ.pop("CODEFERRY_TEST_SSHD", None)
