"""git's own program, run on one cached repository with nothing of the machine's git setup.

Every run of :meth:`GitProgram.run`:

- reads no configuration but the cache repository's own and what is passed here
  (``GIT_CONFIG_GLOBAL=/dev/null``, ``GIT_CONFIG_NOSYSTEM=1``, every ``GIT_*`` variable of the
  environment left out), so no ``insteadOf``, credential helper, proxy command or hook of the
  machine's takes part; never prompts (``GIT_TERMINAL_PROMPT=0``, no askpass); runs no hook and no
  automatic gc or maintenance; applies no attribute or filter to files checked out; and speaks only
  the protocol of the remote it was given (``protocol.allow=never`` but that one, and for
  ``http`` its ``https``, where redirects commonly go);
- receives the remote's credentials through a pipe it inherits: a credential helper bound to the
  remote's protocol and host (by git's URL-scoped configuration, and again by the helper itself)
  reads ``username=`` and ``password=`` from that descriptor. The secret is never in a process's
  arguments or environment, nor in any file; git asks for it only when the server asks (401), and
  never for another host a redirect leads to;
- waits a bounded time (:func:`codeferry.timeouts.network_timeouts`): the connection is tried
  here first within the connect timeout (git has no setting for it), and git gives up on a
  server that sends less than a byte a second for the read timeout (``http.lowSpeedTime``), or
  over SSH through ``ssh``'s own options;
- is stopped, with every process it started, when the pull is interrupted.

A failure is a :class:`GitCommandError` holding what git said; :func:`describe_failure` turns a
network one into the same one-line, masked messages the dulwich client gives.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from codeferry.errors import PullError
from codeferry.timeouts import (
    ConnectTimeoutError,
    NetworkTimeouts,
    network_timeouts,
    open_connection,
)
from codeferry_git.failures import SSH_REFUSALS, Failure, fetch_failure

if TYPE_CHECKING:
    from codeferry_git.http_auth import HttpAuth

__all__ = [
    "MINIMUM_VERSION",
    "GitCommandError",
    "GitProgram",
    "Remote",
    "describe_failure",
    "find_git",
]

MINIMUM_VERSION = (2, 32)
"""The oldest git used: the first with ``GIT_CONFIG_GLOBAL``, which isolation depends on."""

_RECORDS_CHUNK = 1 << 16
_VERSION = re.compile(rb"git version (\d+)\.(\d+)(?:\.(\d+))?")
_SETTINGS = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.symlinks=false",
    "core.attributesFile=/dev/null",
    "core.autocrlf=false",
    "core.splitIndex=false",
    "gc.auto=0",
    "maintenance.auto=false",
    "fetch.recurseSubmodules=false",
    "fetch.writeCommitGraph=false",
    "fetch.showForcedUpdates=false",
    "fetch.unpackLimit=1",  # every fetch a pack (not loose files); packs are rolled up later
    "repack.writeBitmaps=false",
    "submodule.recurse=false",
    "protocol.allow=never",
    "credential.helper=",
    "init.defaultBranch=main",
)
_REMOVED = frozenset({"SSH_ASKPASS", "SSH_ASKPASS_REQUIRE", "EMAIL", "XDG_CONFIG_HOME"})
_FIXED = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "",
    "GIT_ATTR_NOSYSTEM": "1",
    "GIT_NO_REPLACE_OBJECTS": "1",
    "GIT_PROTOCOL_FROM_USER": "0",
    "LC_ALL": "C",
    "LANGUAGE": "",
}


class GitCommandError(Exception):
    """git exited with an error; ``stderr`` is what it said (not masked yet)."""

    def __init__(self, command: str, returncode: int, stderr: bytes) -> None:
        self.command = command
        self.returncode = returncode
        self.stderr = stderr.decode("utf-8", "replace")
        super().__init__(f"git {command} exited with {returncode}")

    @property
    def message(self) -> str:
        """git's own reason in one line: its last ``fatal:``/``error:`` line, prefix dropped."""
        lines = [line.strip() for line in self.stderr.replace("\r", "\n").splitlines()]
        lines = [line for line in lines if line]
        for line in reversed(lines):
            for prefix in ("fatal: ", "error: "):
                if line.startswith(prefix):
                    return line.removeprefix(prefix)
        return lines[-1] if lines else f"git {self.command} exited with {self.returncode}"


@dataclass(frozen=True)
class Remote:
    """A remote git talks to in a run: its URL (credential-free) and what to authenticate with."""

    url: str
    auth: HttpAuth | None = field(default=None, repr=False)

    @property
    def scheme(self) -> str:
        return self.url.partition("://")[0] if "://" in self.url else "ssh"


@dataclass(frozen=True)
class GitProgram:
    """A git program on this machine, at least :data:`MINIMUM_VERSION`."""

    path: str
    version: tuple[int, int, int]

    def run(
        self,
        git_dir: str,
        args: Sequence[str],
        *,
        stdin: bytes | None = None,
        remote: Remote | None = None,
        env: Mapping[str, str] | None = None,
        on_stderr: Callable[[bytes], None] | None = None,
    ) -> bytes:
        """Run ``git ARGS`` on the repository ``git_dir``; returns its standard output.

        ``remote``: the run talks to it (credentials, protocol, time limits). ``on_stderr`` gets
        each line git writes to standard error as it comes (its progress); standard output is
        then not kept.

        :raises GitCommandError: git exited with an error.
        :raises ConnectTimeoutError: the remote's server did not accept a connection in time.
        """
        command = self._command(git_dir)
        environment = _environment()
        environment.update(env or {})
        secret_fd = None
        if remote is not None:
            timeouts = network_timeouts()
            command += _remote_settings(remote, timeouts)
            if remote.scheme == "ssh":
                from codeferry_git.ssh import ssh_program

                environment["GIT_SSH_COMMAND"] = f"{ssh_program(timeouts)} -o BatchMode=yes"
                environment["GIT_SSH_VARIANT"] = "ssh"
            else:
                _check_connect(remote.url, timeouts)
            if remote.auth is not None:
                secret_fd = _credentials_pipe(remote.auth)
                command += ["-c", _credential_helper(remote.url, secret_fd)]
        command += list(args)
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.DEVNULL if on_stderr else subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=environment,
                pass_fds=(secret_fd,) if secret_fd is not None else (),
                start_new_session=True,  # so that stopping it stops what it started too
            )
        finally:
            if secret_fd is not None:
                os.close(secret_fd)
        try:
            if on_stderr is not None:
                stdout, stderr = b"", _follow(process, on_stderr)
            else:
                stdout, stderr = process.communicate(stdin)
        except BaseException:
            _stop(process)
            raise
        if process.returncode:
            raise GitCommandError(args[0], process.returncode, stderr)
        return stdout

    def records(self, git_dir: str, args: Sequence[str]) -> Iterator[bytes]:
        """Run ``git ARGS`` (a local command writing NUL-ended records, such as ``ls-tree -z``)
        and yield each record as it comes, without its NUL.

        Read as they come, a large listing is never held whole (nor twice, as reading it all
        would): the memory a pull of a large tree peaks at.

        :raises GitCommandError: git exited with an error (after the records it wrote).
        """
        process = subprocess.Popen(
            [*self._command(git_dir), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_environment(),
            start_new_session=True,
        )
        assert process.stdout is not None
        assert process.stderr is not None
        try:
            pending = b""
            while chunk := process.stdout.read(_RECORDS_CHUNK):
                *complete, pending = (pending + chunk).split(b"\0")
                yield from complete
            stderr = process.stderr.read()  # a local command says little: its pipe never fills
            process.wait()
        except BaseException:
            _stop(process)
            raise
        finally:
            process.stdout.close()
            process.stderr.close()
        if process.returncode:
            raise GitCommandError(args[0], process.returncode, stderr)

    def _command(self, git_dir: str) -> list[str]:
        command = [self.path, f"--git-dir={git_dir}"]
        for setting in _SETTINGS:
            command += ["-c", setting]
        return command


def find_git() -> GitProgram | str:
    """The git program on ``PATH`` if it is recent enough, else why it cannot be used."""
    if os.name != "posix":  # credentials go through an inherited descriptor and sh
        return "git's own program is used on POSIX systems only"
    path = shutil.which("git")
    if path is None:
        return "git was not found on PATH"
    version = _version(path)
    if version is None:
        return f"{path} --version did not answer as git does"
    if version[:2] < MINIMUM_VERSION:
        shown = ".".join(map(str, version))
        return f"git {shown} ({path}) is older than {'.'.join(map(str, MINIMUM_VERSION))}"
    return GitProgram(path, version)


@functools.cache
def _version(path: str) -> tuple[int, int, int] | None:
    try:
        done = subprocess.run(
            [path, "--version"], capture_output=True, env=_environment(), timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = _VERSION.search(done.stdout)
    if found is None:
        return None
    return int(found[1]), int(found[2]), int(found[3] or 0)


def _environment() -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GIT_") and key not in _REMOVED
    }
    environment.update(_FIXED)
    return environment


def _remote_settings(remote: Remote, timeouts: NetworkTimeouts) -> list[str]:
    allowed = {"http": ("http", "https")}.get(remote.scheme, (remote.scheme,))
    settings = [f"protocol.{scheme}.allow=always" for scheme in allowed]
    if timeouts.read is not None:
        # curl gives up when less than a byte a second arrives for that long.
        settings += [
            "http.lowSpeedLimit=1",
            f"http.lowSpeedTime={max(math.ceil(timeouts.read), 1)}",
        ]
    return [part for setting in settings for part in ("-c", setting)]


def _credentials_pipe(auth: HttpAuth) -> int:
    """A pipe holding git's credential answer for ``auth``; returns the end git reads."""
    for value in (auth.username, auth.password):
        if any(c in value for c in "\n\r\0"):
            raise PullError("the git credentials hold a line break or NUL character; refused")
    answer = f"username={auth.username}\npassword={auth.password}\n".encode()
    read, write = os.pipe()
    try:
        os.write(write, answer)  # far smaller than a pipe holds: this never blocks
    finally:
        os.close(write)
    return read


def _credential_helper(url: str, descriptor: int) -> str:
    """``credential.<origin>.helper`` answering only for ``url``'s protocol and host.

    git runs it as ``sh -c '<helper> "$@"' <helper> get`` with its request (``protocol=``,
    ``host=`` lines) on standard input. It answers ``get`` from the inherited descriptor, and only
    when the request is for the same protocol and host; ``store`` and ``erase`` do nothing.
    """
    parts = urlsplit(url)
    protocol, host = parts.scheme, parts.netloc.rpartition("@")[2]
    script = (
        '!f() { test "$1" = get || exit 0; p=; h=; '
        'while IFS= read -r l; do case "$l" in '
        'protocol=*) p="${l#protocol=}";; host=*) h="${l#host=}";; esac; done; '
        f'test "$p" = {shlex.quote(protocol)} && test "$h" = {shlex.quote(host)} && '
        f'while IFS= read -r l; do printf "%s\\n" "$l"; done < /dev/fd/{descriptor}; }}; f'
    )
    # (The shell's own read and printf: no program is started to copy the answer.)
    return f"credential.{protocol}://{host}.helper={script}"


def _check_connect(url: str, timeouts: NetworkTimeouts) -> None:
    """Connect to ``url``'s server (or its proxy) within the connect timeout, as git cannot.

    Only a timeout is raised: any other failure is left for git to meet and describe.
    """
    if timeouts.connect is None:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    proxy = _proxy_for(parts.scheme, host)
    if proxy:
        proxy_parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = proxy_parts.hostname or "", proxy_parts.port or 1080
    try:
        open_connection(host, port, timeouts).close()
    except ConnectTimeoutError:
        raise
    except (OSError, ValueError):
        pass


def _proxy_for(scheme: str, host: str) -> str | None:
    """The proxy curl (so git) connects through for ``host``, from the environment."""
    environ = os.environ
    proxy = (
        environ.get(f"{scheme}_proxy")
        or (environ.get(f"{scheme.upper()}_PROXY") if scheme != "http" else None)
        or environ.get("all_proxy")
        or environ.get("ALL_PROXY")
    )
    if not proxy:
        return None
    for entry in (environ.get("no_proxy") or environ.get("NO_PROXY") or "").split(","):
        bypassed = entry.strip().lstrip(".").lower()
        if bypassed == "*" or (bypassed and (host == bypassed or host.endswith(f".{bypassed}"))):
            return None
    return proxy


def _follow(process: subprocess.Popen[bytes], on_stderr: Callable[[bytes], None]) -> bytes:
    """Hand each line of ``process``'s standard error to ``on_stderr``; returns all of it."""
    assert process.stderr is not None
    kept = bytearray()
    pending = b""
    while chunk := os.read(process.stderr.fileno(), 65536):
        kept += chunk
        pending += chunk
        *lines, pending = re.split(rb"[\r\n]", pending)
        for line in lines:
            if line:
                on_stderr(line)
    process.wait()
    return bytes(kept)


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def describe_failure(
    failure: GitCommandError | ConnectTimeoutError, url: str, secrets: list[str]
) -> PullError:
    """A one-line error for a network run of git that failed, every secret masked.

    The same messages as :func:`codeferry_git.transport.describe_failure` gives for dulwich
    (both through :func:`~codeferry_git.failures.fetch_failure`).
    """
    if isinstance(failure, ConnectTimeoutError):
        return fetch_failure("timeout", url, secrets, str(failure), failure)
    text = failure.message
    lowered = failure.stderr.lower()
    if "operation too slow" in lowered or "timed out" in lowered or "timeout, server" in lowered:
        connecting = "connection timed out after" in lowered or "connect to host" in lowered
        error: TimeoutError = ConnectTimeoutError(text) if connecting else TimeoutError(text)
        return fetch_failure("timeout", url, secrets, text, error)
    return fetch_failure(_kind(lowered), url, secrets, text)


def _kind(lowered: str) -> Failure:
    """What kind of failure git's (lower-cased) standard error tells."""
    if any(
        sign in lowered
        for sign in (
            "authentication failed",
            "could not read username",
            "could not read password",
            "returned error: 401",
        )
    ):
        return "authentication"
    if "returned error: 403" in lowered:
        return "access"
    if "returned error: 404" in lowered or re.search(r"repository '.*' not found", lowered):
        return "missing"
    if any(sign in lowered for sign in SSH_REFUSALS):
        return "ssh"
    if any(
        sign in lowered
        for sign in (
            "empty reply from server",
            "connection reset",
            "recv failure",
            "hung up unexpectedly",
            "early eof",
            "connection closed",
        )
    ):
        return "dropped"
    return "other"
