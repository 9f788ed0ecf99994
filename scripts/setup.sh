#!/usr/bin/env bash
# Installs whatever this machine is missing to build and test Deckhand. Idempotent: a second run
# does nothing but check. Used by `make run` and `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

# postgresql: the server suite also runs against a throw-away PostgreSQL cluster (no docker).
# dbus, gnome-keyring, libsecret-tools: the keychain end-to-end test (a private D-Bus session with an
# unlocked gnome-keyring; secret-tool reads what the app stored). libdbus-1-dev: the keyring crate.
# libayatana-appindicator3-1: the tray icon (loaded at run time).
PKGS="libwebkit2gtk-4.1-dev build-essential pkg-config xvfb xauth webkit2gtk-driver chromium libssl-dev curl python3 python3-venv postgresql dbus libdbus-1-dev gnome-keyring libsecret-tools libayatana-appindicator3-1"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing system packages:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi

if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  echo "setup: installing tauri-driver"
  cargo install --locked tauri-driver
fi

if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  echo "setup: installing UI packages"
  (cd ui && npm ci --no-audit --no-fund)
fi
if [ ! -d tests/node_modules ] || [ tests/package-lock.json -nt tests/node_modules/.package-lock.json ]; then
  if [ -f tests/package.json ]; then
    echo "setup: installing test packages"
    (cd tests && npm ci --no-audit --no-fund)
  fi
fi
# The benchmark's peer (PouchDB + express-pouchdb, crates/bench/peer): used by `make bench` only.
if [ ! -d crates/bench/peer/node_modules ] || [ crates/bench/peer/package-lock.json -nt crates/bench/peer/node_modules/.package-lock.json ]; then
  echo "setup: installing the benchmark peer (PouchDB)"
  (cd crates/bench/peer && npm ci --no-audit --no-fund)
fi
