#!/usr/bin/env bash
# CLI: spanlab generate (both formats, manifest, --stats, protoc decoding, errors).
set -u
spanlab=$1 source_dir=$2 scratch=$3
rm -rf "$scratch" && mkdir -p "$scratch"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

out=$("$spanlab" generate --scale small --spans 3000 --payload-bytes 600 --format bin --out "$scratch/a.bin" --threads 1 --quiet) \
  || fail "generate bin failed: $out"
grep -q '3000 spans in' <<<"$out" || fail "summary line missing: $out"
"$spanlab" generate --scale small --spans 3000 --payload-bytes 600 --format bin --out "$scratch/b.bin" --threads 2 --quiet >/dev/null \
  || fail "generate with 2 threads failed"
cmp -s "$scratch/a.bin" "$scratch/b.bin" || fail "1 and 2 threads gave different files"
[[ -f "$scratch/a.bin.manifest.json" ]] || fail "no manifest"
python3 - "$scratch/a.bin.manifest.json" <<'PY' || fail "manifest content"
import json, sys
m = json.load(open(sys.argv[1]))
assert m["spans"] == 3000, m
assert m["profile"]["seed"] == 42 and m["profile"]["scale"] == "custom"
assert len(m["span_checksum"]) == 16
assert m["spans_by_class"]["simple"] + m["spans_by_class"]["medium"] + m["spans_by_class"]["complex"] == 3000
PY

"$spanlab" generate --scale small --spans 3000 --payload-bytes 600 --format ndjson --out "$scratch/a.ndjson" --quiet >/dev/null \
  || fail "generate ndjson failed"
[[ $(wc -l <"$scratch/a.ndjson") -eq 3000 ]] || fail "ndjson should have 3000 lines"
python3 - "$scratch/a.ndjson" "$scratch/one.pb" <<'PY' || fail "ndjson keys"
import json, sys, base64
keys = ["serviceId","serviceInstanceId","traceId","startTime","latency","isError","spanId","parentSpanId","operationName","component","dataBinary"]
with open(sys.argv[1]) as f:
    for n, line in enumerate(f):
        o = json.loads(line)
        assert list(o.keys()) == keys, o.keys()
        assert isinstance(o["startTime"], int) and isinstance(o["latency"], int)
        if n == 7:
            open(sys.argv[2], "wb").write(base64.b64decode(o["dataBinary"]))
PY
if command -v protoc >/dev/null; then
  decoded=$(protoc --decode skywalking.v3.SegmentObject --proto_path="$source_dir/src/gen" \
            "$source_dir/src/gen/skywalking.proto" <"$scratch/one.pb") || fail "protoc could not decode a dataBinary"
  grep -q '^traceId: ' <<<"$decoded" || fail "decoded SegmentObject has no traceId"
  grep -q 'operationName: ' <<<"$decoded" || fail "decoded span has no operationName"
fi
same=$(grep -h '"span_checksum":' "$scratch/a.bin.manifest.json" "$scratch/a.ndjson.manifest.json" | sort -u | wc -l)
[[ $same -eq 1 ]] || fail "bin and ndjson manifests have different span checksums"

stats=$("$spanlab" generate --stats "$scratch/a.ndjson") || fail "stats failed"
for want in 'spans                 3000' 'simple (1-5)' 'top 20% start' 'error rate' 'Zipf exponent' 'latency ms' 'dataBinary bytes' 'minutes covered'; do
  grep -qF -- "$want" <<<"$stats" || fail "stats lacks: $want"
done

head -c 5000 "$scratch/a.bin" >"$scratch/cut.bin"
err=$("$spanlab" generate --stats "$scratch/cut.bin" 2>&1); rc=$?
[[ $rc -eq 1 ]] || fail "truncated file exit $rc"
grep -q "cut.bin: record [0-9]* at byte offset [0-9]*: truncated" <<<"$err" || fail "truncated error: $err"

"$spanlab" generate --scale galactic --format bin --out "$scratch/x" >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "bad scale exit"
"$spanlab" generate --scale small --format csv --out "$scratch/x" >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "bad format exit"
"$spanlab" generate --scale small --format bin >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "missing --out exit"
"$spanlab" generate --scale small --spans 10 --instances 5 --format bin --out "$scratch/x" >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "invalid profile exit"

# A write that fails half way (a file size limit stands in for a full disk): an error naming the
# file, and neither the cut file nor a manifest left behind to be taken for a whole one. No trap in the
# shell: spanlab itself must not die of SIGXFSZ.
err=$( (ulimit -f 200; "$spanlab" generate --scale small --spans 5000 --format bin --out "$scratch/cut-short.bin" --quiet) 2>&1 ); rc=$?
[[ $rc -eq 1 ]] && grep -q "cut-short.bin: cannot write" <<<"$err" || fail "a failed write: $rc $err"
[[ ! -e "$scratch/cut-short.bin" && ! -e "$scratch/cut-short.bin.manifest.json" ]] || fail "a failed write left its file behind"
# A failed write never removes what the run did not create as a regular file (it unlinked a symlink
# to /dev/full, and /dev/full itself).
ln -sf /dev/full "$scratch/to-full.bin"
err=$("$spanlab" generate --scale small --spans 50 --format bin --out "$scratch/to-full.bin" --quiet 2>&1); rc=$?
[[ $rc -eq 1 && -L "$scratch/to-full.bin" ]] || fail "a failed write to a symlink: $rc $err; $(ls -la "$scratch/to-full.bin" 2>&1)"
rm -f "$scratch/to-full.bin"

# --stats on a file whose startTime is the largest int64 (its nanoseconds overflowed, which the
# sanitizer build stops on): the start is printed in ms.
head -n 5 "$scratch/a.ndjson" | python3 -c '
import json, sys
rows = [json.loads(line) for line in sys.stdin]
for r in rows: r["startTime"] = 9223372036854775807
print("\n".join(json.dumps(r) for r in rows))' >"$scratch/huge.ndjson"
out=$("$spanlab" generate --stats "$scratch/huge.ndjson" 2>&1) || fail "stats of a huge startTime: $out"
grep -q "trace starts .*9223372036854775807 ms" <<<"$out" || fail "stats of a huge startTime: $out"

# An option given twice is refused, naming it (it took the last value without a word).
err=$("$spanlab" generate --scale small --spans 10 --format bin --spans 20 --out "$scratch/twice.bin" 2>&1); rc=$?
[[ $rc -eq 2 ]] && grep -q -- "--spans is given twice" <<<"$err" || fail "a repeated option: $rc $err"
[[ ! -e "$scratch/twice.bin" ]] || fail "a repeated option still generated"
err=$("$spanlab" load --model trace --model stream --data "$scratch/s" --input "$scratch/a.bin" 2>&1); rc=$?
[[ $rc -eq 2 ]] && grep -q -- "--model is given twice" <<<"$err" || fail "a repeated load option: $rc $err"
[[ ! -e "$scratch/s" ]] || fail "a repeated load option still made a store"
# A value that looks like an option is a value: --focus takes a regular expression.
err=$("$spanlab" bench --scale custom --spans 10 --focus --x --focus --y 2>&1); rc=$?
[[ $rc -eq 2 ]] && grep -q -- "--focus is given twice" <<<"$err" || fail "a repeated --focus: $rc $err"

# Start times a store cannot take (before 1970-01-01T00:00:00.001Z or past INT64_MAX ns, in 2262)
# are refused before anything is written: --time-range 99999999999d and --start 1969-01-01 wrote
# files, exit 0, that every load then refused at record 1.
for bad in "--time-range 99999999999d" "--start 1969-01-01T00:00:00Z" "--start 1970-01-01T00:00:00Z" \
           "--start 2262-04-11T23:00:00Z --time-range 1h"; do
  rm -f "$scratch/range.bin"
  # shellcheck disable=SC2086
  err=$("$spanlab" generate --scale small --spans 100 $bad --format bin --out "$scratch/range.bin" --quiet 2>&1); rc=$?
  [[ $rc -eq 2 ]] && grep -q "start times" <<<"$err" && [[ ! -e "$scratch/range.bin" ]] \
    || fail "generate $bad: $rc $err"
done
"$spanlab" generate --scale small --spans 100 --start 2262-04-10T00:00:00Z --time-range 1h --format bin \
  --out "$scratch/late.bin" --quiet >/dev/null 2>&1 || fail "generate a day before the end of int64 ns"

echo "$((failures == 0 ? 1 : 0)) passed, $failures failed"
exit $((failures > 0))
