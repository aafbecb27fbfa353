#!/usr/bin/env bash
# What the production image does, outside Docker: the runtime system packages, a non-dev,
# non-editable install in a fresh virtualenv, then `ghl-whatsapp serve` answering /healthz and
# stopping cleanly on SIGTERM.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'for pid in ${server:-} ${demo:-}; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"' EXIT

bash "$root/scripts/system-deps.sh"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip
# Build from a copy, as `docker build` does, so the checkout gets no build/ folder.
mkdir "$work/src"
tar -C "$root" --exclude=./.venv --exclude=./data --exclude=./build --exclude=./.git -cf - . \
  | tar -C "$work/src" -xf -
"$work/venv/bin/python" -m pip install -q "$work/src"

port=$("$work/venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export DATA_DIR="$work/data" HOST=127.0.0.1 PORT="$port"
cd "$work"  # away from the checkout: the installed package must stand on its own
"$work/venv/bin/ghl-whatsapp" doctor || true
"$work/venv/bin/ghl-whatsapp" serve >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/healthz" >"$work/health.json" 2>/dev/null; then break; fi
  sleep 0.2
done
cat "$work/health.json" && echo
grep -q '"status":"ok"' "$work/health.json"
kill -TERM "$server"
status=0
wait "$server" || status=$?
# uvicorn shuts down cleanly, then re-raises the SIGTERM it caught (exit status 143).
if [[ $status -ne 0 && $status -ne 143 ]]; then
  cat "$work/serve.log"
  echo "smoke-prod-install: 0 passed, 1 failed (serve exited with $status)"
  exit 1
fi
grep -q "Application shutdown complete" "$work/serve.log"

# The try-it demo from the same install: its pages and the fixture WhatsApp Web page are package
# data, and the fake GHL runs without the dev-only SDK (tests/demo drives it in a browser).
"$work/venv/bin/ghl-whatsapp" demo --port "$port" >"$work/demo.out" 2>"$work/demo.log" &
demo=$!
for _ in $(seq 1 150); do
  if grep -q "open http" "$work/demo.out"; then break; fi
  sleep 0.2
done
# Each page is saved, then searched: `curl | grep -q` fails under pipefail when grep stops
# reading before a large page (the fixture script) is written (curl: "Failure writing output").
serves() {
  curl -fsS "http://127.0.0.1:$port$1" -o "$work/page" && grep -q "$2" "$work/page"
}
failed=0
serves /demo/ "DEMO" || failed=1
serves /demo/wa/fake-wpp.js "window.__fixture" || failed=1
serves /demo/phone "Simulated phone" || failed=1
kill -TERM "$demo"
wait "$demo" || true
if [[ $failed -ne 0 ]]; then
  cat "$work/demo.out" "$work/demo.log"
  echo "smoke-prod-install: 1 passed, 1 failed (demo)"
  exit 1
fi
echo "smoke-prod-install: 2 passed, 0 failed"
