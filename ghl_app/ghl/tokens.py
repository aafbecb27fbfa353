"""Token lifecycle: a valid access token for every installed location and agency, for as long as
the app stays installed, never lost to a race.

- Refreshed ahead of expiry (and once after a 401), at most one refresh per location at a time:
  an asyncio lock per key in this process (kept only while someone holds or awaits it), and on
  Postgres a `SELECT ... FOR UPDATE` row lock for other processes. The row is re-read after the
  lock is taken, because whoever held it may already have refreshed.
- GHL rotates refresh tokens (single use), so the new pair is committed before the new access
  token is handed out.
- A refresh whose answer was lost may have rotated the token: it is tried once more with the
  same token; `invalid_grant` then means GHL did rotate, and the location is recovered by
  re-minting from the agency token when it came from one, or marked "needs reinstall" (logged
  once, no more calls) when it did not.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from ghl_app.crypto import TokenCipher
from ghl_app.ghl.http import GhlApiError, NeedsReinstall
from ghl_app.ghl.oauth import OAuthApi, TokenGrant, is_dead_grant
from ghl_app.models import Company, Location
from ghl_app.settings import Settings

log = logging.getLogger(__name__)

# Refresh this long before GHL's expiry, so a token never expires in flight.
REFRESH_MARGIN = timedelta(minutes=5)

# Every GHL call needs the location's token; reading and decrypting its row each time was a third
# of a synced message's database work. A token is kept in memory this long, so a change written
# elsewhere (another process refreshing, an install) is seen within seconds; a 401 in between is
# handled as before, by `refresh_location(stale=...)`, which reads the row.
TOKEN_CACHE_S = 30.0

# A grant unused this long is refreshed (its refresh token would die after a year idle), checked
# this often.
IDLE_REFRESH = timedelta(days=30)
KEEPALIVE_INTERVAL_S = 24 * 3600.0

# Agency grants asked, at most, to mint the token of a sub-account whose INSTALL named no agency.
ADOPT_CANDIDATES = 20


def _now() -> datetime:
    return datetime.now(UTC)


def _dead(reason: str) -> dict[str, Any]:
    """The columns of a grant that is gone: flagged, tokens dropped, no more calls."""
    return {
        "needs_reinstall": True,
        "reinstall_reason": reason,
        "access_token_enc": None,
        "refresh_token_enc": None,
        "expires_at": None,
    }


class TokenManager:
    def __init__(self, settings: Settings, oauth: OAuthApi, cipher: TokenCipher) -> None:
        self._settings = settings
        self._oauth = oauth
        self._cipher = cipher
        # Weak values: a lock disappears once no coroutine holds or waits on it.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        # location -> (token, GHL's expiry, monotonic time it was cached)
        self._cached: dict[str, tuple[str, datetime, float]] = {}

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    def held_locks(self) -> int:
        return len(self._locks)

    @asynccontextmanager
    async def _row_lock(self) -> AsyncIterator[BaseDBAsyncClient | None]:
        """A transaction whose `select_for_update` locks the row against other processes.

        SQLite serves one process and Tortoise serialises its single connection: a transaction
        held across a GHL call would stall every other query, so there the asyncio lock is all.
        """
        if self._settings.is_sqlite:
            yield None
            return
        async with in_transaction() as conn:
            yield conn

    def _usable(
        self, enc: str | None, expires_at: datetime | None, stale: str | None
    ) -> str | None:
        if enc is None or expires_at is None or expires_at <= _now() + REFRESH_MARGIN:
            return None
        token = self._cipher.decrypt(enc)
        return None if token == stale else token

    def forget(self, location_id: str | None = None) -> None:
        """Drop cached tokens (one location's, or all): an install or uninstall changed them."""
        if location_id is None:
            self._cached.clear()
        else:
            self._cached.pop(location_id, None)

    def _remember(self, location_id: str, token: str, expires_at: datetime | None) -> None:
        if expires_at is not None:
            self._cached[location_id] = (token, expires_at, time.monotonic())

    # -- locations ----------------------------------------------------------------------------

    async def location_token(self, location_id: str) -> str:
        """A valid access token for the location, refreshing it first when it is about to expire."""
        cached = self._cached.get(location_id)
        if cached is not None:
            cached_token, expires_at, cached_at = cached
            fresh = time.monotonic() - cached_at < TOKEN_CACHE_S
            if fresh and expires_at > _now() + REFRESH_MARGIN:
                return cached_token
            del self._cached[location_id]
        row = await Location.get_or_none(location_id=location_id)
        self._check_location(row, location_id)
        assert row is not None
        token = self._usable(row.access_token_enc, row.expires_at, None)
        if token is None:
            return await self.refresh_location(location_id)
        self._remember(location_id, token, row.expires_at)
        return token

    async def refresh_location(self, location_id: str, *, stale: str | None = None) -> str:
        """Refresh (or re-mint) the location's token, unless someone already did.

        `stale` is a token GHL just refused (401): a stored token equal to it is not reused.
        """
        self.forget(location_id)
        async with self._lock(f"location:{location_id}"), self._row_lock() as conn:
            query = Location.filter(location_id=location_id)
            if conn is not None:
                query = query.select_for_update().using_db(conn)
            row = await query.first()
            self._check_location(row, location_id)
            assert row is not None
            token = self._usable(row.access_token_enc, row.expires_at, stale)
            if token is not None:
                return token  # refreshed by whoever held the lock before us
            refresh_token = self._cipher.decrypt_optional(row.refresh_token_enc)
            if refresh_token is None:
                if row.user_type == "Company" and row.company_id:
                    return await self._remint(row, conn)
                if row.user_type == "Company":
                    return await self._adopt(row, conn)
                raise await self._give_up(row, "no refresh token stored", conn)
            try:
                grant = await self._refresh_once_more_if_lost(
                    refresh_token, user_type="Location", limit_key=location_id
                )
            except GhlApiError as exc:
                if not is_dead_grant(exc):
                    raise  # GHL down or busy: the stored pair is still the right one
                if row.user_type == "Company" and row.company_id:
                    return await self._remint(row, conn)
                raise await self._give_up(row, f"refresh refused: {exc.message}", conn) from None
            await self._store_location(row, grant, conn)
            return grant.access_token

    def _check_location(self, row: Location | None, location_id: str) -> None:
        if row is None or not row.is_installed:
            raise NeedsReinstall(f"location {location_id} is not installed")
        if row.needs_reinstall:
            raise NeedsReinstall(row.reinstall_reason or "the app must be installed again")

    async def _remint(self, row: Location, conn: BaseDBAsyncClient | None) -> str:
        assert row.company_id is not None
        try:
            company_token = await self.company_token(row.company_id)
            grant = await self._oauth.location_token(
                company_token, company_id=row.company_id, location_id=row.location_id
            )
        except NeedsReinstall as exc:
            raise await self._give_up(row, f"agency token lost: {exc.message}", conn) from None
        await self._store_location(row, grant, conn)
        log.info(
            "location token re-minted from the agency token",
            extra={"location_id": row.location_id, "company_id": row.company_id},
        )
        return grant.access_token

    async def _adopt(self, row: Location, conn: BaseDBAsyncClient | None) -> str:
        """A sub-account installed "via future locations" with no companyId in its INSTALL
        (AppInstall.md): the agency grants held are asked to mint its token, agencies that
        install to future locations first; GHL mints only for the agency the location is in."""
        candidates = (
            await Company.filter(uninstalled_at=None, needs_reinstall=False)
            .exclude(access_token_enc=None)
            .order_by("-future_locations", "-installed_at")
            .limit(ADOPT_CANDIDATES)
        )
        for company in candidates:
            try:
                company_token = await self.company_token(company.company_id)
                grant = await self._oauth.location_token(
                    company_token, company_id=company.company_id, location_id=row.location_id
                )
            except NeedsReinstall:
                continue
            except GhlApiError as exc:
                if exc.status in (400, 401, 403, 404, 422):
                    continue  # not this agency's sub-account
                raise  # GHL down or busy: tried again on the next use
            await Location.filter(id=row.id).using_db(conn).update(company_id=company.company_id)
            await self._store_location(row, grant, conn)
            log.info(
                "location without a company adopted by its agency's grant",
                extra={"location_id": row.location_id, "company_id": company.company_id},
            )
            return grant.access_token
        raise await self._give_up(row, "no agency grant held covers this sub-account", conn)

    async def _store_location(
        self, row: Location, grant: TokenGrant, conn: BaseDBAsyncClient | None
    ) -> None:
        values: dict[str, Any] = {
            "access_token_enc": self._cipher.encrypt(grant.access_token),
            "expires_at": grant.expires_at,
            "scopes": grant.scopes or row.scopes,
        }
        if grant.refresh_token is not None:
            values["refresh_token_enc"] = self._cipher.encrypt(grant.refresh_token)
        elif row.user_type == "Company":
            values["refresh_token_enc"] = None  # minted tokens are re-minted, not refreshed
        await Location.filter(id=row.id).using_db(conn).update(**values)

    async def _give_up(
        self, row: Location, reason: str, conn: BaseDBAsyncClient | None
    ) -> NeedsReinstall:
        if not row.needs_reinstall:
            log.warning(
                "location needs reinstall: %s",
                reason,
                extra={"location_id": row.location_id, "company_id": row.company_id},
            )
        await Location.filter(id=row.id).using_db(conn).update(**_dead(reason))
        return NeedsReinstall(reason)

    # -- agencies -----------------------------------------------------------------------------

    async def company_token(self, company_id: str) -> str:
        row = await Company.get_or_none(company_id=company_id)
        self._check_company(row, company_id)
        assert row is not None
        token = self._usable(row.access_token_enc, row.expires_at, None)
        if token is not None:
            return token
        async with self._lock(f"company:{company_id}"), self._row_lock() as conn:
            query = Company.filter(company_id=company_id)
            if conn is not None:
                query = query.select_for_update().using_db(conn)
            row = await query.first()
            self._check_company(row, company_id)
            assert row is not None
            token = self._usable(row.access_token_enc, row.expires_at, None)
            if token is not None:
                return token
            refresh_token = self._cipher.decrypt_optional(row.refresh_token_enc)
            if refresh_token is None:
                raise await self._give_up_company(row, "no refresh token stored", conn)
            try:
                grant = await self._refresh_once_more_if_lost(
                    refresh_token, user_type="Company", limit_key=f"company:{company_id}"
                )
            except GhlApiError as exc:
                if not is_dead_grant(exc):
                    raise
                raise await self._give_up_company(
                    row, f"refresh refused: {exc.message}", conn
                ) from None
            values: dict[str, Any] = {
                "access_token_enc": self._cipher.encrypt(grant.access_token),
                "expires_at": grant.expires_at,
            }
            if grant.refresh_token is not None:
                values["refresh_token_enc"] = self._cipher.encrypt(grant.refresh_token)
            await Company.filter(id=row.id).using_db(conn).update(**values)
            return grant.access_token

    def _check_company(self, row: Company | None, company_id: str) -> None:
        if row is None or row.uninstalled_at is not None or row.installed_at is None:
            raise NeedsReinstall(f"agency {company_id} is not installed")
        if row.needs_reinstall:
            raise NeedsReinstall(row.reinstall_reason or "the agency must install the app again")

    async def _give_up_company(
        self, row: Company, reason: str, conn: BaseDBAsyncClient | None
    ) -> NeedsReinstall:
        if not row.needs_reinstall:
            log.warning("agency needs reinstall: %s", reason, extra={"company_id": row.company_id})
        await Company.filter(id=row.id).using_db(conn).update(**_dead(reason))
        return NeedsReinstall(reason)

    # -- idle grants --------------------------------------------------------------------------

    async def refresh_idle(self, *, idle: timedelta = IDLE_REFRESH) -> int:
        """Refresh every grant not refreshed for `idle`: a refresh token lives "a year unless
        it is used" (Authorization.md FAQ), so a location without traffic would lose its grant.
        The last refresh is when the access token was issued: about a day before `expires_at`.
        Returns how many were refreshed; a grant GHL refuses is flagged as on any refresh."""
        before = _now() - idle
        done = 0
        locations = await (
            Location.filter(uninstalled_at=None, needs_reinstall=False, expires_at__lt=before)
            .exclude(refresh_token_enc=None)
            .values_list("location_id", flat=True)
        )
        for location_id in locations:
            try:
                await self.refresh_location(str(location_id))
                done += 1
            except GhlApiError as exc:
                log.warning("idle grant not refreshed: %s", exc, extra={"location_id": location_id})
        companies = await (
            Company.filter(uninstalled_at=None, needs_reinstall=False, expires_at__lt=before)
            .exclude(refresh_token_enc=None)
            .values_list("company_id", flat=True)
        )
        for company_id in companies:
            try:
                await self.company_token(str(company_id))
                done += 1
            except GhlApiError as exc:
                log.warning("idle grant not refreshed: %s", exc, extra={"company_id": company_id})
        if done:
            log.info("%d idle grant(s) refreshed before their refresh token expires", done)
        return done

    async def run_keepalive(self, interval_s: float = KEEPALIVE_INTERVAL_S) -> None:
        """The supervised loop: idle grants refreshed once a day."""
        while True:
            await self.refresh_idle()
            await asyncio.sleep(interval_s)

    # -- shared -------------------------------------------------------------------------------

    async def _refresh_once_more_if_lost(
        self, refresh_token: str, *, user_type: str, limit_key: str
    ) -> TokenGrant:
        try:
            return await self._oauth.refresh(
                refresh_token, user_type=user_type, limit_key=limit_key
            )
        except GhlApiError as exc:
            if exc.status != 0 and exc.status < 500:
                raise
            # The answer was lost: GHL may or may not have rotated the token. One more try with
            # the same token settles it (success: it had not; invalid_grant: it had). Never more,
            # so a dead token cannot turn into a loop of refreshes.
            log.warning(
                "token refresh answer lost (%s), trying once more",
                exc,
                extra={"location_id": limit_key},
            )
            return await self._oauth.refresh(
                refresh_token, user_type=user_type, limit_key=limit_key
            )
