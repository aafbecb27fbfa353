"""The GoHighLevel integration: OAuth installs, token lifecycle, the API client, webhooks."""

from __future__ import annotations

from ghl_app.ghl.client import GhlClient
from ghl_app.ghl.http import GhlApiError, GhlHttp, NeedsReinstall
from ghl_app.ghl.installs import InstallResult, InstallService
from ghl_app.ghl.ratelimit import RateLimiter
from ghl_app.ghl.tokens import TokenManager
from ghl_app.ghl.webhooks import AppWebhookHandler, WebhookRejected, WebhookVerifier

__all__ = [
    "AppWebhookHandler",
    "GhlApiError",
    "GhlClient",
    "GhlHttp",
    "InstallResult",
    "InstallService",
    "NeedsReinstall",
    "RateLimiter",
    "TokenManager",
    "WebhookRejected",
    "WebhookVerifier",
]
