"""Keeping secret values out of text that is shown, logged or raised."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["MASK", "mask_secrets", "redact_url", "split_url_credentials"]

MASK = "********"
_AUTHORITY_END = re.compile(r"[/?#]")
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def split_url_credentials(url: str) -> tuple[str, str | None, str | None]:
    """Split ``scheme://user:secret@host/path`` into (URL without credentials, user, secret)."""
    found = _userinfo(url)
    if found is None:
        return url, None, None
    userinfo, clean = found
    user, sep, secret = userinfo.partition(":")
    return clean, user or None, secret if sep else None


def redact_url(url: str) -> str:
    """``url`` with any user name and password replaced by a mask (a lone user may be a token)."""
    found = _userinfo(url, cautious=True)
    if found is None:
        return url
    _, clean = found
    scheme, _, rest = clean.partition("://")
    return f"{scheme}://{MASK}@{rest}"


def _userinfo(url: str, *, cautious: bool = False) -> tuple[str, str] | None:
    """(user info, the URL without it), or None when ``url`` carries no credentials.

    A secret pasted unencoded may hold ``/``, ``?`` or ``#`` (``https://user:se/cret@host``),
    which ends the authority early for :func:`urllib.parse.urlsplit`; a non-numeric "port"
    before such an ``@`` shows that the ``@`` still belongs to the credentials. A numeric one
    (``https://user:12/34@host`` or ``https://host:8080/path@x``) is ambiguous: ``cautious``
    (for text that is only shown) then treats it as credentials too.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return None
    netloc = _AUTHORITY_END.split(rest, maxsplit=1)[0]
    if "@" in netloc:
        userinfo, _, _ = netloc.rpartition("@")
    else:
        _, colon, port = netloc.partition(":")
        at = rest.find("@")
        numeric = port.isdigit() and not cautious
        if not colon or numeric or at < 0 or any(c.isspace() for c in rest[:at]):
            return None
        userinfo = rest[:at]
    return userinfo, f"{scheme}://{rest[len(userinfo) + 1 :]}"


def mask_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret value and URL credentials masked."""
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
