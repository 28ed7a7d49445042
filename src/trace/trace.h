/*
 * trace.h: the embedded Trace engine, BanyanDB's trace model (docs/MODELS.md
 * "Trace model"): spans grouped by trace id (shard = XXH64(trace id) mod shards),
 * parts sorted by trace, one trace per block, a trace-id bloom filter and a
 * sparse primary index per part, and one secondary index (sidx) per bound
 * rule: rows (series = hash of the rule's leading tags, key = int64 of its
 * last tag, trace reference) sorted by (series, key) with their own parts.
 *
 * Ownership and threads: as the Stream engine (stream.h).  An answer owns its
 * rows (an array and one arena) until sl_trace_answer_free.
 */
#ifndef SPANLAB_TRACE_TRACE_H
#define SPANLAB_TRACE_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "spanlab/catalog.h"
#include "spanlab/error.h"
#include "spanlab/query.h"
#include "storage/elements.h"
#include "storage/engine.h"

typedef struct sl_trace_engine sl_trace_engine;

typedef struct sl_trace_answer {
  sl_query_row *rows;     /* the spans of the returned traces, trace by trace */
  size_t row_count;
  sl_query_result result; /* rows, trace_offsets and trace_keys as the evaluator gives them */
  sl_query_stats stats;
  sl_arena *arena;        /* owns rows and their values */
} sl_trace_answer;

typedef struct sl_trace_stats {
  sl_tsdb_stats store;
  uint64_t spans_written;
  uint64_t spans_expired;
  uint64_t raw_bytes_written;
  uint64_t bloom_lookups;         /* part bloom checks for trace ids */
  uint64_t bloom_false_positives; /* checks that said maybe for a trace the part lacks */
  uint64_t sidx_rows[SL_TSDB_MAX_KINDS];  /* [r]: rule r's sidx (table kind r + 1), rows in all its parts */
  uint64_t sidx_bytes[SL_TSDB_MAX_KINDS]; /* [r]: bytes of its file parts */
  char sidx_names[SL_TSDB_MAX_KINDS][SL_PART_NAME_BYTES];
  size_t sidx_count;
} sl_trace_stats;

/* What open checks before it touches options->directory (which may be NULL here): that the trace
 * exists, its group too, that it fits the engine's limits (tags) and that its bound rules can be
 * built (sidx); `spanlab schema check` runs it for every trace of a catalog. */
sl_status sl_trace_engine_check(const sl_engine_options *options, sl_error *err);
sl_status sl_trace_engine_open(const sl_engine_options *options, sl_trace_engine **out, sl_error *err);
sl_status sl_trace_engine_close(sl_trace_engine *engine, bool flush, sl_error *err);

const sl_trace_schema *sl_trace_engine_schema(const sl_trace_engine *engine);

/* Writes spans: element data = the span payload (may be empty), values in the
 * trace schema's tag order; the trace-id tag a non-empty string, the
 * timestamp tag positive whole milliseconds (int ms or timestamp ns).  The
 * timestamp tag places a span (segment, order); element timestamp_ns is only
 * logged.  A bad span fails the whole batch, naming the span and the tag. */
sl_status sl_trace_engine_write(sl_trace_engine *engine, const sl_element *spans, size_t count, sl_error *err);
sl_status sl_trace_engine_flush(sl_trace_engine *engine, sl_error *err);
sl_status sl_trace_engine_compact(sl_trace_engine *engine, sl_error *err);
/* sl_tsdb_settle: waits for the store's background file deletions. */
sl_status sl_trace_engine_settle(sl_trace_engine *engine, sl_error *err);
void sl_trace_engine_drop_caches(sl_trace_engine *engine);

/* Answers a trace QueryRequest: whole traces, as the evaluator returns them. */
sl_status sl_trace_engine_query(sl_trace_engine *engine, const sl_query *query, const char *const *extra_tags,
                                size_t extra_count, sl_trace_answer *answer, sl_error *err);
void sl_trace_answer_free(sl_trace_answer *answer);

/* Every stored span (timestamp = its timestamp tag in ns), for consistency checks. */
typedef sl_status (*sl_span_visit_fn)(void *context, int64_t timestamp_ns, const sl_value *tags, sl_error *err);
sl_status sl_trace_engine_scan(sl_trace_engine *engine, sl_span_visit_fn visit, void *context, sl_error *err);

void sl_trace_engine_stats(sl_trace_engine *engine, sl_trace_stats *out);
/* The storage breakdown (docs/RESULTS.md "storage") as JSON text, malloc'ed; NULL when out of memory. */
char *sl_trace_engine_storage_json(sl_trace_engine *engine);
sl_tsdb *sl_trace_engine_store(sl_trace_engine *engine);

#endif
