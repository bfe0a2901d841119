"""Deployment-file steps for SFTP servers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from codeferry_sftp.server import SftpServer


def pull_from_sftp(
    path: str, server: SftpServer | Mapping[str, Any] | str, destination: str | None = None
) -> dict[str, Any]:
    """Pull the code in the folder ``path`` on an SFTP server (incremental and atomic).

    ``server`` is the server's fields (``host``, ``port``, ``username``, ``host_key``, ...), a
    saved ``sftp-server`` block by name, or one resolved by ``{{ blocks.sftp-server.NAME }}``.

    Outputs: ``directory`` (where the code is), ``version``, ``files`` and ``bytes`` copied.
    """
    from codeferry_sftp.storage import SftpDirectory

    if isinstance(server, str):
        resolved = SftpServer.load(server)
    elif isinstance(server, SftpServer):
        resolved = server
    else:
        resolved = SftpServer.model_validate(dict(server))
    return SftpDirectory(server=resolved, path=path).pull_code(destination).as_dict()
