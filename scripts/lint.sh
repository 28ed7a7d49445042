#!/usr/bin/env bash
# lint.sh: clang-tidy (checks in .clang-tidy) over every .c file of src/ and tools/,
# using the release build's compile_commands.json. Any warning fails.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f build/release/compile_commands.json ]] || ./scripts/setup.sh release
mapfile -t files < <(git ls-files 'src/*.c' 'tools/*.c' 2>/dev/null || find src tools -name '*.c')
((${#files[@]})) || exit 0
out=$(mktemp)
printf '%s\n' "${files[@]}" | xargs -P 2 -n 8 clang-tidy -p build/release --quiet >"$out" 2>/dev/null || true
if grep -E 'warning:|error:' "$out" >/dev/null; then
  cat "$out"
  echo "lint: clang-tidy found problems" >&2
  rm -f "$out"
  exit 1
fi
rm -f "$out"
echo "lint: clang-tidy clean over ${#files[@]} files"
