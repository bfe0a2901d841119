"""The example SFTP plugin, installed for real, keeps the storage contract against OpenSSH."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from codeferry.errors import CodeferryError, PullError
from codeferry.plugins import get_plugins
from codeferry.testing import StorageContract, StoreHandle
from tests.examples.conftest import SftpAccess
from tests.programs import codeferry_module, python

pytestmark = pytest.mark.usefixtures("sftp_site")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An empty folder the server serves (it runs on this machine, as this user)."""
    path = tmp_path / "served"
    path.mkdir()
    return path


class FolderWriter:
    """Puts files into a server folder the way a deploy tool that keeps times does.

    Unchanged files are left alone; changed ones get a time later than any before, in the past.
    SFTP shows times in whole seconds, and the storage rightly reads again any file whose time is
    too close to its last listing; these times keep the kit's count of transferred files exact.
    (``test_change_in_the_same_second_as_the_last_pull_is_pulled`` covers real times.)
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.clock = int(time.time()) - 3600

    def __call__(self, files: Mapping[str, bytes]) -> None:
        for path in files:
            if path.startswith("/") or ".." in path.split("/"):
                raise NotImplementedError("an SFTP server resolves that name to another place")
        for existing in sorted(self.root.rglob("*"), reverse=True):
            rel = existing.relative_to(self.root).as_posix()
            if existing.is_file() and rel not in files:
                existing.unlink()
            elif existing.is_dir() and not any(existing.iterdir()):
                existing.rmdir()
        self.clock += 10
        for rel, data in files.items():
            target = self.root / rel
            if target.is_file() and target.read_bytes() == data:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            os.utime(target, (self.clock, self.clock))


def server_fields(sshd: SftpAccess, **overrides: Any) -> dict[str, Any]:
    return {
        "host": sshd.host,
        "port": sshd.port,
        "username": sshd.username,
        "host_key": sshd.host_key,
        **overrides,
    }


def sftp_directory(sshd: SftpAccess, path: Path, **overrides: Any) -> Any:
    from codeferry_sftp.server import SftpServer
    from codeferry_sftp.storage import SftpDirectory

    return SftpDirectory(server=SftpServer(**server_fields(sshd, **overrides)), path=str(path))


def other_private_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        .decode()
    )


class TestSftpDirectoryWithKeyFile(StorageContract):
    """A key file on the pulling machine: the pull step holds no secret and runs as is."""

    expected_skips = 3  # the server resolves ../escaped.py, /absolute.py, a/../../escaped.py

    @pytest.fixture
    def store(self, sftp_access: SftpAccess, folder: Path) -> StoreHandle:
        key = {"private_key_path": str(sftp_access.private_key_path)}
        return StoreHandle(
            sftp_directory(sftp_access, folder, **key),
            FolderWriter(folder),
            failing=lambda: sftp_directory(sftp_access, folder / "missing", **key),
        )


class TestSftpDirectoryWithSavedKey(StorageContract):
    """A private key kept in a saved sftp-server block: secret everywhere."""

    expected_skips = 3  # the server resolves ../escaped.py, /absolute.py, a/../../escaped.py

    @pytest.fixture
    def store(self, sftp_access: SftpAccess, folder: Path) -> StoreHandle:
        from codeferry_sftp.server import SftpServer
        from codeferry_sftp.storage import SftpDirectory

        server = SftpServer(**server_fields(sftp_access, private_key=sftp_access.private_key_pem))
        server.save("ci", overwrite=True)
        wrong_key = other_private_key()
        key_lines = [*sftp_access.private_key_pem.splitlines()[1:-1], *wrong_key.splitlines()[1:-1]]
        return StoreHandle(
            SftpDirectory(server=server, path=str(folder)),
            FolderWriter(folder),
            secrets=[line for line in key_lines if len(line) > 20],
            failing=lambda: sftp_directory(sftp_access, folder, private_key=wrong_key),
        )


def test_plugin_is_found_through_its_entry_point() -> None:
    plugins = {p["name"]: p for p in get_plugins().describe()}
    assert plugins["sftp"]["status"] == "ok", plugins["sftp"]["errors"]
    assert plugins["sftp"]["distribution"] == "codeferry-sftp"
    assert sorted(plugins["sftp"]["block_types"]) == ["sftp-directory", "sftp-server"]
    assert plugins["sftp"]["steps"] == ["pull_from_sftp"]


def test_listing_its_block_types_does_not_import_paramiko(sftp_site: Path) -> None:
    code = (
        "import sys\n"
        "from codeferry.plugins import get_plugins\n"
        "assert 'sftp-server' in get_plugins().block_types\n"
        "heavy = sorted(m for m in ('paramiko', 'fsspec') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "PYTHONPATH": str(sftp_site)}
    result = python("-c", code, env=env)
    assert result.returncode == 0, result.stderr


def test_change_in_the_same_second_as_the_last_pull_is_pulled(
    sftp_access: SftpAccess, folder: Path
) -> None:
    storage = sftp_directory(
        sftp_access, folder, private_key_path=str(sftp_access.private_key_path)
    )
    (folder / "flow.py").write_text("VALUE = 1\n")
    storage.pull_code(folder.parent / f"{folder.name}-checkout")
    (folder / "flow.py").write_text("VALUE = 2\n")  # same size, most likely the same second
    pulled = storage.pull_code(folder.parent / f"{folder.name}-checkout")
    assert (pulled.directory / "flow.py").read_text() == "VALUE = 2\n"
    shutil.rmtree(folder.parent / f"{folder.name}-checkout", ignore_errors=True)


def test_unknown_host_key_is_refused_before_logging_in(
    sftp_access: SftpAccess, folder: Path, tmp_path: Path
) -> None:
    # The key is not authorized: had a login been tried, the error would be the login's.
    storage = sftp_directory(
        sftp_access,
        folder,
        host_key=None,
        known_hosts=str(tmp_path / "empty_known_hosts"),
        private_key=other_private_key(),
    )
    with pytest.raises(PullError, match=r"host key of .* is not known: set host_key"):
        storage.pull_code(tmp_path / "checkout")
    assert not (tmp_path / "checkout").exists()


def test_unauthorized_key_is_refused_with_a_one_line_error(
    sftp_access: SftpAccess, folder: Path, tmp_path: Path
) -> None:
    storage = sftp_directory(sftp_access, folder, private_key=other_private_key())
    with pytest.raises(PullError, match="refused the login of"):
        storage.pull_code(tmp_path / "checkout")


def test_host_key_other_than_the_pinned_one_is_refused(
    sftp_access: SftpAccess, folder: Path, tmp_path: Path
) -> None:
    # The client's public key: a valid key, but not the server's.
    other = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(sftp_access.private_key_path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    storage = sftp_directory(sftp_access, folder, host_key=other, password="hunter2-is-not-shown")
    with pytest.raises(PullError, match="is not the expected one") as caught:
        storage.pull_code(tmp_path / "checkout")
    assert "hunter2" not in str(caught.value)


def test_host_listed_in_known_hosts_is_trusted(
    sftp_access: SftpAccess, folder: Path, tmp_path: Path
) -> None:
    (folder / "flow.py").write_text("OK = True\n")
    storage = sftp_directory(
        sftp_access,
        folder,
        host_key=None,
        known_hosts=str(sftp_access.known_hosts_path),
        private_key_path=str(sftp_access.private_key_path),
    )
    assert (storage.pull_code(tmp_path / "checkout").directory / "flow.py").is_file()


def test_sftp_url_becomes_an_sftp_directory() -> None:
    url = "sftp://deploy@files.example.com:2222/srv/flows"
    storage = get_plugins().storage_from_source(url)
    assert type(storage).__name__ == "SftpDirectory"
    assert str(storage) == url
    home = get_plugins().storage_from_source("sftp://files.example.com/~/flows")
    assert str(home) == "sftp://files.example.com/~/flows"


def test_sftp_url_with_a_password_is_refused() -> None:
    with pytest.raises(CodeferryError, match="take no password") as caught:
        get_plugins().storage_from_source("sftp://deploy:s3cret@files.example.com/srv")
    assert "s3cret" not in str(caught.value)


def test_command_line_pulls_an_sftp_url_with_the_users_ssh_setup(
    sftp_access: SftpAccess, folder: Path, tmp_path: Path, sftp_site: Path
) -> None:
    (folder / "flows").mkdir()
    (folder / "flows" / "hello.py").write_text("def hello():\n    return 'over sftp'\n")
    user_home = tmp_path / "user"
    (user_home / ".ssh").mkdir(parents=True)
    shutil.copy(sftp_access.private_key_path, user_home / ".ssh" / "id_ed25519")
    shutil.copy(sftp_access.known_hosts_path, user_home / ".ssh" / "known_hosts")
    env = {
        **os.environ,
        "HOME": str(user_home),
        "PYTHONPATH": str(sftp_site),
        "CODEFERRY_HOME": str(tmp_path / "codeferry-home"),
    }
    env.pop("SSH_AUTH_SOCK", None)
    url = f"sftp://{sftp_access.username}@{sftp_access.host}:{sftp_access.port}{folder}"

    def codeferry(*args: str) -> subprocess.CompletedProcess[str]:
        return codeferry_module(*args, env=env)

    listed = codeferry("plugins", "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    sftp = next(p for p in json.loads(listed.stdout) if p["name"] == "sftp")
    assert sftp["status"] == "ok"
    first = codeferry("pull", url, "--json")
    assert first.returncode == 0, first.stderr
    assert (Path(json.loads(first.stdout)["directory"]) / "flows" / "hello.py").is_file()
    again = codeferry("pull", url, "--json")
    assert json.loads(again.stdout)["changed"] is False
