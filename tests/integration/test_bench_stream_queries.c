/* test_bench_stream_queries.c: the Stream engine answers random stream
 * QueryRequests as the reference evaluator does (tie-aware, src/bench/verify.c),
 * on random elements over three days (three segments, two shards), written in
 * random batches with a small memory limit (memory parts, flushes, merges),
 * before and after a flush, after a full compaction, and after a reopen that
 * replays the WAL.  Fixed seeds; QUERY_SEED overrides. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/verify.h"
#include "common/timeutil.h"
#include "spanlab/backend.h"
#include "spanlab/catalog.h"
#include "spanlab/query.h"
#include "stream/stream.h"
#include "test_support.h"

enum { ROWS = 4000, QUERIES = 300, SERVICES = 6, OPERATIONS = 40, DAY_MS = 86400000 };

static const int64_t base_ms = 1735689600000LL; /* 2025-01-01 */

typedef struct fixture {
  sl_catalog *catalog;
  const sl_stream_schema *schema;
  sl_query_row rows[ROWS];
  sl_value tags[ROWS][16];
  char ids[ROWS][48];
  char traces[ROWS][24];
  char spans[ROWS][16];
  char services[SERVICES][24];
  char instances[SERVICES * 3][40];
  char operations[OPERATIONS][24];
  char payload[ROWS][24];
  uint64_t rng;
} fixture;

static uint64_t next(fixture *f) {
  f->rng ^= f->rng << 13;
  f->rng ^= f->rng >> 7;
  f->rng ^= f->rng << 17;
  return f->rng;
}

static uint64_t below(fixture *f, uint64_t n) { return next(f) % n; }

static int tag_index(const fixture *f, const char *name) {
  const sl_tag_spec *tag = sl_stream_find_tag(f->schema, name);
  assert_non_null(tag);
  return (int)tag->tag_index;
}

static void make_rows(fixture *f) {
  static const char *const components[] = {"SpringMVC", "MySQL", "Redis", "Kafka", "gRPC"};
  for (int s = 0; s < SERVICES; s++) {
    snprintf(f->services[s], sizeof f->services[s], "svc-%d", s);
    for (int i = 0; i < 3; i++) {
      snprintf(f->instances[s * 3 + i], sizeof f->instances[0], "svc-%d-inst-%d", s, i);
    }
  }
  for (int o = 0; o < OPERATIONS; o++) {
    snprintf(f->operations[o], sizeof f->operations[o], "GET:/api/%d", o);
  }
  int service = tag_index(f, "serviceId"), instance = tag_index(f, "serviceInstanceId"), trace = tag_index(f, "traceId"),
      start = tag_index(f, "startTime"), latency = tag_index(f, "latency"), error = tag_index(f, "isError"),
      span = tag_index(f, "spanId"), parent = tag_index(f, "parentSpanId"), operation = tag_index(f, "operationName"),
      component = tag_index(f, "component"), data = tag_index(f, "dataBinary");
  for (int r = 0; r < ROWS; r++) {
    sl_value *tags = f->tags[r];
    for (size_t t = 0; t < f->schema->tag_count; t++) {
      tags[t] = sl_value_null();
    }
    int s = (int)(below(f, 100) < 60 ? below(f, 2) : below(f, SERVICES));
    int trace_number = r / 5 + (int)below(f, 3);
    snprintf(f->traces[r], sizeof f->traces[r], "trace-%05d", trace_number);
    snprintf(f->spans[r], sizeof f->spans[r], "%d", r); /* (traceId, spanId) names a span: unique */
    /* ms timestamps over three days, many equal (ties) */
    int64_t ts = base_ms + (int64_t)below(f, 3 * DAY_MS / 1000) * 1000 + (int64_t)below(f, 3);
    tags[service] = sl_value_str(f->services[s], strlen(f->services[s]));
    int inst = s * 3 + (int)below(f, 3);
    tags[instance] = sl_value_str(f->instances[inst], strlen(f->instances[inst]));
    tags[trace] = sl_value_str(f->traces[r], strlen(f->traces[r]));
    tags[start] = sl_value_int(ts);
    tags[latency] = sl_value_int((int64_t)below(f, 400));
    tags[error] = sl_value_int(below(f, 20) == 0);
    tags[span] = sl_value_str(f->spans[r], strlen(f->spans[r]));
    tags[parent] = sl_value_str(r % 5 == 0 ? "-1" : "0", r % 5 == 0 ? 2 : 1);
    int op = (int)(below(f, 2) == 0 ? below(f, 4) : below(f, OPERATIONS));
    tags[operation] = sl_value_str(f->operations[op], strlen(f->operations[op]));
    if (below(f, 10) != 0) {
      const char *c = components[below(f, 5)];
      tags[component] = sl_value_str(c, strlen(c));
    }
    snprintf(f->payload[r], sizeof f->payload[r], "payload-%d", r);
    tags[data] = sl_value_binary(f->payload[r], strlen(f->payload[r]));
    snprintf(f->ids[r], sizeof f->ids[r], "element-%d", r); /* unique: which duplicate survives is unspecified */
    f->rows[r] = (sl_query_row){.timestamp_ns = ts * 1000000, .tags = tags,
                                .element_id = {.data = f->ids[r], .size_bytes = strlen(f->ids[r])}};
  }
}

static void write_rows(fixture *f, sl_stream_engine *engine, size_t first, size_t last) {
  size_t at = first;
  while (at < last) {
    size_t batch = 1 + below(f, 200);
    if (at + batch > last) {
      batch = last - at;
    }
    sl_element elements[200];
    for (size_t i = 0; i < batch; i++) {
      const sl_query_row *row = &f->rows[at + i];
      elements[i] = (sl_element){.timestamp_ns = row->timestamp_ns, .data = row->element_id, .values = row->tags};
    }
    sl_error err;
    sl_status status = sl_stream_engine_write(engine, elements, batch, &err);
    if (status != SL_OK) {
      fail_msg("write: %s", err.message);
    }
    at += batch;
  }
}

/* ---- random queries ---- */

static void append(char *out, size_t size, const char *format, ...) __attribute__((format(printf, 3, 4)));
static void append(char *out, size_t size, const char *format, ...) {
  size_t used = strlen(out);
  va_list args;
  va_start(args, format);
  vsnprintf(out + used, size - used, format, args);
  va_end(args);
}

static void condition(fixture *f, char *out, size_t size) {
  switch (below(f, 9)) {
    case 0: append(out, size, "{\"condition\":{\"name\":\"serviceId\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"%s\"}}}}",
                   f->services[below(f, SERVICES)]); break;
    case 1: append(out, size, "{\"condition\":{\"name\":\"serviceId\",\"op\":\"BINARY_OP_IN\",\"value\":{\"strArray\":{\"value\":[\"%s\",\"%s\"]}}}}",
                   f->services[below(f, SERVICES)], f->services[below(f, SERVICES)]); break;
    case 2: append(out, size, "{\"condition\":{\"name\":\"serviceInstanceId\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"%s\"}}}}",
                   f->instances[below(f, SERVICES * 3)]); break;
    case 3: {
      static const char *const ops[] = {"BINARY_OP_LT", "BINARY_OP_GT", "BINARY_OP_LE", "BINARY_OP_GE", "BINARY_OP_EQ", "BINARY_OP_NE"};
      append(out, size, "{\"condition\":{\"name\":\"latency\",\"op\":\"%s\",\"value\":{\"int\":{\"value\":\"%d\"}}}}",
             ops[below(f, 6)], (int)below(f, 420));
      break;
    }
    case 4: append(out, size, "{\"condition\":{\"name\":\"isError\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"int\":{\"value\":\"%d\"}}}}",
                   (int)below(f, 2)); break;
    case 5: append(out, size, "{\"condition\":{\"name\":\"operationName\",\"op\":\"%s\",\"value\":{\"str\":{\"value\":\"%s\"}}}}",
                   below(f, 2) ? "BINARY_OP_EQ" : "BINARY_OP_NE", f->operations[below(f, 6)]); break;
    case 6: append(out, size, "{\"condition\":{\"name\":\"operationName\",\"op\":\"%s\",\"value\":{\"strArray\":{\"value\":[\"%s\",\"%s\"]}}}}",
                   below(f, 2) ? "BINARY_OP_IN" : "BINARY_OP_NOT_IN", f->operations[below(f, 6)], f->operations[below(f, 6)]); break;
    case 7: append(out, size, "{\"condition\":{\"name\":\"traceId\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"%s\"}}}}",
                   f->traces[below(f, ROWS)]); break;
    default: append(out, size, "{\"condition\":{\"name\":\"component\",\"op\":\"%s\",\"value\":{\"str\":{\"value\":\"MySQL\"}}}}",
                    below(f, 2) ? "BINARY_OP_EQ" : "BINARY_OP_NE"); break;
  }
}

static void criteria(fixture *f, char *out, size_t size, int depth) {
  if (depth >= 2 || below(f, 3) == 0) {
    condition(f, out, size);
    return;
  }
  append(out, size, "{\"le\":{\"op\":\"%s\",\"left\":", below(f, 3) == 0 ? "LOGICAL_OP_OR" : "LOGICAL_OP_AND");
  criteria(f, out, size, depth + 1);
  append(out, size, ",\"right\":");
  criteria(f, out, size, depth + 1);
  append(out, size, "}}");
}

static void format_time(int64_t ms, char *out, size_t size) { sl_rfc3339_format_ns(ms * 1000000, out, (int)size); }

static void make_query(fixture *f, char *out, size_t size) {
  out[0] = '\0';
  append(out, size, "{\"groups\":[\"%s\"],\"name\":\"%s\"", f->schema->group, f->schema->name);
  int64_t begin = base_ms - DAY_MS / 2 + (int64_t)below(f, 3 * DAY_MS);
  int64_t span = below(f, 4) == 0 ? 4 * DAY_MS : (int64_t)below(f, DAY_MS);
  char from[40], to[40];
  format_time(begin, from, sizeof from);
  format_time(begin + span, to, sizeof to);
  append(out, size, ",\"timeRange\":{\"begin\":\"%s\",\"end\":\"%s\"}", from, to);
  if (below(f, 5) != 0) {
    append(out, size, ",\"criteria\":");
    criteria(f, out, size, 0);
  }
  uint64_t order = below(f, 4);
  if (order == 1) {
    append(out, size, ",\"orderBy\":{\"indexRuleName\":\"latency_index\",\"sort\":\"SORT_DESC\"}");
  } else if (order == 2) {
    append(out, size, ",\"orderBy\":{\"indexRuleName\":\"latency_index\",\"sort\":\"SORT_ASC\"}");
  } else if (order == 3) {
    append(out, size, ",\"orderBy\":{\"sort\":\"SORT_DESC\"}");
  }
  static const int limits[] = {0, 1, 5, 50, 1000};
  append(out, size, ",\"limit\":%d,\"offset\":%d", limits[below(f, 5)], below(f, 4) == 0 ? (int)below(f, 30) : 0);
  append(out, size, ",\"projection\":{\"tagFamilies\":[{\"name\":\"primary\",\"tags\":[\"traceId\",\"spanId\",\"latency\"]}]}}");
}

static void check_queries(fixture *f, sl_stream_engine *engine, size_t row_count, int queries, const char *phase) {
  int trace = tag_index(f, "traceId"), span = tag_index(f, "spanId");
  for (int q = 0; q < queries; q++) {
    char json[8192];
    make_query(f, json, sizeof json);
    sl_query *query = NULL;
    sl_error err;
    if (sl_query_parse(f->catalog, SL_QUERY_STREAM, json, strlen(json), &query, &err) != SL_OK) {
      fail_msg("%s: query %d does not parse: %s\n%s", phase, q, err.message, json);
    }
    sl_query_options options = {.unlimited = true};
    sl_query_result expected;
    sl_status evaluated = sl_query_evaluate(query, f->rows, row_count, &options, &expected, &err);
    if (evaluated != SL_OK) {
      /* Refused (criteria selecting no series): the engine refuses it the same way. */
      assert_int_equal(evaluated, SL_ERR_INVALID);
      assert_non_null(strstr(err.message, "select no series"));
      const char *extra[] = {"traceId", "spanId"};
      sl_stream_answer refused;
      sl_error engine_err;
      if (sl_stream_engine_query(engine, query, extra, 2, &refused, &engine_err) != SL_ERR_INVALID) {
        fail_msg("%s: query %d: the evaluator refuses it (%s), the engine does not\n%s", phase, q, err.message, json);
      }
      sl_query_free(query);
      continue;
    }
    uint64_t *keys = calloc(expected.row_count + 1, sizeof *keys);
    for (size_t i = 0; i < expected.row_count; i++) {
      const sl_query_row *row = &f->rows[expected.rows[i]];
      keys[i] = sl_span_key(row->tags[trace].as.str, row->tags[span].as.str);
    }
    sl_verify_expected want = {.model = SL_QUERY_STREAM, .span_keys = keys, .span_count = expected.row_count,
                               .span_sort_keys = expected.row_keys, .offset = query->offset,
                               .limit = query->limit == 0 ? 20 : query->limit};
    const char *extra[] = {"traceId", "spanId"};
    sl_stream_answer got;
    if (sl_stream_engine_query(engine, query, extra, 2, &got, &err) != SL_OK) {
      fail_msg("%s: query %d failed: %s\n%s", phase, q, err.message, json);
    }
    sl_backend_answer answer = {.span_keys = calloc(got.row_count + 1, sizeof(uint64_t)), .span_count = got.row_count};
    for (size_t i = 0; i < got.row_count; i++) {
      answer.span_keys[i] = sl_span_key(got.rows[i].tags[trace].as.str, got.rows[i].tags[span].as.str);
    }
    sl_verify_verdict verdict;
    assert_int_equal(sl_verify_answer(&want, &answer, &verdict, &err), SL_OK);
    if (!verdict.ok) {
      fail_msg("%s: query %d: the engine differs from the evaluator: %s\n%s", phase, q, verdict.difference, json);
    }
    free(answer.span_keys);
    free(keys);
    sl_stream_answer_free(&got);
    sl_query_result_free(&expected);
    sl_query_free(query);
  }
}

static sl_stream_engine *open_engine_with(fixture *f, const char *dir, bool flushes) {
  sl_engine_options options;
  sl_engine_options_default(&options);
  options.catalog = f->catalog;
  options.directory = dir;
  options.memory_bytes_limit = flushes ? 96 * 1024 : 1ULL << 30;
  options.flush_interval_ms = flushes ? 50 : 3600 * 1000;
  options.sync_mode = SL_WAL_SYNC_NONE;
  sl_stream_engine *engine = NULL;
  sl_error err;
  if (sl_stream_engine_open(&options, &engine, &err) != SL_OK) {
    fail_msg("open: %s", err.message);
  }
  return engine;
}

static sl_stream_engine *open_engine(fixture *f, const char *dir) { return open_engine_with(f, dir, true); }

static void test_random_queries(void **state) {
  (void)state;
  fixture *f = calloc(1, sizeof *f);
  const char *seed = getenv("QUERY_SEED");
  f->rng = seed != NULL ? strtoull(seed, NULL, 10) | 1 : 0x9E3779B97F4A7C15ULL;
  sl_diag *problems = sl_diag_new();
  assert_int_equal(sl_catalog_load_dir(SPANLAB_SOURCE_DIR "/schemas/stream-vs-trace", NULL, &f->catalog, problems), SL_OK);
  sl_diag_free(problems);
  f->schema = sl_catalog_stream_at(f->catalog, 0);
  make_rows(f);
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", test_temp_dir("stream_queries"));
  sl_stream_engine *engine = open_engine(f, dir);
  write_rows(f, engine, 0, ROWS / 2);
  check_queries(f, engine, ROWS / 2, QUERIES / 4, "memory parts");
  write_rows(f, engine, ROWS / 2, 3 * ROWS / 4);
  sl_error err;
  assert_int_equal(sl_stream_engine_flush(engine, &err), SL_OK);
  check_queries(f, engine, 3 * ROWS / 4, QUERIES / 4, "flushed");
  assert_int_equal(sl_stream_engine_compact(engine, &err), SL_OK);
  check_queries(f, engine, 3 * ROWS / 4, QUERIES / 8, "compacted");
  /* The last quarter stays in memory parts and the WAL (no flush by size or age): a close
   * without a flush loses the memory parts, the reopen replays them from the WAL. */
  assert_int_equal(sl_stream_engine_close(engine, true, &err), SL_OK);
  engine = open_engine_with(f, dir, false);
  write_rows(f, engine, 3 * ROWS / 4, ROWS);
  check_queries(f, engine, ROWS, QUERIES / 8, "compacted, then more in memory");
  assert_int_equal(sl_stream_engine_close(engine, false, &err), SL_OK);
  engine = open_engine(f, dir);
  sl_engine_stats stats;
  sl_stream_engine_stats(engine, &stats);
  assert_true(stats.store.replayed_records > 0);
  check_queries(f, engine, ROWS, QUERIES / 4, "reopened (WAL replayed)");
  assert_int_equal(sl_stream_engine_close(engine, true, &err), SL_OK);
  sl_catalog_free(f->catalog);
  free(f);
}

/* Every element written twice (a client retrying a batch): each element id comes back once, and
 * the windows stay full (the bounded heap of matches holds both copies; the engine notices and
 * reads every match). */
static void test_duplicate_elements(void **state) {
  (void)state;
  fixture *f = calloc(1, sizeof *f);
  f->rng = 77;
  sl_diag *problems = sl_diag_new();
  assert_int_equal(sl_catalog_load_dir(SPANLAB_SOURCE_DIR "/schemas/stream-vs-trace", NULL, &f->catalog, problems), SL_OK);
  sl_diag_free(problems);
  f->schema = sl_catalog_stream_at(f->catalog, 0);
  make_rows(f);
  sl_stream_engine *engine = open_engine(f, test_temp_dir("stream_duplicates"));
  write_rows(f, engine, 0, 500);
  write_rows(f, engine, 0, 500);
  sl_error err;
  assert_int_equal(sl_stream_engine_flush(engine, &err), SL_OK);
  write_rows(f, engine, 0, 300); /* and a third copy of some, in memory parts */
  check_queries(f, engine, 500, 60, "duplicates");
  assert_int_equal(sl_stream_engine_close(engine, false, &err), SL_OK);
  sl_catalog_free(f->catalog);
  free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_random_queries), cmocka_unit_test(test_duplicate_elements)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
