"""Prefect's system blocks ``json``, ``string`` and ``date-time``: one value, saved by name.

Like ``secret``, each has a single field, ``value``, and a template that names the block gives
that value (``{{ blocks.json.settings.replicas }}`` goes into it); see :mod:`codeferry.templating`.
Their values are not secret: use a ``secret`` block for those.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import JsonValue  # noqa: TC002 - pydantic reads field types at run time

from codeferry.blocks import Block

__all__ = ["JSON", "DateTime", "String"]


class JSON(Block):
    """A JSON value: an object, a list, text, a number or a boolean.

    Templates give the value: ``{{ blocks.json.NAME }}``, and ``.key`` goes into it.
    """

    block_type_slug: ClassVar[str] = "json"
    block_type_name: ClassVar[str] = "JSON"
    value: JsonValue


class String(Block):
    """A piece of text. Templates give the text: ``{{ blocks.string.NAME }}``."""

    block_type_slug: ClassVar[str] = "string"
    block_type_name: ClassVar[str] = "String"
    value: str


class DateTime(Block):
    """A date and time. Templates give it as ISO 8601 text: ``{{ blocks.date-time.NAME }}``."""

    block_type_slug: ClassVar[str] = "date-time"
    block_type_name: ClassVar[str] = "Date Time"
    value: dt.datetime
