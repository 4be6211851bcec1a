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

# The desktop app: WebKitGTK and GTK to build it; Xvfb, Debian's WebKitWebDriver and
# tauri-driver (from crates.io, pinned) to drive it in the tests.
ensure_desktop_libs() {
  apt_install libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev libsoup-3.0-dev
}

ensure_desktop_tools() {
  ensure_desktop_libs
  apt_install xvfb xauth webkit2gtk-driver dbus
  if ! command -v tauri-driver >/dev/null; then
    echo "Installing tauri-driver 2.1.0 (cargo install)" >&2
    cargo install tauri-driver --version 2.1.0 --locked --quiet
  fi
}
