#!/usr/bin/env bash
# fuzz.sh: run every libFuzzer target in build/fuzz for FUZZ_SECONDS each,
# starting from its seed corpus in tests/fuzz/corpus/NAME (copied, never modified).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-$([[ "${CI:-}" == true ]] && echo 10 || echo 20)}
shopt -s nullglob
targets=(build/fuzz/tests/fuzz/fuzz_*)
if ((${#targets[@]} == 0)); then
  echo "fuzz: no fuzz targets built" >&2
  exit 1
fi
for target in "${targets[@]}"; do
  [[ -x "$target" ]] || continue
  name=$(basename "$target")
  work=$(mktemp -d)
  if [[ -d tests/fuzz/corpus/$name ]]; then cp -r "tests/fuzz/corpus/$name/." "$work/"; fi
  echo "fuzz: $name for ${seconds}s"
  if ! "$target" -max_total_time="$seconds" -print_final_stats=0 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="build/fuzz/$name-" "$work" >"build/fuzz/$name.log" 2>&1; then
    tail -n 40 "build/fuzz/$name.log" >&2
    echo "fuzz: $name found a crash; the input is in build/fuzz/$name-*" >&2
    rm -rf "$work"
    exit 1
  fi
  grep -E '^#[0-9]+.*DONE' "build/fuzz/$name.log" | tail -n 1 || true
  rm -rf "$work"
done
