"""Helpers to sign in the way GHL's iframe does: installed locations and encrypted payloads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ghl_app.models import Location
from ghl_app.settings import Settings
from ghl_app.sso import encrypt_like_ghl

COMPANY = "company-1"


async def install_location(
    location_id: str, *, company_id: str = COMPANY, name: str = "", **fields: Any
) -> Location:
    return await Location.create(
        location_id=location_id,
        company_id=company_id,
        name=name or f"Location {location_id}",
        installed_at=datetime.now(UTC),
        **fields,
    )


def user_context(**overrides: Any) -> dict[str, Any]:
    """What GHL puts in the REQUEST_USER_DATA answer (ghl-api.md, "SSO for custom pages")."""
    data: dict[str, Any] = {
        "userId": "user-1",
        "companyId": COMPANY,
        "role": "admin",
        "type": "location",
        "userName": "Ana Souza",
        "email": "ana@example.com",
        "activeLocation": "loc-a",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def ghl_payload(settings: Settings, **overrides: Any) -> str:
    return encrypt_like_ghl(settings.ghl_shared_secret, user_context(**overrides))
