"""Registering block types: new, updated or unchanged."""

from __future__ import annotations

from codeferry.store import BlockStore, BlockTypeRecord


def record(**changes: object) -> BlockTypeRecord:
    values: dict[str, object] = {
        "slug": "my-bucket",
        "name": "My Bucket",
        "description": "A bucket.",
        "schema": {"properties": {"bucket": {"type": "string"}}},
        "checksum": "sha256:1",
        "module": "pkg.blocks:MyBucket",
    }
    values.update(changes)
    return BlockTypeRecord(**values)  # type: ignore[arg-type]


def test_first_registration_is_new_and_reads_back(store: BlockStore) -> None:
    assert store.save_block_type(record()) == "new"
    saved = store.get_block_type("my-bucket")
    assert saved is not None
    assert (saved.name, saved.description, saved.module) == (
        "My Bucket",
        "A bucket.",
        "pkg.blocks:MyBucket",
    )
    assert saved.schema == {"properties": {"bucket": {"type": "string"}}}
    assert saved.checksum == "sha256:1"


def test_registering_the_same_type_again_is_unchanged(store: BlockStore) -> None:
    store.save_block_type(record())
    before = store.get_block_type("my-bucket")
    assert store.save_block_type(record()) == "unchanged"
    assert store.get_block_type("my-bucket") == before


def test_a_changed_checksum_is_an_update(store: BlockStore) -> None:
    store.save_block_type(record())
    assert store.save_block_type(record(checksum="sha256:2", schema={"x": 1})) == "updated"
    saved = store.get_block_type("my-bucket")
    assert saved is not None
    assert (saved.checksum, saved.schema) == ("sha256:2", {"x": 1})


def test_a_moved_module_is_an_update(store: BlockStore) -> None:
    store.save_block_type(record())
    assert store.save_block_type(record(module="/srv/blocks.py:MyBucket")) == "updated"
    saved = store.get_block_type("my-bucket")
    assert saved is not None
    assert saved.module == "/srv/blocks.py:MyBucket"


def test_unknown_type_is_none_and_listing_is_sorted_by_slug(store: BlockStore) -> None:
    assert store.get_block_type("nope") is None
    for slug in ["zeta", "alpha", "mid"]:
        store.save_block_type(record(slug=slug))
    assert [r.slug for r in store.list_block_types()] == ["alpha", "mid", "zeta"]
