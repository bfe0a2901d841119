"""A client of the OCI distribution API: manifests and blobs, Basic and Bearer-token auth.

Requests answered 429 or a passing 5xx are retried within bounds when they can safely be sent
again (see :mod:`codeferry_docker.retries`).

httpx is used for HTTP: it is typed, streams request and response bodies, and its ``Auth`` flow
runs the registry's token dance (401 → ask the realm for a token → retry) inside one ``send``.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import io
import re
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from codeferry.errors import CodeferryError
from codeferry.secrets import remember
from codeferry.timeouts import NetworkTimeouts, is_timeout, network_timeouts
from codeferry_docker import __version__
from codeferry_docker.docker_config import RegistryLogin, login_for
from codeferry_docker.manifests import (
    MANIFEST_ACCEPT,
    ImageIndex,
    ImageManifest,
    parse_manifest,
    sha256_digest,
)
from codeferry_docker.retries import RetryPolicy, send_with_retries

if TYPE_CHECKING:
    from codeferry.progress import TransferProgress
    from codeferry_docker.credentials import DockerRegistryCredentials
    from codeferry_docker.references import ImageReference

__all__ = ["BlobReader", "RegistryClient", "RegistryError", "Transfer"]

_CHUNK = 1 << 20
_REPOSITORY_PATH = re.compile(r"^/v2/(.+?)/(?:manifests|blobs|tags)/")
_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))')
# Requests that mean the same sent twice; a POST is retried only where the caller says so.
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})


class RegistryError(CodeferryError):
    """The registry refused a request, or could not be reached."""


@dataclass
class Transfer:
    """Bytes moved by one client, for reports, benchmarks and the progress display.

    Blob bytes are counted as they move; with a :attr:`progress`, they are reported to it too.
    """

    uploaded: int = 0
    downloaded: int = 0
    requests: int = 0
    progress: TransferProgress | None = None

    def received(self, nbytes: int) -> None:
        """``nbytes`` more of a blob arrived."""
        self.downloaded += nbytes
        if self.progress is not None:
            self.progress.advance(nbytes)

    def sent(self, nbytes: int) -> None:
        """``nbytes`` more of a blob went out."""
        self.uploaded += nbytes
        if self.progress is not None:
            self.progress.advance(nbytes)


def _challenge(header: str) -> tuple[str, dict[str, str]] | None:
    scheme, _, rest = header.strip().partition(" ")
    if not scheme:
        return None
    params = {
        m.group(1).lower(): m.group(2) or m.group(3) or "" for m in _CHALLENGE_PARAM.finditer(rest)
    }
    return scheme.lower(), params


class _RegistryAuth(httpx.Auth):
    """Basic auth after a Basic challenge; a Bearer token per repository after a Bearer one.

    Credentials are sent only after the registry asked for them, and only to the registry host
    and the token realm it names. Without a given login, ``lookup`` (Docker's config file) is
    asked on the first challenge, so an anonymous pull never runs a credential helper.
    """

    def __init__(
        self,
        login: RegistryLogin | None,
        lookup: Callable[[], RegistryLogin | None] | None = None,
    ) -> None:
        self._login = login
        self._lookup = lookup
        self._use_basic = False
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "_RegistryAuth(****)"

    @property
    def login(self) -> RegistryLogin | None:
        """The login given or found so far (``None`` until a lookup found one)."""
        return self._login

    def _resolved(self) -> RegistryLogin | None:
        with self._lock:
            if self._lookup is not None:
                self._login = self._lookup()
                self._lookup = None
            return self._login

    def _basic(self) -> str | None:
        login = self._login
        if login is None or not login.username:
            return None
        pair = f"{login.username}:{login.password or ''}"
        return "Basic " + base64.b64encode(pair.encode()).decode()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        repository = _repository_of(request.url.path)
        with self._lock:
            token = self._tokens.get(repository) or self._tokens.get("")
        basic = self._basic() if self._use_basic else None
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        elif basic:
            request.headers["Authorization"] = basic
        response = yield request
        if response.status_code != 401:
            return
        challenge = _challenge(response.headers.get("WWW-Authenticate", ""))
        if challenge is None:
            return
        login = self._resolved()
        basic = self._basic()
        scheme, params = challenge
        if scheme == "basic":
            if basic is None or request.headers.get("Authorization") == basic:
                return
            self._use_basic = True
            request.headers["Authorization"] = basic
            yield request
        elif scheme == "bearer" and login is not None and login.registry_token:
            bearer = f"Bearer {login.registry_token}"
            if request.headers.get("Authorization") != bearer:
                request.headers["Authorization"] = bearer
                yield request
        elif scheme == "bearer" and params.get("realm"):
            yield from self._token_dance(request, repository, params)

    def _token_request(self, params: dict[str, str], scopes: list[str]) -> httpx.Request:
        """A token request: OAuth2 with an identity token (as Docker's), else a GET with Basic."""
        login = self._login
        if login is not None and login.identity_token:
            form = {
                "grant_type": "refresh_token",
                "refresh_token": login.identity_token,
                "client_id": "codeferry",
                "service": params.get("service", ""),
                "scope": " ".join(scopes),
            }
            return httpx.Request("POST", params["realm"], data=form)
        query: list[tuple[str, str | int | float | bool | None]] = []
        if params.get("service"):
            query.append(("service", params["service"]))
        query.extend(("scope", scope) for scope in scopes)
        token_request = httpx.Request("GET", params["realm"], params=query)
        basic = self._basic()
        if basic:
            token_request.headers["Authorization"] = basic
        return token_request

    def _token_dance(
        self, request: httpx.Request, repository: str, params: dict[str, str]
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Ask the challenge's realm for a token (with the login, if any) and retry."""
        scopes = params.get("scope", "").split()
        token_response = yield self._token_request(params, scopes)
        if token_response.status_code != 200:
            return
        token_response.read()
        try:
            body: Any = token_response.json()
            token = str(body.get("token") or body.get("access_token") or "")
        except (ValueError, AttributeError):
            token = ""
        if not token:
            return
        remember(token)  # the registry's token is a secret too: masked wherever it shows
        with self._lock:
            named = [s.split(":")[1] for s in scopes if s.startswith("repository:")]
            for name in named or [""]:
                self._tokens[name] = token
            self._tokens.setdefault(repository, token)
        request.headers["Authorization"] = f"Bearer {token}"
        yield request


def _repository_of(path: str) -> str:
    match = _REPOSITORY_PATH.match(path)
    return match.group(1) if match else ""


class BlobReader(io.RawIOBase):
    """A blob's bytes as a file, checked against its digest once read to the end."""

    def __init__(
        self, chunks: Iterator[bytes], digest: str, where: str, transfer: Transfer
    ) -> None:
        self._chunks = chunks
        self._buffer = b""
        self._hash = hashlib.sha256()
        self._digest = digest
        self._where = where
        self._transfer = transfer

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        while not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._hash.update(chunk)
            self._transfer.received(len(chunk))
            self._buffer = chunk
        size = min(len(view), len(self._buffer))
        view[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size

    def verify(self) -> None:
        """Read what is left and check the digest.

        :raises RegistryError: when the bytes do not match the digest they were asked by.
        """
        for chunk in self._chunks:
            self._hash.update(chunk)
            self._transfer.received(len(chunk))
        if "sha256:" + self._hash.hexdigest() != self._digest:
            raise RegistryError(f"{self._where}: blob {self._digest} does not match its digest")


class _FileChunks:
    """A file's bytes as a re-iterable body, so an auth retry can send it again."""

    def __init__(self, path: Path, transfer: Transfer) -> None:
        self._path = path
        self._transfer = transfer

    def __iter__(self) -> Iterator[bytes]:
        with self._path.open("rb") as reader:
            while chunk := reader.read(_CHUNK):
                self._transfer.sent(len(chunk))
                yield chunk


class RegistryClient:
    """The distribution API of one registry host, for one set of credentials."""

    def __init__(
        self,
        registry: str,
        *,
        credentials: DockerRegistryCredentials | None = None,
        insecure: bool | None = None,
        loopback: bool = False,
        timeouts: NetworkTimeouts | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.registry = registry
        self.timeouts = timeouts or network_timeouts()
        self._retry = retry or RetryPolicy()
        plain = insecure if insecure is not None else loopback
        self.base_url = f"{'http' if plain else 'https'}://{registry}"
        self.transfer = Transfer()
        given = (
            RegistryLogin(credentials.username, credentials.password.get_secret_value())
            if credentials is not None
            else None
        )
        self._auth = _RegistryAuth(
            given, None if credentials is not None else functools.partial(login_for, registry)
        )
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=self._auth,
            follow_redirects=True,
            timeout=httpx.Timeout(self.timeouts.read, connect=self.timeouts.connect),
            headers={"User-Agent": f"codeferry-docker/{__version__}"},
            event_hooks={"request": [self._count]},
        )

    @classmethod
    def for_reference(
        cls,
        reference: ImageReference,
        credentials: DockerRegistryCredentials | None = None,
        *,
        insecure: bool | None = None,
    ) -> RegistryClient:
        """A client of ``reference``'s registry; credentials for another registry are not sent."""
        if credentials is not None and not credentials.matches(reference.registry):
            credentials = None
        if insecure is None and credentials is not None:
            insecure = credentials.registry_url.lower().startswith("http://") or None
        return cls(
            reference.registry,
            credentials=credentials,
            insecure=insecure,
            loopback=reference.is_loopback,
        )

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _count(self, _request: httpx.Request) -> None:
        self.transfer.requests += 1

    # -- requests --------------------------------------------------------------------------------

    def _send(
        self, method: str, url: str, what: str, *, retry: bool | None = None, **kwargs: Any
    ) -> httpx.Response:
        """One request, retried on 429/5xx when ``retry`` (default: for idempotent methods)."""
        again = method in _IDEMPOTENT if retry is None else retry
        return self._attempt(what, lambda: self._http.request(method, url, **kwargs), again)

    def _attempt(
        self, what: str, send: Callable[[], httpx.Response], retry: bool = True
    ) -> httpx.Response:
        """``send()``, and again within the retry policy while it is answered 429 or a 5xx.

        :raises RegistryError: when the registry cannot be reached, or still answers 429/5xx.
        """
        try:
            if not retry:
                return send()
            response, gave_up = send_with_retries(send, self._retry)
        except httpx.HTTPError as error:
            raise self._unreachable(what, error) from None
        if gave_up:
            raise self._status_error(response, what, gave_up)
        return response

    def _unreachable(self, what: str, error: httpx.HTTPError) -> RegistryError:
        if is_timeout(error):
            silent = self.timeouts.describe(f"registry {self.registry}", error)
            return RegistryError(f"{silent} ({what})")
        return RegistryError(f"cannot reach registry {self.registry} ({what}): {_brief(error)}")

    def _status_error(self, response: httpx.Response, what: str, note: str = "") -> RegistryError:
        with contextlib.suppress(httpx.HTTPError):
            response.read()
        detail = _registry_message(response)
        response.close()
        return RegistryError(
            f"registry {self.registry} answered HTTP {response.status_code} to {what}{detail}{note}"
        )

    def _check(self, response: httpx.Response, what: str, repository: str) -> None:
        status = response.status_code
        if status < 400:
            return
        if status == 401:
            login = self._auth.login
            if login is None:
                reason = (
                    "it needs credentials (give a docker-registry-credentials block, "
                    "or log in with docker login)"
                )
            elif login.source:
                reason = f"the credentials from {login.source} were refused"
            else:
                reason = "the credentials were refused"
            raise RegistryError(f"registry {self.registry} refused {what}: {reason}")
        if status == 403:
            raise RegistryError(f"registry {self.registry} denied {what} (HTTP 403)")
        if status == 404:
            with contextlib.suppress(httpx.HTTPError):
                response.read()
            detail = _registry_message(response)
            raise RegistryError(f"{what}: not found in {self.registry}/{repository}{detail}")
        raise self._status_error(response, what)

    # -- manifests -------------------------------------------------------------------------------

    def get_manifest(
        self, repository: str, reference: str, *, where: str | None = None
    ) -> ImageManifest | ImageIndex:
        """The manifest or index ``repository:reference``, checked against a digest reference."""
        where = where or f"{self.registry}/{repository}:{reference}"
        response = self._send(
            "GET",
            f"/v2/{repository}/manifests/{reference}",
            f"the manifest of {where}",
            headers={"Accept": MANIFEST_ACCEPT},
        )
        self._check(response, f"the manifest of {where}", repository)
        raw = response.content
        self.transfer.downloaded += len(raw)
        if reference.startswith("sha256:") and sha256_digest(raw) != reference:
            raise RegistryError(f"{where}: the manifest does not match its digest")
        return parse_manifest(raw, response.headers.get("Content-Type", ""), where)

    def put_manifest(self, repository: str, tag: str, body: bytes, media_type: str) -> str:
        """Store a manifest under ``tag``; returns its digest."""
        what = f"pushing the manifest of {self.registry}/{repository}:{tag}"
        response = self._send(
            "PUT",
            f"/v2/{repository}/manifests/{tag}",
            what,
            content=body,
            headers={"Content-Type": media_type},
        )
        self._check(response, what, repository)
        self.transfer.uploaded += len(body)
        return sha256_digest(body)

    # -- blobs -----------------------------------------------------------------------------------

    def blob_exists(self, repository: str, digest: str) -> bool:
        what = f"checking blob {digest[:19]} in {repository}"
        response = self._send("HEAD", f"/v2/{repository}/blobs/{digest}", what)
        if response.status_code == 404:
            return False
        self._check(response, what, repository)
        return True

    def get_blob(self, repository: str, digest: str, *, limit: int = 64 << 20) -> bytes:
        """A small blob (a config), read whole and checked against its digest."""
        with self.open_blob(repository, digest) as reader:
            data = reader.read(limit + 1)
            if len(data) > limit:
                raise RegistryError(f"blob {digest} in {repository} is larger than {limit} bytes")
            reader.verify()
        return data

    @contextlib.contextmanager
    def open_blob(self, repository: str, digest: str) -> Iterator[BlobReader]:
        """A blob as a stream; call :meth:`BlobReader.verify` after reading it."""
        what = f"downloading blob {digest[:19]} of {self.registry}/{repository}"
        url = f"/v2/{repository}/blobs/{digest}"
        response = self._attempt(
            what, lambda: self._http.send(self._http.build_request("GET", url), stream=True)
        )
        try:
            self._check(response, what, repository)
            yield BlobReader(
                response.iter_raw(_CHUNK),
                digest,
                f"{self.registry}/{repository}",
                self.transfer,
            )
        except httpx.HTTPError as error:
            raise self._unreachable(what, error) from None
        finally:
            response.close()

    def mount_blob(self, repository: str, digest: str, source_repository: str) -> str | None:
        """Mount a blob from another repository of this registry.

        :returns: ``None`` when mounted, else an upload URL to send the blob to instead.
        """
        what = f"mounting blob {digest[:19]} into {repository}"
        response = self._send(
            "POST",
            f"/v2/{repository}/blobs/uploads/",
            what,
            retry=True,  # a mount asked twice mounts once; an unused upload session expires
            params={"mount": digest, "from": source_repository},
        )
        self._check(response, what, repository)
        if response.status_code == 201:
            return None
        return self._location(response, what)

    def upload_blob(
        self, repository: str, digest: str, content: bytes | Path, *, upload_url: str | None = None
    ) -> None:
        """Upload a blob in one request (``POST`` then a monolithic ``PUT``).

        An upload answered 429 or a 5xx is started again from a new session: the old one may be
        spent, and a blob stored twice under its digest is stored once.
        """
        what = f"uploading blob {digest[:19]} to {self.registry}/{repository}"
        body: bytes | _FileChunks
        if isinstance(content, bytes):
            body, size = content, len(content)
        else:
            body, size = _FileChunks(content, self.transfer), content.stat().st_size
        given = [upload_url] if upload_url is not None else []

        def attempt() -> httpx.Response:
            location = given.pop() if given else None
            if location is None:
                start = self._http.request("POST", f"/v2/{repository}/blobs/uploads/")
                if start.status_code >= 400:
                    return start
                location = self._location(start, what)
            return self._http.request(
                "PUT",
                str(httpx.URL(location).copy_merge_params({"digest": digest})),
                content=body,
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            )

        response = self._attempt(what, attempt)
        self._check(response, what, repository)
        if isinstance(content, bytes):
            self.transfer.sent(size)

    def _location(self, response: httpx.Response, what: str) -> str:
        location = response.headers.get("Location")
        if not location:
            raise RegistryError(f"registry {self.registry} gave no upload location ({what})")
        return str(httpx.URL(self.base_url).join(location))


def _brief(error: BaseException) -> str:
    text = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _registry_message(response: httpx.Response) -> str:
    """The registry's own error code and message, if it sent the standard JSON."""
    try:
        errors = response.json().get("errors") or []
        first = errors[0]
        return f" ({first.get('code', '')}: {str(first.get('message', ''))[:200]})"
    except Exception:
        return ""
