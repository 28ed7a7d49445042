#!/usr/bin/env bash
# CLI: spanlab bench end to end on a tiny custom scale; results.json has the
# documented shape (docs/RESULTS.md), consistency holds, an interrupted run
# leaves a valid partial file, and bad options are usage errors.
set -u
spanlab=$1 source_dir=$2 scratch=$3
rm -rf "$scratch" && mkdir -p "$scratch"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

"$spanlab" bench --scale custom --spans 3000 --payload-bytes 500 --models stream,trace,sqlite --iterations 2 \
  --writers 1,3 --batch-sizes 10,500 --out "$scratch/run" --quiet 2>"$scratch/err.txt" \
  || fail "bench failed: $(cat "$scratch/err.txt")"
"$spanlab" generate --scale custom --spans 3000 --payload-bytes 500 --format bin --out "$scratch/same.bin" --quiet >/dev/null \
  || fail "generate the bench's data set"
python3 - "$scratch/run/results.json" "$scratch/same.bin.manifest.json" <<'PY' || fail "results.json shape"
import json, sys
r = json.load(open(sys.argv[1]))
# "dataset" says what was generated, as the generator's manifest of the same profile does (it was {}).
m, d = json.load(open(sys.argv[2])), r["dataset"]
for key in ["spans", "traces", "traces_by_class", "data_binary_bytes"]:
    assert d.get(key) == m[key], (key, d.get(key), m[key])
assert d["checksum"] == m["span_checksum"], (d, m["span_checksum"])
assert d["raw_bytes"] > d["data_binary_bytes"] and d["time_range"]["begin"].startswith("2025-01-01T00:"), d
assert r["schema_version"] == 1 and r["complete"] is True, r.get("complete")
for key in ["cpu_model", "cores", "memory_bytes", "kernel", "compiler", "libraries", "git_commit"]:
    assert key in r["environment"], key
p = r["parameters"]
assert p["spans"] == 3000 and p["iterations"] == 2 and p["writers"] == [1, 3] and p["scale"] == "custom"
# Each iteration starts with the next backend, and the loads ran in the order recorded.
assert p["model_order"] == [["stream", "trace", "sqlite"], ["trace", "sqlite", "stream"]], p["model_order"]
loads = [(d["iteration"], d["backend"]) for d in r["details"] if d["name"] == "write/sequential"]
assert loads == [(i, m) for i, order in enumerate(p["model_order"]) for m in order], loads
# Each load waited for its store's background removals, outside the measured time, and none failed.
for d in r["details"]:
    if d["name"] == "write/sequential":
        assert d["figures"]["settle_seconds"] >= 0 and "settle_warning" not in d["figures"], d
names = {(b["name"], b["backend"], b.get("metric")) for b in r["benchmarks"]}
for bench in ["write/sequential", "write/writers=1", "write/writers=3", "write/batch=10", "write/batch=500"]:
    assert (bench, "sqlite", "spans_per_second") in names, bench
    assert (bench, "stream", "spans_per_second") in names, bench
    assert (bench, "trace", "spans_per_second") in names, bench
    entry = next(b for b in r["benchmarks"] if b["name"] == bench and b["backend"] == "sqlite" and b["metric"] == "spans_per_second")
    assert len(entry["values"]) == 2 and entry["n"] == 2 and len(entry["ci95"]) == 2, entry
    assert entry["ci95"][0] <= entry["mean"] <= entry["ci95"][1]
unsupported = [b for b in r["benchmarks"] if b.get("unsupported")]
assert not any("issue #" in b["reason"] for b in unsupported), [b for b in unsupported if "issue #" in b["reason"]]
assert not any(b["backend"] in ("stream", "trace") and b["name"].startswith("write/") for b in unsupported)
# The Trace engine answers the trace-model queries (checked against the oracle), not the stream ones.
trace_queries = {b["name"] for b in r["benchmarks"] if b["backend"] == "trace" and b["name"].startswith("query/")
                 and not b.get("unsupported")}
assert any(n.startswith("query/trace-model/by-id/") for n in trace_queries), trace_queries
assert any(n.startswith("query/trace-model/latency/") for n in trace_queries), trace_queries
assert not any(n.startswith("query/time/") for n in trace_queries), trace_queries
assert {s["backend"] for s in r["consistency"]["stores"]} == {"stream", "trace", "sqlite"}
stores = r["consistency"]["stores"]
assert len(stores) == 6 and all(s["matches_manifest"] and s["spans_stored"] == 3000 for s in stores), stores
assert r["consistency"]["mismatches"] == 0
PY

# --sync off: the engines keep no WAL (BanyanDB's behaviour) and still hold exactly the spans; the
# same run with --sync batch writes WAL records (so the option is what changed it).
for sync in off batch; do
  "$spanlab" bench --scale custom --spans 3000 --payload-bytes 500 --models stream,trace,sqlite --iterations 1 \
    --label write,storage,consistency --focus '^(write/sequential|storage)' --sync "$sync" --keep \
    --out "$scratch/sync-$sync" --quiet 2>"$scratch/err.txt" || fail "bench --sync $sync failed: $(cat "$scratch/err.txt")"
done
python3 - "$scratch/sync-off" "$scratch/sync-batch" <<'PY' || fail "--sync off"
import json, os, sys
for run, sync in zip(sys.argv[1:], ["off", "batch"]):
    r = json.load(open(run + "/results.json"))
    assert r["parameters"]["sync_mode"] == sync, r["parameters"]["sync_mode"]
    stores = r["consistency"]["stores"]
    assert len(stores) == 3 and all(s["matches_manifest"] for s in stores), stores
    for model in ["stream", "trace"]:
        after = r["storage"][model]["after_load"]
        wal = after.get("wal")
        has_dir = os.path.isdir(f"{run}/stores/{model}/wal")
        # Where the writes' time went, for both engines: memory parts built, then the WAL waited for.
        times = after["write_seconds"]
        assert times["build"] > 0 and times["stall"] >= 0, (model, times)
        if sync == "off":
            assert wal is None and not has_dir, (model, wal, has_dir)
            assert times["log"] == 0, (model, times)
        else:
            assert wal["records"] > 0 and has_dir, (model, wal, has_dir)
            assert wal["write_calls"] > 0 and 0 <= wal["direct_write_calls"] <= wal["write_calls"], wal
            t = wal["seconds"]
            assert t["fdatasync"] > 0 and t["write"] > 0 and t["stage"] > 0, (model, t)
            parts = t["stage"] + t["write"] + t["fdatasync"] + t["rotate"]
            assert t["groups"] >= parts - 1e-6, (model, t)
    assert "encode" in r["storage"]["stream"]["after_load"]["write_seconds"]
PY

# Progress off a terminal: plain lines, first for the pass that computes the manifest and the
# oracle's rows (minutes at medium scale), then for each load; the final merge says when it is done.
"$spanlab" bench --scale custom --spans 3000 --payload-bytes 500 --models stream --iterations 1 --label write,storage \
  --focus '^(write/sequential|storage/final)' --out "$scratch/progress" >"$scratch/progress.txt" 2>&1 \
  || fail "bench with progress failed"
grep -Eq "^final merge stream #1: done in [0-9.]+ s$" "$scratch/progress.txt" || fail "no final merge line"
grep -q "^warning: the stores" "$scratch/progress.txt" && fail "disk warning with plenty of disk"

# Too little disk for the stores: a warning before anything is written, then the full disk stops
# the run with an error naming the file, and results.json stays valid (needs root to mount a tmpfs).
mkdir -p "$scratch/small-disk"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=1m tmpfs "$scratch/small-disk" 2>/dev/null; then
  "$spanlab" bench --scale custom --spans 3000 --payload-bytes 500 --models sqlite --iterations 1 --label write \
    --focus '^write/sequential' --out "$scratch/small-disk/run" --quiet >"$scratch/small-disk.txt" 2>&1 \
    && fail "a run on a 1 MB disk succeeded"
  grep -Eq "^warning: the stores of this run may need about [0-9.]+ [MG]B .* has [0-9.]+ [MG]B free" \
    "$scratch/small-disk.txt" || fail "no disk warning: $(head -3 "$scratch/small-disk.txt")"
  grep -Eq "spans.sqlite: .*(disk is full|No space left on device)" "$scratch/small-disk.txt" \
    || fail "full disk error: $(cat "$scratch/small-disk.txt")"
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['complete'] is False" \
    "$scratch/small-disk/run/results.json" || fail "results.json after a full disk"
  umount "$scratch/small-disk" || fail "umount $scratch/small-disk"
else
  echo "skipped: the small-disk check needs root to mount a tmpfs"
fi
first_expected=$(grep -n "^expected data (manifest, oracle): 3000/3000 spans (100%)" "$scratch/progress.txt" | head -1 | cut -d: -f1)
first_load=$(grep -n "^load stream #1: " "$scratch/progress.txt" | head -1 | cut -d: -f1)
[ -n "$first_expected" ] && [ -n "$first_load" ] && [ "$first_expected" -lt "$first_load" ] \
  || fail "progress lines: $(head -5 "$scratch/progress.txt")"

# A --out that already holds a run's results.json is refused, and the results are kept (a second run
# overwrote them without a word).
before=$(md5sum <"$scratch/run/results.json")
err=$("$spanlab" bench --scale custom --spans 50 --iterations 1 --label schema --out "$scratch/run" --quiet 2>&1); rc=$?
[[ $rc -eq 2 ]] && grep -q "run already holds results.json" <<<"$err" || fail "a second run into the same --out: $rc $err"
[[ "$(md5sum <"$scratch/run/results.json")" == "$before" ]] || fail "a second run into the same --out changed its results.json"

# A --focus that matches nothing is an error, not a "complete" run that measured nothing.
err=$("$spanlab" bench --scale custom --spans 50 --models sqlite --iterations 1 --label write --focus 'nomatch_at_all' \
  --out "$scratch/nomatch" --quiet 2>&1); rc=$?
[[ $rc -eq 1 ]] && grep -q -- '--focus "nomatch_at_all" matched no benchmark' <<<"$err" || fail "a --focus matching nothing: $rc $err"

# The same seed gives the same data: the stored checksum repeats across runs.
"$spanlab" bench --scale custom --spans 3000 --payload-bytes 500 --models sqlite --iterations 1 --label write,consistency \
  --focus '^write/sequential' --out "$scratch/again" --quiet 2>/dev/null || fail "second bench failed"
python3 - "$scratch/run/results.json" "$scratch/again/results.json" <<'PY' || fail "checksum not reproducible"
import json, sys
a = json.load(open(sys.argv[1]))["consistency"]["stores"][0]["checksum_stored"]
b = json.load(open(sys.argv[2]))["consistency"]["stores"][0]["checksum_stored"]
assert a == b, (a, b)
names = {b["name"] for b in json.load(open(sys.argv[2]))["benchmarks"]}
assert "write/writers=1" not in names, "focus ignored"
PY

# Interrupted: SIGINT mid-run leaves a valid results.json marked incomplete.
"$spanlab" bench --scale custom --spans 50000 --payload-bytes 200 --models sqlite --iterations 3 \
  --out "$scratch/cut" --quiet 2>/dev/null &
pid=$!
sleep 2
kill -INT $pid
wait $pid; rc=$?
[[ $rc -ne 0 ]] || fail "an interrupted run should not exit 0"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['complete'] is False" "$scratch/cut/results.json" \
  || fail "interrupted results.json is not valid and incomplete"

# A wrong answer from a backend is caught by the oracle and fails the run, naming the query.
err=$(SPANLAB_INJECT_WRONG_ANSWER=1 "$spanlab" bench --scale custom --spans 2000 --payload-bytes 300 --models sqlite \
  --iterations 1 --label query,consistency --out "$scratch/wrong" --quiet 2>&1); rc=$?
[[ $rc -eq 1 ]] || fail "a wrong answer should fail the run (exit $rc)"
grep -q "consistency: sqlite answers query/time/1m/newest20 with 19 spans, the oracle with 20 (1 missing, 0 extra)" <<<"$err" \
  || fail "mismatch message: $err"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); f=r['consistency']['failures']; assert f and f[0]['missing']==1 and 'timeRange' in f[0]['query'] and 'answer ends' in f[0]['difference']" \
  "$scratch/wrong/results.json" || fail "mismatch not in results.json"
# The trace model: a trace missing one span is a partial trace, named.
grep -Eq "consistency: sqlite answers query/trace-model/by-id/simple with 1 spans, the oracle with 2 .*1 partial\): trace [^ ]+ with 1 of its 2 spans" <<<"$err" \
  || fail "partial trace message: $err"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); f=[x for x in r['consistency']['failures'] if 'trace-model' in x['name']]; assert f and all(x['partial_traces']==1 for x in f), f" \
  "$scratch/wrong/results.json" || fail "trace-model mismatches not in results.json"
# Every span there in the wrong order: caught by the key sequence (the oracle accepts ties only).
err=$(SPANLAB_INJECT_WRONG_ANSWER=reverse "$spanlab" bench --scale custom --spans 2000 --payload-bytes 300 --models sqlite \
  --iterations 1 --label query,consistency --focus '^query/(time/1m/newest20|trace-model/latency)' --out "$scratch/reversed" --quiet 2>&1); rc=$?
[[ $rc -eq 1 ]] || fail "a reversed answer should fail the run (exit $rc)"
grep -Eq "consistency: sqlite answers query/time/1m/newest20 with 20 spans, the oracle with 20 \(0 missing, 0 extra\): answer position 0: key [0-9T:.Z-]+, the oracle's key [0-9T:.Z-]+" <<<"$err" \
  || fail "reversed order message: $err"
grep -Eq "consistency: sqlite answers query/trace-model/latency/slowest20 .*: answer trace 0: key [0-9]+, the oracle's key [0-9]+" <<<"$err" \
  || fail "reversed trace order message: $err"
# And without the fault every query agrees with the oracle.
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); c=r['consistency']; assert c['checked']>=26 and c['mismatches']==0, c" \
  "$scratch/run/results.json" || fail "queries checked against the oracle"

# An output directory whose name a shell would take apart: the stores are still removed after use
# (they were handed to `rm -rf '...'`, which a quote in the path broke, leaving them on disk).
odd="$scratch/it's \$(odd) \"dir\""
"$spanlab" bench --scale custom --spans 500 --payload-bytes 200 --models stream,trace,sqlite --iterations 1 \
  --label write --focus '^write/(sequential|writers=1)$' --writers 1 --out "$odd" --quiet 2>"$scratch/err.txt" \
  || fail "bench into an odd directory name failed: $(cat "$scratch/err.txt")"
grep -q "could not remove" "$scratch/err.txt" && fail "stores not removed: $(cat "$scratch/err.txt")"
[[ -s "$odd/results.json" ]] || fail "no results.json in the odd directory"
left=$(find "$odd/stores" -mindepth 1 2>/dev/null | head -3)
[[ -z "$left" ]] || fail "stores left behind: $left"

"$spanlab" bench --iterations 0 >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "--iterations 0 should be a usage error"
"$spanlab" bench --label nonsense >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "bad label should be a usage error"
err=$("$spanlab" bench --models oracle --spans 100 --iterations 1 --out "$scratch/none" --quiet 2>&1 >/dev/null); code=$?
[[ $code -eq 2 && "$err" == *'unknown backend "oracle" (this build has stream, trace, sqlite, null)'* ]] \
  || fail "an unknown backend should be a usage error naming the backends (exit $code: $err)"
[[ ! -e "$scratch/none/results.json" ]] || fail "an unknown backend should run nothing"
# --out naming a file: an error naming it, exit 1 (the sanitizer build also fails on the leak this
# path had).
: >"$scratch/a-file"
err=$("$spanlab" bench --scale custom --spans 50 --models stream --iterations 1 --label write --quiet --out "$scratch/a-file" 2>&1); rc=$?
[[ $rc -eq 1 ]] || fail "--out a file: exit $rc: $err"
grep -q "a-file/results.json.tmp: Not a directory" <<<"$err" || fail "--out a file: $err"

echo "$((failures == 0 ? 1 : 0)) passed, $failures failed"
exit $((failures > 0))
