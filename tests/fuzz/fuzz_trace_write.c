/* fuzz_trace_write.c: the Trace engine's write path on arbitrary WAL payloads (what its WAL
 * replay reads back): the bytes are decoded as a batch of spans of the seed trace schema, then
 * written.  Every outcome is a status, never a crash: a batch the decoder takes is either refused
 * as invalid input (naming the span and tag) or stored; a stored batch's first trace is then found
 * by a trace-id query and the store scans.  The store is renewed every 512 batches. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/arena.h"
#include "spanlab/catalog.h"
#include "spanlab/query.h"
#include "storage/elements.h"
#include "trace/trace.h"

static sl_catalog *catalog;
static sl_trace_engine *engine;
static unsigned batches;
static char dir[256];

static sl_status count_span(void *context, int64_t timestamp_ns, const sl_value *tags, sl_error *err) {
  (void)timestamp_ns;
  (void)tags;
  (void)err;
  (*(uint64_t *)context)++;
  return SL_OK;
}

static void renew(void) {
  sl_error err;
  if (engine != NULL) {
    sl_trace_engine_close(engine, false, &err);
    engine = NULL;
  }
  char command[400];
  snprintf(command, sizeof command, "rm -rf '%s'", dir);
  if (system(command) != 0) {
    abort();
  }
  sl_engine_options options;
  sl_engine_options_default(&options);
  options.catalog = catalog;
  options.directory = dir;
  options.background = false;
  options.wal_enabled = false;
  options.memory_bytes_limit = 8 << 20;
  if (sl_trace_engine_open(&options, &engine, &err) != SL_OK) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (catalog == NULL) {
    sl_diag *problems = sl_diag_new();
    if (sl_catalog_load_dir(SPANLAB_FUZZ_SOURCE_DIR "/schemas/stream-vs-trace", NULL, &catalog, problems) != SL_OK) {
      abort();
    }
    sl_diag_free(problems);
    snprintf(dir, sizeof dir, "/tmp/spanlab-fuzz-trace-%d", (int)getpid());
  }
  if (engine == NULL || ++batches % 512 == 0) {
    renew();
  }
  const sl_trace_schema *schema = sl_trace_engine_schema(engine);
  sl_arena *arena = sl_arena_new(4096);
  sl_element *spans = NULL;
  size_t count = 0;
  sl_error err;
  if (arena == NULL || sl_elements_decode(data, size, schema->tag_count, arena, &spans, &count, &err) != SL_OK ||
      count == 0) {
    sl_arena_free(arena);
    return 0;
  }
  sl_status status = sl_trace_engine_write(engine, spans, count, &err);
  if (status != SL_OK && status != SL_ERR_INVALID) {
    abort(); /* a batch is stored or refused as bad input, nothing else */
  }
  if (status == SL_OK) {
    /* The first span's trace, asked for by id when the id can be written in JSON as is. */
    const sl_value *id = &spans[0].values[sl_trace_find_tag(schema, schema->trace_id_tag)->tag_index];
    bool plain = id->as.str.size_bytes <= 200;
    for (size_t i = 0; i < id->as.str.size_bytes && plain; i++) {
      char c = id->as.str.data[i];
      plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
    }
    sl_trace_stats stats;
    sl_trace_engine_stats(engine, &stats);
    char request[1024];
    snprintf(request, sizeof request,
             "{\"groups\":[\"trace_performance_test\"],\"name\":\"segment_trace\",\"criteria\":{\"condition\":"
             "{\"name\":\"traceId\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"%.*s\"}}}}}",
             plain ? (int)id->as.str.size_bytes : 4, plain ? id->as.str.data : "none");
    sl_query *query = NULL;
    if (sl_query_parse(catalog, SL_QUERY_TRACE, request, strlen(request), &query, &err) != SL_OK) {
      abort();
    }
    sl_trace_answer answer;
    if (sl_trace_engine_query(engine, query, NULL, 0, &answer, &err) != SL_OK) {
      abort();
    }
    if (plain && stats.spans_expired == 0 && answer.result.trace_count != 1) {
      abort(); /* a stored trace is found by its id */
    }
    sl_trace_answer_free(&answer);
    sl_query_free(query);
    uint64_t stored = 0;
    if (sl_trace_engine_scan(engine, count_span, &stored, &err) != SL_OK || (stats.spans_expired == 0 && stored < count)) {
      abort();
    }
  }
  sl_arena_free(arena);
  return 0;
}
