"""A registry that accepts connections and never answers: the pull gives up, in one line."""

from __future__ import annotations

from pathlib import Path

from codeferry_docker.registry import RegistryClient
from tests.servers.silent import SilentServer, run_codeferry


def test_pull_from_a_silent_registry_fails_in_one_line_naming_it(
    silent_server: SilentServer, tmp_path: Path
) -> None:
    image = f"{silent_server.address}/flows:latest"
    dest = tmp_path / "code"
    for _ in range(2):
        finished = run_codeferry("pull", f"docker://{image}", "--dest", str(dest))
        assert finished.returncode == 1
        assert len(finished.stderr) == 1
        assert finished.stderr[0].startswith(
            f"Error: registry {silent_server.address} accepted the connection but sent nothing "
            "for 1 s ("
        )


def test_registry_clients_are_built_with_the_default_limits() -> None:
    from codeferry.timeouts import NetworkTimeouts

    with RegistryClient("registry.example.com") as client:
        assert client.timeouts == NetworkTimeouts(connect=10.0, read=30.0)
