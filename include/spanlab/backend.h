/*
 * spanlab/backend.h: one interface over every store the benchmarks compare:
 * the embedded Stream and Trace engines, and the baselines (SQLite, ...).
 *
 * A backend stores the seed's spans (include/spanlab/span.h) in the shape of
 * one model of the catalog (the stream subject or the trace subject) and
 * answers BanyanDB QueryRequests.  A backend that cannot answer a query class
 * returns SL_ERR_UNSUPPORTED, which the runner records as unsupported, never
 * as zero.
 *
 * Ownership: sl_backend_open copies what it needs from options except the
 * catalog, which must outlive the backend.  Spans passed to write are read
 * during the call only.  One backend may be written by many threads at once
 * when its `concurrent_writes` capability says so; otherwise the caller
 * serialises writes.
 */
#ifndef SPANLAB_BACKEND_H
#define SPANLAB_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "spanlab/catalog.h"
#include "spanlab/error.h"
#include "spanlab/span.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sl_sync_mode {
  SL_SYNC_NONE = 0, /* acknowledged once written to the OS */
  SL_SYNC_BATCH,    /* acknowledged after fsync; concurrent writers share fsyncs (default) */
  SL_SYNC_INTERVAL, /* written at once, fsynced every sync_interval_ms */
  SL_SYNC_OFF       /* engines: no write-ahead log, acknowledged once in memory and lost on a crash until
                       flushed (BanyanDB's own behaviour); SQLite has no such mode and runs as with NONE */
} sl_sync_mode;

typedef enum sl_model_shape {
  SL_SHAPE_STREAM = 0, /* the catalog's stream subject: one row per span, entity + inverted indexes */
  SL_SHAPE_TRACE       /* the catalog's trace subject: spans grouped by trace id, composite indexes */
} sl_model_shape;

typedef struct sl_backend_options {
  const sl_catalog *catalog;
  const char *group;       /* subject's group; NULL: the first group of the shape's catalog */
  const char *subject;     /* stream or trace name; NULL: the group's first subject */
  const char *directory;   /* created if absent */
  sl_model_shape shape;    /* which subject a baseline is shaped like */
  sl_sync_mode sync_mode;
  uint32_t sync_interval_ms;
  uint64_t memory_bytes_limit; /* engines: memory parts flushed past this; 0 = default (64 MiB) */
} sl_backend_options;

typedef struct sl_backend_capabilities {
  bool concurrent_writes;
  bool trace_queries;    /* trace QueryRequests (whole traces) */
  bool stream_queries;   /* stream QueryRequests (elements) */
} sl_backend_capabilities;

typedef struct sl_backend sl_backend;

/* Kinds: "stream" and "trace" (the embedded engines), "sqlite", "null"
 * (stores nothing: measures the harness).  Creates or reopens the store. */
sl_status sl_backend_open(const char *kind, const sl_backend_options *options, sl_backend **out,
                          sl_error *err);

/* Names of every kind this build offers, NULL-terminated. */
const char *const *sl_backend_kinds(void);

const char *sl_backend_kind(const sl_backend *backend);
sl_backend_capabilities sl_backend_capabilities_of(const sl_backend *backend);

/* Stores count spans; returns once they are durable per the sync mode. */
sl_status sl_backend_write(sl_backend *backend, const sl_span *spans, size_t count, sl_error *err);

/* Makes everything written visible and durable, and brings the store to its
 * query-ready state (a baseline runs ANALYZE here). */
sl_status sl_backend_flush(sl_backend *backend, sl_error *err);

/* Brings the store to its final, fully merged state (engines: flush, merge
 * every table's parts into one, empty the WAL; SQLite: VACUUM).
 * SL_ERR_UNSUPPORTED when the backend has no such step. */
sl_status sl_backend_compact(sl_backend *backend, sl_error *err);

/* Number of spans stored, and the order-independent checksum over them
 * (wrapping sum of sl_span_digest over the spans), to compare with a generator manifest. */
sl_status sl_backend_count(sl_backend *backend, uint64_t *span_count, uint64_t *checksum,
                           sl_error *err);

struct sl_query;

/* A query's logical answer: the returned spans in order, each as the XXH64 of
 * "traceId\0spanId" (sl_span_key), so any backend can be compared with the
 * oracle.  Trace model: each trace's spans together, trace after trace.  As in
 * BanyanDB, the order among equal sort keys is free, and at the limit any of
 * the tied elements or traces may be the ones returned (docs/QUERIES.md "How
 * answers are compared").  Owned by the caller: sl_backend_answer_free. */
/* What the store did to answer (embedded engines; valid false otherwise). */
typedef struct sl_backend_query_stats {
  bool valid;
  uint64_t blocks_read;
  uint64_t blocks_skipped;
  uint64_t postings_read;
  uint64_t rows_examined;
  uint64_t rows_returned;
  uint64_t bytes_decompressed;
  uint64_t cache_hits;
  uint64_t cache_misses;
  uint64_t bloom_checks;
  uint64_t bloom_negatives;
  uint64_t sidx_rows_scanned;
} sl_backend_query_stats;

typedef struct sl_backend_answer {
  uint64_t *span_keys;
  size_t span_count;
  sl_backend_query_stats stats;
} sl_backend_answer;

uint64_t sl_span_key(sl_bytes trace_id, sl_bytes span_id);
void sl_backend_answer_free(sl_backend_answer *answer);

/* Answers a QueryRequest bound to the backend's catalog.  SL_ERR_UNSUPPORTED
 * (with the reason) when this backend cannot answer that query. */
sl_status sl_backend_query(sl_backend *backend, const struct sl_query *query, sl_backend_answer *answer,
                           sl_error *err);

/* Answers a QueryRequest and prints BanyanDB's QueryResponse protojson to
 * out (the embedded engines; SL_ERR_UNSUPPORTED for baselines). */
sl_status sl_backend_print_query(sl_backend *backend, const struct sl_query *query, FILE *out, sl_error *err);

/* Drops the store's caches and advises its files out of the OS page cache, so
 * the next query runs cold.  SL_ERR_UNSUPPORTED when the backend cannot. */
sl_status sl_backend_drop_caches(sl_backend *backend, sl_error *err);

/* The store's disk use broken down (docs/RESULTS.md "storage": by_tag,
 * by_type, by_file_kind, shards, merges ...) as JSON text in *json_out, which
 * the caller frees.  SL_ERR_UNSUPPORTED when the backend cannot tell. */
sl_status sl_backend_storage_json(sl_backend *backend, char **json_out, sl_error *err);

/* Waits for the store's background work on its files, so that what is on disk is what it keeps
 * (the engines delete the WAL segments a flush gave up on a thread of their own). SL_OK at once
 * for a backend without such work. */
sl_status sl_backend_settle(sl_backend *backend, sl_error *err);

/* Bytes on disk under the backend's directory (after sl_backend_settle, what the store keeps). */
uint64_t sl_backend_disk_bytes(const sl_backend *backend);
/* Whether directory holds the SQLite baseline's store (for messages to a user who gave it where an
 * engine's store is wanted). */
bool sl_backend_holds_sqlite_store(const char *directory);
/* Spans this handle's writes dropped because their segment was already past the TTL (0 for a
 * backend without one). */
uint64_t sl_backend_expired_spans(const sl_backend *backend);

void sl_backend_close(sl_backend *backend);

#ifdef __cplusplus
}
#endif

#endif /* SPANLAB_BACKEND_H */
