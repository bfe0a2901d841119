"""Registry logins from Docker's config file, as ``docker pull`` finds them.

The file is ``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``. For a registry, a
credential helper named in ``credHelpers`` (by registry), else the ``credsStore`` helper, gives
the login: ``docker-credential-NAME get`` is run with the registry on standard input and answers
with JSON (a user name ``<token>`` means the secret is an identity token). Without a helper, the
``auths`` entry of the registry gives it: ``auth`` (base64 of ``user:password``), ``username`` and
``password``, ``identitytoken`` or ``registrytoken``. Docker Hub's entries are filed under
``https://index.docker.io/v1/``.

Secrets never go on a command line or into the environment, and never into a message.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeferry.errors import CodeferryError
from codeferry.secrets import mask

__all__ = ["DOCKER_HUB_SERVER", "DockerConfigError", "RegistryLogin", "config_path", "login_for"]

DOCKER_HUB_SERVER = "https://index.docker.io/v1/"
_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_TOKEN_USER = "<token>"  # noqa: S105 - the user name that marks an identity token
_HELPER_TIMEOUT = 60.0  # a helper may wait for a desktop keychain to be unlocked
_NOT_FOUND = "credentials not found"


class DockerConfigError(CodeferryError):
    """Docker's config file or a credential helper it names could not give a login."""


@dataclass(frozen=True)
class RegistryLogin:
    """What to log in to one registry with; secrets are left out of ``repr``."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    identity_token: str | None = field(default=None, repr=False)
    registry_token: str | None = field(default=None, repr=False)
    source: str = ""

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.password, self.identity_token, self.registry_token) if s]


def config_path() -> Path:
    """Docker's config file: ``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``."""
    folder = os.environ.get("DOCKER_CONFIG")
    return (Path(folder).expanduser() if folder else Path.home() / ".docker") / "config.json"


def _server(registry: str) -> str:
    """The name Docker files a registry's login under."""
    return DOCKER_HUB_SERVER if registry.lower() in _HUB_HOSTS else registry


def _hostname(key: str) -> str:
    """An ``auths`` key as a host: scheme and path dropped (keys of older files carry them)."""
    rest = key.split("://", 1)[-1]
    return rest.split("/", 1)[0].lower()


def login_for(registry: str) -> RegistryLogin | None:
    """The login Docker's config file gives for ``registry`` (``host[:port]``), if any.

    :raises DockerConfigError: naming the file or the helper, never a secret.
    """
    path = config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise DockerConfigError(
            f"cannot read Docker's config file {path}: {error.strerror}"
        ) from None
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError as error:
        raise DockerConfigError(
            f"Docker's config file {path} is not valid JSON ({error})"
        ) from None
    if not isinstance(data, dict):
        raise DockerConfigError(f"Docker's config file {path} is not a JSON object")
    server = _server(registry)
    helpers = data.get("credHelpers")
    helper = helpers.get(server) if isinstance(helpers, dict) else None
    helper = helper or data.get("credsStore")
    if helper:
        return _from_helper(str(helper), server, path)
    auths = data.get("auths")
    return _from_auths(auths if isinstance(auths, dict) else {}, server, path)


def _from_auths(auths: dict[str, Any], server: str, path: Path) -> RegistryLogin | None:
    entry = auths.get(server)
    if entry is None:
        wanted = _hostname(server)
        hub = wanted in _HUB_HOSTS
        for key, value in auths.items():
            host = _hostname(key)
            if host == wanted or (hub and host in _HUB_HOSTS):
                entry = value
                break
    if not isinstance(entry, dict):
        return None
    where = f"Docker's config file {path}"
    username = entry.get("username") or None
    password = entry.get("password") or None
    if entry.get("auth"):
        try:
            decoded = base64.b64decode(str(entry["auth"]), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise DockerConfigError(f"{where}: the auth of {server} is not base64") from None
        username, colon, password = decoded.partition(":")
        if not colon:
            raise DockerConfigError(f"{where}: the auth of {server} is not user:password")
        password = password.strip("\x00")
    login = RegistryLogin(
        username=username or None,
        password=password or None,
        identity_token=entry.get("identitytoken") or None,
        registry_token=entry.get("registrytoken") or None,
        source=where,
    )
    return login if login.username or login.secrets else None


def _from_helper(name: str, server: str, path: Path) -> RegistryLogin | None:
    program = f"docker-credential-{name}"
    found = shutil.which(program)
    if found is None:
        raise DockerConfigError(
            f"{program} is not on PATH (Docker's config file {path} names it for {server})"
        )
    try:
        result = subprocess.run(
            [found, "get"],
            input=server.encode(),
            capture_output=True,
            timeout=_HELPER_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DockerConfigError(
            f"{program} gave no login for {server} within {_HELPER_TIMEOUT:.0f} s"
        ) from None
    except OSError as error:
        raise DockerConfigError(f"cannot run {program}: {error.strerror}") from None
    output = result.stdout.decode(errors="replace")
    if result.returncode != 0:
        said = (output.strip() or result.stderr.decode(errors="replace").strip()).splitlines()
        if said and _NOT_FOUND in said[0].lower():
            return None
        reason = mask(said[0][:200]) if said else f"exit status {result.returncode}"
        raise DockerConfigError(f"{program} could not give the login for {server}: {reason}")
    try:
        answer = json.loads(output)
        username, secret = str(answer.get("Username") or ""), str(answer.get("Secret") or "")
    except (ValueError, AttributeError):
        raise DockerConfigError(f"{program} answered something other than JSON") from None
    source = f"credential helper {program}"
    if not secret:
        return None
    if username == _TOKEN_USER:
        return RegistryLogin(identity_token=secret, source=source)
    return RegistryLogin(username=username or None, password=secret, source=source)
