#!/usr/bin/env bash
# CLI: spanlab schema check/show, --help on every command, and usage errors.
set -u
spanlab=$1 source_dir=$2 scratch=$3
rm -rf "$scratch" && mkdir -p "$scratch"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

out=$("$spanlab" schema check "$source_dir/schemas/stream-vs-trace" 2>&1); rc=$?
[[ $rc -eq 0 ]] || fail "schema check of the shipped set exited $rc: $out"
[[ $(grep -c '^step [1-7]/7 .*loaded and verified' <<<"$out") -eq 7 ]] || fail "expected 7 verified steps, got: $out"
grep -q 'all 7 steps loaded and verified' <<<"$out" || fail "no final line: $out"

# Default directory is the shipped set.
"$spanlab" schema check >/dev/null 2>&1 || fail "schema check with no DIR failed"

# A bad set: exit 1, every problem as FILE:LINE:COL: PATH: message on stderr.
cp "$source_dir"/schemas/stream-vs-trace/*.json "$scratch"/
sed -i 's/"shard_num": 2/"shard_num": 0/' "$scratch/group.json"
sed -i 's/"traceId"]/"traceIdX"]/' "$scratch/stream_index_rules.json"
err=$("$spanlab" schema check "$scratch" 2>&1 >/dev/null); rc=$?
[[ $rc -eq 1 ]] || fail "bad set exited $rc, expected 1"
grep -qE "^$scratch/group\.json:[0-9]+:[0-9]+: \\\$\[0\]\.resource_opts\.shard_num: shard_num must be at least 1" <<<"$err" || fail "no shard_num problem: $err"
grep -qE "^$scratch/stream_index_rules\.json:3:[0-9]+: \\\$\[1\]\.tags\[0\]: index rule tag \"traceIdX\"" <<<"$err" || fail "no rule tag problem: $err"
grep -q '4 problems' <<<"$err" || fail "problem count missing: $err"

# A set the loader accepts but the engines cannot store (too many tag families for the Stream
# engine, too many tags for the Trace engine): schema check said "all 7 steps loaded and verified"
# and only load refused it.
mkdir -p "$scratch/wide"
cp "$source_dir"/schemas/stream-vs-trace/*.json "$scratch/wide"/
python3 - "$scratch/wide" <<'PY'
import json, os, sys
d = sys.argv[1]
path = os.path.join(d, "stream_schema.json")
stream = json.load(open(path))
first = stream[0] if isinstance(stream, list) else stream
for i in range(60):
    first["tag_families"].append({"name": "extra%d" % i, "tags": [{"name": "x%d" % i, "type": "TAG_TYPE_INT"}]})
json.dump(stream, open(path, "w"), indent=1)
path = os.path.join(d, "trace_schema.json")
trace = json.load(open(path))
first = trace[0] if isinstance(trace, list) else trace
for i in range(60):
    first["tags"].append({"name": "y%d" % i, "type": "TAG_TYPE_INT"})
json.dump(trace, open(path, "w"), indent=1)
PY
out=$("$spanlab" schema check "$scratch/wide" 2>"$scratch/wide.err"); rc=$?
err=$(cat "$scratch/wide.err")
[[ $rc -eq 1 ]] || fail "a set too wide for the engines: exit $rc, expected 1: $out $err"
grep -q "wide: stream stream_performance_test/segment_stream: the Stream engine cannot store it: stream segment_stream: more than [0-9]* tag families" <<<"$err" \
  || fail "no tag-family problem: $err"
grep -q "wide: trace trace_performance_test/segment_trace: the Trace engine cannot store it: trace segment_trace: more than [0-9]* tags" <<<"$err" \
  || fail "no trace tag problem: $err"
grep -q "all 7 steps loaded, but 2 subjects do not fit the engines" <<<"$err" || fail "no summary: $err"
! grep -q "all 7 steps loaded and verified" <<<"$out" || fail "a set too wide said verified: $out"
out=$("$spanlab" schema check "$source_dir/schemas/stream-vs-trace" 2>&1)
grep -q "^engines: 1 stream and 1 trace fit the embedded engines' limits" <<<"$out" || fail "no engines line: $out"

# Not a directory.
"$spanlab" schema check "$scratch/nope" >/dev/null 2>&1; rc=$?
[[ $rc -eq 1 ]] || fail "missing dir exited $rc"

out=$("$spanlab" schema show "$source_dir/schemas/stream-vs-trace"); rc=$?
[[ $rc -eq 0 ]] || fail "schema show exited $rc"
for want in 'stream_performance_test (CATALOG_STREAM)' 'segment interval  1 day' 'ttl               7 days' \
            'entity: serviceId + serviceInstanceId' 'dataBinary           TAG_TYPE_DATA_BINARY' \
            'trace id tag: traceId, timestamp tag: startTime' \
            'trace_performance_test/time_based_index TYPE_INVERTED [serviceId, serviceInstanceId, startTime] bound to trace_performance_test/segment_trace' \
            'binding segment_stream_binding: valid 2024-01-01T00:00:00Z .. 2030-01-01T00:00:00Z'; do
  grep -qF -- "$want" <<<"$out" || fail "schema show lacks: $want"
done

# Usage errors exit 2; --help exits 0 for every command.
"$spanlab" schema frobnicate >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "unknown schema verb did not exit 2"
"$spanlab" no-such-command >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "unknown command did not exit 2"
"$spanlab" >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "no command did not exit 2"
for cmd in run schema generate load query bench report inspect; do
  help=$("$spanlab" "$cmd" --help 2>&1); rc=$?
  [[ $rc -eq 0 ]] || fail "$cmd --help exited $rc"
  grep -q "usage: spanlab $cmd" <<<"$help" || fail "$cmd --help has no usage line"
done
"$spanlab" --help | grep -q 'usage: spanlab COMMAND' || fail "top-level --help"

# A tag name with a control character names a file (TAG.t) no store makes: refused where it is
# written, with its position; it was reported only as 'part layout: file name "a<U+0001>b.t" is not
# usable', with the raw byte and no file, line or path.
mkdir -p "$scratch/ctrl" && cp "$source_dir"/schemas/stream-vs-trace/*.json "$scratch/ctrl/"
python3 - "$scratch/ctrl/trace_schema.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
t["tags"].append({"name": "a\u0001b", "type": "TAG_TYPE_STRING"})
json.dump(t, open(sys.argv[1], "w"))
PY
err=$("$spanlab" schema check "$scratch/ctrl" 2>&1); rc=$?
[[ $rc -eq 1 ]] && grep -q 'trace_schema.json:1:[0-9]*: \$.tags\[11\].name: .*control character' <<<"$err" \
  || fail "a tag name with a control character: $rc $err"

echo "$((failures == 0 ? 1 : 0)) passed, $failures failed"
exit $((failures > 0))
