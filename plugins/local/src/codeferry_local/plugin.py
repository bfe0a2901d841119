"""The hooks of codeferry-local: its entry-point module, kept light (no work at import)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from codeferry import hookimpl

if TYPE_CHECKING:
    from codeferry.hookspecs import RegisterBlockType, RegisterSourceKind, RegisterStep
    from codeferry.storage import CodeStorage

_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")


@hookimpl
def register_block_types(register: RegisterBlockType) -> None:
    from codeferry_local.storage import LocalDirectory

    register(LocalDirectory)


@hookimpl
def register_steps(register: RegisterStep) -> None:
    from codeferry_local import steps

    register(
        steps.set_working_directory,
        aliases=[
            "prefect.deployments.steps.set_working_directory",
            "prefect.deployments.steps.pull.set_working_directory",
        ],
    )
    register(steps.pull_from_directory)


@hookimpl
def register_source_kinds(register: RegisterSourceKind) -> None:
    register(
        "local",
        description="a local folder, by path or file:// URL",
        examples=["./flows", "/srv/code", "file:///srv/code"],
    )


@hookimpl(trylast=True)
def storage_from_source(source: object) -> CodeStorage | None:
    """Claim ``file://`` URLs and plain paths (asked last, so specific plugins go first)."""
    if not isinstance(source, str):
        return None
    if source.startswith("file://"):
        path = unquote(urlsplit(source).path)
    elif _URL_SCHEME.match(source) or _SCP_LIKE.match(source):
        return None
    else:
        path = source
    from codeferry_local.folder import LocalFolder  # a plain object: no block model to build

    return LocalFolder(str(Path(path).expanduser()))
