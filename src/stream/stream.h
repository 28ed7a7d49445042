/*
 * stream.h: the embedded Stream engine, BanyanDB's stream model (docs/MODELS.md
 * "Stream"): one row per element, series = the entity tags, shard by the
 * entity, day segments with TTL, columnar parts of one series per block, one
 * inverted index per bound rule, BanyanDB's query semantics.
 *
 * Ownership and threads: the engine borrows the catalog (it must outlive the
 * engine).  Writes and queries may run from any number of threads at once; a
 * query sees every batch acknowledged before it started and no part of a
 * batch acknowledged after.  Elements passed to write are read during the call.
 * An answer owns its rows (one arena) until sl_stream_answer_free.
 */
#ifndef SPANLAB_STREAM_STREAM_H
#define SPANLAB_STREAM_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "spanlab/catalog.h"
#include "spanlab/error.h"
#include "spanlab/query.h"
#include "storage/elements.h"
#include "storage/engine.h"

typedef struct sl_stream_engine sl_stream_engine;

typedef struct sl_stream_answer {
  sl_query_row *rows;     /* in answer order */
  size_t row_count;
  sl_query_result result; /* rows 0..row_count-1, with their sort keys */
  sl_query_stats stats;
  sl_arena *arena;        /* owns rows and their values */
} sl_stream_answer;

typedef struct sl_engine_stats {
  sl_tsdb_stats store;
  uint64_t elements_written;
  uint64_t elements_expired;   /* dropped on write: their segment was past the TTL */
  uint64_t raw_bytes_written;  /* the tag values as handed in */
  uint64_t encode_ns;          /* write time encoding the WAL payload (store.write_build_ns and
                                  store.write_log_wait_ns: the memory parts and the WAL's wait) */
} sl_engine_stats;

/* What open checks before it touches options->directory (which may be NULL here): that the stream
 * exists, its group too, and that it fits the engine's limits (tag families, stored tags, entity
 * tags); `spanlab schema check` runs it for every stream of a catalog. */
sl_status sl_stream_engine_check(const sl_engine_options *options, sl_error *err);
/* Creates or reopens the store of the stream options->name (recovers it). */
sl_status sl_stream_engine_open(const sl_engine_options *options, sl_stream_engine **out, sl_error *err);
/* Flushes when asked (close(flush=true) is what a clean shutdown does). */
sl_status sl_stream_engine_close(sl_stream_engine *engine, bool flush, sl_error *err);

const sl_stream_schema *sl_stream_engine_schema(const sl_stream_engine *engine);

/* Writes a batch: every element's timestamp in whole milliseconds and > 0,
 * values (flat schema order) of their tags' types or null.  Returns once it
 * is durable under the sync mode; a bad element fails the whole batch
 * (nothing written) with an error naming the element and tag. */
sl_status sl_stream_engine_write(sl_stream_engine *engine, const sl_element *elements, size_t count, sl_error *err);

sl_status sl_stream_engine_flush(sl_stream_engine *engine, sl_error *err);
/* Merges every table's parts into one (the storage benchmark's "final merge"). */
sl_status sl_stream_engine_compact(sl_stream_engine *engine, sl_error *err);
/* sl_tsdb_settle: waits for the store's background file deletions. */
sl_status sl_stream_engine_settle(sl_stream_engine *engine, sl_error *err);
void sl_stream_engine_drop_caches(sl_stream_engine *engine);

/* Answers a stream QueryRequest bound to this engine's stream.  Rows carry
 * the projected tags plus the extra tags named (e.g. ids the caller needs),
 * others null. */
sl_status sl_stream_engine_query(sl_stream_engine *engine, const sl_query *query, const char *const *extra_tags,
                                 size_t extra_count, sl_stream_answer *answer, sl_error *err);
void sl_stream_answer_free(sl_stream_answer *answer);

/* Calls back every stored row (all tags, flat schema order; valid during the
 * call).  For consistency checks: counts duplicates as they are stored. */
typedef sl_status (*sl_row_visit_fn)(void *context, int64_t timestamp_ns, const sl_value *tags, sl_error *err);
sl_status sl_stream_engine_scan(sl_stream_engine *engine, sl_row_visit_fn visit, void *context, sl_error *err);

void sl_stream_engine_stats(sl_stream_engine *engine, sl_engine_stats *out);
/* The storage breakdown (docs/RESULTS.md "storage") as JSON text, malloc'ed; NULL when out of memory. */
char *sl_stream_engine_storage_json(sl_stream_engine *engine);
sl_tsdb *sl_stream_engine_store(sl_stream_engine *engine);

#endif
