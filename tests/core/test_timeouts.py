"""The limits every transport waits within: read from the settings, one way, in one place."""

from __future__ import annotations

import pytest

from codeferry.errors import SettingError
from codeferry.remote.transfer import TransferSettings
from codeferry.timeouts import (
    ConnectTimeoutError,
    NetworkTimeouts,
    is_connect_timeout,
    is_timeout,
    lock_timeout,
    network_timeouts,
    open_connection,
    server_address,
)
from tests.servers.silent import SilentServer


def test_a_silent_server_is_given_up_within_about_a_minute_by_default() -> None:
    assert network_timeouts() == NetworkTimeouts(connect=10.0, read=30.0)
    assert lock_timeout() == 300.0
    settings = TransferSettings()
    assert settings.stall_timeout == 30.0
    assert settings.timeout_attempts == 2


def test_the_settings_change_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEFERRY_CONNECT_TIMEOUT", "2.5")
    monkeypatch.setenv("CODEFERRY_READ_TIMEOUT", "off")
    monkeypatch.setenv("CODEFERRY_LOCK_TIMEOUT", "45s")
    assert network_timeouts() == NetworkTimeouts(connect=2.5, read=None)
    assert lock_timeout() == 45.0


@pytest.mark.parametrize("variable", ["CODEFERRY_READ_TIMEOUT", "CODEFERRY_LOCK_TIMEOUT"])
def test_a_malformed_limit_is_an_error_naming_the_setting(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, "soon")
    with pytest.raises(SettingError, match=f"{variable}='soon' is not a number of seconds"):
        network_timeouts() if variable == "CODEFERRY_READ_TIMEOUT" else lock_timeout()


def wrapped(inner: BaseException) -> BaseException:
    """``inner`` under an error of a client's own, as dulwich and botocore wrap timeouts."""
    try:
        try:
            raise inner
        except BaseException as error:
            raise RuntimeError("the request failed") from error
    except RuntimeError as outer:
        return outer


def test_timeouts_are_recognised_under_the_errors_clients_wrap_them_in() -> None:
    assert is_timeout(wrapped(TimeoutError("timed out")))
    assert not is_timeout(wrapped(ConnectionResetError("reset")))
    assert is_connect_timeout(wrapped(ConnectTimeoutError("connecting timed out")))
    assert not is_connect_timeout(wrapped(TimeoutError("timed out")))


def test_the_line_says_whether_the_server_never_connected_or_never_answered() -> None:
    limits = NetworkTimeouts(connect=10.0, read=30.0)
    assert limits.describe("git server h:9418", TimeoutError()) == (
        "git server h:9418 accepted the connection but sent nothing for 30 s"
    )
    assert limits.describe("git server h:9418", ConnectTimeoutError()) == (
        "git server h:9418 did not accept a connection within 10 s"
    )


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("https://git.example.com/flows.git", "git.example.com:443"),
        ("http://user:token@minio.local/x", "minio.local:80"),
        ("git://git.example.com/flows.git", "git.example.com:9418"),
        ("ssh://git@git.example.com:2222/flows.git", "git.example.com:2222"),
        ("http://[::1]:9000", "[::1]:9000"),
    ],
)
def test_servers_are_named_by_host_and_port_without_credentials(url: str, address: str) -> None:
    assert server_address(url) == address


def test_a_connection_to_a_silent_server_reads_within_the_read_timeout(
    silent_server: SilentServer,
) -> None:
    limits = NetworkTimeouts(connect=1.0, read=0.2)
    with (
        open_connection("127.0.0.1", silent_server.port, limits) as connection,
        pytest.raises(TimeoutError),
    ):
        connection.recv(1)


def test_a_timed_out_request_is_tried_twice_at_most_and_other_failures_as_often_as_allowed() -> (
    None
):
    settings = TransferSettings(attempts=4)
    assert not settings.gives_up(TimeoutError(), attempt=1)
    assert settings.gives_up(TimeoutError(), attempt=2)
    assert not settings.gives_up(ConnectionResetError(), attempt=3)
    assert settings.gives_up(ConnectionResetError(), attempt=4)
