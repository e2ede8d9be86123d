#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14) and runs each for SECONDS (default 60).
# Corpora grow in build/fuzz/corpus/<target>; a crash leaves its input in build/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
targets=(imap_command_fuzz pop3_reply_fuzz mime_fuzz mbox_fuzz sort_thread_fuzz deflate_fuzz
         casemap_fuzz transfer_decode_fuzz)
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target "${targets[@]}"
for target in "${targets[@]}"; do
  corpus=build/fuzz/corpus/$target
  mkdir -p "$corpus"
  echo "== popbridge: fuzz $target for ${seconds}s"
  (cd build/fuzz && "./tests/fuzz/$target" -max_total_time="$seconds" -print_final_stats=1 \
     -rss_limit_mb=2048 "corpus/$target" 2>&1 | tail -n 12)
done
