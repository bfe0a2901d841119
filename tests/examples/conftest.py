"""Fixtures for the example plugins: the SSH server, and the SFTP example installed for real."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.programs import pip_install_into
from tests.servers.sshd import SshServer

ROOT = Path(__file__).resolve().parents[2]
SFTP_EXAMPLE = ROOT / "docs" / "examples" / "codeferry-sftp"


@pytest.fixture(scope="module")
def sftp_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """codeferry-sftp installed (pip, no dependencies) into a folder put on ``sys.path``.

    Its entry point is then found by plugin discovery as it would be for a user.
    """
    site = tmp_path_factory.mktemp("sftp-site")
    pip_install_into(site, SFTP_EXAMPLE)
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    yield site
    sys.path.remove(str(site))
    for name in [
        m for m in sys.modules if m == "codeferry_sftp" or m.startswith("codeferry_sftp.")
    ]:
        del sys.modules[name]


@dataclass(frozen=True)
class SftpAccess:
    """How to reach the test sshd over SFTP: address, account, key (in a file too), host key."""

    host: str
    port: int
    username: str
    private_key_pem: str = field(repr=False)
    private_key_path: Path
    host_key: str
    known_hosts_path: Path


@pytest.fixture(scope="session")
def sftp_access(sshd_server: SshServer, tmp_path_factory: pytest.TempPathFactory) -> SftpAccess:
    folder = tmp_path_factory.mktemp("sftp-client")
    key = folder / "id_ed25519"
    key.write_text(sshd_server.private_key)
    key.chmod(0o600)
    known_hosts = folder / "known_hosts"
    known_hosts.write_text(sshd_server.known_hosts + "\n")
    return SftpAccess(
        host="127.0.0.1",
        port=sshd_server.port,
        username=sshd_server.user,
        private_key_pem=sshd_server.private_key,
        private_key_path=key,
        host_key=" ".join(sshd_server.known_hosts.split()[1:3]),
        known_hosts_path=known_hosts,
    )
