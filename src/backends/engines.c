/* engines.c: the embedded Stream and Trace engines behind the backend
 * interface.  Spans become the subject's elements by tag name (the seed's tag
 * names, include/spanlab/span.h); tags a span does not have are null. */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend_internal.h"
#include "spanlab/query.h"
#include "stream/stream.h"
#include "trace/trace.h"

typedef struct engine_state {
  bool stream;
  sl_stream_engine *stream_engine;
  sl_trace_engine *trace_engine;
  size_t tag_count;
  int span_field_of_tag[256]; /* -1: not a span field */
  int tag_of_field[SL_SPAN_TAG_COUNT]; /* flat tag index of each span field, -1 if absent */
  char group[256];
  char name[256];
} engine_state;

static sl_wal_sync_mode wal_mode(sl_sync_mode mode) {
  return mode == SL_SYNC_NONE ? SL_WAL_SYNC_NONE : mode == SL_SYNC_INTERVAL ? SL_WAL_SYNC_INTERVAL : SL_WAL_SYNC_BATCH;
}

static sl_status map_tags(engine_state *state, const sl_tag_spec *tags, size_t count, sl_error *err) {
  if (count > 256) {
    return sl_error_set(err, SL_ERR_UNSUPPORTED, "a subject of %zu tags", count);
  }
  state->tag_count = count;
  for (size_t f = 0; f < SL_SPAN_TAG_COUNT; f++) {
    state->tag_of_field[f] = -1;
  }
  for (size_t t = 0; t < count; t++) {
    state->span_field_of_tag[t] = -1;
    for (size_t f = 0; f < SL_SPAN_TAG_COUNT; f++) {
      if (strcmp(tags[t].name, sl_span_tag_names[f]) == 0) {
        state->span_field_of_tag[t] = (int)f;
        state->tag_of_field[f] = (int)t;
      }
    }
  }
  return SL_OK;
}

static sl_status engine_open(const sl_backend_options *options, bool stream, void **out, sl_error *err) {
  engine_state *state = calloc(1, sizeof *state);
  if (state == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  state->stream = stream;
  sl_engine_options engine;
  sl_engine_options_default(&engine);
  engine.catalog = options->catalog;
  engine.group = options->group;
  engine.name = options->subject;
  engine.directory = options->directory;
  engine.sync_mode = wal_mode(options->sync_mode);
  engine.wal_enabled = options->sync_mode != SL_SYNC_OFF;
  engine.sync_interval_ms = options->sync_interval_ms > 0 ? options->sync_interval_ms : 100;
  if (options->memory_bytes_limit > 0) {
    engine.memory_bytes_limit = options->memory_bytes_limit;
  }
  sl_status status;
  if (stream) {
    status = sl_stream_engine_open(&engine, &state->stream_engine, err);
    if (status == SL_OK) {
      const sl_stream_schema *schema = sl_stream_engine_schema(state->stream_engine);
      snprintf(state->group, sizeof state->group, "%s", schema->group);
      snprintf(state->name, sizeof state->name, "%s", schema->name);
      status = map_tags(state, schema->tags, schema->tag_count, err);
    }
  } else {
    status = sl_trace_engine_open(&engine, &state->trace_engine, err);
    if (status == SL_OK) {
      const sl_trace_schema *schema = sl_trace_engine_schema(state->trace_engine);
      snprintf(state->group, sizeof state->group, "%s", schema->group);
      snprintf(state->name, sizeof state->name, "%s", schema->name);
      status = map_tags(state, schema->tags, schema->tag_count, err);
    }
  }
  if (status != SL_OK) {
    sl_error ignored;
    sl_stream_engine_close(state->stream_engine, false, &ignored);
    sl_trace_engine_close(state->trace_engine, false, &ignored);
    free(state);
    return status;
  }
  *out = state;
  return SL_OK;
}

static sl_status stream_open(const sl_backend_options *options, void **out, sl_error *err) {
  return engine_open(options, true, out, err);
}

static sl_status trace_open(const sl_backend_options *options, void **out, sl_error *err) {
  return engine_open(options, false, out, err);
}

static sl_status engine_write(void *opaque, const sl_span *spans, size_t count, sl_error *err) {
  engine_state *state = opaque;
  size_t tags = state->tag_count;
  sl_element *elements = malloc((count + 1) * sizeof *elements);
  sl_value *values = malloc((count * tags + 1) * sizeof *values);
  /* Element ids, traceId/spanId, whole: cut to a fixed length, ids that differ only past it were one
   * element and all but one were dropped as duplicates. */
  size_t id_bytes = 1;
  for (size_t i = 0; state->stream && i < count; i++) {
    id_bytes += spans[i].trace_id.size_bytes + spans[i].span_id.size_bytes + 1;
  }
  char *ids = state->stream ? malloc(id_bytes) : NULL;
  size_t id_used = 0;
  sl_status status = elements != NULL && values != NULL && (ids != NULL || !state->stream)
                         ? SL_OK
                         : sl_error_set(err, SL_ERR_NOMEM, "out of memory for a batch of %zu spans", count);
  for (size_t i = 0; status == SL_OK && i < count; i++) {
    sl_value *row = values + i * tags;
    for (size_t t = 0; t < tags; t++) {
      int field = state->span_field_of_tag[t];
      row[t] = field >= 0 ? sl_span_tag_value(&spans[i], (size_t)field) : sl_value_null();
    }
    if (spans[i].start_time_ms <= 0 || spans[i].start_time_ms > INT64_MAX / 1000000) {
      /* In nanoseconds it would wrap, and a wrapped value can look like a valid time. */
      status = sl_error_set(err, SL_ERR_INVALID, "span %.*s/%.*s: startTime %lld ms is outside 1..%lld ms",
                            (int)spans[i].trace_id.size_bytes, spans[i].trace_id.data,
                            (int)spans[i].span_id.size_bytes, spans[i].span_id.data,
                            (long long)spans[i].start_time_ms, (long long)(INT64_MAX / 1000000));
      break;
    }
    elements[i] = (sl_element){.timestamp_ns = spans[i].start_time_ms * 1000000, .values = row};
    if (state->stream) {
      /* The element id the runner's oracle uses: traceId/spanId. */
      char *id = ids + id_used;
      sl_bytes trace_id = spans[i].trace_id, span_id = spans[i].span_id;
      if (trace_id.size_bytes > 0) {
        memcpy(id, trace_id.data, trace_id.size_bytes);
      }
      id[trace_id.size_bytes] = '/';
      if (span_id.size_bytes > 0) {
        memcpy(id + trace_id.size_bytes + 1, span_id.data, span_id.size_bytes);
      }
      size_t length = trace_id.size_bytes + 1 + span_id.size_bytes;
      id_used += length;
      elements[i].data = (sl_bytes){.data = id, .size_bytes = length};
    }
  }
  if (status == SL_OK) {
    status = state->stream ? sl_stream_engine_write(state->stream_engine, elements, count, err)
                           : sl_trace_engine_write(state->trace_engine, elements, count, err);
  }
  free(elements);
  free(values);
  free(ids);
  return status;
}

static sl_status engine_flush(void *opaque, sl_error *err) {
  engine_state *state = opaque;
  return state->stream ? sl_stream_engine_flush(state->stream_engine, err) : sl_trace_engine_flush(state->trace_engine, err);
}

static sl_status engine_settle(void *opaque, sl_error *err) {
  engine_state *state = opaque;
  return state->stream ? sl_stream_engine_settle(state->stream_engine, err)
                       : sl_trace_engine_settle(state->trace_engine, err);
}

static sl_status engine_compact(void *opaque, sl_error *err) {
  engine_state *state = opaque;
  return state->stream ? sl_stream_engine_compact(state->stream_engine, err)
                       : sl_trace_engine_compact(state->trace_engine, err);
}

static sl_status engine_storage_json(void *opaque, char **json_out, sl_error *err) {
  engine_state *state = opaque;
  *json_out = state->stream ? sl_stream_engine_storage_json(state->stream_engine)
                            : sl_trace_engine_storage_json(state->trace_engine);
  return *json_out != NULL ? SL_OK : sl_error_set(err, SL_ERR_NOMEM, "out of memory breaking the storage down");
}

typedef struct count_context {
  const engine_state *state;
  uint64_t spans;
  uint64_t checksum;
} count_context;

static sl_bytes bytes_of(const sl_value *value) {
  if (value->kind == SL_VALUE_STR || value->kind == SL_VALUE_BINARY) {
    return value->as.str.size_bytes > 0 ? value->as.str : (sl_bytes){.data = "", .size_bytes = 0};
  }
  return (sl_bytes){.data = "", .size_bytes = 0};
}

static int64_t int_of(const sl_value *value) {
  return value->kind == SL_VALUE_INT || value->kind == SL_VALUE_TIMESTAMP ? value->as.int_value : 0;
}

static sl_status count_row(void *opaque, int64_t timestamp_ns, const sl_value *tags, sl_error *err) {
  (void)timestamp_ns;
  (void)err;
  count_context *context = opaque;
  const int *at = context->state->tag_of_field;
  sl_value null = sl_value_null();
#define FIELD(f) (at[f] >= 0 ? &tags[at[f]] : &null)
  sl_span span = {
      .service_id = bytes_of(FIELD(0)),
      .service_instance_id = bytes_of(FIELD(1)),
      .trace_id = bytes_of(FIELD(2)),
      .start_time_ms = int_of(FIELD(3)),
      .latency_ms = int_of(FIELD(4)),
      .is_error = int_of(FIELD(5)),
      .span_id = bytes_of(FIELD(6)),
      .parent_span_id = bytes_of(FIELD(7)),
      .operation_name = bytes_of(FIELD(8)),
      .component = bytes_of(FIELD(9)),
      .data_binary = bytes_of(FIELD(10)),
  };
#undef FIELD
  context->spans++;
  context->checksum += sl_span_digest(&span);
  return SL_OK;
}

static sl_status engine_count(void *opaque, uint64_t *span_count, uint64_t *checksum, sl_error *err) {
  engine_state *state = opaque;
  count_context context = {.state = state};
  sl_status status = state->stream ? sl_stream_engine_scan(state->stream_engine, count_row, &context, err)
                                   : sl_trace_engine_scan(state->trace_engine, count_row, &context, err);
  *span_count = context.spans;
  *checksum = context.checksum;
  return status;
}

static void copy_stats(sl_backend_answer *answer, const sl_query_stats *stats) {
  answer->stats.blocks_read = stats->blocks_read;
  answer->stats.blocks_skipped = stats->blocks_skipped;
  answer->stats.postings_read = stats->postings_read;
  answer->stats.rows_examined = stats->rows_examined;
  answer->stats.rows_returned = stats->rows_returned;
  answer->stats.bytes_decompressed = stats->bytes_decompressed;
  answer->stats.cache_hits = stats->cache_hits;
  answer->stats.cache_misses = stats->cache_misses;
  answer->stats.bloom_checks = stats->bloom_checks;
  answer->stats.bloom_negatives = stats->bloom_negatives;
  answer->stats.sidx_rows_scanned = stats->sidx_rows_scanned;
  answer->stats.valid = true;
}

static sl_status answer_from_rows(const engine_state *state, const sl_query_row *rows, size_t count,
                                  sl_backend_answer *answer, sl_error *err) {
  int trace = state->tag_of_field[2], span = state->tag_of_field[6];
  if (trace < 0 || span < 0) {
    return sl_error_set(err, SL_ERR_UNSUPPORTED, "the subject has no traceId/spanId tags to name spans by");
  }
  answer->span_keys = calloc(count + 1, sizeof(uint64_t));
  if (answer->span_keys == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  for (size_t i = 0; i < count; i++) {
    answer->span_keys[i] = sl_span_key(bytes_of(&rows[i].tags[trace]), bytes_of(&rows[i].tags[span]));
  }
  answer->span_count = count;
  return SL_OK;
}

static sl_status engine_query(void *opaque, const struct sl_query *query, sl_backend_answer *answer, sl_error *err) {
  engine_state *state = opaque;
  const char *extra[] = {"traceId", "spanId"};
  if (state->stream) {
    if (query->model != SL_QUERY_STREAM || query->stream != sl_stream_engine_schema(state->stream_engine)) {
      return sl_error_set(err, SL_ERR_UNSUPPORTED, "the Stream engine stores stream %s; it does not answer %s %s",
                          state->name, query->model == SL_QUERY_STREAM ? "stream" : "trace", query->name);
    }
    sl_stream_answer result;
    SL_TRY(sl_stream_engine_query(state->stream_engine, query, extra, 2, &result, err));
    sl_status status = answer_from_rows(state, result.rows, result.row_count, answer, err);
    copy_stats(answer, &result.stats);
    sl_stream_answer_free(&result);
    return status;
  }
  if (query->model != SL_QUERY_TRACE || query->trace != sl_trace_engine_schema(state->trace_engine)) {
    return sl_error_set(err, SL_ERR_UNSUPPORTED, "the Trace engine stores trace %s; it does not answer %s %s",
                        state->name, query->model == SL_QUERY_STREAM ? "stream" : "trace", query->name);
  }
  sl_trace_answer result;
  SL_TRY(sl_trace_engine_query(state->trace_engine, query, extra, 2, &result, err));
  sl_status status = answer_from_rows(state, result.rows, result.row_count, answer, err);
  copy_stats(answer, &result.stats);
  sl_trace_answer_free(&result);
  return status;
}

static sl_status engine_print_query(void *opaque, const struct sl_query *query, FILE *out, sl_error *err) {
  engine_state *state = opaque;
  if (state->stream) {
    if (query->model != SL_QUERY_STREAM || query->stream != sl_stream_engine_schema(state->stream_engine)) {
      return sl_error_set(err, SL_ERR_INVALID, "this store holds stream %s; the query asks for %s %s", state->name,
                          query->model == SL_QUERY_STREAM ? "stream" : "trace", query->name);
    }
    sl_stream_answer result;
    SL_TRY(sl_stream_engine_query(state->stream_engine, query, NULL, 0, &result, err));
    sl_status status = sl_query_print_response(query, result.rows, &result.result, out, err);
    sl_stream_answer_free(&result);
    return status;
  }
  if (query->model != SL_QUERY_TRACE || query->trace != sl_trace_engine_schema(state->trace_engine)) {
    return sl_error_set(err, SL_ERR_INVALID, "this store holds trace %s; the query asks for %s %s", state->name,
                        query->model == SL_QUERY_STREAM ? "stream" : "trace", query->name);
  }
  sl_trace_answer result;
  SL_TRY(sl_trace_engine_query(state->trace_engine, query, NULL, 0, &result, err));
  sl_status status = sl_query_print_response(query, result.rows, &result.result, out, err);
  sl_trace_answer_free(&result);
  return status;
}

static sl_status engine_drop_caches(void *opaque, sl_error *err) {
  (void)err;
  engine_state *state = opaque;
  if (state->stream) {
    sl_stream_engine_drop_caches(state->stream_engine);
  } else {
    sl_trace_engine_drop_caches(state->trace_engine);
  }
  return SL_OK;
}

static void engine_close(void *opaque) {
  engine_state *state = opaque;
  sl_error err;
  sl_status status = state->stream ? sl_stream_engine_close(state->stream_engine, true, &err)
                                   : sl_trace_engine_close(state->trace_engine, true, &err);
  if (status != SL_OK) {
    fprintf(stderr, "spanlab: closing the %s engine: %s\n", state->stream ? "Stream" : "Trace", err.message);
  }
  free(state);
}

static uint64_t engine_expired_spans(void *opaque) {
  engine_state *state = opaque;
  sl_tsdb *db = state->stream ? sl_stream_engine_store(state->stream_engine) : sl_trace_engine_store(state->trace_engine);
  return db != NULL ? sl_tsdb_expired_rows(db) : 0;
}

const sl_backend_vtable sl_stream_backend = {
    .kind = "stream",
    .capabilities = {.concurrent_writes = true, .trace_queries = false, .stream_queries = true},
    .open = stream_open,
    .write = engine_write,
    .flush = engine_flush,
    .count = engine_count,
    .query = engine_query,
    .drop_caches = engine_drop_caches,
    .print_query = engine_print_query,
    .compact = engine_compact,
    .settle = engine_settle,
    .storage_json = engine_storage_json,
    .expired_spans = engine_expired_spans,
    .close = engine_close,
};

const sl_backend_vtable sl_trace_backend = {
    .kind = "trace",
    .capabilities = {.concurrent_writes = true, .trace_queries = true, .stream_queries = false},
    .open = trace_open,
    .write = engine_write,
    .flush = engine_flush,
    .count = engine_count,
    .query = engine_query,
    .drop_caches = engine_drop_caches,
    .print_query = engine_print_query,
    .compact = engine_compact,
    .settle = engine_settle,
    .storage_json = engine_storage_json,
    .expired_spans = engine_expired_spans,
    .close = engine_close,
};
