#!/usr/bin/env bash
# The real desktop app's smoke tests: installs WebKitGTK, Xvfb, Debian's WebKitWebDriver and
# tauri-driver, builds the web front end and the Tauri app, and drives the app through
# WebDriver under Xvfb with a test identifier and a fresh data folder
# (ui/e2e/desktop.mjs). Screenshots land in ui/test-results/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-tools.sh
ensure_build_tools
ensure_desktop_tools
command -v npm >/dev/null || apt_install nodejs npm

target="${CARGO_TARGET_DIR:-$PWD/target}"
(
  cd ui
  [ -d node_modules ] || npm ci --no-audit --no-fund || npm install --no-save --no-audit --no-fund
  # The app embeds the built front end at compile time.
  npm run build
)
# Debug: the smoke test needs no speed, and CI builds the app in half the time.
cargo build -p chargeguard-desktop
cargo build --release --features failpoints --bin chargeguard

cd ui
# A private D-Bus session keeps the app off the host's. (WEBKIT_DISABLE_COMPOSITING_MODE
# must stay unset: with it, WebKitWebDriver's screenshots never return under Xvfb.)
CHARGEGUARD_DESKTOP_BIN="$target/debug/chargeguard-desktop" \
CHARGEGUARD_BIN="$target/release/chargeguard" \
  dbus-run-session -- xvfb-run -a --server-args="-screen 0 1440x900x24" node e2e/desktop.mjs
