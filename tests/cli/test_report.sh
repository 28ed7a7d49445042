#!/usr/bin/env bash
# CLI: spanlab report on the committed fixtures writes the four files; bad input fails
# with exit 1 and a message naming the file and the place; usage errors exit 2; the
# default output directory is the last results file's; `spanlab run` ends with the report.
set -u
spanlab=$1 source_dir=$2 scratch=$3
rm -rf "$scratch" && mkdir -p "$scratch"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
data=$source_dir/tests/data/report

"$spanlab" report "$data/run-5k-a.json" "$data/run-10k.json" "$data/run-5k-b.json" --out "$scratch/three" \
  >"$scratch/out.txt" 2>&1 || fail "report on the fixtures: $(cat "$scratch/out.txt")"
for f in summary.md detailed.md config-guide.md report.html; do
  [[ -s $scratch/three/$f ]] || fail "no $f"
done
grep -q "^## Regressions" "$scratch/three/summary.md" || fail "summary.md has no regressions section"
grep -q "| 3 | 1 | query/service/service/warm | latency_p95_ms | stream |" "$scratch/three/summary.md" \
  || fail "the planted regression (run 3, stream service P95) is not flagged"
grep -q "10,000 spans (run 2)" "$scratch/three/summary.md" || fail "no growth-with-scale column for 10,000 spans"

expect_fail() { # name expected-message-fragment file-content
  printf '%s' "$3" >"$scratch/$1.json"
  local err
  err=$("$spanlab" report "$scratch/$1.json" --out "$scratch/$1-out" 2>&1 >/dev/null); local rc=$?
  [[ $rc -eq 1 ]] || fail "$1: exit $rc, expected 1"
  grep -qF -- "$scratch/$1.json:$2" <<<"$err" || fail "$1: message '$err' lacks '$scratch/$1.json:$2'"
}
expect_fail invalid '2:6: invalid JSON' $'{"schema_version": 1,\n  oops}'
expect_fail version '1:20: $.schema_version: schema version 7' '{"schema_version": 7, "benchmarks": []}'
expect_fail entry '1:88: $.benchmarks[0].n: expected an integer, found a string' \
  '{"schema_version": 1, "benchmarks": [{"name": "a", "backend": "b", "metric": "m", "n": "two", "mean": 1}]}'
err=$("$spanlab" report "$scratch/absent.json" 2>&1); rc=$?
[[ $rc -eq 1 ]] && grep -qF "$scratch/absent.json: cannot open: No such file or directory" <<<"$err" \
  || fail "missing file: exit $rc, '$err'"

"$spanlab" report >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "no results file should be a usage error"
"$spanlab" report --bogus x.json >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "unknown option should be a usage error"
"$spanlab" report x.json --out >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "--out without a directory should be a usage error"
"$spanlab" report --help | grep -q "usage: spanlab report RESULTS.json" || fail "--help"

# Default output: beside the (last) results file.
mkdir -p "$scratch/beside" && cp "$data/run-5k-a.json" "$scratch/beside/results.json"
"$spanlab" report "$scratch/beside/results.json" >/dev/null 2>&1 || fail "report without --out"
[[ -s $scratch/beside/summary.md && -s $scratch/beside/report.html ]] || fail "default --out is not the results file's directory"

# `spanlab run` writes the report next to results.json.
"$spanlab" run --scale custom --spans 2000 --payload-bytes 300 --models sqlite --iterations 1 --writers 1,2 \
  --batch-sizes 10,100 --out "$scratch/run" --quiet >"$scratch/run.txt" 2>&1 || fail "spanlab run: $(tail -5 "$scratch/run.txt")"
for f in results.json summary.md detailed.md config-guide.md report.html; do
  [[ -s $scratch/run/$f ]] || fail "spanlab run left no $f"
done
grep -q "report: $scratch/run/summary.md" "$scratch/run.txt" || fail "spanlab run does not say where the report is"

# A FIFO given as results: an error, not a wait forever.
rm -f "$scratch/r-fifo"; mkfifo "$scratch/r-fifo"
err=$(timeout 20 "$spanlab" report "$scratch/r-fifo" --out "$scratch/r-fifo-out" 2>&1); rc=$?
[[ $rc -ne 0 && $rc -ne 124 ]] && grep -q "not a regular file" <<<"$err" || fail "report of a FIFO: $rc $err"

echo "$((failures == 0 ? 1 : 0)) passed, $failures failed"
exit $((failures > 0))
