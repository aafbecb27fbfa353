"""Every setting the app reads, in one place (names fixed by shared/docs/contract.md).

`load_settings()` reads the environment once, casts strictly and raises `ConfigError` with one
line naming the setting and the fix. Nothing else in the code reads `os.environ`.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ghl_app.errors import ConfigError
from ghl_app.settings_parse import (
    database_url,
    log_format,
    profile_store,
    provider_mode,
    read,
    read_bool,
    read_float,
    read_int,
    read_url,
    redis_url,
    role,
)

# Pinned wa-js: the version whatsapp-web.md was checked against.
DEFAULT_WA_JS_VERSION = "4.6.0"
# GHL's Ed25519 webhook key as published for marketplace apps (ghl-api.md; overridable).
DEFAULT_GHL_ED25519_KEY = "MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg="
# GHL's legacy 4096-bit RSA key for `X-WH-Signature`, as published in WebhookAuthentication.md of
# GHL's API docs (quoted verbatim by mirrors of them; overridable).
DEFAULT_GHL_RSA_KEY = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC\n"
    "Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6\n"
    "dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB\n"
    "csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv\n"
    "uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF\n"
    "3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU\n"
    "J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp\n"
    "IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN\n"
    "h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC\n"
    "HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ\n"
    "PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk\n"
    "T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==\n"
    "-----END PUBLIC KEY-----\n"
)
# What one session costs on a page as heavy as WhatsApp Web: 470 MiB of PSS per session at 5
# sessions, 610 MiB for one alone (bench/bench_sessions_heavy.py, docs/benchmarks.md); users of
# Chromium-based bridges report 270-400 MB. The light fixture's 120-160 MiB understated it: a
# box sized on it runs out of memory, and the kernel's OOM killer takes every session at once.
_MEMORY_PER_SESSION = 480 * 1024 * 1024
_MEMORY_RESERVED = 512 * 1024 * 1024

ENV_NAMES = (
    "DATA_DIR",
    "DATABASE_URL",
    "REDIS_URL",
    "ROLE",
    "LEASE_SECONDS",
    "PROFILE_STORE",
    "PROFILE_SNAPSHOT_SECONDS",
    "PUBLIC_URL",
    "HOST",
    "PORT",
    "APP_SECRET",
    "GHL_CLIENT_ID",
    "GHL_CLIENT_SECRET",
    "GHL_SHARED_SECRET",
    "GHL_CONVERSATION_PROVIDER_ID",
    "GHL_API_URL",
    "GHL_MARKETPLACE_URL",
    "GHL_WEBHOOK_ED25519_KEY",
    "GHL_WEBHOOK_RSA_KEY",
    "WA_WEB_URL",
    "WA_JS",
    "CHROMIUM_PATH",
    "MAX_SESSIONS",
    "MAX_SESSIONS_PER_LOCATION",
    "MAX_INSTANCES_PER_LOCATION",
    # Additions beyond the contract (documented in the README settings table).
    "RENDER_EXTERNAL_URL",
    "FRAME_ANCESTORS",
    "LOG_LEVEL",
    "QR_TIMEOUT_SECONDS",
    "WA_DEVICE_NAME",
    "WA_JS_REGISTRY",
    "WA_JS_CACHE_DIR",
    "CHROMIUM_ARGS",
    "JOB_LEASE_SECONDS",
    "JOB_CONCURRENCY",
    "JOB_CONCURRENCY_PER_LOCATION",
    "GHL_PROVIDER_MODE",
    "GHL_WORKFLOW_TOKEN",
    "WORKFLOW_ROUTING_TAG_PREFIX",
    "METRICS_TOKEN",
    "ALERT_GRACE_SECONDS",
    "LOG_FORMAT",
    "MEDIA_RETENTION_DAYS",
)


GHL_REQUIRED = (
    "GHL_CLIENT_ID",
    "GHL_CLIENT_SECRET",
    "GHL_SHARED_SECRET",
    "GHL_CONVERSATION_PROVIDER_ID",
)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    public_url: str
    host: str
    port: int
    app_secret: str
    ghl_client_id: str
    ghl_client_secret: str
    ghl_shared_secret: str
    ghl_conversation_provider_id: str
    ghl_api_url: str
    ghl_marketplace_url: str
    ghl_webhook_ed25519_key: str
    ghl_webhook_rsa_key: str
    wa_web_url: str
    wa_js: str
    chromium_path: str | None
    max_sessions: int
    # One location's share of MAX_SESSIONS, and how many numbers it may create (issue 14: one
    # location created 300 and took every engine slot).
    max_sessions_per_location: int = 0  # 0: a quarter of MAX_SESSIONS, at least 2
    max_instances_per_location: int = 20
    frame_ancestors: tuple[str, ...] = ()
    # Set by `ghl-whatsapp demo` only (no environment variable): the page shows a demo banner.
    demo: bool = False
    log_level: str = "INFO"
    qr_timeout_seconds: float = 120.0
    wa_device_name: str = "WhatsApp for GoHighLevel"
    wa_js_registry: str = "https://registry.npmjs.org"
    missing_ghl: tuple[str, ...] = field(default=())
    wa_js_cache_dir: Path | None = None
    chromium_args: tuple[str, ...] = ()
    job_lease_seconds: float = 60.0
    # Jobs wait on GHL round trips (~100-300 ms), not on CPU: 8 handlers at 200 ms would cap a
    # process at 40 messages/s; 32 lets 20 busy locations each use their 10 requests/s.
    job_concurrency: int = 32
    # At most this many of those run for one location at once (0: a quarter of them).
    job_concurrency_per_location: int = 0
    # "extra": a custom provider next to SMS (needs GHL_CONVERSATION_PROVIDER_ID); "default":
    # the location's SMS provider replaced (GHL's SMS workflow actions and bulk actions work).
    ghl_provider_mode: str = "extra"
    # The secret our workflow action, option list and trigger subscription URLs expect in their
    # Authorization header: GHL documents no signature on those calls, only developer headers.
    ghl_workflow_token: str = ""
    workflow_routing_tag_prefix: str = "whatsapp:"
    metrics_token: str = ""
    alert_grace_seconds: int = 300  # an agency's own setting overrides it
    log_format: str = "text"  # or "json": one JSON object per line
    # Proxies whose X-Forwarded-* headers are believed: none by default (README: Render).
    forwarded_allow_ips: str = ""
    # Reply attachments are fetched only from public addresses, except these hosts (names or
    # name:port) allowed by name: GHL's own file hosts by default (issue 14).
    attachment_allowed_hosts: tuple[str, ...] = (
        "storage.googleapis.com",
        "msgsndr.com",
        "services.leadconnectorhq.com",
    )
    # Inbound files GHL does not take are served by us through signed links for this long.
    media_retention_days: int = 30
    # How long one GHL call may take. A post answered later may still have been stored: the
    # retry looks for it first (issue 13), so a slow GHL costs time, not a duplicate.
    ghl_timeout_seconds: float = 20.0
    # Event and alert webhooks (URLs integrators and agencies give) reach only public addresses,
    # except these hosts (names or name:port): a receiver on the private network must be named.
    webhook_allowed_hosts: tuple[str, ...] = ()
    # Redis for the event bus between processes (issue 17); unset: one process, in-process bus.
    redis_url: str | None = None
    # Where numbers' login snapshots go (file:///folder or s3://bucket/prefix); unset: nowhere.
    profile_store: str | None = None
    profile_snapshot_seconds: float = 1800.0
    # Issue 17: `all` (one process, the default), `web` (HTTP, WebSocket, webhooks) or `worker`
    # (engines and jobs); web and worker need PostgreSQL and Redis. A worker holds each
    # instance it runs under a lease of this length, renewed every third of it.
    role: str = "all"
    lease_seconds: float = 15.0
    # A launched WhatsApp Web page that shows neither a QR nor the login within this long is
    # stuck (a WhatsApp Web update wa-js does not handle yet): restarted once, then failed.
    wa_ready_timeout_seconds: float = 180.0
    # WhatsApp Web opened on another computer: take the session back (as WPPConnect-server and
    # whatsapp-web.js's takeoverOnConflict do), or leave the number disconnected ("conflict").
    takeover_on_conflict: bool = True
    # Catch-up after a restart or an outage reads back at most this many days, and this many of
    # each chat's latest messages.
    catch_up_max_days: int = 3
    catch_up_per_chat: int = 100
    # Outbound pacing, for numbers that set none of their own (issue 16, bridge/pacing.py):
    # a minimum gap between two sends of a number, a random jitter on top, a per-minute cap.
    send_min_gap_seconds: float = 2.0
    send_jitter_seconds: float = 1.5
    sends_per_minute: int = 20

    @property
    def location_session_quota(self) -> int:
        """Engines one location may run at once in this process."""
        if self.max_sessions_per_location:
            return min(self.max_sessions_per_location, self.max_sessions)
        return min(self.max_sessions, max(2, self.max_sessions // 4))

    @property
    def oauth_redirect_uri(self) -> str:
        return f"{self.public_url}/oauth/callback"

    @property
    def profiles_dir(self) -> Path:
        return self.data_dir / "profiles"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def cache_dir(self) -> Path:
        """Where wa-js is cached: the image bakes it in outside the (mounted) data disk."""
        return self.wa_js_cache_dir or self.data_dir / "cache"

    @property
    def wa_js_disabled(self) -> bool:
        return self.wa_js == "none"

    @property
    def app_id(self) -> str:
        """GHL's appId is the part of the client id before the first dash (ghl-api.md)."""
        return self.ghl_client_id.split("-")[0]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _memory_bytes() -> int | None:
    """The memory this process may use: a container's cgroup limit when it has one (inside a
    container /proc/meminfo shows the whole host: every replica would count all of it), else
    the machine's."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()  # cgroup v2
        if limit.isdigit():
            return int(limit)
    except OSError:
        pass
    try:
        meminfo = Path("/proc/meminfo").read_text()
        total_kb = int(next(line.split()[1] for line in meminfo.splitlines() if "MemTotal" in line))
    except (OSError, StopIteration, ValueError):
        return None
    return total_kb * 1024


def _max_sessions_default() -> int:
    memory = _memory_bytes()
    if memory is None:
        return 4
    return max(1, (memory - _MEMORY_RESERVED) // _MEMORY_PER_SESSION)


def _data_dir(env: dict[str, str]) -> Path:
    data_dir = Path(read(env, "DATA_DIR") or "./data").expanduser().resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = data_dir / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"DATA_DIR={data_dir} is not writable ({exc.strerror}): point DATA_DIR at a folder "
            "this user can write, or fix its permissions"
        ) from None
    return data_dir


def _app_secret(env: dict[str, str], data_dir: Path) -> str:
    """Use APP_SECRET, else the one generated on first start and kept in DATA_DIR.

    Keeping it means a restart does not invalidate page tokens or the encrypted GHL tokens.
    """
    value = read(env, "APP_SECRET")
    if value is not None:
        if len(value) < 16:
            raise ConfigError("APP_SECRET is shorter than 16 characters: use a long random value")
        return value
    path = data_dir / "app_secret"
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(48)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(value)
    tmp.chmod(0o600)
    tmp.replace(path)
    return value


def _chromium_path(env: dict[str, str]) -> str | None:
    explicit = read(env, "CHROMIUM_PATH")
    if explicit is not None:
        if not Path(explicit).is_file():
            raise ConfigError(
                f"CHROMIUM_PATH={explicit} does not exist: install chromium or unset CHROMIUM_PATH"
            )
        return explicit
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    data_dir = _data_dir(env)
    public_default = read(env, "RENDER_EXTERNAL_URL") or "http://localhost:8000"
    wa_js = read(env, "WA_JS") or DEFAULT_WA_JS_VERSION
    if wa_js != "none" and not all(part.isdigit() for part in wa_js.split(".")):
        raise ConfigError(
            f"WA_JS={wa_js!r} is not a version: use e.g. {DEFAULT_WA_JS_VERSION} or none"
        )
    frame_ancestors = tuple((read(env, "FRAME_ANCESTORS") or "").replace(",", " ").split())
    mode = provider_mode(env)
    log_level = (read(env, "LOG_LEVEL") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"LOG_LEVEL={log_level!r} is unknown: use DEBUG, INFO, WARNING or ERROR")
    return Settings(
        data_dir=data_dir,
        database_url=database_url(env, data_dir),
        public_url=read_url(env, "PUBLIC_URL", public_default),
        host=read(env, "HOST") or "127.0.0.1",
        port=read_int(env, "PORT", 8000, low=1, high=65535),
        app_secret=_app_secret(env, data_dir),
        ghl_client_id=read(env, "GHL_CLIENT_ID") or "",
        ghl_client_secret=read(env, "GHL_CLIENT_SECRET") or "",
        ghl_shared_secret=read(env, "GHL_SHARED_SECRET") or "",
        ghl_conversation_provider_id=read(env, "GHL_CONVERSATION_PROVIDER_ID") or "",
        ghl_api_url=read_url(env, "GHL_API_URL", "https://services.leadconnectorhq.com"),
        ghl_marketplace_url=read_url(
            env, "GHL_MARKETPLACE_URL", "https://marketplace.gohighlevel.com"
        ),
        ghl_webhook_ed25519_key=read(env, "GHL_WEBHOOK_ED25519_KEY") or DEFAULT_GHL_ED25519_KEY,
        ghl_webhook_rsa_key=read(env, "GHL_WEBHOOK_RSA_KEY") or DEFAULT_GHL_RSA_KEY,
        wa_web_url=read_url(env, "WA_WEB_URL", "https://web.whatsapp.com"),
        wa_js=wa_js,
        chromium_path=_chromium_path(env),
        max_sessions=read_int(env, "MAX_SESSIONS", _max_sessions_default(), low=1, high=10_000),
        max_sessions_per_location=read_int(env, "MAX_SESSIONS_PER_LOCATION", 0, low=0, high=10_000),
        max_instances_per_location=read_int(
            env, "MAX_INSTANCES_PER_LOCATION", 20, low=1, high=10_000
        ),
        frame_ancestors=frame_ancestors,
        log_level=log_level,
        qr_timeout_seconds=read_float(env, "QR_TIMEOUT_SECONDS", 120.0, low=1.0),
        wa_device_name=read(env, "WA_DEVICE_NAME") or "WhatsApp for GoHighLevel",
        wa_js_registry=read_url(env, "WA_JS_REGISTRY", "https://registry.npmjs.org"),
        missing_ghl=_missing_ghl(env, mode),
        wa_js_cache_dir=Path(cache).resolve() if (cache := read(env, "WA_JS_CACHE_DIR")) else None,
        chromium_args=tuple((read(env, "CHROMIUM_ARGS") or "").split()),
        job_lease_seconds=read_float(env, "JOB_LEASE_SECONDS", 60.0, low=1.0),
        job_concurrency=read_int(env, "JOB_CONCURRENCY", 32, low=1, high=512),
        job_concurrency_per_location=read_int(
            env, "JOB_CONCURRENCY_PER_LOCATION", 0, low=0, high=512
        ),
        ghl_provider_mode=mode,
        ghl_workflow_token=read(env, "GHL_WORKFLOW_TOKEN") or "",
        metrics_token=read(env, "METRICS_TOKEN") or "",
        alert_grace_seconds=read_int(env, "ALERT_GRACE_SECONDS", 300, low=0, high=86_400),
        log_format=log_format(env),
        attachment_allowed_hosts=_host_list(env),
        forwarded_allow_ips=(read(env, "FORWARDED_ALLOW_IPS") or "").strip(),
        workflow_routing_tag_prefix=(
            read(env, "WORKFLOW_ROUTING_TAG_PREFIX") or "whatsapp:"
        ).lower(),
        media_retention_days=read_int(env, "MEDIA_RETENTION_DAYS", 30, low=1, high=3650),
        ghl_timeout_seconds=read_float(env, "GHL_TIMEOUT_SECONDS", 20.0, low=1.0),
        webhook_allowed_hosts=_host_list(env, "WEBHOOK_ALLOWED_HOSTS", ()),
        wa_ready_timeout_seconds=read_float(env, "WA_READY_TIMEOUT_SECONDS", 180.0, low=1.0),
        takeover_on_conflict=read_bool(env, "WA_TAKEOVER_ON_CONFLICT", True),
        catch_up_max_days=read_int(env, "CATCH_UP_MAX_DAYS", 3, low=0, high=365),
        catch_up_per_chat=read_int(env, "CATCH_UP_PER_CHAT", 100, low=1, high=10_000),
        redis_url=redis_url(env),
        profile_store=profile_store(env),
        profile_snapshot_seconds=read_float(env, "PROFILE_SNAPSHOT_SECONDS", 1800.0, low=5.0),
        role=role(env, database_url(env, data_dir), redis_url(env)),
        lease_seconds=read_float(env, "LEASE_SECONDS", 15.0, low=3.0),
        send_min_gap_seconds=read_float(env, "SEND_MIN_GAP_SECONDS", 2.0, low=0.0),
        send_jitter_seconds=read_float(env, "SEND_JITTER_SECONDS", 1.5, low=0.0),
        sends_per_minute=read_int(env, "SENDS_PER_MINUTE", 20, low=0, high=10_000),
    )


def _host_list(
    env: dict[str, str],
    name: str = "ATTACHMENT_ALLOWED_HOSTS",
    default: tuple[str, ...] = Settings.attachment_allowed_hosts,
) -> tuple[str, ...]:
    raw = read(env, name)
    if raw is None:
        return default
    return tuple(h.strip().lower() for h in raw.split(",") if h.strip())


def _missing_ghl(env: dict[str, str], provider_mode: str) -> tuple[str, ...]:
    required: tuple[str, ...] = GHL_REQUIRED
    if provider_mode == "default":
        # ConversationProviders.md, "SMS Provider (default)": conversationProviderId is not
        # required for inbound messages of the default provider.
        required = tuple(n for n in required if n != "GHL_CONVERSATION_PROVIDER_ID")
    return tuple(name for name in required if not read(env, name))
