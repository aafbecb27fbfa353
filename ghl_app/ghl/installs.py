"""Installs as rows: the OAuth callback's result, and the INSTALL / UNINSTALL webhooks.

Both paths upsert the same rows (the INSTALL webhook may come before or after the redirect).
An uninstall deletes the tokens but keeps the rows, so the location's message history stays.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from ghl_app.crypto import TokenCipher
from ghl_app.ghl.http import GhlApiError
from ghl_app.ghl.oauth import InstalledLocation, OAuthApi, TokenGrant
from ghl_app.models import Company, Location

log = logging.getLogger(__name__)

# Location tokens minted at once during an agency install (GHL's limit is per company).
_MINT_CONCURRENCY = 5


@dataclass(frozen=True)
class InstallResult:
    kind: str  # "location" or "company"
    company_id: str | None
    locations: list[InstalledLocation] = field(default_factory=list)


class InstallService:
    def __init__(self, oauth: OAuthApi, cipher: TokenCipher) -> None:
        self._oauth = oauth
        self._cipher = cipher

    async def complete_oauth(self, code: str) -> InstallResult:
        """Exchange the code and store the install. Every GHL call happens before the first
        write, and the writes share one transaction: a failure leaves nothing behind."""
        grant = await self._oauth.exchange_code(code)
        if grant.user_type == "Company":
            return await self._install_company(grant)
        if grant.location_id is None:
            raise GhlApiError(502, "GHL's location token names no location", "bad_response")
        location = InstalledLocation(grant.location_id, "")
        await _retry_on_race(lambda conn: self._save_location(conn, location, grant, "Location"))
        return InstallResult("location", grant.company_id, [location])

    async def _install_company(self, grant: TokenGrant) -> InstallResult:
        company_id = grant.company_id
        if company_id is None:
            raise GhlApiError(502, "GHL's agency token names no company", "bad_response")
        locations = await self._oauth.installed_locations(grant.access_token, company_id=company_id)
        gate = asyncio.Semaphore(_MINT_CONCURRENCY)

        async def mint(location: InstalledLocation) -> TokenGrant:
            async with gate:
                return await self._oauth.location_token(
                    grant.access_token, company_id=company_id, location_id=location.location_id
                )

        minted = await asyncio.gather(*(mint(location) for location in locations))

        async def save(conn: BaseDBAsyncClient) -> None:
            await self._save_company(conn, company_id, grant)
            for location, location_grant in zip(locations, minted, strict=True):
                await self._save_location(conn, location, location_grant, "Company")

        await _retry_on_race(save)
        return InstallResult("company", company_id, locations)

    async def _save_company(
        self, conn: BaseDBAsyncClient, company_id: str, grant: TokenGrant
    ) -> None:
        values: dict[str, Any] = {
            "access_token_enc": self._cipher.encrypt(grant.access_token),
            "refresh_token_enc": self._cipher.encrypt_optional(grant.refresh_token),
            "expires_at": grant.expires_at,
            "scopes": grant.scopes,
            "user_id": grant.user_id,
            "future_locations": grant.install_to_future,
            "uninstalled_at": None,
            "needs_reinstall": False,
            "reinstall_reason": None,
        }
        row = await Company.filter(company_id=company_id).using_db(conn).first()
        if row is None:
            await Company.create(
                using_db=conn, company_id=company_id, installed_at=datetime.now(UTC), **values
            )
        else:
            values["installed_at"] = (
                row.installed_at
                if _company_installed(row) and row.installed_at
                else datetime.now(UTC)
            )
            await Company.filter(id=row.id).using_db(conn).update(**values)

    async def _save_location(
        self,
        conn: BaseDBAsyncClient,
        location: InstalledLocation,
        grant: TokenGrant,
        user_type: str,
    ) -> None:
        values: dict[str, Any] = {
            "access_token_enc": self._cipher.encrypt(grant.access_token),
            "refresh_token_enc": self._cipher.encrypt_optional(grant.refresh_token),
            "expires_at": grant.expires_at,
            "scopes": grant.scopes,
            "user_type": user_type,
            "uninstalled_at": None,
            "needs_reinstall": False,
            "reinstall_reason": None,
        }
        if grant.company_id:
            values["company_id"] = grant.company_id
        if location.name:
            values["name"] = location.name
        row = await Location.filter(location_id=location.location_id).using_db(conn).first()
        if row is None:
            await Location.create(
                using_db=conn,
                location_id=location.location_id,
                installed_at=datetime.now(UTC),
                **values,
            )
        else:
            values["installed_at"] = (
                row.installed_at if row.is_installed and row.installed_at else datetime.now(UTC)
            )
            await Location.filter(id=row.id).using_db(conn).update(**values)

    # -- webhooks -----------------------------------------------------------------------------

    async def record_install(self, conn: BaseDBAsyncClient, payload: dict[str, Any]) -> None:
        """INSTALL: mark the location (or agency) installed; its tokens come from the redirect."""
        now = datetime.now(UTC)
        company_id = _opt(payload.get("companyId"))
        location_id = _opt(payload.get("locationId"))
        if location_id is not None:
            # A sub-account added to an agency install gets no redirect of its own: when the
            # agency token is held, mark the location agency-derived so its first use mints one.
            # An install "via future locations" may name no company (AppInstall.md): its first
            # use finds the agency grant that covers it (tokens.py, `_adopt`).
            held = Company.filter(uninstalled_at=None, needs_reinstall=False).exclude(
                access_token_enc=None
            )
            if company_id is not None:
                held = held.filter(company_id=company_id)
            agency = await held.using_db(conn).exists()
            row = await Location.filter(location_id=location_id).using_db(conn).first()
            if row is None:
                await Location.create(
                    using_db=conn,
                    location_id=location_id,
                    company_id=company_id,
                    installed_at=now,
                    user_type="Company" if agency else "Location",
                )
            elif not row.is_installed or row.access_token_enc is None:
                update: dict[str, Any] = {
                    "company_id": company_id or row.company_id,
                    "installed_at": row.installed_at if row.is_installed else now,
                    "uninstalled_at": None,
                }
                if agency and row.access_token_enc is None:
                    update.update(user_type="Company", needs_reinstall=False, reinstall_reason=None)
                await Location.filter(id=row.id).using_db(conn).update(**update)
            return
        assert company_id is not None
        name = str(payload.get("companyName") or "")
        company = await Company.filter(company_id=company_id).using_db(conn).first()
        if company is None:
            await Company.create(using_db=conn, company_id=company_id, name=name, installed_at=now)
        else:
            changes: dict[str, Any] = {"name": name or company.name}
            if not _company_installed(company):
                changes.update(installed_at=now, uninstalled_at=None)
            await Company.filter(id=company.id).using_db(conn).update(**changes)

    async def record_uninstall(self, conn: BaseDBAsyncClient, payload: dict[str, Any]) -> list[str]:
        """UNINSTALL: delete the tokens, keep the rows (and so the history). Returns the location
        ids whose WhatsApp sessions must stop."""
        now = datetime.now(UTC)
        cleared: dict[str, Any] = {
            "access_token_enc": None,
            "refresh_token_enc": None,
            "expires_at": None,
            "uninstalled_at": now,
        }
        location_id = _opt(payload.get("locationId"))
        if location_id is not None:
            await Location.filter(location_id=location_id).using_db(conn).update(**cleared)
            return [location_id]
        company_id = _opt(payload.get("companyId"))
        assert company_id is not None
        await Company.filter(company_id=company_id).using_db(conn).update(**cleared)
        # Removed from the agency: the sub-accounts its grant installed lose the app with it. A
        # sub-account that installed on its own (its own "Location" grant) keeps it: GHL says
        # nothing of an agency uninstall removing those (ghl-api-audit finding 10).
        from_agency = Location.filter(
            company_id=company_id, user_type="Company", uninstalled_at=None
        ).using_db(conn)
        affected = await from_agency.values_list("location_id", flat=True)
        await Location.filter(location_id__in=list(affected)).using_db(conn).update(**cleared)
        return [str(location) for location in affected]


def _company_installed(row: Company) -> bool:
    return row.installed_at is not None and row.uninstalled_at is None


def _opt(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


async def _retry_on_race(write: Callable[[BaseDBAsyncClient], Awaitable[None]]) -> None:
    """Run `write(conn)` in a transaction; an INSTALL webhook inserting the same row meanwhile
    makes the insert conflict once, and the second run updates instead."""
    for attempt in (1, 2):
        try:
            async with in_transaction() as conn:
                await write(conn)
            return
        except IntegrityError:
            if attempt == 2:
                raise
            log.info("install row created concurrently, writing again")
