"""Registering block types from a module or a file, and loading blocks of those types."""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeferry.blocks import Block, block_types, get_block_type, register_block_types_from
from codeferry.errors import BlockError
from codeferry.store import BlockStore

HELPER = """
from pydantic import SecretStr
from codeferry.blocks import Block

class ImportedToken(Block):
    token: SecretStr
"""

BLOCKS_V1 = """
from pydantic import SecretStr
from codeferry.blocks import Block, Secret
from {helper} import ImportedToken

class ServerLogin(Block):
    '''Login for a server.'''
    host: str
    password: SecretStr

class Mirror(Block):
    url: str
"""

BLOCKS_V2 = BLOCKS_V1.replace("    url: str\n", "    url: str\n    branch: str = 'main'\n")


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str, str]]:
    """A folder on sys.path with a helper module and a blocks module; yields (dir, helper, mod)."""
    folder = tmp_path / "src"
    folder.mkdir()
    suffix = uuid.uuid4().hex[:8]
    helper, blocks = f"helper_{suffix}", f"myblocks_{suffix}"
    (folder / f"{helper}.py").write_text(HELPER)
    (folder / f"{blocks}.py").write_text(BLOCKS_V1.format(helper=helper))
    monkeypatch.syspath_prepend(str(folder))
    yield folder, helper, blocks
    for name in (helper, blocks):
        sys.modules.pop(name, None)


@pytest.fixture
def blocks_file(modules: tuple[Path, str, str], tmp_path: Path) -> Path:
    """A file (not a module on sys.path) of ``BLOCKS_V1``, importing the helper module."""
    _, helper, _ = modules
    path = tmp_path / "blocks_file.py"
    path.write_text(BLOCKS_V1.format(helper=helper))
    return path


def slugs(results: list[tuple[type[Block], str]]) -> list[tuple[str, str]]:
    return sorted((block_type.block_type_slug, status) for block_type, status in results)


@pytest.mark.usefixtures("plugins")
def test_registering_a_module_registers_what_it_defines_not_what_it_imports(
    store: BlockStore, modules: tuple[Path, str, str]
) -> None:
    _, _, module = modules
    results = register_block_types_from(module)
    assert slugs(results) == [("mirror", "new"), ("server-login", "new")]
    assert [r.slug for r in store.list_block_types()] == ["mirror", "server-login"]
    record = store.get_block_type("server-login")
    assert record is not None
    assert record.module == f"{module}:ServerLogin"
    assert record.description == "Login for a server."
    assert record.schema["secret_fields"] == ["password"]


@pytest.mark.usefixtures("store", "plugins")
def test_registering_a_module_again_is_unchanged_then_updated_when_it_changes(
    modules: tuple[Path, str, str],
) -> None:
    folder, helper, module = modules
    register_block_types_from(module)
    assert slugs(register_block_types_from(module)) == [
        ("mirror", "unchanged"),
        ("server-login", "unchanged"),
    ]
    (folder / f"{module}.py").write_text(BLOCKS_V2.format(helper=helper))
    sys.modules.pop(module)  # a new process would import the edited module
    importlib.invalidate_caches()
    assert slugs(register_block_types_from(module)) == [
        ("mirror", "updated"),
        ("server-login", "unchanged"),
    ]


@pytest.mark.usefixtures("plugins")
def test_registering_a_file_reads_it_as_it_is_now(
    store: BlockStore, modules: tuple[Path, str, str], blocks_file: Path
) -> None:
    _, helper, _ = modules
    path = blocks_file
    assert slugs(register_block_types_from(path)) == [("mirror", "new"), ("server-login", "new")]
    assert slugs(register_block_types_from(str(path))) == [
        ("mirror", "unchanged"),
        ("server-login", "unchanged"),
    ]
    path.write_text(BLOCKS_V2.format(helper=helper))
    assert slugs(register_block_types_from(path)) == [
        ("mirror", "updated"),
        ("server-login", "unchanged"),
    ]
    record = store.get_block_type("mirror")
    assert record is not None
    assert record.module == f"{path.resolve()}:Mirror"


@pytest.mark.usefixtures("store", "plugins")
def test_a_block_of_a_registered_type_loads_by_slug_and_name(blocks_file: Path) -> None:
    path = blocks_file
    [(login_type, _)] = [
        r for r in register_block_types_from(path) if r[0].__name__ == "ServerLogin"
    ]
    login_type(host="db.example", password="pw-registered").save("db")  # type: ignore[call-arg]
    loaded = Block.load("server-login/db")
    assert type(loaded).__name__ == "ServerLogin"
    assert loaded.password.get_secret_value() == "pw-registered"  # type: ignore[attr-defined]
    assert get_block_type("server-login") is type(loaded)
    known = block_types()
    assert known["server-login"].source == f"{path.resolve()}:ServerLogin"
    assert known["secret"].source == "codeferry"  # plugins' types come first


@pytest.mark.usefixtures("store", "plugins")
def test_registered_type_whose_module_is_gone_is_left_out_of_block_types(
    blocks_file: Path,
) -> None:
    path = blocks_file
    register_block_types_from(path)
    path.unlink()
    for name in [n for n in sys.modules if n.startswith("codeferry_registered_")]:
        sys.modules.pop(name)
    assert "mirror" not in block_types()
    with pytest.raises(BlockError, match="cannot import"):
        get_block_type("mirror")


@pytest.mark.usefixtures("plugins")
def test_a_module_without_block_types_is_refused(store: BlockStore, tmp_path: Path) -> None:
    path = tmp_path / "empty.py"
    path.write_text("from codeferry.blocks import Block, Secret\nX = 1\n")
    with pytest.raises(BlockError, match="defines no block types"):
        register_block_types_from(path)
    assert store.list_block_types() == []


@pytest.mark.usefixtures("store", "plugins")
def test_a_module_that_fails_to_import_is_a_block_error_and_can_be_fixed(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(BlockError, match=r"cannot import .*broken.py: RuntimeError: boom"):
        register_block_types_from(path)
    path.write_text(
        textwrap.dedent(BLOCKS_V1.split("from {helper}", maxsplit=1)[0])
        + "class Fixed(Block):\n    x: int\n"
    )
    assert slugs(register_block_types_from(path)) == [("fixed", "new")]
    with pytest.raises(BlockError, match="cannot import no_such_module_xyz"):
        register_block_types_from("no_such_module_xyz")


@pytest.mark.parametrize(
    ("class_name", "shown"),
    [
        ("AWSCredentials", "AWS Credentials"),
        ("OAuthToken", "OAuth Token"),
        ("IPv6Address", "IPv6 Address"),
        ("S3Bucket", "S3 Bucket"),
        ("HTTPServerLogin", "HTTP Server Login"),
        ("JSON", "JSON"),
        ("ServerLogin", "Server Login"),
    ],
)
def test_a_block_without_a_display_name_gets_its_words_spaced_acronyms_whole(
    class_name: str, shown: str
) -> None:
    block_type = type(
        class_name, (Block,), {"__annotations__": {"host": "str"}, "__module__": __name__}
    )
    assert issubclass(block_type, Block)
    assert block_type.block_type_name == shown


def test_a_derived_display_name_never_changes_the_slug() -> None:
    block_type = type("OAuthToken", (Block,), {"__annotations__": {}, "__module__": __name__})
    assert issubclass(block_type, Block)
    assert block_type.block_type_slug == "o-auth-token"  # as saved blocks already name it
