#!/usr/bin/env bash
# Installs what is missing, builds Chargeguard and runs it on demo data.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/ensure-tools.sh
ensure_build_tools
cargo run --release --quiet --bin chargeguard -- demo "$@"
