"""SHA-256 for the names a pull derives (checkout and cache folders), without loading OpenSSL.

:func:`hashlib.sha256` is OpenSSL's: importing :mod:`hashlib` maps and touches libcrypto, about
4 MB of a ``codeferry pull`` process that has nothing else to do with it (a fifth of one that
finds nothing new). CPython's own SHA-256 (``_sha2``, ``_sha256`` before Python 3.12) gives the
same digests, so names made before stay the same; :mod:`hashlib` is used where a build lacks it.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Digest", "sha256"]


class Digest(Protocol):
    """A running digest, as :mod:`hashlib`'s objects are."""

    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


def sha256(data: bytes = b"") -> Digest:
    """A SHA-256 digest of ``data`` (more may be added with ``update``)."""
    try:
        from _sha2 import sha256 as builtin  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        try:
            from _sha256 import sha256 as builtin  # type: ignore[import-not-found, no-redef, unused-ignore]
        except ImportError:
            from hashlib import sha256 as builtin  # type: ignore[assignment, unused-ignore]
    digest: Digest = builtin(data)
    return digest
