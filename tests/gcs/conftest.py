"""Fixtures for the GCS plugin's tests: the emulator, a bucket, and a way to put objects in it."""

from __future__ import annotations

import json
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from codeferry.plugins import Plugins
from tests.conftest import use_plugins
from tests.servers.gcs import GcsEmulator
from tests.servers.keys import new_rsa_key

BUCKET = "codeferry-flows"


@dataclass
class Objects:
    """The objects of one bucket, written over the JSON API (not with the code under test)."""

    emulator: GcsEmulator
    bucket: str

    def put(self, name: str, data: bytes) -> None:
        # A multipart upload: the emulator fails on an empty body in a "media" upload.
        boundary = "codeferry-test-boundary"
        body = b"".join(
            [
                f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".encode(),
                json.dumps({"name": name}).encode(),
                f"\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n".encode(),
                data,
                f"\r\n--{boundary}--\r\n".encode(),
            ]
        )
        request = urllib.request.Request(
            f"{self.emulator.endpoint}/upload/storage/v1/b/{self.bucket}/o?uploadType=multipart",
            data=body,
            headers={"Content-Type": f"multipart/related; boundary={boundary}"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10):
            pass

    def names(self, prefix: str = "") -> list[str]:
        query = urllib.parse.urlencode({"prefix": prefix})
        url = f"{self.emulator.endpoint}/storage/v1/b/{self.bucket}/o?{query}"
        with urllib.request.urlopen(url, timeout=10) as response:
            listing = json.load(response)
        return sorted(item["name"] for item in listing.get("items", []))

    def delete(self, name: str) -> None:
        quoted = urllib.parse.quote(name, safe="")
        request = urllib.request.Request(
            f"{self.emulator.endpoint}/storage/v1/b/{self.bucket}/o/{quoted}", method="DELETE"
        )
        with urllib.request.urlopen(request, timeout=10):
            pass

    def replace(self, folder: str, files: Mapping[str, bytes]) -> None:
        """Make ``folder`` hold exactly ``files``."""
        prefix = f"{folder.strip('/')}/" if folder.strip("/") else ""
        for name in self.names(prefix):
            self.delete(name)
        for path, data in files.items():
            try:
                self.put(prefix + path, data)
            except OSError as error:
                # The emulator refuses names with `..` (real GCS stores them).
                raise NotImplementedError(f"the emulator refused {path!r}: {error}") from None
        missing = {prefix + path for path in files} - set(self.names(prefix))
        if missing:
            raise NotImplementedError(f"the emulator stored {sorted(missing)} under other names")


@pytest.fixture
def objects(gcs_emulator: GcsEmulator) -> Objects:
    gcs_emulator.create_bucket(BUCKET)
    return Objects(gcs_emulator, BUCKET)


@pytest.fixture
def gcs_plugins() -> Plugins:
    """Core, local and the GCS plugin, and nothing else installed on the machine."""
    return use_plugins(local="codeferry_local.plugin", gcs="codeferry_gcs.plugin")


@dataclass
class TokenServer:
    """A stand-in for Google's OAuth token endpoint: hands out one token, remembers who asked."""

    url: str
    access_token: str
    assertions: list[str] = field(default_factory=list)


@pytest.fixture
def token_server() -> Iterator[TokenServer]:
    state = TokenServer(url="", access_token="ya29.codeferry-test-token")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            state.assertions.extend(urllib.parse.parse_qs(body).get("assertion", []))
            answer = json.dumps(
                {"access_token": state.access_token, "expires_in": 3600, "token_type": "Bearer"}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/token"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def service_account_info(token_uri: str, project: str = "from-the-key") -> dict[str, str]:
    """A real (freshly generated) service account key whose tokens come from ``token_uri``."""
    _, pem = new_rsa_key()
    return {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "codeferry-test-key-id",
        "private_key": pem,
        "client_email": f"flows@{project}.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": token_uri,
    }
