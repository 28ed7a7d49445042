/* results.c: see results.h. */
#include "bench/results.h"

#include <assert.h>
#include <errno.h>
#include <roaring/roaring.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zstd.h>

#include "bench/stats.h"
#include "common/timeutil.h"

/* Owns root (the whole document) and path. */
struct sl_results {
  json_t *root;
  char *path;
};

static void set_time(json_t *object, const char *key) {
  char text[40];
  sl_rfc3339_format_ns(sl_wall_clock_ns() / 1000000 * 1000000, text, sizeof text);
  json_object_set_new(object, key, json_string(text));
}

sl_results *sl_results_new(const char *path) {
  assert(path != NULL);
  sl_results *results = calloc(1, sizeof *results);
  if (results == NULL) {
    return NULL;
  }
  results->path = strdup(path);
  results->root = json_object();
  if (results->path == NULL || results->root == NULL) {
    sl_results_free(results);
    return NULL;
  }
  json_object_set_new(results->root, "schema_version", json_integer(SL_RESULTS_SCHEMA_VERSION));
  json_object_set_new(results->root, "tool",
                      json_pack("{s:s, s:s}", "name", "spanlab", "version", SPANLAB_VERSION));
  set_time(results->root, "started_at");
  json_object_set_new(results->root, "complete", json_false());
  json_object_set_new(results->root, "environment", json_object());
  json_object_set_new(results->root, "parameters", json_object());
  json_object_set_new(results->root, "dataset", json_object());
  json_object_set_new(results->root, "benchmarks", json_array());
  json_object_set_new(results->root, "comparisons", json_array());
  return results;
}

void sl_results_free(sl_results *results) {
  if (results == NULL) {
    return;
  }
  json_decref(results->root);
  free(results->path);
  free(results);
}

json_t *sl_results_parameters(sl_results *results) {
  return json_object_get(results->root, "parameters");
}

json_t *sl_results_dataset(sl_results *results) { return json_object_get(results->root, "dataset"); }

json_t *sl_results_section(sl_results *results, const char *name) {
  json_t *section = json_object_get(results->root, name);
  if (section == NULL) {
    section = json_object();
    json_object_set_new(results->root, name, section);
  }
  return section;
}

void sl_results_set_section(sl_results *results, const char *name, json_t *value) {
  json_object_set_new(results->root, name, value);
}

/* First line of a command's output, or "unknown". */
static void command_line(const char *command, char *out, size_t out_bytes) {
  snprintf(out, out_bytes, "unknown");
  FILE *pipe = popen(command, "r");
  if (pipe == NULL) {
    return;
  }
  if (fgets(out, (int)out_bytes, pipe) == NULL) {
    snprintf(out, out_bytes, "unknown");
  }
  out[strcspn(out, "\n")] = '\0';
  if (pclose(pipe) != 0 || out[0] == '\0') {
    snprintf(out, out_bytes, "unknown");
  }
}

/* The value after "key<spaces>:" in a /proc file, or "unknown". */
static void proc_field(const char *path, const char *key, char *out, size_t out_bytes) {
  snprintf(out, out_bytes, "unknown");
  FILE *file = fopen(path, "r");
  if (file == NULL) {
    return;
  }
  char line[512];
  size_t key_length = strlen(key);
  while (fgets(line, sizeof line, file) != NULL) {
    if (strncmp(line, key, key_length) == 0) {
      const char *colon = strchr(line, ':');
      if (colon != NULL) {
        colon++;
        while (*colon == ' ' || *colon == '\t') {
          colon++;
        }
        snprintf(out, out_bytes, "%s", colon);
        out[strcspn(out, "\n")] = '\0';
      }
      break;
    }
  }
  fclose(file);
}

void sl_results_capture_environment(sl_results *results) {
  json_t *environment = json_object_get(results->root, "environment");
  char text[512];
  proc_field("/proc/cpuinfo", "model name", text, sizeof text);
  json_object_set_new(environment, "cpu_model", json_string(text));
  json_object_set_new(environment, "cores", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
  json_object_set_new(environment, "memory_bytes",
                      json_integer((json_int_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGE_SIZE)));
  struct utsname name;
  if (uname(&name) == 0) {
    snprintf(text, sizeof text, "%s %s %s", name.sysname, name.release, name.machine);
    json_object_set_new(environment, "kernel", json_string(text));
  }
#ifdef __clang__
  json_object_set_new(environment, "compiler", json_string("clang " __clang_version__));
#else
  json_object_set_new(environment, "compiler", json_string("gcc " __VERSION__));
#endif
  snprintf(text, sizeof text, "%u.%u.%u", ROARING_VERSION_MAJOR, ROARING_VERSION_MINOR,
           ROARING_VERSION_REVISION);
  json_object_set_new(environment, "libraries",
                      json_pack("{s:s, s:s, s:s, s:s}", "zstd", ZSTD_versionString(), "sqlite",
                                sqlite3_libversion(), "jansson", JANSSON_VERSION, "roaring", text));
  command_line("git -C '" SPANLAB_SOURCE_DIR "' rev-parse HEAD 2>/dev/null", text, sizeof text);
  json_object_set_new(environment, "git_commit", json_string(text));
  command_line("git -C '" SPANLAB_SOURCE_DIR "' status --porcelain 2>/dev/null | head -c 1", text,
               sizeof text);
  json_object_set_new(environment, "git_dirty", json_boolean(strcmp(text, "unknown") != 0));
}

static json_t *find_entry(sl_results *results, const char *benchmark, const char *backend,
                          const char *metric) {
  json_t *benchmarks = json_object_get(results->root, "benchmarks");
  size_t index;
  json_t *entry;
  json_array_foreach(benchmarks, index, entry) {
    if (strcmp(json_string_value(json_object_get(entry, "name")), benchmark) == 0 &&
        strcmp(json_string_value(json_object_get(entry, "backend")), backend) == 0 &&
        (metric == NULL ||
         (json_object_get(entry, "metric") != NULL &&
          strcmp(json_string_value(json_object_get(entry, "metric")), metric) == 0))) {
      return entry;
    }
  }
  return NULL;
}

sl_status sl_results_record(sl_results *results, const char *benchmark, const char *label,
                            const char *backend, const char *metric, const char *unit,
                            bool higher_is_better, int iteration, double value, sl_error *err) {
  assert(results != NULL && benchmark != NULL && backend != NULL && metric != NULL);
  if (iteration < 0) {
    return sl_error_set(err, SL_ERR_INTERNAL, "results: negative iteration %d", iteration);
  }
  json_t *entry = find_entry(results, benchmark, backend, metric);
  if (entry == NULL) {
    entry = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:[]}", "name", benchmark, "label", label,
                      "backend", backend, "metric", metric, "unit", unit, "higher_is_better",
                      higher_is_better, "values");
    if (entry == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "results: out of memory");
    }
    json_array_append_new(json_object_get(results->root, "benchmarks"), entry);
  }
  json_t *values = json_object_get(entry, "values");
  while (json_array_size(values) <= (size_t)iteration) {
    json_array_append_new(values, json_null());
  }
  json_array_set_new(values, (size_t)iteration, json_real(value));
  return SL_OK;
}

sl_status sl_results_unsupported(sl_results *results, const char *benchmark, const char *label,
                                 const char *backend, const char *reason, sl_error *err) {
  if (find_entry(results, benchmark, backend, NULL) != NULL) {
    return SL_OK;
  }
  json_t *entry = json_pack("{s:s, s:s, s:s, s:b, s:s}", "name", benchmark, "label", label,
                            "backend", backend, "unsupported", 1, "reason", reason);
  if (entry == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "results: out of memory");
  }
  json_array_append_new(json_object_get(results->root, "benchmarks"), entry);
  return SL_OK;
}

json_t *sl_results_details(sl_results *results, const char *benchmark, const char *backend,
                           int iteration) {
  json_t *details = json_object_get(results->root, "details");
  if (details == NULL) {
    details = json_array();
    json_object_set_new(results->root, "details", details);
  }
  size_t index;
  json_t *entry;
  json_array_foreach(details, index, entry) {
    if (strcmp(json_string_value(json_object_get(entry, "name")), benchmark) == 0 &&
        strcmp(json_string_value(json_object_get(entry, "backend")), backend) == 0 &&
        json_integer_value(json_object_get(entry, "iteration")) == iteration) {
      return json_object_get(entry, "figures");
    }
  }
  json_t *figures = json_object();
  json_array_append_new(details, json_pack("{s:s, s:s, s:i, s:o}", "name", benchmark, "backend",
                                           backend, "iteration", iteration, "figures", figures));
  return figures;
}

/* Adds mean, stdev, ci95 to every benchmark entry from its values. */
static void summarize(sl_results *results) {
  json_t *benchmarks = json_object_get(results->root, "benchmarks");
  size_t index;
  json_t *entry;
  json_array_foreach(benchmarks, index, entry) {
    json_t *values = json_object_get(entry, "values");
    if (values == NULL) {
      continue;
    }
    double samples[1024];
    size_t count = 0;
    size_t value_index;
    json_t *value;
    json_array_foreach(values, value_index, value) {
      if (json_is_number(value) && count < sizeof samples / sizeof samples[0]) {
        samples[count++] = json_number_value(value);
      }
    }
    sl_summary summary = sl_summarize(samples, count);
    json_object_set_new(entry, "n", json_integer((json_int_t)summary.count));
    json_object_set_new(entry, "mean", json_real(summary.mean));
    json_object_set_new(entry, "stdev", summary.count > 1 ? json_real(summary.stdev) : json_null());
    json_object_set_new(entry, "ci95",
                        summary.count > 1 ? json_pack("[f, f]", summary.ci95_low, summary.ci95_high)
                                          : json_null());
  }
}

/* For each (benchmark, metric) measured on two or more backends, pairwise
 * comparisons that name a winner only where the 95% intervals do not overlap. */
static void compare(sl_results *results) {
  json_t *benchmarks = json_object_get(results->root, "benchmarks");
  json_t *comparisons = json_array();
  size_t count = json_array_size(benchmarks);
  for (size_t a = 0; a < count; a++) {
    json_t *left = json_array_get(benchmarks, a);
    if (json_object_get(left, "values") == NULL) {
      continue;
    }
    for (size_t b = a + 1; b < count; b++) {
      json_t *right = json_array_get(benchmarks, b);
      if (json_object_get(right, "values") == NULL ||
          strcmp(json_string_value(json_object_get(left, "name")),
                 json_string_value(json_object_get(right, "name"))) != 0 ||
          strcmp(json_string_value(json_object_get(left, "metric")),
                 json_string_value(json_object_get(right, "metric"))) != 0) {
        continue;
      }
      sl_summary left_summary = {.count = (size_t)json_integer_value(json_object_get(left, "n")),
                                 .mean = json_number_value(json_object_get(left, "mean"))};
      sl_summary right_summary = {.count = (size_t)json_integer_value(json_object_get(right, "n")),
                                  .mean = json_number_value(json_object_get(right, "mean"))};
      json_t *left_ci = json_object_get(left, "ci95");
      json_t *right_ci = json_object_get(right, "ci95");
      left_summary.ci95_low = json_number_value(json_array_get(left_ci, 0));
      left_summary.ci95_high = json_number_value(json_array_get(left_ci, 1));
      right_summary.ci95_low = json_number_value(json_array_get(right_ci, 0));
      right_summary.ci95_high = json_number_value(json_array_get(right_ci, 1));
      bool higher_is_better = json_is_true(json_object_get(left, "higher_is_better"));
      sl_comparison verdict =
          sl_compare(&left_summary, &right_summary, higher_is_better, json_string_value(json_object_get(left, "backend")),
                     json_string_value(json_object_get(right, "backend")));
      const char *winner = verdict.winner == 0   ? json_string_value(json_object_get(left, "backend"))
                           : verdict.winner == 1 ? json_string_value(json_object_get(right, "backend"))
                                                 : NULL;
      json_array_append_new(
          comparisons,
          json_pack("{s:s, s:s, s:s, s:s, s:o, s:f, s:s}", "benchmark",
                    json_string_value(json_object_get(left, "name")), "metric",
                    json_string_value(json_object_get(left, "metric")), "a",
                    json_string_value(json_object_get(left, "backend")), "b",
                    json_string_value(json_object_get(right, "backend")), "winner",
                    winner != NULL ? json_string(winner) : json_null(), "ratio_a_over_b",
                    right_summary.mean != 0 ? left_summary.mean / right_summary.mean : 0.0,
                    "verdict", verdict.description));
    }
  }
  json_object_set_new(results->root, "comparisons", comparisons);
}

sl_status sl_results_save(sl_results *results, bool complete, sl_error *err) {
  assert(results != NULL);
  summarize(results);
  compare(results);
  json_object_set_new(results->root, "complete", json_boolean(complete));
  set_time(results->root, "saved_at");
  char temporary[4200];
  snprintf(temporary, sizeof temporary, "%s.tmp", results->path);
  if (json_dump_file(results->root, temporary, JSON_INDENT(1) | JSON_REAL_PRECISION(10)) != 0) {
    return sl_error_set(err, errno == ENOSPC ? SL_ERR_NOSPACE : SL_ERR_IO, "cannot write %s: %s",
                        temporary, strerror(errno));
  }
  if (rename(temporary, results->path) != 0) {
    return sl_error_set(err, SL_ERR_IO, "cannot rename %s to %s: %s", temporary, results->path,
                        strerror(errno));
  }
  return SL_OK;
}
