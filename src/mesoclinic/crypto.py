"""Keys derived from the application secret, AES-GCM encryption at rest and token hashing.

Each use gets its own key (HKDF with a purpose label), so a key leaked from one use opens nothing
else. Encrypted blobs are ``version byte | 12-byte nonce | ciphertext+tag``.
"""

from __future__ import annotations

import hashlib
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

BLOB_VERSION = b"\x01"
NONCE_BYTES = 12


def derive_key(secret: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"mesoclinic", info=purpose.encode()).derive(
        secret
    )


def encrypt(key: bytes, plaintext: bytes, associated_data: bytes = b"") -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return BLOB_VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data)


def decrypt(key: bytes, blob: bytes, associated_data: bytes = b"") -> bytes:
    """Raises ``cryptography.exceptions.InvalidTag`` when the blob was altered or the key is wrong."""
    if blob[:1] != BLOB_VERSION:
        raise ValueError("unknown encrypted blob version")
    nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    return AESGCM(key).decrypt(nonce, body, associated_data)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Tokens are 256 random bits, so a plain SHA-256 is enough to store them safely."""
    return hashlib.sha256(token.encode()).hexdigest()
