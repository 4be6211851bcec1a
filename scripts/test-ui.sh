#!/usr/bin/env bash
# The front end's tests: installs Debian's Chromium and the npm packages (from the
# committed package-lock.json), checks the types, runs the Vitest unit tests, builds the
# web front end and drives it through the bookkeeper's morning with Playwright against the
# real `chargeguard ui-server`. Screenshots land in ui/test-results/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-tools.sh
ensure_build_tools
apt_install chromium
# Node.js comes with the machine; Debian's only where it is missing.
command -v npm >/dev/null || apt_install nodejs npm

# Release with failpoints (unarmed), as test.sh builds it: CI compiles the crate once.
cargo build --release --features failpoints --bin chargeguard
target="${CARGO_TARGET_DIR:-$PWD/target}"

cd ui
# The lock file pins every version. npm 11 on this machine writes it without other
# platforms' optional packages (rollup's), which `npm ci` then calls out of sync; in that
# case `npm install` installs the same pinned versions.
npm ci --no-audit --no-fund || npm install --no-save --no-audit --no-fund
npm run build
npx vitest run
CHARGEGUARD_BIN="$target/release/chargeguard" node e2e/morning.mjs
CHARGEGUARD_BIN="$target/release/chargeguard" node e2e/books.mjs
# Settings connects a gateway: its key goes to a private Secret Service where one can run.
CHARGEGUARD_BIN="$target/release/chargeguard" ../scripts/with-keyring.sh node e2e/import-settings-today.mjs
