/* load.c: reads one results.json, checks the parts the reports read
 * (docs/RESULTS.md) and indexes its benchmark entries.  Every problem is
 * reported as FILE:LINE:COL: JSON.PATH: what is wrong. */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/path.h"
#include "report/report_internal.h"

enum { RESULTS_SCHEMA_VERSION = 1, PATH_BYTES = 512, MAX_RESULTS_BYTES = 1 << 30 };

typedef enum kind {
  KIND_OBJECT = 1 << 0,
  KIND_ARRAY = 1 << 1,
  KIND_STRING = 1 << 2,
  KIND_INTEGER = 1 << 3,
  KIND_NUMBER = 1 << 4, /* integer or real */
  KIND_BOOL = 1 << 5,
  KIND_NULL = 1 << 6
} kind;

static sl_status bad(const report_run *run, const char *path, sl_error *err, const char *format, ...)
    __attribute__((format(printf, 4, 5)));

static sl_status bad(const report_run *run, const char *path, sl_error *err, const char *format, ...) {
  char what[600];
  va_list args;
  va_start(args, format);
  vsnprintf(what, sizeof what, format, args);
  va_end(args);
  int line = 1, column = 1;
  if (run->positions != NULL) {
    sl_json_positions_find(run->positions, path, &line, &column);
  }
  return sl_error_set(err, SL_ERR_INVALID, "%s:%d:%d: %s: %s", run->path, line, column, path, what);
}

static bool has_kind(const json_t *value, unsigned kinds) {
  return ((kinds & KIND_OBJECT) && json_is_object(value)) || ((kinds & KIND_ARRAY) && json_is_array(value)) ||
         ((kinds & KIND_STRING) && json_is_string(value)) || ((kinds & KIND_INTEGER) && json_is_integer(value)) ||
         ((kinds & KIND_NUMBER) && json_is_number(value)) || ((kinds & KIND_BOOL) && json_is_boolean(value)) ||
         ((kinds & KIND_NULL) && json_is_null(value));
}

static void expected_names(unsigned kinds, char *out, size_t out_bytes) {
  static const char *const names[] = {"an object", "an array", "a string", "an integer", "a number", "a boolean", "null"};
  out[0] = '\0';
  size_t used = 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (kinds & (1u << i)) {
      int n = snprintf(out + used, out_bytes - used, "%s%s", used ? " or " : "", names[i]);
      if (n < 0 || (size_t)n >= out_bytes - used) {
        break;
      }
      used += (size_t)n;
    }
  }
}

/* Checks the member key of object (path is the object's path): present when
 * required, of one of kinds when present.  *out gets the member or NULL. */
static sl_status member(const report_run *run, json_t *object, const char *object_path, const char *key,
                        unsigned kinds, bool required, json_t **out, sl_error *err) {
  assert(run != NULL && object_path != NULL && key != NULL);
  char path[PATH_BYTES];
  snprintf(path, sizeof path, "%s", object_path);
  sl_json_path_key(path, sizeof path, key);
  json_t *value = json_object_get(object, key);
  if (out != NULL) {
    *out = NULL;
  }
  if (value == NULL) {
    if (required) {
      return bad(run, path, err, "missing; results.json needs it (docs/RESULTS.md)");
    }
    return SL_OK;
  }
  if (!has_kind(value, kinds)) {
    char expected[128];
    expected_names(kinds, expected, sizeof expected);
    return bad(run, path, err, "expected %s, found %s", expected, sl_json_kind_name(value));
  }
  if (out != NULL) {
    *out = value;
  }
  return SL_OK;
}

/* Every element of the array at path is of one of kinds. */
static sl_status elements(const report_run *run, json_t *array, const char *path, unsigned kinds, sl_error *err) {
  size_t index;
  json_t *value;
  json_array_foreach(array, index, value) {
    if (!has_kind(value, kinds)) {
      char element_path[PATH_BYTES], expected[128];
      snprintf(element_path, sizeof element_path, "%s", path);
      sl_json_path_index(element_path, sizeof element_path, index);
      expected_names(kinds, expected, sizeof expected);
      return bad(run, element_path, err, "expected %s, found %s", expected, sl_json_kind_name(value));
    }
  }
  return SL_OK;
}

static void add_backend(report_run *run, const char *backend) {
  if (backend == NULL || strcmp(backend, "catalog") == 0) {
    return;
  }
  for (size_t i = 0; i < run->backend_count; i++) {
    if (strcmp(run->backends[i], backend) == 0) {
      return;
    }
  }
  if (run->backend_count < REPORT_MAX_BACKENDS) {
    run->backends[run->backend_count++] = backend;
  }
}

static sl_status check_entry(report_run *run, json_t *entry, size_t index, report_figure *figure, sl_error *err) {
  char path[PATH_BYTES] = "$.benchmarks";
  sl_json_path_index(path, sizeof path, index);
  if (!json_is_object(entry)) {
    return bad(run, path, err, "expected a benchmark object, found %s", sl_json_kind_name(entry));
  }
  json_t *name, *label, *backend, *unsupported, *reason, *metric, *unit, *higher, *values, *n, *mean, *stdev, *ci;
  SL_TRY(member(run, entry, path, "name", KIND_STRING, true, &name, err));
  SL_TRY(member(run, entry, path, "backend", KIND_STRING, true, &backend, err));
  SL_TRY(member(run, entry, path, "label", KIND_STRING, false, &label, err));
  SL_TRY(member(run, entry, path, "unsupported", KIND_BOOL, false, &unsupported, err));
  *figure = (report_figure){.name = json_string_value(name),
                            .backend = json_string_value(backend),
                            .label = label != NULL ? json_string_value(label) : "",
                            .unit = "",
                            .index = index,
                            .run_number = run->number};
  if (json_is_true(unsupported)) {
    SL_TRY(member(run, entry, path, "reason", KIND_STRING, true, &reason, err));
    figure->unsupported = true;
    figure->reason = json_string_value(reason);
    return SL_OK;
  }
  SL_TRY(member(run, entry, path, "metric", KIND_STRING, true, &metric, err));
  SL_TRY(member(run, entry, path, "unit", KIND_STRING, false, &unit, err));
  SL_TRY(member(run, entry, path, "higher_is_better", KIND_BOOL, false, &higher, err));
  SL_TRY(member(run, entry, path, "values", KIND_ARRAY, false, &values, err));
  if (values != NULL) {
    char values_path[PATH_BYTES];
    snprintf(values_path, sizeof values_path, "%s", path);
    sl_json_path_key(values_path, sizeof values_path, "values");
    SL_TRY(elements(run, values, values_path, KIND_NUMBER | KIND_NULL, err));
  }
  SL_TRY(member(run, entry, path, "n", KIND_INTEGER, true, &n, err));
  SL_TRY(member(run, entry, path, "mean", KIND_NUMBER | KIND_NULL, true, &mean, err));
  SL_TRY(member(run, entry, path, "stdev", KIND_NUMBER | KIND_NULL, false, &stdev, err));
  SL_TRY(member(run, entry, path, "ci95", KIND_ARRAY | KIND_NULL, false, &ci, err));
  if (json_integer_value(n) < 0) {
    return bad(run, path, err, "n is %lld; a count of iterations cannot be negative", (long long)json_integer_value(n));
  }
  if (json_is_null(mean) && json_integer_value(n) > 0) {
    return bad(run, path, err, "mean is null although n is %lld", (long long)json_integer_value(n));
  }
  if (json_is_array(ci)) {
    char ci_path[PATH_BYTES];
    snprintf(ci_path, sizeof ci_path, "%s", path);
    sl_json_path_key(ci_path, sizeof ci_path, "ci95");
    if (json_array_size(ci) != 2) {
      return bad(run, ci_path, err, "expected [low, high], found %zu numbers", json_array_size(ci));
    }
    SL_TRY(elements(run, ci, ci_path, KIND_NUMBER, err));
    if (json_number_value(json_array_get(ci, 0)) > json_number_value(json_array_get(ci, 1))) {
      return bad(run, ci_path, err, "low %g is above high %g", json_number_value(json_array_get(ci, 0)),
                 json_number_value(json_array_get(ci, 1)));
    }
  }
  if (json_is_number(mean) && json_number_value(mean) < 0) {
    /* Every figure a run writes (rates, latencies, bytes, ratios) is 0 or more. */
    char mean_path[PATH_BYTES];
    snprintf(mean_path, sizeof mean_path, "%s", path);
    sl_json_path_key(mean_path, sizeof mean_path, "mean");
    return bad(run, mean_path, err, "%g is negative; every figure a run writes is 0 or more", json_number_value(mean));
  }
  figure->metric = json_string_value(metric);
  figure->unit = unit != NULL ? json_string_value(unit) : "";
  figure->higher_is_better = json_is_true(higher);
  figure->n = (size_t)json_integer_value(n);
  figure->mean = json_number_value(mean);
  figure->has_stdev = json_is_number(stdev);
  figure->stdev = json_number_value(stdev);
  figure->has_ci = json_is_array(ci) && figure->n >= 2;
  figure->ci_low = json_number_value(json_array_get(ci, 0));
  figure->ci_high = json_number_value(json_array_get(ci, 1));
  return SL_OK;
}

static sl_status check_benchmarks(report_run *run, sl_error *err) {
  json_t *benchmarks;
  SL_TRY(member(run, run->root, "$", "benchmarks", KIND_ARRAY, true, &benchmarks, err));
  size_t count = json_array_size(benchmarks);
  run->figures = calloc(count + 1, sizeof(report_figure));
  if (run->figures == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "%s: out of memory for %zu benchmark entries", run->path, count);
  }
  for (size_t i = 0; i < count; i++) {
    SL_TRY(check_entry(run, json_array_get(benchmarks, i), i, &run->figures[i], err));
    run->figure_count++;
  }
  for (size_t i = 0; i < count; i++) {
    add_backend(run, run->figures[i].backend);
  }
  return SL_OK;
}

static sl_status check_comparisons(report_run *run, sl_error *err) {
  json_t *comparisons;
  SL_TRY(member(run, run->root, "$", "comparisons", KIND_ARRAY, false, &comparisons, err));
  size_t index;
  json_t *entry;
  json_array_foreach(comparisons, index, entry) {
    char path[PATH_BYTES] = "$.comparisons";
    sl_json_path_index(path, sizeof path, index);
    if (!json_is_object(entry)) {
      return bad(run, path, err, "expected a comparison object, found %s", sl_json_kind_name(entry));
    }
    static const char *const keys[] = {"benchmark", "metric", "a", "b"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
      SL_TRY(member(run, entry, path, keys[k], KIND_STRING, true, NULL, err));
    }
    SL_TRY(member(run, entry, path, "winner", KIND_STRING | KIND_NULL, true, NULL, err));
    SL_TRY(member(run, entry, path, "ratio_a_over_b", KIND_NUMBER, false, NULL, err));
    SL_TRY(member(run, entry, path, "verdict", KIND_STRING, false, NULL, err));
  }
  return SL_OK;
}

static sl_status check_parameters(report_run *run, sl_error *err) {
  json_t *parameters, *value, *dataset;
  SL_TRY(member(run, run->root, "$", "parameters", KIND_OBJECT, false, &parameters, err));
  SL_TRY(member(run, run->root, "$", "dataset", KIND_OBJECT, false, &dataset, err));
  run->scale = "custom";
  if (parameters != NULL) {
    SL_TRY(member(run, parameters, "$.parameters", "scale", KIND_STRING, false, &value, err));
    if (value != NULL) {
      run->scale = json_string_value(value);
    }
    SL_TRY(member(run, parameters, "$.parameters", "spans", KIND_INTEGER, false, &value, err));
    if (json_integer_value(value) < 0) {
      return bad(run, "$.parameters.spans", err, "%lld is negative", (long long)json_integer_value(value));
    }
    run->spans = (double)json_integer_value(value);
    SL_TRY(member(run, parameters, "$.parameters", "iterations", KIND_INTEGER, false, &value, err));
    run->iterations = (int)json_integer_value(value);
    SL_TRY(member(run, parameters, "$.parameters", "sync_mode", KIND_STRING, false, NULL, err));
    SL_TRY(member(run, parameters, "$.parameters", "models", KIND_ARRAY, false, &value, err));
    SL_TRY(elements(run, value, "$.parameters.models", KIND_STRING, err));
    size_t index;
    json_t *model;
    json_array_foreach(value, index, model) { add_backend(run, json_string_value(model)); }
    static const char *const lists[] = {"writers", "batch_sizes", "query_concurrency"};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
      char path[PATH_BYTES];
      snprintf(path, sizeof path, "$.parameters");
      sl_json_path_key(path, sizeof path, lists[i]);
      SL_TRY(member(run, parameters, "$.parameters", lists[i], KIND_ARRAY, false, &value, err));
      SL_TRY(elements(run, value, path, KIND_INTEGER, err));
    }
  }
  if (dataset != NULL) {
    SL_TRY(member(run, dataset, "$.dataset", "spans", KIND_INTEGER, false, &value, err));
    if (value != NULL) {
      run->spans = (double)json_integer_value(value);
    }
  }
  return SL_OK;
}

/* storage: {BACKEND: {"by_tag": {TAG: {"stored_bytes", "raw_bytes"?}}, "by_file_kind": {KIND: bytes | {"bytes"}}}} */
static sl_status check_storage(report_run *run, sl_error *err) {
  json_t *storage;
  SL_TRY(member(run, run->root, "$", "storage", KIND_OBJECT, false, &storage, err));
  const char *backend;
  json_t *per_backend;
  json_object_foreach(storage, backend, per_backend) {
    char path[PATH_BYTES] = "$.storage";
    sl_json_path_key(path, sizeof path, backend);
    if (!json_is_object(per_backend)) {
      continue; /* other storage figures may stand here; only per-backend objects are read */
    }
    json_t *by_tag, *by_kind;
    SL_TRY(member(run, per_backend, path, "by_tag", KIND_OBJECT, false, &by_tag, err));
    SL_TRY(member(run, per_backend, path, "by_file_kind", KIND_OBJECT, false, &by_kind, err));
    char tags_path[PATH_BYTES], kinds_path[PATH_BYTES];
    snprintf(tags_path, sizeof tags_path, "%s", path);
    sl_json_path_key(tags_path, sizeof tags_path, "by_tag");
    snprintf(kinds_path, sizeof kinds_path, "%s", path);
    sl_json_path_key(kinds_path, sizeof kinds_path, "by_file_kind");
    const char *key;
    json_t *value;
    json_object_foreach(by_tag, key, value) {
      char tag_path[PATH_BYTES];
      snprintf(tag_path, sizeof tag_path, "%s", tags_path);
      sl_json_path_key(tag_path, sizeof tag_path, key);
      if (!json_is_object(value)) {
        return bad(run, tag_path, err, "expected {\"stored_bytes\", \"raw_bytes\"}, found %s", sl_json_kind_name(value));
      }
      SL_TRY(member(run, value, tag_path, "stored_bytes", KIND_NUMBER, true, NULL, err));
      SL_TRY(member(run, value, tag_path, "raw_bytes", KIND_NUMBER, false, NULL, err));
    }
    json_object_foreach(by_kind, key, value) {
      char kind_path[PATH_BYTES];
      snprintf(kind_path, sizeof kind_path, "%s", kinds_path);
      sl_json_path_key(kind_path, sizeof kind_path, key);
      if (json_is_object(value)) {
        SL_TRY(member(run, value, kind_path, "bytes", KIND_NUMBER, true, NULL, err));
      } else if (!json_is_number(value)) {
        return bad(run, kind_path, err, "expected a byte count or {\"bytes\"}, found %s", sl_json_kind_name(value));
      }
    }
  }
  return SL_OK;
}

static sl_status check_resources(report_run *run, sl_error *err) {
  json_t *resources, *samples, *phases;
  SL_TRY(member(run, run->root, "$", "resources", KIND_OBJECT, false, &resources, err));
  SL_TRY(member(run, resources, "$.resources", "samples", KIND_ARRAY, false, &samples, err));
  SL_TRY(member(run, resources, "$.resources", "phases", KIND_ARRAY, false, &phases, err));
  size_t index;
  json_t *entry;
  json_array_foreach(samples, index, entry) {
    char path[PATH_BYTES] = "$.resources.samples";
    sl_json_path_index(path, sizeof path, index);
    if (!json_is_object(entry)) {
      return bad(run, path, err, "expected a sample object, found %s", sl_json_kind_name(entry));
    }
    SL_TRY(member(run, entry, path, "t_ms", KIND_NUMBER, true, NULL, err));
    SL_TRY(member(run, entry, path, "phase", KIND_STRING, false, NULL, err));
    const char *key;
    json_t *value;
    json_object_foreach(entry, key, value) {
      if (strcmp(key, "phase") != 0) {
        SL_TRY(member(run, entry, path, key, KIND_NUMBER | KIND_NULL, false, NULL, err));
      }
    }
  }
  json_array_foreach(phases, index, entry) {
    char path[PATH_BYTES] = "$.resources.phases";
    sl_json_path_index(path, sizeof path, index);
    if (!json_is_object(entry)) {
      return bad(run, path, err, "expected a phase object, found %s", sl_json_kind_name(entry));
    }
    SL_TRY(member(run, entry, path, "name", KIND_STRING, true, NULL, err));
    SL_TRY(member(run, entry, path, "start_ms", KIND_NUMBER, true, NULL, err));
    SL_TRY(member(run, entry, path, "end_ms", KIND_NUMBER, false, NULL, err));
  }
  return SL_OK;
}

/* An integer member that is 0 or more; *out gets its value (0 when absent). */
static sl_status count_member(const report_run *run, json_t *object, const char *object_path, const char *key,
                              bool required, json_int_t *out, sl_error *err) {
  json_t *value;
  SL_TRY(member(run, object, object_path, key, KIND_INTEGER, required, &value, err));
  *out = value != NULL ? json_integer_value(value) : 0;
  if (*out < 0) {
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s", object_path);
    sl_json_path_key(path, sizeof path, key);
    return bad(run, path, err, "%lld is negative", (long long)*out);
  }
  return SL_OK;
}

/* consistency: {"checked", "mismatches", "interrupted"?, "stores"?: [{...}], "failures"?: [{...}]} */
static sl_status check_consistency(report_run *run, sl_error *err) {
  json_t *consistency, *stores, *failures;
  SL_TRY(member(run, run->root, "$", "consistency", KIND_OBJECT, false, &consistency, err));
  if (consistency == NULL) {
    return SL_OK;
  }
  const char *path = "$.consistency";
  json_int_t checked, mismatches;
  SL_TRY(count_member(run, consistency, path, "checked", true, &checked, err));
  SL_TRY(count_member(run, consistency, path, "mismatches", true, &mismatches, err));
  SL_TRY(member(run, consistency, path, "interrupted", KIND_BOOL, false, NULL, err));
  SL_TRY(member(run, consistency, path, "stores", KIND_ARRAY, false, &stores, err));
  SL_TRY(member(run, consistency, path, "failures", KIND_ARRAY, false, &failures, err));
  SL_TRY(elements(run, failures, "$.consistency.failures", KIND_OBJECT, err));
  size_t index;
  json_t *entry;
  json_int_t stores_differing = 0;
  json_array_foreach(stores, index, entry) {
    char store_path[PATH_BYTES] = "$.consistency.stores";
    sl_json_path_index(store_path, sizeof store_path, index);
    if (!json_is_object(entry)) {
      return bad(run, store_path, err, "expected a store object, found %s", sl_json_kind_name(entry));
    }
    json_int_t count;
    SL_TRY(member(run, entry, store_path, "backend", KIND_STRING, true, NULL, err));
    SL_TRY(count_member(run, entry, store_path, "iteration", true, &count, err));
    SL_TRY(count_member(run, entry, store_path, "spans_stored", true, &count, err));
    SL_TRY(count_member(run, entry, store_path, "spans_expected", true, &count, err));
    json_t *matches;
    SL_TRY(member(run, entry, store_path, "matches_manifest", KIND_BOOL, true, &matches, err));
    stores_differing += json_is_false(matches);
  }
  /* The runner counts as a mismatch every answer that differs and every store that differs from the
   * manifest. */
  if (mismatches > checked + stores_differing) {
    return bad(run, "$.consistency.mismatches", err,
               "%lld mismatches, more than the %lld answers checked and %lld stores that differ from the manifest",
               (long long)mismatches, (long long)checked, (long long)stores_differing);
  }
  return SL_OK;
}

static sl_status check_document(report_run *run, sl_error *err) {
  if (!json_is_object(run->root)) {
    return bad(run, "$", err, "expected the results object (docs/RESULTS.md), found %s", sl_json_kind_name(run->root));
  }
  json_t *version, *value;
  SL_TRY(member(run, run->root, "$", "schema_version", KIND_INTEGER, true, &version, err));
  if (json_integer_value(version) != RESULTS_SCHEMA_VERSION) {
    return bad(run, "$.schema_version", err, "schema version %lld; this spanlab reads version %d (docs/RESULTS.md)",
               (long long)json_integer_value(version), RESULTS_SCHEMA_VERSION);
  }
  SL_TRY(member(run, run->root, "$", "started_at", KIND_STRING, false, &value, err));
  run->started_at = value != NULL ? json_string_value(value) : "";
  SL_TRY(member(run, run->root, "$", "complete", KIND_BOOL, false, &value, err));
  run->complete = json_is_true(value);
  SL_TRY(check_parameters(run, err));
  SL_TRY(check_benchmarks(run, err));
  SL_TRY(check_comparisons(run, err));
  SL_TRY(check_storage(run, err));
  SL_TRY(check_resources(run, err));
  SL_TRY(check_consistency(run, err));
  return SL_OK;
}

static sl_status read_text(const char *path, char **out, size_t *size_out, sl_error *err) {
  if (sl_path_is_special(path)) {
    return sl_error_set(err, SL_ERR_INVALID, "%s: not a regular file", path);
  }
  FILE *file = fopen(path, "rb");
  if (file == NULL) {
    return sl_error_set(err, errno == ENOENT ? SL_ERR_NOT_FOUND : SL_ERR_IO, "%s: cannot open: %s", path,
                        strerror(errno));
  }
  size_t capacity = 1 << 16, length = 0;
  char *text = malloc(capacity);
  sl_status status = text != NULL ? SL_OK : sl_error_set(err, SL_ERR_NOMEM, "%s: out of memory", path);
  while (status == SL_OK) {
    if (length + 1 >= capacity) {
      char *grown = capacity < MAX_RESULTS_BYTES ? realloc(text, capacity * 2) : NULL;
      if (grown == NULL) {
        status = sl_error_set(err, SL_ERR_NOMEM, "%s: too large to read (over %zu bytes)", path, capacity);
        break;
      }
      text = grown;
      capacity *= 2;
    }
    size_t got = fread(text + length, 1, capacity - 1 - length, file);
    length += got;
    if (got == 0) {
      if (ferror(file)) {
        status = sl_error_set(err, SL_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
      }
      break;
    }
  }
  fclose(file);
  if (status != SL_OK) {
    free(text);
    return status;
  }
  text[length] = '\0';
  *out = text;
  *size_out = length;
  return SL_OK;
}

sl_status report_run_load(report_run *run, const char *path, int number, sl_error *err) {
  assert(run != NULL && path != NULL);
  *run = (report_run){.number = number, .scale = "custom", .started_at = ""};
  run->path = strdup(path);
  if (run->path == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "%s: out of memory", path);
  }
  char *text = NULL;
  size_t size_bytes = 0;
  SL_TRY(read_text(path, &text, &size_bytes, err));
  json_error_t json_error;
  run->root = json_loadb(text, size_bytes, JSON_REJECT_DUPLICATES, &json_error);
  if (run->root == NULL) {
    free(text);
    return sl_error_set(err, SL_ERR_INVALID, "%s:%d:%d: invalid JSON: %s", path, json_error.line,
                        json_error.column, json_error.text);
  }
  run->positions = sl_json_positions_build(text, size_bytes);
  free(text);
  if (run->positions == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "%s: out of memory indexing positions", path);
  }
  return check_document(run, err);
}

void report_run_free(report_run *run) {
  if (run == NULL) {
    return;
  }
  free(run->path);
  json_decref(run->root);
  sl_json_positions_free(run->positions);
  free(run->figures);
  *run = (report_run){0};
}
