/*
 * engine.h: what the Stream and Trace engines share above the store: their
 * open options, the store.json that pins what a store directory holds, and
 * the per-query statistics both report (docs/FORMAT.md "Store directory").
 */
#ifndef SPANLAB_STORAGE_ENGINE_H
#define SPANLAB_STORAGE_ENGINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spanlab/catalog.h"
#include "spanlab/error.h"
#include "storage/elements.h"
#include "storage/part.h"
#include "storage/tsdb.h"
#include "storage/wal.h"

typedef struct sl_engine_options {
  const sl_catalog *catalog;  /* must outlive the engine */
  const char *group;          /* NULL: the first group with a subject of the engine's model */
  const char *name;           /* NULL: that group's first subject */
  const char *directory;
  bool wal_enabled;           /* default true */
  sl_wal_sync_mode sync_mode; /* default batch */
  uint32_t sync_interval_ms;
  uint64_t memory_bytes_limit; /* memory parts flushed past this (default 64 MiB) */
  uint32_t flush_interval_ms;  /* ... or this old (default 1000, BanyanDB's flush timeout) */
  sl_retention_clock retention_clock;
  bool background;            /* default true */
} sl_engine_options;

void sl_engine_options_default(sl_engine_options *options);

/* What one query did, for index-utilisation figures. */
typedef struct sl_query_stats {
  uint64_t parts_considered;
  uint64_t parts_skipped;     /* by time range, series or bloom filter */
  uint64_t blocks_considered;
  uint64_t blocks_read;
  uint64_t blocks_skipped;
  uint64_t postings_read;
  uint64_t rows_examined;
  uint64_t rows_returned;
  uint64_t traces_returned;
  uint64_t bytes_read;
  uint64_t bytes_decompressed;
  uint64_t cache_hits;        /* block metadata chunks found in memory */
  uint64_t cache_misses;
  uint64_t bloom_checks;
  uint64_t bloom_negatives;
  uint64_t sidx_rows_scanned;
} sl_query_stats;

void sl_query_stats_add_read(sl_query_stats *stats, const sl_read_stats *read);

/* store.json: written when the store is created, compared when it reopens.
 * description is the engine's JSON text of what it holds (model, group,
 * subject, shards, intervals, tags, rules). */
sl_status sl_engine_store_meta(const char *directory, const char *description, sl_error *err);
/* Reads the store.json at path (a regular file of at most 1 MiB) into *out (the caller's); a
 * parse error names path:LINE:COL. */
sl_status sl_engine_read_store_meta(const char *path, json_t **out, sl_error *err);
/* What shows directory holds an engine store's files ("wal/", a store snapshot, a segment), or NULL
 * when it holds none: with no store.json beside them, store.json was lost (it is written first). */
const char *sl_engine_store_files_held(const char *directory);
/* The group of a subject (model "stream" or "trace", for the messages), if a store can hold it:
 * found, with 1..SL_TSDB_MAX_SHARDS shards and a segment interval. */
sl_status sl_engine_find_group(const sl_catalog *catalog, const char *model, const char *subject, const char *group,
                               const sl_group **out, sl_error *err);
/* The index rules bound to a subject, as the query module binds them: the
 * bindings valid now, else (none valid now) those of the first binding.
 * Returns how many (at most max_rules written). */
size_t sl_engine_bound_rules(const sl_catalog *catalog, sl_catalog_kind kind, const char *group, const char *name,
                             const sl_index_rule **rules, size_t max_rules);

/* ---- tag values, shared by both engines ---- */

/* The column type that stores a tag type (ints and timestamps int64, strings string, the rest binary). */
sl_column_type sl_engine_column_type(sl_tag_type type);
/* Whether a written value suits its tag (null always does; ints for timestamps, strings for binary). */
bool sl_engine_value_fits(sl_tag_type type, sl_value_kind kind);
/* "a string", "an int", ... for messages. */
const char *sl_engine_kind_name(sl_value_kind kind);
/* One stored value of a tag of type `type` from a decoded column (arrays decoded into arena). */
sl_status sl_engine_column_value(sl_tag_type type, const sl_column_view *view, size_t row, sl_arena *arena,
                                 sl_value *out, sl_error *err);
/* Copies a value's bytes (strings, binary, arrays) into arena, so it outlives the column it came from. */
sl_status sl_engine_copy_value(sl_arena *arena, sl_value *value, sl_error *err);
/* The values of a series entry (kind byte + bytes each, series.h) as tag values. */
void sl_engine_series_values(const sl_series_entry *entry, size_t count, sl_value *out);

/* Adds each tag's "tag_type" to its entry of storage_json's "by_tag" (sl_tsdb_storage_json). */
struct json_t;
void sl_engine_annotate_tag_types(struct json_t *storage_json, const sl_tag_spec *tags, size_t tag_count);

#endif
