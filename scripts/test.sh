#!/usr/bin/env bash
# One command to run every check: lint, format, types and the whole test suite.
#   bash scripts/test.sh [pytest args]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/system-deps.sh --test
source scripts/bootstrap.sh dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# wa-js's own declarations, for the test that holds the bridge and the fixture to them.
.venv/bin/python scripts/fetch-wajs-declarations.py
.venv/bin/pytest "$@"
