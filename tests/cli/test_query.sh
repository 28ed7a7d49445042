#!/usr/bin/env bash
# CLI: spanlab query prints BanyanDB's QueryResponse from a Stream-engine store
# (the answer equals the reference evaluator's, checked through a second path:
# the same query over the loaded NDJSON in Python); bad queries name the
# problem with FILE:LINE:COL and the JSON path; spanlab inspect breaks the
# store down and its figures add up to the files on disk.
set -u
spanlab=$1 source_dir=$2 scratch=$3
rm -rf "$scratch" && mkdir -p "$scratch"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

"$spanlab" generate --scale small --spans 3000 --payload-bytes 300 --format ndjson --out "$scratch/s.ndjson" --quiet >/dev/null \
  || fail "generate"
"$spanlab" load --model stream --data "$scratch/store" --input "$scratch/s.ndjson" --quiet >/dev/null 2>&1 || fail "load"

# Errors of the slowest five spans of the first service, newest first by latency.
service=$(python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).readline())['serviceId'])" "$scratch/s.ndjson")
cat >"$scratch/q.json" <<JSON
{"groups": ["stream_performance_test"], "name": "segment_stream",
 "timeRange": {"begin": "2024-12-31T00:00:00Z", "end": "2025-01-02T00:00:00Z"},
 "criteria": {"condition": {"name": "serviceId", "op": "BINARY_OP_EQ", "value": {"str": {"value": "$service"}}}},
 "orderBy": {"indexRuleName": "latency_index", "sort": "SORT_DESC"},
 "limit": 5,
 "projection": {"tagFamilies": [{"name": "primary", "tags": ["traceId", "spanId", "latency"]}]}}
JSON
"$spanlab" query --model stream --data "$scratch/store" "$scratch/q.json" >"$scratch/out.json" 2>"$scratch/err.txt" \
  || fail "query: $(cat "$scratch/err.txt")"
python3 - "$scratch/out.json" "$scratch/s.ndjson" "$service" <<'PY' || fail "response does not match the data"
import json, sys
out = json.load(open(sys.argv[1]))
rows = [json.loads(l) for l in open(sys.argv[2])]
want = sorted((r["latency"] for r in rows if r["serviceId"] == sys.argv[3]), reverse=True)[:5]
elements = out["elements"]
assert len(elements) == 5, out
got = []
for e in elements:
    tags = {t["key"]: t["value"] for f in e["tagFamilies"] for t in f["tags"]}
    got.append(int(tags["latency"]["int"]["value"]))
    assert len(e["elementId"]) == 16 and "timestamp" in e
assert got == want, (got, want)
PY

# Bad queries: what, where and why.
check_error() { # name, expected text, query text
  printf '%s' "$3" >"$scratch/bad.json"
  err=$("$spanlab" query --model stream --data "$scratch/store" "$scratch/bad.json" 2>&1 >/dev/null); rc=$?
  [[ $rc -eq 1 ]] || fail "$1: exit $rc"
  grep -q "bad.json:" <<<"$err" || fail "$1: no file position: $err"
  grep -qi "$2" <<<"$err" || fail "$1: expected \"$2\": $err"
}
base='"groups":["stream_performance_test"],"name":"segment_stream","timeRange":{"begin":"2025-01-01T00:00:00Z","end":"2025-01-02T00:00:00Z"}'
check_error "malformed" "" '{"groups": ["stream_performance_test"], "name": '
check_error "unknown tag" "nosuch" "{$base,\"criteria\":{\"condition\":{\"name\":\"nosuch\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"x\"}}}}}"
check_error "wrong type" "latency" "{$base,\"criteria\":{\"condition\":{\"name\":\"latency\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"slow\"}}}}}"
check_error "unbound rule" "time_based_index" "{$base,\"orderBy\":{\"indexRuleName\":\"time_based_index\",\"sort\":\"SORT_DESC\"}}"
check_error "entity op" "serviceId" "{$base,\"criteria\":{\"condition\":{\"name\":\"serviceId\",\"op\":\"BINARY_OP_NE\",\"value\":{\"str\":{\"value\":\"x\"}}}}}"

# A field BanyanDB's QueryRequest lacks is ignored (as BanyanDB's HTTP API ignores it), with a
# warning that names it and its place; the answer is the one without it.
sed 's/"limit": 5,/"limit": 5, "limitt": 2,/' "$scratch/q.json" >"$scratch/typo.json"
"$spanlab" query --model stream --data "$scratch/store" "$scratch/typo.json" >"$scratch/typo-out.json" 2>"$scratch/err.txt" \
  || fail "query with an unknown field: $(cat "$scratch/err.txt")"
grep -q 'typo.json:5:[0-9]*: \$.limitt: unknown field, ignored' "$scratch/err.txt" || fail "no warning for limitt: $(cat "$scratch/err.txt")"
cmp -s "$scratch/out.json" "$scratch/typo-out.json" || fail "an ignored field changed the answer"

# No store, wrong model.
"$spanlab" query --model stream --data "$scratch/nothing" "$scratch/q.json" >/dev/null 2>"$scratch/err.txt"; rc=$?
[[ $rc -eq 1 ]] && grep -q "holds no store" "$scratch/err.txt" || fail "missing store: $rc $(cat "$scratch/err.txt")"
"$spanlab" query --model sqlite --data "$scratch/store" "$scratch/q.json" >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "query --model sqlite is a usage error"
"$spanlab" query --data "$scratch/store" >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "missing --model is a usage error"

# inspect: per tag and per file kind, adding up to the part files on disk.
"$spanlab" inspect --data "$scratch/store" >"$scratch/inspect.txt" 2>&1 || fail "inspect: $(cat "$scratch/inspect.txt")"
grep -q "dataBinary" "$scratch/inspect.txt" && grep -q "by file kind" "$scratch/inspect.txt" || fail "inspect output: $(head -5 "$scratch/inspect.txt")"
"$spanlab" inspect --data "$scratch/store" --json >"$scratch/inspect.json" 2>/dev/null || fail "inspect --json"
# inspect of an SQLite store, or of no store, says which (it printed "store.json:-1:-1: unable to open").
"$spanlab" load --model sqlite --data "$scratch/sqlite-store" --input "$scratch/s.ndjson" --quiet >/dev/null 2>&1 || fail "load sqlite"
err=$("$spanlab" inspect --data "$scratch/sqlite-store" 2>&1); rc=$?
[[ $rc -eq 1 ]] && grep -q "sqlite-store holds the SQLite baseline's store" <<<"$err" || fail "inspect of an SQLite store: $rc $err"
err=$("$spanlab" query --model stream --data "$scratch/sqlite-store" "$scratch/q.json" 2>&1); rc=$?
[[ $rc -eq 1 ]] && grep -q "sqlite-store holds the SQLite baseline's store" <<<"$err" || fail "query of an SQLite store: $rc $err"
err=$("$spanlab" inspect --data "$scratch/no-such-store" 2>&1); rc=$?
[[ $rc -eq 1 ]] && grep -q "no-such-store: No such file or directory" <<<"$err" || fail "inspect of no store: $rc $err"
python3 - "$scratch/inspect.json" "$scratch/store" <<'PY' || fail "inspect figures do not add up to the files on disk"
import json, os, sys
r = json.load(open(sys.argv[1]))
parts = 0
for root, dirs, files in os.walk(sys.argv[2]):
    if "/parts/" in root + "/":
        parts += sum(os.path.getsize(os.path.join(root, f)) for f in files)
kinds = r["by_file_kind"]
counted = kinds["data"] + kinds["index"] + kinds["bloom"] + kinds["metadata"]
assert counted == parts, (counted, parts)
assert r["rows"] == 3000, r["rows"]
tags = r["by_tag"]
assert sum(t["stored_bytes"] for t in tags.values()) <= kinds["data"], "columns exceed the data files"
assert tags["dataBinary"]["raw_bytes"] > 0 and tags["dataBinary"]["stored_bytes"] < tags["dataBinary"]["raw_bytes"]
PY
"$spanlab" inspect --data "$scratch/nothing" >/dev/null 2>&1; [[ $? -eq 1 ]] || fail "inspect of no store"

# A limit or offset near 2^32 is an ordinary query: every match, or none (the stream engine sized a
# set by offset + limit and failed with "out of memory").
for case in "limit 4294967295 3000" "offset 2147483647 0"; do
  set -- $case
  printf '{%s,"%s":%s,"projection":{"tagFamilies":[{"name":"primary","tags":["latency"]}]}}' \
    '"groups":["stream_performance_test"],"name":"segment_stream","timeRange":{"begin":"2024-12-31T00:00:00Z","end":"2025-01-02T00:00:00Z"}' \
    "$1" "$2" >"$scratch/big.json"
  got=$("$spanlab" query --model stream --data "$scratch/store" "$scratch/big.json" 2>&1 | python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("elements", [])))' 2>&1)
  [[ "$got" == "$3" ]] || fail "$1 $2: $got elements, expected $3"
done

# The projection is normalised as BanyanDB's projectionBuilder does: one entry per family, in the
# order first named, each tag once, families without tags dropped.
printf '{%s,"limit":1,"projection":{"tagFamilies":[{"name":"primary","tags":["latency","latency"]},{"name":"primary","tags":["isError","latency"]},{"name":"data_binary","tags":[]}]}}' \
  '"groups":["stream_performance_test"],"name":"segment_stream","timeRange":{"begin":"2024-12-31T00:00:00Z","end":"2025-01-02T00:00:00Z"}' \
  >"$scratch/proj.json"
got=$("$spanlab" query --model stream --data "$scratch/store" "$scratch/proj.json" 2>&1 \
  | python3 -c 'import json,sys; e=json.load(sys.stdin)["elements"][0]; print(";".join(f["name"] + ":" + ",".join(t["key"] for t in f["tags"]) for f in e["tagFamilies"]))' 2>&1)
[[ "$got" == "primary:latency,isError" ]] || fail "duplicate projection: $got"

# A query "file" that is a directory or a FIFO: an error, not a JSON parse error or a wait forever.
mkdir -p "$scratch/a-dir"; rm -f "$scratch/a-fifo"; mkfifo "$scratch/a-fifo"
for file in "$scratch/a-dir" "$scratch/a-fifo"; do
  err=$(timeout 20 "$spanlab" query --model stream --data "$scratch/store" "$file" 2>&1); rc=$?
  [[ $rc -eq 1 ]] && grep -q "not a regular file" <<<"$err" || fail "query file $file: $rc $err"
done

# A trace answer names each trace's id whether or not the trace-id tag is projected (BanyanDB's
# Trace.trace_id is always set), and its spans are the trace's; a tag projected twice comes once.
"$spanlab" load --model trace --data "$scratch/trace-store" --input "$scratch/s.ndjson" --quiet >/dev/null 2>&1 || fail "load trace"
cat >"$scratch/tq.json" <<JSON
{"groups": ["trace_performance_test"], "name": "segment_trace",
 "timeRange": {"begin": "2024-12-31T00:00:00Z", "end": "2025-01-02T00:00:00Z"},
 "orderBy": {"indexRuleName": "latency_based_index", "sort": "SORT_DESC"}, "limit": 3, "tagProjection": ["latency", "latency"]}
JSON
# A store of the other model says which it is (it said "model differs from what the catalog says now").
err=$("$spanlab" query --model stream --data "$scratch/trace-store" "$scratch/q.json" 2>&1); rc=$?
[[ $rc -ne 0 ]] && grep -q "trace-store holds a trace store, not a stream one: open it with --model trace" <<<"$err" \
  || fail "the other model's store: $rc $err"
"$spanlab" query --model trace --data "$scratch/trace-store" "$scratch/tq.json" >"$scratch/tout.json" 2>"$scratch/err.txt" \
  || fail "trace query: $(cat "$scratch/err.txt")"
python3 - "$scratch/tout.json" "$scratch/s.ndjson" <<'PY' || fail "trace response without trace ids, or with spans of another trace"
import collections, json, sys
out = json.load(open(sys.argv[1]))
latencies = collections.defaultdict(list)
for line in open(sys.argv[2]):
    row = json.loads(line)
    latencies[row["traceId"]].append(row["latency"])
traces = out["traces"]
assert len(traces) == 3, out
for trace in traces:
    assert trace.get("traceId") in latencies, trace.get("traceId")
    got = sorted(int(t["value"]["int"]["value"]) for s in trace["spans"] for t in s["tags"])
    assert got == sorted(latencies[trace["traceId"]]), (trace["traceId"], got)
PY

echo "$((failures == 0 ? 1 : 0)) passed, $failures failed"
exit $((failures > 0))
