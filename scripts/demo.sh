#!/usr/bin/env bash
# popbridge demo: `sudo bash scripts/demo.sh` (or `bash scripts/demo.sh` as root).
#
# Installs what is missing (scripts/deps.sh), builds the release preset, starts a private Dovecot
# POP3 server on loopback seeded with sample mail, writes a popbridge config with a throwaway TLS
# certificate and a random IMAP password, and runs popbridge in the foreground. Point any IMAP
# client at the printed address. Ctrl-C stops popbridge and Dovecot.
#
# Environment:
#   POPBRIDGE_DEMO_DIR        state directory (default /tmp/popbridge-demo; wiped on each run)
#   POPBRIDGE_DEMO_IMAP_PORT  STARTTLS listener (default 1143)
#   POPBRIDGE_DEMO_IMAPS_PORT implicit TLS listener (default 1993)
#   POPBRIDGE_DEMO_MESSAGES   sample messages to seed (default 20)
#   POPBRIDGE_BIN             use this binary instead of building build/release/proxy/popbridge
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

if [ "$(id -u)" -ne 0 ]; then
  # Root installs packages and runs Dovecot, which switches its mail processes to `nobody`.
  echo "popbridge demo: run as root: sudo bash scripts/demo.sh" >&2
  exit 1
fi

bash scripts/deps.sh

if [ -z "${POPBRIDGE_BIN:-}" ]; then
  echo "== popbridge demo: building the release preset" >&2
  cmake --preset release >/dev/null
  cmake --build --preset release
  POPBRIDGE_BIN=$repo/build/release/proxy/popbridge
fi
if [ ! -x "$POPBRIDGE_BIN" ]; then
  echo "popbridge demo: no executable at $POPBRIDGE_BIN" >&2
  exit 1
fi

state=${POPBRIDGE_DEMO_DIR:-/tmp/popbridge-demo}
imap_port=${POPBRIDGE_DEMO_IMAP_PORT:-1143}
imaps_port=${POPBRIDGE_DEMO_IMAPS_PORT:-1993}
messages=${POPBRIDGE_DEMO_MESSAGES:-20}

# Each run starts from scratch: a fresh Dovecot has new UIDLs, so an old store would only confuse.
# Only a directory this script created (it carries the marker) is ever removed.
if [ -e "$state" ]; then
  if [ -f "$state/.popbridge-demo" ]; then
    rm -rf "$state"
  else
    echo "popbridge demo: $state exists and is not a demo directory; set POPBRIDGE_DEMO_DIR" >&2
    exit 1
  fi
fi
mkdir -p "$state"
touch "$state/.popbridge-demo"

dovecot_pid=""
popbridge_pid=""
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$popbridge_pid" ] && kill -0 "$popbridge_pid" 2>/dev/null; then
    kill -TERM "$popbridge_pid" 2>/dev/null || true
    wait "$popbridge_pid" 2>/dev/null || true
  fi
  if [ -n "$dovecot_pid" ] && kill -0 "$dovecot_pid" 2>/dev/null; then
    kill -TERM "$dovecot_pid" 2>/dev/null || true  # the helper stops its Dovecot, then exits
    wait "$dovecot_pid" 2>/dev/null || true
  fi
  echo "== popbridge demo: stopped (state kept in $state)" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== popbridge demo: starting a private Dovecot POP3 with $messages sample messages" >&2
python3 tests/integration/harness/demo.py dovecot --dir "$state" --messages "$messages" &
dovecot_pid=$!
for _ in $(seq 1 300); do
  [ -f "$state/dovecot.env" ] && break
  if ! kill -0 "$dovecot_pid" 2>/dev/null; then
    echo "popbridge demo: Dovecot did not start" >&2
    exit 1
  fi
  sleep 0.1
done
if [ ! -f "$state/dovecot.env" ]; then
  echo "popbridge demo: Dovecot did not become ready in 30s" >&2
  exit 1
fi
# shellcheck source=/dev/null
. "$state/dovecot.env"

password=$(openssl rand -base64 24 | tr -dc 'A-Za-z0-9' | cut -c1-16)
POPBRIDGE_DEMO_PASSWORD=$password python3 tests/integration/harness/demo.py config \
  --dir "$state" --bin "$POPBRIDGE_BIN" --imap-port "$imap_port" --imaps-port "$imaps_port" \
  --user alice >/dev/null
"$POPBRIDGE_BIN" check-config -c "$state/config.yaml" >&2
printf '%s\n' "$password" >"$state/imap-password"
chmod 600 "$state/imap-password"

ca=$state/imap-certs/ca.pem
cat <<EOF

  popbridge demo is running (Ctrl-C stops it)

  IMAP host      127.0.0.1 (certificate also valid for "localhost")
  STARTTLS port  $imap_port
  TLS port       $imaps_port
  user           alice
  password       $password
  CA certificate $ca   (the server certificate is signed by this throwaway CA)
  POP3 source    Dovecot on 127.0.0.1:$POP3S_PORT (POP3S), $POP_MESSAGES messages, polled every 10s
  config         $state/config.yaml

  List folders:      curl --cacert $ca --user 'alice:$password' imaps://localhost:$imaps_port/
  List INBOX:        curl --cacert $ca --user 'alice:$password' imaps://localhost:$imaps_port/INBOX -X 'FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])'
  Read message 1:    curl --cacert $ca --user 'alice:$password' 'imaps://localhost:$imaps_port/INBOX;MAILINDEX=1'
  STARTTLS instead:  curl --ssl-reqd --cacert $ca --user 'alice:$password' imap://localhost:$imap_port/ -X 'STATUS INBOX (MESSAGES)'

EOF

"$POPBRIDGE_BIN" serve -c "$state/config.yaml" &
popbridge_pid=$!
wait "$popbridge_pid"
