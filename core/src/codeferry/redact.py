"""Deprecated: use :mod:`codeferry.secrets`, the one secret policy. Kept for code written against
it; to be removed before 1.0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codeferry.secrets import MASK, mask, redact_url, remember, split_url_credentials

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["MASK", "mask_secrets", "redact_url", "split_url_credentials"]


def mask_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """:func:`codeferry.secrets.mask`, after remembering ``secrets``."""
    remember(*secrets)
    return mask(text)
