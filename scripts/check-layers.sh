#!/usr/bin/env bash
# Layer fences (STYLE.md 1.5): libuv only in proxy/, BoringSSL only in proxy/tls/,
# SQLite only in store/, and protocols/ free of any I/O header.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
fence() { # what dir-glob pattern
  local hits
  hits=$(grep -rlE "$3" $2 --include='*.h' --include='*.cc' 2>/dev/null || true)
  if [ -n "$hits" ]; then
    echo "layer violation: $1:" $hits >&2
    status=1
  fi
}
fence "libuv outside proxy/" "protocols store" '#include *[<"]uv\.h'
fence "BoringSSL outside proxy/tls/" "protocols store proxy/core proxy/config proxy/auth proxy/cli proxy/archive proxy/imap proxy/pop proxy/server proxy/main.cc" '#include *[<"]openssl/'
fence "SQLite outside store/" "protocols proxy" '#include *[<"]sqlite3\.h'
fence "I/O in protocols/" "protocols" '#include *[<"](sys/socket\.h|fcntl\.h|unistd\.h|fstream|thread|chrono)[>"]'
exit $status
