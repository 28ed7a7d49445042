/*
 * tsdb.h: the time-series store both engines sit on (docs/FORMAT.md "Store
 * directory"): segments of segment_interval, each with shard_count shards,
 * each shard with one table per table kind (the main table; the trace
 * model's secondary indexes), one WAL for the whole store, background flush
 * (memory parts to file parts, by size and age), size-tiered merges, TTL
 * expiry of whole segments, snapshots and recovery.
 *
 * The engine routes and builds: for a write batch it hands the batch's WAL
 * payload to sl_tsdb_write with a build callback that computes each row's
 * segment (sl_tsdb_segment_start), shard and table kind and builds one memory
 * part per target (sl_part_build_memory); the callback runs while the WAL
 * writes the record.  On reopen the store replays the WAL
 * through the engine's replay callback, which builds the same targets again.
 *
 * Durability: sl_tsdb_write returns once the payload is in the WAL under the
 * sync mode; the batch becomes visible to readers atomically (all its
 * targets at once), and batches become visible in WAL order.
 *
 * Table kind 0 holds the rows whose timestamps (ns, the layout's timestamp
 * column) drive retention; other kinds (secondary indexes) may sort by
 * anything.
 *
 * Ownership and threads: the store owns its tables and parts.  Any number of
 * threads may write and acquire views at once.  A view holds references to
 * the parts it lists until sl_tsdb_release.  Targets a build callback returns
 * give their part references to the store (also on failure).
 */
#ifndef SPANLAB_STORAGE_TSDB_H
#define SPANLAB_STORAGE_TSDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spanlab/error.h"
#include "storage/merge.h"
#include "storage/part.h"
#include "storage/wal.h"

enum { SL_TSDB_MAX_KINDS = 16, SL_TSDB_MAX_SHARDS = 256 };

typedef enum sl_retention_clock {
  SL_RETENTION_DATA = 0, /* now = the newest timestamp written (default: generated data of any date) */
  SL_RETENTION_WALL = 1  /* now = the wall clock, as BanyanDB */
} sl_retention_clock;

typedef struct sl_tsdb_target {
  int64_t segment_start_ms;
  uint32_t shard;
  uint32_t kind;
  sl_part *part; /* a memory part; its reference passes to the store */
} sl_tsdb_target;

typedef struct sl_tsdb sl_tsdb;

/* Rebuilds the targets of one WAL record (as the write that logged it did).
 * *targets is malloc'ed by the callback (the store frees it).  db is the store
 * being opened: sl_tsdb_open has not returned it yet, and routing needs it
 * (segment starts, expiry, part ids). */
typedef sl_status (*sl_tsdb_replay_fn)(void *context, sl_tsdb *db, uint64_t sequence, const uint8_t *payload,
                                       size_t payload_bytes, sl_tsdb_target **targets, size_t *target_count,
                                       sl_error *err);

typedef struct sl_tsdb_options {
  const char *directory;
  uint32_t shard_count;
  int64_t segment_interval_ms;
  int64_t ttl_ms;                    /* 0: keep forever */
  sl_retention_clock retention_clock;
  uint32_t kind_count;
  sl_part_layout layouts[SL_TSDB_MAX_KINDS];
  char kind_dirs[SL_TSDB_MAX_KINDS][SL_PART_NAME_BYTES]; /* "" for the shard directory itself */
  bool wal_enabled;                  /* default true; false = BanyanDB's behaviour (no WAL) */
  sl_wal_sync_mode sync_mode;
  uint32_t sync_interval_ms;
  uint64_t wal_segment_bytes;        /* WAL segment size (default 64 MiB: docs/FORMAT.md "Rotation") */
  uint64_t memory_bytes_limit;       /* flush when memory parts hold this much (default 64 MiB) */
  uint32_t flush_interval_ms;        /* ... or when the oldest memory part is this old (default 1000) */
  uint32_t max_memory_parts;         /* per table, compacted in memory beyond (default 16) */
  uint32_t max_file_parts;           /* per table, forced merge of the smallest beyond (default 64) */
  sl_merge_policy merge_policy;
  bool background;                   /* flusher and merger threads (default true) */
  sl_tsdb_replay_fn replay;
  void *replay_context;
} sl_tsdb_options;

typedef struct sl_tsdb_stats {
  uint64_t batches;            /* acknowledged writes */
  uint64_t memory_parts;       /* memory parts now */
  uint64_t memory_bytes;       /* bytes they hold */
  uint64_t file_parts;         /* file parts now */
  uint64_t file_bytes;         /* their bytes on disk */
  uint64_t rows;               /* rows in all parts now */
  uint64_t flushes;            /* memory parts flushed to file parts (tables) */
  uint64_t flush_bytes;        /* bytes written by flushes */
  uint64_t flush_compress_ns;  /* zstd time in flushes */
  uint64_t heap_trims;         /* times a flush gave glibc's free heap back to the system (malloc_trim) */
  uint64_t merge_compress_ns;  /* zstd time in merges */
  uint64_t memory_compactions;
  uint64_t merges;
  uint64_t merge_bytes_in;     /* bytes read by merges */
  uint64_t merge_bytes_out;    /* bytes rewritten by merges */
  uint64_t blocks_copied;      /* by merges, without decoding */
  uint64_t blocks_rewritten;
  uint64_t segments;
  uint64_t segments_expired;
  uint64_t replayed_records;
  uint64_t write_stalls;       /* writers that waited for a flush (memory over twice the limit) */
  uint64_t write_stall_ns;     /* the time they waited */
  uint64_t write_build_ns;     /* acknowledged writes: building their memory parts (the WAL record
                                  is written meanwhile) */
  uint64_t write_log_wait_ns;  /* ... then waiting for their WAL record to be durable */
  uint64_t wal_bytes;          /* bytes in the WAL directory */
  sl_wal_stats wal;
} sl_tsdb_stats;


void sl_tsdb_options_default(sl_tsdb_options *options);

/* Opens or creates the store, recovers (table snapshots, WAL replay through
 * options->replay), removes expired segments and parts no snapshot lists. */
sl_status sl_tsdb_open(const sl_tsdb_options *options, sl_tsdb **out, sl_error *err);
/* Flushes memory parts (when flush is true), stops threads, frees. */
sl_status sl_tsdb_close(sl_tsdb *db, bool flush, sl_error *err);

/* Start of the segment holding a timestamp. */
int64_t sl_tsdb_segment_start(const sl_tsdb *db, int64_t timestamp_ms);
/* Whether a segment is already past its TTL (rows for it are dropped). */
bool sl_tsdb_segment_expired(sl_tsdb *db, int64_t segment_start_ms);
uint64_t sl_tsdb_next_part_id(sl_tsdb *db);
uint32_t sl_tsdb_shard_count(const sl_tsdb *db);

/* Builds a batch's memory parts: on SL_OK *targets (malloc'd, given to the store with their part
 * references) holds *count targets; may be empty. */
typedef sl_status (*sl_tsdb_build_fn)(void *context, sl_tsdb_target **targets, size_t *count, sl_error *err);

/* Logs payload and, while the WAL writes it, calls build; once the record is durable makes the
 * targets visible.  A batch whose rows all expired is still logged and acknowledged.  When build
 * fails after the record is durable, the store refuses further writes (the WAL holds a batch the
 * memory does not; reopening replays it). */
sl_status sl_tsdb_write(sl_tsdb *db, const void *payload, size_t payload_bytes, sl_tsdb_build_fn build,
                        void *context, sl_error *err);
/* sl_tsdb_write of the payload pieces[0..piece_count) joined (sl_wal_submitv: borrowed until it
 * returns). */
struct iovec;
sl_status sl_tsdb_writev(sl_tsdb *db, const struct iovec *pieces, size_t piece_count, sl_tsdb_build_fn build,
                         void *context, sl_error *err);
/* Whether writes are logged (the store has a WAL): when not, the payload is not read at all. */
bool sl_tsdb_logged(const sl_tsdb *db);
/* Rows of kind 0 dropped because their segment had expired: on write (engines count them here) and
 * with a segment retention removed, since the store opened. */
void sl_tsdb_note_expired_rows(sl_tsdb *db, uint64_t rows);
uint64_t sl_tsdb_expired_rows(const sl_tsdb *db);

/* Flushes every memory part to disk and publishes snapshots (synchronously). */
sl_status sl_tsdb_flush(sl_tsdb *db, sl_error *err);
/* Flushes, then (nothing left in memory) seals the WAL segment and publishes
 * store snapshots covering everything, so the WAL holds no redundant record. */
sl_status sl_tsdb_checkpoint(sl_tsdb *db, sl_error *err);
/* Waits for the store's background deletion of files it no longer needs (the WAL segments a
 * checkpoint gave up: sl_wal_release_recycled), so that its disk holds what it keeps; the first
 * failure to delete one is returned. */
sl_status sl_tsdb_settle(sl_tsdb *db, sl_error *err);
/* Merges until the policy chooses nothing (synchronously). */
sl_status sl_tsdb_merge_all(sl_tsdb *db, bool everything, sl_error *err);
/* Applies TTL now. */
sl_status sl_tsdb_apply_retention(sl_tsdb *db, sl_error *err);
/* Drops cached metadata and advises every file out of the page cache. */
void sl_tsdb_drop_caches(sl_tsdb *db);

/* ---- reading ---- */

typedef struct sl_tsdb_table_view {
  int64_t segment_start_ms;
  int64_t segment_end_ms;
  uint32_t shard;
  uint32_t kind;
  size_t part_count;
  sl_part **parts; /* oldest first; file parts, then memory parts */
} sl_tsdb_table_view;

typedef struct sl_tsdb_view sl_tsdb_view;

/* A consistent snapshot of the tables of segments overlapping
 * [begin_ms, end_ms] (inclusive; INT64_MIN/INT64_MAX for all), of one kind
 * (or every kind when kind is UINT32_MAX). */
sl_status sl_tsdb_acquire(sl_tsdb *db, int64_t begin_ms, int64_t end_ms, uint32_t kind, sl_tsdb_view **out,
                          sl_error *err);
size_t sl_tsdb_view_count(const sl_tsdb_view *view);
const sl_tsdb_table_view *sl_tsdb_view_at(const sl_tsdb_view *view, size_t index);
void sl_tsdb_release(sl_tsdb_view *view);

void sl_tsdb_stats_get(sl_tsdb *db, sl_tsdb_stats *out);

/* The store's disk use broken down (docs/RESULTS.md "storage"): by column (per
 * table kind: kind_names[k] prefixes the columns of kinds above 0), by column
 * type, by file kind (data, index, bloom, metadata, snapshots, wal), by table,
 * shard skew, and the merge counters.  A new JSON object the caller frees
 * with json_decref; NULL when out of memory. */
struct json_t;
struct json_t *sl_tsdb_storage_json(sl_tsdb *db, const char *const *kind_names);
const char *sl_tsdb_directory(const sl_tsdb *db);

#endif
