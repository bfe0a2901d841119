"""The schema: created on first open, upgraded from older revisions, never touched at head."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from codeferry.errors import StoreError, StoreKeyError
from codeferry.store import BlockDocument, BlockStore, schema

ROOT = Path(__file__).resolve().parents[2]


def revision_of(url: str) -> list[str]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        found = [
            r[0] for r in connection.execute(sa.text("SELECT version_num FROM alembic_version"))
        ]
    engine.dispose()
    return found


def test_head_revision_constant_is_the_head_of_the_shipped_scripts() -> None:
    assert schema.script_head() == schema.HEAD_REVISION


def test_a_new_database_is_created_at_head(database_url: str) -> None:
    BlockStore(database_url).list_documents()
    assert revision_of(database_url) == [schema.HEAD_REVISION]
    engine = sa.create_engine(database_url)
    tables = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    assert {"block_types", "block_documents", "variables", "store_meta"} <= tables


def test_opening_a_store_at_head_does_not_import_alembic(database_url: str) -> None:
    store = BlockStore(database_url)
    store.save_document(BlockDocument("t", "a", {"x": 1}, {"s": "v"}))
    store.close()
    probe = textwrap.dedent(
        f"""
        import sys
        from codeferry.store import BlockStore
        documents = BlockStore({database_url!r}).list_documents()
        print(len(documents), documents[0].secrets["s"], "alembic" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert result.stdout.split() == ["1", "v", "False"]


TEST_REVISION = '''
"""A later revision, for the upgrade test only."""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_test_variables_updated", "variables", ["updated"])


def downgrade():
    op.drop_index("ix_test_variables_updated", "variables")
'''


def later_codeferry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Pretend to be a later codeferry whose scripts add revision 0002."""
    migrations = tmp_path / "migrations"
    shutil.copytree(schema.MIGRATIONS_DIR, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    (migrations / "versions" / "0002_test.py").write_text(TEST_REVISION)
    monkeypatch.setattr(schema, "MIGRATIONS_DIR", migrations)
    monkeypatch.setattr(schema, "HEAD_REVISION", "0002")
    return migrations


def test_a_database_from_an_older_version_is_upgraded_and_keeps_its_data(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    old = BlockStore(database_url)
    old.save_document(BlockDocument("t", "kept", {"x": 1}, {"s": "secret"}))
    old.set_variable("v", [1, 2])
    old.close()
    assert revision_of(database_url) == ["0001"]

    later_codeferry(tmp_path, monkeypatch)
    assert schema.script_head() == "0002"
    new = BlockStore(database_url)
    assert new.get_document("t", "kept").secrets == {"s": "secret"}
    assert new.get_variable("v") == [1, 2]
    new.close()
    assert revision_of(database_url) == ["0002"]
    engine = sa.create_engine(database_url)
    indexes = {i["name"] for i in sa.inspect(engine).get_indexes("variables")}
    engine.dispose()
    assert "ix_test_variables_updated" in indexes


def test_an_older_database_opened_with_the_wrong_key_is_not_upgraded(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from cryptography.fernet import Fernet

    BlockStore(database_url).set_variable("v", 1)
    later_codeferry(tmp_path, monkeypatch)
    with pytest.raises(StoreKeyError):
        BlockStore(database_url, key=Fernet.generate_key()).list_variables()
    assert revision_of(database_url) == ["0001"]


def test_a_database_from_a_newer_version_is_refused_untouched(database_url: str) -> None:
    BlockStore(database_url).set_variable("v", 1)
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    with pytest.raises(StoreError, match=r"made by a newer codeferry .*'0099'.*upgrade codeferry"):
        BlockStore(database_url).list_variables()
    assert revision_of(database_url) == ["0099"]
