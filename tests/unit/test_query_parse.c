/* test_query_parse.c: bad queries get a clear error naming the problem and
 * its JSON path; good ones bind to the catalog. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/plan.h"
#include "spanlab/query.h"
#include "test_support.h"

static sl_catalog *catalog;

static int setup(void **state) {
  (void)state;
  sl_diag *problems = sl_diag_new();
  sl_status status = sl_catalog_load_dir(SPANLAB_SOURCE_DIR "/schemas/stream-vs-trace", NULL, &catalog, problems);
  sl_diag_free(problems);
  return status == SL_OK ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  sl_catalog_free(catalog);
  return 0;
}

#define STREAM "\"groups\":[\"stream_performance_test\"],\"name\":\"segment_stream\""
#define TRACE "\"groups\":[\"trace_performance_test\"],\"name\":\"segment_trace\""
#define TRACE_ID_EQ "{\"condition\":{\"name\":\"traceId\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"t1\"}}}}"
#define LATENCY_GT "{\"condition\":{\"name\":\"latency\",\"op\":\"BINARY_OP_GT\",\"value\":{\"int\":{\"value\":\"5\"}}}}"

static void good_queries_bind(void **state) {
  (void)state;
  const char *text = "{" STREAM ",\"timeRange\":{\"begin\":\"2025-01-01T00:00:00Z\",\"end\":\"2025-01-01T00:01:00Z\"},"
                     "\"criteria\":{\"le\":{\"op\":\"LOGICAL_OP_AND\",\"left\":{\"condition\":{\"name\":\"serviceId\","
                     "\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"a\"}}}},\"right\":{\"condition\":{\"name\":"
                     "\"latency\",\"op\":\"BINARY_OP_GT\",\"value\":{\"int\":{\"value\":\"100\"}}}}}},"
                     "\"orderBy\":{\"indexRuleName\":\"latency_index\",\"sort\":\"SORT_DESC\"},\"limit\":5,"
                     "\"projection\":{\"tagFamilies\":[{\"name\":\"primary\",\"tags\":[\"traceId\",\"latency\"]}]}}";
  sl_query *query = NULL;
  sl_error err;
  assert_int_equal(sl_query_parse(catalog, SL_QUERY_STREAM, text, strlen(text), &query, &err), SL_OK);
  assert_true(query->has_time_range);
  assert_int_equal(query->end_ns - query->begin_ns, 60000000000LL);
  assert_int_equal(query->criteria->kind, SL_CRITERIA_AND);
  assert_int_equal(query->criteria->right->value.as.int_value, 100);
  assert_string_equal(query->order_rule->name, "latency_index");
  assert_int_equal(query->sort, SL_SORT_DESC);
  assert_int_equal(query->limit, 5);
  assert_int_equal(query->families[0].tag_count, 2);
  sl_query_free(query);

  /* Sort as a number (an open enum: numbers other than 1 and 2 sort as SORT_UNSPECIFIED). */
  static const struct {
    const char *number;
    sl_sort sort;
  } sorts[] = {{"1", SL_SORT_DESC}, {"2", SL_SORT_ASC}, {"0", SL_SORT_UNSPECIFIED}, {"7", SL_SORT_UNSPECIFIED},
               {"-3", SL_SORT_UNSPECIFIED}};
  for (size_t i = 0; i < sizeof sorts / sizeof sorts[0]; i++) {
    char numbered[400];
    snprintf(numbered, sizeof numbered, "{" STREAM ",\"orderBy\":{\"sort\":%s},\"projection\":{\"tagFamilies\":"
             "[{\"name\":\"primary\",\"tags\":[\"traceId\"]}]}}", sorts[i].number);
    assert_int_equal(sl_query_parse(catalog, SL_QUERY_STREAM, numbered, strlen(numbered), &query, &err), SL_OK);
    assert_int_equal(query->sort, sorts[i].sort);
    sl_query_free(query);
  }

  const char *trace = "{" TRACE ",\"criteria\":{\"condition\":{\"name\":\"traceId\",\"op\":\"BINARY_OP_IN\","
                      "\"value\":{\"strArray\":{\"value\":[\"t1\",\"t2\"]}}}},\"tagProjection\":[\"spanId\"]}";
  assert_int_equal(sl_query_parse(catalog, SL_QUERY_TRACE, trace, strlen(trace), &query, &err), SL_OK);
  assert_int_equal(query->trace_id_count, 2);
  assert_int_equal(query->trace_ids[1].size_bytes, 2);
  sl_query_free(query);

  /* A null member is the field's default (proto3 JSON): no time range, offset and limit 0, no order. */
  const char *nulls = "{" STREAM ",\"timeRange\":null,\"offset\":null,\"limit\":null,\"orderBy\":null,\"criteria\":null,"
                      "\"projection\":{\"tagFamilies\":[{\"name\":\"primary\",\"tags\":[\"traceId\"]}]}}";
  assert_int_equal(sl_query_parse(catalog, SL_QUERY_STREAM, nulls, strlen(nulls), &query, &err), SL_OK);
  assert_false(query->has_time_range);
  assert_int_equal(query->limit, 0);
  assert_int_equal(query->offset, 0);
  assert_null(query->order_rule);
  assert_null(query->criteria);
  sl_query_free(query);
  const char *trace_nulls = "{" TRACE ",\"tagProjection\":null,\"criteria\":" TRACE_ID_EQ "}";
  assert_int_equal(sl_query_parse(catalog, SL_QUERY_TRACE, trace_nulls, strlen(trace_nulls), &query, &err), SL_OK);
  assert_int_equal(query->tag_projection_count, 0);
  sl_query_free(query);

  /* An empty projection, but a condition on a tag other than the entity's: BanyanDB projects that tag. */
  /* A null "tags" is the field's default, no tags (it was refused as "needs a "tags" array"). */
  const char *null_tags = "{" STREAM ",\"projection\":{\"tagFamilies\":[{\"name\":\"primary\",\"tags\":null}]},"
                          "\"criteria\":" LATENCY_GT "}";
  assert_int_equal(sl_query_parse(catalog, SL_QUERY_STREAM, null_tags, strlen(null_tags), &query, &err), SL_OK);
  sl_query_free(query);
  const char *filtered = "{" STREAM ",\"projection\":{},\"criteria\":" LATENCY_GT "}";
  assert_int_equal(sl_query_parse(catalog, SL_QUERY_STREAM, filtered, strlen(filtered), &query, &err), SL_OK);
  sl_query_free(query);

  /* With trace ids, an OR of conditions that filter nothing there (the trace-id tag) is accepted, and
   * so is an OR without trace ids (BanyanDB refuses only an OR that filters spans beside trace ids). */
  const char *ids_ored = "{" TRACE ",\"criteria\":{\"le\":{\"op\":\"LOGICAL_OP_AND\",\"left\":{\"le\":{\"op\":"
                         "\"LOGICAL_OP_OR\",\"left\":" TRACE_ID_EQ ",\"right\":" TRACE_ID_EQ "}},\"right\":" LATENCY_GT "}}}";
  assert_int_equal(sl_query_parse(catalog, SL_QUERY_TRACE, ids_ored, strlen(ids_ored), &query, &err), SL_OK);
  sl_query_free(query);
  const char *no_ids = "{" TRACE ",\"orderBy\":{\"indexRuleName\":\"time_based_index\"},\"criteria\":{\"le\":{\"op\":"
                       "\"LOGICAL_OP_OR\",\"left\":" LATENCY_GT ",\"right\":" LATENCY_GT "}}}";
  assert_int_equal(sl_query_parse(catalog, SL_QUERY_TRACE, no_ids, strlen(no_ids), &query, &err), SL_OK);
  sl_query_free(query);
}

static void bad_queries_name_their_problem(void **state) {
  (void)state;
  static const struct {
    sl_query_model model;
    const char *text;
    const char *message;
  } cases[] = {
      {SL_QUERY_STREAM, "{" STREAM ",", "malformed JSON"},
      {SL_QUERY_STREAM, "[]", "a query needs \"groups\""},
      {SL_QUERY_STREAM, "{\"name\":\"segment_stream\"}", "a query needs \"groups\""},
      {SL_QUERY_STREAM, "{\"groups\":[\"stream_performance_test\"]}", "a query needs \"name\""},
      {SL_QUERY_STREAM, "{\"groups\":[\"nope\"],\"name\":\"segment_stream\"}", "no stream nope/segment_stream"},
      {SL_QUERY_TRACE, "{" STREAM "}", "no trace stream_performance_test/segment_stream"},
      {SL_QUERY_STREAM, "{" STREAM ",\"timeRange\":{\"begin\":\"yesterday\",\"end\":\"2025-01-01T00:00:00Z\"}}",
       "$.timeRange.begin: timeRange.begin must be an RFC 3339 timestamp"},
      {SL_QUERY_STREAM, "{" STREAM ",\"timeRange\":{\"begin\":\"2025-01-02T00:00:00Z\",\"end\":\"2025-01-01T00:00:00Z\"}}",
       "timeRange.begin is after timeRange.end"},
      /* A well-formed time outside int64 nanoseconds was "must be an RFC 3339 timestamp", which it is:
       * the message says why (BanyanDB's timestamp.Check: "time is out of range"). */
      {SL_QUERY_STREAM, "{" STREAM ",\"timeRange\":{\"begin\":\"0001-01-01T00:00:00Z\",\"end\":\"2025-01-01T00:00:00Z\"}}",
       "$.timeRange.begin: timeRange.begin \"0001-01-01T00:00:00Z\" is outside 1677-09-21..2262-04-11"},
      {SL_QUERY_STREAM, "{" STREAM ",\"timeRange\":{\"begin\":\"2025-01-01T00:00:00Z\",\"end\":\"2262-04-11T23:47:16.855Z\"}}",
       "$.timeRange.end: timeRange.end \"2262-04-11T23:47:16.855Z\" is outside 1677-09-21..2262-04-11"},
      /* What is wrong with a malformed one, and a missing one said missing (BanyanDB: "time is empty"). */
      {SL_QUERY_STREAM, "{" STREAM ",\"timeRange\":{\"begin\":\"2025-01-01T00:00:00\",\"end\":\"2025-01-01T00:00:00Z\"}}",
       "$.timeRange.begin: timeRange.begin must be an RFC 3339 timestamp: \"2025-01-01T00:00:00\" has no time zone"},
      {SL_QUERY_STREAM, "{" STREAM ",\"timeRange\":{\"begin\":\"2025-01-01T00:00:00Z\"}}",
       "$.timeRange: timeRange.end is missing (BanyanDB: \"time is empty\")"},
      {SL_QUERY_STREAM, "{" STREAM ",\"timeRange\":{\"begin\":5,\"end\":\"2025-01-01T00:00:00Z\"}}",
       "$.timeRange.begin: timeRange.begin must be an RFC 3339 timestamp (a JSON string)"},
      {SL_QUERY_STREAM, "{" STREAM ",\"limit\":-1}", "$.limit: expected an unsigned 32-bit integer"},
      {SL_QUERY_STREAM, "{" STREAM ",\"criteria\":{\"condition\":{\"name\":\"nope\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"x\"}}}}}",
       "$.criteria.condition.name: tag \"nope\" does not exist"},
      {SL_QUERY_STREAM, "{" STREAM ",\"criteria\":{\"condition\":{\"name\":\"latency\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"x\"}}}}}",
       "cannot be compared with tag \"latency\" of type TAG_TYPE_INT"},
      /* An orderBy of the wrong JSON type was ignored (time order, no word). */
      {SL_QUERY_STREAM, "{" STREAM ",\"projection\":{},\"orderBy\":\"latency\"}", "$.orderBy: expected an OrderBy object"},
      {SL_QUERY_STREAM, "{" STREAM ",\"projection\":{},\"orderBy\":[1]}", "$.orderBy: expected an OrderBy object"},
      {SL_QUERY_TRACE, "{" TRACE ",\"orderBy\":{\"indexRuleName\":5}}", "$.orderBy.indexRuleName: expected a string"},
      /* BanyanDB's tag filter parses no binary value (parseExpr): a condition on one fails, even
       * with a null literal (it answered every row). */
      {SL_QUERY_STREAM, "{" STREAM ",\"projection\":{},\"criteria\":{\"condition\":{\"name\":\"dataBinary\",\"op\":\"BINARY_OP_NE\",\"value\":{\"null\":null}}}}",
       "$.criteria.condition.name: tag \"dataBinary\" is TAG_TYPE_DATA_BINARY: BanyanDB compares no condition on binary data"},
      {SL_QUERY_TRACE, "{" TRACE ",\"orderBy\":{\"indexRuleName\":\"time_based_index\"},\"criteria\":{\"condition\":{\"name\":\"dataBinary\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"null\":null}}}}",
       "tag \"dataBinary\" is TAG_TYPE_DATA_BINARY"},
      {SL_QUERY_STREAM, "{" STREAM ",\"criteria\":{\"condition\":{\"name\":\"latency\",\"op\":\"BINARY_OP_LIKE\",\"value\":{\"int\":{}}}}}",
       "$.criteria.condition.op: expected op BINARY_OP_EQ"},
      {SL_QUERY_STREAM, "{" STREAM ",\"criteria\":{\"condition\":{\"name\":\"serviceId\",\"op\":\"BINARY_OP_NE\",\"value\":{\"str\":{\"value\":\"a\"}}}}}",
       "operation on entity tag \"serviceId\" is not supported: only EQ and IN are"},
      {SL_QUERY_STREAM, "{" STREAM ",\"criteria\":{\"condition\":{\"name\":\"traceId\",\"op\":\"BINARY_OP_EQ\"}}}",
       "a condition needs a \"value\""},
      {SL_QUERY_STREAM, "{" STREAM ",\"criteria\":{\"condition\":{\"name\":\"traceId\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"float\":1}}}}",
       "unknown TagValue kind \"float\""},
      {SL_QUERY_STREAM, "{" STREAM ",\"criteria\":{\"le\":{\"op\":\"LOGICAL_OP_XOR\"}}}", "expected op LOGICAL_OP_AND or LOGICAL_OP_OR"},
      {SL_QUERY_STREAM, "{" STREAM ",\"criteria\":{\"le\":{\"op\":\"LOGICAL_OP_AND\"}}}", "both sides (left and right)"},
      {SL_QUERY_STREAM, "{" STREAM ",\"criteria\":{}}", "a Criteria needs \"le\" or \"condition\""},
      {SL_QUERY_STREAM, "{" STREAM ",\"orderBy\":{\"indexRuleName\":\"time_based_index\"}}",
       "index rule \"time_based_index\" is not bound to stream_performance_test/segment_stream"},
      {SL_QUERY_STREAM, "{" STREAM ",\"orderBy\":{\"sort\":\"SORT_SIDEWAYS\"}}", "expected SORT_ASC, SORT_DESC"},
      {SL_QUERY_STREAM, "{" STREAM ",\"orderBy\":{\"sort\":1.5}}", "$.orderBy.sort: expected SORT_ASC, SORT_DESC"},
      {SL_QUERY_STREAM, "{" STREAM ",\"orderBy\":{\"sort\":true}}", "$.orderBy.sort: expected SORT_ASC, SORT_DESC"},
      {SL_QUERY_STREAM, "{" STREAM ",\"projection\":{\"tagFamilies\":[{\"name\":\"primary\",\"tags\":[\"nope\"]}]}}",
       "$.projection.tagFamilies[0].tags[0]: projected tag nope does not exist in family primary"},
      /* Projection errors named only $.projection.tagFamilies, and a tag that is no string "(not a
       * string) does not exist". */
      {SL_QUERY_STREAM, "{" STREAM ",\"projection\":{\"tagFamilies\":[{\"name\":\"primary\",\"tags\":[\"latency\",7]}]}}",
       "$.projection.tagFamilies[0].tags[1]: expected a tag name (a string), found an integer"},
      {SL_QUERY_STREAM, "{" STREAM ",\"projection\":{\"tagFamilies\":[{\"name\":\"primary\",\"tags\":[\"latency\"]},"
       "{\"tags\":[\"latency\"]}]}}",
       "$.projection.tagFamilies[1]: a tag family needs a \"name\" (a string)"},
      {SL_QUERY_STREAM, "{" STREAM ",\"projection\":{\"tagFamilies\":[\"primary\"]}}",
       "$.projection.tagFamilies[0]: expected a tag family object {\"name\", \"tags\"}"},
      {SL_QUERY_STREAM, "{" STREAM ",\"projection\":{\"tagFamilies\":[{\"name\":\"primary\",\"tags\":\"latency\"}]}}",
       "$.projection.tagFamilies[0].tags: expected an array of tag names"},
      {SL_QUERY_STREAM, "{" STREAM ",\"projection\":{\"tagFamilies\":[{\"name\":\"extra\",\"tags\":[]}]}}",
       "tag family \"extra\" does not exist"},
      {SL_QUERY_TRACE, "{" TRACE ",\"tagProjection\":[\"latency\",\"nope\"]}",
       "$.tagProjection[1]: projected tag nope does not exist in trace"},
      {SL_QUERY_TRACE, "{" TRACE ",\"tagProjection\":[null]}", "$.tagProjection[0]: expected a tag name (a string), found null"},
      {SL_QUERY_TRACE, "{" TRACE "}", "a trace query needs a trace-id condition (EQ or IN on traceId) or an orderBy"},
      {SL_QUERY_TRACE, "{\"groups\":[\"trace_performance_test\",\"other\"],\"name\":\"segment_trace\"}",
       "spanlab queries one group at a time"},
      {SL_QUERY_STREAM, "{" STREAM ",\"timeRange\":{\"begin\":\"2025-01-01T00:00:00.000001Z\",\"end\":\"2025-01-01T01:00:00Z\"}}",
       "$.timeRange.begin: timeRange.begin has a fraction finer than a millisecond"},
      {SL_QUERY_STREAM, "{" STREAM ",\"timeRange\":{\"begin\":\"2025-01-01T00:00:00Z\",\"end\":\"2025-01-01T01:00:00.0000005Z\"}}",
       "$.timeRange.end: timeRange.end has a fraction finer than a millisecond"},
      {SL_QUERY_STREAM, "{" STREAM ",\"criteria\":{\"condition\":{\"name\":\"serviceId\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"null\":null}}}}",
       "$.criteria.condition.value: a null value on entity tag \"serviceId\" is not supported"},
      {SL_QUERY_STREAM, "{" STREAM ",\"projection\":{},\"criteria\":{\"condition\":{\"name\":\"serviceId\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"a\"}}}}}",
       "$: a stream query needs a projected tag (projection.tagFamilies) or a condition on a tag other than the entity's"},
      /* The field itself is required (validate.rules message.required), whatever the criteria. */
      {SL_QUERY_STREAM, "{" STREAM ",\"criteria\":" LATENCY_GT "}", "$: a stream query needs a \"projection\""},
      {SL_QUERY_STREAM, "{" STREAM ",\"projection\":null,\"criteria\":" LATENCY_GT "}", "$: a stream query needs a \"projection\""},
      {SL_QUERY_STREAM, "{" STREAM ",\"projection\":{\"tagFamilies\":[{\"name\":\"primary\",\"tags\":[]}]}}",
       "tagProjection is required"},
      {SL_QUERY_STREAM, "{" STREAM ",\"criteria\":{\"condition\":{\"name\":\"startTime\",\"op\":\"BINARY_OP_GE\",\"value\":"
       "{\"timestamp\":\"2025-01-01T00:00:00Z\"}}}}",
       "$.criteria.condition.value: a timestamp value is not supported in criteria"},
      {SL_QUERY_TRACE, "{" TRACE ",\"criteria\":{\"le\":{\"op\":\"LOGICAL_OP_AND\",\"left\":" TRACE_ID_EQ ",\"right\":"
       "{\"le\":{\"op\":\"LOGICAL_OP_OR\",\"left\":" LATENCY_GT ",\"right\":" TRACE_ID_EQ "}}}}}",
       "query 1:206: $.criteria.le.right.le: an OR that filters spans is not supported when trace ids are given"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sl_query *query = NULL;
    sl_error err = {0};
    sl_status status = sl_query_parse(catalog, cases[i].model, cases[i].text, strlen(cases[i].text), &query, &err);
    if (status != SL_ERR_INVALID || query != NULL || strstr(err.message, cases[i].message) == NULL) {
      fail_msg("case %zu (%s): status %d, message \"%s\", expected \"%s\"", i, cases[i].text, status,
               err.message, cases[i].message);
    }
  }
}

/* Fields BanyanDB's QueryRequest lacks (a typo such as "limitt") are ignored, as its HTTP API ignores
 * them, and named with their place; fields it has that spanlab does not model (trace, stages,
 * matchOption) are named too; a request of known, modelled fields has no note. */
static void ignored_fields_are_named(void **state) {
  (void)state;
  const char *text = "{" STREAM ",\"limitt\":3,\"trace\":true,\n"
                     "\"timeRange\":{\"begin\":\"2025-01-01T00:00:00Z\",\"end\":\"2025-01-01T00:01:00Z\",\"step\":1},"
                     "\"orderBy\":{\"sort\":\"SORT_DESC\",\"index\":\"x\"},"
                     "\"criteria\":{\"condition\":{\"name\":\"latency\",\"op\":\"BINARY_OP_GT\",\"value\":"
                     "{\"int\":{\"value\":\"5\"}},\"match_option\":{\"analyzer\":\"url\"}}},"
                     "\"projection\":{\"tagFamilies\":[{\"name\":\"primary\",\"tags\":[\"traceId\"]}],\"all\":1}}";
  sl_query *query = NULL;
  sl_error err;
  assert_int_equal(sl_query_parse(catalog, SL_QUERY_STREAM, text, strlen(text), &query, &err), SL_OK);
  static const char *const expected[] = {
      "1:72: $.limitt: unknown field", "1:82: $.trace: spanlab does not model this field",
      "2:81: $.timeRange.step: unknown field", "$.orderBy.index: unknown field",
      "$.criteria.condition.match_option: spanlab does not model", "$.projection.all: unknown field"};
  enum { EXPECTED = sizeof expected / sizeof expected[0] };
  assert_int_equal(query->note_count, EXPECTED);
  for (size_t i = 0; i < EXPECTED; i++) {
    bool found = false;
    for (size_t n = 0; n < query->note_count; n++) {
      found = found || strstr(query->notes[n], expected[i]) != NULL;
    }
    if (!found) {
      fail_msg("no note says \"%s\" (first: %s)", expected[i], query->notes[0]);
    }
  }
  assert_int_equal(query->limit, 0); /* the typo set nothing */
  sl_query_free(query);

  const char *clean = "{" STREAM ",\"time_range\":{\"begin\":\"2025-01-01T00:00:00Z\",\"end\":\"2025-01-01T00:01:00Z\"},"
                      "\"order_by\":{\"index_rule_name\":\"latency_index\",\"sort\":1},\"offset\":1,\"limit\":2,"
                      "\"criteria\":{\"le\":{\"op\":\"LOGICAL_OP_OR\",\"left\":" LATENCY_GT ",\"right\":" LATENCY_GT "}},"
                      "\"projection\":{\"tag_families\":[{\"name\":\"primary\",\"tags\":[\"traceId\"]}]}}";
  assert_int_equal(sl_query_parse(catalog, SL_QUERY_STREAM, clean, strlen(clean), &query, &err), SL_OK);
  assert_int_equal(query->note_count, 0);
  sl_query_free(query);
  const char *trace = "{" TRACE ",\"criteria\":" TRACE_ID_EQ ",\"tag_projection\":[\"spanId\"],\"stages\":[\"hot\"],"
                      "\"projection\":{}}";
  assert_int_equal(sl_query_parse(catalog, SL_QUERY_TRACE, trace, strlen(trace), &query, &err), SL_OK);
  assert_int_equal(query->note_count, 2); /* stages (not modelled), projection (a stream field) */
  sl_query_free(query);
}

/* The trace row filter leaves out the tags of the rule *named* like the orderBy rule's last tag
 * (BanyanDB looks the rule up by name): the seed's latency_based_index ends in latency and no rule is
 * named latency, so a latency condition stays in the filter, here the whole OR. */
static void order_tags_stay_in_the_filter_without_a_rule_of_that_name(void **state) {
  (void)state;
  const char *text = "{" TRACE ",\"orderBy\":{\"indexRuleName\":\"latency_based_index\"},\"criteria\":{\"le\":{\"op\":"
                     "\"LOGICAL_OP_OR\",\"left\":" LATENCY_GT ",\"right\":{\"condition\":{\"name\":\"operationName\","
                     "\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"x\"}}}}}}}";
  sl_query *query = NULL;
  sl_error err;
  assert_int_equal(sl_query_parse(catalog, SL_QUERY_TRACE, text, strlen(text), &query, &err), SL_OK);
  sl_query_plan *plan = NULL;
  assert_int_equal(sl_query_plan_make(query, &plan, &err), SL_OK);
  const sl_filter_node *filter = sl_query_plan_filter(plan);
  assert_non_null(filter);
  assert_int_equal(filter->kind, SL_CRITERIA_OR);
  assert_string_equal(filter->left->leaf->tag_name, "latency");
  /* ... and as the rule's sidx rows hold no latency (write_standalone.go processIndexRules drops the
   * rule's tags), the filter fails on every row: every block is dropped, nothing is answered. */
  assert_true(sl_query_plan_skips_everything(plan));
  sl_query_plan_free(plan);
  sl_query_free(query);
  /* A latency condition ordered by the time rule: that rule's rows hold latency. */
  const char *by_time = "{" TRACE ",\"orderBy\":{\"indexRuleName\":\"time_based_index\"},\"criteria\":" LATENCY_GT "}";
  assert_int_equal(sl_query_parse(catalog, SL_QUERY_TRACE, by_time, strlen(by_time), &query, &err), SL_OK);
  assert_int_equal(sl_query_plan_make(query, &plan, &err), SL_OK);
  assert_false(sl_query_plan_skips_everything(plan));
  sl_query_plan_free(plan);
  sl_query_free(query);
}

/* A stored string that is not UTF-8 (a store written before span files were checked) is printed
 * with U+FFFD for each bad byte; the tag was dropped from the answer without a word. */
static void non_utf8_values_are_printed_not_dropped(void **state) {
  (void)state;
  const char *text = "{" STREAM ",\"projection\":{\"tagFamilies\":[{\"name\":\"primary\",\"tags\":[\"operationName\"]}]}}";
  sl_query *query = NULL;
  sl_error err;
  assert_int_equal(sl_query_parse(catalog, SL_QUERY_STREAM, text, strlen(text), &query, &err), SL_OK);
  const sl_stream_schema *stream = sl_catalog_stream_at(catalog, 0);
  const sl_tag_spec *operation = sl_stream_find_tag(stream, "operationName");
  assert_non_null(operation);
  sl_value tags[64] = {0};
  tags[operation->tag_index] = sl_value_str("op\xff!", 4);
  sl_query_row row = {.timestamp_ns = 1735689600000000000, .element_id = {"e1", 2}, .tags = tags};
  sl_query_result result = {0};
  assert_int_equal(sl_query_evaluate(query, &row, 1, NULL, &result, &err), SL_OK);
  assert_int_equal(result.row_count, 1);
  char *printed = NULL;
  size_t printed_bytes = 0;
  FILE *out = open_memstream(&printed, &printed_bytes);
  assert_int_equal(sl_query_print_response(query, &row, &result, out, &err), SL_OK);
  fclose(out);
  if (strstr(printed, "\"operationName\"") == NULL || strstr(printed, "op\xef\xbf\xbd!") == NULL) {
    fail_msg("printed: %s", printed);
  }
  free(printed);
  sl_query_result_free(&result);
  sl_query_free(query);
}

/* MATCH tokenizes with the analyzer of the rule *named* like the tag; the seed's operationName is
 * indexed by operation_name_index, so no rule is: BanyanDB then compares two string literals by
 * identity, and MATCH holds for no value. */
static void match_without_a_rule_of_the_tag_name_holds_for_nothing(void **state) {
  (void)state;
  const char *text = "{" STREAM ",\"projection\":{},\"criteria\":{\"condition\":{\"name\":\"operationName\",\"op\":\"BINARY_OP_MATCH\","
                     "\"value\":{\"str\":{\"value\":\"GET\"}}}}}";
  sl_query *query = NULL;
  sl_error err;
  assert_int_equal(sl_query_parse(catalog, SL_QUERY_STREAM, text, strlen(text), &query, &err), SL_OK);
  assert_null(query->criteria->match_analyzer);
  sl_value value = sl_value_str("GET /api", 8);
  assert_false(sl_query_leaf_match(query->criteria, &value));
  sl_query_free(query);
  /* The same on a trace tag that no rule indexes: accepted (trace/index_filter.go has a match filter
   * for any tag), and it holds for no value. */
  const char *trace = "{" TRACE ",\"orderBy\":{\"indexRuleName\":\"time_based_index\"},\"criteria\":{\"condition\":"
                      "{\"name\":\"operationName\",\"op\":\"BINARY_OP_MATCH\",\"value\":{\"str\":{\"value\":\"GET\"}}}}}";
  assert_int_equal(sl_query_parse(catalog, SL_QUERY_TRACE, trace, strlen(trace), &query, &err), SL_OK);
  assert_false(sl_query_leaf_match(query->criteria, &value));
  sl_query_free(query);
}

/* Ordering by a rule marked noSort is refused (BanyanDB's ParseOrderBy): the seed's schemas with
 * latency_index marked so. */
static void no_sort_rules_do_not_order(void **state) {
  (void)state;
  const char *dir = test_temp_dir("no-sort-schemas");
  static const char *const files[] = {"group.json", "stream_schema.json", "stream_index_rule_bindings.json",
                                      "trace_schema.json", "trace_index_rules.json", "trace_index_rule_bindings.json"};
  char command[8192];
  snprintf(command, sizeof command, "cd " SPANLAB_SOURCE_DIR "/schemas/stream-vs-trace && cp");
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    size_t used = strlen(command);
    snprintf(command + used, sizeof command - used, " %s", files[i]);
  }
  size_t used = strlen(command);
  snprintf(command + used, sizeof command - used,
           " '%s' && sed 's/\"latency_index\", \"group\": \"stream_performance_test\"}, /&\"noSort\": true, /' "
           "stream_index_rules.json > '%s/stream_index_rules.json'",
           dir, dir);
  assert_int_equal(system(command), 0);
  sl_diag *problems = sl_diag_new();
  sl_catalog *marked = NULL;
  assert_int_equal(sl_catalog_load_dir(dir, NULL, &marked, problems), SL_OK);
  sl_diag_free(problems);
  const char *text = "{" STREAM ",\"orderBy\":{\"indexRuleName\":\"latency_index\"},\"projection\":{\"tagFamilies\":"
                     "[{\"name\":\"primary\",\"tags\":[\"latency\"]}]}}";
  sl_query *query = NULL;
  sl_error err = {0};
  assert_int_equal(sl_query_parse(marked, SL_QUERY_STREAM, text, strlen(text), &query, &err), SL_ERR_INVALID);
  assert_non_null(strstr(err.message, "$.orderBy.indexRuleName: index rule \"latency_index\" is marked noSort"));
  assert_int_equal(sl_query_parse(catalog, SL_QUERY_STREAM, text, strlen(text), &query, &err), SL_OK);
  sl_query_free(query);
  sl_catalog_free(marked);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(good_queries_bind),
      cmocka_unit_test(bad_queries_name_their_problem),
      cmocka_unit_test(ignored_fields_are_named),
      cmocka_unit_test(order_tags_stay_in_the_filter_without_a_rule_of_that_name),
      cmocka_unit_test(non_utf8_values_are_printed_not_dropped),
      cmocka_unit_test(match_without_a_rule_of_the_tag_name_holds_for_nothing),
      cmocka_unit_test(no_sort_rules_do_not_order),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
