"""codeferry's SHA-256 (without OpenSSL) gives hashlib's digests: names derived before stay."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from codeferry.digests import sha256


@given(st.binary(), st.binary())
def test_the_digest_is_hashlibs(first: bytes, more: bytes) -> None:
    digest = sha256(first)
    digest.update(more)
    assert digest.hexdigest() == hashlib.sha256(first + more).hexdigest()
