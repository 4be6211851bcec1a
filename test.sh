#!/usr/bin/env bash
# Runs every test of the project: installs what the tests need, then the suites.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/ensure-tools.sh
ensure_build_tools
ensure_test_tools
# Tests that need the OS keyring talk to a real Secret Service: run them in a D-Bus
# session with gnome-keyring unlocked (see scripts/with-keyring.sh).
# The randomized soak of guarded actions runs a few hundred trials here; run it locally with
# CHARGEGUARD_SOAK_TRIALS=5000 for thousands.
export CHARGEGUARD_SOAK_TRIALS="${CHARGEGUARD_SOAK_TRIALS:-200}"
scripts/with-keyring.sh cargo test --release --features failpoints
# Stripe's own Node client against the sandbox gateway.
scripts/test-stripe-clients.sh
# python-quickbooks and intuit-oauth against the QuickBooks Online stand-in.
scripts/test-books-clients.sh
# The front end: Vitest units and the Playwright morning in Chromium against `ui-server`.
scripts/test-ui.sh
# The real desktop app (Tauri, WebKitGTK) under Xvfb through tauri-driver.
scripts/test-desktop.sh
