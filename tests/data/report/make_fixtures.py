#!/usr/bin/env python3
"""Makes the report test fixtures from real `spanlab bench` runs (docs/REPORTS.md).

    spanlab bench --scale custom --spans 5000  --models sqlite,null --iterations 2 --out /tmp/r5k
    spanlab bench --scale custom --spans 10000 --models sqlite,null --iterations 3 --out /tmp/r10k
    tests/data/report/make_fixtures.py /tmp/r5k/results.json /tmp/r10k/results.json tests/data/report

The runs measure sqlite and null only (the Stream and Trace engines are issues #4, #5), so every
chart would have one line.  This script adds two backends named stream and trace, derived from the
sqlite figures by fixed factors with a little seeded noise, a storage breakdown per backend and the
dataset section, then recomputes n, mean, stdev, ci95 and the comparisons exactly as
src/bench/results.c and src/bench/stats.c do.  The figures of stream and trace are INVENTED: they
exist so that every chart and table of a report has data; they say nothing about the engines.

Writes:
  run-5k-a.json   5,000 spans, 2 iterations (the first run)
  run-5k-b.json   the same scale a day later with sync mode "none": writes faster, two query
                  figures regressed (for the regression rule)
  run-10k.json    10,000 spans, 3 iterations (for growth with scale)
"""
import copy
import json
import math
import random
import sys

T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
       2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
       2.052, 2.048, 2.045, 2.042]

# Factor on the sqlite figure, per backend, by benchmark prefix then metric (first match wins).
# For higher-is-better metrics a factor > 1 is better; for latencies and bytes < 1 is better.
FACTORS = {
    "stream": [("write/", "spans_per_second", 2.6), ("write/", "traces_per_second", 2.6),
               ("write/", "mb_per_second", 2.6), ("write/", "", 0.45),
               ("query/trace/", "latency", 0.9), ("query/service/", "latency", 0.35),
               ("query/error/", "latency", 0.4), ("query/complex/", "latency", 0.5),
               ("query/latency/", "latency", 0.7), ("query/time/", "latency", 0.8),
               ("query/", "queries_per_second", 1.6), ("query/", "", 1.0),
               ("storage/size", "stored_bytes", 0.34), ("storage/size", "stored_share_of_raw", 0.34),
               ("storage/size", "", 1.0), ("memory/", "", 1.3)],
    "trace": [("write/", "spans_per_second", 1.9), ("write/", "traces_per_second", 1.9),
              ("write/", "mb_per_second", 1.9), ("write/", "", 0.6),
              ("query/trace-model/by-id/", "latency", 0.25), ("query/trace-model/service/", "latency", 0.5),
              ("query/trace-model/latency/", "latency", 0.9),
              ("query/", "queries_per_second", 1.4), ("query/", "", 1.0),
              ("storage/size", "stored_bytes", 0.21), ("storage/size", "stored_share_of_raw", 0.21),
              ("storage/size", "", 1.0), ("memory/", "", 1.1)],
}
# Which query benchmarks each derived backend answers (the others are recorded unsupported).
ANSWERS = {
    "stream": lambda name: not name.startswith("query/trace-model/"),
    "trace": lambda name: not name.startswith("query/") or name.startswith("query/trace-model/"),
}
REASONS = {
    "stream": "the stream backend answers stream-subject queries; this one asks the trace subject",
    "trace": "the trace backend answers trace-subject queries (whole traces); this one asks the stream subject",
}
TAGS = ["serviceId", "serviceInstanceId", "traceId", "startTime", "latency", "isError", "spanId",
        "parentSpanId", "operationName", "component", "dataBinary"]


def t95(df):
    if df <= 30:
        return T95[df - 1]
    if df <= 60:
        return 2.042 - (2.042 - 2.000) * (df - 30) / 30.0
    if df <= 120:
        return 2.000 - (2.000 - 1.980) * (df - 60) / 60.0
    return 1.960


def summarize(entry):
    values = [v for v in entry["values"] if isinstance(v, (int, float))]
    n = len(values)
    mean = sum(values) / n if n else 0.0
    entry["n"] = n
    entry["mean"] = mean
    if n > 1:
        stdev = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
        half = t95(n - 1) * stdev / math.sqrt(n)
        entry["stdev"] = stdev
        entry["ci95"] = [mean - half, mean + half]
    else:
        entry["stdev"] = None
        entry["ci95"] = None


def compare(a, b):
    higher = a["higher_is_better"]
    if a["n"] < 2 or b["n"] < 2:
        return None, "no significant difference (fewer than 2 iterations: no interval)"
    a_above = a["ci95"][0] > b["ci95"][1]
    b_above = b["ci95"][0] > a["ci95"][1]
    if not a_above and not b_above:
        return None, "no significant difference (95% intervals overlap)"
    a_wins = a_above if higher else b_above
    better, worse = (a, b) if a_wins else (b, a)
    ratio = better["mean"] / worse["mean"] if worse["mean"] != 0 else 0
    if not higher and better["mean"] != 0:
        ratio = worse["mean"] / better["mean"]
    return (a if a_wins else b)["backend"], "%s better by %.2fx (95%% intervals do not overlap)" % (
        "a" if a_wins else "b", ratio)


def comparisons(benchmarks):
    out = []
    for i, left in enumerate(benchmarks):
        if "values" not in left:
            continue
        for right in benchmarks[i + 1:]:
            if "values" not in right or left["name"] != right["name"] or left["metric"] != right["metric"]:
                continue
            winner, verdict = compare(left, right)
            out.append({"benchmark": left["name"], "metric": left["metric"], "a": left["backend"],
                        "b": right["backend"], "winner": winner,
                        "ratio_a_over_b": left["mean"] / right["mean"] if right["mean"] != 0 else 0.0,
                        "verdict": verdict})
    return out


def factor_for(backend, name, metric):
    for prefix, metric_part, factor in FACTORS[backend]:
        if name.startswith(prefix) and metric_part in metric:
            return factor
    return 1.0


def derive(doc, rng, tweak=lambda backend, name, metric: 1.0):
    benchmarks = doc["benchmarks"]
    derived = []
    for backend in ("stream", "trace"):
        for entry in benchmarks:
            if entry["backend"] != "sqlite":
                continue
            if not ANSWERS[backend](entry["name"]):
                if not entry.get("unsupported") and not any(
                        d["name"] == entry["name"] and d["backend"] == backend for d in derived):
                    derived.append({"name": entry["name"], "label": entry["label"], "backend": backend,
                                    "unsupported": True, "reason": REASONS[backend]})
                continue
            if entry.get("unsupported"):
                continue
            copy_entry = copy.deepcopy(entry)
            copy_entry["backend"] = backend
            factor = factor_for(backend, entry["name"], entry["metric"]) * tweak(backend, entry["name"], entry["metric"])
            if entry["metric"] in ("raw_bytes", "result_spans_mean", "result_traces_mean"):
                factor = 1.0
            # Little noise, so that CIs are narrow enough to separate clear differences.
            copy_entry["values"] = [None if v is None else v * factor * (1 + rng.uniform(-0.02, 0.02))
                                    for v in entry["values"]]
            if entry["metric"] in ("raw_bytes",):
                copy_entry["values"] = list(entry["values"])
            summarize(copy_entry)
            derived.append(copy_entry)
    # stream and trace first, as the runner lists the models
    doc["benchmarks"] = [b for b in benchmarks if b["backend"] == "catalog"] + derived + \
                        [b for b in benchmarks if b["backend"] != "catalog"]
    doc["comparisons"] = comparisons(doc["benchmarks"])
    doc["parameters"]["models"] = ["stream", "trace", "sqlite", "null"]


def storage(doc, rng):
    raw_total = next(b["mean"] for b in doc["benchmarks"]
                     if b["name"] == "storage/size" and b["backend"] == "sqlite" and b.get("metric") == "raw_bytes")
    spans = doc["parameters"]["spans"]
    shares = {"dataBinary": 0.0, "traceId": 40, "spanId": 6, "parentSpanId": 6, "serviceId": 12,
              "serviceInstanceId": 20, "operationName": 24, "component": 10, "startTime": 8, "latency": 8,
              "isError": 4}
    section = {}
    for backend, stored_share, index_share in (("stream", 0.34, 0.08), ("trace", 0.21, 0.05), ("sqlite", 1.19, 0.3)):
        by_tag = {}
        fixed = sum(shares.values()) * spans
        for tag in TAGS:
            raw = shares[tag] * spans if tag != "dataBinary" else raw_total - fixed
            compressed = {"dataBinary": stored_share, "traceId": 0.5 if backend == "stream" else 0.08,
                          "startTime": 0.2, "latency": 0.3, "isError": 0.02}.get(tag, 0.1)
            by_tag[tag] = {"raw_bytes": int(raw), "stored_bytes": int(raw * compressed * (1 + rng.uniform(-0.05, 0.05)))}
        data = sum(t["stored_bytes"] for t in by_tag.values())
        kinds = {"data": data, "index": int(data * index_share), "metadata": int(data * 0.004),
                 "wal": int(raw_total * 0.02)}
        if backend == "trace":
            kinds["bloom"] = int(spans / 8.6 * 2)
        section[backend] = {"by_tag": by_tag, "by_file_kind": kinds}
    doc["storage"] = section


def dataset(doc):
    spans = doc["parameters"]["spans"]
    raw = next(b["mean"] for b in doc["benchmarks"]
               if b["name"] == "storage/size" and b["backend"] == "sqlite" and b.get("metric") == "raw_bytes")
    doc["dataset"] = {"spans": spans, "traces": int(spans / 8.6), "raw_bytes": int(raw)}


def main():
    small_path, larger_path, out_dir = sys.argv[1:4]
    rng = random.Random(20261201)
    small = json.load(open(small_path))
    larger = json.load(open(larger_path))
    for doc in (small, larger):
        derive(doc, rng)
        storage(doc, rng)
        dataset(doc)
        doc["environment"]["git_commit"] = "0123456789abcdef0123456789abcdef01234567"
        doc["environment"]["git_dirty"] = False
    small["started_at"], small["saved_at"] = "2026-12-01T10:00:00Z", "2026-12-01T10:00:30Z"
    larger["started_at"], larger["saved_at"] = "2026-12-01T11:00:00Z", "2026-12-01T11:01:00Z"

    later = json.load(open(small_path))
    regressed = {("stream", "query/service/service/warm"): 1.8, ("trace", "query/trace-model/by-id/medium/warm"): 2.2}

    def tweak(backend, name, metric):
        if name.startswith("write/") and metric in ("spans_per_second", "traces_per_second", "mb_per_second"):
            return 1.3  # sync none: no fsync per batch
        if "latency" in metric and (backend, name) in regressed:
            return regressed[(backend, name)]
        return 1.0
    jitter = random.Random(20261203)
    for entry in later["benchmarks"]:  # the measured backends vary a little from run to run too
        if "values" in entry and entry["backend"] in ("sqlite", "null"):
            factor = tweak(entry["backend"], entry["name"], entry["metric"])
            entry["values"] = [None if v is None else v * factor * (1 + jitter.uniform(-0.03, 0.03))
                               for v in entry["values"]]
            summarize(entry)
    derive(later, random.Random(20261202), tweak)
    storage(later, random.Random(20261202))
    dataset(later)
    later["parameters"]["sync_mode"] = "none"
    later["environment"]["git_commit"] = "fedcba9876543210fedcba9876543210fedcba98"
    later["environment"]["git_dirty"] = False
    later["started_at"], later["saved_at"] = "2026-12-02T10:00:00Z", "2026-12-02T10:00:30Z"
    for name, doc in (("run-5k-a.json", small), ("run-5k-b.json", later), ("run-10k.json", larger)):
        with open("%s/%s" % (out_dir, name), "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
