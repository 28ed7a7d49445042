/* null.c: a backend that stores nothing and answers every query with nothing.
 * It measures the harness itself: time the runner spends around a backend
 * that costs (almost) nothing (issue #7: harness overhead at most 5%). */
#include <stdlib.h>

#include "backends/backend_internal.h"

typedef struct null_state {
  uint64_t spans;
  uint64_t checksum;
} null_state;

static sl_status null_open(const sl_backend_options *options, void **state, sl_error *err) {
  (void)options;
  *state = calloc(1, sizeof(null_state));
  return *state != NULL ? SL_OK : sl_error_set(err, SL_ERR_NOMEM, "null backend: out of memory");
}

/* Counts and digests what it is given, so the consistency check still holds. */
static sl_status null_write(void *opaque, const sl_span *spans, size_t count, sl_error *err) {
  (void)err;
  null_state *state = opaque;
  for (size_t i = 0; i < count; i++) {
    state->checksum += sl_span_digest(&spans[i]);
  }
  state->spans += count;
  return SL_OK;
}

static sl_status null_flush(void *opaque, sl_error *err) {
  (void)opaque;
  (void)err;
  return SL_OK;
}

static sl_status null_count(void *opaque, uint64_t *span_count, uint64_t *checksum, sl_error *err) {
  (void)err;
  null_state *state = opaque;
  *span_count = state->spans;
  *checksum = state->checksum;
  return SL_OK;
}

static sl_status null_query(void *opaque, const struct sl_query *query, sl_backend_answer *answer, sl_error *err) {
  (void)opaque;
  (void)query;
  (void)answer;
  return sl_error_set(err, SL_ERR_UNSUPPORTED, "the null backend answers no queries (it measures the harness)");
}

static void null_close(void *opaque) { free(opaque); }

const sl_backend_vtable sl_null_backend = {
    .kind = "null",
    .capabilities = {.concurrent_writes = false, .trace_queries = false, .stream_queries = false},
    .open = null_open,
    .write = null_write,
    .flush = null_flush,
    .count = null_count,
    .query = null_query,
    .close = null_close,
};
