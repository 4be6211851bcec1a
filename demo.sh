#!/usr/bin/env bash
# Installs what is missing, builds Chargeguard and opens it on demo data: the desktop app
# where there is a display, the command-line demo where there is none (or with --cli).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/ensure-tools.sh
ensure_build_tools

if [ "${1:-}" = "--cli" ]; then
  shift
elif [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  ensure_desktop_libs
  command -v npm >/dev/null || apt_install nodejs npm
  (
    cd ui
    [ -d node_modules ] || npm ci --no-audit --no-fund || npm install --no-save --no-audit --no-fund
    npm run build >/dev/null
  )
  echo "Opening the Chargeguard desktop app on its demo store (first launch builds it)." >&2
  exec cargo run --release --quiet -p chargeguard-desktop
else
  echo "No display here: running the command-line demo (the desktop app needs one)." >&2
fi
cargo run --release --quiet --bin chargeguard -- demo "$@"
