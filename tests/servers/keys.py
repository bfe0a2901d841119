"""Fresh RSA keys, for the tests' stand-ins of services that sign with one (GitHub Apps, Google
service accounts)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

__all__ = ["new_rsa_key"]


def new_rsa_key() -> tuple[RSAPrivateKey, str]:
    """A new 2048-bit RSA key, and its PEM text (PKCS #8, unencrypted)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return key, pem
