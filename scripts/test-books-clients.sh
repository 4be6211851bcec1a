#!/usr/bin/env bash
# The accounting systems' most-used clients, unchanged (pinned in
# tests/books-clients/requirements.txt), against the sandbox's stand-ins of the real binary:
# python-quickbooks and intuit-oauth for QuickBooks Online, xero-python for Xero.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-tools.sh
ensure_build_tools
command -v python3 >/dev/null || apt_install python3 python3-venv
python3 -m venv --help >/dev/null 2>&1 || apt_install python3-venv

# Release with failpoints (unarmed), as test.sh builds it: CI compiles the crate once.
cargo build --release --features failpoints --bin chargeguard
target="${CARGO_TARGET_DIR:-$PWD/target}"

venv="${CHARGEGUARD_PY_VENV:-$HOME/.cache/chargeguard/books-clients-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/books-clients/requirements.txt
for client in qbo xero; do
  CHARGEGUARD_BIN="$target/release/chargeguard" "$venv/bin/python" "tests/books-clients/$client.py"
done
