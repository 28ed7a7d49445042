#!/usr/bin/env bash
# test.sh: the whole suite, as `make test` and CI run it.
#   0. test-only packages (chromium for the report's browser test)
#   1. release build + ctest
#   2. ASan + UBSan build + ctest
#   3. every libFuzzer target for a short time (FUZZ_SECONDS, default 20; 10 under CI)
#   4. clang-tidy over src/ and tools/
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh test-deps   # chromium for the report's browser test
./scripts/setup.sh release
echo "== release: ctest"
ctest --test-dir build/release --output-on-failure -j 2

./scripts/setup.sh asan
echo "== asan+ubsan: ctest"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan --output-on-failure -j 2

./scripts/setup.sh fuzz
echo "== fuzz"
./scripts/fuzz.sh

echo "== lint"
./scripts/lint.sh
echo "== all checks passed"
