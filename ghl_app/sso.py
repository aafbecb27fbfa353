"""SSO for the custom page: who the GHL user is and which installed location they may manage.

GHL answers the page's `REQUEST_USER_DATA` with the user context encrypted by CryptoJS in its
passphrase format (ghl-api.md, "SSO for custom pages"): base64 of `"Salted__"`, an 8-byte salt and
the AES-256-CBC ciphertext, with key and IV derived from the app's shared secret by OpenSSL's
EVP_BytesToKey (MD5, one iteration) and PKCS7 padding.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ghl_app.errors import AppError
from ghl_app.models import Location

_MAGIC = b"Salted__"
_KEY_LEN = 32
_IV_LEN = 16
# A real answer is well under 2 kB; anything far larger is not GHL's and is not worth decrypting.
MAX_PAYLOAD_CHARS = 16_384


def _invalid(detail: str) -> AppError:
    return AppError(
        "invalid_payload",
        f"The sign-in data from GoHighLevel could not be read ({detail}). Reopen the page in GHL.",
        400,
    )


def _evp_bytes_to_key(secret: bytes, salt: bytes) -> tuple[bytes, bytes]:
    derived = b""
    block = b""
    while len(derived) < _KEY_LEN + _IV_LEN:
        block = hashlib.md5(block + secret + salt, usedforsecurity=False).digest()
        derived += block
    return derived[:_KEY_LEN], derived[_KEY_LEN : _KEY_LEN + _IV_LEN]


def decrypt_payload(shared_secret: str, payload: str) -> dict[str, Any]:
    """The decrypted JSON object, or `AppError` 400 `invalid_payload` for anything else."""
    if not shared_secret:
        raise AppError(
            "sso_not_configured", "GHL_SHARED_SECRET is not set on the server, so SSO is off.", 503
        )
    if not payload or len(payload) > MAX_PAYLOAD_CHARS:
        raise _invalid("empty or oversized")
    try:
        raw = base64.b64decode(payload.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("not base64") from None
    if not raw.startswith(_MAGIC) or len(raw) < 32 or (len(raw) - 16) % 16:
        raise _invalid("not an encrypted GHL answer")
    salt, ciphertext = raw[8:16], raw[16:]
    key, iv = _evp_bytes_to_key(shared_secret.encode(), salt)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
        data = json.loads(plain.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        # A wrong secret almost always ends here: the padding or the JSON is garbage.
        raise _invalid("wrong key or damaged data") from None
    if not isinstance(data, dict):
        raise _invalid("not a user object")
    return data


def encrypt_like_ghl(shared_secret: str, data: dict[str, Any], salt: bytes | None = None) -> str:
    """What GHL's `CryptoJS.AES.encrypt(JSON.stringify(data), secret).toString()` produces.

    For tests and the local parent page; the server itself only decrypts.
    """
    salt = salt if salt is not None else os.urandom(8)
    key, iv = _evp_bytes_to_key(shared_secret.encode(), salt)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(json.dumps(data).encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    return base64.b64encode(_MAGIC + salt + ciphertext).decode()


@dataclass(frozen=True)
class GhlUser:
    user_id: str
    company_id: str
    role: str  # admin | user
    type: str  # agency | location
    user_name: str
    email: str
    active_location: str | None
    locale: str = ""

    @property
    def is_agency(self) -> bool:
        return self.type == "agency"

    def public(self) -> dict[str, str]:
        return {
            "id": self.user_id,
            "name": self.user_name,
            "email": self.email,
            "role": self.role,
            "type": self.type,
            "company_id": self.company_id,
            "locale": self.locale,
        }


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    return value.strip() if isinstance(value, str) else ""


def parse_user(data: dict[str, Any]) -> GhlUser:
    user = GhlUser(
        user_id=_text(data, "userId"),
        company_id=_text(data, "companyId"),
        role=_text(data, "role") or "user",
        type=_text(data, "type") or ("location" if data.get("activeLocation") else "agency"),
        user_name=_text(data, "userName"),
        email=_text(data, "email"),
        active_location=_text(data, "activeLocation") or None,
        # Not among the documented fields; used when GHL sends it, else the browser decides.
        locale=_text(data, "locale") or _text(data, "language"),
    )
    if not user.user_id or not user.company_id:
        raise _invalid("no user or company")
    if user.type not in ("agency", "location"):
        raise _invalid("unknown user type")
    if user.type == "location" and user.active_location is None:
        raise _invalid("a location user without a location")
    return user


class NotInstalledError(AppError):
    """The location (or, for agency users, every location of the company) lacks the app."""

    def __init__(self, message: str) -> None:
        super().__init__("not_installed", message, 403)


async def installed_locations(company_id: str) -> list[Location]:
    rows = await Location.filter(company_id=company_id, uninstalled_at=None).order_by("name")
    return [row for row in rows if row.is_installed]


async def authorised_location(user: GhlUser, requested: str | None) -> Location | None:
    """The installed location this user signs in to, or None when an agency user must pick one.

    A location user is bound to GHL's `activeLocation`; an agency user may also pick any
    installed location of their own company (the picker).
    """
    location_id = user.active_location
    picked = False
    if requested and requested != location_id:
        if not user.is_agency:
            raise AppError("location_forbidden", "You can only open your own sub-account.", 403)
        location_id, picked = requested, True
    if location_id is None:
        return None
    location = await Location.get_or_none(location_id=location_id)
    if location is None or not location.is_installed:
        raise NotInstalledError(
            "This sub-account has not installed WhatsApp for GoHighLevel yet. "
            "Install it from the marketplace, then reopen this page."
        )
    if location.company_id and location.company_id != user.company_id:
        raise AppError("location_forbidden", "This sub-account belongs to another agency.", 403)
    if not location.company_id and picked:
        # No company on record (an install that named none): only GHL's own word, the user's
        # `activeLocation`, opens it; an agency user of any company could pick it otherwise
        # (issue 14, Medium 5).
        raise AppError("location_forbidden", "This sub-account belongs to another agency.", 403)
    return location
