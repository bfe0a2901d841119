"""A new plugin distribution, ready to install and passing its own tests as written.

``codeferry plugins new NAME`` calls :func:`create_plugin`. The plugin it writes reads code from a
local folder so that it works at once; its author replaces the listing and the copy with calls to
their backend and keeps the rest: the incremental ``fetch``, the block, the step, the hooks and
the conformance tests.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from codeferry.compatibility import core_requirement
from codeferry.errors import CodeferryError

__all__ = ["PluginName", "create_plugin", "plugin_name"]

_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_MAX_NAME = 40


@dataclass(frozen=True)
class PluginName:
    """The names a plugin called ``name`` goes by."""

    name: str  # the entry-point name, source scheme and block slug prefix: my-store
    distribution: str  # codeferry-my-store
    module: str  # codeferry_my_store
    identifier: str  # my_store
    class_prefix: str  # MyStore


def plugin_name(name: str) -> PluginName:
    """Check ``name`` (lowercase letters, digits and single dashes) and derive the others.

    :raises CodeferryError: naming what is wrong with ``name``.
    """
    if name.startswith("codeferry-"):
        raise CodeferryError(
            f"plugin name {name!r}: give the name without 'codeferry-' "
            f"({name.removeprefix('codeferry-')!r}); the distribution gets the prefix"
        )
    if not _NAME.match(name) or len(name) > _MAX_NAME:
        raise CodeferryError(
            f"plugin name {name!r} must be lowercase letters and digits, words joined by single "
            f"dashes, starting with a letter, at most {_MAX_NAME} characters (like 'my-store')"
        )
    identifier = name.replace("-", "_")
    if keyword.iskeyword(identifier):
        raise CodeferryError(f"plugin name {name!r} is a Python keyword")
    return PluginName(
        name=name,
        distribution=f"codeferry-{name}",
        module=f"codeferry_{identifier}",
        identifier=identifier,
        class_prefix="".join(part.capitalize() for part in name.split("-")),
    )


def create_plugin(name: str, directory: str | Path = ".") -> Path:
    """Write the distribution ``codeferry-NAME/`` into ``directory``; return its folder.

    :raises CodeferryError: for an invalid name, or when the folder already exists (nothing is
        overwritten).
    """
    names = plugin_name(name)
    root = Path(directory).expanduser() / names.distribution
    if root.exists() or root.is_symlink():
        raise CodeferryError(f"{root} already exists; remove it or choose another --dir")
    values = {
        "name": names.name,
        "distribution": names.distribution,
        "module": names.module,
        "identifier": names.identifier,
        "Class": names.class_prefix,
        "core_requirement": core_requirement(),
        "Title": " ".join(part.capitalize() for part in names.name.split("-")),
    }
    files = {
        Template(path).substitute(values): Template(text).substitute(values)
        for path, text in _TEMPLATES.items()
    }
    root.mkdir(parents=True)
    for relative, text in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


_PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[project]
name = "$distribution"
dynamic = ["version"]
description = "codeferry plugin: code kept in $name."
readme = "README.md"
requires-python = ">=3.11"
license = "Apache-2.0"
classifiers = [
    "Programming Language :: Python :: 3",
    "Typing :: Typed",
]
# The codeferry minor line this plugin is made and tested against (docs: hook versioning).
dependencies = ["$core_requirement"]

[project.optional-dependencies]
# The conformance kit (codeferry.testing) ships with codeferry; its extra brings pytest.
test = ["codeferry[testing]"]

[project.entry-points.codeferry]
$name = "$module.plugin"

[tool.hatch.version]
path = "src/$module/__init__.py"

[tool.hatch.build.targets.wheel]
packages = ["src/$module"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

_README = """\
# $distribution

A [codeferry](https://pypi.org/project/codeferry/) plugin: code kept in $name.

```bash
pip install -e ".[test]"
pytest                                   # the storage conformance kit, against this plugin
codeferry plugins ls                     # $name: $distribution, ok
codeferry pull $name:///path/to/code     # first pull copies everything
codeferry pull $name:///path/to/code     # nothing changed: nothing moves
```

As generated, the storage reads a local folder so that it works at once. Make it read your
backend by changing `${Class}Storage._list` (what is there, and a fingerprint of each file) and
`${Class}Storage._copy` (one file into the pull's folder) in `src/$module/storage.py`; keep the
rest. The conformance tests in `tests/test_contract.py` then need a `write` that puts files into
your backend (a test server on 127.0.0.1).

Rules the tests check: paths from storage go through `context.path_for`, git's folder left out
(`codeferry.paths.is_git_path`); unchanged files come from `context.reuse`; an unchanged store
returns `context.unchanged()`; errors are one-line `PullError`s; secrets are `SecretStr` fields,
never in `str`, `repr`, errors or pull steps.
"""

_INIT = '''\
"""codeferry plugin: code kept in $name."""

__version__ = "0.1.0"
'''

_PLUGIN = '''\
"""The hooks of $distribution: its entry-point module, kept light (no work at import)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codeferry import hookimpl

if TYPE_CHECKING:
    from codeferry import CodeStorage
    from codeferry.hookspecs import RegisterBlockType, RegisterSourceKind, RegisterStep

SCHEME = "$name://"


@hookimpl
def register_block_types(register: RegisterBlockType) -> None:
    from $module.storage import ${Class}Storage

    register(${Class}Storage)


@hookimpl
def register_steps(register: RegisterStep) -> None:
    from $module.steps import pull_from_$identifier

    register(pull_from_$identifier)


@hookimpl
def register_source_kinds(register: RegisterSourceKind) -> None:
    register("$name", description="code kept in $name", examples=[f"{SCHEME}/srv/flows"])


@hookimpl
def storage_from_source(source: object) -> CodeStorage | None:
    if isinstance(source, str) and source.startswith(SCHEME):
        from $module.storage import ${Class}Storage

        return ${Class}Storage(path=source.removeprefix(SCHEME))
    return None
'''

_STORAGE = '''\
"""Code kept in $name: only files whose fingerprint changed are copied."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, SecretStr

from codeferry import Block, CodeStorage, FetchResult, PullContext
from codeferry.errors import CodeferryError, PullError
from codeferry.paths import is_git_path


class ${Class}Storage(CodeStorage, Block):
    """Code kept in $name."""

    block_type_slug: ClassVar[str] = "$name-storage"
    block_type_name: ClassVar[str] = "${Title} Storage"  # shown in lists: spell it as people do

    path: str
    # SecretStr keeps a credential out of repr and listings, and encrypted at rest.
    token: SecretStr | None = Field(default=None, description="An example credential.")

    def __str__(self) -> str:  # shown in logs and errors: never a secret
        return f"$name://{self.path}"

    def to_pull_step(self) -> dict[str, dict[str, Any]]:
        if self.block_name:
            arguments = {"block": self.block_name}  # the step loads it, credentials and all
        elif self.token is None:
            arguments = {"path": self.path}
        else:
            raise CodeferryError(f"save {self} as a block first, so the pull step can name it")
        return {"$module.steps.pull_from_$identifier": arguments}

    def fetch(self, context: PullContext) -> FetchResult:
        listing = self._list()
        before: dict[str, str] = dict(context.previous_state.get("files", {}))
        if context.previous is not None and listing == before:
            return context.unchanged()
        files = size = 0
        for path, fingerprint in sorted(listing.items()):
            target = context.path_for(path)  # refuses ../ and absolute paths
            if before.get(path) == fingerprint and context.reuse(path):
                continue
            size += self._copy(path, target)
            files += 1
        version = hashlib.sha256(repr(sorted(listing.items())).encode()).hexdigest()
        return FetchResult(version, files, size, state={"files": listing})

    # -- what a backend changes: listing and copying ---------------------------------------

    def _list(self) -> dict[str, str]:
        """Every file: its ``/``-separated path and a fingerprint that changes with its content.

        A backend lists its objects and uses their ETag, checksum or commit id as fingerprint.
        Git's folder is left out: a pulled tree never holds ``.git``.
        """
        root = Path(self.path)
        if not root.is_dir():
            raise PullError(f"{self} does not exist")
        found = {}
        for file in root.rglob("*"):
            path = file.relative_to(root).as_posix()
            if file.is_file() and not is_git_path(path):
                found[path] = hashlib.sha256(file.read_bytes()).hexdigest()
        return found

    def _copy(self, path: str, target: Path) -> int:
        """Copy one file into ``target``; return its size."""
        try:
            with (Path(self.path) / path).open("rb") as reader, target.open("wb") as writer:
                shutil.copyfileobj(reader, writer)
        except OSError as error:
            raise PullError(f"cannot copy {path} from {self}: {error.strerror}") from None
        return target.stat().st_size
'''

_STEPS = '''\
"""Deployment-file steps of $distribution."""

from __future__ import annotations

from typing import Any

from codeferry.errors import CodeferryError


def pull_from_$identifier(
    path: str | None = None,
    block: str | None = None,
    destination: str | None = None,
    replace: bool = False,
) -> dict[str, Any]:
    """Pull the code at ``path``, or of the saved storage block ``block`` (incremental, atomic).

    Outputs: ``directory`` (where the code is), ``version``, ``files`` and ``bytes`` copied.
    """
    from $module.storage import ${Class}Storage

    if block is not None:
        storage = ${Class}Storage.load(block)
    elif path is not None:
        storage = ${Class}Storage(path=path)
    else:
        raise CodeferryError("pull_from_$identifier needs a path or a block")
    return storage.pull_code(destination, replace=replace).as_dict()
'''

_TEST_CONTRACT = '''\
"""$distribution keeps the storage contract every codeferry storage keeps."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from codeferry.testing import StorageContract, StoreHandle
from $module.storage import ${Class}Storage

TOKEN = "test-token-that-must-never-show"


def replace_folder(root: Path, files: Mapping[str, bytes]) -> None:
    """Make the store hold exactly ``files``."""
    for path in files:
        if path.startswith("/") or ".." in path.split("/"):
            raise NotImplementedError("a folder cannot hold that name")
    for existing in sorted(root.rglob("*"), reverse=True):
        existing.unlink() if existing.is_file() else existing.rmdir()
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)


class Test${Class}Storage(StorageContract):
    # The kit's tests that skip: a folder cannot hold ../escaped.py, /absolute.py or
    # a/../../escaped.py. A store that can hold them skips none: make this 0.
    expected_skips = 3

    @pytest.fixture
    def store(self, tmp_path: Path) -> StoreHandle:
        root = tmp_path / "store"
        root.mkdir()
        storage = ${Class}Storage(path=str(root), token=TOKEN)
        storage.save("contract-test")
        return StoreHandle(
            storage,
            lambda files: replace_folder(root, files),
            secrets=[TOKEN],
            failing=lambda: ${Class}Storage(path=str(tmp_path / "missing"), token=TOKEN),
        )
'''

_TEMPLATES = {
    "pyproject.toml": _PYPROJECT,
    "README.md": _README,
    "src/$module/__init__.py": _INIT,
    "src/$module/py.typed": "",
    "src/$module/plugin.py": _PLUGIN,
    "src/$module/storage.py": _STORAGE,
    "src/$module/steps.py": _STEPS,
    "tests/__init__.py": "",
    "tests/test_contract.py": _TEST_CONTRACT,
}
