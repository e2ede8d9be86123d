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
  # and real IMAP clients
  dovecot-core dovecot-pop3d dovecot-imapd python3 openssl curl procps
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
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
