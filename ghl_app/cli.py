"""The `ghl-whatsapp` command: serve, migrate, doctor.

Expected misconfiguration ends with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import socket
import sys

from ghl_app import db
from ghl_app.errors import ConfigError
from ghl_app.logs import configure_logging
from ghl_app.settings import Settings, load_settings

log = logging.getLogger("ghl_app")


def _fail(message: str) -> int:
    print(f"ghl-whatsapp: {message}", file=sys.stderr)
    return 2


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"PORT={port} on {host} is already in use: stop the other server or set PORT"
                ) from None
            raise ConfigError(f"HOST={host} PORT={port} cannot be used ({exc.strerror})") from None


def serve(settings: Settings) -> int:
    import uvicorn

    _check_port_free(settings.host, settings.port)
    asyncio.run(db.apply_migrations(settings.database_url))
    log.info(
        "migrations applied, serving on %s:%d (role %s)",
        settings.host,
        settings.port,
        settings.role,
    )
    # By import string: ghl_app never imports web (architecture.md); the factory reads the
    # same environment these settings came from.
    config = uvicorn.Config(
        "web.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        # X-Forwarded-For/Proto are trusted only from FORWARDED_ALLOW_IPS (default: nobody),
        # so a client cannot claim any address it likes (issue 14, finding 11).
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        # Frames over 64 KiB are refused by the server while they arrive (close 1009), before
        # the app's own 16 KiB check ever sees them buffered (issue 14, finding 9).
        ws_max_size=64 * 1024,
        # Request heads are small; an idle or half-sent connection is let go after 5 s.
        h11_max_incomplete_event_size=16 * 1024,
        timeout_keep_alive=5,
        log_config=None,
        ws="websockets-sansio",
        # A whole request within 30 s of its first byte (uvicorn has no such limit).
        http="ghl_app.serving:DeadlineH11Protocol",
        timeout_graceful_shutdown=20,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1


def migrate(settings: Settings) -> int:
    asyncio.run(db.apply_migrations(settings.database_url))
    print(f"migrations applied to {settings.database_url.split('@')[-1]}")
    return 0


def fetch_wajs(settings: Settings) -> int:
    from connectors.base import EngineError
    from connectors.wajs import ensure_wajs

    if settings.wa_js_disabled:
        print("WA_JS=none: nothing to fetch")
        return 0
    try:
        path = asyncio.run(
            ensure_wajs(settings.wa_js, settings.cache_dir, registry_url=settings.wa_js_registry)
        )
    except EngineError as exc:
        return _fail(f"wa-js {settings.wa_js} could not be fetched: {exc}")
    print(f"wa-js {settings.wa_js} verified and cached at {path}")
    return 0


def demo(args: argparse.Namespace) -> int:
    """The try-it sandbox on its own data folder (a temporary one unless --data-dir)."""
    import shutil
    import tempfile
    from pathlib import Path

    from ghl_app.demo.guard import claim_demo_dir
    from ghl_app.demo.server import run_demo

    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    configure_logging(level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO", "text")
    own = args.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="ghl-whatsapp-demo-")) if own else Path(args.data_dir)
    try:
        claim_demo_dir(data_dir)
        _check_port_free("127.0.0.1", args.port)
        return run_demo(data_dir.resolve(), args.port)
    finally:
        if own:
            shutil.rmtree(data_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ghl-whatsapp", description="WhatsApp for GoHighLevel")
    sub = parser.add_subparsers(dest="command", required=True)
    serve_parser = sub.add_parser("serve", help="apply pending migrations, then serve on HOST:PORT")
    serve_parser.add_argument(
        "--role",
        choices=("all", "web", "worker"),
        default=None,
        help="all (default: one process), web (HTTP, WebSocket, webhooks) or worker (WhatsApp"
        " engines and jobs); web and worker need PostgreSQL and Redis (ROLE)",
    )
    sub.add_parser("migrate", help="apply pending migrations")
    sub.add_parser("doctor", help="check this machine and the settings")
    sub.add_parser("fetch-wajs", help="download, verify and cache the pinned wa-js")
    demo_parser = sub.add_parser(
        "demo", help="try it: the app with a fake GHL and a simulated phone on one local port"
    )
    demo_parser.add_argument("--port", type=int, default=8000, help="loopback port (8000)")
    demo_parser.add_argument(
        "--data-dir", default=None, help="the demo's own folder (default: a temporary one)"
    )
    args = parser.parse_args(argv)
    # The database, the stored secret and the Chromium profiles (WhatsApp logins) are for this
    # process only: every file it creates is 600 and every folder 700 (issue 14, finding 11).
    os.umask(0o077)
    try:
        if args.command == "demo":
            # Never the user's settings or database: the demo builds its own (ghl_app/demo).
            sys.exit(demo(args))
        if getattr(args, "role", None):
            # Through the environment: the web app's factory reads its settings from it again.
            os.environ["ROLE"] = args.role
        settings = load_settings()
        settings.data_dir.chmod(0o700)
        configure_logging(settings.log_level, settings.log_format)
        if args.command == "serve":
            code = serve(settings)
        elif args.command == "migrate":
            code = migrate(settings)
        elif args.command == "fetch-wajs":
            code = fetch_wajs(settings)
        else:
            from ghl_app.doctor import doctor

            code = doctor(settings)
    except ConfigError as exc:
        code = _fail(str(exc))
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
