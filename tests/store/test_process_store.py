"""get_store and set_store: one store per process, following the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeferry.store import BlockStore, get_store, set_store


def test_get_store_returns_the_same_store_while_settings_stay(codeferry_home: Path) -> None:
    first = get_store()
    assert get_store() is first
    assert first.url == f"sqlite:///{codeferry_home / 'codeferry.db'}"


def test_get_store_follows_a_changed_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_store()
    first.set_variable("where", "first")
    monkeypatch.setenv("CODEFERRY_HOME", str(tmp_path / "other-home"))
    second = get_store()
    assert second is not first
    assert "other-home" in second.url
    assert second.list_variables() == {}


def test_get_store_follows_database_url_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = get_store()
    monkeypatch.setenv("CODEFERRY_DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    second = get_store()
    assert second.url.endswith("elsewhere.db")
    monkeypatch.setenv("CODEFERRY_ENCRYPTION_KEY", "k")
    assert get_store() is not second
    assert first is not second


def test_set_store_wins_over_settings_until_reset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = BlockStore(f"sqlite:///{tmp_path / 'mine.db'}")
    implicit = get_store()
    assert set_store(mine) is implicit
    monkeypatch.setenv("CODEFERRY_HOME", str(tmp_path / "moved"))
    assert get_store() is mine
    assert set_store(None) is mine
    assert get_store() is not mine


def test_repr_hides_the_password() -> None:
    text = repr(BlockStore("postgresql+psycopg://user:pw-sekrit@db.example/codeferry"))
    assert "pw-sekrit" not in text
    assert "db.example" in text
