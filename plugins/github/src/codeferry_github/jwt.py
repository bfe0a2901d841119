"""A minimal RS256 JSON Web Token signer over ``cryptography``.

GitHub Apps need one kind of token only (RS256, three claims), so this avoids a PyJWT dependency;
``cryptography`` is what does the signing in either case.
"""

from __future__ import annotations

import base64
import json
from typing import Any

__all__ = ["rs256_jwt"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def rs256_jwt(claims: dict[str, Any], private_key_pem: str) -> str:
    """``claims`` signed with the PEM RSA private key, as a compact JWT.

    :raises PullError: when the key is not an RSA private key (the key is never shown).
    """
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from codeferry.errors import PullError

    try:
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    except (ValueError, TypeError):
        raise PullError("the GitHub App private key is not a PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PullError("the GitHub App private key is not an RSA key")
    header = {"alg": "RS256", "typ": "JWT"}
    signing_input = (
        f"{_b64(json.dumps(header, separators=(',', ':')).encode())}."
        f"{_b64(json.dumps(claims, separators=(',', ':')).encode())}"
    )
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"
