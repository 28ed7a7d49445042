/* test_trace_engine.c: the embedded Trace engine (src/trace) against the
 * reference evaluator (sl_query_evaluate) and the Stream engine.
 *
 * - spans of one trace written in many batches, across flushes and merges,
 *   come back as one trace;
 * - the traceID bloom filter of every part says "maybe" for every trace the
 *   part holds (no false negative);
 * - property tests (fixed seeds): random spans over three days (segments
 *   matter, some tags null) loaded in shuffled batches with flushes and a
 *   merge, hundreds of random trace QueryRequests (by ids; by orderBy
 *   time_based_index / latency_based_index, ASC / DESC, with service,
 *   instance, isError, latency and startTime conditions, windows, offsets,
 *   limits) answered by the engine and by the evaluator over the same rows,
 *   compared tie-aware: the same trace key sequence, the same span set per
 *   trace, projected tags equal;
 * - the same after closing without a flush and reopening (WAL replay);
 * - BanyanDB's own trace query cases (tests/data/banyandb-cases: timestamp
 *   tags in ns, a span-id tag, TTL) through the engine, against the evaluator;
 * - the Stream engine and the Trace engine loaded with the same spans return
 *   the same spans for every trace id;
 * - truncated or flipped bytes in trace and sidx part files give
 *   SL_ERR_CORRUPT naming the file (and the offset where there is one), on
 *   open, query or scan, never a crash. */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/timeutil.h"
#include "spanlab/catalog.h"
#include "spanlab/query.h"
#include "storage/part.h"
#include "storage/tsdb.h"
#include "stream/stream.h"
#include "test_support.h"
#include "trace/trace.h"

#define SCHEMAS SPANLAB_SOURCE_DIR "/schemas/stream-vs-trace"
#define CASES SPANLAB_SOURCE_DIR "/tests/data/banyandb-cases"

enum { TAGS = 11, SPAN_TEXT_BYTES = 512 };

/* ------------------------------------------------------------------ random */

static uint64_t next_random(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t below(uint64_t *state, uint64_t bound) { return bound == 0 ? 0 : next_random(state) % bound; }

/* ------------------------------------------------------------------ the data */

static sl_catalog *load_catalog(const char *dir) {
  sl_diag *problems = sl_diag_new();
  sl_catalog *catalog = NULL;
  sl_status status = sl_catalog_load_dir(dir, NULL, &catalog, problems);
  if (status != SL_OK) {
    fail_msg("catalog %s: %s", dir, sl_diag_count(problems) > 0 ? sl_diag_message(problems, 0) : "?");
  }
  sl_diag_free(problems);
  return catalog;
}

/* Spans in the seed's trace schema, as the engine and the evaluator take them. */
typedef struct dataset {
  const sl_trace_schema *schema;
  size_t count;
  size_t capacity;
  sl_value *values;     /* count * tag_count */
  sl_query_row *rows;
  sl_element *elements;
  char *text;           /* SPAN_TEXT_BYTES per span */
  size_t trace_count;
  char (*trace_ids)[32];
  int tag[TAGS];        /* flat index of each seed tag */
  int64_t base_ms;
  int64_t range_ms;
} dataset;

static const char *const seed_tags[TAGS] = {"serviceId", "serviceInstanceId", "traceId", "startTime",
                                            "latency", "isError", "spanId", "parentSpanId",
                                            "operationName", "component", "dataBinary"};
enum { T_SERVICE, T_INSTANCE, T_TRACE, T_START, T_LATENCY, T_ERROR, T_SPAN, T_PARENT, T_OPERATION, T_COMPONENT, T_DATA };

static void dataset_init(dataset *data, const sl_trace_schema *schema, size_t capacity) {
  memset(data, 0, sizeof *data);
  data->schema = schema;
  data->capacity = capacity;
  assert_int_equal(schema->tag_count, TAGS);
  for (int t = 0; t < TAGS; t++) {
    const sl_tag_spec *tag = sl_trace_find_tag(schema, seed_tags[t]);
    assert_non_null(tag);
    data->tag[t] = (int)tag->tag_index;
  }
  data->values = calloc(capacity * TAGS + 1, sizeof(sl_value));
  data->rows = calloc(capacity + 1, sizeof(sl_query_row));
  data->elements = calloc(capacity + 1, sizeof(sl_element));
  data->text = calloc(capacity + 1, SPAN_TEXT_BYTES);
  data->trace_ids = calloc(capacity + 1, sizeof *data->trace_ids);
  assert_true(data->values && data->rows && data->elements && data->text && data->trace_ids);
}

static void dataset_free(dataset *data) {
  free(data->values);
  free(data->rows);
  free(data->elements);
  free(data->text);
  free(data->trace_ids);
  memset(data, 0, sizeof *data);
}

/* Appends text to a span's text area; returns it as bytes. */
static sl_bytes put_text(char *area, size_t *used, const char *format, ...) __attribute__((format(printf, 3, 4)));
static sl_bytes put_text(char *area, size_t *used, const char *format, ...) {
  va_list args;
  va_start(args, format);
  int length = vsnprintf(area + *used, SPAN_TEXT_BYTES - *used, format, args);
  va_end(args);
  assert_true(length >= 0 && *used + (size_t)length < SPAN_TEXT_BYTES);
  sl_bytes bytes = {.data = area + *used, .size_bytes = (size_t)length};
  *used += (size_t)length + 1;
  return bytes;
}

/* One span of trace `trace` (its id in data->trace_ids). */
static void add_span(dataset *data, uint64_t *random, size_t trace, size_t span_index, int64_t start_ms, int service,
                     bool nulls) {
  assert_true(data->count < data->capacity);
  size_t i = data->count++;
  char *area = data->text + i * SPAN_TEXT_BYTES;
  size_t used = 0;
  sl_value *values = data->values + i * TAGS;
  int instance = (int)below(random, 3);
  const char *id = data->trace_ids[trace];
  sl_bytes text;
  text = put_text(area, &used, "svc-%d", service);
  values[data->tag[T_SERVICE]] = sl_value_str(text.data, text.size_bytes);
  text = put_text(area, &used, "svc-%d-inst-%d", service, instance);
  values[data->tag[T_INSTANCE]] = nulls && below(random, 20) == 0 ? sl_value_null() : sl_value_str(text.data, text.size_bytes);
  values[data->tag[T_TRACE]] = sl_value_str(id, strlen(id));
  values[data->tag[T_START]] = sl_value_int(start_ms);
  /* Latencies repeat (ties in the latency index), some are null (no sidx row). */
  int64_t latency = (int64_t)(below(random, 4) == 0 ? below(random, 2000) : below(random, 60) * 10);
  values[data->tag[T_LATENCY]] = nulls && below(random, 25) == 0 ? sl_value_null() : sl_value_int(latency);
  values[data->tag[T_ERROR]] = nulls && below(random, 30) == 0 ? sl_value_null() : sl_value_int(below(random, 7) == 0);
  text = put_text(area, &used, "%zu", span_index);
  values[data->tag[T_SPAN]] = sl_value_str(text.data, text.size_bytes);
  text = put_text(area, &used, "%d", span_index == 0 ? -1 : (int)below(random, span_index));
  values[data->tag[T_PARENT]] = sl_value_str(text.data, text.size_bytes);
  text = put_text(area, &used, "op-%d", (int)below(random, 12));
  values[data->tag[T_OPERATION]] = sl_value_str(text.data, text.size_bytes);
  text = put_text(area, &used, "comp-%d", (int)below(random, 4));
  values[data->tag[T_COMPONENT]] = nulls && below(random, 15) == 0 ? sl_value_null() : sl_value_str(text.data, text.size_bytes);
  size_t payload_bytes = 8 + (size_t)below(random, 120);
  char *payload = area + used;
  for (size_t b = 0; b < payload_bytes; b++) {
    payload[b] = (char)('a' + (b * 7 + i) % 23);
  }
  used += payload_bytes;
  values[data->tag[T_DATA]] = sl_value_binary(payload, payload_bytes);
  /* The span payload names the span: answers map back to rows through it. */
  sl_bytes span = put_text(area, &used, "span-%06zu", i);
  data->rows[i] = (sl_query_row){.timestamp_ns = start_ms * 1000000, .tags = values, .span = span};
  data->elements[i] = (sl_element){.timestamp_ns = start_ms * 1000000, .data = span, .values = values};
}

/* Random traces over days days from 2025-03-01T00:00:00Z. */
static void generate(dataset *data, uint64_t seed, size_t traces, int days, bool nulls) {
  uint64_t random = seed;
  data->base_ms = 1740787200000LL;
  data->range_ms = (int64_t)days * 86400000LL;
  for (size_t t = 0; t < traces && data->count < data->capacity; t++) {
    snprintf(data->trace_ids[t], sizeof data->trace_ids[t], "trace-%llx-%zu", (unsigned long long)seed, t);
    data->trace_count++;
    int64_t start = data->base_ms + (int64_t)below(&random, (uint64_t)data->range_ms);
    size_t spans = 1 + (size_t)below(&random, below(&random, 5) == 0 ? 24 : 8);
    /* One trace in 12 spreads over 20 hours, so it crosses a day segment. */
    int64_t spread = below(&random, 12) == 0 ? 20LL * 3600 * 1000 : 4000;
    int root_service = (int)below(&random, 6);
    for (size_t s = 0; s < spans && data->count < data->capacity; s++) {
      int service = below(&random, 3) == 0 ? (int)below(&random, 6) : root_service;
      add_span(data, &random, t, s, start + (int64_t)below(&random, (uint64_t)spread), service, nulls);
    }
  }
}

/* ------------------------------------------------------------------ engines */

static sl_trace_engine *open_trace(const sl_catalog *catalog, const char *dir, uint64_t memory_limit, bool background) {
  sl_engine_options options;
  sl_engine_options_default(&options);
  options.catalog = catalog;
  options.directory = dir;
  options.background = background;
  options.sync_mode = SL_WAL_SYNC_NONE;
  if (memory_limit > 0) {
    options.memory_bytes_limit = memory_limit;
  }
  sl_trace_engine *engine = NULL;
  sl_error err;
  sl_status status = sl_trace_engine_open(&options, &engine, &err);
  if (status != SL_OK) {
    fail_msg("open %s: %s", dir, err.message);
  }
  return engine;
}

static void close_trace(sl_trace_engine *engine, bool flush) {
  sl_error err;
  if (sl_trace_engine_close(engine, flush, &err) != SL_OK) {
    fail_msg("close: %s", err.message);
  }
}

/* Writes the spans in a shuffled order in random batches; flushes about once
 * in flush_every batches, merges once in the middle. */
static void load_shuffled(sl_trace_engine *engine, const dataset *data, uint64_t seed, size_t max_batch,
                          uint64_t flush_every) {
  uint64_t random = seed;
  size_t *order = malloc((data->count + 1) * sizeof *order);
  sl_element *batch = malloc((max_batch + 1) * sizeof *batch);
  assert_true(order != NULL && batch != NULL);
  for (size_t i = 0; i < data->count; i++) {
    order[i] = i;
  }
  for (size_t i = data->count; i > 1; i--) {
    size_t j = (size_t)below(&random, i);
    size_t swap = order[i - 1];
    order[i - 1] = order[j];
    order[j] = swap;
  }
  sl_error err;
  bool merged = false;
  for (size_t done = 0; done < data->count;) {
    size_t size = 1 + (size_t)below(&random, max_batch);
    size = size < data->count - done ? size : data->count - done;
    for (size_t i = 0; i < size; i++) {
      batch[i] = data->elements[order[done + i]];
    }
    if (sl_trace_engine_write(engine, batch, size, &err) != SL_OK) {
      fail_msg("write: %s", err.message);
    }
    done += size;
    if (below(&random, flush_every) == 0) {
      assert_int_equal(sl_trace_engine_flush(engine, &err), SL_OK);
    }
    if (!merged && done > data->count / 2) {
      merged = true;
      if (sl_trace_engine_compact(engine, &err) != SL_OK) {
        fail_msg("compact: %s", err.message);
      }
    }
  }
  free(order);
  free(batch);
}

/* ------------------------------------------------------------------ comparing answers with the evaluator */

static size_t row_of_span(const dataset *data, sl_bytes span) {
  char text[32];
  assert_true(span.size_bytes > 5 && span.size_bytes < sizeof text);
  memcpy(text, span.data, span.size_bytes);
  text[span.size_bytes] = '\0';
  assert_int_equal(strncmp(text, "span-", 5), 0);
  size_t row = (size_t)strtoull(text + 5, NULL, 10);
  assert_true(row < data->count);
  return row;
}

static bool same_value(const sl_value *a, const sl_value *b) {
  bool a_int = a->kind == SL_VALUE_INT || a->kind == SL_VALUE_TIMESTAMP;
  bool b_int = b->kind == SL_VALUE_INT || b->kind == SL_VALUE_TIMESTAMP;
  if (a_int || b_int) {
    return a_int && b_int && a->as.int_value == b->as.int_value;
  }
  bool a_bytes = a->kind == SL_VALUE_STR || a->kind == SL_VALUE_BINARY;
  bool b_bytes = b->kind == SL_VALUE_STR || b->kind == SL_VALUE_BINARY;
  if (a_bytes || b_bytes) {
    return a_bytes && b_bytes && a->as.str.size_bytes == b->as.str.size_bytes &&
           (a->as.str.size_bytes == 0 || memcmp(a->as.str.data, b->as.str.data, a->as.str.size_bytes) == 0);
  }
  if (a->kind == SL_VALUE_STR_ARRAY && b->kind == SL_VALUE_STR_ARRAY) {
    if (a->as.str_array.count != b->as.str_array.count) {
      return false;
    }
    for (size_t i = 0; i < a->as.str_array.count; i++) {
      sl_value x = sl_value_str(a->as.str_array.items[i].data, a->as.str_array.items[i].size_bytes);
      sl_value y = sl_value_str(b->as.str_array.items[i].data, b->as.str_array.items[i].size_bytes);
      if (!same_value(&x, &y)) {
        return false;
      }
    }
    return true;
  }
  if (a->kind == SL_VALUE_INT_ARRAY && b->kind == SL_VALUE_INT_ARRAY) {
    return a->as.int_array.count == b->as.int_array.count &&
           (a->as.int_array.count == 0 ||
            memcmp(a->as.int_array.items, b->as.int_array.items, a->as.int_array.count * sizeof(int64_t)) == 0);
  }
  return a->kind == b->kind;
}

typedef struct check_totals {
  size_t queries;
  size_t by_ids;
  size_t by_rule;
  size_t errors;
  size_t traces;
  size_t spans;
  size_t empty;
} check_totals;

static int compare_sizes(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

/* The engine's answer to request is one the evaluator allows (tie-aware). */
static void check_query(sl_trace_engine *engine, const sl_catalog *catalog, const dataset *data, const char *request,
                        const sl_query_options *oracle_options, check_totals *totals) {
  sl_error err;
  sl_query *query = NULL;
  if (sl_query_parse(catalog, SL_QUERY_TRACE, request, strlen(request), &query, &err) != SL_OK) {
    fail_msg("parse %s: %s", request, err.message);
  }
  sl_query_options options = oracle_options != NULL ? *oracle_options : (sl_query_options){0};
  options.unlimited = true;
  sl_query_result oracle = {0};
  sl_status oracle_status = sl_query_evaluate(query, data->rows, data->count, &options, &oracle, &err);
  sl_trace_answer answer;
  const char *extra[] = {"traceId", "spanId", "trace_id", "span_id"};
  sl_error engine_err;
  sl_status engine_status = sl_trace_engine_query(engine, query, extra, 4, &answer, &engine_err);
  totals->queries++;
  if (oracle_status != SL_OK || engine_status != SL_OK) {
    if (oracle_status != engine_status) {
      fail_msg("%s\nevaluator: %s (%s), engine: %s (%s)", request, sl_status_name(oracle_status),
               oracle_status != SL_OK ? err.message : "", sl_status_name(engine_status),
               engine_status != SL_OK ? engine_err.message : "");
    }
    totals->errors++;
    sl_query_result_free(&oracle);
    if (engine_status == SL_OK) {
      sl_trace_answer_free(&answer);
    }
    sl_query_free(query);
    return;
  }
  totals->by_ids += query->trace_id_count > 0;
  totals->by_rule += query->trace_id_count == 0;
  uint32_t limit = query->limit == 0 ? 20 : query->limit;
  size_t first = query->offset < oracle.trace_count ? query->offset : oracle.trace_count;
  size_t expected = oracle.trace_count - first < limit ? oracle.trace_count - first : limit;
  if (answer.result.trace_count != expected) {
    fail_msg("%s\nthe engine answers %zu traces, the evaluator's window [%u, %u) of %zu holds %zu", request,
             answer.result.trace_count, query->offset, query->offset + limit, oracle.trace_count, expected);
  }
  totals->empty += expected == 0;
  const sl_tag_spec *trace_tag = sl_trace_find_tag(query->trace, query->trace->trace_id_tag);
  bool *used = calloc(oracle.trace_count + 1, sizeof *used);
  assert_non_null(used);
  for (size_t t = 0; t < answer.result.trace_count; t++) {
    const sl_value *want_key = &oracle.trace_keys[first + t];
    const sl_value *got_key = &answer.result.trace_keys[t];
    if (!same_value(want_key, got_key)) {
      fail_msg("%s\nanswer trace %zu: key %lld, the evaluator's %lld", request, t, (long long)got_key->as.int_value,
               (long long)want_key->as.int_value);
    }
    size_t begin = answer.result.trace_offsets[t], end = answer.result.trace_offsets[t + 1];
    assert_true(begin < end && end <= answer.row_count);
    const sl_query_row *row0 = &answer.rows[answer.result.rows[begin]];
    size_t first_row = row_of_span(data, row0->span);
    sl_bytes id = data->rows[first_row].tags[trace_tag->tag_index].as.str;
    /* The evaluator's trace of that id, with the same key (a tie may stand in for another). */
    size_t match = SIZE_MAX;
    for (size_t o = 0; o < oracle.trace_count && match == SIZE_MAX; o++) {
      const sl_query_row *row = &data->rows[oracle.rows[oracle.trace_offsets[o]]];
      sl_bytes other = row->tags[trace_tag->tag_index].as.str;
      if (other.size_bytes == id.size_bytes && memcmp(other.data, id.data, id.size_bytes) == 0) {
        match = o;
      }
    }
    if (match == SIZE_MAX) {
      fail_msg("%s\nanswer trace %zu (%.*s) matches nothing for the evaluator", request, t, (int)id.size_bytes, id.data);
    }
    if (used[match]) {
      fail_msg("%s\ntrace %.*s answered twice", request, (int)id.size_bytes, id.data);
    }
    used[match] = true;
    if (!same_value(&oracle.trace_keys[match], got_key)) {
      fail_msg("%s\ntrace %.*s: key %lld, the evaluator gives it %lld", request, (int)id.size_bytes, id.data,
               (long long)got_key->as.int_value, (long long)oracle.trace_keys[match].as.int_value);
    }
    size_t want_count = oracle.trace_offsets[match + 1] - oracle.trace_offsets[match];
    if (want_count != end - begin) {
      fail_msg("%s\ntrace %.*s: %zu spans, the evaluator's %zu", request, (int)id.size_bytes, id.data, end - begin,
               want_count);
    }
    size_t *got = malloc((end - begin) * sizeof *got);
    size_t *want = malloc(want_count * sizeof *want);
    assert_true(got != NULL && want != NULL);
    for (size_t i = begin; i < end; i++) {
      const sl_query_row *row = &answer.rows[answer.result.rows[i]];
      got[i - begin] = row_of_span(data, row->span);
      const sl_query_row *truth = &data->rows[got[i - begin]];
      assert_int_equal(row->timestamp_ns, truth->timestamp_ns);
      for (size_t p = 0; p < query->tag_projection_count; p++) {
        size_t tag = query->tag_projection[p]->tag_index;
        if (!same_value(&row->tags[tag], &truth->tags[tag])) {
          fail_msg("%s\nspan %zu: tag %s differs from what was written", request, got[i - begin],
                   query->tag_projection[p]->name);
        }
      }
    }
    for (size_t i = 0; i < want_count; i++) {
      want[i] = oracle.rows[oracle.trace_offsets[match] + i];
    }
    qsort(got, end - begin, sizeof *got, compare_sizes);
    qsort(want, want_count, sizeof *want, compare_sizes);
    for (size_t i = 0; i < want_count; i++) {
      if (got[i] != want[i]) {
        fail_msg("%s\ntrace %.*s: span set differs from the evaluator's (row %zu vs %zu)", request, (int)id.size_bytes,
                 id.data, got[i], want[i]);
      }
    }
    totals->spans += want_count;
    free(got);
    free(want);
  }
  totals->traces += answer.result.trace_count;
  assert_int_equal(answer.stats.traces_returned, answer.result.trace_count);
  assert_int_equal(answer.stats.rows_returned, answer.row_count);
  if (answer.result.trace_count > 0) { /* the statistics say which index answered */
    assert_true(answer.stats.blocks_read > 0 && answer.stats.rows_examined >= answer.row_count);
    if (query->trace_id_count > 0) {
      assert_true(answer.stats.bloom_checks > 0);
    } else {
      assert_true(answer.stats.sidx_rows_scanned >= answer.result.trace_count);
    }
  }
  /* The printer takes the answer as the evaluator's result. */
  FILE *sink = fopen("/dev/null", "w");
  assert_non_null(sink);
  assert_int_equal(sl_query_print_response(query, answer.rows, &answer.result, sink, &err), SL_OK);
  fclose(sink);
  free(used);
  sl_trace_answer_free(&answer);
  sl_query_result_free(&oracle);
  sl_query_free(query);
}

/* ------------------------------------------------------------------ random requests */

static void format_time(int64_t ms, char *out, size_t size) {
  char text[48];
  sl_rfc3339_format_ns(ms * 1000000, text, sizeof text);
  snprintf(out, size, "%s", text);
}

typedef struct request_buffer {
  char text[4096];
  size_t used;
} request_buffer;

static void append(request_buffer *buffer, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void append(request_buffer *buffer, const char *format, ...) {
  va_list args;
  va_start(args, format);
  int length = vsnprintf(buffer->text + buffer->used, sizeof buffer->text - buffer->used, format, args);
  va_end(args);
  assert_true(length >= 0 && buffer->used + (size_t)length < sizeof buffer->text);
  buffer->used += (size_t)length;
}

/* A random condition (JSON of one Criteria) on the seed trace schema. */
static void random_condition(request_buffer *out, uint64_t *random, const dataset *data, bool by_ids) {
  int service = (int)below(random, 7); /* svc-6 matches nothing */
  switch (below(random, by_ids ? 8 : 9)) {
    case 0:
      append(out, "{\"condition\":{\"name\":\"serviceId\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"svc-%d\"}}}}", service);
      break;
    case 1:
      append(out, "{\"condition\":{\"name\":\"serviceId\",\"op\":\"BINARY_OP_IN\",\"value\":{\"strArray\":{\"value\":[\"svc-%d\",\"svc-%d\"]}}}}",
             service, (int)below(random, 6));
      break;
    case 2:
      append(out, "{\"condition\":{\"name\":\"serviceInstanceId\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"svc-%d-inst-%d\"}}}}",
             service, (int)below(random, 3));
      break;
    case 3:
      append(out, "{\"condition\":{\"name\":\"isError\",\"op\":\"BINARY_OP_%s\",\"value\":{\"int\":{\"value\":\"1\"}}}}",
             below(random, 6) == 0 ? "EQ" : "GE"); /* an int EQ skips every sidx block (BanyanDB) */
      break;
    case 4:
      append(out, "{\"condition\":{\"name\":\"latency\",\"op\":\"BINARY_OP_%s\",\"value\":{\"int\":{\"value\":\"%d\"}}}}",
             below(random, 2) ? "GT" : "LE", (int)below(random, 800));
      break;
    case 5:
      append(out, "{\"le\":{\"op\":\"LOGICAL_OP_AND\",\"left\":{\"condition\":{\"name\":\"latency\",\"op\":\"BINARY_OP_GE\",\"value\":{\"int\":{\"value\":\"%d\"}}}},"
                  "\"right\":{\"condition\":{\"name\":\"latency\",\"op\":\"BINARY_OP_LT\",\"value\":{\"int\":{\"value\":\"%d\"}}}}}}",
             (int)below(random, 300), 300 + (int)below(random, 1500));
      break;
    case 6:
      append(out, "{\"condition\":{\"name\":\"operationName\",\"op\":\"BINARY_OP_%s\",\"value\":{\"str\":{\"value\":\"op-%d\"}}}}",
             below(random, 2) ? "EQ" : "NE", (int)below(random, 12));
      break;
    case 7:
      append(out, "{\"condition\":{\"name\":\"component\",\"op\":\"BINARY_OP_NOT_IN\",\"value\":{\"strArray\":{\"value\":[\"comp-%d\"]}}}}",
             (int)below(random, 4));
      break;
    default: {
      int64_t at = data->base_ms + (int64_t)below(random, (uint64_t)data->range_ms);
      append(out, "{\"condition\":{\"name\":\"startTime\",\"op\":\"BINARY_OP_%s\",\"value\":{\"int\":{\"value\":\"%lld\"}}}}",
             below(random, 2) ? "GE" : "LT", (long long)at);
      break;
    }
  }
}

static void random_criteria(request_buffer *out, uint64_t *random, const dataset *data, bool by_ids, int depth) {
  if (depth > 0 && below(random, 3) != 0) {
    /* With trace ids BanyanDB refuses an OR that filters spans ("global index doesn't support OR"). */
    bool or = below(random, 4) == 0 && !by_ids;
    append(out, "{\"le\":{\"op\":\"LOGICAL_OP_%s\",\"left\":", or ? "OR" : "AND");
    random_criteria(out, random, data, by_ids, depth - 1);
    append(out, ",\"right\":");
    random_criteria(out, random, data, by_ids, depth - 1);
    append(out, "}}");
    return;
  }
  random_condition(out, random, data, by_ids);
}

static void random_window(request_buffer *out, uint64_t *random, const dataset *data, bool wide) {
  int64_t begin = data->base_ms - 3600000;
  int64_t end = data->base_ms + data->range_ms + 3600000;
  switch (wide ? 0 : below(random, 6)) {
    case 0:
    case 4: break; /* everything */
    case 1: /* one day, aligned or not */
      begin = data->base_ms + (int64_t)below(random, (uint64_t)data->range_ms);
      end = begin + 86400000;
      break;
    case 2: /* hours */
      begin = data->base_ms + (int64_t)below(random, (uint64_t)data->range_ms);
      end = begin + (int64_t)(1 + below(random, 12)) * 3600000;
      break;
    default: /* minutes */
      begin = data->base_ms + (int64_t)below(random, (uint64_t)data->range_ms);
      end = begin + (int64_t)(1 + below(random, 90)) * 60000;
      break;
  }
  char b[64], e[64];
  format_time(begin, b, sizeof b);
  format_time(end, e, sizeof e);
  append(out, "\"timeRange\":{\"begin\":\"%s\",\"end\":\"%s\"}", b, e);
}

static const char *random_projection(uint64_t *random) {
  static const char *const projections[] = {
      "", ",\"tagProjection\":[\"serviceId\",\"latency\"]",
      ",\"tagProjection\":[\"startTime\",\"isError\",\"serviceInstanceId\",\"dataBinary\"]",
      ",\"tagProjection\":[\"traceId\",\"spanId\",\"parentSpanId\",\"operationName\",\"component\"]"};
  return projections[below(random, 4)];
}

static void random_request(request_buffer *out, uint64_t *random, const dataset *data) {
  out->used = 0;
  bool by_ids = below(random, 3) == 0;
  append(out, "{\"groups\":[\"trace_performance_test\"],\"name\":\"segment_trace\",");
  random_window(out, random, data, by_ids && below(random, 3) != 0); /* a random id is rarely in a short window */
  if (below(random, 3) != 0) {
    append(out, ",\"offset\":%d", (int)below(random, 4));
  }
  if (below(random, 4) != 0) {
    append(out, ",\"limit\":%d", (int)(1 + below(random, below(random, 4) == 0 ? 40 : 8)));
  }
  append(out, "%s", random_projection(random));
  if (by_ids) {
    append(out, ",\"criteria\":");
    bool more = below(random, 2) == 0;
    if (more) {
      append(out, "{\"le\":{\"op\":\"LOGICAL_OP_AND\",\"left\":");
    }
    size_t ids = 1 + (size_t)below(random, 5);
    append(out, "{\"condition\":{\"name\":\"traceId\",\"op\":\"BINARY_OP_IN\",\"value\":{\"strArray\":{\"value\":[");
    for (size_t i = 0; i < ids; i++) {
      const char *id = below(random, 10) == 0 ? "no-such-trace" : data->trace_ids[below(random, data->trace_count)];
      append(out, "%s\"%s\"", i > 0 ? "," : "", id);
    }
    append(out, "]}}}}");
    if (more) {
      append(out, ",\"right\":");
      random_criteria(out, random, data, true, 1);
      append(out, "}}");
    }
    if (below(random, 4) == 0) {
      append(out, ",\"orderBy\":{\"indexRuleName\":\"latency_based_index\",\"sort\":\"SORT_DESC\"}"); /* ignored */
    }
  } else {
    static const char *const sorts[] = {"SORT_DESC", "SORT_ASC", "SORT_UNSPECIFIED"};
    append(out, ",\"orderBy\":{\"indexRuleName\":\"%s\",\"sort\":\"%s\"}",
           below(random, 2) ? "time_based_index" : "latency_based_index", sorts[below(random, 3)]);
    if (below(random, 4) != 0) {
      append(out, ",\"criteria\":");
      random_criteria(out, random, data, false, 2);
    }
  }
  append(out, "}");
}

/* ------------------------------------------------------------------ tests */

typedef struct scan_sum {
  uint64_t spans;
  uint64_t digest;
} scan_sum;

static sl_status sum_span(void *opaque, int64_t timestamp_ns, const sl_value *tags, sl_error *err) {
  (void)err;
  scan_sum *sum = opaque;
  sum->spans++;
  uint64_t h = (uint64_t)timestamp_ns * 31;
  for (size_t t = 0; t < TAGS; t++) {
    const sl_value *v = &tags[t];
    h = h * 1000003 + (uint64_t)v->kind;
    if (v->kind == SL_VALUE_STR || v->kind == SL_VALUE_BINARY) {
      for (size_t i = 0; i < v->as.str.size_bytes; i++) {
        h = h * 131 + (uint8_t)v->as.str.data[i];
      }
    } else if (v->kind == SL_VALUE_INT || v->kind == SL_VALUE_TIMESTAMP) {
      h = h * 131 + (uint64_t)v->as.int_value;
    }
  }
  sum->digest += h * 0x9e3779b97f4a7c15ULL;
  return SL_OK;
}

static scan_sum expected_sum(const dataset *data) {
  scan_sum sum = {0};
  for (size_t i = 0; i < data->count; i++) {
    sl_value tags[TAGS];
    for (size_t t = 0; t < TAGS; t++) {
      tags[t] = data->rows[i].tags[t];
    }
    (void)sum_span(&sum, data->rows[i].timestamp_ns, tags, NULL);
  }
  return sum;
}

static void check_scan(sl_trace_engine *engine, const dataset *data) {
  scan_sum got = {0};
  sl_error err;
  if (sl_trace_engine_scan(engine, sum_span, &got, &err) != SL_OK) {
    fail_msg("scan: %s", err.message);
  }
  scan_sum want = expected_sum(data);
  assert_int_equal(got.spans, want.spans);
  assert_int_equal(got.digest, want.digest);
}

static void run_random_queries(sl_trace_engine *engine, const sl_catalog *catalog, const dataset *data, uint64_t seed,
                               size_t count, check_totals *totals) {
  uint64_t random = seed;
  request_buffer request;
  for (size_t q = 0; q < count; q++) {
    random_request(&request, &random, data);
    check_query(engine, catalog, data, request.text, NULL, totals);
  }
}

/* Spans of one trace in many batches, across flushes and merges, are one trace. */
static void one_trace_across_batches_flushes_and_merges(void **state) {
  (void)state;
  sl_catalog *catalog = load_catalog(SCHEMAS);
  const sl_trace_schema *schema = sl_catalog_find_trace(catalog, "trace_performance_test", "segment_trace");
  dataset data;
  dataset_init(&data, schema, 4000);
  uint64_t random = 7;
  data.base_ms = 1740787200000LL;
  data.range_ms = 86400000LL;
  /* Trace 0 gets 300 spans written 3 at a time among 3,000 spans of 300 other traces. */
  for (size_t t = 0; t < 301; t++) {
    snprintf(data.trace_ids[t], sizeof data.trace_ids[t], "many-batches-%zu", t);
  }
  data.trace_count = 301;
  for (size_t i = 0; i < 3300; i++) {
    size_t trace = i % 11 == 0 ? 0 : 1 + i % 300;
    add_span(&data, &random, trace, i, data.base_ms + (int64_t)(i * 20000), (int)(i % 6), false);
  }
  const char *dir = test_temp_dir("trace-one-trace");
  sl_trace_engine *engine = open_trace(catalog, dir, 1 << 20, false);
  sl_error err;
  for (size_t done = 0; done < data.count; done += 33) {
    assert_int_equal(sl_trace_engine_write(engine, data.elements + done, 33, &err), SL_OK);
    if (done % 990 == 0) {
      assert_int_equal(sl_trace_engine_flush(engine, &err), SL_OK);
    }
    if (done == 1650) {
      assert_int_equal(sl_trace_engine_compact(engine, &err), SL_OK);
    }
  }
  sl_trace_stats stats;
  sl_trace_engine_stats(engine, &stats);
  assert_true(stats.store.flushes > 3);
  assert_true(stats.store.merges >= 1);
  assert_true(stats.store.file_parts > 2); /* the trace lives in several parts */
  const char *request =
      "{\"groups\":[\"trace_performance_test\"],\"name\":\"segment_trace\","
      "\"timeRange\":{\"begin\":\"2025-03-01T00:00:00Z\",\"end\":\"2025-03-03T00:00:00Z\"},"
      "\"criteria\":{\"condition\":{\"name\":\"traceId\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"many-batches-0\"}}}},"
      "\"tagProjection\":[\"spanId\",\"startTime\"]}";
  check_totals totals = {0};
  check_query(engine, catalog, &data, request, NULL, &totals);
  assert_int_equal(totals.traces, 1);
  assert_int_equal(totals.spans, 300);
  /* The same after merging everything, and through the sidx (newest trace first). */
  assert_int_equal(sl_trace_engine_compact(engine, &err), SL_OK);
  check_query(engine, catalog, &data, request, NULL, &totals);
  assert_int_equal(totals.spans, 600);
  /* Trace 0's spans span the whole day: first met in both orders of the time index. */
  check_query(engine, catalog, &data,
              "{\"groups\":[\"trace_performance_test\"],\"name\":\"segment_trace\","
              "\"timeRange\":{\"begin\":\"2025-03-01T00:00:00Z\",\"end\":\"2025-03-03T00:00:00Z\"},"
              "\"orderBy\":{\"indexRuleName\":\"time_based_index\",\"sort\":\"SORT_ASC\"},\"limit\":3}",
              NULL, &totals);
  assert_int_equal(totals.traces, 1 + 1 + 3);
  check_scan(engine, &data);
  close_trace(engine, true);
  dataset_free(&data);
  sl_catalog_free(catalog);
}

/* Every block key of every trace part is "maybe" in that part's bloom filter. */
static void bloom_never_gives_a_false_negative(void **state) {
  (void)state;
  sl_catalog *catalog = load_catalog(SCHEMAS);
  const sl_trace_schema *schema = sl_catalog_find_trace(catalog, "trace_performance_test", "segment_trace");
  dataset data;
  dataset_init(&data, schema, 20000);
  generate(&data, 11, 2000, 3, true);
  const char *dir = test_temp_dir("trace-bloom");
  sl_trace_engine *engine = open_trace(catalog, dir, 16 << 20, false);
  load_shuffled(engine, &data, 5, 150, 50);
  sl_tsdb_view *view = NULL;
  sl_error err;
  assert_int_equal(sl_tsdb_acquire(sl_trace_engine_store(engine), INT64_MIN, INT64_MAX, 0, &view, &err), SL_OK);
  sl_read_context context;
  assert_int_equal(sl_read_context_init(&context, &err), SL_OK);
  size_t parts = 0, keys = 0;
  for (size_t t = 0; t < sl_tsdb_view_count(view); t++) {
    const sl_tsdb_table_view *table = sl_tsdb_view_at(view, t);
    for (size_t p = 0; p < table->part_count; p++) {
      parts++;
      for (size_t c = 0; c < sl_part_chunk_count(table->parts[p]); c++) {
        const sl_block_meta *blocks = NULL;
        size_t count = 0;
        assert_int_equal(sl_part_chunk_blocks(table->parts[p], c, &context, &blocks, &count, &err), SL_OK);
        for (size_t b = 0; b < count; b++) {
          keys++;
          if (!sl_part_key_might_exist(table->parts[p], blocks[b].key, &context)) {
            fail_msg("part %s: block key %.*s is missing from its bloom filter",
                     sl_part_dir(table->parts[p]) ? sl_part_dir(table->parts[p]) : "(memory)",
                     (int)blocks[b].key.size_bytes - 8, blocks[b].key.data + 8);
          }
        }
      }
    }
  }
  assert_true(parts > 4 && keys >= data.trace_count);
  sl_read_context_free(&context);
  sl_tsdb_release(view);
  /* Every written trace id is found by a query (through the blooms). */
  check_totals totals = {0};
  request_buffer request;
  for (size_t t = 0; t < data.trace_count; t += 7) {
    request.used = 0;
    append(&request, "{\"groups\":[\"trace_performance_test\"],\"name\":\"segment_trace\","
                     "\"criteria\":{\"condition\":{\"name\":\"traceId\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"%s\"}}}}}",
           data.trace_ids[t]);
    check_query(engine, catalog, &data, request.text, NULL, &totals);
  }
  assert_int_equal(totals.traces, (data.trace_count + 6) / 7);
  sl_trace_stats stats;
  sl_trace_engine_stats(engine, &stats);
  print_message("      %zu parts, %zu block keys; %llu bloom lookups, %llu false positives\n", parts, keys,
                (unsigned long long)stats.bloom_lookups, (unsigned long long)stats.bloom_false_positives);
  assert_true(stats.bloom_lookups > 0 && stats.bloom_false_positives * 10 < stats.bloom_lookups);
  close_trace(engine, true);
  dataset_free(&data);
  sl_catalog_free(catalog);
}

/* Random spans, random requests, the evaluator's answers; then again after a crash-like reopen. */
static void random_queries_agree_with_the_evaluator(void **state) {
  (void)state;
  sl_catalog *catalog = load_catalog(SCHEMAS);
  const sl_trace_schema *schema = sl_catalog_find_trace(catalog, "trace_performance_test", "segment_trace");
  const uint64_t seeds[] = {20250301, 77};
  check_totals totals = {0};
  for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
    dataset data;
    dataset_init(&data, schema, 12000);
    generate(&data, seeds[s], 1200, 3, true);
    char name[64];
    snprintf(name, sizeof name, "trace-random-%zu", s);
    const char *dir = test_temp_dir(name);
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    sl_trace_engine *engine = open_trace(catalog, path, 16 << 20, false);
    load_shuffled(engine, &data, seeds[s] + 1, 90, 40);
    check_scan(engine, &data);
    run_random_queries(engine, catalog, &data, seeds[s] + 2, 250, &totals);
    /* No flush: what is still in memory parts comes back from the WAL. */
    sl_trace_stats before;
    sl_trace_engine_stats(engine, &before);
    close_trace(engine, false);
    engine = open_trace(catalog, path, 16 << 20, false);
    sl_trace_stats after;
    sl_trace_engine_stats(engine, &after);
    if (before.store.memory_parts > 0) {
      assert_true(after.store.replayed_records > 0);
    }
    check_scan(engine, &data);
    run_random_queries(engine, catalog, &data, seeds[s] + 2, 250, &totals);
    /* And merged into one part per table. */
    sl_error err;
    assert_int_equal(sl_trace_engine_compact(engine, &err), SL_OK);
    run_random_queries(engine, catalog, &data, seeds[s] + 3, 100, &totals);
    close_trace(engine, true);
    dataset_free(&data);
  }
  print_message("      %zu queries (%zu by ids, %zu by orderBy, %zu errors on both sides, %zu empty): %zu traces, "
                "%zu spans, all as the evaluator allows\n",
                totals.queries, totals.by_ids, totals.by_rule, totals.errors, totals.empty, totals.traces, totals.spans);
  assert_true(totals.traces > 1000 && totals.by_ids > 100 && totals.by_rule > 300);
  sl_catalog_free(catalog);
}

/* ---- BanyanDB's own trace cases ---- */

static size_t base64_decode(const char *text, unsigned char *out) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  unsigned bits = 0;
  int count = 0;
  for (const char *c = text; *c != '\0' && *c != '='; c++) {
    const char *at = strchr(alphabet, *c);
    if (at == NULL) {
      continue;
    }
    bits = (bits << 6) | (unsigned)(at - alphabet);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out[o++] = (unsigned char)(bits >> count);
    }
  }
  return o;
}

/* The cases' rows; spans renamed "span-N" (their payloads stay for the engine's span column). */
static void banyandb_cases_through_the_engine(void **state) {
  (void)state;
  sl_catalog *catalog = load_catalog(CASES "/schemas/trace");
  const sl_trace_schema *schema = sl_catalog_find_trace(catalog, "test-trace-group", "sw");
  assert_non_null(schema);
  FILE *file = fopen(CASES "/data/trace.ndjson", "r");
  assert_non_null(file);
  json_t *lines = json_array();
  static char line[65536];
  while (fgets(line, sizeof line, file) != NULL) {
    json_array_append_new(lines, json_loads(line, 0, NULL));
  }
  fclose(file);
  size_t count = json_array_size(lines);
  dataset data = {.schema = schema, .count = count};
  data.rows = calloc(count + 1, sizeof *data.rows);
  data.elements = calloc(count + 1, sizeof *data.elements);
  data.values = calloc(count * schema->tag_count + 1, sizeof(sl_value));
  data.text = calloc(count + 1, SPAN_TEXT_BYTES);
  assert_true(data.rows && data.elements && data.values && data.text);
  int64_t newest = 0;
  for (size_t r = 0; r < count; r++) {
    json_t *object = json_array_get(lines, r);
    sl_value *values = data.values + r * schema->tag_count;
    char *area = data.text + r * SPAN_TEXT_BYTES;
    for (size_t t = 0; t < schema->tag_count; t++) {
      json_t *value = json_object_get(object, schema->tags[t].name);
      values[t] = sl_value_null();
      if (value == NULL || json_is_null(value)) {
        continue;
      }
      switch (schema->tags[t].type) {
        case SL_TAG_STRING: values[t] = sl_value_str(json_string_value(value), json_string_length(value)); break;
        case SL_TAG_INT: values[t] = sl_value_int(json_integer_value(value)); break;
        case SL_TAG_TIMESTAMP: {
          int64_t ns = 0;
          assert_int_equal(sl_rfc3339_parse_ns(json_string_value(value), &ns, NULL), SL_OK);
          values[t] = (sl_value){.kind = SL_VALUE_TIMESTAMP, .as.timestamp_ns = ns};
          break;
        }
        default: break; /* the cases' schema has no other types in use */
      }
    }
    int64_t timestamp_ns = 0;
    assert_int_equal(sl_rfc3339_parse_ns(json_string_value(json_object_get(object, "_timestamp")), &timestamp_ns, NULL),
                     SL_OK);
    newest = timestamp_ns > newest ? timestamp_ns : newest;
    int length = snprintf(area, SPAN_TEXT_BYTES, "span-%06zu", r);
    sl_bytes span = {.data = area, .size_bytes = (size_t)length};
    data.rows[r] = (sl_query_row){.timestamp_ns = timestamp_ns, .tags = values, .span = span};
    data.elements[r] = (sl_element){.timestamp_ns = timestamp_ns, .data = span, .values = values};
  }
  const char *dir = test_temp_dir("trace-banyandb-cases");
  sl_trace_engine *engine = open_trace(catalog, dir, 0, false);
  sl_error err;
  for (size_t r = 0; r < count; r += 5) {
    size_t size = count - r < 5 ? count - r : 5;
    if (sl_trace_engine_write(engine, data.elements + r, size, &err) != SL_OK) {
      fail_msg("write: %s", err.message);
    }
  }
  assert_int_equal(sl_trace_engine_flush(engine, &err), SL_OK);
  assert_int_equal(sl_tsdb_apply_retention(sl_trace_engine_store(engine), &err), SL_OK);
  /* The engine's retention clock is the newest span written. */
  sl_query_options options = {.ttl_retention = true, .now_ns = newest};
  check_totals totals = {0};
  DIR *cases = opendir(CASES "/cases/trace");
  assert_non_null(cases);
  for (struct dirent *entry = readdir(cases); entry != NULL; entry = readdir(cases)) {
    if (strstr(entry->d_name, ".json") == NULL) {
      continue;
    }
    char path[4096];
    snprintf(path, sizeof path, CASES "/cases/trace/%s", entry->d_name);
    json_t *test = json_load_file(path, 0, NULL);
    assert_non_null(test);
    char *request = json_dumps(json_object_get(test, "request"), JSON_COMPACT);
    sl_query *query = NULL;
    if (sl_query_parse(catalog, SL_QUERY_TRACE, request, strlen(request), &query, &err) == SL_OK) {
      sl_query_free(query);
      check_query(engine, catalog, &data, request, &options, &totals);
    }
    free(request);
    json_decref(test);
  }
  closedir(cases);
  print_message("      %zu BanyanDB cases through the engine: %zu traces, %zu spans as the evaluator's\n", totals.queries,
                totals.traces, totals.spans);
  assert_true(totals.queries >= 45 && totals.traces > 50);
  close_trace(engine, true);
  free(data.rows);
  free(data.elements);
  free(data.values);
  free(data.text);
  json_decref(lines);
  sl_catalog_free(catalog);
  (void)base64_decode;
}

/* ---- the two models agree on traces ---- */

typedef struct span_set {
  char (*ids)[16];
  size_t count;
} span_set;

static int compare_ids(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

static void stream_and_trace_return_the_same_spans_per_trace(void **state) {
  (void)state;
  sl_catalog *catalog = load_catalog(SCHEMAS);
  const sl_trace_schema *schema = sl_catalog_find_trace(catalog, "trace_performance_test", "segment_trace");
  dataset data;
  dataset_init(&data, schema, 8000);
  generate(&data, 4242, 800, 2, false);
  sl_trace_engine *trace = open_trace(catalog, test_temp_dir("cross-trace"), 16 << 20, false);
  load_shuffled(trace, &data, 9, 120, 20);
  sl_engine_options options;
  sl_engine_options_default(&options);
  options.catalog = catalog;
  options.directory = test_temp_dir("cross-stream");
  options.background = false;
  options.sync_mode = SL_WAL_SYNC_NONE;
  options.memory_bytes_limit = 16 << 20;
  sl_stream_engine *stream = NULL;
  sl_error err;
  assert_int_equal(sl_stream_engine_open(&options, &stream, &err), SL_OK);
  const sl_stream_schema *stream_schema = sl_stream_engine_schema(stream);
  /* The stream's elements: its own tag order, element id traceId/spanId (as the backend adapter). */
  sl_value *values = calloc(data.count * stream_schema->tag_count + 1, sizeof *values);
  sl_element *elements = calloc(data.count + 1, sizeof *elements);
  char (*element_ids)[64] = calloc(data.count + 1, sizeof *element_ids);
  assert_true(values && elements && element_ids);
  for (size_t i = 0; i < data.count; i++) {
    for (size_t t = 0; t < stream_schema->tag_count; t++) {
      const sl_tag_spec *tag = sl_trace_find_tag(schema, stream_schema->tags[t].name);
      values[i * stream_schema->tag_count + t] = tag != NULL ? data.rows[i].tags[tag->tag_index] : sl_value_null();
    }
    const sl_value *id = &data.rows[i].tags[data.tag[T_TRACE]];
    const sl_value *span = &data.rows[i].tags[data.tag[T_SPAN]];
    int length = snprintf(element_ids[i], sizeof element_ids[i], "%.*s/%.*s", (int)id->as.str.size_bytes,
                          id->as.str.data, (int)span->as.str.size_bytes, span->as.str.data);
    elements[i] = (sl_element){.timestamp_ns = data.rows[i].timestamp_ns,
                               .data = {.data = element_ids[i], .size_bytes = (size_t)length},
                               .values = values + i * stream_schema->tag_count};
  }
  for (size_t done = 0; done < data.count; done += 100) {
    size_t size = data.count - done < 100 ? data.count - done : 100;
    assert_int_equal(sl_stream_engine_write(stream, elements + done, size, &err), SL_OK);
  }
  size_t compared = 0, spans = 0;
  for (size_t t = 0; t < data.trace_count; t++) {
    char request[1024];
    snprintf(request, sizeof request,
             "{\"groups\":[\"stream_performance_test\"],\"name\":\"segment_stream\",\"limit\":1000,"
             "\"timeRange\":{\"begin\":\"2025-02-28T00:00:00Z\",\"end\":\"2025-03-04T00:00:00Z\"},"
             "\"criteria\":{\"condition\":{\"name\":\"traceId\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"%s\"}}}},"
             "\"projection\":{\"tagFamilies\":[{\"name\":\"primary\",\"tags\":[\"traceId\",\"spanId\"]}]}}",
             data.trace_ids[t]);
    sl_query *query = NULL;
    assert_int_equal(sl_query_parse(catalog, SL_QUERY_STREAM, request, strlen(request), &query, &err), SL_OK);
    sl_stream_answer from_stream;
    const char *extra[] = {"traceId", "spanId"};
    assert_int_equal(sl_stream_engine_query(stream, query, extra, 2, &from_stream, &err), SL_OK);
    sl_query_free(query);
    snprintf(request, sizeof request,
             "{\"groups\":[\"trace_performance_test\"],\"name\":\"segment_trace\","
             "\"timeRange\":{\"begin\":\"2025-02-28T00:00:00Z\",\"end\":\"2025-03-04T00:00:00Z\"},"
             "\"criteria\":{\"condition\":{\"name\":\"traceId\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"%s\"}}}},"
             "\"tagProjection\":[\"spanId\"]}",
             data.trace_ids[t]);
    assert_int_equal(sl_query_parse(catalog, SL_QUERY_TRACE, request, strlen(request), &query, &err), SL_OK);
    sl_trace_answer from_trace;
    assert_int_equal(sl_trace_engine_query(trace, query, extra, 2, &from_trace, &err), SL_OK);
    sl_query_free(query);
    span_set sets[2];
    const sl_query_row *rows[2] = {from_stream.rows, from_trace.rows};
    size_t counts[2] = {from_stream.row_count, from_trace.row_count};
    size_t span_tags[2] = {sl_stream_find_tag(stream_schema, "spanId")->tag_index, (size_t)data.tag[T_SPAN]};
    for (int m = 0; m < 2; m++) {
      sets[m].count = counts[m];
      sets[m].ids = calloc(counts[m] + 1, sizeof *sets[m].ids);
      for (size_t i = 0; i < counts[m]; i++) {
        const sl_value *id = &rows[m][i].tags[span_tags[m]];
        assert_int_equal(id->kind, SL_VALUE_STR);
        snprintf(sets[m].ids[i], sizeof sets[m].ids[i], "%.*s", (int)id->as.str.size_bytes, id->as.str.data);
      }
      qsort(sets[m].ids, counts[m], sizeof *sets[m].ids, compare_ids);
    }
    if (sets[0].count != sets[1].count || sets[0].count == 0) {
      fail_msg("trace %s: the Stream engine returns %zu spans, the Trace engine %zu", data.trace_ids[t], sets[0].count,
               sets[1].count);
    }
    for (size_t i = 0; i < sets[0].count; i++) {
      if (strcmp(sets[0].ids[i], sets[1].ids[i]) != 0) {
        fail_msg("trace %s: span %s (stream) against %s (trace)", data.trace_ids[t], sets[0].ids[i], sets[1].ids[i]);
      }
    }
    assert_int_equal(from_trace.result.trace_count, 1);
    compared++;
    spans += sets[0].count;
    free(sets[0].ids);
    free(sets[1].ids);
    sl_stream_answer_free(&from_stream);
    sl_trace_answer_free(&from_trace);
  }
  print_message("      %zu traces, %zu spans: the same from both engines\n", compared, spans);
  assert_int_equal(spans, data.count);
  assert_int_equal(sl_stream_engine_close(stream, true, &err), SL_OK);
  close_trace(trace, true);
  free(values);
  free(elements);
  free(element_ids);
  dataset_free(&data);
  sl_catalog_free(catalog);
}

/* ---- corruption ---- */

static void copy_tree(const char *from, const char *to) {
  char command[13000];
  snprintf(command, sizeof command, "rm -rf '%s' && cp -a '%s' '%s'", to, from, to);
  assert_int_equal(system(command), 0);
}

/* The files of one part of each table kind, among the parts the store's
 * snapshots name now (older part directories still on disk are read by
 * nothing). */
static void live_part_files(const sl_catalog *catalog, const char *dir, char (*out)[4096], size_t *count, size_t max) {
  sl_trace_engine *engine = open_trace(catalog, dir, 0, false);
  sl_tsdb_view *view = NULL;
  sl_error err;
  assert_int_equal(sl_tsdb_acquire(sl_trace_engine_store(engine), INT64_MIN, INT64_MAX, UINT32_MAX, &view, &err), SL_OK);
  bool kind_done[SL_TSDB_MAX_KINDS] = {false};
  for (size_t t = 0; t < sl_tsdb_view_count(view); t++) {
    const sl_tsdb_table_view *table = sl_tsdb_view_at(view, t);
    if (kind_done[table->kind] || table->part_count == 0) {
      continue; /* one part of each kind: the trace table and each sidx */
    }
    kind_done[table->kind] = true;
    for (size_t p = 0; p < 1; p++) {
      const char *part_dir = sl_part_dir(table->parts[p]);
      assert_non_null(part_dir); /* flushed and merged: file parts only */
      DIR *handle = opendir(part_dir);
      assert_non_null(handle);
      for (struct dirent *entry = readdir(handle); entry != NULL; entry = readdir(handle)) {
        if (entry->d_name[0] != '.' && *count < max) {
          snprintf(out[(*count)++], 4096, "%.3000s/%.900s", part_dir, entry->d_name);
        }
      }
      closedir(handle);
    }
  }
  sl_tsdb_release(view);
  close_trace(engine, false);
}

/* Opens the damaged store, runs queries and a scan; returns the first failure (SL_OK if none). */
static sl_status use_store(const sl_catalog *catalog, const char *dir, const dataset *data, sl_error *err) {
  sl_engine_options options;
  sl_engine_options_default(&options);
  options.catalog = catalog;
  options.directory = dir;
  options.background = false;
  sl_trace_engine *engine = NULL;
  SL_TRY(sl_trace_engine_open(&options, &engine, err));
  sl_status status = SL_OK;
  scan_sum sum = {0};
  status = sl_trace_engine_scan(engine, sum_span, &sum, err);
  static const char *const orders[] = {"time_based_index\",\"sort\":\"SORT_DESC", "latency_based_index\",\"sort\":\"SORT_ASC"};
  for (int o = 0; o < 2 && status == SL_OK; o++) {
    char request[1024];
    snprintf(request, sizeof request,
             "{\"groups\":[\"trace_performance_test\"],\"name\":\"segment_trace\",\"limit\":1000,"
             "\"timeRange\":{\"begin\":\"2025-02-28T00:00:00Z\",\"end\":\"2025-03-04T00:00:00Z\"},"
             "\"orderBy\":{\"indexRuleName\":\"%s\"},\"tagProjection\":[\"spanId\",\"dataBinary\"]}",
             orders[o]);
    sl_query *query = NULL;
    status = sl_query_parse(catalog, SL_QUERY_TRACE, request, strlen(request), &query, err);
    sl_trace_answer answer;
    if (status == SL_OK) {
      status = sl_trace_engine_query(engine, query, NULL, 0, &answer, err);
    }
    if (status == SL_OK) {
      sl_trace_answer_free(&answer);
    }
    sl_query_free(query);
  }
  for (size_t t = 0; t < data->trace_count && status == SL_OK; t++) {
    char request[1024];
    snprintf(request, sizeof request,
             "{\"groups\":[\"trace_performance_test\"],\"name\":\"segment_trace\","
             "\"criteria\":{\"condition\":{\"name\":\"traceId\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"%s\"}}}},"
             "\"tagProjection\":[\"spanId\",\"latency\",\"dataBinary\"]}",
             data->trace_ids[t]);
    sl_query *query = NULL;
    status = sl_query_parse(catalog, SL_QUERY_TRACE, request, strlen(request), &query, err);
    sl_trace_answer answer;
    if (status == SL_OK) {
      status = sl_trace_engine_query(engine, query, NULL, 0, &answer, err);
    }
    if (status == SL_OK) {
      sl_trace_answer_free(&answer);
    }
    sl_query_free(query);
  }
  sl_error ignored;
  sl_trace_engine_close(engine, false, &ignored);
  if (status == SL_OK && sum.spans != data->count) {
    status = sl_error_set(err, SL_ERR_INTERNAL, "a damaged store answered without an error but lost spans");
  }
  return status;
}

static void damaged_part_files_are_reported_not_crashed_on(void **state) {
  (void)state;
  sl_catalog *catalog = load_catalog(SCHEMAS);
  const sl_trace_schema *schema = sl_catalog_find_trace(catalog, "trace_performance_test", "segment_trace");
  dataset data;
  dataset_init(&data, schema, 800);
  generate(&data, 99, 80, 1, true);
  char pristine[4096];
  snprintf(pristine, sizeof pristine, "%s", test_temp_dir("trace-corrupt-pristine"));
  sl_trace_engine *engine = open_trace(catalog, pristine, 0, false);
  load_shuffled(engine, &data, 3, 200, 8);
  sl_error err;
  assert_int_equal(sl_trace_engine_compact(engine, &err), SL_OK);
  close_trace(engine, true);
  /* The WAL would bring the spans back on its own: drop it, so the parts are all there is. */
  char wal[4200];
  snprintf(wal, sizeof wal, "rm -rf '%s/wal'", pristine);
  assert_int_equal(system(wal), 0);
  assert_int_equal(use_store(catalog, pristine, &data, &err), SL_OK);
  static char files[256][4096];
  size_t file_count = 0;
  live_part_files(catalog, pristine, files, &file_count, 256);
  assert_true(file_count > 20); /* 3 + 10 tag files in a trace part, 6 in each sidx part */
  char damaged[4200];
  snprintf(damaged, sizeof damaged, "%s-damaged", pristine);
  uint64_t random = 1234;
  size_t cases = 0, sidx_cases = 0;
  for (size_t f = 0; f < file_count; f++) {
    for (int kind = 0; kind < 3; kind++) { /* truncate; flip a byte; flip a byte in the footer */
      copy_tree(pristine, damaged);
      char target[8400];
      snprintf(target, sizeof target, "%s%s", damaged, files[f] + strlen(pristine));
      struct stat info;
      assert_int_equal(stat(target, &info), 0);
      FILE *file = fopen(target, "r+b");
      assert_non_null(file);
      if (kind == 0) {
        assert_int_equal(ftruncate(fileno(file), info.st_size / 2), 0);
      } else {
        long offset = kind == 1 ? (long)below(&random, (uint64_t)info.st_size) : (long)(info.st_size - 1 - (long)below(&random, 40));
        fseek(file, offset, SEEK_SET);
        int byte = fgetc(file);
        fseek(file, offset, SEEK_SET);
        fputc(byte ^ (1 << (int)below(&random, 8)), file);
      }
      fclose(file);
      sl_status status = use_store(catalog, damaged, &data, &err);
      const char *name = strrchr(files[f], '/') + 1;
      if (status != SL_ERR_CORRUPT) {
        fail_msg("%s (%s): %s, not corrupt data: %s", files[f], kind == 0 ? "truncated" : "a byte flipped",
                 sl_status_name(status), status == SL_OK ? "" : err.message);
      }
      if (strstr(err.message, name) == NULL) {
        fail_msg("%s: the error does not name the file: %s", files[f], err.message);
      }
      if (kind != 0 && strstr(err.message, "offset") == NULL && strstr(err.message, "checksum") == NULL &&
          strstr(err.message, "footer") == NULL) {
        fail_msg("%s: the error says neither where nor what: %s", files[f], err.message);
      }
      cases++;
      sidx_cases += strstr(files[f], "/sidx-") != NULL;
    }
  }
  print_message("      %zu damaged stores (%zu in sidx files), each SL_ERR_CORRUPT naming the file\n", cases, sidx_cases);
  assert_true(sidx_cases > 0);
  dataset_free(&data);
  sl_catalog_free(catalog);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(one_trace_across_batches_flushes_and_merges),
      cmocka_unit_test(bloom_never_gives_a_false_negative),
      cmocka_unit_test(random_queries_agree_with_the_evaluator),
      cmocka_unit_test(banyandb_cases_through_the_engine),
      cmocka_unit_test(stream_and_trace_return_the_same_spans_per_trace),
      cmocka_unit_test(damaged_part_files_are_reported_not_crashed_on),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
