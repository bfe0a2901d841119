"""A pull from a git URL, as a worker runs it: a plain storage, no block model imported.

``codeferry pull https://user:token@host/repo.git`` is what a worker runs before every flow run,
as a whole process; the URL is claimed by :class:`~codeferry_git.source.GitSource` (the block
:class:`~codeferry_git.repository.GitRepository` hands its work to the same object), so pydantic
is never imported, and the token stays as secret as it is through the block.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from pydantic import SecretStr

from codeferry_git.credentials import GitCredentials
from codeferry_git.repository import GitRepository
from codeferry_git.source import GitSource
from tests.git.conftest import Served

WAIT = 120.0

# Runs the console script's entry point, then says whether the command imported pydantic, or
# OpenSSL's hashlib (about 4 MB of resident memory: see codeferry.digests).
WATCH = textwrap.dedent(
    """
    import atexit, sys
    atexit.register(
        lambda: sys.__stderr__.write(
            f"PYDANTIC {'pydantic' in sys.modules} OPENSSL {'_hashlib' in sys.modules}\\n"
        )
    )
    from codeferry.cli import main
    main(sys.argv[1:])
    """
)


def _pull(url: str, dest: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CODEFERRY_HOME": str(home), "CODEFERRY_PLUGINS": "local,git"}
    return subprocess.run(
        [sys.executable, "-c", WATCH, "pull", url, "--dest", str(dest)],
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )


def test_a_pull_from_a_url_imports_no_block_model_nor_openssl_and_keeps_the_token_secret(
    served: Served, tmp_path: Path, git_client: str
) -> None:
    # dulwich (and urllib3 under it) use OpenSSL's hashlib themselves; git's program does not.
    openssl = git_client == "dulwich"
    server = served.server
    url = served.url("app.git").replace("http://", f"http://{server.user}:{server.password}@")
    dest = tmp_path / "code"
    for _ in range(2):  # a fresh pull, then a re-pull that finds nothing new
        done = _pull(url, dest, tmp_path / "home")
        assert done.returncode == 0, done.stderr
        assert done.stderr.splitlines()[-1] == f"PYDANTIC False OPENSSL {openssl}"
        assert server.password not in done.stdout + done.stderr
    assert (dest / "flow.py").read_bytes() == b"def main():\n    return 2\n"
    assert "is unchanged" in done.stderr


def test_a_url_with_a_token_is_a_plain_storage_that_never_shows_it() -> None:
    token = "tok-url-secret-9931"
    storage = GitSource.from_url(f"https://deploy:{token}@git.example.com/org/app.git")
    assert storage.url == "https://git.example.com/org/app.git"
    assert storage.credentials_for is not None
    auth, key = storage.credentials_for(storage.url)
    assert auth is not None
    assert (auth.username, auth.password, key) == ("deploy", token, None)
    for shown in (str(storage), repr(storage), repr(storage.credentials_for)):
        assert token not in shown


def test_a_url_and_the_block_it_describes_pull_into_one_checkout() -> None:
    url = "https://git.example.com/org/app.git"
    by_url = GitSource.from_url(url.replace("https://", "https://deploy:tok@"))
    credentials = GitCredentials(username="deploy", token=SecretStr("tok"))
    block = GitRepository(url=url, credentials=credentials)
    assert by_url.checkout_key() == block.checkout_key() == block.delegate().checkout_key()
    assert str(by_url) == str(block)


def test_the_block_moves_a_urls_token_into_credentials_as_before() -> None:
    block = GitRepository(url="https://tok-in-url@git.example.com/org/app.git")
    assert block.url == "https://git.example.com/org/app.git"
    assert isinstance(block.credentials, GitCredentials)
    assert block.credentials.token is not None
    assert block.credentials.token.get_secret_value() == "tok-in-url"
