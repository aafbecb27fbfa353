#!/usr/bin/env bash
# The system packages the app needs, in one place: the Dockerfile, CI and the README's commands
# all run this script, so a broken install step fails CI.
#   bash scripts/system-deps.sh          runtime: Chromium and the fonts WhatsApp Web needs
#   bash scripts/system-deps.sh --test   also PostgreSQL and Redis, for the tests of several processes
set -euo pipefail

packages=(chromium fonts-liberation fonts-noto-core fonts-noto-color-emoji ca-certificates procps)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(postgresql redis-server)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "system-deps: all present (${packages[*]})"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then
    sudo="sudo"
  else
    echo "system-deps: missing ${missing[*]}: run this script as root or install them" >&2
    exit 1
  fi
fi
echo "system-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
