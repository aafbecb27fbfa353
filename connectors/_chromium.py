"""How we launch Chromium for WhatsApp Web: flags, user agent, viewport."""

from __future__ import annotations

import functools
import os
import re
import subprocess

from playwright.async_api import ViewportSize

# docs/whatsapp-web.md: the flags every session needs.
_BASE_ARGS = (
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)

# Memory, measured with tests/wa_engine/memory_probe.py (PSS of the browser tree, fixture page,
# Chromium 156): an untuned `chromium.launch()` + page costs ~166 MiB for each session beyond
# the first; single-process + no-zygote costs ~92 MiB (-45%) and is ONE OS process per session.
# Single-process is an unsupported Chromium mode: a renderer crash takes the browser with it,
# which for one page per browser is the same outcome (Disconnected). `single_process=False`
# falls back to the multi-process variant below (~146 MiB).
_COMMON_LEAN_ARGS = (
    "--disable-extensions",
    "--disable-gpu",
    "--disable-software-rasterizer",  # -12 MiB: no SwiftShader fallback
    "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication,"
    "BackForwardCache,HeavyAdIntervention",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--mute-audio",
)
# Debian's Chromium always starts two crashpad handlers that detach to init (outside our process
# tree). Switching them off works in single-process mode; in multi-process mode it makes
# navigations fail, so there they stay (they exit with the browser).
_SINGLE_PROCESS_ARGS = ("--single-process", "--no-zygote", "--disable-crashpad-for-testing")
_MULTI_PROCESS_ARGS = (
    "--renderer-process-limit=1",
    "--in-process-gpu",
    "--enable-features=NetworkServiceInProcess",
    "--disable-site-isolation-trials",
)

# WhatsApp Web's crash-log host: wa-js's own launcher blocks it. Resolved to nothing here,
# which costs nothing, unlike routing every request through Playwright.
_BLOCKED_HOSTS = ("crashlogs.whatsapp.net",)

VIEWPORT: ViewportSize = {"width": 1000, "height": 700}


def launch_args(*, single_process: bool = True) -> list[str]:
    lean = _SINGLE_PROCESS_ARGS if single_process else _MULTI_PROCESS_ARGS
    args = [*_BASE_ARGS, *_COMMON_LEAN_ARGS, *lean]
    args.append(
        "--host-resolver-rules=" + ", ".join(f"MAP {host} ~NOTFOUND" for host in _BLOCKED_HOSTS)
    )
    if os.geteuid() == 0:
        # Chromium's sandbox refuses to run as root (Playwright also adds it by default).
        args.append("--no-sandbox")
    return args


@functools.cache
def user_agent(chromium_path: str) -> str:
    """A normal desktop Chrome user agent: new WhatsApp Web refuses `HeadlessChrome`."""
    major = "130"
    try:
        out = subprocess.run(
            [chromium_path, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
        match = re.search(r"(\d+)\.\d+\.\d+\.\d+", out)
        if match:
            major = match.group(1)
    except (OSError, subprocess.TimeoutExpired):
        pass
    return (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{major}.0.0.0 Safari/537.36"
    )
