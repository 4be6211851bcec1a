#!/usr/bin/env bash
# The accounting systems' most-used clients, unchanged (pinned in
# tests/books-clients/requirements.txt), against the sandbox's stand-ins of the real binary:
# python-quickbooks and intuit-oauth for QuickBooks Online, xero-python for Xero.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-tools.sh
ensure_build_tools
command -v python3 >/dev/null || apt_install python3 python3-venv

# Release with failpoints (unarmed), as test.sh builds it: CI compiles the crate once.
cargo build --release --features failpoints --bin chargeguard
target="${CARGO_TARGET_DIR:-$PWD/target}"

venv="${CHARGEGUARD_PY_VENV:-$HOME/.cache/chargeguard/books-clients-venv}"
# Debian's own Python makes a venv only with python3-venv (ensurepip) installed.
if [ ! -x "$venv/bin/pip" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv" 2>/dev/null || { rm -rf "$venv"; apt_install python3-venv; python3 -m venv "$venv"; }
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/books-clients/requirements.txt
for client in qbo xero; do
  CHARGEGUARD_BIN="$target/release/chargeguard" "$venv/bin/python" "tests/books-clients/$client.py"
done
