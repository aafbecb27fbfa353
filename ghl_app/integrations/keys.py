"""API keys: `gwa_<key id>_<secret>`, shown once at creation, stored as a SHA-256 of the
secret (a key is 32 random bytes, so a fast hash is enough: nothing to brute-force)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from ghl_app.errors import AppError
from ghl_app.models import ApiKey, Location

PREFIX = "gwa_"
MAX_KEYS_PER_LOCATION = 20


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_key(location_id: str, name: str, created_by: str | None) -> tuple[ApiKey, str]:
    """(the stored key, the full key text to show once)."""
    name = name.strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise AppError("invalid_name", "Give the key a name of at most 100 characters.", 400)
    active = await ApiKey.filter(location_id=location_id, revoked_at=None).count()
    if active >= MAX_KEYS_PER_LOCATION:
        raise AppError("too_many_keys", f"At most {MAX_KEYS_PER_LOCATION} keys at once.", 409)
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    row = await ApiKey.create(
        location_id=location_id,
        name=name,
        key_id=key_id,
        secret_hash=_hash(secret),
        created_by=created_by,
    )
    return row, f"{PREFIX}{key_id}_{secret}"


async def revoke_key(location_id: str, key_pk: int) -> ApiKey:
    row = await ApiKey.get_or_none(id=key_pk, location_id=location_id)
    if row is None:
        raise AppError("not_found", "No such API key.", 404)
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        await row.save(update_fields=["revoked_at"])
    return row


async def verify_key(text: str) -> ApiKey:
    """The live key this text is, or 401 (never saying which part was wrong)."""
    refused = AppError("unauthorized", "A valid API key is required.", 401)
    if not text.startswith(PREFIX) or not text.isascii():
        raise refused
    key_id, sep, secret = text[len(PREFIX) :].partition("_")
    if not sep or len(key_id) != 12 or not secret or len(secret) > 128:
        raise refused
    row = await ApiKey.get_or_none(key_id=key_id)
    if row is None or row.revoked_at is not None:
        raise refused
    if not hmac.compare_digest(row.secret_hash, _hash(secret)):
        raise refused
    location = await Location.get_or_none(location_id=row.location_id)
    if location is None or not location.is_installed:
        raise refused  # keys die with the install (issue 14, Medium 7)
    now = datetime.now(UTC)
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        await ApiKey.filter(id=row.id).update(last_used_at=now)  # at most once a minute
    return row


def key_view(row: ApiKey) -> dict[str, object]:
    return {
        "id": row.id,
        "name": row.name,
        "prefix": f"{PREFIX}{row.key_id}_…",
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "revoked": row.revoked_at is not None,
    }
