"""The forms a secret takes on its way out: what a test checks no output holds."""

from __future__ import annotations

import base64
import json
import urllib.parse

__all__ = ["secret_forms"]


def secret_forms(secret: str, user: str = "user") -> list[str]:
    """``secret`` as is, URL-encoded (path and form), JSON-escaped, base64 alone and in HTTP Basic
    credentials of ``user`` (standard and URL-safe alphabets)."""
    return [
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote(secret),
        urllib.parse.quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        base64.b64encode(f"{user}:{secret}".encode()).decode(),
        base64.urlsafe_b64encode(f"{user}:{secret}".encode()).decode(),
        base64.b64encode(secret.encode()).decode(),
    ]
