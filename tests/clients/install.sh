#!/usr/bin/env bash
# Installs the npm packages the client tests drive (imapflow), exactly as pinned by
# package-lock.json, into tests/clients/node_modules. Idempotent: does nothing when the
# installed tree was made from the current lock file (a stamp holds the lock file's hash).
# Called by scripts/deps.sh and, when node_modules is missing, by the integration harness.
set -euo pipefail
cd "$(dirname "$0")"

lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.popbridge-lock-sha256
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_hash" ]; then
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "popbridge: npm is missing (scripts/deps.sh installs it)" >&2
  exit 1
fi
echo "popbridge: installing the client tests' npm packages (tests/clients)" >&2
npm ci --no-audit --no-fund --loglevel=error
echo "$lock_hash" >"$stamp"
