"""Is a location's page still allowed to act? Page tokens are stateless and live an hour; an
UNINSTALL must end them at once (issue 14, Medium 7: tokens kept working for an hour after
UNINSTALL, including starting Chromium). Every page request and socket checks here."""

from __future__ import annotations

from ghl_app.errors import AppError
from ghl_app.models import Location
from ghl_app.page_tokens import PageClaims


def uninstalled() -> AppError:
    return AppError(
        "uninstalled",
        "The app was uninstalled from this sub-account. Install it again, then reopen the page.",
        401,
    )


async def require_installed(claims: PageClaims) -> None:
    """401 `uninstalled` when the token's location is not installed now, or was installed again
    after the token was issued (a token from before an UNINSTALL stays void)."""
    if claims.scope != "location":
        return
    location = await Location.get_or_none(location_id=claims.location_id)
    if location is None or not location.is_installed:
        raise uninstalled()
    assert location.installed_at is not None
    # Tokens count whole seconds; an install in the same second as the token does not void it.
    if claims.issued_at < int(location.installed_at.timestamp()):
        raise uninstalled()
