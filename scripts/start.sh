#!/usr/bin/env bash
# One command to start the app on its embedded default: SQLite in ./data, Chromium on this box.
#   bash scripts/start.sh
# The try-it demo (a fake GHL and a simulated phone, nothing real reached):
#   bash scripts/start.sh demo [--port 8000] [--data-dir DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/bootstrap.sh
if [[ -z "${CHROMIUM_PATH:-}" ]] && ! command -v chromium >/dev/null; then
  # Playwright's own download first; Debian's chromium when its CDN is out of reach.
  .venv/bin/python -m playwright install chromium >/dev/null 2>&1 \
    || bash scripts/system-deps.sh
fi
if [[ "${1:-}" == "demo" ]]; then
  exec .venv/bin/ghl-whatsapp demo "${@:2}"
fi
exec .venv/bin/ghl-whatsapp serve
