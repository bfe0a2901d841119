"""The S3 plugin's timestamp reader: the standard library's ISO 8601, botocore's for the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from botocore.utils import parse_timestamp as botocore_parse_timestamp
from hypothesis import given
from hypothesis import strategies as st

from codeferry_s3.session import aio_session, parse_timestamp

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
