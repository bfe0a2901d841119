"""Registry answers 429 and 5xx, through a fault-injecting proxy in front of the real registry.

Pulls and code-layer pushes are retried within bounds (``Retry-After`` honoured); a registry that
keeps failing, or asks for a longer wait than is allowed, gets a one-line error.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from codeferry.errors import PullError
from codeferry.plugins import Plugins
from codeferry_docker.credentials import DockerRegistryCredentials
from codeferry_docker.retries import retry_after
from codeferry_docker.storage import OciImage
from tests.docker.checks import pulled_files
from tests.docker.images import RawPusher, config_for, layer
from tests.servers.faulty_proxy import FaultyProxy
from tests.servers.registry import RegistryServer

FILES = {"app/flow.py": b"def main():\n    return 1\n", "app/pkg/helpers.py": b"X = 1\n"}
NOW = {"Retry-After": "0"}


def requests(method: str, part: str, unless: str | None = None) -> Callable[[str, str], bool]:
    """Which requests a fault is for: ``method`` ones whose target holds ``part``."""

    def chosen(asked: str, target: str) -> bool:
        return asked == method and part in target and not (unless and unless in target)

    return chosen


manifests = requests("GET", "/manifests/")
blob_gets = requests("GET", "/blobs/sha256:")


@pytest.fixture
def proxy(oci_registry: RegistryServer) -> Iterator[FaultyProxy]:
    with FaultyProxy(("127.0.0.1", oci_registry.port)) as running:
        yield running


@pytest.fixture
def through_proxy(
    proxy: FaultyProxy, credentials: DockerRegistryCredentials
) -> DockerRegistryCredentials:
    return credentials.model_copy(update={"registry_url": proxy.endpoint})


@pytest.fixture
def image(
    pusher: RawPusher,
    repository: str,
    proxy: FaultyProxy,
    through_proxy: DockerRegistryCredentials,
) -> OciImage:
    code = layer(FILES)
    pusher.image(repository, "v1", [code], config_for([code], workdir="/app"))
    host = proxy.endpoint.removeprefix("http://")
    return OciImage(image=f"{host}/{repository}:v1", credentials=through_proxy)


def test_a_pull_answered_429_then_503_is_retried_until_it_succeeds(
    proxy: FaultyProxy, image: OciImage, tmp_path: Path
) -> None:
    too_many = proxy.plan("status", status=429, times=2, match=manifests, headers=NOW)
    unavailable = proxy.plan("status", status=503, times=2, match=blob_gets, headers=NOW)
    result = image.pull_code(tmp_path / "out")
    assert pulled_files(result.directory) == FILES
    assert (too_many.used, unavailable.used) == (2, 2)


def test_without_retry_after_the_client_backs_off_by_itself(
    proxy: FaultyProxy, image: OciImage, tmp_path: Path
) -> None:
    fault = proxy.plan("status", status=502, times=1, match=manifests)
    result = image.pull_code(tmp_path / "out")
    assert pulled_files(result.directory) == FILES
    assert fault.used == 1


def test_a_registry_that_keeps_failing_gets_a_bounded_number_of_attempts(
    proxy: FaultyProxy,
    image: OciImage,
    through_proxy: DockerRegistryCredentials,
    tmp_path: Path,
) -> None:
    fault = proxy.plan("status", status=503, times=None, match=manifests, headers=NOW)
    with pytest.raises(PullError) as caught:
        image.pull_code(tmp_path / "out")
    message = str(caught.value)
    assert "answered HTTP 503" in message
    assert "(after 5 attempts)" in message
    assert fault.used == 5
    assert through_proxy.password.get_secret_value() not in message
    assert not (tmp_path / "out").exists()


def test_a_wait_longer_than_allowed_fails_at_once_saying_so(
    proxy: FaultyProxy, image: OciImage, tmp_path: Path
) -> None:
    fault = proxy.plan(
        "status", status=429, times=None, match=manifests, headers={"Retry-After": "3600"}
    )
    with pytest.raises(PullError, match=r"HTTP 429 .*asked to retry after 3600 s"):
        image.pull_code(tmp_path / "out")
    assert fault.used == 1


def test_a_server_error_that_retrying_cannot_fix_is_not_retried(
    proxy: FaultyProxy, image: OciImage, tmp_path: Path
) -> None:
    fault = proxy.plan("status", status=501, times=None, match=manifests)
    with pytest.raises(PullError, match="answered HTTP 501"):
        image.pull_code(tmp_path / "out")
    assert fault.used == 1


def test_a_code_layer_push_restarts_uploads_answered_503(
    docker_plugins: Plugins,
    proxy: FaultyProxy,
    through_proxy: DockerRegistryCredentials,
    base_image: str,
    repository: str,
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "flow.py").write_text("def main():\n    return 1\n")
    answer = functools.partial(proxy.plan, "status")
    starts = answer(status=503, times=1, match=requests("POST", "/blobs/uploads/", unless="mount="))
    puts = answer(status=503, times=2, match=requests("PUT", "/blobs/uploads/"), headers=NOW)
    manifest = answer(status=429, times=1, match=requests("PUT", "/manifests/"), headers=NOW)
    host = proxy.endpoint.removeprefix("http://")
    outputs = docker_plugins.step("build_code_layer").function(
        base_image=f"{host}/{base_image.partition('/')[2]}",
        image_name=f"{host}/{repository}",
        tag="v1",
        directory=str(project),
        credentials=through_proxy,
    )
    assert outputs is not None
    assert (starts.used, puts.used, manifest.used) == (1, 2, 1)
    result = OciImage(image=str(outputs["image_with_digest"]), credentials=through_proxy).pull_code(
        tmp_path / "out"
    )
    assert (result.directory / "flow.py").read_text() == "def main():\n    return 1\n"


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), (" 0 ", 0.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("soon", None), ("", None)],
)
def test_retry_after_is_read_as_seconds_or_a_date(header: str, seconds: float | None) -> None:
    assert retry_after(header) == seconds
