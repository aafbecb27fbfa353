"""The Starlette application: routes, error handlers, and a lifespan that owns the ORM and every
background task."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute
from tortoise.contrib.starlette import RegisterTortoise

from ghl_app.db import tortoise_config
from ghl_app.errors import AppError
from ghl_app.services import Services
from ghl_app.settings import Settings, load_settings
from web import (
    api_agency,
    api_instances,
    api_integrations,
    api_messages,
    api_number_settings,
    health,
    log_redaction,
    media,
    metrics,
    openapi,
    outbound,
    page,
    workflows,
    ws,
)
from web import oauth as ghl_oauth
from web import webhooks as ghl_webhooks
from web.body_limit import BodyLimitMiddleware
from web.errors import app_error_handler, http_error_handler, unexpected_error_handler
from web.install_guard import InstalledGuard

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()
    log_redaction.install()
    services = Services(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Tortoise keeps its connections in a context variable. The lifespan runs in its own
        # context, so the global fallback makes the ORM visible to requests and tasks too.
        async with RegisterTortoise(
            app, config=tortoise_config(settings.database_url), _enable_global_fallback=True
        ):
            await services.start()
            log.info("app started on %s", settings.public_url)
            try:
                yield
            finally:
                log.info("app stopping")
                await services.stop()

    routes: list[BaseRoute] = [*health.routes, *metrics.routes]
    if settings.role != "worker":  # a worker's port is for its health and metrics only
        routes += [*page.routes, *ghl_oauth.routes, *ghl_webhooks.routes]
        routes += [*outbound.routes, *api_messages.routes, *workflows.routes]
        routes += [*api_instances.routes, *ws.routes, *api_integrations.routes]
        routes += api_agency.routes
        routes += api_number_settings.routes
        routes += media.routes
        routes += openapi.routes
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(page.SecurityHeadersMiddleware, settings=settings),
            Middleware(BodyLimitMiddleware),
            Middleware(InstalledGuard, app_secret=settings.app_secret),
        ],
        exception_handlers={
            AppError: app_error_handler,
            HTTPException: http_error_handler,
            Exception: unexpected_error_handler,
        },
    )
    app.state.services = services
    app.state.settings = settings
    return app
