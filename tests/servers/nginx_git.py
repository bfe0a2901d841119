"""Git over smart HTTP as production hosts serve it: nginx, fcgiwrap and ``git http-backend``.

:func:`running_nginx_git` serves every bare repository under a folder through git's own CGI behind
nginx (FastCGI through fcgiwrap), with Basic auth (``auth_basic``, a bcrypt htpasswd) or without,
on a free 127.0.0.1 port. Everything it writes (configuration, pid, sockets, logs, nginx's
temporary folders) stays in its own temporary folder, removed at the end. The benchmarks use it:
a Python server in front of ``git http-backend`` is slow enough to hide any client's own cost.
``nginx_git_server`` (session) is the authenticated server over the ``git_repos`` folder.

The tests that need fault injection (refusals, dropped connections, rotated tokens) keep
:mod:`tests.servers.git_http`. nginx and fcgiwrap (Debian packages ``nginx``, ``fcgiwrap``) and
``htpasswd`` (``apache2-utils``) are needed: without them the tests that use the fixture fail when
``CI=true`` and are skipped otherwise.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.servers import free_port, missing
from tests.servers.git_http import HTTP_BACKEND_CANDIDATES, GitHttpServer

__all__ = ["NginxGit", "running_nginx_git"]

_READY_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0
_FCGI_CHILDREN = 4


@dataclass
class NginxGit:
    """A running nginx + fcgiwrap + ``git http-backend`` over the bare repositories in ``root``."""

    root: Path
    port: int
    directory: Path
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def server(self) -> str:
        """What serves the repositories, as the benchmarks name it in their results."""
        auth = ", Basic auth" if self.user else ""
        return f"nginx + fcgiwrap + git http-backend (smart HTTP{auth})"

    def url(self, repository: str) -> str:
        """The URL of ``repository`` (a folder name under :attr:`root`), without credentials."""
        return f"{self.base_url}/{repository}"


def programs() -> dict[str, str] | str:
    """The paths of nginx, fcgiwrap, git http-backend (and htpasswd), or what is missing."""
    found = {
        "nginx": shutil.which("nginx") or _first_file("/usr/sbin/nginx"),
        "fcgiwrap": shutil.which("fcgiwrap") or _first_file("/usr/sbin/fcgiwrap"),
        "backend": _first_file(*HTTP_BACKEND_CANDIDATES),
        "htpasswd": shutil.which("htpasswd"),
    }
    absent = [name for name, path in found.items() if path is None]
    if absent:
        return (
            f"{', '.join(absent)} not installed (apt-get install nginx fcgiwrap git apache2-utils)"
        )
    return {name: path for name, path in found.items() if path is not None}


def _first_file(*candidates: str) -> str | None:
    return next((path for path in candidates if Path(path).is_file()), None)


def _config(directory: Path, root: Path, port: int, backend: str, htpasswd: Path | None) -> str:
    auth = f'auth_basic "git";\n        auth_basic_user_file {htpasswd};\n' if htpasswd else ""
    # "user root" only means something (and is only accepted quietly) when nginx starts as root;
    # without it the workers would run as nobody and could not reach fcgiwrap's socket.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    client_max_body_size 0;
    server {{
        listen 127.0.0.1:{port};
        location / {{
        {auth}
        fastcgi_pass unix:{directory}/fcgi.sock;
        fastcgi_buffering off;
        fastcgi_param SCRIPT_FILENAME {backend};
        fastcgi_param GIT_PROJECT_ROOT {root};
        fastcgi_param GIT_HTTP_EXPORT_ALL "";
        fastcgi_param GIT_CONFIG_NOSYSTEM 1;
        fastcgi_param GIT_CONFIG_GLOBAL /dev/null;
        fastcgi_param GIT_PROTOCOL $http_git_protocol;
        fastcgi_param PATH_INFO $uri;
        fastcgi_param QUERY_STRING $query_string;
        fastcgi_param REQUEST_METHOD $request_method;
        fastcgi_param CONTENT_TYPE $content_type;
        fastcgi_param CONTENT_LENGTH $content_length;
        fastcgi_param REMOTE_USER $remote_user;
        fastcgi_param REMOTE_ADDR $remote_addr;
        }}
    }}
}}
"""


def _htpasswd(program: str, directory: Path, user: str, password: str) -> Path:
    # bcrypt (-B), which nginx checks through libcrypt; the password goes on stdin, never argv.
    result = subprocess.run(
        [program, "-B", "-i", "-n", user],
        input=password.encode(),
        capture_output=True,
        check=True,
        timeout=30,
    )
    path = directory / "htpasswd"
    path.write_bytes(result.stdout)
    return path


def _wait_until_ready(server: NginxGit, processes: dict[str, subprocess.Popen[bytes]]) -> None:
    """Poll until a request reaches ``git http-backend`` through nginx and fcgiwrap.

    A repository that does not exist answers 404 from git http-backend itself; 502 means fcgiwrap
    is not listening yet, a refused connection that nginx is not.
    """
    request = urllib.request.Request(f"{server.base_url}/not-there.git/info/refs")
    if server.user and server.password:
        pair = base64.b64encode(f"{server.user}:{server.password}".encode()).decode()
        request.add_header("Authorization", f"Basic {pair}")
    deadline = time.monotonic() + _READY_TIMEOUT
    while True:
        for name, process in processes.items():
            if process.poll() is not None:
                text = "".join(
                    path.read_text(errors="replace")[-1000:]
                    for path in sorted(server.directory.glob("*.log"))
                )
                raise RuntimeError(f"{name} exited ({process.returncode}):\n{text}")
        try:
            with urllib.request.urlopen(request, timeout=2):
                return
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"nginx + fcgiwrap did not answer on {server.base_url}")
        time.sleep(0.02)


def _stop(process: subprocess.Popen[bytes], first: signal.Signals) -> None:
    """Stop ``process`` and everything in its process group (fcgiwrap's children survive their
    parent's SIGTERM, and each may still run a git http-backend)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, first)
    try:
        process.wait(_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(_STOP_TIMEOUT)
    # The leader is reaped; its group may not be empty yet.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def running_nginx_git(
    root: Path, user: str | None = None, password: str | None = None
) -> Iterator[NginxGit]:
    """Serve the bare repositories under ``root``; with ``user`` and ``password``, Basic auth.

    :raises RuntimeError: a program is missing or the server did not come up.
    """
    found = programs()
    if isinstance(found, str):
        raise RuntimeError(found)
    directory = Path(tempfile.mkdtemp(prefix="codeferry-nginx-git-"))
    htpasswd = None
    if user and password:
        htpasswd = _htpasswd(found["htpasswd"], directory, user, password)
    for folder in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (directory / folder).mkdir()
    fcgiwrap = nginx = None
    try:
        # Each in a new session, so stopping its process group also stops the children.
        with (directory / "fcgiwrap.log").open("wb") as log:
            fcgiwrap = subprocess.Popen(
                [found["fcgiwrap"], "-c", str(_FCGI_CHILDREN), "-s", f"unix:{directory}/fcgi.sock"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        for _ in range(3):  # a free port may be taken between the probe and the start
            port = free_port()
            config = directory / "nginx.conf"
            config.write_text(_config(directory, root, port, found["backend"], htpasswd))
            with (directory / "nginx.log").open("wb") as log:
                nginx = subprocess.Popen(
                    [found["nginx"], "-p", str(directory), "-c", str(config), "-e", "stderr"],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    start_new_session=True,
                )
            server = NginxGit(root, port, directory, user, password)
            try:
                _wait_until_ready(server, {"fcgiwrap": fcgiwrap, "nginx": nginx})
                break
            except RuntimeError:
                _stop(nginx, signal.SIGQUIT)
                nginx = None
        if nginx is None:
            tail = (directory / "nginx.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"nginx did not start:\n{tail}")
        yield server
    finally:
        if nginx is not None:
            _stop(nginx, signal.SIGQUIT)  # QUIT: a graceful stop of the master and its workers
        if fcgiwrap is not None:
            _stop(fcgiwrap, signal.SIGTERM)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def nginx_git_server(git_http_server: GitHttpServer) -> Iterator[NginxGit]:
    """nginx + fcgiwrap + git http-backend with Basic auth over the ``git_repos`` folder, with
    the same user and password as :func:`~tests.servers.git_http.git_http_server`."""
    found = programs()
    if isinstance(found, str):
        missing("nginx + fcgiwrap", found)
    with running_nginx_git(
        git_http_server.root, git_http_server.user, git_http_server.password
    ) as server:
        yield server
