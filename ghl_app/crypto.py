"""Secrets derived from APP_SECRET: GHL tokens encrypted at rest, and signed expiring values
(the OAuth `state`).

Each use gets its own key through HKDF with a distinct `info`, so a leak of one derived key
(or a value signed for one purpose) is useless for another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_SALT = b"ghl-whatsapp/v1"


def derive_key(app_secret: str, purpose: str, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=_SALT, info=purpose.encode()).derive(
        app_secret.encode()
    )


class DecryptionError(Exception):
    """A stored value was not encrypted with this APP_SECRET (changed secret, or tampering)."""


class TokenCipher:
    """Encrypts GHL access/refresh tokens for the `*_enc` columns (Fernet: AES-CBC + HMAC)."""

    def __init__(self, app_secret: str) -> None:
        key = derive_key(app_secret, "ghl-token-encryption")
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise DecryptionError("stored token cannot be decrypted with APP_SECRET") from None

    def encrypt_optional(self, plaintext: str | None) -> str | None:
        return None if plaintext is None else self.encrypt(plaintext)

    def decrypt_optional(self, ciphertext: str | None) -> str | None:
        return None if ciphertext is None else self.decrypt(ciphertext)


class SignatureError(Exception):
    """A signed value is malformed, forged, or expired. Its message says which."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """HMAC-SHA256 signed, expiring JSON values: `<payload b64>.<mac b64>`."""

    def __init__(self, app_secret: str, purpose: str) -> None:
        self._key = derive_key(app_secret, f"signer:{purpose}")

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def sign(self, data: dict[str, Any], ttl_seconds: float, *, now: float | None = None) -> str:
        issued = time.time() if now is None else now
        body = _b64(json.dumps({"d": data, "exp": issued + ttl_seconds}).encode())
        return f"{body}.{self._mac(body)}"

    def verify(self, token: str, *, now: float | None = None) -> dict[str, Any]:
        body, sep, mac = token.partition(".")
        if not sep or not hmac.compare_digest(mac, self._mac(body)):
            raise SignatureError("bad signature")
        try:
            decoded = json.loads(_unb64(body))
            data, expires = decoded["d"], float(decoded["exp"])
        except (ValueError, KeyError, TypeError):
            raise SignatureError("malformed value") from None
        if (time.time() if now is None else now) > expires:
            raise SignatureError("expired")
        if not isinstance(data, dict):
            raise SignatureError("malformed value")
        return data
