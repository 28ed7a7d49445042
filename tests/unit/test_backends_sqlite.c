/* test_backends_sqlite.c: the SQLite baseline stores spans durably, keeps the
 * indexes of the bound rules, and its count and checksum match the spans. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spanlab/backend.h"
#include "spanlab/query.h"
#include "test_support.h"

static sl_catalog *catalog;

static int load_catalog(void **state) {
  (void)state;
  sl_diag *problems = sl_diag_new();
  sl_status status = sl_catalog_load_dir(SPANLAB_SOURCE_DIR "/schemas/stream-vs-trace", NULL,
                                         &catalog, problems);
  sl_diag_free(problems);
  return status == SL_OK ? 0 : -1;
}

static int free_catalog(void **state) {
  (void)state;
  sl_catalog_free(catalog);
  return 0;
}

/* Span i of a small synthetic set: every field depends on i. */
static sl_span make_span(int i, char text[6][32], unsigned char *payload) {
  snprintf(text[0], 32, "service-%d", i % 3);
  snprintf(text[1], 32, "service-%d-instance-%d", i % 3, i % 5);
  snprintf(text[2], 32, "trace-%d", i / 4);
  snprintf(text[3], 32, "%d", i % 4);
  snprintf(text[4], 32, "%d", i % 4 == 0 ? -1 : 0);
  snprintf(text[5], 32, "GET /api/%d", i % 7);
  for (int b = 0; b < 64; b++) {
    payload[b] = (unsigned char)(i * 31 + b);
  }
  sl_span span = {
      .service_id = {text[0], strlen(text[0])},
      .service_instance_id = {text[1], strlen(text[1])},
      .trace_id = {text[2], strlen(text[2])},
      .start_time_ms = 1704067200000LL + i * 10,
      .latency_ms = i % 97,
      .is_error = i % 20 == 0,
      .span_id = {text[3], strlen(text[3])},
      .parent_span_id = {text[4], strlen(text[4])},
      .operation_name = {text[5], strlen(text[5])},
      .component = {"Tomcat", 6},
      .data_binary = {(const char *)payload, 64},
  };
  return span;
}

static uint64_t write_spans(sl_backend *backend, int first, int count) {
  uint64_t checksum = 0;
  enum { BATCH = 50 };
  for (int start = first; start < first + count; start += BATCH) {
    sl_span spans[BATCH];
    char text[BATCH][6][32];
    unsigned char payload[BATCH][64];
    int n = first + count - start < BATCH ? first + count - start : BATCH;
    for (int i = 0; i < n; i++) {
      spans[i] = make_span(start + i, text[i], payload[i]);
      checksum += sl_span_digest(&spans[i]);
    }
    sl_error err;
    assert_int_equal(sl_backend_write(backend, spans, (size_t)n, &err), SL_OK);
  }
  return checksum;
}

static void stores_and_counts_spans_across_reopen(void **state) {
  (void)state;
  const char *dir = test_temp_dir("sqlite-backend");
  sl_backend_options options = {.catalog = catalog, .directory = dir, .shape = SL_SHAPE_STREAM,
                                .sync_mode = SL_SYNC_BATCH};
  sl_backend *backend = NULL;
  sl_error err;
  assert_int_equal(sl_backend_open("sqlite", &options, &backend, &err), SL_OK);
  assert_string_equal(sl_backend_kind(backend), "sqlite");
  uint64_t expected = write_spans(backend, 0, 730);
  assert_int_equal(sl_backend_flush(backend, &err), SL_OK);
  uint64_t count = 0, checksum = 0;
  assert_int_equal(sl_backend_count(backend, &count, &checksum, &err), SL_OK);
  assert_int_equal(count, 730);
  assert_int_equal(checksum, expected);
  assert_true(sl_backend_disk_bytes(backend) > 730 * 64);
  sl_backend_close(backend);

  /* Reopen: the same spans are there, and more can be added. */
  assert_int_equal(sl_backend_open("sqlite", &options, &backend, &err), SL_OK);
  expected += write_spans(backend, 730, 20);
  assert_int_equal(sl_backend_count(backend, &count, &checksum, &err), SL_OK);
  assert_int_equal(count, 750);
  assert_int_equal(checksum, expected);
  sl_backend_close(backend);
}

static void one_changed_byte_changes_the_checksum(void **state) {
  (void)state;
  char text[6][32];
  unsigned char payload[64];
  sl_span span = make_span(3, text, payload);
  uint64_t before = sl_span_digest(&span);
  payload[17] ^= 1;
  assert_true(sl_span_digest(&span) != before);
  payload[17] ^= 1;
  span.latency_ms += 1;
  assert_true(sl_span_digest(&span) != before);
  span.latency_ms -= 1;
  /* Moving a byte between adjacent fields changes it too (lengths are hashed). */
  sl_span shifted = span;
  shifted.service_id.size_bytes -= 1;
  assert_true(sl_span_digest(&shifted) != before);
  assert_int_equal(sl_span_digest(&span), before);
}

static int count_indexes(const char *path, const char *like) {
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE type='index' AND name LIKE '%s'",
           like);
  sqlite3_stmt *statement = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &statement, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(statement), SQLITE_ROW);
  int count = sqlite3_column_int(statement, 0);
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return count;
}

static void indexes_follow_the_bound_rules_of_each_shape(void **state) {
  (void)state;
  const char *stream_dir = test_temp_dir("sqlite-stream-shape");
  sl_backend_options options = {.catalog = catalog, .directory = stream_dir,
                                .shape = SL_SHAPE_STREAM};
  sl_backend *backend = NULL;
  sl_error err;
  assert_int_equal(sl_backend_open("sqlite", &options, &backend, &err), SL_OK);
  sl_backend_close(backend);
  char path[4200];
  snprintf(path, sizeof path, "%s/spans.sqlite", stream_dir);
  assert_int_equal(count_indexes(path, "rule_%"), 7); /* the 7 stream rules */
  assert_int_equal(count_indexes(path, "entity_time"), 1);
  assert_int_equal(count_indexes(path, "trace_id"), 0);

  const char *trace_dir = test_temp_dir("sqlite-trace-shape");
  options.directory = trace_dir;
  options.shape = SL_SHAPE_TRACE;
  assert_int_equal(sl_backend_open("sqlite", &options, &backend, &err), SL_OK);
  sl_backend_close(backend);
  snprintf(path, sizeof path, "%s/spans.sqlite", trace_dir);
  assert_int_equal(count_indexes(path, "rule_%"), 2); /* the 2 composite trace rules */
  assert_int_equal(count_indexes(path, "trace_id"), 1);
}

/* Trace ids are sorted and cut to offset + limit before duplicates are dropped, as BanyanDB's
 * static batch source does: IN [trace-3, trace-3, trace-7] with limit 2 is trace-3 alone (4 spans). */
static void trace_ids_are_cut_before_duplicates_go(void **state) {
  (void)state;
  sl_backend_options options = {.catalog = catalog, .directory = test_temp_dir("sqlite-trace-ids"),
                                .shape = SL_SHAPE_TRACE};
  sl_backend *backend = NULL;
  sl_error err;
  assert_int_equal(sl_backend_open("sqlite", &options, &backend, &err), SL_OK);
  write_spans(backend, 0, 200);
  static const char request[] =
      "{\"groups\":[\"trace_performance_test\"],\"name\":\"segment_trace\",\"timeRange\":{\"begin\":"
      "\"2024-01-01T00:00:00Z\",\"end\":\"2024-01-02T00:00:00Z\"},\"limit\":%d,\"tagProjection\":[\"traceId\"],"
      "\"criteria\":{\"condition\":{\"name\":\"traceId\",\"op\":\"BINARY_OP_IN\",\"value\":{\"strArray\":"
      "{\"value\":[\"trace-7\",\"trace-3\",\"trace-3\"]}}}}}";
  const size_t expected_spans[] = {0, 4, 4, 8}; /* by limit: [3], [3, 3], [3, 3, 7] */
  for (int limit = 1; limit <= 3; limit++) {
    char text[1024];
    snprintf(text, sizeof text, request, limit);
    sl_query *query = NULL;
    assert_int_equal(sl_query_parse(catalog, SL_QUERY_TRACE, text, strlen(text), &query, &err), SL_OK);
    sl_backend_answer answer = {0};
    assert_int_equal(sl_backend_query(backend, query, &answer, &err), SL_OK);
    assert_int_equal(answer.span_count, expected_spans[limit]);
    sl_backend_answer_free(&answer);
    sl_query_free(query);
  }
  sl_backend_close(backend);
}

/* Ordered by latency_based_index, a condition on latency stays in BanyanDB's sidx row filter (no rule
 * is named "latency"), but the rule's sidx rows hold no latency: every block fails its filter and
 * the answer is empty. Without the condition the same query answers. */
static void a_condition_on_the_order_key_answers_nothing(void **state) {
  (void)state;
  sl_backend_options options = {.catalog = catalog, .directory = test_temp_dir("sqlite-order-key"),
                                .shape = SL_SHAPE_TRACE};
  sl_backend *backend = NULL;
  sl_error err;
  assert_int_equal(sl_backend_open("sqlite", &options, &backend, &err), SL_OK);
  write_spans(backend, 0, 200);
#define ORDER_KEY_REQUEST(criteria)                                                                          \
  "{\"groups\":[\"trace_performance_test\"],\"name\":\"segment_trace\",\"timeRange\":{\"begin\":"                   \
  "\"2024-01-01T00:00:00Z\",\"end\":\"2024-01-02T00:00:00Z\"},\"limit\":5,\"tagProjection\":[\"traceId\"],"        \
  "\"orderBy\":{\"indexRuleName\":\"latency_based_index\",\"sort\":\"SORT_DESC\"}" criteria "}"
  static const char *const requests[] = {
      ORDER_KEY_REQUEST(""),
      ORDER_KEY_REQUEST(",\"criteria\":{\"condition\":{\"name\":\"latency\",\"op\":\"BINARY_OP_GE\","
                        "\"value\":{\"int\":{\"value\":\"0\"}}}}"),
  };
#undef ORDER_KEY_REQUEST
  for (int c = 0; c < 2; c++) {
    const char *text = requests[c];
    sl_query *query = NULL;
    assert_int_equal(sl_query_parse(catalog, SL_QUERY_TRACE, text, strlen(text), &query, &err), SL_OK);
    sl_backend_answer answer = {0};
    assert_int_equal(sl_backend_query(backend, query, &answer, &err), SL_OK);
    if (c == 0) {
      assert_true(answer.span_count > 0);
    } else {
      assert_int_equal(answer.span_count, 0);
    }
    sl_backend_answer_free(&answer);
    sl_query_free(query);
  }
  sl_backend_close(backend);
}

/* The rule BanyanDB looks up by the key tag's name decides which conditions leave the row filter:
 * its *tags*. A rule named "latency" over (serviceId, serviceInstanceId, startTime) leaves a latency
 * condition in the filter, so the answer is still nothing; the baseline only asked whether such a
 * rule existed, and answered 20 spans (a review found it). */
static void the_rule_named_like_the_key_decides_by_its_tags(void **state) {
  (void)state;
  const char *dir = test_temp_dir("sqlite-rule-named-latency");
  static const char *const files[] = {"group.json", "stream_schema.json", "stream_index_rules.json",
                                      "stream_index_rule_bindings.json", "trace_schema.json"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char path[4200];
    snprintf(path, sizeof path, "%s/schemas/stream-vs-trace/%s", SPANLAB_SOURCE_DIR, files[i]);
    size_t size = 0;
    char *text = test_read_file(path, &size);
    assert_non_null(text);
    test_write_file(dir, files[i], text);
    free(text);
  }
  test_write_file(dir, "trace_index_rules.json",
                  "[{\"metadata\": {\"name\": \"time_based_index\", \"group\": \"trace_performance_test\"}, \"tags\": "
                  "[\"serviceId\", \"serviceInstanceId\", \"startTime\"], \"type\": \"TYPE_INVERTED\"},\n"
                  " {\"metadata\": {\"name\": \"latency_based_index\", \"group\": \"trace_performance_test\"}, \"tags\": "
                  "[\"serviceId\", \"serviceInstanceId\", \"latency\"], \"type\": \"TYPE_INVERTED\"},\n"
                  " {\"metadata\": {\"name\": \"latency\", \"group\": \"trace_performance_test\"}, \"tags\": "
                  "[\"serviceId\", \"serviceInstanceId\", \"startTime\"], \"type\": \"TYPE_INVERTED\"}]\n");
  test_write_file(dir, "trace_index_rule_bindings.json",
                  "{\"metadata\": {\"name\": \"segment_trace_binding\", \"group\": \"trace_performance_test\"},\n"
                  " \"rules\": [\"time_based_index\", \"latency_based_index\", \"latency\"],\n"
                  " \"subject\": {\"name\": \"segment_trace\", \"catalog\": \"CATALOG_TRACE\"},\n"
                  " \"begin_at\": \"2024-01-01T00:00:00Z\", \"expire_at\": \"2030-01-01T00:00:00Z\"}\n");
  sl_diag *problems = sl_diag_new();
  sl_catalog *named = NULL;
  assert_int_equal(sl_catalog_load_dir(dir, NULL, &named, problems), SL_OK);
  sl_diag_free(problems);
  char store[4200];
  snprintf(store, sizeof store, "%s/store", dir);
  sl_backend_options options = {.catalog = named, .directory = store, .shape = SL_SHAPE_TRACE};
  sl_backend *backend = NULL;
  sl_error err;
  assert_int_equal(sl_backend_open("sqlite", &options, &backend, &err), SL_OK);
  write_spans(backend, 0, 200);
  static const char text[] =
      "{\"groups\":[\"trace_performance_test\"],\"name\":\"segment_trace\",\"timeRange\":{\"begin\":"
      "\"2024-01-01T00:00:00Z\",\"end\":\"2024-01-02T00:00:00Z\"},\"limit\":5,\"tagProjection\":[\"traceId\"],"
      "\"orderBy\":{\"indexRuleName\":\"latency_based_index\",\"sort\":\"SORT_DESC\"},\"criteria\":{\"condition\":"
      "{\"name\":\"latency\",\"op\":\"BINARY_OP_GE\",\"value\":{\"int\":{\"value\":\"0\"}}}}}";
  sl_query *query = NULL;
  assert_int_equal(sl_query_parse(named, SL_QUERY_TRACE, text, strlen(text), &query, &err), SL_OK);
  sl_backend_answer answer = {0};
  assert_int_equal(sl_backend_query(backend, query, &answer, &err), SL_OK);
  assert_int_equal(answer.span_count, 0);
  sl_backend_answer_free(&answer);
  sl_query_free(query);
  sl_backend_close(backend);
  sl_catalog_free(named);
}

static void bad_requests_are_clear_errors(void **state) {
  (void)state;
  sl_backend_options options = {.catalog = catalog, .directory = test_temp_dir("sqlite-bad"),
                                .shape = SL_SHAPE_STREAM};
  sl_backend *backend = NULL;
  sl_error err = {0};
  assert_int_equal(sl_backend_open("oracle9i", &options, &backend, &err), SL_ERR_INVALID);
  assert_non_null(strstr(err.message, "unknown backend \"oracle9i\""));
  assert_null(backend);
  options.subject = "no_such_stream";
  assert_int_equal(sl_backend_open("sqlite", &options, &backend, &err), SL_ERR_NOT_FOUND);
  assert_non_null(strstr(err.message, "no stream named no_such_stream"));
  options.subject = NULL;
  options.directory = "/proc/definitely/not/writable";
  assert_int_equal(sl_backend_open("sqlite", &options, &backend, &err), SL_ERR_IO);
  assert_non_null(strstr(err.message, "cannot create directory /proc/definitely"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(stores_and_counts_spans_across_reopen),
      cmocka_unit_test(one_changed_byte_changes_the_checksum),
      cmocka_unit_test(indexes_follow_the_bound_rules_of_each_shape),
      cmocka_unit_test(trace_ids_are_cut_before_duplicates_go),
      cmocka_unit_test(a_condition_on_the_order_key_answers_nothing),
      cmocka_unit_test(the_rule_named_like_the_key_decides_by_its_tags),
      cmocka_unit_test(bad_requests_are_clear_errors),
  };
  return cmocka_run_group_tests(tests, load_catalog, free_catalog);
}
