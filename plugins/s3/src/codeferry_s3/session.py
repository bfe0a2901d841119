"""The aiobotocore session s3fs runs on, with a faster reader for S3's timestamps.

botocore reads every timestamp with dateutil. In a listing of 2,000 keys that is half of the
client's CPU time (0.31 s -> 0.13 s measured against moto), and a re-pull with nothing changed is
nothing but that listing. S3 lists ``LastModified`` in ISO 8601, which the standard library
reads directly; anything else (HTTP dates in headers) still goes to botocore's reader.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = ["aio_session", "parse_timestamp"]


def aio_session(profile: str | None = None) -> Any:
    """A new aiobotocore session (for ``profile``, if given) using :func:`parse_timestamp`."""
    from aiobotocore.session import AioSession

    session = AioSession(profile=profile)
    parsers = session.get_component("response_parser_factory")
    parsers.set_parser_defaults(timestamp_parser=parse_timestamp)
    return session


def parse_timestamp(value: Any) -> datetime:
    """``value`` as an aware datetime: ISO 8601 by the standard library, the rest by botocore."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:
                return parsed
    from botocore.utils import parse_timestamp as botocore_parse_timestamp

    result: datetime = botocore_parse_timestamp(value)
    return result
