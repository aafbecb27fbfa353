"""`GET /app`, its static files and the headers that let GHL, and only GHL, frame it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ghl_app.db import apply_migrations
from support.app_server import RunningApp, run_app
from support.app_server import test_settings as make_settings
from web.app import create_app


def csp_directives(header: str) -> dict[str, str]:
    return {
        part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2]
        for part in header.split(";")
        if part.strip()
    }


async def test_app_page_renders_in_english_for_an_english_browser(page_app: RunningApp) -> None:
    async with page_app.client() as client:
        response = await client.get("/app", headers={"accept-language": "en-US,en;q=0.9"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in response.text
    assert "Signing you in through GoHighLevel…" in response.text
    assert "Add number" in response.text


async def test_app_page_renders_in_portuguese_for_a_brazilian_browser(
    page_app: RunningApp,
) -> None:
    async with page_app.client() as client:
        by_header = await client.get("/app", headers={"accept-language": "pt-BR,pt;q=0.9,en;q=0.5"})
        by_query = await client.get("/app?lang=pt-BR", headers={"accept-language": "en"})
    for response in (by_header, by_query):
        assert '<html lang="pt-BR">' in response.text
        assert "Entrando pelo GoHighLevel…" in response.text
        assert "Adicionar número" in response.text


async def test_app_page_csp_allows_ghl_frames_and_own_scripts_only(
    page_app: RunningApp,
) -> None:
    async with page_app.client() as client:
        response = await client.get("/app")
    assert "x-frame-options" not in response.headers
    assert "set-cookie" not in response.headers
    csp = csp_directives(response.headers["content-security-policy"])
    assert csp["frame-ancestors"].split() == [
        "'self'",
        "https://*.gohighlevel.com",
        "https://*.leadconnectorhq.com",
    ]
    assert csp["script-src"] == "'self'"
    assert csp["style-src"] == "'self'"
    assert response.headers["content-security-policy"].count("frame-ancestors") == 1


async def test_white_label_domains_from_settings_join_frame_ancestors(data_dir: Path) -> None:
    settings = make_settings(
        str(data_dir), FRAME_ANCESTORS="https://app.agency.example, https://crm.other.example"
    )
    await apply_migrations(settings.database_url)
    async with run_app(create_app(settings)) as running, running.client() as client:
        page = await client.get("/app")
        health = await client.get("/healthz")
    for response in (page, health):
        ancestors = csp_directives(response.headers["content-security-policy"])["frame-ancestors"]
        assert "https://app.agency.example" in ancestors.split()
        assert "https://crm.other.example" in ancestors.split()
        assert "https://*.gohighlevel.com" in ancestors.split()


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/healthz"), ("POST", "/app/sso"), ("GET", "/static/app.js")]
)
async def test_every_response_says_who_may_frame_it_and_never_x_frame_options(
    page_app: RunningApp, method: str, path: str
) -> None:
    async with page_app.client() as client:
        response = await client.request(method, path)
    assert "x-frame-options" not in response.headers
    assert "set-cookie" not in response.headers
    assert "https://*.gohighlevel.com" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_static_script_and_stylesheet_are_served(page_app: RunningApp) -> None:
    async with page_app.client() as client:
        script = await client.get("/static/ghl.js")
        style = await client.get("/static/app.css")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")  # module scripts need it
    assert "REQUEST_USER_DATA" in script.text
    assert style.status_code == 200
    assert "--primary" in style.text
