/* test_report_input.c: what the report does with bad and unusual input.
 * Bad files give one error naming the file, LINE:COL and the JSON path; the
 * regression rule (beyond both 95% intervals, or > 10% when n < 2); the dataset
 * size falls back to parameters.spans; the HTML data block cannot be closed by
 * text from a results file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report/report_internal.h"
#include "spanlab/report.h"
#include "test_support.h"

static sl_status report_of(const char *dir, const char *file, sl_error *err) {
  char path[4200], out[4200];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  snprintf(out, sizeof out, "%s/out", dir);
  const char *paths[] = {path};
  return sl_report_write(paths, 1, out, err);
}

static void expect_error(const char *text, sl_status status, const char *fragment) {
  const char *dir = test_temp_dir("report-bad");
  test_write_file(dir, "results.json", text);
  sl_error err;
  assert_int_equal(report_of(dir, "results.json", &err), status);
  char file[4200];
  snprintf(file, sizeof file, "%s/results.json:", dir);
  if (strstr(err.message, file) != err.message || strstr(err.message, fragment) == NULL) {
    fail_msg("error \"%s\" should start with the file and contain \"%s\"", err.message, fragment);
  }
}

static void missing_file_is_named(void **state) {
  (void)state;
  const char *dir = test_temp_dir("report-missing");
  sl_error err;
  assert_int_equal(report_of(dir, "nothing.json", &err), SL_ERR_NOT_FOUND);
  assert_non_null(strstr(err.message, "nothing.json: cannot open: No such file or directory"));
}

static void invalid_json_names_line_and_column(void **state) {
  (void)state;
  expect_error("{\n  \"schema_version\": 1,\n  \"benchmarks\": [,]\n}\n", SL_ERR_INVALID, ":3:18: invalid JSON:");
}

static void wrong_schema_version_names_the_field(void **state) {
  (void)state;
  expect_error("{\n  \"schema_version\": 2,\n  \"benchmarks\": []\n}\n", SL_ERR_INVALID,
               ":2:21: $.schema_version: schema version 2; this spanlab reads version 1");
  expect_error("{\"benchmarks\": []}", SL_ERR_INVALID, ":1:1: $.schema_version: missing");
  expect_error("[1, 2]", SL_ERR_INVALID, ":1:1: $: expected the results object");
}

static void bad_entries_name_their_path(void **state) {
  (void)state;
  expect_error("{\"schema_version\": 1}", SL_ERR_INVALID, "$.benchmarks: missing");
  expect_error("{\"schema_version\": 1,\n \"benchmarks\": [\n  {\"name\": \"a\", \"backend\": \"b\", \"metric\": \"m\", \"n\": 1, "
               "\"mean\": 2},\n  {\"name\": \"a\", \"backend\": \"c\", \"metric\": \"m\", \"n\": 1, \"mean\": \"fast\"}]}",
               SL_ERR_INVALID, ":4:64: $.benchmarks[1].mean: expected a number or null, found a string");
  expect_error("{\"schema_version\": 1, \"benchmarks\": [{\"name\": \"a\", \"backend\": \"b\", \"unsupported\": true}]}",
               SL_ERR_INVALID, "$.benchmarks[0].reason: missing");
  expect_error("{\"schema_version\": 1, \"benchmarks\": [], \"storage\": {\"stream\": {\"by_tag\": {\"traceId\": 12}}}}",
               SL_ERR_INVALID, "$.storage.stream.by_tag.traceId: expected {\"stored_bytes\", \"raw_bytes\"}, found an integer");
  expect_error("{\"schema_version\": 1, \"benchmarks\": [], \"resources\": {\"samples\": [{\"t_ms\": 0}, {\"rss_bytes\": 5}]}}",
               SL_ERR_INVALID, "$.resources.samples[1].t_ms: missing");
  expect_error("{\"schema_version\": 1, \"benchmarks\": [{\"name\": \"a\", \"backend\": \"b\", \"metric\": \"m\", \"n\": 2, "
               "\"mean\": 1, \"ci95\": [1]}]}",
               SL_ERR_INVALID, "$.benchmarks[0].ci95: expected [low, high], found 1 numbers");
  /* Figures no run writes were accepted and printed (a reversed interval, a negative throughput). */
  expect_error("{\"schema_version\": 1, \"benchmarks\": [{\"name\": \"a\", \"backend\": \"b\", \"metric\": \"m\", \"n\": 2, "
               "\"mean\": 3, \"ci95\": [5, 1]}]}",
               SL_ERR_INVALID, "$.benchmarks[0].ci95: low 5 is above high 1");
  expect_error("{\"schema_version\": 1, \"benchmarks\": [{\"name\": \"a\", \"backend\": \"b\", \"metric\": \"m\", \"n\": 1, "
               "\"mean\": -200}]}",
               SL_ERR_INVALID, "$.benchmarks[0].mean: -200 is negative");
  expect_error("{\"schema_version\": 1, \"benchmarks\": [], \"parameters\": {\"spans\": -200}}", SL_ERR_INVALID,
               "$.parameters.spans: -200 is negative");
}

/* A run that checked no answer but found a store that lost spans counts the store as a mismatch:
 * the report takes it (a review found the shape check below refusing it). */
static void a_store_mismatch_without_queries_is_reported(void **state) {
  (void)state;
  const char *dir = test_temp_dir("report-store-mismatch");
  test_write_file(dir, "results.json",
                  "{\"schema_version\": 1, \"benchmarks\": [], \"consistency\": {\"checked\": 0, \"mismatches\": 1, "
                  "\"stores\": [{\"backend\": \"stream\", \"iteration\": 0, \"spans_expected\": 3000, \"spans_stored\": 2999, "
                  "\"checksum_expected\": \"00\", \"checksum_stored\": \"01\", \"matches_manifest\": false}]}}");
  sl_error err;
  sl_status status = report_of(dir, "results.json", &err);
  if (status != SL_OK) {
    fail_msg("refused: %s", err.message);
  }
}

/* A consistency member of the wrong shape was printed as "0 answers checked, 0 mismatches". */
static void bad_consistency_names_its_path(void **state) {
  (void)state;
  expect_error("{\"schema_version\": 1, \"benchmarks\": [], \"consistency\": \"all good\"}", SL_ERR_INVALID,
               ":1:56: $.consistency: expected an object, found a string");
  expect_error("{\"schema_version\": 1, \"benchmarks\": [], \"consistency\": {\"mismatches\": 0}}", SL_ERR_INVALID,
               "$.consistency.checked: missing");
  expect_error("{\"schema_version\": 1, \"benchmarks\": [], \"consistency\": {\"checked\": 3, \"mismatches\": \"0\"}}",
               SL_ERR_INVALID, "$.consistency.mismatches: expected an integer, found a string");
  expect_error("{\"schema_version\": 1, \"benchmarks\": [], \"consistency\": {\"checked\": 3, \"mismatches\": 4}}",
               SL_ERR_INVALID, "$.consistency.mismatches: 4 mismatches, more than the 3 answers checked and 0 stores "
                               "that differ from the manifest");
  expect_error("{\"schema_version\": 1, \"benchmarks\": [], \"consistency\": {\"checked\": -1, \"mismatches\": 0}}",
               SL_ERR_INVALID, "$.consistency.checked: -1 is negative");
  expect_error("{\"schema_version\": 1, \"benchmarks\": [], \"consistency\": {\"checked\": 0, \"mismatches\": 0, "
               "\"stores\": [{\"backend\": \"trace\", \"iteration\": 0, \"spans_stored\": \"9\", \"spans_expected\": 9, "
               "\"matches_manifest\": true}]}}",
               SL_ERR_INVALID, "$.consistency.stores[0].spans_stored: expected an integer, found a string");
  expect_error("{\"schema_version\": 1, \"benchmarks\": [], \"consistency\": {\"checked\": 0, \"mismatches\": 0, "
               "\"stores\": [7]}}",
               SL_ERR_INVALID, "$.consistency.stores[0]: expected a store object, found an integer");
  expect_error("{\"schema_version\": 1, \"benchmarks\": [], \"consistency\": {\"checked\": 1, \"mismatches\": 1, "
               "\"failures\": {}}}",
               SL_ERR_INVALID, "$.consistency.failures: expected an array, found an object");
}

/* A results document with one figure per entry: {backend, mean, n, ci half width}. */
static void write_run(const char *dir, const char *name, const char *started, double write_mean, int n,
                      double half_width, double latency_mean) {
  char text[4096];
  char write_ci[128] = "null", latency_ci[128] = "null";
  if (n >= 2) {
    snprintf(write_ci, sizeof write_ci, "[%.17g, %.17g]", write_mean - half_width, write_mean + half_width);
    snprintf(latency_ci, sizeof latency_ci, "[%.17g, %.17g]", latency_mean * 0.99, latency_mean * 1.01);
  }
  snprintf(text, sizeof text,
           "{\"schema_version\": 1, \"started_at\": \"%s\", \"complete\": true,\n"
           " \"parameters\": {\"scale\": \"custom\", \"spans\": 1000, \"iterations\": %d},\n"
           " \"benchmarks\": [\n"
           "  {\"name\": \"write/sequential\", \"label\": \"write\", \"backend\": \"stream\", \"metric\": \"spans_per_second\","
           " \"unit\": \"spans/s\", \"higher_is_better\": true, \"values\": [%.17g], \"n\": %d, \"mean\": %.17g, \"stdev\": null,"
           " \"ci95\": %s},\n"
           "  {\"name\": \"query/error/all/warm\", \"label\": \"query\", \"backend\": \"stream\", \"metric\": \"latency_p95_ms\","
           " \"unit\": \"ms\", \"higher_is_better\": false, \"values\": [%.17g], \"n\": %d, \"mean\": %.17g, \"stdev\": null,"
           " \"ci95\": %s}]}\n",
           started, n, write_mean, n, write_mean, write_ci, latency_mean, n, latency_mean, latency_ci);
  test_write_file(dir, name, text);
}

static json_t *regressions_of(const char *dir, const char *first, const char *second) {
  char a[4200], b[4200];
  snprintf(a, sizeof a, "%s/%s", dir, first);
  snprintf(b, sizeof b, "%s/%s", dir, second);
  report_run runs[2];
  sl_error err;
  assert_int_equal(report_run_load(&runs[0], a, 1, &err), SL_OK);
  assert_int_equal(report_run_load(&runs[1], b, 2, &err), SL_OK);
  report_set set = {.runs = runs, .count = 2, .primary = 1};
  json_t *regressions = report_regressions(&set);
  report_run_free(&runs[0]);
  report_run_free(&runs[1]);
  return regressions;
}

static void regression_rule_without_intervals_is_ten_percent(void **state) {
  (void)state;
  const char *dir = test_temp_dir("report-regression");
  write_run(dir, "a.json", "2026-01-01T00:00:00Z", 10000, 1, 0, 10);
  write_run(dir, "b.json", "2026-01-02T00:00:00Z", 8900, 1, 0, 10.5); /* -11% throughput, +5% latency */
  json_t *regressions = regressions_of(dir, "a.json", "b.json");
  json_t *rows = json_object_get(regressions, "rows");
  assert_int_equal(json_array_size(rows), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "metric")), "spans_per_second");
  assert_non_null(strstr(json_string_value(json_object_get(json_array_get(rows, 0), "rule")), "n < 2"));
  json_decref(regressions);
  /* Given in the other order, the later run (by started_at) is still the one judged. */
  regressions = regressions_of(dir, "b.json", "a.json");
  assert_int_equal(json_array_size(json_object_get(regressions, "rows")), 1);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(regressions, "rows"), 0), "current")), 1);
  json_decref(regressions);
}

static void regression_rule_with_intervals_needs_no_overlap(void **state) {
  (void)state;
  const char *dir = test_temp_dir("report-regression-ci");
  write_run(dir, "a.json", "2026-01-01T00:00:00Z", 10000, 3, 500, 10);
  write_run(dir, "b.json", "2026-01-02T00:00:00Z", 9200, 3, 500, 10); /* -8%, intervals overlap */
  write_run(dir, "c.json", "2026-01-02T00:00:00Z", 8000, 3, 500, 12); /* -20%: apart; latency +20%: apart */
  json_t *regressions = regressions_of(dir, "a.json", "b.json");
  assert_int_equal(json_array_size(json_object_get(regressions, "rows")), 0);
  json_decref(regressions);
  regressions = regressions_of(dir, "a.json", "c.json");
  json_t *rows = json_object_get(regressions, "rows");
  assert_int_equal(json_array_size(rows), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "rule")), "95% intervals do not overlap");
  assert_true(json_number_value(json_object_get(json_array_get(rows, 1), "change_pct")) > 19.9);
  json_decref(regressions);
}

/* Equal means are no win (it read "stream best; vs trace: 0.00x better"). */
static void equal_means_name_no_winner(void **state) {
  (void)state;
  const char *dir = test_temp_dir("report-tie");
  test_write_file(dir, "tie.json",
                  "{\"schema_version\": 1, \"started_at\": \"2026-01-01T00:00:00Z\", \"complete\": true,\n"
                  " \"parameters\": {\"scale\": \"custom\", \"spans\": 1000, \"iterations\": 1},\n"
                  " \"benchmarks\": [\n"
                  "  {\"name\": \"write/sequential\", \"label\": \"write\", \"backend\": \"stream\", \"metric\": \"spans_per_second\","
                  " \"unit\": \"spans/s\", \"higher_is_better\": true, \"values\": [0], \"n\": 1, \"mean\": 0, \"stdev\": null, \"ci95\": null},\n"
                  "  {\"name\": \"write/sequential\", \"label\": \"write\", \"backend\": \"trace\", \"metric\": \"spans_per_second\","
                  " \"unit\": \"spans/s\", \"higher_is_better\": true, \"values\": [0], \"n\": 1, \"mean\": 0, \"stdev\": null, \"ci95\": null}]}\n");
  char path[4200];
  snprintf(path, sizeof path, "%s/tie.json", dir);
  report_run run;
  sl_error err;
  assert_int_equal(report_run_load(&run, path, 1, &err), SL_OK);
  json_t *rows = report_verdicts(&run);
  size_t index;
  json_t *row;
  bool seen = false;
  json_array_foreach(rows, index, row) {
    if (strcmp(json_string_value(json_object_get(row, "benchmark")), "write/sequential") == 0 &&
        strcmp(json_string_value(json_object_get(row, "metric")), "spans_per_second") == 0) {
      seen = true;
      assert_true(json_is_null(json_object_get(row, "best")));
      assert_true(json_is_true(json_object_get(row, "tie")));
      assert_int_equal(json_array_size(json_object_get(row, "against")), 0);
    }
  }
  assert_true(seen);
  json_decref(rows);
  report_run_free(&run);
}

static void dataset_size_falls_back_to_parameters(void **state) {
  (void)state;
  const char *dir = test_temp_dir("report-dataset");
  write_run(dir, "a.json", "2026-01-01T00:00:00Z", 10000, 1, 0, 10);
  char path[4200];
  snprintf(path, sizeof path, "%s/a.json", dir);
  report_run run;
  sl_error err;
  assert_int_equal(report_run_load(&run, path, 1, &err), SL_OK);
  assert_true(run.spans == 1000);
  assert_string_equal(run.scale, "custom");
  assert_int_equal(run.backend_count, 1);
  report_run_free(&run);
}

static void html_data_cannot_close_its_script(void **state) {
  (void)state;
  const char *dir = test_temp_dir("report-html");
  char odd[4200];
  snprintf(odd, sizeof odd, "%s/x<", dir);
  assert_int_equal(mkdir(odd, 0755), 0);
  write_run(odd, "script>.json", "2026-01-01T00:00:00Z", 10000, 1, 0, 10); /* path "x</script>.json" */
  char path[4300], out[4300], html[4400];
  snprintf(path, sizeof path, "%s/script>.json", odd);
  snprintf(out, sizeof out, "%s/out", dir);
  const char *paths[] = {path};
  sl_error err;
  assert_int_equal(sl_report_write(paths, 1, out, &err), SL_OK);
  snprintf(html, sizeof html, "%s/report.html", out);
  size_t size = 0;
  char *text = test_read_file(html, &size);
  assert_non_null(text);
  assert_null(strstr(text, "</script>.json"));
  assert_non_null(strstr(text, "x\\u003c/script>.json"));
  assert_non_null(strstr(text, "https://github.com/leeoniya/uPlot (v1.6.32)")); /* uPlot inlined */
  /* Four closing tags: the data block, uPlot, the report's script, and none more. */
  int closings = 0;
  for (const char *at = text; (at = strstr(at, "</script>")) != NULL; at++) {
    closings++;
  }
  assert_int_equal(closings, 3);
  free(text);
}

static void arguments_are_checked(void **state) {
  (void)state;
  sl_error err;
  assert_int_equal(sl_report_write(NULL, 0, "x", &err), SL_ERR_INVALID);
  const char *paths[] = {"a.json"};
  assert_int_equal(sl_report_write(paths, 1, NULL, &err), SL_ERR_INVALID);
  assert_int_equal(sl_report_write(paths, SL_REPORT_MAX_RUNS + 1, "x", &err), SL_ERR_INVALID);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(missing_file_is_named),
      cmocka_unit_test(invalid_json_names_line_and_column),
      cmocka_unit_test(wrong_schema_version_names_the_field),
      cmocka_unit_test(bad_entries_name_their_path),
      cmocka_unit_test(bad_consistency_names_its_path),
      cmocka_unit_test(a_store_mismatch_without_queries_is_reported),
      cmocka_unit_test(regression_rule_without_intervals_is_ten_percent),
      cmocka_unit_test(regression_rule_with_intervals_needs_no_overlap),
      cmocka_unit_test(dataset_size_falls_back_to_parameters),
      cmocka_unit_test(equal_means_name_no_winner),
      cmocka_unit_test(html_data_cannot_close_its_script),
      cmocka_unit_test(arguments_are_checked),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
