#!/usr/bin/env bash
# CLI: spanlab load reads both span file formats into the SQLite baseline and
# checks the store against the manifest; bad input is a clear error.
set -u
spanlab=$1 source_dir=$2 scratch=$3
rm -rf "$scratch" && mkdir -p "$scratch"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

for format in ndjson bin; do
  "$spanlab" generate --scale small --spans 2500 --payload-bytes 400 --format $format --out "$scratch/s.$format" --quiet >/dev/null \
    || fail "generate $format"
  out=$("$spanlab" load --model sqlite --data "$scratch/store-$format" --input "$scratch/s.$format" --quiet 2>&1) \
    || fail "load $format: $out"
  grep -q "2500 spans from" <<<"$out" || fail "load $format summary: $out"
  grep -q "the store matches the manifest: 2500 spans" <<<"$out" || fail "load $format not checked against the manifest: $out"
done

# The Trace engine: the same spans, the same manifest check.
out=$("$spanlab" load --model trace --data "$scratch/store-trace" --input "$scratch/s.bin" --quiet 2>&1) \
  || fail "load into the Trace engine: $out"
grep -q "the store matches the manifest: 2500 spans" <<<"$out" || fail "trace load not checked against the manifest: $out"
[[ -f "$scratch/store-trace/store.json" ]] && grep -q '"model": "trace"' "$scratch/store-trace/store.json" \
  || fail "the trace store has no store.json of model trace"

# A damaged file: error names the file and the record; acknowledged spans are reported.
head -c 300000 "$scratch/s.bin" >"$scratch/cut.bin"
err=$("$spanlab" load --model sqlite --data "$scratch/store-cut" --input "$scratch/cut.bin" --quiet 2>&1); rc=$?
[[ $rc -eq 1 ]] || fail "truncated input exit $rc"
grep -q "cut.bin: record [0-9]* at byte offset [0-9]*: truncated" <<<"$err" || fail "truncated input message: $err"

"$spanlab" load --model sqlite --data "$scratch/x" --input "$scratch/none.bin" >/dev/null 2>&1; [[ $? -eq 1 ]] || fail "missing input"
"$spanlab" load --model sqlite --input "$scratch/s.bin" >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "missing --data"
"$spanlab" load --model stream --data "$scratch/x" --input "$scratch/s.bin" 2>&1 | grep -q "issue #4" || fail "stream load should point at issue #4"

echo "$((failures == 0 ? 1 : 0)) passed, $failures failed"
exit $((failures > 0))
