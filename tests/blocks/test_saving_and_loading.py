"""Blocks saved to and loaded from the store: typed objects, names, overwrite, delete."""

from __future__ import annotations

from typing import Any, ClassVar

import pydantic
import pytest
from pydantic import SecretBytes, SecretStr

from codeferry.blocks import Block, Secret, load_block
from codeferry.errors import BlockError, BlockNotFoundError, BlockTypeNotFoundError
from codeferry.store import BlockStore


class Credentials(Block):
    """Credentials for a bucket."""

    access_key: str
    secret_key: SecretStr


class Bucket(Block):
    """A bucket holding code."""

    block_type_slug: ClassVar[str] = "test-bucket"

    bucket: str
    prefix: str = ""
    credentials: Credentials
    tags: list[str] = pydantic.Field(default_factory=list)
    certificate: SecretBytes | None = None
    settings: pydantic.Secret[dict[str, Any]] | None = None


def bucket(**changes: Any) -> Bucket:
    values: dict[str, Any] = {
        "bucket": "code",
        "prefix": "flows/",
        "credentials": Credentials(access_key="AKIA1", secret_key="sk-credentials-1"),
        "tags": ["a", "b"],
        "certificate": b"\x00\x01cert-bytes\xff",
        "settings": {"token": "tok-settings-1", "retries": 3},
    }
    values.update(changes)
    return Bucket(**values)


@pytest.mark.usefixtures("store")
def test_saved_block_loads_back_as_an_equal_typed_object() -> None:
    original = bucket()
    original.save("prod")
    loaded = Bucket.load("prod")
    assert type(loaded) is Bucket
    assert loaded == original
    assert loaded.block_name == "prod"
    assert loaded.credentials.secret_key.get_secret_value() == "sk-credentials-1"
    assert loaded.certificate is not None
    assert loaded.certificate.get_secret_value() == b"\x00\x01cert-bytes\xff"
    assert loaded.settings is not None
    assert loaded.settings.get_secret_value() == {"token": "tok-settings-1", "retries": 3}


def test_secret_fields_are_stored_apart_from_public_data(store: BlockStore) -> None:
    bucket().save("prod")
    document = store.get_document("test-bucket", "prod")
    assert set(document.secrets) == {"certificate", "credentials.secret_key", "settings"}
    text = repr(document.data)
    for secret in ("sk-credentials-1", "tok-settings-1", "cert-bytes"):
        assert secret not in text
    assert document.data["credentials"] == {"access_key": "AKIA1"}
    assert "sk-credentials-1" not in repr(document)


@pytest.mark.usefixtures("store")
def test_repr_and_public_dict_mask_secrets() -> None:
    bucket().save("prod")
    loaded = Bucket.load("prod")
    for text in (repr(loaded), str(loaded), repr(loaded.public_dict())):
        assert "sk-credentials-1" not in text
        assert "tok-settings-1" not in text
        assert "cert-bytes" not in text
    revealed = loaded.public_dict(show_secrets=True)
    assert revealed["credentials"]["secret_key"] == "sk-credentials-1"
    assert revealed["settings"] == {"token": "tok-settings-1", "retries": 3}


@pytest.mark.usefixtures("store")
def test_optional_secrets_left_empty_load_as_none() -> None:
    bucket(certificate=None, settings=None).save("plain")
    loaded = Bucket.load("plain")
    assert loaded.certificate is None
    assert loaded.settings is None


@pytest.mark.usefixtures("store")
def test_saving_over_a_name_needs_overwrite() -> None:
    bucket(prefix="one/").save("prod")
    with pytest.raises(BlockError, match="test-bucket/prod is already saved"):
        bucket(prefix="two/").save("prod")
    assert Bucket.load("prod").prefix == "one/"
    bucket(prefix="two/").save("prod", overwrite=True)
    assert Bucket.load("prod").prefix == "two/"


@pytest.mark.usefixtures("store")
def test_names_lists_saved_names_of_the_type_only() -> None:
    for name in ["zeta", "alpha", "mid"]:
        bucket().save(name)
    Credentials(access_key="x", secret_key="y").save("other-type")
    assert Bucket.names() == ["alpha", "mid", "zeta"]
    assert Credentials.names() == ["other-type"]


@pytest.mark.usefixtures("store")
def test_delete_removes_the_block_and_a_second_delete_says_not_found() -> None:
    bucket().save("prod")
    Bucket.delete("prod")
    assert Bucket.names() == []
    with pytest.raises(BlockNotFoundError, match=r"^no block test-bucket/prod is saved$"):
        Bucket.delete("prod")
    with pytest.raises(BlockNotFoundError, match=r"^no block test-bucket/prod is saved$"):
        Bucket.load("prod")


@pytest.mark.parametrize("name", ["", "a/b", " padded", "padded "])
def test_bad_names_are_refused_and_nothing_is_saved(store: BlockStore, name: str) -> None:
    with pytest.raises(BlockError, match="block name"):
        bucket().save(name)
    assert store.list_documents() == []


@pytest.mark.usefixtures("database_url", "store")
def test_a_block_can_be_saved_to_an_explicit_store(tmp_path: Any) -> None:
    other = BlockStore(f"sqlite:///{tmp_path / 'other.db'}")
    bucket().save("elsewhere", store=other)
    assert Bucket.names(store=other) == ["elsewhere"]
    assert Bucket.names() == []
    assert Bucket.load("elsewhere", store=other).bucket == "code"


def test_nested_block_saved_by_name_is_stored_as_a_reference(store: BlockStore) -> None:
    credentials = Credentials(access_key="AKIA1", secret_key="sk-v1")
    credentials.save("shared-creds")
    bucket(credentials=Credentials.load("shared-creds")).save("prod")
    document = store.get_document("test-bucket", "prod")
    assert document.data["credentials"] == {"$ref": {"slug": "credentials", "name": "shared-creds"}}
    assert "credentials.secret_key" not in document.secrets

    Credentials(access_key="AKIA2", secret_key="sk-v2").save("shared-creds", overwrite=True)
    loaded = Bucket.load("prod")
    assert loaded.credentials.access_key == "AKIA2"
    assert loaded.credentials.secret_key.get_secret_value() == "sk-v2"
    assert loaded.credentials.block_name == "shared-creds"


def test_nested_block_never_saved_is_stored_inline(store: BlockStore) -> None:
    bucket().save("prod")
    document = store.get_document("test-bucket", "prod")
    assert document.data["credentials"] == {"access_key": "AKIA1"}
    assert document.secrets["credentials.secret_key"] == "sk-credentials-1"
    assert Credentials.names() == []


@pytest.mark.usefixtures("store")
def test_a_block_whose_referenced_block_was_deleted_says_which() -> None:
    Credentials(access_key="a", secret_key="b").save("gone")
    bucket(credentials=Credentials.load("gone")).save("prod")
    Credentials.delete("gone")
    with pytest.raises(BlockNotFoundError, match="credentials/gone is used by another block"):
        Bucket.load("prod")


@pytest.mark.usefixtures("plugins")
def test_load_by_slug_and_name_uses_a_plugin_registered_type(store: BlockStore) -> None:
    Secret(value="s3cr3t-token").save("github-token")
    Secret(value={"user": "u", "password": "pw-json"}).save("db")
    loaded = Block.load("secret/github-token")
    assert isinstance(loaded, Secret)
    assert loaded.get() == "s3cr3t-token"
    assert load_block("secret/db").get() == {"user": "u", "password": "pw-json"}  # type: ignore[attr-defined]
    raw = store.get_document("secret", "github-token")
    assert raw.data == {}
    assert raw.secrets == {"value": "s3cr3t-token"}


@pytest.mark.usefixtures("store", "plugins")
def test_load_by_reference_of_an_unknown_type_names_the_slug() -> None:
    with pytest.raises(BlockTypeNotFoundError, match="no block type 'nobody-knows' is known"):
        Block.load("nobody-knows/x")
    with pytest.raises(BlockError, match="is not of the form SLUG/NAME"):
        Block.load("no-slash")
