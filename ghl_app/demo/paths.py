"""Where the demo's files are: its own pages, and the fixture WhatsApp Web page it shares with
the tests (one constant, so the fixture can move into the package without other edits)."""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
# The fake WhatsApp Web + wa-js the tests drive (fake-wpp.js, index.html).
FIXTURE_WA_DIR = Path(__file__).resolve().parent / "wa"
