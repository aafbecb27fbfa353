"""Wires the GHL parts together once per process: one transport (one connection pool), one
limiter, one token manager, shared by installs, webhooks and the API client."""

from __future__ import annotations

from ghl_app.crypto import TokenCipher
from ghl_app.ghl.client import GhlClient
from ghl_app.ghl.http import GhlHttp
from ghl_app.ghl.installs import InstallService
from ghl_app.ghl.oauth import OAuthApi
from ghl_app.ghl.ratelimit import Limiter, RateLimiter
from ghl_app.ghl.tokens import TokenManager
from ghl_app.ghl.webhooks import AppWebhookHandler, WebhookVerifier
from ghl_app.settings import Settings

# GHL's burst limit per app per location (ghl-api.md "Rate limits").
GHL_BURST_REQUESTS = 100
GHL_BURST_INTERVAL = 10.0


# The app's client calls (all made by jobs) wait at most this long for their location's request
# budget; beyond that they raise `BudgetSpent`, and the job hands its worker to another location
# (the queue defers it) instead of sleeping on a busy location while the others' messages wait.
BUDGET_WAIT_S = 1.0


class GhlIntegration:
    def __init__(
        self,
        settings: Settings,
        *,
        limiter_enabled: bool = True,
        rate_limit: tuple[int, float] = (GHL_BURST_REQUESTS, GHL_BURST_INTERVAL),
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        timeout: float = 20.0,
        budget_wait_s: float | None = None,
    ) -> None:
        self.cipher = TokenCipher(settings.app_secret)
        self.limiter: Limiter | None = None
        if limiter_enabled and settings.redis_url:
            # Several processes share each location's budget: count it in Redis (issue 17).
            from ghl_app.ghl.ratelimit_redis import RedisRateLimiter

            self.limiter = RedisRateLimiter(settings.redis_url, *rate_limit)
        elif limiter_enabled:
            self.limiter = RateLimiter(*rate_limit)
        self.http = GhlHttp(
            settings.ghl_api_url,
            limiter=self.limiter,
            max_attempts=max_attempts,
            backoff_base=backoff_base,
            timeout=timeout,
        )
        self.oauth = OAuthApi(self.http, settings)
        self.tokens = TokenManager(settings, self.oauth, self.cipher)
        self.client = GhlClient(self.http, self.tokens, budget_wait_s=budget_wait_s)
        self.installs = InstallService(self.oauth, self.cipher)
        self.verifier = WebhookVerifier.from_settings(settings)
        self.webhooks = AppWebhookHandler(
            settings, self.installs, verifier=self.verifier, forget_tokens=self.tokens.forget
        )

    async def aclose(self) -> None:
        await self.http.aclose()
        aclose = getattr(self.limiter, "aclose", None)
        if aclose is not None:
            await aclose()
