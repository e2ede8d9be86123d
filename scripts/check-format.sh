#!/usr/bin/env bash
# STYLE.md 9.1: every C++ file is as clang-format (.clang-format) leaves it.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
while IFS= read -r file; do
  if ! clang-format --dry-run --Werror "$file" >/dev/null 2>&1; then
    echo "not formatted (run clang-format -i): $file" >&2
    status=1
  fi
done < <(git ls-files '*.h' '*.cc' 2>/dev/null || find protocols store proxy tests bench -name '*.h' -o -name '*.cc')
exit $status
