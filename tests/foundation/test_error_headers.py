"""Issue 14, finding 10: a 500 carries the same security headers as every other answer."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ghl_app.settings import Settings
from support.app_server import run_app
from web.app import create_app


async def test_a_500_has_csp_nosniff_and_referrer_policy(settings: Settings) -> None:
    from ghl_app.db import apply_migrations

    await apply_migrations(settings.database_url)
    app = create_app(settings)

    async def broken(request: Request) -> Response:
        raise RuntimeError("a bug")

    app.add_route("/broken-for-test", broken)
    async with run_app(app) as running, running.client() as client:
        response = await client.get("/broken-for-test")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "frame-ancestors" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
