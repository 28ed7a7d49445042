/* markdown.c: summary.md, detailed.md and config-guide.md (docs/REPORTS.md). */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/report_internal.h"

enum { CELL_BYTES = 1024 };

/* Appends text with '|' escaped, so it stays inside one table cell. */
static void cell(report_text *out, const char *text) {
  for (const char *c = text; *c != '\0'; c++) {
    if (*c == '|') {
      report_text_append(out, "\\|", 2);
    } else if (*c == '\n') {
      report_text_append(out, " ", 1);
    } else {
      report_text_append(out, c, 1);
    }
  }
}

static const char *text_of(json_t *object, const char *key) {
  const char *value = json_string_value(json_object_get(object, key));
  return value != NULL ? value : "";
}

static double number_of(json_t *object, const char *key) { return json_number_value(json_object_get(object, key)); }

/* "81,234 [77,693, 85,130]" (units applied), "unsupported", "not measured". */
static const char *figure_cell(json_t *figure, const char *unit, char *out, size_t out_bytes) {
  if (json_is_true(json_object_get(figure, "unsupported"))) {
    snprintf(out, out_bytes, "unsupported");
  } else if (json_is_true(json_object_get(figure, "absent"))) {
    snprintf(out, out_bytes, "not measured");
  } else {
    char mean[64], low[64], high[64];
    json_t *ci = json_object_get(figure, "ci95");
    report_format_value(number_of(figure, "mean"), unit, mean, sizeof mean);
    if (json_is_array(ci)) {
      /* Bytes and ratios carry their scale in every bound; other units only after the mean. */
      bool scaled = strcmp(unit, "bytes") == 0 || strcmp(unit, "ratio") == 0;
      double low_value = json_number_value(json_array_get(ci, 0)), high_value = json_number_value(json_array_get(ci, 1));
      snprintf(out, out_bytes, "%s [%s, %s]", mean,
               scaled ? report_format_value(low_value, unit, low, sizeof low) : report_format_number(low_value, low, sizeof low),
               scaled ? report_format_value(high_value, unit, high, sizeof high)
                      : report_format_number(high_value, high, sizeof high));
    } else {
      snprintf(out, out_bytes, "%s (n < 2)", mean);
    }
  }
  return out;
}

/* figure_cell for a report_figure. */
static const char *report_figure_text(const report_figure *figure, char *out, size_t out_bytes) {
  json_t *json = json_pack("{s:f, s:o}", "mean", figure->mean, "ci95",
                           figure->has_ci ? json_pack("[f, f]", figure->ci_low, figure->ci_high) : json_null());
  figure_cell(json, figure->unit, out, out_bytes);
  json_decref(json);
  return out;
}

static const char *metric_heading(json_t *row, char *out, size_t out_bytes) {
  const char *unit = text_of(row, "unit");
  snprintf(out, out_bytes, "%s (%s%s%s)", text_of(row, "metric"), unit, unit[0] ? ", " : "",
           json_is_true(json_object_get(row, "higher_is_better")) ? "higher is better" : "lower is better");
  return out;
}

static void run_line(report_text *out, const report_run *run) {
  char spans[64];
  report_text_printf(out, "run %d (`%s`: %s scale, %s spans, %d iteration%s%s%s%s)", run->number, run->path,
                     run->scale, report_format_number(run->spans, spans, sizeof spans), run->iterations,
                     run->iterations == 1 ? "" : "s", run->started_at[0] ? ", started " : "", run->started_at,
                     run->complete ? "" : ", INCOMPLETE: the run did not finish");
}

static void runs_table(report_text *out, const report_set *set) {
  json_t *runs = report_runs_overview(set);
  report_text_printf(out, "| run | file | scale | spans | iterations | started | complete | sync mode | commit | backends |\n"
                          "|---|---|---|---:|---:|---|---|---|---|---|\n");
  size_t index;
  json_t *run;
  json_array_foreach(runs, index, run) {
    char spans[64];
    report_text_printf(out, "| %lld%s | `", (long long)json_integer_value(json_object_get(run, "number")),
                       json_is_true(json_object_get(run, "primary")) ? " (summarised)" : "");
    cell(out, text_of(run, "path"));
    report_text_printf(out, "` | %s | %s | %lld | %s | %s | %s | %.12s | ", text_of(run, "scale"),
                       report_format_number(number_of(run, "spans"), spans, sizeof spans),
                       (long long)json_integer_value(json_object_get(run, "iterations")), text_of(run, "started_at"),
                       json_is_true(json_object_get(run, "complete")) ? "yes" : "no", text_of(run, "sync_mode"),
                       text_of(run, "git_commit"));
    size_t b;
    json_t *backend;
    json_array_foreach(json_object_get(run, "backends"), b, backend) {
      report_text_printf(out, "%s%s (%s)", b ? ", " : "", text_of(backend, "name"), text_of(backend, "role"));
    }
    report_text_printf(out, " |\n");
  }
  json_decref(runs);
}

/* ---- summary.md ---- */

static void verdict_text(report_text *out, json_t *row) {
  json_t *best = json_object_get(row, "best");
  json_int_t measured = json_integer_value(json_object_get(row, "measured"));
  if (json_is_true(json_object_get(row, "tie"))) {
    report_text_printf(out, "no difference: every backend's mean is the same");
    return;
  }
  if (!json_is_string(best)) {
    size_t index;
    json_t *c;
    json_array_foreach(json_object_get(row, "cells"), index, c) {
      if (json_object_get(c, "mean") != NULL) {
        report_text_printf(out, "only %s measured", text_of(c, "backend"));
      }
    }
    if (measured == 0) {
      report_text_printf(out, "not measured");
    }
    return;
  }
  report_text_printf(out, "**%s** best", json_string_value(best));
  size_t index;
  json_t *other;
  json_array_foreach(json_object_get(row, "against"), index, other) {
    bool significant = json_is_true(json_object_get(other, "significant"));
    double factor = number_of(other, "factor");
    if (factor > 0) {
      report_text_printf(out, "; vs %s: %.2fx better%s (%s)", text_of(other, "backend"), factor,
                         significant ? "" : ", no significant difference", text_of(other, "why"));
    } else { /* a mean of 0 on one side: no finite factor */
      report_text_printf(out, "; vs %s: better (no factor: a mean of 0)%s (%s)", text_of(other, "backend"),
                         significant ? "" : ", no significant difference", text_of(other, "why"));
    }
  }
}

static void summary_verdicts(report_text *out, const report_run *run) {
  json_t *rows = report_verdicts(run);
  report_text_printf(out, "## Who wins what\n\nHeadline figures of run %d, mean [95%% CI]. A winner is named only "
                          "where the results' `comparisons` say the two 95%% intervals do not overlap; \"n < 2\" means "
                          "too few iterations to tell. Every figure is in detailed.md.\n\n",
                     run->number);
  if (json_array_size(rows) == 0) {
    report_text_printf(out, "No headline figure was measured on any backend.\n\n");
    json_decref(rows);
    return;
  }
  json_t *first_cells = json_object_get(json_array_get(rows, 0), "cells");
  report_text_printf(out, "| benchmark | metric |");
  size_t index;
  json_t *c;
  json_array_foreach(first_cells, index, c) { report_text_printf(out, " %s |", text_of(c, "backend")); }
  report_text_printf(out, " verdict |\n|---|---|");
  json_array_foreach(first_cells, index, c) { report_text_printf(out, "---:|"); }
  report_text_printf(out, "---|\n");
  json_t *row;
  int wins[REPORT_MAX_BACKENDS + 2] = {0};
  int ties = 0, single = 0;
  json_array_foreach(rows, index, row) {
    char text[CELL_BYTES];
    report_text_printf(out, "| %s | %s |", text_of(row, "benchmark"), metric_heading(row, text, sizeof text));
    size_t b;
    json_array_foreach(json_object_get(row, "cells"), b, c) {
      report_text_printf(out, " %s |", figure_cell(c, text_of(row, "unit"), text, sizeof text));
    }
    report_text_printf(out, " ");
    verdict_text(out, row);
    report_text_printf(out, " |\n");
    json_t *best = json_object_get(row, "best");
    if (!json_is_string(best)) {
      single++;
      continue;
    }
    bool all_significant = true;
    json_t *other;
    json_array_foreach(json_object_get(row, "against"), b, other) {
      all_significant = all_significant && json_is_true(json_object_get(other, "significant"));
    }
    if (!all_significant) {
      ties++;
      continue;
    }
    json_array_foreach(first_cells, b, c) {
      if (strcmp(text_of(c, "backend"), json_string_value(best)) == 0 && b < REPORT_MAX_BACKENDS + 2) {
        wins[b]++;
      }
    }
  }
  report_text_printf(out, "\nClear wins (better than every other backend beyond the intervals):");
  json_array_foreach(first_cells, index, c) {
    report_text_printf(out, "%s %s %d", index ? "," : "", text_of(c, "backend"), index < REPORT_MAX_BACKENDS + 2 ? wins[index] : 0);
  }
  report_text_printf(out, "; no clear winner: %d; one backend or none measured: %d.\n\n", ties, single);
  json_decref(rows);
}

static void summary_use_cases(report_text *out, const report_run *run) {
  json_t *rows = report_use_cases(run);
  report_text_printf(out,
                     "## Recommendations by use case\n\n"
                     "Per use case, each backend's figure is its best answer to each question (stream- or "
                     "trace-subject form), combined by geometric mean; a backend that did not answer every "
                     "question is not ranked. Confidence counts the questions in which the recommended backend "
                     "beats the runner-up beyond the 95%% intervals (or by more than 10%% when n < 2).\n\n"
                     "| use case | questions | recommended | figure | runner-up | confidence | stream vs trace |\n"
                     "|---|---|---|---|---|---|---|\n");
  size_t index;
  json_t *row;
  json_array_foreach(rows, index, row) {
    char a[64], b[64];
    const char *unit = text_of(row, "unit");
    report_text_printf(out, "| %s | ", text_of(row, "use_case"));
    size_t q;
    json_t *question;
    json_array_foreach(json_object_get(row, "questions"), q, question) {
      report_text_printf(out, "%s%s", q ? "; " : "", json_string_value(question));
    }
    size_t question_total = json_array_size(json_object_get(row, "questions"));
    json_t *recommended = json_object_get(row, "recommended");
    if (!json_is_string(recommended)) {
      report_text_printf(out, " | none | - | - | no backend answered every question |");
    } else {
      report_text_printf(out, " | **%s** | %s %s%s | ", json_string_value(recommended), text_of(row, "measure"),
                         report_format_value(number_of(row, "score"), unit, a, sizeof a),
                         question_total > 1 ? " (geometric mean)" : "");
      if (json_object_get(row, "runner_up") != NULL) {
        json_int_t significant = json_integer_value(json_object_get(row, "significant_questions"));
        report_text_printf(out, "%s: %s, %.2fx worse | %s %lld of %zu question%s |", text_of(row, "runner_up"),
                           report_format_value(number_of(row, "runner_up_score"), unit, b, sizeof b),
                           number_of(row, "factor"),
                           significant == 0 ? "no significant difference:" : "beyond noise",
                           (long long)significant, question_total, question_total == 1 ? "" : "s");
      } else {
        report_text_printf(out, "none: the only backend that answered | one backend measured |");
      }
    }
    json_t *choice = json_object_get(row, "model_choice");
    if (choice != NULL) {
      json_int_t significant = json_integer_value(json_object_get(choice, "significant_questions"));
      report_text_printf(out, " %s, %.2fx better; %s %lld of %zu |\n", text_of(choice, "backend"),
                         number_of(choice, "factor"), significant > 0 ? "beyond noise in" : "no significant difference:",
                         (long long)significant, question_total);
    } else {
      report_text_printf(out, " not comparable:");
      size_t c, said = 0;
      json_t *entry;
      json_array_foreach(json_object_get(row, "backends"), c, entry) {
        if (strcmp(report_backend_role(text_of(entry, "backend")), "model") == 0 && json_object_get(entry, "reason") != NULL) {
          report_text_printf(out, "%s %s answered %lld of %zu (", said++ ? ";" : "", text_of(entry, "backend"),
                             (long long)json_integer_value(json_object_get(entry, "answered")), question_total);
          cell(out, text_of(entry, "reason"));
          report_text_printf(out, ")");
        }
      }
      report_text_printf(out, " |\n");
    }
  }
  report_text_printf(out, "\n");
  json_decref(rows);
}

static void summary_criteria(report_text *out, const report_run *run) {
  json_t *rows = report_criteria(run);
  report_text_printf(out,
                     "## Success criteria of the seed\n\n"
                     "pass: the whole 95%% interval is on the right side of the threshold; fail: the whole interval "
                     "is on the wrong side; inconclusive: it straddles the threshold; n < 2: judged on the mean. "
                     "A criterion stated for medium scale is shown only by a run of at least 10,000,000 spans, "
                     "simple-query latency by one of at least 100,000 (small scale); otherwise the row says "
                     "\"not shown\" and what the figure would give. 8 GB = 8,000,000,000 bytes.\n\n"
                     "| criterion | backend | measured | 95%% CI | result |\n|---|---|---:|---|---|\n");
  size_t index;
  json_t *row;
  json_array_foreach(rows, index, row) {
    report_text_printf(out, "| %s | %s | ", text_of(row, "criterion"), text_of(row, "backend"));
    if (json_object_get(row, "mean") != NULL) {
      char mean[64], low[64], high[64];
      const char *unit = text_of(row, "unit");
      json_t *ci = json_object_get(row, "ci95");
      report_text_printf(out, "%s (%s) | ", report_format_value(number_of(row, "mean"), unit, mean, sizeof mean),
                         text_of(row, "benchmark"));
      if (json_is_array(ci)) {
        report_text_printf(out, "[%s, %s] | ",
                           report_format_value(json_number_value(json_array_get(ci, 0)), unit, low, sizeof low),
                           report_format_value(json_number_value(json_array_get(ci, 1)), unit, high, sizeof high));
      } else {
        report_text_printf(out, "n < 2 | ");
      }
    } else {
      report_text_printf(out, "- | - | ");
    }
    const char *result = text_of(row, "result");
    if (strcmp(result, "pass") == 0 || strcmp(result, "fail") == 0) {
      report_text_printf(out, "**%s** |\n", result);
    } else {
      cell(out, result);
      if (json_object_get(row, "would_be") != NULL) {
        report_text_printf(out, " (would be: %s)", text_of(row, "would_be"));
      }
      report_text_printf(out, " |\n");
    }
  }
  report_text_printf(out, "\n");
  json_decref(rows);
}

static void growth_table(report_text *out, const report_set *set, bool headline_only) {
  json_t *growth = report_scale_growth(set);
  json_t *points = json_object_get(growth, "points");
  json_t *rows = json_object_get(growth, "rows");
  if (json_array_size(points) < 2) {
    char spans[64];
    report_text_printf(out, "One scale only (%s spans): growth with scale needs results at two or more dataset sizes.\n\n",
                       report_format_number(json_array_size(points) ? number_of(json_array_get(points, 0), "spans") : 0,
                                            spans, sizeof spans));
    json_decref(growth);
    return;
  }
  report_text_printf(out, "Means by dataset size (the latest run of each size); the last column is the last size's "
                          "figure over the first's, against %.4gx the spans.\n\n| benchmark | metric | backend |",
                     number_of(json_array_get(points, json_array_size(points) - 1), "spans") /
                         number_of(json_array_get(points, 0), "spans"));
  size_t index;
  json_t *point;
  json_array_foreach(points, index, point) {
    char spans[64];
    report_text_printf(out, " %s spans (run %lld) |", report_format_number(number_of(point, "spans"), spans, sizeof spans),
                       (long long)json_integer_value(json_object_get(point, "run")));
  }
  report_text_printf(out, " last / first |\n|---|---|---|");
  json_array_foreach(points, index, point) { report_text_printf(out, "---:|"); }
  report_text_printf(out, "---:|\n");
  json_t *row;
  json_array_foreach(rows, index, row) {
    if (headline_only && !json_is_true(json_object_get(row, "headline"))) {
      continue;
    }
    report_text_printf(out, "| %s | %s | %s |", text_of(row, "benchmark"), text_of(row, "metric"), text_of(row, "backend"));
    json_t *values = json_object_get(row, "values");
    size_t v;
    json_t *value;
    json_array_foreach(values, v, value) {
      char text[64];
      report_text_printf(out, " %s |", json_is_number(value) ? report_format_value(json_number_value(value),
                                                                                  text_of(row, "unit"), text, sizeof text)
                                                             : "-");
    }
    json_t *first = json_array_get(values, 0), *last = json_array_get(values, json_array_size(values) - 1);
    if (json_is_number(first) && json_is_number(last) && json_number_value(first) != 0) {
      report_text_printf(out, " %.3gx |\n", json_number_value(last) / json_number_value(first));
    } else {
      report_text_printf(out, " - |\n");
    }
  }
  report_text_printf(out, "\n");
  json_decref(growth);
}

static void regressions_section(report_text *out, const report_set *set) {
  json_t *regressions = report_regressions(set);
  report_text_printf(out,
                     "## Regressions\n\n"
                     "Each run is compared with the run of the same scale and dataset size started just before it. "
                     "A figure is a regression when it is worse beyond both 95%% intervals (the intervals do not "
                     "overlap), or, when either run has n < 2, worse by more than 10%% of the earlier mean. The "
                     "harness backend (null) is left out.\n\n");
  json_t *pairs = json_object_get(regressions, "pairs");
  if (json_array_size(pairs) == 0) {
    report_text_printf(out, "No two runs of the same scale: nothing to compare.\n\n");
    json_decref(regressions);
    return;
  }
  size_t index;
  json_t *pair;
  json_array_foreach(pairs, index, pair) {
    char spans[64];
    report_text_printf(out, "- run %lld against run %lld (%s, %s spans): %lld regression%s, %lld improvement%s.\n",
                       (long long)json_integer_value(json_object_get(pair, "current")),
                       (long long)json_integer_value(json_object_get(pair, "baseline")), text_of(pair, "scale"),
                       report_format_number(number_of(pair, "spans"), spans, sizeof spans),
                       (long long)json_integer_value(json_object_get(pair, "regressions")),
                       json_integer_value(json_object_get(pair, "regressions")) == 1 ? "" : "s",
                       (long long)json_integer_value(json_object_get(pair, "improvements")),
                       json_integer_value(json_object_get(pair, "improvements")) == 1 ? "" : "s");
  }
  json_t *rows = json_object_get(regressions, "rows");
  if (json_array_size(rows) > 0) {
    report_text_printf(out, "\n| run | against | benchmark | metric | backend | before | after | change | rule |\n"
                            "|---:|---:|---|---|---|---:|---:|---:|---|\n");
    json_t *row;
    json_array_foreach(rows, index, row) {
      char before[CELL_BYTES], after[CELL_BYTES];
      report_text_printf(out, "| %lld | %lld | %s | %s | %s | %s | %s | %+.1f%% | %s |\n",
                         (long long)json_integer_value(json_object_get(row, "current")),
                         (long long)json_integer_value(json_object_get(row, "baseline")), text_of(row, "benchmark"),
                         text_of(row, "metric"), text_of(row, "backend"),
                         figure_cell(json_object_get(row, "before"), text_of(row, "unit"), before, sizeof before),
                         figure_cell(json_object_get(row, "after"), text_of(row, "unit"), after, sizeof after),
                         number_of(row, "change_pct"), text_of(row, "rule"));
    }
  }
  report_text_printf(out, "\n");
  json_decref(regressions);
}

sl_status report_write_summary(const report_set *set, const char *out_dir, sl_error *err) {
  assert(set != NULL && set->count > 0);
  const report_run *run = &set->runs[set->primary];
  report_text out = {0};
  report_text_printf(&out, "# spanlab report: summary\n\nBuilt from %zu results file%s. This summary speaks of ",
                     set->count, set->count == 1 ? "" : "s");
  run_line(&out, run);
  /* The roles of the run's own backends (a baseline the run did not measure is not named). */
  char baselines[256] = "";
  size_t baseline_count = 0;
  bool has_null = false;
  for (size_t b = 0; b < run->backend_count; b++) {
    const char *role = report_backend_role(run->backends[b]);
    has_null = has_null || strcmp(role, "harness") == 0;
    if (strcmp(role, "baseline") == 0) {
      size_t used = strlen(baselines);
      snprintf(baselines + used, sizeof baselines - used, "%s%s", baseline_count > 0 ? " and " : "", run->backends[b]);
      baseline_count++;
    }
  }
  report_text_printf(&out, ".\n\nstream and trace are BanyanDB's two storage models (embedded engines)");
  if (baseline_count > 0) {
    report_text_printf(&out, "; %s %s %s a user would otherwise pick", baselines, baseline_count == 1 ? "is" : "are",
                       baseline_count == 1 ? "the baseline" : "baselines");
  }
  if (has_null) {
    report_text_printf(&out, "; null stores nothing and measures the harness, so it is left out of verdicts and "
                             "recommendations");
  }
  report_text_printf(&out, ".\n");
  const report_figure *ceiling = report_find(run, "write/sequential", "null", "spans_per_second");
  if (ceiling != NULL) {
    char text[64];
    report_text_printf(&out, "Harness ceiling (null, write/sequential): %s: no backend can be measured faster than this.\n",
                       report_format_value(ceiling->mean, ceiling->unit, text, sizeof text));
  }
  report_text_printf(&out, "\n## Runs\n\n");
  runs_table(&out, set);
  report_text_printf(&out, "\n");
  summary_verdicts(&out, run);
  summary_use_cases(&out, run);
  summary_criteria(&out, run);
  report_text_printf(&out, "## Growth with scale\n\n");
  growth_table(&out, set, true);
  regressions_section(&out, set);
  report_text_printf(&out, "## More\n\ndetailed.md: every figure with mean, stdev, 95%% CI and n. config-guide.md: the "
                           "configurations measured and what each parameter moved. report.html: the charts.\n");
  sl_status status = report_text_save(&out, out_dir, "summary.md", err);
  report_text_free(&out);
  return status;
}

/* ---- detailed.md ---- */

static void detailed_run(report_text *out, const report_run *run) {
  report_text_printf(out, "## Run %d: `%s`\n\n", run->number, run->path);
  json_t *environment = json_object_get(run->root, "environment");
  char spans[64], memory[64];
  report_text_printf(out, "%s scale, %s spans, %d iterations, started %s%s. Machine: %s, %lld cores, %s memory, %s, %s; "
                          "commit %s%s.\n\n",
                     run->scale, report_format_number(run->spans, spans, sizeof spans), run->iterations,
                     run->started_at[0] ? run->started_at : "(unknown)", run->complete ? "" : ", INCOMPLETE",
                     text_of(environment, "cpu_model"), (long long)json_integer_value(json_object_get(environment, "cores")),
                     report_format_value(number_of(environment, "memory_bytes"), "bytes", memory, sizeof memory),
                     text_of(environment, "kernel"), text_of(environment, "compiler"),
                     json_is_string(json_object_get(environment, "git_commit")) ? text_of(environment, "git_commit") : "unknown",
                     json_is_true(json_object_get(environment, "git_dirty")) ? " (with uncommitted changes)" : "");
  const char *labels[32];
  size_t label_count = 0;
  for (size_t i = 0; i < run->figure_count; i++) {
    bool known = false;
    for (size_t l = 0; l < label_count && !known; l++) {
      known = strcmp(labels[l], run->figures[i].label) == 0;
    }
    if (!known && label_count < 32) {
      labels[label_count++] = run->figures[i].label;
    }
  }
  json_t *benchmarks = json_object_get(run->root, "benchmarks");
  for (size_t l = 0; l < label_count; l++) {
    report_text_printf(out, "### %s\n\n| benchmark | metric | backend | unit | mean | stdev | 95%% CI | n | values |\n"
                            "|---|---|---|---|---:|---:|---|---:|---|\n",
                       labels[l][0] ? labels[l] : "(no label)");
    for (size_t i = 0; i < run->figure_count; i++) {
      const report_figure *f = &run->figures[i];
      if (f->unsupported || strcmp(f->label, labels[l]) != 0) {
        continue;
      }
      char mean[64], stdev[64], low[64], high[64];
      report_text_printf(out, "| %s | %s | %s | %s | %s | %s | ", f->name, f->metric, f->backend, f->unit,
                         report_format_exact(f->mean, mean, sizeof mean),
                         f->has_stdev ? report_format_exact(f->stdev, stdev, sizeof stdev) : "-");
      if (f->has_ci) {
        report_text_printf(out, "[%s, %s] | ", report_format_exact(f->ci_low, low, sizeof low),
                           report_format_exact(f->ci_high, high, sizeof high));
      } else {
        report_text_printf(out, "- | ");
      }
      report_text_printf(out, "%zu | ", f->n);
      size_t v;
      json_t *value;
      json_array_foreach(json_object_get(json_array_get(benchmarks, f->index), "values"), v, value) {
        char text[64];
        report_text_printf(out, "%s%s", v ? ", " : "",
                           json_is_number(value) ? report_format_exact(json_number_value(value), text, sizeof text) : "null");
      }
      report_text_printf(out, " |\n");
    }
    report_text_printf(out, "\n");
  }
  report_text_printf(out, "### Unsupported\n\n");
  size_t unsupported = 0;
  for (size_t i = 0; i < run->figure_count; i++) {
    unsupported += run->figures[i].unsupported;
  }
  if (unsupported == 0) {
    report_text_printf(out, "None: every backend answered every benchmark it was given.\n\n");
  } else {
    report_text_printf(out, "| benchmark | backend | reason |\n|---|---|---|\n");
    for (size_t i = 0; i < run->figure_count; i++) {
      const report_figure *f = &run->figures[i];
      if (f->unsupported) {
        report_text_printf(out, "| %s | %s | ", f->name, f->backend);
        cell(out, f->reason);
        report_text_printf(out, " |\n");
      }
    }
    report_text_printf(out, "\n");
  }
  json_t *comparisons = json_object_get(run->root, "comparisons");
  report_text_printf(out, "### Comparisons\n\n");
  if (json_array_size(comparisons) == 0) {
    report_text_printf(out, "None: no figure was measured on two backends.\n\n");
  } else {
    report_text_printf(out, "As the results file states them (`winner` only where the 95%% intervals do not overlap).\n\n"
                            "| benchmark | metric | a | b | winner | a / b | verdict |\n|---|---|---|---|---|---:|---|\n");
    size_t index;
    json_t *c;
    json_array_foreach(comparisons, index, c) {
      char ratio[64];
      report_text_printf(out, "| %s | %s | %s | %s | %s | %s | ", text_of(c, "benchmark"), text_of(c, "metric"),
                         text_of(c, "a"), text_of(c, "b"),
                         json_is_string(json_object_get(c, "winner")) ? text_of(c, "winner") : "-",
                         report_format_exact(number_of(c, "ratio_a_over_b"), ratio, sizeof ratio));
      cell(out, text_of(c, "verdict"));
      report_text_printf(out, " |\n");
    }
    report_text_printf(out, "\n");
  }
  json_t *consistency = json_object_get(run->root, "consistency");
  report_text_printf(out, "### Consistency\n\n");
  if (consistency == NULL) {
    report_text_printf(out, "Not checked in this run.\n\n");
  } else {
    report_text_printf(out, "%lld answers checked against the reference evaluator, %lld mismatches.\n\n",
                       (long long)json_integer_value(json_object_get(consistency, "checked")),
                       (long long)json_integer_value(json_object_get(consistency, "mismatches")));
    json_t *stores = json_object_get(consistency, "stores");
    if (json_array_size(stores) > 0) {
      report_text_printf(out, "| backend | iteration | spans stored | expected | checksum matches |\n|---|---:|---:|---:|---|\n");
      size_t index;
      json_t *store;
      json_array_foreach(stores, index, store) {
        report_text_printf(out, "| %s | %lld | %lld | %lld | %s |\n", text_of(store, "backend"),
                           (long long)json_integer_value(json_object_get(store, "iteration")),
                           (long long)json_integer_value(json_object_get(store, "spans_stored")),
                           (long long)json_integer_value(json_object_get(store, "spans_expected")),
                           json_is_true(json_object_get(store, "matches_manifest")) ? "yes" : "NO");
      }
      report_text_printf(out, "\n");
    }
  }
}

sl_status report_write_detailed(const report_set *set, const char *out_dir, sl_error *err) {
  assert(set != NULL);
  report_text out = {0};
  report_text_printf(&out, "# spanlab report: every figure\n\nEach benchmark entry of each results file: mean, sample "
                           "standard deviation, 95%% confidence interval of the mean (Student's t) and n, the "
                           "iterations that produced the figure, then each iteration's value. \"-\" where n < 2.\n\n");
  for (size_t r = 0; r < set->count; r++) {
    detailed_run(&out, &set->runs[r]);
  }
  if (set->count > 1) {
    report_text_printf(&out, "## Growth with scale, every figure\n\n");
    growth_table(&out, set, false);
  }
  sl_status status = report_text_save(&out, out_dir, "detailed.md", err);
  report_text_free(&out);
  return status;
}

/* ---- config-guide.md ---- */

static void parameter_value(report_text *out, json_t *value) {
  if (value == NULL) {
    report_text_printf(out, "-");
  } else if (json_is_string(value)) {
    cell(out, json_string_value(value));
  } else if (json_is_array(value)) {
    size_t index;
    json_t *element;
    json_array_foreach(value, index, element) {
      report_text_printf(out, "%s", index ? ", " : "");
      parameter_value(out, element);
    }
  } else if (json_is_integer(value)) {
    report_text_printf(out, "%lld", (long long)json_integer_value(value));
  } else if (json_is_number(value)) {
    char text[64];
    report_text_printf(out, "%s", report_format_exact(json_number_value(value), text, sizeof text));
  } else if (json_is_boolean(value)) {
    report_text_printf(out, "%s", json_is_true(value) ? "true" : "false");
  } else {
    report_text_printf(out, "null");
  }
}

static void configurations(report_text *out, const report_set *set) {
  static const struct {
    const char *key;
    const char *meaning;
  } parameters[] = {
      {"scale", "profile"}, {"spans", "spans generated"}, {"services", "services"}, {"instances", "service instances"},
      {"time_range_ms", "time range (ms)"}, {"payload_bytes", "mean dataBinary bytes"}, {"seed", "generator seed"},
      {"models", "backends"}, {"labels", "labels run"}, {"focus", "benchmark filter"}, {"iterations", "iterations"},
      {"writers", "concurrent writers swept"}, {"batch_sizes", "batch sizes swept (spans)"},
      {"sync_mode", "WAL sync mode"}, {"load_batch_spans", "sequential load batch (spans)"},
      {"sweep_batch_spans", "writer sweep batch (spans)"}, {"sweep_max_spans", "spans per sweep point, at most"},
      {"sweep_max_seconds", "seconds per sweep point, at most"}, {"query_repetitions", "warm repetitions per query"},
      {"query_max_seconds", "seconds per query benchmark, at most"},
      {"query_concurrency", "concurrent query clients"},
  };
  report_text_printf(out, "## Configurations measured\n\n| parameter | meaning |");
  for (size_t r = 0; r < set->count; r++) {
    report_text_printf(out, " run %d |", set->runs[r].number);
  }
  report_text_printf(out, "\n|---|---|");
  for (size_t r = 0; r < set->count; r++) {
    report_text_printf(out, "---|");
  }
  report_text_printf(out, "\n");
  for (size_t p = 0; p < sizeof parameters / sizeof parameters[0]; p++) {
    report_text_printf(out, "| %s | %s |", parameters[p].key, parameters[p].meaning);
    for (size_t r = 0; r < set->count; r++) {
      report_text_printf(out, " ");
      parameter_value(out, json_object_get(json_object_get(set->runs[r].root, "parameters"), parameters[p].key));
      report_text_printf(out, " |");
    }
    report_text_printf(out, "\n");
  }
  report_text_printf(out, "\n");
}

static void sweep_section(report_text *out, const report_run *run, const char *kind, const char *title,
                          const char *column) {
  json_t *sweep = report_sweep(run, kind);
  json_t *points = json_object_get(sweep, "points");
  json_t *backends = json_object_get(sweep, "backends");
  report_text_printf(out, "### %s\n\n", title);
  if (json_array_size(backends) == 0) {
    report_text_printf(out, "Not measured in run %d (no write/%s=N benchmarks).\n\n", run->number, kind);
    json_decref(sweep);
    return;
  }
  report_text_printf(out, "write/%s=N: spans/s, mean [95%% CI], and the P99 latency of one batch.\n\n| %s |", kind, column);
  size_t index;
  json_t *backend;
  json_array_foreach(backends, index, backend) {
    report_text_printf(out, " %s spans/s | %s batch P99 |", text_of(backend, "backend"), text_of(backend, "backend"));
  }
  report_text_printf(out, "\n|---:|");
  json_array_foreach(backends, index, backend) { report_text_printf(out, "---:|---:|"); }
  report_text_printf(out, "\n");
  size_t p;
  json_t *point;
  json_array_foreach(points, p, point) {
    report_text_printf(out, "| %lld |", (long long)json_integer_value(point));
    json_array_foreach(backends, index, backend) {
      json_t *mean = json_array_get(json_object_get(backend, "spans_per_second"), p);
      json_t *low = json_array_get(json_object_get(backend, "ci_low"), p);
      json_t *high = json_array_get(json_object_get(backend, "ci_high"), p);
      json_t *p99 = json_array_get(json_object_get(backend, "batch_latency_p99_ms"), p);
      char a[64], b[64], c[64], d[64];
      if (json_is_number(mean) && json_is_number(low)) {
        report_text_printf(out, " %s [%s, %s] |", report_format_number(json_number_value(mean), a, sizeof a),
                           report_format_number(json_number_value(low), b, sizeof b),
                           report_format_number(json_number_value(high), c, sizeof c));
      } else if (json_is_number(mean)) {
        report_text_printf(out, " %s (n < 2) |", report_format_number(json_number_value(mean), a, sizeof a));
      } else {
        report_text_printf(out, " - |");
      }
      report_text_printf(out, " %s |", json_is_number(p99) ? report_format_value(json_number_value(p99), "ms", d, sizeof d) : "-");
    }
    report_text_printf(out, "\n");
  }
  report_text_printf(out, "\n");
  json_t *finding;
  json_array_foreach(json_object_get(sweep, "findings"), index, finding) {
    report_text_printf(out, "- %s: %s.\n", text_of(finding, "backend"), text_of(finding, "text"));
  }
  report_text_printf(out, "\n");
  json_decref(sweep);
}

static void concurrency_section(report_text *out, const report_run *run) {
  json_t *rows = report_concurrency(run);
  report_text_printf(out, "### Query clients\n\n");
  if (json_array_size(rows) == 0) {
    report_text_printf(out, "Not measured in run %d (no query/.../clients=N benchmarks).\n\n", run->number);
    json_decref(rows);
    return;
  }
  report_text_printf(out, "Queries/s with N concurrent clients; the last column is the most clients over one client.\n\n"
                          "| query | backend | queries/s by clients | most / one |\n|---|---|---|---:|\n");
  size_t index;
  json_t *row;
  json_array_foreach(rows, index, row) {
    report_text_printf(out, "| %s | %s | ", text_of(row, "query"), text_of(row, "backend"));
    json_t *clients = json_object_get(row, "clients"), *qps = json_object_get(row, "queries_per_second");
    double one = 0, most = 0;
    json_int_t most_clients = 0;
    size_t c;
    json_t *count;
    json_array_foreach(clients, c, count) {
      char text[64];
      double value = json_number_value(json_array_get(qps, c));
      report_text_printf(out, "%s%lld: %s", c ? ", " : "", (long long)json_integer_value(count),
                         report_format_number(value, text, sizeof text));
      if (json_integer_value(count) == 1) {
        one = value;
      }
      if (json_integer_value(count) > most_clients) {
        most_clients = json_integer_value(count);
        most = value;
      }
    }
    if (one > 0 && most_clients > 1) {
      report_text_printf(out, " | %.2fx |\n", most / one);
    } else {
      report_text_printf(out, " | - |\n");
    }
  }
  report_text_printf(out, "\n");
  json_decref(rows);
}

static void parameter_changes(report_text *out, const report_set *set) {
  json_t *groups = report_parameter_changes(set);
  report_text_printf(out, "### Across runs\n\n");
  if (json_array_size(groups) == 0) {
    report_text_printf(out, "No two runs of one dataset size differ in a run-wide parameter (sync mode, payload, "
                            "load batch, seed ...): nothing to attribute across runs.\n\n");
    json_decref(groups);
    return;
  }
  static const struct {
    const char *name;
    const char *metric;
  } figures[] = {{"write/sequential", "spans_per_second"}, {"storage/size", "stored_bytes"}};
  size_t index;
  json_t *group;
  json_array_foreach(groups, index, group) {
    char spans[64];
    report_text_printf(out, "Runs of %s spans differ in ", report_format_number(number_of(group, "spans"), spans, sizeof spans));
    size_t k;
    json_t *key;
    json_array_foreach(json_object_get(group, "differing"), k, key) {
      report_text_printf(out, "%s%s", k ? ", " : "", json_string_value(key));
    }
    report_text_printf(out, ". Differences in time order (the rule of the regressions section applies to the "
                            "same figures in summary.md).\n\n| run | parameters | figure | backend | mean [95%% CI] |\n"
                            "|---:|---|---|---|---:|\n");
    size_t m;
    json_t *member;
    json_array_foreach(json_object_get(group, "runs"), m, member) {
      const report_run *run = &set->runs[json_integer_value(member) - 1];
      for (size_t f = 0; f < sizeof figures / sizeof figures[0]; f++) {
        for (size_t b = 0; b < run->backend_count; b++) {
          const report_figure *figure = report_find(run, figures[f].name, run->backends[b], figures[f].metric);
          if (figure == NULL || strcmp(report_backend_role(figure->backend), "harness") == 0) {
            continue;
          }
          char text[CELL_BYTES];
          report_text_printf(out, "| %d | ", run->number);
          json_array_foreach(json_object_get(group, "differing"), k, key) {
            report_text_printf(out, "%s%s=", k ? ", " : "", json_string_value(key));
            parameter_value(out, json_object_get(json_object_get(run->root, "parameters"), json_string_value(key)));
          }
          report_text_printf(out, " | %s %s | %s | %s |\n", figure->name, figure->metric, figure->backend,
                             report_figure_text(figure, text, sizeof text));
        }
      }
    }
    report_text_printf(out, "\n");
  }
  json_decref(groups);
}

/* Best practices per backend, each from a measured figure. */
static void practices(report_text *out, const report_run *run) {
  json_t *batch = report_sweep(run, "batch");
  json_t *writers = report_sweep(run, "writers");
  json_t *concurrency = report_concurrency(run);
  const char *sync = json_string_value(json_object_get(json_object_get(run->root, "parameters"), "sync_mode"));
  static const char *const models[] = {"stream", "trace"};
  const char *backends[REPORT_MAX_BACKENDS + 2];
  size_t count = 0;
  for (size_t m = 0; m < 2; m++) {
    backends[count++] = models[m];
  }
  for (size_t b = 0; b < run->backend_count && count < REPORT_MAX_BACKENDS + 2; b++) {
    if (strcmp(report_backend_role(run->backends[b]), "baseline") == 0) {
      backends[count++] = run->backends[b];
    }
  }
  report_text_printf(out, "## Best practices, per backend\n\nDerived from run %d's figures; a practice is stated only "
                          "where a figure supports it.\n\n", run->number);
  for (size_t b = 0; b < count; b++) {
    const char *backend = backends[b];
    report_text_printf(out, "### %s (%s)\n\n", backend, report_backend_role(backend));
    size_t said = 0;
    char a[64], c[64], d[64];
    size_t index;
    json_t *finding;
    json_array_foreach(json_object_get(batch, "findings"), index, finding) {
      if (strcmp(text_of(finding, "backend"), backend) != 0 || json_integer_value(json_object_get(finding, "best")) < 0) {
        continue;
      }
      double knee_share = number_of(finding, "best_mean") > 0 ? number_of(finding, "first_mean") / number_of(finding, "best_mean") : 0;
      report_text_printf(out, "- Write in batches of at least %lld spans: that is within noise of the best measured "
                              "(%s spans/s at %lld); batches of %lld give %.0f%% of the best (%s spans/s).\n",
                         (long long)json_integer_value(json_object_get(finding, "knee")),
                         report_format_number(number_of(finding, "best_mean"), a, sizeof a),
                         (long long)json_integer_value(json_object_get(finding, "best")),
                         (long long)json_integer_value(json_object_get(finding, "first")), knee_share * 100,
                         report_format_number(number_of(finding, "first_mean"), c, sizeof c));
      said++;
    }
    json_array_foreach(json_object_get(writers, "findings"), index, finding) {
      if (strcmp(text_of(finding, "backend"), backend) != 0 || json_integer_value(json_object_get(finding, "best")) < 0) {
        continue;
      }
      json_int_t best = json_integer_value(json_object_get(finding, "best"));
      json_int_t knee = json_integer_value(json_object_get(finding, "knee"));
      report_text_printf(out, "- Writers: throughput peaks at %lld writer%s (%s spans/s)", (long long)best,
                         best == 1 ? "" : "s", report_format_number(number_of(finding, "best_mean"), a, sizeof a));
      if (knee != best) {
        report_text_printf(out, "; %lld writer%s already within noise of that (%s spans/s), so more writers buy "
                                "nothing measurable",
                           (long long)knee, knee == 1 ? " is" : "s are",
                           report_format_number(number_of(finding, "knee_mean"), c, sizeof c));
      } else {
        report_text_printf(out, ", beyond noise of fewer writers (one writer: %s spans/s)",
                           report_format_number(number_of(finding, "first_mean"), d, sizeof d));
      }
      report_text_printf(out, ".\n");
      said++;
    }
    const char *best_query = NULL, *worst_query = NULL;
    double best_gain = 0, worst_gain = 0;
    json_t *row;
    json_array_foreach(concurrency, index, row) {
      if (strcmp(text_of(row, "backend"), backend) != 0) {
        continue;
      }
      json_t *clients = json_object_get(row, "clients"), *qps = json_object_get(row, "queries_per_second");
      double one = 0, most = 0;
      json_int_t most_clients = 0;
      for (size_t i = 0; i < json_array_size(clients); i++) {
        json_int_t n = json_integer_value(json_array_get(clients, i));
        if (n == 1) {
          one = json_number_value(json_array_get(qps, i));
        }
        if (n > most_clients) {
          most_clients = n;
          most = json_number_value(json_array_get(qps, i));
        }
      }
      if (one <= 0 || most_clients <= 1) {
        continue;
      }
      double gain = most / one;
      if (best_query == NULL || gain > best_gain) {
        best_query = text_of(row, "query");
        best_gain = gain;
      }
      if (worst_query == NULL || gain < worst_gain) {
        worst_query = text_of(row, "query");
        worst_gain = gain;
      }
    }
    if (best_query != NULL) {
      report_text_printf(out, "- Query clients: queries/s with the most clients against one ranges from %.2fx (%s) "
                              "to %.2fx (%s); %s.\n",
                         worst_gain, worst_query, best_gain, best_query,
                         worst_gain < 1.1 ? "some classes do not scale with clients: size the query pool by the classes "
                                            "that do"
                                          : "every class gains from concurrent clients");
      said++;
    }
    const report_figure *share = report_find(run, "storage/size", backend, "stored_share_of_raw");
    if (share != NULL) {
      report_text_printf(out, "- Storage: %.1f%% of the raw bytes on disk (compression %.1f%%).\n", share->mean * 100,
                         (1 - share->mean) * 100);
      said++;
    }
    if (said == 0) {
      report_text_printf(out, "- Not measured in run %d (%s): nothing to derive.\n", run->number,
                         report_missing_reason(run, NULL, backend));
    } else if (sync != NULL) {
      report_text_printf(out, "- Sync mode: only `%s` was measured in this run; compare modes with runs that differ "
                              "only in --sync (see \"Across runs\").\n", sync);
    }
    report_text_printf(out, "\n");
  }
  json_decref(batch);
  json_decref(writers);
  json_decref(concurrency);
}

sl_status report_write_config_guide(const report_set *set, const char *out_dir, sl_error *err) {
  assert(set != NULL);
  const report_run *run = &set->runs[set->primary];
  report_text out = {0};
  report_text_printf(&out, "# spanlab report: configuration guide\n\nWhat was measured with which settings, and what "
                           "each setting moved. Sweeps are from ");
  run_line(&out, run);
  report_text_printf(&out, ".\n\n");
  configurations(&out, set);
  report_text_printf(&out, "## What moved what\n\n");
  sweep_section(&out, run, "batch", "Batch size", "batch (spans)");
  sweep_section(&out, run, "writers", "Concurrent writers", "writers");
  concurrency_section(&out, run);
  parameter_changes(&out, set);
  report_text_printf(&out, "### Dataset size\n\n");
  growth_table(&out, set, true);
  practices(&out, run);
  sl_status status = report_text_save(&out, out_dir, "config-guide.md", err);
  report_text_free(&out);
  return status;
}
