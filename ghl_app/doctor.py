"""`ghl-whatsapp doctor`: one line per check, with what to do about each failure."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from ghl_app import db
from ghl_app.errors import ConfigError
from ghl_app.settings import Settings


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    blocking: bool = True

    def line(self) -> str:
        mark = "ok  " if self.ok else ("FAIL" if self.blocking else "warn")
        return f"[{mark}] {self.name}: {self.detail}"


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    return Check("python", True, version)


async def check_database(settings: Settings) -> Check:
    try:
        await db.apply_migrations(settings.database_url)
    except ConfigError as exc:
        return Check("database", False, str(exc))
    return Check(
        "database", True, f"{_redact(settings.database_url)} reachable, migrations applied"
    )


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


async def check_chromium(settings: Settings) -> Check:
    if settings.chromium_path is None:
        return Check(
            "chromium",
            False,
            "not found: install it (Debian/Ubuntu: sudo apt-get install chromium) or set "
            "CHROMIUM_PATH",
        )
    from playwright.async_api import async_playwright

    from connectors._chromium import launch_args

    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=settings.chromium_path, args=launch_args(), timeout=30_000
            )
            try:
                page = await browser.new_page()
                await page.set_content("<p>ok</p>")
                version = browser.version
            finally:
                await browser.close()
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Check(
            "chromium",
            False,
            f"{settings.chromium_path} does not start ({first[:160]}): reinstall chromium or "
            "point CHROMIUM_PATH at a working binary",
        )
    return Check("chromium", True, f"{settings.chromium_path} launches (version {version})")


async def check_wajs(settings: Settings) -> Check:
    if settings.wa_js_disabled:
        return Check("wa-js", True, "WA_JS=none: the page provides window.WPP", blocking=False)
    cached = settings.cache_dir / f"wa-js-{settings.wa_js}.js"
    if cached.is_file():
        return Check("wa-js", True, f"{settings.wa_js} cached at {cached}")
    url = f"{settings.wa_js_registry}/@wppconnect/wa-js/{settings.wa_js}"
    try:
        async with httpx.AsyncClient(timeout=15) as client:
            response = await client.get(url)
        response.raise_for_status()
        response.json()["dist"]["integrity"]
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        return Check(
            "wa-js",
            False,
            f"{settings.wa_js} not cached and the npm registry does not answer ({exc}): allow "
            "access to the registry or run `ghl-whatsapp fetch-wajs` where it is reachable",
        )
    return Check("wa-js", True, f"{settings.wa_js} not cached yet, fetchable from the registry")


def check_data_dir(settings: Settings) -> Check:
    free = _free_mib(settings.data_dir)
    return Check("data dir", True, f"{settings.data_dir} writable, {free} MiB free")


def _free_mib(path: Path) -> int:
    import shutil

    return shutil.disk_usage(path).free // (1024 * 1024)


def check_ghl(settings: Settings) -> Check:
    if settings.missing_ghl:
        return Check(
            "ghl settings",
            False,
            "missing " + ", ".join(settings.missing_ghl) + ": copy them from your marketplace "
            "app's settings (README, 'Create the GHL marketplace app')",
            blocking=False,
        )
    return Check(
        "ghl settings", True, f"app id {settings.app_id}, public URL {settings.public_url}"
    )


async def check_running_app(settings: Settings) -> Check:
    """What the running app on this machine reports about its numbers' WhatsApp Web (what
    wa-js misses after a WhatsApp Web update) and GHL's daily budget: its `/healthz`."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    url = f"http://{host}:{settings.port}/healthz"
    try:
        async with httpx.AsyncClient(timeout=3) as client:
            health = (await client.get(url)).json()
    except (httpx.HTTPError, ValueError) as exc:
        return Check(
            "running app",
            True,
            f"none answers at {url} ({type(exc).__name__}): start it to see its numbers here",
            blocking=False,
        )
    problems = health.get("whatsapp_web_problems") or {}
    low = health.get("ghl_daily_budget_low") or []
    if not problems and not low:
        return Check("running app", True, f"{url}: no WhatsApp Web problem, GHL budget fine")
    parts = [f"number {iid}: {'; '.join(found)}" for iid, found in problems.items()]
    if problems:
        parts.append("update WA_JS (or the app) when wa-js misses parts of WhatsApp Web")
    if low:
        parts.append(f"near GHL's daily limit: {', '.join(low)}")
    return Check("running app", False, " | ".join(parts), blocking=False)


async def run_checks(settings: Settings) -> list[Check]:
    return [
        check_python(),
        check_data_dir(settings),
        await check_database(settings),
        await check_chromium(settings),
        await check_wajs(settings),
        check_ghl(settings),
        await check_running_app(settings),
    ]


def doctor(settings: Settings) -> int:
    checks = asyncio.run(run_checks(settings))
    for check in checks:
        print(check.line())
    blocking = [check for check in checks if not check.ok and check.blocking]
    print(
        "doctor: " + ("ready to serve" if not blocking else f"{len(blocking)} blocking problem(s)")
    )
    return 1 if blocking else 0
