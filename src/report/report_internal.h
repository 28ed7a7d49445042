/*
 * report_internal.h: the parts of `spanlab report` (docs/REPORTS.md).
 *
 *   load.c      reads and checks one results.json (errors name FILE:LINE:COL
 *               and the JSON path), indexes its benchmark entries;
 *   analysis.c  derives what the reports say (verdicts, use cases, success
 *               criteria, growth with scale, regressions, parameter sweeps) as
 *               jansson values, so the Markdown and the HTML say the same;
 *   markdown.c  summary.md, detailed.md, config-guide.md;
 *   html.c      report.html with the chart data and the inlined assets;
 *   text.c      a growable text buffer, number formatting, atomic file writes;
 *   report.c    sl_report_write.
 *
 * Ownership: a report_run owns its path copy, its jansson tree, its position
 * index and its figures array; every const char * in a report_figure points
 * into the run's tree and lives as long as the run.  Analysis functions return
 * new references the caller owns (json_decref).
 */
#ifndef SPANLAB_REPORT_INTERNAL_H
#define SPANLAB_REPORT_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/jsonpos.h"
#include "spanlab/error.h"

enum { REPORT_MAX_BACKENDS = 16 };

/* One entry of benchmarks[]: a figure across iterations, or an unsupported mark. */
typedef struct report_figure {
  const char *name;
  const char *label;
  const char *backend;
  const char *metric; /* NULL when unsupported */
  const char *unit;   /* "" when absent */
  const char *reason; /* unsupported only */
  bool unsupported;
  bool higher_is_better;
  size_t n;
  double mean;
  bool has_stdev;
  double stdev;
  bool has_ci;
  double ci_low;
  double ci_high;
  size_t index;   /* position in benchmarks[] */
  int run_number; /* the report_run's number */
} report_figure;

typedef struct report_run {
  char *path;  /* as given on the command line */
  int number;  /* 1-based, in the order given */
  json_t *root;
  sl_json_positions *positions;
  const char *scale;      /* "custom" when absent */
  const char *started_at; /* "" when absent */
  double spans;           /* dataset.spans, else parameters.spans, else 0 */
  int iterations;
  bool complete;
  report_figure *figures;
  size_t figure_count;
  /* Backends in the order of parameters.models, then as first met in benchmarks[]. */
  const char *backends[REPORT_MAX_BACKENDS];
  size_t backend_count;
} report_run;

/* The runs of one report, in the order given. primary: the run the summary is
 * about (the most spans; among equals the latest started, then the last given). */
typedef struct report_set {
  report_run *runs;
  size_t count;
  size_t primary;
} report_set;

/* ---- load.c ---- */
sl_status report_run_load(report_run *run, const char *path, int number, sl_error *err);
void report_run_free(report_run *run);

/* ---- text.c ---- */
typedef struct report_text {
  char *data; /* owned, NUL-terminated */
  size_t length;
  size_t capacity;
  bool out_of_memory;
} report_text;

void report_text_printf(report_text *text, const char *format, ...) __attribute__((format(printf, 2, 3)));
void report_text_append(report_text *text, const char *bytes, size_t size_bytes);
/* Writes dir/name through a temporary file and a rename. */
sl_status report_text_save(const report_text *text, const char *dir, const char *name, sl_error *err);
void report_text_free(report_text *text);

/* For people: 81,234 / 12.35 / 0.1234 (4 significant digits below 1,000). */
const char *report_format_number(double value, char *out, size_t out_bytes);
/* For people, with the unit: bytes as KB/MB/GB (10^3 steps), ratios as %, else "N unit". */
const char *report_format_value(double value, const char *unit, char *out, size_t out_bytes);
/* Exact enough to check by hand: %.6g. */
const char *report_format_exact(double value, char *out, size_t out_bytes);
/* "[low, high]" with report_format_number, or "n < 2". */
const char *report_format_interval(const report_figure *figure, char *out, size_t out_bytes);

/* ---- analysis.c ---- */
/* The decimal number text starts with ("100" of "write/batch=100"), or -1. */
int report_parse_int(const char *text);
const report_figure *report_find(const report_run *run, const char *name, const char *backend,
                                 const char *metric);
/* The unsupported entry of (name, backend), or NULL. */
const report_figure *report_find_unsupported(const report_run *run, const char *name, const char *backend);
/* Why backend has no figure for benchmark name (NULL: any): its own reason,
 * any reason it gave in the run, or that it was not run. */
const char *report_missing_reason(const report_run *run, const char *name, const char *backend);
/* "model" (stream, trace), "harness" (null: stores nothing), else "baseline". */
const char *report_backend_role(const char *backend);
/* a is better than b beyond the 95% intervals (both n >= 2), or, when either
 * has n < 2, by more than 10% of b's mean. */
bool report_better_beyond_noise(const report_figure *a, const report_figure *b);
/* How many times better a is than b (>= 1 when a is better): higher-is-better
 * a/b, else b/a; 0 when undefined. */
double report_factor(const report_figure *a, const report_figure *b);
/* The benchmarks[]-level comparison object for (benchmark, metric) between
 * backends a and b in either order, or NULL (borrowed from the run's tree). */
json_t *report_comparison(const report_run *run, const char *benchmark, const char *metric, const char *a,
                          const char *b);

json_t *report_runs_overview(const report_set *set);
json_t *report_verdicts(const report_run *run);
json_t *report_use_cases(const report_run *run);
json_t *report_criteria(const report_run *run);
json_t *report_scale_growth(const report_set *set);
json_t *report_regressions(const report_set *set);
/* kind: "writers" or "batch": {"parameter", "points": [N...], "backends": [{"backend",
 * "spans_per_second": [...], "ci_low": [...], "ci_high": [...], "batch_latency_p99_ms": [...]}],
 * "findings": [{"backend", "text"}]}. */
json_t *report_sweep(const report_run *run, const char *kind);
/* queries/s against client count per query class and backend. */
json_t *report_concurrency(const report_run *run);
/* Runs of one scale whose parameters differ: which parameter moved which headline figure. */
json_t *report_parameter_changes(const report_set *set);

/* ---- markdown.c ---- */
sl_status report_write_summary(const report_set *set, const char *out_dir, sl_error *err);
sl_status report_write_detailed(const report_set *set, const char *out_dir, sl_error *err);
sl_status report_write_config_guide(const report_set *set, const char *out_dir, sl_error *err);

/* ---- html.c ---- */
sl_status report_write_html(const report_set *set, const char *out_dir, sl_error *err);

#endif
