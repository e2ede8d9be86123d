#!/usr/bin/env bash
# popbridge's test command (README, .ci/run): installs what is missing, builds the release and
# the ASan+UBSan presets, and runs the whole suite (unit + integration with a private Dovecot)
# under both. Long mode (more kill trials): POPBRIDGE_LONG_TESTS=1 bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
bash scripts/check-layers.sh
bash scripts/check-format.sh

jobs=$(nproc)
presets=${POPBRIDGE_PRESETS:-"release asan"}
start=$(date +%s)
for preset in $presets; do
  echo "== popbridge: build ($preset)"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  echo "== popbridge: test ($preset)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --preset "$preset" -j "$jobs" --timeout 900
done
if [ -x scripts/fuzz.sh ]; then
  bash scripts/fuzz.sh "${POPBRIDGE_FUZZ_SECONDS:-20}"
fi
echo "== popbridge: all tests passed in $(( $(date +%s) - start ))s"
