/* html.c: report.html, one self-contained page: the report's data as JSON,
 * uPlot and the report's own script and style inlined (docs/REPORTS.md).
 *
 * Every chart is described here, in C, as {section, id, title, kind, x, series,
 * markers ...}; src/report/web/report.js only draws what it is given.  Each
 * value carries the path of the figure it came from in its results file
 * ([run, "benchmarks", index, "mean"], [run, "resources", "samples", i, field]
 * ...), so the browser test can check that the page shows the file's numbers. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "report/report_internal.h"
#include "report_assets.h"

enum { MAX_POINTS = 64, NAME_BYTES = 160 };

static const char *const percentile_metrics[] = {"latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
                                                 "latency_p999_ms", "latency_max_ms"};
static const char *const percentile_names[] = {"P50", "P95", "P99", "P99.9", "max"};

static bool is_harness(const char *backend) { return strcmp(report_backend_role(backend), "harness") == 0; }

static json_t *chart_new(json_t *charts, const char *section, const char *id, const char *title, const char *kind,
                         const char *x_label, const char *y_label) {
  json_t *chart = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:[], s:[], s:[]}", "section", section, "id", id,
                            "title", title, "kind", kind, "x_label", x_label, "y_label", y_label, "x_log", 0, "y_log",
                            0, "x", "series", "markers");
  json_array_append_new(charts, chart);
  return chart;
}

static json_t *series_new(json_t *chart, const char *label, double scale) {
  json_t *series = json_pack("{s:s, s:f, s:[], s:[]}", "label", label, "scale", scale, "values", "paths");
  json_array_append_new(json_object_get(chart, "series"), series);
  return series;
}

/* Appends one value (already scaled) and the path of its source, or a gap. */
static void series_push(json_t *series, const report_figure *figure, double scale) {
  if (figure == NULL) {
    json_array_append_new(json_object_get(series, "values"), json_null());
    json_array_append_new(json_object_get(series, "paths"), json_null());
    return;
  }
  json_array_append_new(json_object_get(series, "values"), json_real(figure->mean * scale));
  json_array_append_new(json_object_get(series, "paths"),
                        json_pack("[i, s, I, s]", figure->run_number, "benchmarks", (json_int_t)figure->index, "mean"));
}

/* Drops series with no value at all; a chart left without series says why. */
static void finish_chart(json_t *chart, const char *empty_reason) {
  json_t *series = json_object_get(chart, "series");
  for (size_t i = json_array_size(series); i-- > 0;) {
    json_t *values = json_object_get(json_array_get(series, i), "values");
    bool any = false;
    size_t v;
    json_t *value;
    json_array_foreach(values, v, value) { any = any || json_is_number(value); }
    if (!any) {
      json_array_remove(series, i);
    }
  }
  if (json_array_size(series) == 0) {
    json_object_set_new(chart, "empty", json_string(empty_reason));
  }
}

static int compare_ints(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return x < y ? -1 : x > y;
}

/* throughput (or batch latency) against writers / batch size. */
static void sweep_chart(json_t *charts, const report_run *run, const char *kind, const char *metric, const char *title,
                        const char *x_label, const char *y_label) {
  char prefix[32], id[64];
  snprintf(prefix, sizeof prefix, "write/%s=", kind);
  snprintf(id, sizeof id, "%s-%s", kind, metric);
  size_t prefix_length = strlen(prefix);
  int points[MAX_POINTS];
  size_t count = 0;
  for (size_t i = 0; i < run->figure_count && count < MAX_POINTS; i++) {
    const report_figure *f = &run->figures[i];
    if (f->unsupported || strncmp(f->name, prefix, prefix_length) != 0) {
      continue;
    }
    int value = report_parse_int(f->name + prefix_length);
    bool known = false;
    for (size_t p = 0; p < count && !known; p++) {
      known = points[p] == value;
    }
    if (!known) {
      points[count++] = value;
    }
  }
  qsort(points, count, sizeof points[0], compare_ints);
  json_t *chart = chart_new(charts, "write", id, title, "line", x_label, y_label);
  json_object_set_new(chart, "x_log", json_true());
  for (size_t p = 0; p < count; p++) {
    json_array_append_new(json_object_get(chart, "x"), json_integer(points[p]));
  }
  for (size_t b = 0; b < run->backend_count; b++) {
    if (is_harness(run->backends[b])) {
      continue;
    }
    json_t *series = series_new(chart, run->backends[b], 1);
    for (size_t p = 0; p < count; p++) {
      char name[64];
      snprintf(name, sizeof name, "%s%d", prefix, points[p]);
      series_push(series, report_find(run, name, run->backends[b], metric), 1);
    }
  }
  char reason[160];
  snprintf(reason, sizeof reason, "no data: run %d has no write/%s=N benchmarks", run->number, kind);
  finish_chart(chart, reason);
}

/* One chart per headline figure across dataset sizes (x = spans). */
static void scale_charts(json_t *charts, const report_set *set) {
  json_t *growth = report_scale_growth(set);
  json_t *points = json_object_get(growth, "points");
  if (json_array_size(points) < 2) {
    json_t *chart = chart_new(charts, "scale", "scale-write", "write throughput against dataset size", "line",
                              "spans in the data set", "spans/s");
    char reason[200];
    snprintf(reason, sizeof reason,
             "no data: %s; growth with scale needs results files of two or more dataset sizes",
             set->count == 1 ? "one results file" : "every results file has the same dataset size");
    finish_chart(chart, reason);
    json_decref(growth);
    return;
  }
  const report_run *chosen[MAX_POINTS];
  size_t point_count = json_array_size(points);
  double spans_min = 0, spans_max = 0;
  for (size_t p = 0; p < point_count && p < MAX_POINTS; p++) {
    chosen[p] = &set->runs[json_integer_value(json_object_get(json_array_get(points, p), "run")) - 1];
    spans_max = chosen[p]->spans;
    spans_min = p == 0 ? chosen[p]->spans : spans_min;
  }
  json_t *rows = json_object_get(growth, "rows");
  size_t index;
  json_t *row;
  json_t *done = json_object(); /* "benchmark metric" already charted */
  json_array_foreach(rows, index, row) {
    const char *benchmark = json_string_value(json_object_get(row, "benchmark"));
    const char *metric = json_string_value(json_object_get(row, "metric"));
    char key[NAME_BYTES * 2];
    snprintf(key, sizeof key, "%s %s", benchmark, metric);
    if (!json_is_true(json_object_get(row, "headline")) || json_object_get(done, key) != NULL) {
      continue;
    }
    json_object_set_new(done, key, json_true());
    const char *unit = json_string_value(json_object_get(row, "unit"));
    bool bytes = strcmp(unit, "bytes") == 0;
    char id[NAME_BYTES * 2], title[NAME_BYTES * 2];
    snprintf(id, sizeof id, "scale-%s-%s", benchmark, metric);
    snprintf(title, sizeof title, "%s %s against dataset size", benchmark, metric);
    json_t *chart = chart_new(charts, "scale", id, title, "line", "spans in the data set", bytes ? "MB" : unit);
    json_object_set_new(chart, "x_log", json_boolean(spans_max >= 10 * spans_min));
    for (size_t p = 0; p < point_count; p++) {
      json_array_append_new(json_object_get(chart, "x"), json_real(chosen[p]->spans));
    }
    const report_run *primary = &set->runs[set->primary];
    for (size_t b = 0; b < primary->backend_count; b++) {
      if (is_harness(primary->backends[b])) {
        continue;
      }
      json_t *series = series_new(chart, primary->backends[b], bytes ? 1e-6 : 1);
      for (size_t p = 0; p < point_count; p++) {
        series_push(series, report_find(chosen[p], benchmark, primary->backends[b], metric), bytes ? 1e-6 : 1);
      }
    }
    finish_chart(chart, "no data: no backend has this figure at two sizes");
  }
  json_decref(done);
  json_decref(growth);
}

/* The query class of "query/CLASS/.../warm", or NULL. */
static bool query_class(const char *name, char *out, size_t out_bytes) {
  if (strncmp(name, "query/", 6) != 0) {
    return false;
  }
  const char *start = name + 6, *slash = strchr(start, '/');
  size_t length = strlen(name);
  if (slash == NULL || length < 5 || strcmp(name + length - 5, "/warm") != 0) {
    return false;
  }
  snprintf(out, out_bytes, "%.*s", (int)(slash - start), start);
  return true;
}

static void latency_charts(json_t *charts, const report_run *run) {
  char classes[16][32];
  size_t class_count = 0;
  for (size_t i = 0; i < run->figure_count; i++) {
    char name[32];
    if (run->figures[i].unsupported || !query_class(run->figures[i].name, name, sizeof name)) {
      continue;
    }
    bool known = false;
    for (size_t c = 0; c < class_count && !known; c++) {
      known = strcmp(classes[c], name) == 0;
    }
    if (!known && class_count < 16) {
      snprintf(classes[class_count++], sizeof classes[0], "%s", name);
    }
  }
  for (size_t c = 0; c < class_count; c++) {
    char id[64], title[128];
    snprintf(id, sizeof id, "latency-%s", classes[c]);
    snprintf(title, sizeof title, "warm latency percentiles: query/%s", classes[c]);
    json_t *chart = chart_new(charts, "query", id, title, "line", "percentile", "ms");
    json_object_set_new(chart, "y_log", json_true());
    json_t *names = json_array();
    for (size_t p = 0; p < 5; p++) {
      json_array_append_new(json_object_get(chart, "x"), json_integer((json_int_t)p));
      json_array_append_new(names, json_string(percentile_names[p]));
    }
    json_object_set_new(chart, "x_names", names);
    for (size_t b = 0; b < run->backend_count; b++) {
      for (size_t i = 0; i < run->figure_count; i++) {
        const report_figure *f = &run->figures[i];
        char name[32];
        if (f->unsupported || strcmp(f->backend, run->backends[b]) != 0 ||
            strcmp(f->metric, "latency_p50_ms") != 0 || !query_class(f->name, name, sizeof name) ||
            strcmp(name, classes[c]) != 0) {
          continue;
        }
        size_t prefix = 6 + strlen(classes[c]) + 1, length = strlen(f->name);
        char label[NAME_BYTES];
        snprintf(label, sizeof label, "%.*s (%s)", (int)(length - prefix - 5), f->name + prefix, f->backend);
        json_t *series = series_new(chart, label, 1);
        for (size_t p = 0; p < 5; p++) {
          const report_figure *figure = report_find(run, f->name, f->backend, percentile_metrics[p]);
          series_push(series, figure != NULL && figure->mean > 0 ? figure : NULL, 1);
        }
      }
    }
    finish_chart(chart, "no data: no backend answered this query class");
  }
  if (class_count == 0) {
    json_t *chart = chart_new(charts, "query", "latency-none", "warm latency percentiles", "line", "percentile", "ms");
    finish_chart(chart, "no data: this results file has no warm query benchmarks");
  }
}

/* storage.BACKEND.by_tag / by_file_kind as grouped bars, one group per tag or kind. */
static void storage_chart(json_t *charts, const report_run *run, const char *part, const char *id, const char *title,
                          bool share_of_raw) {
  json_t *storage = json_object_get(run->root, "storage");
  json_t *chart = chart_new(charts, "storage", id, title, "bars", part[3] == 't' ? "tag" : "file kind",
                            share_of_raw ? "% of raw" : "MB");
  json_t *names = json_array();
  const char *backend;
  json_t *per_backend;
  json_object_foreach(storage, backend, per_backend) {
    const char *key;
    json_t *value;
    json_object_foreach(json_object_get(per_backend, part), key, value) {
      bool known = false;
      size_t n;
      json_t *name;
      json_array_foreach(names, n, name) { known = known || strcmp(json_string_value(name), key) == 0; }
      if (!known && (!share_of_raw || json_object_get(value, "raw_bytes") != NULL)) {
        json_array_append_new(names, json_string(key));
      }
    }
  }
  for (size_t n = 0; n < json_array_size(names); n++) {
    json_array_append_new(json_object_get(chart, "x"), json_integer((json_int_t)n));
  }
  json_object_set_new(chart, "x_names", names);
  json_object_foreach(storage, backend, per_backend) {
    json_t *entries = json_object_get(per_backend, part);
    if (!json_is_object(entries)) {
      continue;
    }
    json_t *series = series_new(chart, backend, share_of_raw ? 100 : 1e-6);
    size_t n;
    json_t *name;
    json_array_foreach(names, n, name) {
      const char *key = json_string_value(name);
      json_t *value = json_object_get(entries, key);
      /* by_tag: {"stored_bytes", "raw_bytes"}; by_file_kind: bytes or {"bytes"}. */
      const char *field = !json_is_object(value)                 ? NULL
                          : share_of_raw                         ? "stored_bytes"
                          : json_object_get(value, "bytes") != NULL ? "bytes"
                                                                    : "stored_bytes";
      double bytes = field != NULL ? json_number_value(json_object_get(value, field)) : json_number_value(value);
      double raw = json_number_value(json_object_get(value, "raw_bytes"));
      bool present = value != NULL && (!share_of_raw || raw > 0);
      if (!present) {
        json_array_append_new(json_object_get(series, "values"), json_null());
        json_array_append_new(json_object_get(series, "paths"), json_null());
        continue;
      }
      json_array_append_new(json_object_get(series, "values"), json_real(share_of_raw ? bytes / raw * 100 : bytes * 1e-6));
      json_t *path = json_pack("[i, s, s, s, s]", run->number, "storage", backend, part, key);
      if (field != NULL) {
        json_array_append_new(path, json_string(field));
      }
      json_array_append_new(json_object_get(series, "paths"), path);
    }
    if (share_of_raw) { /* the test divides by the sibling raw_bytes */
      json_object_set_new(series, "divide_by", json_string("raw_bytes"));
    }
  }
  char reason[200];
  snprintf(reason, sizeof reason, "no data: run %d's results.json has no storage.BACKEND.%s breakdown yet", run->number,
           part);
  finish_chart(chart, reason);
}

static void resource_charts(json_t *charts, const report_run *run) {
  static const struct {
    const char *id;
    const char *title;
    const char *unit;
    double scale;
    const char *fields[4];
  } groups[] = {
      {"memory", "memory (resident and swapped)", "MB", 1e-6, {"rss_bytes", "swap_bytes"}},
      {"cpu", "CPU (% of one core; system % of all)", "%", 1, {"cpu_user_pct", "cpu_system_pct", "system_iowait_pct"}},
      {"disk", "disk and process I/O", "MB/s", 1e-6,
       {"disk_read_bytes_per_s", "disk_write_bytes_per_s", "io_write_bytes_per_s"}},
  };
  json_t *resources = json_object_get(run->root, "resources");
  json_t *samples = json_object_get(resources, "samples");
  for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
    char id[64], title[160];
    snprintf(id, sizeof id, "resources-%d-%s", run->number, groups[g].id);
    snprintf(title, sizeof title, "run %d: %s over time", run->number, groups[g].title);
    json_t *chart = chart_new(charts, "resources", id, title, "time", "seconds since the run started", groups[g].unit);
    json_t *x = json_object_get(chart, "x");
    json_t *x_paths = json_array();
    size_t index;
    json_t *sample;
    json_array_foreach(samples, index, sample) {
      json_array_append_new(x, json_real(json_number_value(json_object_get(sample, "t_ms")) / 1000));
      json_array_append_new(x_paths, json_pack("[i, s, s, I, s]", run->number, "resources", "samples", (json_int_t)index, "t_ms"));
    }
    json_object_set_new(chart, "x_paths", x_paths);
    json_object_set_new(chart, "x_scale", json_real(0.001));
    for (size_t f = 0; f < 4 && groups[g].fields[f] != NULL; f++) {
      json_t *series = series_new(chart, groups[g].fields[f], groups[g].scale);
      json_array_foreach(samples, index, sample) {
        json_t *value = json_object_get(sample, groups[g].fields[f]);
        json_array_append_new(json_object_get(series, "values"),
                              json_is_number(value) ? json_real(json_number_value(value) * groups[g].scale) : json_null());
        json_array_append_new(json_object_get(series, "paths"),
                              json_is_number(value) ? json_pack("[i, s, s, I, s]", run->number, "resources", "samples",
                                                                (json_int_t)index, groups[g].fields[f])
                                                    : json_null());
      }
    }
    json_array_foreach(json_object_get(resources, "phases"), index, sample) {
      json_array_append_new(json_object_get(chart, "markers"),
                            json_pack("{s:f, s:s}", "x", json_number_value(json_object_get(sample, "start_ms")) / 1000,
                                      "label", json_string_value(json_object_get(sample, "name"))));
    }
    char reason[200];
    snprintf(reason, sizeof reason, "no data: run %d has no resource samples (the memory label was off)", run->number);
    finish_chart(chart, reason);
  }
}

static json_t *report_data(const report_set *set) {
  const report_run *primary = &set->runs[set->primary];
  json_t *charts = json_array();
  scale_charts(charts, set);
  sweep_chart(charts, primary, "writers", "spans_per_second", "write throughput against concurrent writers",
              "writers", "spans/s");
  sweep_chart(charts, primary, "batch", "spans_per_second", "write throughput against batch size",
              "spans a batch", "spans/s");
  sweep_chart(charts, primary, "batch", "batch_latency_p99_ms", "batch latency P99 against batch size",
              "spans a batch", "ms");
  latency_charts(charts, primary);
  storage_chart(charts, primary, "by_tag", "storage-by-tag", "stored bytes by tag", false);
  storage_chart(charts, primary, "by_tag", "storage-share-by-tag", "stored share of raw bytes by tag", true);
  storage_chart(charts, primary, "by_file_kind", "storage-by-file-kind", "disk use by file kind", false);
  /* Every run with samples; the primary run always (its charts say "no data" without). */
  for (size_t r = 0; r < set->count; r++) {
    if (json_array_size(json_object_get(json_object_get(set->runs[r].root, "resources"), "samples")) > 0 ||
        r == set->primary) {
      resource_charts(charts, &set->runs[r]);
    }
  }
  return json_pack("{s:s, s:o, s:i, s:o, s:o, s:o, s:o, s:o}", "title", "spanlab report", "runs",
                   report_runs_overview(set), "primary", primary->number, "verdicts", report_verdicts(primary),
                   "use_cases", report_use_cases(primary), "criteria", report_criteria(primary), "regressions",
                   report_regressions(set), "charts", charts);
}

/* Appends an inlined asset; a "</script" or "</style" inside would end the element early. */
static sl_status inline_asset(report_text *out, const char *asset, size_t size_bytes, const char *closing,
                              const char *name, sl_error *err) {
  size_t closing_length = strlen(closing);
  for (size_t i = 0; i + closing_length <= size_bytes; i++) {
    if (asset[i] == '<' && strncasecmp(asset + i, closing, closing_length) == 0) {
      return sl_error_set(err, SL_ERR_INTERNAL, "report: the embedded %s holds \"%s\" at byte %zu", name, closing, i);
    }
  }
  report_text_append(out, asset, size_bytes);
  return SL_OK;
}

sl_status report_write_html(const report_set *set, const char *out_dir, sl_error *err) {
  assert(set != NULL && out_dir != NULL);
  json_t *data = report_data(set);
  char *json = data != NULL ? json_dumps(data, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
  json_decref(data);
  if (json == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "report: out of memory building report.html's data");
  }
  report_text out = {0};
  report_text_printf(&out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                           "<title>spanlab report</title>\n<style>\n/* uPlot 1.6.32, MIT licence */\n");
  sl_status status = inline_asset(&out, sl_report_asset_uplot_css, sl_report_asset_uplot_css_size, "</style", "uPlot CSS", err);
  report_text_printf(&out, "\n</style>\n<style>\n");
  if (status == SL_OK) {
    status = inline_asset(&out, sl_report_asset_app_css, sl_report_asset_app_css_size, "</style", "report CSS", err);
  }
  report_text_printf(&out, "</style>\n</head>\n<body>\n<header><h1>spanlab report</h1><p id=\"subtitle\"></p></header>\n"
                           "<nav id=\"contents\"></nav>\n<main id=\"report\"><noscript>The charts need JavaScript; "
                           "summary.md and detailed.md beside this file hold the same figures.</noscript></main>\n"
                           "<script type=\"application/json\" id=\"spanlab-data\">");
  /* '<' only occurs inside JSON strings, where \u003c means the same; so no
   * "</script>" or "<!--" can end the data block early. */
  for (const char *c = json; *c != '\0'; c++) {
    if (*c == '<') {
      report_text_append(&out, "\\u003c", 6);
    } else {
      report_text_append(&out, c, 1);
    }
  }
  free(json);
  report_text_printf(&out, "</script>\n<script>\n");
  if (status == SL_OK) {
    status = inline_asset(&out, sl_report_asset_uplot_js, sl_report_asset_uplot_js_size, "</script", "uPlot", err);
  }
  report_text_printf(&out, "\n</script>\n<script>\n");
  if (status == SL_OK) {
    status = inline_asset(&out, sl_report_asset_app_js, sl_report_asset_app_js_size, "</script", "report script", err);
  }
  report_text_printf(&out, "</script>\n</body>\n</html>\n");
  if (status == SL_OK) {
    status = report_text_save(&out, out_dir, "report.html", err);
  }
  report_text_free(&out);
  return status;
}
