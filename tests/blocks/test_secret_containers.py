"""Lists and dicts of secrets in blocks: encrypted at rest, loaded back, never shown.

Shapes that could not be stored are refused when the block type is registered; validation
errors never quote the values they were given.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pydantic
import pytest
from pydantic import BaseModel, SecretBytes, SecretStr

from codeferry.blocks import Block, check_secret_fields, register_block_types_from
from codeferry.errors import BlockError
from codeferry.plugins import Plugins
from codeferry.store import BlockStore
from tests.store.test_encryption import database_bytes


class Header(BaseModel):
    name: str
    value: SecretStr


class ApiKeys(Block):
    """Keys for several services."""

    tokens: list[SecretStr]
    by_service: dict[str, SecretStr]
    optional_tokens: list[SecretStr] | None = None
    nested: dict[str, list[SecretStr]] = pydantic.Field(default_factory=dict)
    certificates: tuple[SecretBytes, ...] = ()
    headers: list[Header] = pydantic.Field(default_factory=list)
    labels: list[str] = pydantic.Field(default_factory=list)


SECRETS = ["tok-list-1", "tok-list-2", "tok-dict-3", "tok-opt-4", "tok-nest-5", "tok-head-6"]


def keys(**changes: Any) -> ApiKeys:
    values: dict[str, Any] = {
        "tokens": ["tok-list-1", "tok-list-2"],
        "by_service": {"github": "tok-dict-3"},
        "optional_tokens": ["tok-opt-4"],
        "nested": {"ci": ["tok-nest-5"]},
        "certificates": (b"\x00cert-bytes-7\xff",),
        "headers": [{"name": "X-Api-Key", "value": "tok-head-6"}],
        "labels": ["public-label"],
    }
    values.update(changes)
    return ApiKeys(**values)


@pytest.mark.usefixtures("store")
def test_lists_and_dicts_of_secrets_load_back_as_saved() -> None:
    keys().save("prod")
    loaded = ApiKeys.load("prod")
    assert [t.get_secret_value() for t in loaded.tokens] == ["tok-list-1", "tok-list-2"]
    assert loaded.by_service["github"].get_secret_value() == "tok-dict-3"
    assert loaded.optional_tokens is not None
    assert loaded.optional_tokens[0].get_secret_value() == "tok-opt-4"
    assert loaded.nested["ci"][0].get_secret_value() == "tok-nest-5"
    assert loaded.certificates[0].get_secret_value() == b"\x00cert-bytes-7\xff"
    assert loaded.headers[0].value.get_secret_value() == "tok-head-6"
    assert loaded.labels == ["public-label"]
    assert loaded.public_dict(show_secrets=True) == keys().public_dict(show_secrets=True)


def test_lists_and_dicts_of_secrets_are_encrypted_at_rest(
    store: BlockStore, database_url: str, request: pytest.FixtureRequest
) -> None:
    keys().save("prod")
    document = store.get_document("api-keys", "prod")
    assert set(document.secrets) == {
        "tokens",
        "by_service",
        "optional_tokens",
        "nested",
        "certificates",
        "headers",
    }
    assert document.data == {"labels": ["public-label"]}
    stored = database_bytes(database_url, request)
    assert b"public-label" in stored
    for secret in [*SECRETS, "cert-bytes-7"]:
        assert secret.encode() not in stored


@pytest.mark.usefixtures("store")
def test_empty_or_unset_containers_of_secrets_load_back() -> None:
    keys(tokens=[], by_service={}, optional_tokens=None, headers=[]).save("empty")
    loaded = ApiKeys.load("empty")
    assert (loaded.tokens, loaded.by_service, loaded.optional_tokens) == ([], {}, None)


def test_containers_of_secrets_are_secret_fields() -> None:
    secret = ["by_service", "certificates", "headers", "nested", "optional_tokens", "tokens"]
    assert ApiKeys.secret_fields() == secret


def test_containers_of_secrets_are_masked_in_repr_and_public_dict() -> None:
    block = keys()
    for text in (repr(block), str(block), repr(block.public_dict())):
        for secret in SECRETS:
            assert secret not in text


@pytest.mark.parametrize(
    ("annotation", "problem"),
    [
        ("dict[SecretStr, str]", "has secrets as dict keys"),
        ("list[dict[SecretStr, int]]", "has secrets as dict keys"),
        ("pydantic.Secret[list[SecretStr]]", "holds a secret inside a secret"),
        ("Holder", "holds secrets inside the dataclass Holder"),
        ("list[Holder] | None", "holds secrets inside the dataclass Holder"),
    ],
)
def test_shapes_that_cannot_be_stored_are_refused(annotation: str, problem: str) -> None:
    namespace = _module_namespace()
    source = f"class Odd(Block):\n    field: {annotation}\n"
    exec(compile(source, "<odd>", "exec", dont_inherit=True), namespace)
    with pytest.raises(BlockError, match=f"block type odd: field field {problem}"):
        check_secret_fields(namespace["Odd"])


def _module_namespace() -> dict[str, Any]:
    import dataclasses

    @dataclasses.dataclass
    class Holder:
        token: SecretStr

    return {"Block": Block, "SecretStr": SecretStr, "pydantic": pydantic, "Holder": Holder}


def test_registering_a_module_with_an_unstorable_shape_is_refused(
    store: BlockStore, tmp_path: Path
) -> None:
    module = tmp_path / "odd_blocks.py"
    module.write_text(
        textwrap.dedent(
            """
            from pydantic import SecretStr
            from codeferry.blocks import Block

            class OddKeys(Block):
                by_token: dict[SecretStr, str]
            """
        )
    )
    with pytest.raises(BlockError, match="block type odd-keys: field by_token has secrets as"):
        register_block_types_from(module)
    assert store.get_block_type("odd-keys") is None


def test_a_plugin_registering_an_unstorable_shape_is_refused(tmp_path: Path) -> None:
    plugin = tmp_path / "odd_plugin_for_secrets.py"
    plugin.write_text(
        textwrap.dedent(
            """
            from pydantic import SecretStr
            from codeferry import hookimpl
            from codeferry.blocks import Block

            class OddKeys(Block):
                by_token: dict[SecretStr, str]

            @hookimpl
            def register_block_types(register):
                register(OddKeys)
            """
        )
    )
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        registry = Plugins({"odd": "odd_plugin_for_secrets"}, entry_points=False)
        assert "odd-keys" not in registry.block_types
        (odd,) = [plugin for plugin in registry.describe() if plugin["name"] == "odd"]
        assert odd["status"] == "error"
        assert "field by_token has secrets as dict keys" in " ".join(odd["errors"])
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("odd_plugin_for_secrets", None)


def test_validation_errors_never_quote_the_values_given() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        ApiKeys(tokens="tok-not-a-list-99", by_service={"x": 12345678})
    text = str(caught.value)
    assert "tok-not-a-list-99" not in text
    assert "12345678" not in text


def test_a_saved_block_that_no_longer_fits_names_the_field_not_the_value(
    store: BlockStore,
) -> None:
    from codeferry.store import BlockDocument

    store.save_document(
        BlockDocument("api-keys", "stale", {"labels": "tok-where-a-list-was-88"}, {"tokens": []})
    )
    with pytest.raises(BlockError, match="field 'by_service'") as caught:
        ApiKeys.load("stale")
    assert "tok-where-a-list-was-88" not in str(caught.value)
