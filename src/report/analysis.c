/* analysis.c: what the reports say, derived from the figures alone
 * (docs/REPORTS.md states every rule used here). */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

enum { MAX_POINTS = 64, TEXT_BYTES = 1024 };

static const double MEDIUM_SPANS = 10000000.0;
static const double SMALL_SPANS = 100000.0;
static const double NOISE_SHARE = 0.10; /* the regression rule's threshold when n < 2 */

int report_parse_int(const char *text) {
  assert(text != NULL);
  char *end = NULL;
  long value = strtol(text, &end, 10);
  return end == text || value < 0 || value > 1000000000 ? -1 : (int)value;
}

const report_figure *report_find(const report_run *run, const char *name, const char *backend,
                                 const char *metric) {
  assert(run != NULL && name != NULL && backend != NULL);
  for (size_t i = 0; i < run->figure_count; i++) {
    const report_figure *figure = &run->figures[i];
    if (!figure->unsupported && strcmp(figure->name, name) == 0 && strcmp(figure->backend, backend) == 0 &&
        (metric == NULL || strcmp(figure->metric, metric) == 0)) {
      return figure;
    }
  }
  return NULL;
}

const report_figure *report_find_unsupported(const report_run *run, const char *name, const char *backend) {
  assert(run != NULL && backend != NULL);
  for (size_t i = 0; i < run->figure_count; i++) {
    const report_figure *figure = &run->figures[i];
    if (figure->unsupported && strcmp(figure->backend, backend) == 0 &&
        (name == NULL || strcmp(figure->name, name) == 0)) {
      return figure;
    }
  }
  return NULL;
}

const char *report_backend_role(const char *backend) {
  assert(backend != NULL);
  if (strcmp(backend, "stream") == 0 || strcmp(backend, "trace") == 0) {
    return "model";
  }
  return strcmp(backend, "null") == 0 ? "harness" : "baseline";
}

static bool is_harness(const char *backend) { return strcmp(report_backend_role(backend), "harness") == 0; }

bool report_better_beyond_noise(const report_figure *a, const report_figure *b) {
  assert(a != NULL && b != NULL);
  if (a->has_ci && b->has_ci) {
    return a->higher_is_better ? a->ci_low > b->ci_high : a->ci_high < b->ci_low;
  }
  return a->higher_is_better ? a->mean > b->mean * (1 + NOISE_SHARE) : a->mean < b->mean * (1 - NOISE_SHARE);
}

double report_factor(const report_figure *a, const report_figure *b) {
  assert(a != NULL && b != NULL);
  if (a->higher_is_better) {
    return b->mean > 0 ? a->mean / b->mean : 0;
  }
  return a->mean > 0 ? b->mean / a->mean : 0;
}

json_t *report_comparison(const report_run *run, const char *benchmark, const char *metric, const char *a,
                          const char *b) {
  json_t *comparisons = json_object_get(run->root, "comparisons");
  size_t index;
  json_t *entry;
  json_array_foreach(comparisons, index, entry) {
    const char *left = json_string_value(json_object_get(entry, "a"));
    const char *right = json_string_value(json_object_get(entry, "b"));
    if (strcmp(json_string_value(json_object_get(entry, "benchmark")), benchmark) == 0 &&
        strcmp(json_string_value(json_object_get(entry, "metric")), metric) == 0 &&
        ((strcmp(left, a) == 0 && strcmp(right, b) == 0) || (strcmp(left, b) == 0 && strcmp(right, a) == 0))) {
      return entry;
    }
  }
  return NULL;
}

static json_t *figure_json(const report_figure *figure) {
  if (figure == NULL) {
    return json_pack("{s:b}", "absent", 1);
  }
  if (figure->unsupported) {
    return json_pack("{s:b, s:s}", "unsupported", 1, "reason", figure->reason);
  }
  /* path: where the mean stands in results file number run (the HTML test reads it back). */
  return json_pack("{s:f, s:o, s:o, s:I, s:[i, s, I, s]}", "mean", figure->mean, "stdev",
                   figure->has_stdev ? json_real(figure->stdev) : json_null(), "ci95",
                   figure->has_ci ? json_pack("[f, f]", figure->ci_low, figure->ci_high) : json_null(), "n",
                   (json_int_t)figure->n, "path", figure->run_number, "benchmarks", (json_int_t)figure->index,
                   "mean");
}

/* The backends a verdict or a recommendation speaks of: the run's, the harness
 * left out, and the two models always (a model not run is said to be missing). */
static size_t verdict_backends(const report_run *run, const char **out, size_t capacity) {
  size_t count = 0;
  static const char *const models[] = {"stream", "trace"};
  for (size_t m = 0; m < 2 && count < capacity; m++) {
    out[count++] = models[m];
  }
  for (size_t i = 0; i < run->backend_count && count < capacity; i++) {
    if (!is_harness(run->backends[i]) && strcmp(report_backend_role(run->backends[i]), "model") != 0) {
      out[count++] = run->backends[i];
    }
  }
  return count;
}

/* Why a backend has no figure for a benchmark: its own reason, any reason it
 * gave in this run, or that it was not run. */
const char *report_missing_reason(const report_run *run, const char *name, const char *backend) {
  const report_figure *mark = name != NULL ? report_find_unsupported(run, name, backend) : NULL;
  if (mark == NULL) {
    mark = report_find_unsupported(run, NULL, backend);
  }
  if (mark != NULL) {
    return mark->reason;
  }
  for (size_t i = 0; i < run->backend_count; i++) {
    if (strcmp(run->backends[i], backend) == 0) {
      return "no figure in this run";
    }
  }
  return "not among this run's models";
}

static bool headline(const char *name, const char *metric) {
  size_t length = strlen(name);
  if (strcmp(name, "write/sequential") == 0) {
    return strcmp(metric, "spans_per_second") == 0 || strcmp(metric, "batch_latency_p99_ms") == 0;
  }
  if (length > 5 && strcmp(name + length - 5, "/warm") == 0) {
    return strcmp(metric, "latency_p95_ms") == 0;
  }
  if (strcmp(name, "storage/size") == 0) {
    return strcmp(metric, "stored_bytes") == 0 || strcmp(metric, "stored_share_of_raw") == 0;
  }
  if (strncmp(name, "memory/", 7) == 0) {
    return strcmp(metric, "peak_rss_bytes") == 0;
  }
  return false;
}

/* The figures the summary follows across dataset sizes: write throughput,
 * stored bytes, peak memory and one warm P95 per query class. */
static bool scale_headline(const char *name, const char *metric) {
  static const char *const queries[] = {"query/time/1h/newest20/warm",      "query/trace/medium/warm",
                                        "query/trace-model/by-id/medium/warm", "query/service/service/warm",
                                        "query/trace-model/service/newest20/warm", "query/error/all/warm",
                                        "query/latency/range/warm",          "query/complex/service+error/warm"};
  if (strcmp(name, "write/sequential") == 0) {
    return strcmp(metric, "spans_per_second") == 0;
  }
  if (strcmp(name, "storage/size") == 0) {
    return strcmp(metric, "stored_bytes") == 0;
  }
  if (strncmp(name, "memory/", 7) == 0) {
    return strcmp(metric, "peak_rss_bytes") == 0;
  }
  for (size_t q = 0; q < sizeof queries / sizeof queries[0]; q++) {
    if (strcmp(name, queries[q]) == 0) {
      return strcmp(metric, "latency_p95_ms") == 0;
    }
  }
  return false;
}

json_t *report_runs_overview(const report_set *set) {
  json_t *runs = json_array();
  for (size_t r = 0; r < set->count; r++) {
    const report_run *run = &set->runs[r];
    json_t *backends = json_array();
    for (size_t b = 0; b < run->backend_count; b++) {
      json_array_append_new(backends, json_pack("{s:s, s:s}", "name", run->backends[b], "role",
                                                report_backend_role(run->backends[b])));
    }
    json_t *parameters = json_object_get(run->root, "parameters");
    json_t *environment = json_object_get(run->root, "environment");
    const char *commit = json_string_value(json_object_get(environment, "git_commit"));
    const char *sync = json_string_value(json_object_get(parameters, "sync_mode"));
    json_array_append_new(
        runs, json_pack("{s:i, s:s, s:s, s:f, s:i, s:s, s:b, s:s, s:s, s:o, s:b}", "number", run->number, "path",
                        run->path, "scale", run->scale, "spans", run->spans, "iterations", run->iterations,
                        "started_at", run->started_at, "complete", run->complete, "git_commit",
                        commit != NULL ? commit : "unknown", "sync_mode", sync != NULL ? sync : "unknown", "backends",
                        backends, "primary", r == set->primary));
  }
  return runs;
}

/* One verdict row: every backend's figure, the best measured one, and the
 * comparisons array's word on the best against each other. */
static json_t *verdict_row(const report_run *run, const report_figure *any) {
  const char *backends[REPORT_MAX_BACKENDS + 2];
  size_t count = verdict_backends(run, backends, REPORT_MAX_BACKENDS + 2);
  json_t *cells = json_array();
  const report_figure *best = NULL;
  /* Equal means everywhere: no backend is best (it read "stream best; vs trace: 0.00x better"). */
  bool tie = true;
  for (size_t b = 0; b < count; b++) {
    const report_figure *figure = report_find(run, any->name, backends[b], any->metric);
    tie = tie && (figure == NULL || best == NULL || figure->mean == best->mean);
    json_t *cell = figure_json(figure != NULL ? figure : report_find_unsupported(run, any->name, backends[b]));
    if (figure == NULL && !json_is_true(json_object_get(cell, "unsupported"))) {
      json_object_set_new(cell, "reason", json_string(report_missing_reason(run, any->name, backends[b])));
    }
    json_object_set_new(cell, "backend", json_string(backends[b]));
    json_array_append_new(cells, cell);
    if (figure != NULL && (best == NULL || (figure->higher_is_better ? figure->mean > best->mean
                                                                      : figure->mean < best->mean))) {
      best = figure;
    }
  }
  tie = tie && best != NULL;
  json_t *against = json_array();
  size_t measured = 0;
  for (size_t b = 0; b < count; b++) {
    const report_figure *other = report_find(run, any->name, backends[b], any->metric);
    measured += other != NULL;
    if (tie || other == NULL || best == NULL || other == best) {
      continue;
    }
    json_t *comparison = report_comparison(run, any->name, any->metric, best->backend, other->backend);
    bool significant;
    if (comparison != NULL) {
      const char *winner = json_string_value(json_object_get(comparison, "winner"));
      significant = winner != NULL && strcmp(winner, best->backend) == 0;
    } else {
      significant = report_better_beyond_noise(best, other);
    }
    const char *why = significant ? "95% intervals do not overlap"
                      : (!best->has_ci || !other->has_ci) ? "n < 2"
                                                          : "95% intervals overlap";
    json_array_append_new(against, json_pack("{s:s, s:f, s:b, s:s}", "backend", other->backend, "factor",
                                             report_factor(best, other), "significant", significant, "why", why));
  }
  return json_pack("{s:s, s:s, s:s, s:s, s:b, s:o, s:o, s:o, s:I, s:b}", "area", any->label, "benchmark", any->name,
                   "metric", any->metric, "unit", any->unit, "higher_is_better", any->higher_is_better, "cells",
                   cells, "best", best != NULL && measured > 1 && !tie ? json_string(best->backend) : json_null(),
                   "against", against, "measured", (json_int_t)measured, "tie", tie && measured > 1);
}

json_t *report_verdicts(const report_run *run) {
  json_t *rows = json_array();
  for (size_t i = 0; i < run->figure_count; i++) {
    const report_figure *figure = &run->figures[i];
    if (figure->unsupported || is_harness(figure->backend) || !headline(figure->name, figure->metric)) {
      continue;
    }
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++) {
      const report_figure *before = &run->figures[j];
      seen = !before->unsupported && !is_harness(before->backend) && strcmp(before->name, figure->name) == 0 &&
             strcmp(before->metric, figure->metric) == 0;
    }
    if (!seen) {
      json_array_append_new(rows, verdict_row(run, figure));
    }
  }
  return rows;
}

/* ---- use cases ---- */

typedef struct question {
  const char *what;
  const char *benchmarks[3]; /* equivalent questions on the stream and the trace subject */
} question;

typedef struct use_case {
  const char *name;
  const char *metric;
  const char *measure; /* how the figure is named in a sentence */
  question questions[4];
} use_case;

static const use_case use_cases[] = {
    {"trace reconstruction", "latency_p95_ms", "warm P95",
     {{"all spans of a simple trace", {"query/trace/simple/warm", "query/trace-model/by-id/simple/warm"}},
      {"all spans of a medium trace", {"query/trace/medium/warm", "query/trace-model/by-id/medium/warm"}},
      {"all spans of a complex trace", {"query/trace/complex/warm", "query/trace-model/by-id/complex/warm"}}}},
    {"span search by service", "latency_p95_ms", "warm P95",
     {{"newest spans of a service", {"query/service/service/warm", "query/trace-model/service/newest20/warm"}},
      {"newest spans of an instance", {"query/service/instance/warm"}}}},
    {"error analysis", "latency_p95_ms", "warm P95",
     {{"error spans in a window", {"query/error/all/warm"}},
      {"error spans of a service", {"query/complex/service+error/warm"}}}},
    {"latency analysis", "latency_p95_ms", "warm P95",
     {{"slowest spans in a latency range",
       {"query/latency/range/warm", "query/trace-model/latency/slowest20/warm"}}}},
    {"storage cost", "stored_bytes", "bytes on disk", {{"bytes stored for the data set", {"storage/size"}}}},
    {"ingest", "spans_per_second", "sequential write throughput",
     {{"sequential load in time order", {"write/sequential"}}}},
};

/* The backend's best figure among a question's equivalent benchmarks. */
static const report_figure *question_figure(const report_run *run, const question *q, const char *backend,
                                            const char *metric) {
  const report_figure *best = NULL;
  for (size_t b = 0; b < 3 && q->benchmarks[b] != NULL; b++) {
    const report_figure *figure = report_find(run, q->benchmarks[b], backend, metric);
    if (figure != NULL &&
        (best == NULL || (figure->higher_is_better ? figure->mean > best->mean : figure->mean < best->mean))) {
      best = figure;
    }
  }
  return best;
}

static size_t question_count(const use_case *u) {
  size_t count = 0;
  while (count < 4 && u->questions[count].what != NULL) {
    count++;
  }
  return count;
}

typedef struct candidate {
  const char *backend;
  const report_figure *figures[4];
  size_t answered;
  double score; /* geometric mean of the figures' means */
} candidate;

static json_t *use_case_row(const report_run *run, const use_case *u) {
  const char *backends[REPORT_MAX_BACKENDS + 2];
  size_t backend_count = verdict_backends(run, backends, REPORT_MAX_BACKENDS + 2);
  size_t questions = question_count(u);
  candidate candidates[REPORT_MAX_BACKENDS + 2] = {0};
  json_t *per_backend = json_array();
  json_t *question_names = json_array();
  for (size_t q = 0; q < questions; q++) {
    json_array_append_new(question_names, json_string(u->questions[q].what));
  }
  bool higher = false;
  for (size_t b = 0; b < backend_count; b++) {
    candidate *c = &candidates[b];
    *c = (candidate){.backend = backends[b]};
    double log_sum = 0;
    for (size_t q = 0; q < questions; q++) {
      c->figures[q] = question_figure(run, &u->questions[q], backends[b], u->metric);
      if (c->figures[q] != NULL) {
        c->answered++;
        higher = c->figures[q]->higher_is_better;
        log_sum += log(c->figures[q]->mean > 0 ? c->figures[q]->mean : 1e-12);
      }
    }
    c->score = c->answered == questions ? exp(log_sum / (double)questions) : 0;
    json_t *entry = json_pack("{s:s, s:I, s:I}", "backend", backends[b], "answered", (json_int_t)c->answered,
                              "questions", (json_int_t)questions);
    if (c->answered == questions) {
      json_object_set_new(entry, "score", json_real(c->score));
    } else {
      json_object_set_new(entry, "reason", json_string(report_missing_reason(run, u->questions[0].benchmarks[0], backends[b])));
    }
    json_array_append_new(per_backend, entry);
  }
  const candidate *first = NULL, *second = NULL;
  for (size_t b = 0; b < backend_count; b++) {
    const candidate *c = &candidates[b];
    if (c->answered != questions) {
      continue;
    }
    bool better_than_first = first == NULL || (higher ? c->score > first->score : c->score < first->score);
    if (better_than_first) {
      second = first;
      first = c;
    } else if (second == NULL || (higher ? c->score > second->score : c->score < second->score)) {
      second = c;
    }
  }
  size_t significant = 0;
  if (first != NULL && second != NULL) {
    for (size_t q = 0; q < questions; q++) {
      significant += report_better_beyond_noise(first->figures[q], second->figures[q]);
    }
  }
  json_t *row = json_pack("{s:s, s:s, s:s, s:o, s:o}", "use_case", u->name, "metric", u->metric, "measure",
                          u->measure, "questions", question_names, "backends", per_backend);
  const char *unit = first != NULL && first->figures[0] != NULL ? first->figures[0]->unit : "";
  json_object_set_new(row, "unit", json_string(unit));
  json_object_set_new(row, "recommended", first != NULL ? json_string(first->backend) : json_null());
  if (first != NULL) {
    json_object_set_new(row, "score", json_real(first->score));
  }
  if (second != NULL) {
    double factor = higher ? (second->score > 0 ? first->score / second->score : 0)
                           : (first->score > 0 ? second->score / first->score : 0);
    json_object_set_new(row, "runner_up", json_string(second->backend));
    json_object_set_new(row, "runner_up_score", json_real(second->score));
    json_object_set_new(row, "factor", json_real(factor));
    json_object_set_new(row, "significant_questions", json_integer((json_int_t)significant));
  }
  /* Between the two models (verdict_backends puts them first), when both answered. */
  const candidate *stream = &candidates[0], *trace = &candidates[1];
  if (backend_count >= 2 && stream->answered == questions && trace->answered == questions) {
    const candidate *win = (higher ? stream->score >= trace->score : stream->score <= trace->score) ? stream : trace;
    const candidate *lose = win == stream ? trace : stream;
    size_t model_significant = 0;
    for (size_t q = 0; q < questions; q++) {
      model_significant += report_better_beyond_noise(win->figures[q], lose->figures[q]);
    }
    double factor = higher ? (lose->score > 0 ? win->score / lose->score : 0)
                           : (win->score > 0 ? lose->score / win->score : 0);
    json_object_set_new(row, "model_choice", json_pack("{s:s, s:f, s:I}", "backend", win->backend, "factor", factor,
                                                       "significant_questions", (json_int_t)model_significant));
  }
  return row;
}

json_t *report_use_cases(const report_run *run) {
  json_t *rows = json_array();
  for (size_t u = 0; u < sizeof use_cases / sizeof use_cases[0]; u++) {
    json_array_append_new(rows, use_case_row(run, &use_cases[u]));
  }
  return rows;
}

/* ---- the seed's success criteria ---- */

static const char *const simple_queries[] = {"query/time/1h/newest20/warm", "query/trace/simple/warm",
                                             "query/trace-model/by-id/simple/warm", "query/service/service/warm",
                                             "query/error/all/warm"};

/* Judges [low, high] (or the mean) against a threshold. */
static const char *judge(double mean, bool has_ci, double low, double high, double threshold, bool must_exceed) {
  if (!has_ci) {
    low = high = mean;
  }
  if (must_exceed) {
    return low > threshold ? "pass" : high <= threshold ? "fail" : "inconclusive";
  }
  return high < threshold ? "pass" : low >= threshold ? "fail" : "inconclusive";
}

static json_t *criterion_row(const report_run *run, const char *criterion, const char *backend,
                             const report_figure *figure, const char *why_missing, double threshold, bool must_exceed,
                             double needed_spans, const char *needed_scale, bool as_compression) {
  json_t *row = json_pack("{s:s, s:s, s:f, s:b, s:b}", "criterion", criterion, "backend", backend, "threshold",
                          threshold, "must_exceed", must_exceed, "compression", as_compression);
  if (figure == NULL) {
    char text[TEXT_BYTES];
    snprintf(text, sizeof text, "not measured: %s", why_missing);
    json_object_set_new(row, "result", json_string(text));
    return row;
  }
  double mean = figure->mean, low = figure->ci_low, high = figure->ci_high;
  if (as_compression) { /* stored share of raw -> compression = 1 - share */
    mean = 1 - figure->mean;
    low = 1 - figure->ci_high;
    high = 1 - figure->ci_low;
  }
  json_object_set_new(row, "benchmark", json_string(figure->name));
  json_object_set_new(row, "metric", json_string(figure->metric));
  json_object_set_new(row, "unit", json_string(as_compression ? "ratio" : figure->unit));
  json_object_set_new(row, "mean", json_real(mean));
  json_object_set_new(row, "ci95", figure->has_ci ? json_pack("[f, f]", low, high) : json_null());
  json_object_set_new(row, "n", json_integer((json_int_t)figure->n));
  const char *verdict = judge(mean, figure->has_ci, low, high, threshold, must_exceed);
  if (run->spans < needed_spans) {
    char text[TEXT_BYTES], spans[64], needed[64];
    snprintf(text, sizeof text, "not shown: %s scale (%s spans); the criterion needs %s scale (%s spans)", run->scale,
             report_format_number(run->spans, spans, sizeof spans), needed_scale,
             report_format_number(needed_spans, needed, sizeof needed));
    json_object_set_new(row, "result", json_string(text));
    json_object_set_new(row, "would_be", json_string(verdict));
  } else {
    json_object_set_new(row, "result", json_string(verdict));
  }
  return row;
}

json_t *report_criteria(const report_run *run) {
  const char *backends[REPORT_MAX_BACKENDS + 2];
  size_t count = verdict_backends(run, backends, REPORT_MAX_BACKENDS + 2);
  json_t *rows = json_array();
  for (size_t b = 0; b < count; b++) {
    const report_figure *write = report_find(run, "write/sequential", backends[b], "spans_per_second");
    json_array_append_new(rows, criterion_row(run, "write throughput > 10,000 spans/s at medium scale", backends[b],
                                              write, report_missing_reason(run, "write/sequential", backends[b]), 10000,
                                              true, MEDIUM_SPANS, "medium", false));
  }
  for (size_t b = 0; b < count; b++) {
    const report_figure *worst = NULL;
    for (size_t q = 0; q < sizeof simple_queries / sizeof simple_queries[0]; q++) {
      const report_figure *figure = report_find(run, simple_queries[q], backends[b], "latency_p95_ms");
      if (figure != NULL && (worst == NULL || figure->mean > worst->mean)) {
        worst = figure;
      }
    }
    json_array_append_new(rows, criterion_row(run, "query P95 < 100 ms for simple queries (the slowest of them)",
                                              backends[b], worst, report_missing_reason(run, simple_queries[0], backends[b]),
                                              100, false, SMALL_SPANS, "small", false));
  }
  for (size_t b = 0; b < count; b++) {
    const report_figure *share = report_find(run, "storage/size", backends[b], "stored_share_of_raw");
    json_array_append_new(rows, criterion_row(run, "compression > 70% (1 - stored/raw)", backends[b], share,
                                              report_missing_reason(run, "storage/size", backends[b]), 0.70, true, 0,
                                              "any", true));
  }
  for (size_t b = 0; b < count; b++) {
    const report_figure *memory = NULL;
    static const char *const phases[] = {"memory/load", "memory/query"};
    for (size_t p = 0; p < 2; p++) {
      const report_figure *figure = report_find(run, phases[p], backends[b], "peak_rss_bytes");
      if (figure != NULL && (memory == NULL || figure->mean > memory->mean)) {
        memory = figure;
      }
    }
    json_array_append_new(rows, criterion_row(run, "memory < 8 GB at medium scale (peak RSS of any phase)", backends[b],
                                              memory, report_missing_reason(run, "memory/load", backends[b]), 8e9, false,
                                              MEDIUM_SPANS, "medium", false));
  }
  return rows;
}

/* ---- several runs: growth with scale, regressions ---- */

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Is run a later than run b (started_at, then the order given)? */
static bool later(const report_run *a, const report_run *b) {
  int order = strcmp(a->started_at, b->started_at);
  return order > 0 || (order == 0 && a->number > b->number);
}

json_t *report_scale_growth(const report_set *set) {
  double points[MAX_POINTS];
  size_t point_count = 0;
  for (size_t r = 0; r < set->count && point_count < MAX_POINTS; r++) {
    bool known = set->runs[r].spans <= 0;
    for (size_t p = 0; p < point_count && !known; p++) {
      known = points[p] == set->runs[r].spans;
    }
    if (!known) {
      points[point_count++] = set->runs[r].spans;
    }
  }
  qsort(points, point_count, sizeof points[0], compare_doubles);
  const report_run *chosen[MAX_POINTS] = {0};
  json_t *point_list = json_array();
  size_t kept = 0;
  for (size_t p = 0; p < point_count; p++) {
    const report_run *latest = NULL;
    for (size_t r = 0; r < set->count; r++) {
      const report_run *run = &set->runs[r];
      if (run->spans == points[p] && (latest == NULL || later(run, latest))) {
        latest = run;
      }
    }
    if (latest == NULL) {
      continue;
    }
    points[kept] = points[p];
    chosen[kept++] = latest;
    json_array_append_new(point_list, json_pack("{s:f, s:i, s:s}", "spans", latest->spans, "run", latest->number,
                                                "scale", latest->scale));
  }
  point_count = kept;
  json_t *rows = json_array();
  if (point_count >= 2) {
    for (size_t p = 0; p < point_count; p++) {
      const report_run *run = chosen[p];
      for (size_t i = 0; i < run->figure_count; i++) {
        const report_figure *figure = &run->figures[i];
        if (figure->unsupported) {
          continue;
        }
        bool seen = false; /* listed already from an earlier point */
        for (size_t e = 0; e < p && !seen; e++) {
          seen = report_find(chosen[e], figure->name, figure->backend, figure->metric) != NULL;
        }
        if (seen) {
          continue;
        }
        json_t *values = json_array();
        for (size_t e = 0; e < point_count; e++) {
          const report_figure *same = report_find(chosen[e], figure->name, figure->backend, figure->metric);
          json_array_append_new(values, same != NULL ? json_real(same->mean) : json_null());
        }
        json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:o}", "benchmark", figure->name,
                                              "metric", figure->metric, "backend", figure->backend, "unit",
                                              figure->unit, "higher_is_better", figure->higher_is_better,
                                              "headline", scale_headline(figure->name, figure->metric) && !is_harness(figure->backend),
                                              "values", values));
      }
    }
  }
  return json_pack("{s:o, s:o}", "points", point_list, "rows", rows);
}

json_t *report_regressions(const report_set *set) {
  json_t *pairs = json_array(), *rows = json_array();
  for (size_t r = 0; r < set->count; r++) {
    const report_run *current = &set->runs[r];
    /* The run of the same scale started just before this one. */
    const report_run *baseline = NULL;
    for (size_t o = 0; o < set->count; o++) {
      const report_run *other = &set->runs[o];
      if (other == current || other->spans != current->spans || strcmp(other->scale, current->scale) != 0 ||
          !later(current, other)) {
        continue;
      }
      if (baseline == NULL || later(other, baseline)) {
        baseline = other;
      }
    }
    if (baseline == NULL) {
      continue;
    }
    size_t found = 0, improved = 0;
    for (size_t i = 0; i < current->figure_count; i++) {
      const report_figure *now = &current->figures[i];
      const report_figure *before = now->unsupported ? NULL : report_find(baseline, now->name, now->backend, now->metric);
      if (before == NULL || is_harness(now->backend)) {
        continue;
      }
      if (report_better_beyond_noise(now, before)) {
        improved++;
      }
      if (!report_better_beyond_noise(before, now)) {
        continue;
      }
      found++;
      double change = before->mean != 0 ? (now->mean - before->mean) / fabs(before->mean) * 100 : 0;
      json_array_append_new(
          rows, json_pack("{s:i, s:i, s:s, s:s, s:s, s:s, s:b, s:o, s:o, s:f, s:s}", "baseline", baseline->number,
                          "current", current->number, "benchmark", now->name, "metric", now->metric, "backend",
                          now->backend, "unit", now->unit, "higher_is_better", now->higher_is_better, "before",
                          figure_json(before), "after", figure_json(now), "change_pct", change, "rule",
                          before->has_ci && now->has_ci ? "95% intervals do not overlap" : "worse by more than 10% (n < 2)"));
    }
    json_array_append_new(pairs, json_pack("{s:i, s:i, s:s, s:f, s:I, s:I}", "baseline", baseline->number, "current",
                                           current->number, "scale", current->scale, "spans", current->spans,
                                           "regressions", (json_int_t)found, "improvements", (json_int_t)improved));
  }
  return json_pack("{s:o, s:o}", "pairs", pairs, "rows", rows);
}

/* ---- parameter sweeps ---- */

static int compare_ints(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return x < y ? -1 : x > y;
}

/* Was any iteration of (benchmark, backend) cut short by the sweep's time cap? */
static bool capped_by_time(const report_run *run, const char *benchmark, const char *backend) {
  json_t *details = json_object_get(run->root, "details");
  size_t index;
  json_t *entry;
  json_array_foreach(details, index, entry) {
    const char *name = json_string_value(json_object_get(entry, "name"));
    const char *owner = json_string_value(json_object_get(entry, "backend"));
    if (name != NULL && owner != NULL && strcmp(name, benchmark) == 0 && strcmp(owner, backend) == 0 &&
        json_is_true(json_object_get(json_object_get(entry, "figures"), "capped_by_time"))) {
      return true;
    }
  }
  return false;
}

typedef struct sweep_points {
  int best;  /* the setting with the highest mean throughput, -1 when none */
  int knee;  /* the smallest setting within noise of the best */
  int first; /* the smallest setting measured */
  double best_mean;
  double knee_mean;
  double first_mean;
} sweep_points;

static void sweep_finding(const report_run *run, const char *kind, const char *backend, const int *points,
                          size_t count, char *out, size_t out_bytes, sweep_points *found) {
  *found = (sweep_points){.best = -1, .knee = -1, .first = -1};
  char name[96], a[64], b[64], c[64];
  const report_figure *figures[MAX_POINTS] = {0};
  const report_figure *best = NULL;
  size_t best_index = 0;
  for (size_t p = 0; p < count; p++) {
    snprintf(name, sizeof name, "write/%s=%d", kind, points[p]);
    figures[p] = report_find(run, name, backend, "spans_per_second");
    if (figures[p] != NULL && (best == NULL || figures[p]->mean > best->mean)) {
      best = figures[p];
      best_index = p;
    }
  }
  const report_figure *first = NULL, *last = NULL;
  size_t first_index = 0, last_index = 0;
  for (size_t p = 0; p < count; p++) {
    if (figures[p] != NULL) {
      if (first == NULL) {
        first = figures[p];
        first_index = p;
      }
      last = figures[p];
      last_index = p;
    }
  }
  if (best == NULL) {
    snprintf(out, out_bytes, "not measured");
    return;
  }
  found->best = points[best_index];
  found->best_mean = best->mean;
  found->first = points[first_index];
  found->first_mean = first->mean;
  int used = snprintf(out, out_bytes, "from %s spans/s at %s=%d to %s spans/s at %s=%d (%.2fx); best at %s=%d (%s spans/s)",
                      report_format_number(first->mean, a, sizeof a), kind, points[first_index],
                      report_format_number(last->mean, b, sizeof b), kind, points[last_index],
                      first->mean > 0 ? last->mean / first->mean : 0, kind, points[best_index],
                      report_format_number(best->mean, c, sizeof c));
  /* The smallest setting that is not beaten by the best beyond noise. */
  for (size_t p = 0; p < count && used > 0 && (size_t)used < out_bytes; p++) {
    if (figures[p] != NULL && !report_better_beyond_noise(best, figures[p])) {
      found->knee = points[p];
      found->knee_mean = figures[p]->mean;
      if (p != best_index) {
        used += snprintf(out + used, out_bytes - (size_t)used,
                         "; %s=%d is within noise of the best (%s spans/s), so no larger setting is needed", kind,
                         points[p], report_format_number(figures[p]->mean, a, sizeof a));
      }
      break;
    }
  }
  if (used > 0 && (size_t)used < out_bytes && last != best && report_better_beyond_noise(best, last)) {
    used += snprintf(out + used, out_bytes - (size_t)used, "; at %s=%d throughput is %.0f%% below the best, beyond noise", kind,
                     points[last_index], best->mean > 0 ? (1 - last->mean / best->mean) * 100 : 0);
  }
  for (size_t p = 0; p < count && used > 0 && (size_t)used < out_bytes; p++) {
    snprintf(name, sizeof name, "write/%s=%d", kind, points[p]);
    if (figures[p] != NULL && capped_by_time(run, name, backend)) {
      snprintf(out + used, out_bytes - (size_t)used, "; at %s=%d the sweep hit its time cap (fewer spans written)",
               kind, points[p]);
      break;
    }
  }
}

json_t *report_sweep(const report_run *run, const char *kind) {
  assert(strcmp(kind, "writers") == 0 || strcmp(kind, "batch") == 0);
  char prefix[32];
  snprintf(prefix, sizeof prefix, "write/%s=", kind);
  size_t prefix_length = strlen(prefix);
  int points[MAX_POINTS];
  size_t count = 0;
  for (size_t i = 0; i < run->figure_count && count < MAX_POINTS; i++) {
    const report_figure *figure = &run->figures[i];
    if (figure->unsupported || strncmp(figure->name, prefix, prefix_length) != 0) {
      continue;
    }
    int value = report_parse_int(figure->name + prefix_length);
    bool known = false;
    for (size_t p = 0; p < count && !known; p++) {
      known = points[p] == value;
    }
    if (!known) {
      points[count++] = value;
    }
  }
  qsort(points, count, sizeof points[0], compare_ints);
  json_t *point_list = json_array(), *backends = json_array(), *findings = json_array();
  for (size_t p = 0; p < count; p++) {
    json_array_append_new(point_list, json_integer(points[p]));
  }
  for (size_t b = 0; b < run->backend_count; b++) {
    json_t *throughput = json_array(), *low = json_array(), *high = json_array(), *p99 = json_array();
    size_t measured = 0;
    for (size_t p = 0; p < count; p++) {
      char name[96];
      snprintf(name, sizeof name, "%s%d", prefix, points[p]);
      const report_figure *figure = report_find(run, name, run->backends[b], "spans_per_second");
      const report_figure *latency = report_find(run, name, run->backends[b], "batch_latency_p99_ms");
      measured += figure != NULL;
      json_array_append_new(throughput, figure != NULL ? json_real(figure->mean) : json_null());
      json_array_append_new(low, figure != NULL && figure->has_ci ? json_real(figure->ci_low) : json_null());
      json_array_append_new(high, figure != NULL && figure->has_ci ? json_real(figure->ci_high) : json_null());
      json_array_append_new(p99, latency != NULL ? json_real(latency->mean) : json_null());
    }
    if (measured == 0) {
      json_decref(throughput);
      json_decref(low);
      json_decref(high);
      json_decref(p99);
      continue;
    }
    json_array_append_new(backends, json_pack("{s:s, s:o, s:o, s:o, s:o}", "backend", run->backends[b],
                                              "spans_per_second", throughput, "ci_low", low, "ci_high", high,
                                              "batch_latency_p99_ms", p99));
    char text[TEXT_BYTES];
    sweep_points found;
    sweep_finding(run, kind, run->backends[b], points, count, text, sizeof text, &found);
    json_array_append_new(findings, json_pack("{s:s, s:s, s:i, s:f, s:i, s:f, s:i, s:f}", "backend", run->backends[b],
                                              "text", text, "best", found.best, "best_mean", found.best_mean, "knee",
                                              found.knee, "knee_mean", found.knee_mean, "first", found.first,
                                              "first_mean", found.first_mean));
  }
  return json_pack("{s:s, s:o, s:o, s:o}", "parameter", kind, "points", point_list, "backends", backends,
                   "findings", findings);
}

json_t *report_concurrency(const report_run *run) {
  json_t *rows = json_array();
  for (size_t i = 0; i < run->figure_count; i++) {
    const report_figure *figure = &run->figures[i];
    const char *clients = figure->unsupported ? NULL : strstr(figure->name, "/clients=");
    if (clients == NULL || strcmp(figure->metric, "queries_per_second") != 0) {
      continue;
    }
    char query[96];
    snprintf(query, sizeof query, "%.*s", (int)(clients - figure->name), figure->name);
    json_t *row = NULL;
    size_t index;
    json_t *existing;
    json_array_foreach(rows, index, existing) {
      if (strcmp(json_string_value(json_object_get(existing, "query")), query) == 0 &&
          strcmp(json_string_value(json_object_get(existing, "backend")), figure->backend) == 0) {
        row = existing;
      }
    }
    if (row == NULL) {
      row = json_pack("{s:s, s:s, s:[], s:[]}", "query", query, "backend", figure->backend, "clients",
                      "queries_per_second");
      json_array_append_new(rows, row);
    }
    json_array_append_new(json_object_get(row, "clients"), json_integer(report_parse_int(clients + 9)));
    json_array_append_new(json_object_get(row, "queries_per_second"), json_real(figure->mean));
  }
  return rows;
}

json_t *report_parameter_changes(const report_set *set) {
  static const char *const keys[] = {"sync_mode", "payload_bytes", "load_batch_spans", "sweep_batch_spans",
                                     "query_repetitions", "iterations", "seed"};
  json_t *groups = json_array();
  for (size_t r = 0; r < set->count; r++) {
    const report_run *first = &set->runs[r];
    bool seen = false;
    for (size_t e = 0; e < r && !seen; e++) {
      seen = set->runs[e].spans == first->spans;
    }
    if (seen) {
      continue;
    }
    json_t *members = json_array(), *differing = json_array();
    for (size_t o = r; o < set->count; o++) {
      if (set->runs[o].spans == first->spans) {
        json_array_append_new(members, json_integer(set->runs[o].number));
      }
    }
    json_t *first_parameters = json_object_get(first->root, "parameters");
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
      for (size_t o = r + 1; o < set->count; o++) {
        json_t *other = json_object_get(set->runs[o].root, "parameters");
        if (set->runs[o].spans == first->spans &&
            !json_equal(json_object_get(first_parameters, keys[k]), json_object_get(other, keys[k]))) {
          json_array_append_new(differing, json_string(keys[k]));
          break;
        }
      }
    }
    if (json_array_size(members) < 2 || json_array_size(differing) == 0) {
      json_decref(members);
      json_decref(differing);
      continue;
    }
    json_array_append_new(groups, json_pack("{s:f, s:o, s:o}", "spans", first->spans, "runs", members, "differing",
                                            differing));
  }
  return groups;
}
