#!/usr/bin/env bash
# Installs what popbridge needs to build, test and run, from Debian packages only.
# Used by the README's commands, by .ci/run and by deploy/Dockerfile, so what CI
# tests is what ships. Idempotent: installs only what is missing.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config git
  # libraries
  libuv1-dev android-libboringssl-dev libyaml-cpp-dev libcli11-dev
  libgtest-dev libgmock-dev libsqlite3-dev libcrypt-dev zlib1g-dev libexpected-dev
  # sanitizers and fuzzing
  clang-14 libclang-rt-14-dev clang-format
  # test peers: a private Dovecot POP3 server (and IMAP, the reference for MIME structures)
  # and real IMAP clients: curl, mbsync (isync), and Node.js for imapflow (tests/clients)
  dovecot-core dovecot-pop3d dovecot-imapd python3 openssl curl procps isync
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
# Node.js and npm run the imapflow client test. Debian ships them as `nodejs` and `npm`; a
# machine with another build of Node.js (whose package provides npm itself and conflicts with
# Debian's) already has both commands, so the commands are what is checked.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

# The npm packages of the client tests (pinned by tests/clients/package-lock.json), installed
# into tests/clients/node_modules once; install.sh does nothing when they are already there.
# Skipped where only this script was copied (the container's build stage).
install_clients() {
  local here
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  if [ -f "$here/tests/clients/install.sh" ]; then
    bash "$here/tests/clients/install.sh"
  fi
}

if [ ${#missing[@]} -eq 0 ]; then
  install_clients
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "popbridge: missing Debian packages: ${missing[*]}" >&2
  echo "popbridge: run this script as root (or: sudo $0) to install them" >&2
  exit 1
fi

echo "popbridge: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || true
apt-get install -y -qq --no-install-recommends "${missing[@]}"

# Debian starts the packaged Dovecot as a system service on install; popbridge's
# tests and demo run their own private instance and never use the system one.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet dovecot 2>/dev/null; then
  systemctl stop dovecot || true
  systemctl disable dovecot || true
fi

install_clients
