/*
 * stream_batches.h: deterministic write batches for the Stream engine's tests, and a checker
 * of what a store holds.
 *
 * A batch is named by a 64-bit number; its elements (1..SB_MAX_ELEMENTS) and every tag value are
 * derived from (batch, element), so a reader can tell from a row alone which batch it belongs to
 * (the element id and the spanId tag are "b<batch hex>-e<element>") and what every tag must hold.
 * Timestamps spread a batch over up to two day segments, and the entity (serviceId,
 * serviceInstanceId) over both shards of the seed schemas (schemas/stream-vs-trace), so that one
 * batch is several memory parts in several tables.  A few elements carry large dataBinary values
 * so that memory fills and flushes happen.
 *
 * sb_collect scans the engine and checks every row against its batch; sb_verify then checks the
 * batches as a whole: each one present is complete, nothing is duplicated, every batch that must
 * be there is, and nothing outside the allowed set is.
 *
 * Ownership: an sb_batch owns its elements and their bytes (one arena); an sb_scan owns what it
 * collected.  Header-only (static inline) for the integration tests.
 */
#ifndef SPANLAB_TEST_STREAM_BATCHES_H
#define SPANLAB_TEST_STREAM_BATCHES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "spanlab/catalog.h"
#include "stream/stream.h"

enum {
  SB_MAX_ELEMENTS = 24,
  SB_MAX_TAGS = 16,
  SB_DAY_MS = 86400000,
  SB_MESSAGE_BYTES = 1024
};

static const int64_t SB_BASE_MS = 1717200000000LL; /* 2024-06-01T00:00:00Z */

static inline uint64_t sb_mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

static inline uint32_t sb_element_count(uint64_t batch) { return 1 + (uint32_t)(sb_mix(batch ^ 0x5bd1e995u) % SB_MAX_ELEMENTS); }

/* Tag positions (flat schema order) of the seed stream segment_stream. */
typedef struct sb_tags {
  size_t count;
  int service, instance, trace, start, latency, error, span, parent, operation, component, data;
} sb_tags;

static inline int sb_tag(const sl_stream_schema *schema, const char *name) {
  const sl_tag_spec *tag = sl_stream_find_tag(schema, name);
  return tag != NULL ? (int)tag->tag_index : -1;
}

static inline bool sb_tags_of(const sl_stream_schema *schema, sb_tags *out) {
  *out = (sb_tags){.count = schema->tag_count,
                   .service = sb_tag(schema, "serviceId"),
                   .instance = sb_tag(schema, "serviceInstanceId"),
                   .trace = sb_tag(schema, "traceId"),
                   .start = sb_tag(schema, "startTime"),
                   .latency = sb_tag(schema, "latency"),
                   .error = sb_tag(schema, "isError"),
                   .span = sb_tag(schema, "spanId"),
                   .parent = sb_tag(schema, "parentSpanId"),
                   .operation = sb_tag(schema, "operationName"),
                   .component = sb_tag(schema, "component"),
                   .data = sb_tag(schema, "dataBinary")};
  return out->count <= SB_MAX_TAGS && out->service >= 0 && out->instance >= 0 && out->trace >= 0 && out->start >= 0 &&
         out->latency >= 0 && out->error >= 0 && out->span >= 0 && out->parent >= 0 && out->operation >= 0 &&
         out->component >= 0 && out->data >= 0;
}

typedef struct sb_element_text {
  char service[16], instance[16], trace[32], span[48], parent[48], operation[16];
} sb_element_text;

static inline size_t sb_data_bytes(uint64_t h) { return (h & 15) == 0 ? 2000 + (size_t)((h >> 4) % 3000) : (size_t)((h >> 4) % 400); }

static inline void sb_data_fill(uint64_t h, uint8_t *out, size_t size) {
  uint64_t state = h;
  for (size_t i = 0; i < size; i++) {
    if (i % 8 == 0) {
      state = sb_mix(state + i);
    }
    out[i] = (uint8_t)(state >> (8 * (i % 8)));
  }
}

/* The values of element e of batch b; strings point into text, dataBinary into data (size_data bytes). */
static inline int64_t sb_element(const sb_tags *tags, uint64_t batch, uint32_t e, sb_element_text *text, uint8_t *data,
                                 size_t *data_bytes, sl_value *values) {
  static const char *const components[] = {"http", "grpc", "db"};
  uint64_t h = sb_mix(batch * 1000003ull + e + 1);
  int64_t ts_ms = SB_BASE_MS + (int64_t)(sb_mix(batch) % (2 * SB_DAY_MS)) + (int64_t)(e % 3) * (SB_DAY_MS / 2) + e;
  for (size_t t = 0; t < tags->count; t++) {
    values[t] = sl_value_null();
  }
  snprintf(text->service, sizeof text->service, "svc-%u", (unsigned)(h % 5));
  snprintf(text->instance, sizeof text->instance, "inst-%u", (unsigned)((h >> 8) % 3));
  snprintf(text->trace, sizeof text->trace, "batch-%llx", (unsigned long long)batch);
  snprintf(text->span, sizeof text->span, "b%llx-e%u", (unsigned long long)batch, e);
  snprintf(text->parent, sizeof text->parent, "b%llx-e0", (unsigned long long)batch);
  snprintf(text->operation, sizeof text->operation, "op-%u", (unsigned)((h >> 40) % 16));
  values[tags->service] = sl_value_str(text->service, strlen(text->service));
  values[tags->instance] = sl_value_str(text->instance, strlen(text->instance));
  values[tags->trace] = sl_value_str(text->trace, strlen(text->trace));
  values[tags->start] = sl_value_int(ts_ms);
  values[tags->latency] = sl_value_int((int64_t)((h >> 16) % 5000));
  values[tags->error] = sl_value_int((int64_t)((h >> 32) % 2));
  values[tags->span] = sl_value_str(text->span, strlen(text->span));
  if (e > 0) {
    values[tags->parent] = sl_value_str(text->parent, strlen(text->parent));
  }
  values[tags->operation] = sl_value_str(text->operation, strlen(text->operation));
  if ((h >> 50) % 4 != 0) {
    const char *component = components[(h >> 52) % 3];
    values[tags->component] = sl_value_str(component, strlen(component));
  }
  *data_bytes = sb_data_bytes(h);
  sb_data_fill(h, data, *data_bytes);
  values[tags->data] = sl_value_binary(data, *data_bytes);
  return ts_ms * 1000000;
}

typedef struct sb_batch {
  sl_arena *arena;
  sl_element *elements;
  size_t count;
} sb_batch;

static inline bool sb_batch_make(const sb_tags *tags, uint64_t batch, sb_batch *out) {
  memset(out, 0, sizeof *out);
  out->arena = sl_arena_new(64 * 1024);
  if (out->arena == NULL) {
    return false;
  }
  out->count = sb_element_count(batch);
  out->elements = sl_arena_alloc(out->arena, out->count * sizeof *out->elements);
  if (out->elements == NULL) {
    return false;
  }
  for (uint32_t e = 0; e < out->count; e++) {
    sb_element_text *text = sl_arena_alloc(out->arena, sizeof *text);
    uint8_t *data = sl_arena_alloc(out->arena, 5000);
    sl_value *values = sl_arena_alloc(out->arena, tags->count * sizeof *values);
    if (text == NULL || data == NULL || values == NULL) {
      return false;
    }
    size_t data_bytes = 0;
    int64_t ts = sb_element(tags, batch, e, text, data, &data_bytes, values);
    out->elements[e] = (sl_element){.timestamp_ns = ts, .data = {.data = text->span, .size_bytes = strlen(text->span)},
                                    .values = values};
  }
  return true;
}

static inline void sb_batch_free(sb_batch *batch) {
  sl_arena_free(batch->arena);
  memset(batch, 0, sizeof *batch);
}

/* ---- what a store holds ---- */

typedef struct sb_seen {
  uint64_t batch;
  uint32_t element;
} sb_seen;

typedef struct sb_scan {
  const sb_tags *tags;
  sb_seen *rows;
  size_t count;
  size_t capacity;
  char problem[SB_MESSAGE_BYTES];
} sb_scan;

static inline bool sb_value_same(const sl_value *a, const sl_value *b) {
  if (a->kind != b->kind) {
    return false;
  }
  switch (a->kind) {
    case SL_VALUE_NULL: return true;
    case SL_VALUE_INT:
    case SL_VALUE_TIMESTAMP: return a->as.int_value == b->as.int_value;
    case SL_VALUE_STR:
    case SL_VALUE_BINARY:
      return a->as.str.size_bytes == b->as.str.size_bytes &&
             (a->as.str.size_bytes == 0 || memcmp(a->as.str.data, b->as.str.data, a->as.str.size_bytes) == 0);
    default: return false;
  }
}

/* Checks one row against the element it names; false with scan->problem set if it differs. */
static inline bool sb_check_row(sb_scan *scan, int64_t timestamp_ns, const sl_value *tags, uint64_t *batch_out,
                                uint32_t *element_out) {
  const sl_value *span = &tags[scan->tags->span];
  char text[64];
  if (span->kind != SL_VALUE_STR || span->as.str.size_bytes >= sizeof text) {
    snprintf(scan->problem, sizeof scan->problem, "a row without a spanId");
    return false;
  }
  memcpy(text, span->as.str.data, span->as.str.size_bytes);
  text[span->as.str.size_bytes] = '\0';
  /* "b<batch hex>-e<element>" */
  char *end = NULL;
  unsigned long long batch = text[0] == 'b' ? strtoull(text + 1, &end, 16) : 0;
  bool named = end != NULL && end != text + 1 && end[0] == '-' && end[1] == 'e';
  char *last = NULL;
  unsigned long element = named ? strtoul(end + 2, &last, 10) : 0;
  named = named && last != end + 2 && *last == '\0';
  if (!named || element >= sb_element_count(batch)) {
    snprintf(scan->problem, sizeof scan->problem, "row with spanId %s names no element", text);
    return false;
  }
  sb_element_text expected_text;
  uint8_t data[5000];
  size_t data_bytes = 0;
  sl_value expected[SB_MAX_TAGS];
  int64_t ts = sb_element(scan->tags, batch, (uint32_t)element, &expected_text, data, &data_bytes, expected);
  if (ts != timestamp_ns) {
    snprintf(scan->problem, sizeof scan->problem, "element %s: timestamp %lld, written %lld", text,
             (long long)timestamp_ns, (long long)ts);
    return false;
  }
  for (size_t t = 0; t < scan->tags->count; t++) {
    if (!sb_value_same(&tags[t], &expected[t])) {
      snprintf(scan->problem, sizeof scan->problem, "element %s: tag %zu differs from the one written", text, t);
      return false;
    }
  }
  *batch_out = batch;
  *element_out = (uint32_t)element;
  return true;
}

static inline sl_status sb_visit(void *context, int64_t timestamp_ns, const sl_value *tags, sl_error *err) {
  sb_scan *scan = context;
  uint64_t batch = 0;
  uint32_t element = 0;
  if (!sb_check_row(scan, timestamp_ns, tags, &batch, &element)) {
    return sl_error_set(err, SL_ERR_INTERNAL, "%s", scan->problem);
  }
  if (scan->count == scan->capacity) {
    scan->capacity = scan->capacity == 0 ? 4096 : scan->capacity * 2;
    sb_seen *grown = realloc(scan->rows, scan->capacity * sizeof *grown);
    if (grown == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    scan->rows = grown;
  }
  scan->rows[scan->count++] = (sb_seen){batch, element};
  return SL_OK;
}

static inline int sb_compare_seen(const void *a, const void *b) {
  const sb_seen *x = a, *y = b;
  if (x->batch != y->batch) {
    return x->batch < y->batch ? -1 : 1;
  }
  return x->element < y->element ? -1 : x->element > y->element;
}

static inline int sb_compare_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Scans the engine; *present gets the batches found (sorted, malloc'ed).  False with message set
 * when a row is wrong, a batch is partial or an element appears twice. */
static inline bool sb_collect(sl_stream_engine *engine, const sb_tags *tags, uint64_t **present, size_t *present_count,
                              char *message, size_t message_bytes) {
  sb_scan scan = {.tags = tags};
  sl_error err;
  *present = NULL;
  *present_count = 0;
  if (sl_stream_engine_scan(engine, sb_visit, &scan, &err) != SL_OK) {
    snprintf(message, message_bytes, "scan: %.900s", err.message);
    free(scan.rows);
    return false;
  }
  if (scan.count > 0) {
    qsort(scan.rows, scan.count, sizeof *scan.rows, sb_compare_seen);
  }
  uint64_t *batches = malloc((scan.count + 1) * sizeof *batches);
  if (batches == NULL) {
    abort();
  }
  size_t count = 0;
  bool ok = true;
  for (size_t i = 0; i < scan.count && ok;) {
    uint64_t batch = scan.rows[i].batch;
    uint32_t expected = sb_element_count(batch);
    uint32_t next = 0;
    for (; i < scan.count && scan.rows[i].batch == batch; i++) {
      if (scan.rows[i].element != next) {
        snprintf(message, message_bytes, "batch %llx: element %u %s", (unsigned long long)batch, scan.rows[i].element,
                 scan.rows[i].element < next ? "stored twice" : "present while an earlier one is missing");
        ok = false;
        break;
      }
      next++;
    }
    if (ok && next != expected) {
      snprintf(message, message_bytes, "batch %llx is partial: %u of its %u elements", (unsigned long long)batch, next,
               expected);
      ok = false;
    }
    batches[count++] = batch;
  }
  free(scan.rows);
  if (!ok) {
    free(batches);
    return false;
  }
  *present = batches;
  *present_count = count;
  return true;
}

static inline bool sb_contains(const uint64_t *sorted, size_t count, uint64_t value) {
  return count > 0 && bsearch(&value, sorted, count, sizeof value, sb_compare_u64) != NULL;
}

#endif
