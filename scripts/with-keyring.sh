#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with a fresh, unlocked gnome-keyring, so
# tests use the operating system's real Secret Service and never touch the user's own
# keyring (the daemon keeps its files in a temporary folder, removed afterwards).
set -euo pipefail
if [ -z "${CHARGEGUARD_IN_KEYRING_SESSION:-}" ] && command -v dbus-run-session >/dev/null && command -v gnome-keyring-daemon >/dev/null; then
  export CHARGEGUARD_IN_KEYRING_SESSION=1
  keyring_home=$(mktemp -d)
  trap 'rm -rf "$keyring_home"' EXIT
  export CHARGEGUARD_KEYRING_HOME="$keyring_home"
  dbus-run-session -- bash -c 'echo -n "chargeguard-test" | XDG_DATA_HOME="$CHARGEGUARD_KEYRING_HOME" gnome-keyring-daemon --unlock --components=secrets >/dev/null; "$@"' keyring "$@"
  exit $?
fi
# CI must not pass on keyring tests that skipped themselves for want of a Secret Service.
if [ -z "${CHARGEGUARD_IN_KEYRING_SESSION:-}" ] && [ -n "${CI:-}" ]; then
  echo "with-keyring.sh: dbus-run-session and gnome-keyring-daemon are needed in CI (scripts/ensure-tools.sh installs them)" >&2
  exit 1
fi
exec "$@"
