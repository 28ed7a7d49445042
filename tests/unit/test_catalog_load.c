/* test_catalog_load.c: the shipped schemas load and verify in seven steps; the
 * catalog answers lookups and bound-rule queries; lowerCamel, snake_case and
 * enum numbers are accepted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"
#include "spanlab/catalog.h"
#include "test_support.h"

typedef struct step_log {
  int steps_seen;
  int last_step;
  char lines[7][256];
} step_log;

static void record_step(void *context, int step_number, const char *step_name,
                        const char *file_path, bool file_present, size_t object_count,
                        const char *summary) {
  (void)file_path;
  (void)summary;
  step_log *log = context;
  assert_int_equal(step_number, log->last_step + 1); /* steps come in order 1..7 */
  log->last_step = step_number;
  snprintf(log->lines[log->steps_seen++], 256, "%s %d %zu", step_name, file_present,
           object_count);
}

static sl_catalog *load_or_fail(const char *dir, step_log *log) {
  sl_diag *problems = sl_diag_new();
  sl_catalog_load_options options = {.on_step = record_step, .context = log};
  sl_catalog *catalog = NULL;
  sl_status status = sl_catalog_load_dir(dir, &options, &catalog, problems);
  for (size_t i = 0; i < sl_diag_count(problems); i++) {
    fprintf(stderr, "unexpected problem: %s\n", sl_diag_message(problems, i));
  }
  assert_int_equal(status, SL_OK);
  assert_int_equal(sl_diag_count(problems), 0);
  sl_diag_free(problems);
  return catalog;
}

static void shipped_schemas_load_in_seven_steps(void **state) {
  (void)state;
  step_log log = {0};
  sl_catalog *catalog = load_or_fail(SPANLAB_SOURCE_DIR "/schemas/stream-vs-trace", &log);
  assert_int_equal(log.steps_seen, 7);
  assert_string_equal(log.lines[0], "groups 1 2");
  assert_string_equal(log.lines[1], "stream schemas 1 1");
  assert_string_equal(log.lines[2], "trace schemas 1 1");
  assert_string_equal(log.lines[3], "stream index rules 1 7");
  assert_string_equal(log.lines[4], "trace index rules 1 2");
  assert_string_equal(log.lines[5], "stream index rule bindings 1 1");
  assert_string_equal(log.lines[6], "trace index rule bindings 1 1");

  const sl_group *stream_group = sl_catalog_find_group(catalog, "stream_performance_test");
  assert_non_null(stream_group);
  assert_int_equal(stream_group->catalog, SL_CATALOG_STREAM);
  assert_int_equal(stream_group->shard_num, 2);
  assert_int_equal(sl_interval_ms(stream_group->segment_interval), 86400000LL);
  assert_int_equal(sl_interval_ms(stream_group->ttl), 7 * 86400000LL);

  const sl_stream_schema *stream =
      sl_catalog_find_stream(catalog, "stream_performance_test", "segment_stream");
  assert_non_null(stream);
  assert_int_equal(stream->family_count, 2);
  assert_string_equal(stream->families[1].name, "data_binary");
  assert_int_equal(stream->tag_count, 11);
  assert_int_equal(stream->entity_count, 2);
  assert_string_equal(stream->entity_tags[1], "serviceInstanceId");
  const sl_tag_spec *data_binary = sl_stream_find_tag(stream, "dataBinary");
  assert_non_null(data_binary);
  assert_int_equal(data_binary->type, SL_TAG_DATA_BINARY);
  assert_int_equal(data_binary->family_index, 1);
  assert_int_equal(data_binary->tag_index, 10);
  assert_null(sl_stream_find_tag(stream, "nope"));

  const sl_trace_schema *trace =
      sl_catalog_find_trace(catalog, "trace_performance_test", "segment_trace");
  assert_non_null(trace);
  assert_string_equal(trace->trace_id_tag, "traceId");
  assert_string_equal(trace->timestamp_tag, "startTime");
  assert_null(trace->span_id_tag);
  assert_null(sl_catalog_find_trace(catalog, "stream_performance_test", "segment_trace"));

  int64_t in_2025_ns = 0;
  assert_int_equal(sl_rfc3339_parse_ns("2025-06-01T00:00:00Z", &in_2025_ns, NULL), SL_OK);
  const sl_index_rule *rules[16];
  size_t bound = sl_catalog_bound_rules(catalog, SL_CATALOG_STREAM, "stream_performance_test",
                                        "segment_stream", in_2025_ns, rules, 16);
  assert_int_equal(bound, 7);
  assert_string_equal(rules[0]->name, "latency_index");
  assert_string_equal(rules[6]->name, "is_error_index");
  bound = sl_catalog_bound_rules(catalog, SL_CATALOG_TRACE, "trace_performance_test",
                                 "segment_trace", in_2025_ns, rules, 16);
  assert_int_equal(bound, 2);
  assert_int_equal(rules[0]->tag_count, 3);
  assert_string_equal(rules[0]->tags[2], "startTime");
  /* Outside the binding's validity window nothing is bound. */
  int64_t in_2031_ns = 0;
  assert_int_equal(sl_rfc3339_parse_ns("2031-01-01T00:00:00Z", &in_2031_ns, NULL), SL_OK);
  assert_int_equal(sl_catalog_bound_rules(catalog, SL_CATALOG_TRACE, "trace_performance_test",
                                          "segment_trace", in_2031_ns, rules, 16),
                   0);
  sl_catalog_free(catalog);
}

static void banyandb_case_schemas_load(void **state) {
  (void)state;
  step_log log = {0};
  sl_catalog *catalog = load_or_fail(SPANLAB_SOURCE_DIR "/tests/data/banyandb-cases/schemas/trace", &log);
  assert_string_equal(log.lines[1], "stream schemas 0 0"); /* absent file: skipped */
  const sl_trace_schema *trace = sl_catalog_find_trace(catalog, "test-trace-group", "sw");
  assert_non_null(trace);
  assert_string_equal(trace->timestamp_tag, "timestamp");
  assert_int_equal(sl_trace_find_tag(trace, "timestamp")->type, SL_TAG_TIMESTAMP);
  const sl_index_rule *rule = sl_catalog_find_rule(catalog, "test-trace-group", "duration");
  assert_non_null(rule);
  assert_int_equal(rule->type, SL_INDEX_TREE);
  sl_catalog_free(catalog);

  step_log stream_log = {0};
  catalog = load_or_fail(SPANLAB_SOURCE_DIR "/tests/data/banyandb-cases/schemas/stream", &stream_log);
  const sl_stream_schema *stream = sl_catalog_find_stream(catalog, "default", "sw");
  assert_non_null(stream);
  assert_int_equal(stream->entity_count, 3);
  const sl_index_rule *instance = sl_catalog_find_rule(catalog, "default", "db.instance");
  assert_non_null(instance);
  assert_string_equal(instance->analyzer, "url");
  sl_catalog_free(catalog);
}

static void camel_case_and_enum_numbers_are_accepted(void **state) {
  (void)state;
  const char *dir = test_temp_dir("catalog-camel");
  test_write_file(dir, "group.json",
                  "{\"metadata\": {\"name\": \"g\"}, \"catalog\": 1,\n"
                  " \"resourceOpts\": {\"shardNum\": \"3\", \"segmentInterval\": {\"unit\": 1, \"num\": 6},\n"
                  "  \"ttl\": {\"unit\": \"UNIT_DAY\", \"num\": 2}}, \"updatedAt\": \"2021-04-15T01:30:15.01Z\"}\n");
  test_write_file(dir, "stream_schema.json",
                  "{\"metadata\": {\"name\": \"s\", \"group\": \"g\", \"id\": 1},\n"
                  " \"tagFamilies\": [{\"name\": \"f\", \"tags\": [{\"name\": \"a\", \"type\": 1},\n"
                  "   {\"name\": \"n\", \"type\": \"TAG_TYPE_INT\"}]}],\n"
                  " \"entity\": {\"tagNames\": [\"a\"]}}\n");
  test_write_file(dir, "stream_index_rules.json",
                  "[{\"metadata\": {\"name\": \"r\", \"group\": \"g\"}, \"tags\": [\"n\"], \"type\": 2, \"noSort\": true}]\n");
  test_write_file(dir, "stream_index_rule_bindings.json",
                  "{\"metadata\": {\"name\": \"b\", \"group\": \"g\"}, \"rules\": [\"r\"],\n"
                  " \"subject\": {\"name\": \"s\", \"catalog\": \"CATALOG_STREAM\"},\n"
                  " \"beginAt\": \"2020-01-01T08:00:00+08:00\", \"expireAt\": \"2121-01-01T00:00:00.5Z\"}\n");
  step_log log = {0};
  sl_catalog *catalog = load_or_fail(dir, &log);
  const sl_group *group = sl_catalog_find_group(catalog, "g");
  assert_int_equal(group->shard_num, 3);
  assert_int_equal(sl_interval_ms(group->segment_interval), 6 * 3600000LL);
  const sl_index_rule *rule = sl_catalog_find_rule(catalog, "g", "r");
  assert_int_equal(rule->type, SL_INDEX_SKIPPING);
  assert_true(rule->no_sort);
  const sl_index_binding *binding = sl_catalog_binding_at(catalog, 0);
  assert_int_equal(binding->begin_at_ns, 1577836800LL * 1000000000LL);
  assert_int_equal(binding->expire_at_ns % 1000000000LL, 500000000LL);
  sl_catalog_free(catalog);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(shipped_schemas_load_in_seven_steps),
      cmocka_unit_test(banyandb_case_schemas_load),
      cmocka_unit_test(camel_case_and_enum_numbers_are_accepted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
