"""The S3 plugin's session: its timestamp reader and its service-model loader."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from botocore.exceptions import UnknownServiceError
from botocore.loaders import Loader
from botocore.utils import parse_timestamp as botocore_parse_timestamp
from hypothesis import given
from hypothesis import strategies as st

from codeferry_s3.session import ServiceLoader, aio_session, parse_timestamp

aware = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(9998, 12, 31),
    timezones=st.builds(
        timezone, st.integers(-14 * 60, 14 * 60).map(lambda minutes: timedelta(minutes=minutes))
    ),
)


@given(aware)
def test_iso_8601_reads_as_botocore_reads_it(moment: datetime) -> None:
    text = moment.isoformat(timespec="milliseconds")
    assert parse_timestamp(text) == botocore_parse_timestamp(text)
    assert parse_timestamp(text).tzinfo is not None


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 31)))
def test_other_forms_go_to_botocore(moment: datetime) -> None:
    http_date = moment.replace(tzinfo=UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    naive_iso = moment.isoformat()
    for text in (http_date, naive_iso):
        assert parse_timestamp(text) == botocore_parse_timestamp(text)
    assert parse_timestamp(moment.timestamp()) == botocore_parse_timestamp(moment.timestamp())


def test_session_uses_the_reader_and_the_profile() -> None:
    session = aio_session(profile=None)
    factory = session.get_component("response_parser_factory")
    assert factory._defaults["timestamp_parser"] is parse_timestamp
    assert aio_session(profile="other").profile == "other"


def test_the_loader_knows_each_service_botocore_knows_without_listing_them_all() -> None:
    ours, botocores = ServiceLoader(), Loader()
    known = botocores.list_available_services("service-2")
    for name in ("s3", "sts", known[0], known[-1]):
        assert name in ours.list_available_services("service-2")
    for name in ("not-a-service", "", "..", "s3/../s3", 3):
        assert name not in ours.list_available_services("service-2")
    assert list(ours.list_available_services("service-2")) == known
    with pytest.raises(UnknownServiceError):
        ours.load_service_model("not-a-service", "service-2")
    assert ours.load_service_model("s3", "service-2") == botocores.load_service_model(
        "s3", "service-2"
    )


def test_models_read_as_botocore_reads_them_into_plain_dicts(tmp_path: Path) -> None:
    ours, botocores = ServiceLoader(), Loader()
    for name in ("endpoints", "s3/2006-03-01/service-2", "sdk-default-configuration"):
        mine, theirs = ours.load_data(name), botocores.load_data(name)
        assert type(mine) is dict
        assert mine == theirs
        assert json.dumps(mine) == json.dumps(theirs)  # the same order, too
    (tmp_path / "model.json").mkdir()
    (tmp_path / "file").write_text("{}")
    for missing in ("/no/such/model", tmp_path / "model", tmp_path / "file" / "model"):
        assert ours.file_loader.load_file(str(missing)) is None


def test_the_loader_reads_models_from_the_sessions_data_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "models" / "madeup" / "2024-01-01"
    model.mkdir(parents=True)
    (model / "service-2.json").write_text(json.dumps({"metadata": {"made": "up"}}))
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path / "models"))
    loader = aio_session().get_component("data_loader")
    assert isinstance(loader, ServiceLoader)
    assert loader.load_service_model("madeup", "service-2") == {"metadata": {"made": "up"}}


def test_the_installed_botocore_has_every_internal_the_session_uses() -> None:
    from codeferry_s3.session import problems

    assert problems() == []


def test_a_botocore_internal_that_is_gone_is_named_with_its_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from importlib import metadata

    from codeferry_s3.session import problems

    monkeypatch.delattr(Loader, "list_api_versions")
    (problem,) = problems()
    assert problem.startswith(f"botocore {metadata.version('botocore')}: ")
    assert "Loader.list_api_versions is gone" in problem


def test_a_session_whose_components_changed_falls_back_to_a_plain_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aiobotocore.session import AioSession

    from codeferry_s3.session import problems

    def gone(*_args: object, **_kwargs: object) -> None:
        raise AttributeError("lazy_register_component")

    monkeypatch.setattr(AioSession, "lazy_register_component", gone)
    session = aio_session("dev")
    assert isinstance(session, AioSession)
    assert session.profile == "dev"
    assert any("the session no longer takes its data loader" in p for p in problems())


def test_a_botocore_config_gives_the_settings_it_was_made_with() -> None:
    from botocore.config import Config

    from codeferry_s3.credentials import AwsClientParameters

    made = AwsClientParameters(config=Config(connect_timeout=5, s3={"addressing_style": "path"}))
    assert made.config == {"connect_timeout": 5, "s3": {"addressing_style": "path"}}
    with pytest.raises(ValueError, match="config must be a mapping of botocore settings"):
        AwsClientParameters(config=["not", "settings"])
