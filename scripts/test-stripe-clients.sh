#!/usr/bin/env bash
# Stripe's official Node client, unchanged (pinned in tests/stripe-clients/package-lock.json),
# against the sandbox gateway of the real binary: expansion, updates, amount limits, errors,
# idempotency, pagination, and every key the client's types say Stripe always sends.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-tools.sh
ensure_build_tools
command -v npm >/dev/null || apt_install nodejs npm

# Release with failpoints (unarmed), as test.sh builds it: CI compiles the crate once.
cargo build --release --features failpoints --bin chargeguard
target="${CARGO_TARGET_DIR:-$PWD/target}"

cd tests/stripe-clients
npm ci --no-audit --no-fund
CHARGEGUARD_BIN="$target/release/chargeguard" node node.mjs
