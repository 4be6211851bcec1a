# Sourced by demo.sh, test.sh and .ci/run: installs the system packages Chargeguard needs
# on a Debian machine, only when they are missing. Rust itself must already be installed.

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "Installing: ${missing[*]}" >&2
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_build_tools() {
  command -v cargo >/dev/null || { echo "Rust is needed: install it from rustup (https://rustup.rs) first." >&2; exit 1; }
  apt_install gcc libc6-dev pkg-config
}

ensure_test_tools() {
  # A real Secret Service for the keyring tests.
  apt_install dbus dbus-x11 gnome-keyring libsecret-tools
}
