"""`GET /healthz`: the load balancer's probe, with the database checked."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ghl_app import db
from ghl_app.models import Company, Location

log = logging.getLogger(__name__)


async def healthz(request: Request) -> JSONResponse:
    services = request.app.state.services
    try:
        await db.ping()
    except Exception as exc:
        log.error("health check: database does not answer: %s", exc)
        return JSONResponse(
            {"status": "error", "database": "unreachable", "error": str(exc)[:200]},
            status_code=503,
        )
    needs_reinstall = await Location.filter(needs_reinstall=True, uninstalled_at=None).values_list(
        "location_id", flat=True
    )
    companies = await Company.filter(needs_reinstall=True, uninstalled_at=None).values_list(
        "company_id", flat=True
    )
    return JSONResponse(
        {
            "status": "ok",
            "database": "ok",
            # Issue 17: what this process is (all, web or worker) and its name among the nodes.
            "role": services.settings.role,
            "node": services.node_id,
            "sessions": services.session_counts(),
            "needs_reinstall": {"locations": list(needs_reinstall), "companies": list(companies)},
            "missing_settings": list(services.settings.missing_ghl),
            # Numbers whose WhatsApp Web wa-js no longer fully understands (needs_update, a
            # module it could not find): an update of WA_JS or the app is due.
            "whatsapp_web_problems": services.sessions.problems(),
            # Locations near the end of GHL's daily request budget: status ticks and renames
            # wait, messages go on until it is spent.
            "ghl_daily_budget_low": services.ghl_integration.http.daily.low_keys()
            if services.ghl_integration.http.daily is not None
            else [],
        }
    )


routes = [Route("/healthz", healthz, methods=["GET"])]
