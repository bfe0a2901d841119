"""Keeping secret values out of text that is shown, logged or raised."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["MASK", "mask_secrets", "redact_url", "split_url_credentials"]

MASK = "********"
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def split_url_credentials(url: str) -> tuple[str, str | None, str | None]:
    """Split ``scheme://user:secret@host/path`` into (URL without credentials, user, secret)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, sep, secret = userinfo.partition(":")
    clean = urlunsplit(parts._replace(netloc=host))
    return clean, user or None, secret if sep else None


def redact_url(url: str) -> str:
    """``url`` with any user name and password replaced by a mask (a lone user may be a token)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    _, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{MASK}@{host}"))


def mask_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret value and URL credentials masked."""
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
