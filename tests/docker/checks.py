"""How the Docker tests look at an image from outside: skopeo, umoci, and the files pulled."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

from tests.servers import need_program
from tests.servers.registry import RegistryServer


def run_tool(name: str, *args: str) -> str:
    """Run the Debian program ``name`` with ``args``; its stdout, the test failed if it fails."""
    program = need_program(name, f"apt-get install {name}")
    result = subprocess.run(
        [program, *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def skopeo(*args: str) -> str:
    return run_tool("skopeo", *args)


def write_authfile(path: Path, registry: RegistryServer) -> Path:
    """A containers-auth.json for skopeo, so the password is not on its command line."""
    token = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
    path.write_text(json.dumps({"auths": {registry.host: {"auth": token}}}))
    return path


def file_names(directory: Path | str) -> list[str]:
    """The ``/``-separated paths of the files under ``directory``, sorted."""
    root = Path(directory)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def pulled_files(directory: Path, under: str = "app/") -> dict[str, bytes]:
    """The files pulled into ``directory`` as the image holds them: by path ``under`` its folder."""
    return {
        f"{under}{p.relative_to(directory).as_posix()}": p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }
