#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with an unlocked gnome-keyring, so tests
# use the operating system's real Secret Service and never touch the user's own keyring.
set -euo pipefail
if [ -z "${CHARGEGUARD_IN_KEYRING_SESSION:-}" ] && command -v dbus-run-session >/dev/null && command -v gnome-keyring-daemon >/dev/null; then
  export CHARGEGUARD_IN_KEYRING_SESSION=1
  exec dbus-run-session -- bash -c 'echo -n "chargeguard-test" | gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec "$@"' keyring "$@"
fi
exec "$@"
