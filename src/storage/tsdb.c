/* tsdb.c: see tsdb.h and docs/FORMAT.md "Store directory". */
#include "storage/tsdb.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <jansson.h>

#include "common/timeutil.h"
#include "storage/fileio.h"
#include "storage/snapshot.h"

enum { PATH_BYTES = 4096, SNAPSHOTS_KEPT = 2, BACKGROUND_TICK_MS = 50, RETENTION_EVERY_MS = 1000 };

typedef struct table {
  struct segment *segment;
  uint32_t shard;
  uint32_t kind;
  char dir[PATH_BYTES];
  char parts_dir[PATH_BYTES];
  /* guarded by db->lock */
  sl_part **parts; /* oldest first: file parts, then memory parts */
  size_t part_count;
  size_t part_capacity;
  size_t memory_part_count;
  bool unpublished; /* holds file parts its last snapshot may not name (a snapshot write failed) */
  bool published;   /* a snapshot of it was written, or found at open: its directory holds rows */
  atomic_bool dirs_synced; /* ensure_dirs fsynced the parents of its directories in this process */
  /* maintenance: flushes, memory compactions, snapshot writes and the leaving lists, one at a
   * time; a merge of file parts holds merge_lock while it reads and writes (long) and takes
   * maintenance only to swap its parts in, so a flush never waits for a merge to finish. */
  pthread_mutex_t maintenance;
  pthread_mutex_t merge_lock;
  uint64_t covered;
  uint64_t epoch;
  sl_part **left_recent; /* removed since the previous snapshot: still named by it */
  size_t left_recent_count;
  sl_part **left_old;    /* removed before it: deleted at the next snapshot */
  size_t left_old_count;
} table;

/* An expired segment's directory is renamed to this prefix + its name before its files go. */
#define EXPIRED_PREFIX "expired-"

typedef struct segment {
  int64_t start_ms;
  int64_t end_ms;
  char name[32];
  char dir[PATH_BYTES];
  bool expired;
  bool published; /* a table of it has published a snapshot: its directory holds rows; guarded by lock */
  bool on_disk;   /* its directory was found at open (load_segments) */
  /* Its directory's and its shards' entries made durable in this process (ensure_dirs), so that the
   * tables sharing them fsync each parent once, not once per table. */
  atomic_bool dir_synced;
  atomic_bool shard_dir_synced[SL_TSDB_MAX_SHARDS];
  table **tables; /* shard_count * kind_count; NULL until first used */
} segment;

struct sl_tsdb {
  sl_tsdb_options options;
  char dir[PATH_BYTES];
  char wal_dir[PATH_BYTES];
  pthread_mutex_t lock;
  pthread_cond_t turn;    /* batches become visible in sequence order */
  pthread_cond_t drained; /* memory fell after a flush */
  pthread_cond_t wake;    /* background threads */
  segment **segments;     /* sorted by start */
  size_t segment_count;
  size_t segment_capacity;
  char **unnamed_parts; /* found by load_table, removed once the open's checks pass (a refused open deletes nothing) */
  size_t unnamed_part_count;
  segment **dead;         /* expired: kept until close (threads may hold their tables) */
  size_t dead_count;
  uint64_t introduced;
  uint64_t sequence_counter; /* without a WAL */
  uint64_t memory_bytes;
  uint64_t memory_parts;
  int64_t max_timestamp_ms;
  atomic_uint_fast64_t next_part_id;
  sl_wal *wal;
  uint64_t checkpoint;
  size_t heap_free_baseline_bytes; /* glibc's free heap bytes at open or after the last trim (flush_cycle) */
  uint64_t epoch;
  /* The WAL has been written since the last checkpoint that emptied it: store snapshots carry
   * SL_SNAPSHOT_WAL_IN_USE. Set by the first write under flush_lock, read without it. */
  atomic_bool wal_in_use;
  pthread_mutex_t flush_lock;
  bool stop;
  bool threads_started;
  pthread_t flusher;
  pthread_t merger;
  sl_error background_error;
  const char *background_reason; /* what failed, for the refusal message (a literal) */
  bool background_failed;
  sl_tsdb_stats stats;     /* counters; guarded by lock */
  atomic_uint_fast64_t expired_rows;
};

void sl_tsdb_options_default(sl_tsdb_options *options) {
  memset(options, 0, sizeof *options);
  options->shard_count = 1;
  options->segment_interval_ms = 24LL * 3600 * 1000;
  options->wal_enabled = true;
  options->sync_mode = SL_WAL_SYNC_BATCH;
  options->sync_interval_ms = 100;
  options->wal_segment_bytes = 64ULL << 20;
  options->memory_bytes_limit = 64ULL << 20;
  options->flush_interval_ms = 1000;
  options->max_memory_parts = 16;
  options->max_file_parts = 64;
  sl_merge_policy_default(&options->merge_policy);
  options->background = true;
}

const char *sl_tsdb_directory(const sl_tsdb *db) { return db->dir; }
uint32_t sl_tsdb_shard_count(const sl_tsdb *db) { return db->options.shard_count; }
uint64_t sl_tsdb_next_part_id(sl_tsdb *db) { return atomic_fetch_add(&db->next_part_id, 1); }
void sl_tsdb_note_expired_rows(sl_tsdb *db, uint64_t rows) { atomic_fetch_add(&db->expired_rows, rows); }
uint64_t sl_tsdb_expired_rows(const sl_tsdb *db) { return atomic_load(&((sl_tsdb *)db)->expired_rows); }

int64_t sl_tsdb_segment_start(const sl_tsdb *db, int64_t timestamp_ms) {
  int64_t interval = db->options.segment_interval_ms;
  int64_t remainder = ((timestamp_ms % interval) + interval) % interval;
  return timestamp_ms - remainder;
}

static int64_t retention_now_ms(sl_tsdb *db) {
  if (db->options.retention_clock == SL_RETENTION_WALL) {
    return sl_wall_clock_ns() / 1000000;
  }
  return db->max_timestamp_ms;
}

/* Caller holds db->lock. */
static bool expired_locked(sl_tsdb *db, int64_t segment_start_ms) {
  if (db->options.ttl_ms <= 0 || db->max_timestamp_ms == INT64_MIN) {
    return db->options.ttl_ms > 0 && db->options.retention_clock == SL_RETENTION_WALL &&
           segment_start_ms + db->options.segment_interval_ms <= sl_wall_clock_ns() / 1000000 - db->options.ttl_ms;
  }
  return segment_start_ms + db->options.segment_interval_ms <= retention_now_ms(db) - db->options.ttl_ms;
}

bool sl_tsdb_segment_expired(sl_tsdb *db, int64_t segment_start_ms) {
  pthread_mutex_lock(&db->lock);
  bool expired = expired_locked(db, segment_start_ms);
  pthread_mutex_unlock(&db->lock);
  return expired;
}

static void segment_name(const sl_tsdb *db, int64_t start_ms, char *out, size_t out_bytes) {
  int64_t days = start_ms >= 0 ? start_ms / 86400000 : -((-start_ms + 86399999) / 86400000);
  int64_t year = 0;
  unsigned month = 0, day = 0;
  sl_civil_from_days(days, &year, &month, &day);
  int hour = (int)((start_ms - days * 86400000) / 3600000);
  if (db->options.segment_interval_ms % 86400000 == 0) {
    sl_fileio_path(out, out_bytes, "seg-%04" PRId64 "%02u%02u", year, month, day);
  } else {
    sl_fileio_path(out, out_bytes, "seg-%04" PRId64 "%02u%02u%02d", year, month, day, hour);
  }
}

static bool parse_segment_name(const sl_tsdb *db, const char *name, int64_t *start_ms) {
  bool hourly = db->options.segment_interval_ms % 86400000 != 0;
  size_t digits = hourly ? 10 : 8;
  if (strncmp(name, "seg-", 4) != 0 || strlen(name) != 4 + digits) {
    return false;
  }
  int values[4] = {0};
  const int widths[4] = {4, 2, 2, 2};
  const char *at = name + 4;
  for (size_t field = 0; field < (hourly ? 4u : 3u); field++) {
    for (int k = 0; k < widths[field]; k++, at++) {
      if (*at < '0' || *at > '9') {
        return false;
      }
      values[field] = values[field] * 10 + (*at - '0');
    }
  }
  if (values[1] < 1 || values[1] > 12 || values[2] < 1 || values[2] > 31 || values[3] > 23) {
    return false;
  }
  *start_ms = sl_days_from_civil(values[0], (unsigned)values[1], (unsigned)values[2]) * 86400000 + (int64_t)values[3] * 3600000;
  return sl_tsdb_segment_start(db, *start_ms) == *start_ms;
}

/* ------------------------------------------------------------------ tables */

static size_t table_slot(const sl_tsdb *db, uint32_t shard, uint32_t kind) {
  return (size_t)shard * db->options.kind_count + kind;
}

static void table_dir(const sl_tsdb *db, const segment *seg, uint32_t shard, uint32_t kind, char *out, size_t out_bytes) {
  const char *kind_dir = db->options.kind_dirs[kind];
  if (kind_dir[0] == '\0') {
    sl_fileio_path(out, out_bytes, "%s/shard-%u", seg->dir, shard);
  } else {
    sl_fileio_path(out, out_bytes, "%s/shard-%u/%s", seg->dir, shard, kind_dir);
  }
}

static sl_status table_new(sl_tsdb *db, segment *seg, uint32_t shard, uint32_t kind, table **out, sl_error *err) {
  table *t = calloc(1, sizeof *t);
  if (t == NULL || pthread_mutex_init(&t->maintenance, NULL) != 0 || pthread_mutex_init(&t->merge_lock, NULL) != 0) {
    free(t);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  t->segment = seg;
  t->shard = shard;
  t->kind = kind;
  table_dir(db, seg, shard, kind, t->dir, sizeof t->dir);
  sl_fileio_path(t->parts_dir, sizeof t->parts_dir, "%s/parts", t->dir);
  *out = t;
  return SL_OK;
}

static void table_free(table *t) {
  if (t == NULL) {
    return;
  }
  for (size_t p = 0; p < t->part_count; p++) {
    sl_part_unref(t->parts[p]);
  }
  for (size_t p = 0; p < t->left_recent_count; p++) {
    sl_part_unref(t->left_recent[p]);
  }
  for (size_t p = 0; p < t->left_old_count; p++) {
    sl_part_unref(t->left_old[p]);
  }
  free(t->parts);
  free(t->left_recent);
  free(t->left_old);
  pthread_mutex_destroy(&t->maintenance);
  pthread_mutex_destroy(&t->merge_lock);
  free(t);
}

/* The table's directories, made if missing: its segment's, its shard's, then its own (its kind's
 * directory, if any, and parts/). Where a flag is set, those directories' parents are fsynced even
 * when they were there. */
static sl_status make_dirs(const table *t, const sl_tsdb *db, bool sync_segment, bool sync_shard, bool sync_own,
                           sl_error *err) {
  SL_TRY((sync_segment ? sl_fileio_ensure_dir_synced : sl_fileio_ensure_dir)(t->segment->dir, err));
  char shard_dir[PATH_BYTES];
  sl_fileio_path(shard_dir, sizeof shard_dir, "%s/shard-%u", t->segment->dir, t->shard);
  SL_TRY((sync_shard ? sl_fileio_ensure_dir_synced : sl_fileio_ensure_dir)(shard_dir, err));
  sl_status (*own)(const char *, sl_error *) = sync_own ? sl_fileio_ensure_dir_synced : sl_fileio_ensure_dir;
  if (db->options.kind_dirs[t->kind][0] != '\0') {
    SL_TRY(own(t->dir, err));
  }
  return own(t->parts_dir, err);
}

/* Before a table writes a part or a snapshot. Its first write in a process fsyncs the parents of its
 * directories even when they were there (made by another table's thread still on its way to that
 * fsync, or by a process killed before it), so that no part is published under an entry a power
 * loss can take; later calls only check. An open that only reads fsyncs nothing (load_table). */
static sl_status ensure_dirs(table *t, const sl_tsdb *db, sl_error *err) {
  if (atomic_load(&t->dirs_synced)) {
    return make_dirs(t, db, false, false, false, err);
  }
  segment *seg = t->segment;
  SL_TRY(make_dirs(t, db, !atomic_load(&seg->dir_synced), !atomic_load(&seg->shard_dir_synced[t->shard]), true, err));
  atomic_store(&seg->dir_synced, true);
  atomic_store(&seg->shard_dir_synced[t->shard], true);
  atomic_store(&t->dirs_synced, true);
  return SL_OK;
}

/* Caller holds db->lock. */
static sl_status table_append(table *t, sl_part *part, sl_error *err) {
  if (t->part_count == t->part_capacity) {
    size_t capacity = t->part_capacity == 0 ? 16 : t->part_capacity * 2;
    sl_part **grown = realloc(t->parts, capacity * sizeof(sl_part *));
    if (grown == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    t->parts = grown;
    t->part_capacity = capacity;
  }
  t->parts[t->part_count++] = part;
  return SL_OK;
}

static sl_status reserve_parts(table *t, size_t more, sl_error *err) {
  if (t->part_count + more <= t->part_capacity) {
    return SL_OK;
  }
  size_t capacity = t->part_capacity == 0 ? 16 : t->part_capacity;
  while (capacity < t->part_count + more) {
    capacity *= 2;
  }
  sl_part **grown = realloc(t->parts, capacity * sizeof(sl_part *));
  if (grown == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  t->parts = grown;
  t->part_capacity = capacity;
  return SL_OK;
}

/* ------------------------------------------------------------------ segments */

/* Caller holds db->lock. */
static segment *find_segment(sl_tsdb *db, int64_t start_ms) {
  size_t low = 0, high = db->segment_count;
  while (low < high) {
    size_t middle = low + (high - low) / 2;
    if (db->segments[middle]->start_ms < start_ms) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return low < db->segment_count && db->segments[low]->start_ms == start_ms ? db->segments[low] : NULL;
}

static sl_status add_segment(sl_tsdb *db, int64_t start_ms, segment **out, sl_error *err) {
  segment *seg = calloc(1, sizeof *seg);
  table **tables = calloc((size_t)db->options.shard_count * db->options.kind_count, sizeof(table *));
  if (seg == NULL || tables == NULL) {
    free(seg);
    free(tables);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  if (db->segment_count == db->segment_capacity) {
    size_t capacity = db->segment_capacity == 0 ? 8 : db->segment_capacity * 2;
    segment **grown = realloc(db->segments, capacity * sizeof(segment *));
    if (grown == NULL) {
      free(seg);
      free(tables);
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    db->segments = grown;
    db->segment_capacity = capacity;
  }
  seg->start_ms = start_ms;
  seg->end_ms = start_ms + db->options.segment_interval_ms;
  seg->tables = tables;
  segment_name(db, start_ms, seg->name, sizeof seg->name);
  sl_fileio_path(seg->dir, sizeof seg->dir, "%s/%s", db->dir, seg->name);
  size_t at = db->segment_count;
  while (at > 0 && db->segments[at - 1]->start_ms > start_ms) {
    db->segments[at] = db->segments[at - 1];
    at--;
  }
  db->segments[at] = seg;
  db->segment_count++;
  *out = seg;
  return SL_OK;
}

/* The table of a target, created (with its directories) if needed.  Caller holds db->lock. */
static sl_status ensure_table(sl_tsdb *db, int64_t start_ms, uint32_t shard, uint32_t kind, table **out, sl_error *err) {
  if (shard >= db->options.shard_count || kind >= db->options.kind_count) {
    return sl_error_set(err, SL_ERR_INTERNAL, "store: shard %u or table kind %u out of range", shard, kind);
  }
  segment *seg = find_segment(db, start_ms);
  if (seg == NULL) {
    SL_TRY(add_segment(db, start_ms, &seg, err));
  }
  table **slot = &seg->tables[table_slot(db, shard, kind)];
  if (*slot == NULL) {
    table *t = NULL;
    SL_TRY(table_new(db, seg, shard, kind, &t, err));
    *slot = t; /* its directories come with its first file (ensure_dirs) */
  }
  *out = *slot;
  return SL_OK;
}

/* ------------------------------------------------------------------ snapshots */

static void part_name(uint64_t id, char out[17]) { snprintf(out, 17, "%016" PRIx64, id); }

/* Publishes the table's file parts; caller holds t->maintenance (not db->lock). */
static sl_status write_table_snapshot(sl_tsdb *db, table *t, sl_error *err) {
  sl_snapshot snapshot = {0};
  sl_status status = SL_OK;
  pthread_mutex_lock(&db->lock);
  for (size_t p = 0; p < t->part_count && status == SL_OK; p++) {
    sl_part_info info = sl_part_info_of(t->parts[p]);
    if (!info.in_memory) {
      char name[17];
      part_name(info.id, name);
      status = sl_snapshot_add_part(&snapshot, name, info.size_bytes, err);
    }
  }
  pthread_mutex_unlock(&db->lock);
  snapshot.epoch = ++t->epoch;
  snapshot.wal_sequence = t->covered;
  snapshot.created_unix_ms = sl_wall_clock_ns() / 1000000;
  if (status == SL_OK) {
    status = ensure_dirs(t, db, err);
  }
  if (status == SL_OK) {
    status = sl_snapshot_write(t->dir, &snapshot, SNAPSHOTS_KEPT, err);
  }
  sl_snapshot_free(&snapshot);
  /* A table whose file parts changed and could not be published must be published again before
   * the store checkpoint moves past its rows (else a reopen drops the unnamed parts while the WAL
   * no longer replays their batches). */
  pthread_mutex_lock(&db->lock);
  t->unpublished = status != SL_OK;
  t->published = t->published || status == SL_OK;
  t->segment->published = t->segment->published || status == SL_OK;
  pthread_mutex_unlock(&db->lock);
  if (status != SL_OK) {
    return status;
  }
  /* Parts no kept snapshot names any more: delete once unused. */
  for (size_t p = 0; p < t->left_old_count; p++) {
    sl_part_mark_obsolete(t->left_old[p]);
    sl_part_unref(t->left_old[p]);
  }
  free(t->left_old);
  t->left_old = t->left_recent;
  t->left_old_count = t->left_recent_count;
  t->left_recent = NULL;
  t->left_recent_count = 0;
  return SL_OK;
}

static sl_status note_left(table *t, sl_part *part, sl_error *err) {
  sl_part **grown = realloc(t->left_recent, (t->left_recent_count + 1) * sizeof(sl_part *));
  if (grown == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  t->left_recent = grown;
  t->left_recent[t->left_recent_count++] = part;
  return SL_OK;
}

/* A store snapshot's segment entry carries, in its size field, which of the segment's tables have
 * published a snapshot: bit (shard * kind_count + kind), for the first 64 (docs/FORMAT.md "Store
 * directory"). Caller holds db->lock. */
static uint64_t published_tables(const sl_tsdb *db, const segment *seg) {
  uint64_t bits = 0;
  size_t slots = (size_t)db->options.shard_count * db->options.kind_count;
  for (size_t k = 0; seg->tables != NULL && k < slots && k < 64; k++) {
    if (seg->tables[k] != NULL && seg->tables[k]->published) {
      bits |= 1ULL << k;
    }
  }
  return bits;
}

static sl_status write_store_snapshot(sl_tsdb *db, uint64_t checkpoint, sl_error *err) {
  sl_snapshot snapshot = {0};
  sl_status status = SL_OK;
  pthread_mutex_lock(&db->lock);
  /* Only segments with a published table: a segment that has none yet (rows only in memory parts,
   * or a write that failed) may rightly have no directory, and an open refuses a named segment
   * that is missing (check_named_segments). */
  for (size_t s = 0; s < db->segment_count && status == SL_OK; s++) {
    if (db->segments[s]->published) {
      status = sl_snapshot_add_part(&snapshot, db->segments[s]->name, published_tables(db, db->segments[s]), err);
    }
  }
  pthread_mutex_unlock(&db->lock);
  snapshot.epoch = ++db->epoch;
  snapshot.flags = atomic_load(&db->wal_in_use) ? SL_SNAPSHOT_WAL_IN_USE : 0;
  snapshot.wal_sequence = checkpoint;
  snapshot.created_unix_ms = sl_wall_clock_ns() / 1000000;
  if (status == SL_OK) {
    status = sl_snapshot_write(db->dir, &snapshot, SNAPSHOTS_KEPT, err);
  }
  sl_snapshot_free(&snapshot);
  if (status != SL_OK) {
    return status;
  }
  db->checkpoint = checkpoint;
  if (db->wal != NULL) {
    sl_snapshot loaded = {0};
    sl_snapshot_load_result result = {0};
    sl_error ignored;
    if (sl_snapshot_load_latest(db->dir, true, &loaded, &result, &ignored) == SL_OK && result.found) {
      status = sl_wal_truncate_before(db->wal, result.oldest_kept_wal_sequence + 1, err);
    }
    sl_snapshot_free(&loaded);
  }
  return status;
}

static sl_status mark_wal_in_use(sl_tsdb *db, sl_error *err) {
  pthread_mutex_lock(&db->flush_lock);
  sl_status status = SL_OK;
  if (!atomic_load(&db->wal_in_use)) {
    atomic_store(&db->wal_in_use, true);
    status = write_store_snapshot(db, db->checkpoint, err);
    if (status != SL_OK) {
      atomic_store(&db->wal_in_use, false);
    }
  }
  pthread_mutex_unlock(&db->flush_lock);
  return status;
}

/* ------------------------------------------------------------------ flush and merge */

static table **all_tables(sl_tsdb *db, size_t *count);


static sl_status publish_part_dir(const char *tmp_dir, const char *final_dir, const char *parts_dir, sl_error *err) {
  if (rename(tmp_dir, final_dir) != 0) {
    return sl_fileio_errno_error(err, errno, "rename", tmp_dir);
  }
  return sl_fileio_fsync_dir(parts_dir, err);
}

/* Writes parts into one file part of t; *out is opened at its final path. */
static sl_status merge_to_file(sl_tsdb *db, table *t, sl_part *const *inputs, size_t count, sl_merge_stats *stats,
                               sl_part **out, sl_error *err) {
  uint64_t id = sl_tsdb_next_part_id(db);
  char name[17], tmp[PATH_BYTES], final[PATH_BYTES];
  part_name(id, name);
  sl_fileio_path(tmp, sizeof tmp, "%s/%s.tmp", t->parts_dir, name);
  sl_fileio_path(final, sizeof final, "%s/%s", t->parts_dir, name);
  sl_part *written = NULL;
  SL_TRY(ensure_dirs(t, db, err));
  SL_TRY(sl_parts_merge(inputs, count, tmp, id, stats, &written, err));
  sl_part_unref(written); /* reopened at its final path below */
  sl_status status = publish_part_dir(tmp, final, t->parts_dir, err);
  if (status == SL_OK) {
    status = sl_part_open(&db->options.layouts[t->kind], final, id, out, err);
  }
  return status;
}

/* Replaces parts old[0..count) of t by replacement (NULL: just remove).  Caller holds db->lock. */
static void replace_parts(table *t, sl_part *const *old, size_t count, sl_part *replacement) {
  size_t write = 0;
  bool inserted = replacement == NULL;
  for (size_t p = 0; p < t->part_count; p++) {
    bool removed = false;
    for (size_t k = 0; k < count && !removed; k++) {
      removed = t->parts[p] == old[k];
    }
    if (removed) {
      if (!inserted) {
        t->parts[write++] = replacement;
        inserted = true;
      }
      continue;
    }
    t->parts[write++] = t->parts[p];
  }
  assert(inserted);
  t->part_count = write;
}

/* Moves a file part before the first memory part (file parts, then memory parts). Caller holds db->lock. */
static void settle_file_part(table *t, sl_part *part) {
  size_t at = 0;
  while (at < t->part_count && t->parts[at] != part) {
    at++;
  }
  while (at > 0 && sl_part_info_of(t->parts[at - 1]).in_memory) {
    t->parts[at] = t->parts[at - 1];
    t->parts[at - 1] = part;
    at--;
  }
}

/* Flushes every memory part of t into one file part.  The parts taken are
 * exactly those with sequences up to the watermark read with them (batches
 * become visible in sequence order), so the table then covers it. */
static sl_status flush_table(sl_tsdb *db, table *t, sl_error *err) {
  pthread_mutex_lock(&t->maintenance);
  pthread_mutex_lock(&db->lock);
  uint64_t watermark = db->introduced;
  size_t count = 0;
  uint64_t bytes = 0;
  sl_part **inputs = malloc((t->memory_part_count + 1) * sizeof(sl_part *));
  for (size_t p = 0; inputs != NULL && p < t->part_count; p++) {
    sl_part_info info = sl_part_info_of(t->parts[p]);
    if (info.in_memory) {
      inputs[count++] = t->parts[p];
      sl_part_ref(t->parts[p]);
      bytes += info.size_bytes;
    }
  }
  pthread_mutex_unlock(&db->lock);
  sl_status status = inputs != NULL ? SL_OK : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  sl_part *flushed = NULL;
  sl_merge_stats stats = {0};
  if (status == SL_OK && count > 0) {
    status = merge_to_file(db, t, inputs, count, &stats, &flushed, err);
  }
  if (status == SL_OK && flushed != NULL) {
    pthread_mutex_lock(&db->lock);
    bool expired = t->segment->expired;
    if (!expired) {
      replace_parts(t, inputs, count, flushed);
      settle_file_part(t, flushed);
      t->memory_part_count -= count;
      db->memory_bytes -= bytes;
      db->memory_parts -= count;
      pthread_cond_broadcast(&db->drained); /* a stalled writer goes on as soon as a table is out */
      db->stats.flushes++;
      db->stats.flush_bytes += stats.bytes_out;
      db->stats.flush_compress_ns += stats.compress_ns;
    }
    pthread_mutex_unlock(&db->lock);
    if (expired) {
      sl_part_mark_obsolete(flushed);
      sl_part_unref(flushed);
    } else {
      for (size_t p = 0; p < count; p++) {
        sl_part_unref(inputs[p]); /* the table's reference */
      }
      t->covered = watermark > t->covered ? watermark : t->covered;
      status = write_table_snapshot(db, t, err);
    }
  }
  for (size_t p = 0; inputs != NULL && p < count; p++) {
    sl_part_unref(inputs[p]); /* ours */
  }
  free(inputs);
  pthread_mutex_unlock(&t->maintenance);
  return status;
}

/* Flushes every table that has memory parts.  Afterwards every batch up to the
 * watermark read at the start is in file parts: the store checkpoint. */
/* The tables of one flush cycle, shared by the thread that runs the cycle and one helper: tables
 * are independent (each under its maintenance lock), and flushing is compression-bound, so two
 * threads halve a cycle on two cores (the first error stops both and is the cycle's). */
typedef struct flush_work {
  sl_tsdb *db;
  table **tables;
  size_t count;
  atomic_size_t next;
  atomic_size_t flushed;
  pthread_mutex_t lock;
  sl_status status;
  sl_error error;
} flush_work;

static void flush_some(flush_work *work) {
  sl_tsdb *db = work->db;
  for (;;) {
    size_t i = atomic_fetch_add(&work->next, 1);
    pthread_mutex_lock(&work->lock);
    bool failed = work->status != SL_OK;
    pthread_mutex_unlock(&work->lock);
    if (i >= work->count || failed) {
      return;
    }
    table *t = work->tables[i];
    pthread_mutex_lock(&db->lock);
    bool has_memory = t->memory_part_count > 0;
    bool unpublished = t->unpublished;
    pthread_mutex_unlock(&db->lock);
    sl_error error;
    sl_error_clear(&error);
    sl_status status = SL_OK;
    if (has_memory) {
      status = flush_table(db, t, &error);
      atomic_fetch_add(&work->flushed, 1);
    } else if (unpublished) {
      /* An earlier flush or merge wrote its part but not the snapshot naming it. */
      pthread_mutex_lock(&t->maintenance);
      status = write_table_snapshot(db, t, &error);
      pthread_mutex_unlock(&t->maintenance);
      atomic_fetch_add(&work->flushed, 1);
    }
    if (status != SL_OK) {
      pthread_mutex_lock(&work->lock);
      if (work->status == SL_OK) {
        work->status = status;
        work->error = error;
      }
      pthread_mutex_unlock(&work->lock);
    }
  }
}

static void *flush_helper_main(void *argument) {
  pthread_setname_np(pthread_self(), "flush-helper");
  flush_some(argument);
  return NULL;
}

/* A table and the bytes of its memory parts when a flush cycle began. */
typedef struct sized_table {
  table *t;
  uint64_t memory_bytes;
  size_t position; /* in all_tables: the tie-break, so the order is total */
} sized_table;

static int compare_by_memory(const void *a, const void *b) {
  const sized_table *x = a, *y = b;
  if (x->memory_bytes != y->memory_bytes) {
    return x->memory_bytes > y->memory_bytes ? -1 : 1;
  }
  return x->position < y->position ? -1 : x->position > y->position;
}

/* Largest memory first (longest processing time first): the two threads of a cycle take the next
 * table as they finish one, so with the main tables first and the small sidx tables last they end
 * together. In all_tables' order a thread took the sidx tables of shard 0 first and the other
 * shard's main table after them, and the first thread then waited for it 40-80 ms a cycle with a
 * core idle (docs/RESULTS.md, 2026-12-04). Without memory for the sort the order stays. */
static void order_largest_first(sl_tsdb *db, table **tables, size_t count) {
  sized_table *sized = malloc((count + 1) * sizeof *sized);
  if (sized == NULL) {
    return;
  }
  pthread_mutex_lock(&db->lock);
  for (size_t i = 0; i < count; i++) {
    uint64_t bytes = 0;
    for (size_t p = 0; p < tables[i]->part_count; p++) {
      sl_part_info info = sl_part_info_of(tables[i]->parts[p]);
      bytes += info.in_memory ? info.size_bytes : 0;
    }
    sized[i] = (sized_table){.t = tables[i], .memory_bytes = bytes, .position = i};
  }
  pthread_mutex_unlock(&db->lock);
  qsort(sized, count, sizeof *sized, compare_by_memory);
  for (size_t i = 0; i < count; i++) {
    tables[i] = sized[i].t;
  }
  free(sized);
}

static sl_status flush_cycle(sl_tsdb *db, sl_error *err) {
  pthread_mutex_lock(&db->flush_lock);
  pthread_mutex_lock(&db->lock);
  uint64_t watermark = db->introduced;
  pthread_mutex_unlock(&db->lock);
  size_t count = 0;
  table **tables = all_tables(db, &count);
  sl_status status = tables != NULL ? SL_OK : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  if (tables != NULL) {
    order_largest_first(db, tables, count);
  }
  flush_work work = {.db = db, .tables = tables, .count = tables != NULL ? count : 0, .status = SL_OK};
  atomic_init(&work.next, 0);
  atomic_init(&work.flushed, 0);
  sl_error_clear(&work.error);
  pthread_mutex_init(&work.lock, NULL);
  pthread_t helper;
  bool helped = work.count > 1 && pthread_create(&helper, NULL, flush_helper_main, &work) == 0;
  flush_some(&work);
  if (helped) {
    pthread_join(helper, NULL);
  }
  pthread_mutex_destroy(&work.lock);
  if (status == SL_OK && work.status != SL_OK) {
    status = work.status;
    if (err != NULL) {
      *err = work.error;
    }
  }
  size_t flushed = atomic_load(&work.flushed);
  free(tables);
  if (status == SL_OK && (flushed > 0 || watermark > db->checkpoint)) {
    status = write_store_snapshot(db, watermark, err);
  }
  pthread_mutex_lock(&db->lock);
  pthread_cond_broadcast(&db->drained);
  pthread_mutex_unlock(&db->lock);
  pthread_mutex_unlock(&db->flush_lock);
#ifdef __GLIBC__
  /* The flushed memory parts were freed.  glibc keeps freed heap for reuse; give it back only when
   * the heap's free bytes grew by more than twice the memory limit since the store opened or last
   * gave it back (one flush frees about one limit), so the process's memory stays set by the limit
   * without every batch faulting fresh pages in (a trim after every flush cost 10-15% of load time:
   * 120,000 page faults per 100,000 spans against 49,000). Growth, not the total: free bytes the
   * heap held before (another store's, already given back) count in the total but are not
   * resident, and against the total every flush trimmed in a process that had run anything else. */
  size_t free_bytes = mallinfo2().fordblks;
  pthread_mutex_lock(&db->lock);
  bool trim = free_bytes > db->heap_free_baseline_bytes + 2 * db->options.memory_bytes_limit;
  pthread_mutex_unlock(&db->lock);
  if (trim) {
    malloc_trim(0);
    size_t after = mallinfo2().fordblks;
    pthread_mutex_lock(&db->lock);
    db->heap_free_baseline_bytes = after;
    db->stats.heap_trims++;
    pthread_mutex_unlock(&db->lock);
  }
#endif
  return status;
}

sl_status sl_tsdb_flush(sl_tsdb *db, sl_error *err) { return flush_cycle(db, err); }

sl_status sl_tsdb_settle(sl_tsdb *db, sl_error *err) {
  assert(db != NULL);
  return db->wal != NULL ? sl_wal_settle(db->wal, err) : SL_OK;
}

sl_status sl_tsdb_checkpoint(sl_tsdb *db, sl_error *err) {
  /* Segments the last writes made expired go now, not at the next background pass: the store a
   * checkpoint leaves (and what a load reports) is what a reopen would see. */
  SL_TRY(sl_tsdb_apply_retention(db, err));
  SL_TRY(flush_cycle(db, err));
  pthread_mutex_lock(&db->flush_lock);
  pthread_mutex_lock(&db->lock);
  uint64_t watermark = db->introduced;
  bool clean = db->memory_parts == 0;
  pthread_mutex_unlock(&db->lock);
  sl_status status = SL_OK;
  if (clean && db->wal != NULL) {
    /* The pool goes first, so that the segment the rotation starts is a new, empty file rather than
     * a recycled one still holding its earlier bytes. */
    status = sl_wal_release_recycled(db->wal, err);
  }
  if (status == SL_OK && clean && db->wal != NULL) {
    status = sl_wal_rotate(db->wal, err);
  }
  /* Twice: both kept store snapshots then cover every record, so the WAL empties; they say the WAL
   * is no longer in use (the next write marks it again). */
  if (status == SL_OK && clean) {
    atomic_store(&db->wal_in_use, false);
  }
  for (int i = 0; i < SNAPSHOTS_KEPT && status == SL_OK && clean; i++) {
    status = write_store_snapshot(db, watermark, err);
  }
  /* At rest the WAL keeps no recycled segment (the snapshots' truncation just made some): the disk
   * then holds the data (as SQLite's wal_checkpoint(TRUNCATE)). */
  if (status == SL_OK && clean && db->wal != NULL) {
    status = sl_wal_release_recycled(db->wal, err);
  }
  pthread_mutex_unlock(&db->flush_lock);
  /* Likewise each table that merged parts away: once no kept snapshot names them, they go. */
  size_t count = 0;
  table **tables = status == SL_OK ? all_tables(db, &count) : NULL;
  for (size_t i = 0; i < count && status == SL_OK; i++) {
    table *t = tables[i];
    pthread_mutex_lock(&t->maintenance);
    for (int k = 0; k < SNAPSHOTS_KEPT && status == SL_OK && (t->left_recent_count > 0 || t->left_old_count > 0); k++) {
      status = write_table_snapshot(db, t, err);
    }
    pthread_mutex_unlock(&t->maintenance);
  }
  free(tables);
  return status;
}

/* Merges too many small memory parts of a table into one memory part. */
static sl_status compact_memory(sl_tsdb *db, table *t, sl_error *err) {
  pthread_mutex_lock(&t->maintenance);
  pthread_mutex_lock(&db->lock);
  size_t count = 0;
  sl_part **inputs = malloc((t->memory_part_count + 1) * sizeof(sl_part *));
  uint64_t bytes = 0;
  for (size_t p = 0; inputs != NULL && p < t->part_count; p++) {
    if (sl_part_info_of(t->parts[p]).in_memory) {
      inputs[count++] = t->parts[p];
      sl_part_ref(t->parts[p]);
      bytes += sl_part_info_of(t->parts[p]).size_bytes;
    }
  }
  pthread_mutex_unlock(&db->lock);
  sl_status status = inputs != NULL ? SL_OK : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  sl_part *merged = NULL;
  if (status == SL_OK && count > 1) {
    status = sl_parts_merge(inputs, count, NULL, sl_tsdb_next_part_id(db), NULL, &merged, err);
  }
  if (status == SL_OK && merged != NULL) {
    pthread_mutex_lock(&db->lock);
    replace_parts(t, inputs, count, merged);
    t->memory_part_count -= count - 1;
    db->memory_parts -= count - 1;
    db->memory_bytes = db->memory_bytes - bytes + sl_part_info_of(merged).size_bytes;
    db->stats.memory_compactions++;
    pthread_mutex_unlock(&db->lock);
    for (size_t p = 0; p < count; p++) {
      sl_part_unref(inputs[p]); /* the table's reference */
    }
  }
  for (size_t p = 0; inputs != NULL && p < count; p++) {
    sl_part_unref(inputs[p]); /* ours */
  }
  free(inputs);
  pthread_mutex_unlock(&t->maintenance);
  return status;
}

/* One merge of a table's file parts, if the policy chooses one.  *merged_any set when it did. */
static sl_status merge_table(sl_tsdb *db, table *t, bool everything, bool *merged_any, sl_error *err) {
  *merged_any = false;
  pthread_mutex_lock(&t->merge_lock);
  pthread_mutex_lock(&db->lock);
  size_t count = 0;
  sl_part **files = malloc((t->part_count + 1) * sizeof(sl_part *));
  for (size_t p = 0; files != NULL && p < t->part_count; p++) {
    if (!sl_part_info_of(t->parts[p]).in_memory) {
      files[count++] = t->parts[p];
      sl_part_ref(t->parts[p]);
    }
  }
  bool expired = t->segment->expired;
  pthread_mutex_unlock(&db->lock);
  sl_status status = files != NULL ? SL_OK : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  size_t *chosen = calloc(count + 1, sizeof *chosen);
  uint64_t *sizes = calloc(count + 1, sizeof *sizes);
  size_t chosen_count = 0;
  if (status == SL_OK && (chosen == NULL || sizes == NULL)) {
    status = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  if (status == SL_OK && !expired && count >= 2) {
    for (size_t p = 0; p < count; p++) {
      sizes[p] = sl_part_info_of(files[p]).size_bytes;
    }
    if (everything) {
      for (size_t p = 0; p < count; p++) {
        chosen[chosen_count++] = p;
      }
    } else {
      chosen_count = sl_merge_policy_choose(&db->options.merge_policy, sizes, count, chosen);
      if (chosen_count == 0 && count > db->options.max_file_parts) {
        /* Bound the part count: merge the smallest max_parts. */
        sl_merge_policy forced = db->options.merge_policy;
        forced.min_merge_multiplier = 0;
        forced.max_parts = forced.max_parts < 2 ? 2 : forced.max_parts;
        size_t want = forced.max_parts;
        for (size_t p = 0; p < count; p++) {
          chosen[p] = p;
        }
        for (size_t a = 0; a < count; a++) {
          for (size_t b = a + 1; b < count; b++) {
            if (sizes[chosen[b]] < sizes[chosen[a]]) {
              size_t swap = chosen[a];
              chosen[a] = chosen[b];
              chosen[b] = swap;
            }
          }
        }
        chosen_count = want < count ? want : count;
      }
    }
  }
  if (status == SL_OK && chosen_count >= 2) {
    /* Inputs in age order (their order in the table). */
    for (size_t a = 0; a < chosen_count; a++) {
      for (size_t b = a + 1; b < chosen_count; b++) {
        if (chosen[b] < chosen[a]) {
          size_t swap = chosen[a];
          chosen[a] = chosen[b];
          chosen[b] = swap;
        }
      }
    }
    sl_part **inputs = malloc(chosen_count * sizeof(sl_part *));
    if (inputs == NULL) {
      status = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    for (size_t k = 0; inputs != NULL && k < chosen_count; k++) {
      inputs[k] = files[chosen[k]];
    }
    sl_part *merged = NULL;
    sl_merge_stats stats = {0};
    if (status == SL_OK) {
      status = merge_to_file(db, t, inputs, chosen_count, &stats, &merged, err);
    }
    bool swapped = false;
    if (status == SL_OK) {
      pthread_mutex_lock(&t->maintenance);
      pthread_mutex_lock(&db->lock);
      swapped = !t->segment->expired;
    }
    if (status == SL_OK && !swapped) {
      pthread_mutex_unlock(&db->lock);
      pthread_mutex_unlock(&t->maintenance);
      sl_part_mark_obsolete(merged); /* the segment expired meanwhile */
      sl_part_unref(merged);
    }
    if (status == SL_OK && swapped) {
      replace_parts(t, inputs, chosen_count, merged);
      db->stats.merges++;
      db->stats.merge_bytes_in += stats.bytes_in;
      db->stats.merge_bytes_out += stats.bytes_out;
      db->stats.merge_compress_ns += stats.compress_ns;
      db->stats.blocks_copied += stats.blocks_copied;
      db->stats.blocks_rewritten += stats.blocks_rewritten;
      pthread_mutex_unlock(&db->lock);
      for (size_t k = 0; k < chosen_count && status == SL_OK; k++) {
        sl_part_ref(inputs[k]);
        status = note_left(t, inputs[k], err); /* the table's reference moves to the leaving list */
        sl_part_unref(inputs[k]);
      }
      if (status == SL_OK) {
        status = write_table_snapshot(db, t, err);
      }
      pthread_mutex_unlock(&t->maintenance);
      *merged_any = status == SL_OK;
    }
    free(inputs);
  }
  for (size_t p = 0; files != NULL && p < count; p++) {
    sl_part_unref(files[p]);
  }
  free(files);
  free(chosen);
  free(sizes);
  pthread_mutex_unlock(&t->merge_lock);
  return status;
}

/* Every live table, with a reference count of 0: tables are never freed before close. */
static table **all_tables(sl_tsdb *db, size_t *count) {
  pthread_mutex_lock(&db->lock);
  size_t per_segment = (size_t)db->options.shard_count * db->options.kind_count;
  table **list = malloc((db->segment_count * per_segment + 1) * sizeof(table *));
  *count = 0;
  for (size_t s = 0; list != NULL && s < db->segment_count; s++) {
    for (size_t k = 0; k < per_segment; k++) {
      if (db->segments[s]->tables[k] != NULL) {
        list[(*count)++] = db->segments[s]->tables[k];
      }
    }
  }
  pthread_mutex_unlock(&db->lock);
  return list;
}

sl_status sl_tsdb_merge_all(sl_tsdb *db, bool everything, sl_error *err) {
  size_t count = 0;
  table **tables = all_tables(db, &count);
  if (tables == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  sl_status status = SL_OK;
  for (size_t i = 0; i < count && status == SL_OK; i++) {
    bool merged = true;
    for (int round = 0; merged && status == SL_OK && round < 64; round++) {
      status = merge_table(db, tables[i], everything, &merged, err);
      merged = merged && !everything;
    }
  }
  free(tables);
  return status;
}

/* ------------------------------------------------------------------ retention */


/* Caller holds flush_lock and has a TTL (sl_tsdb_apply_retention). */
static sl_status apply_retention_locked(sl_tsdb *db, sl_error *err) {
  assert(db->options.ttl_ms > 0);
  /* Every expired segment goes in one pass (at most 64 went, so the rest answered queries and the
   * answer shrank from one open to the next). */
  pthread_mutex_lock(&db->lock);
  size_t expired = 0;
  for (size_t s = 0; s < db->segment_count; s++) {
    expired += expired_locked(db, db->segments[s]->start_ms);
  }
  segment **victims = expired > 0 ? calloc(expired, sizeof(segment *)) : NULL;
  segment **grown = expired > 0 ? realloc(db->dead, (db->dead_count + expired) * sizeof(segment *)) : db->dead;
  if (expired > 0 && (victims == NULL || grown == NULL)) {
    if (grown != NULL) {
      db->dead = grown;
    }
    pthread_mutex_unlock(&db->lock);
    free(victims);
    return sl_error_set(err, SL_ERR_NOMEM, "store %s: out of memory removing expired segments", db->dir);
  }
  db->dead = grown;
  size_t victim_count = 0;
  size_t keep = 0;
  for (size_t s = 0; s < db->segment_count; s++) {
    segment *seg = db->segments[s];
    if (victim_count < expired && expired_locked(db, seg->start_ms)) {
      seg->expired = true;
      victims[victim_count++] = seg;
      db->dead[db->dead_count++] = seg;
      db->stats.segments_expired++;
      continue;
    }
    db->segments[keep++] = seg;
  }
  db->segment_count = keep;
  pthread_mutex_unlock(&db->lock);
  for (size_t v = 0; v < victim_count; v++) {
    segment *seg = victims[v];
    /* The segment's parts leave its tables first (each under its maintenance lock, so no flush or
     * merge is writing there afterwards), then the directory is renamed out of the store
     * (EXPIRED_PREFIX, durable) and only then are the parts' files deleted: a crash between deleting
     * parts and the directory left a segment whose table snapshots named deleted parts, and the
     * store could not be opened. */
    size_t held = 0, capacity = 0;
    sl_part **parts = NULL;
    for (size_t k = 0; k < (size_t)db->options.shard_count * db->options.kind_count; k++) {
      table *t = seg->tables[k];
      if (t == NULL) {
        continue;
      }
      pthread_mutex_lock(&t->maintenance);
      pthread_mutex_lock(&db->lock);
      if (held + t->part_count > capacity) {
        size_t wanted = (held + t->part_count) * 2;
        sl_part **bigger = realloc(parts, wanted * sizeof(sl_part *));
        if (bigger != NULL) {
          parts = bigger;
          capacity = wanted;
        }
      }
      for (size_t p = 0; p < t->part_count; p++) {
        sl_part_info info = sl_part_info_of(t->parts[p]);
        if (info.in_memory) {
          db->memory_bytes -= info.size_bytes;
          db->memory_parts--;
        }
        if (k % db->options.kind_count == 0) { /* the rows of kind 0: the subject's own rows */
          atomic_fetch_add(&db->expired_rows, info.rows);
        }
        sl_part_mark_obsolete(t->parts[p]);
        if (held < capacity) {
          parts[held++] = t->parts[p]; /* unref'd (its files deleted) once the directory is out */
        } else {
          sl_part_unref(t->parts[p]); /* out of memory to hold it: deleted now, as before */
        }
      }
      t->part_count = 0;
      t->memory_part_count = 0;
      pthread_mutex_unlock(&db->lock);
      pthread_mutex_unlock(&t->maintenance);
    }
    char tomb[PATH_BYTES];
    bool moved = sl_fileio_path(tomb, sizeof tomb, "%s/" EXPIRED_PREFIX "%s", db->dir, seg->name) &&
                 rename(seg->dir, tomb) == 0;
    if (moved) {
      sl_error ignored; /* a failed fsync: the files still go; the store snapshot below fsyncs again */
      (void)sl_fileio_fsync_dir(db->dir, &ignored);
    }
    for (size_t p = 0; p < held; p++) {
      sl_part_unref(parts[p]);
    }
    free(parts);
    sl_fileio_remove_tree(moved ? tomb : seg->dir);
  }
  free(victims);
  if (victim_count > 0) {
    (void)sl_fileio_fsync_dir(db->dir, err);
    return write_store_snapshot(db, db->checkpoint, err);
  }
  return SL_OK;
}

sl_status sl_tsdb_apply_retention(sl_tsdb *db, sl_error *err) {
  if (db->options.ttl_ms <= 0) {
    return SL_OK;
  }
  /* Under flush_lock, as every writer of store snapshots: a checkpoint runs retention on its
   * caller's thread while the flusher may write one, and both took the same epoch. */
  pthread_mutex_lock(&db->flush_lock);
  sl_status status = apply_retention_locked(db, err);
  pthread_mutex_unlock(&db->flush_lock);
  return status;
}

/* ------------------------------------------------------------------ background */

static void background_fail(sl_tsdb *db, const char *reason, const sl_error *err) {
  pthread_mutex_lock(&db->lock);
  if (!db->background_failed) {
    db->background_failed = true;
    db->background_error = *err;
    db->background_reason = reason;
  }
  pthread_cond_broadcast(&db->drained);
  pthread_mutex_unlock(&db->lock);
  fprintf(stderr, "spanlab: store %s: %s: %s\n", db->dir, reason, err->message);
}

static void wait_tick(sl_tsdb *db, int64_t ms) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
  deadline.tv_sec += (time_t)(ms / 1000) + deadline.tv_nsec / 1000000000L;
  deadline.tv_nsec %= 1000000000L;
  if (!db->stop) {
    pthread_cond_timedwait(&db->wake, &db->lock, &deadline);
  }
}

static bool flush_due(sl_tsdb *db) {
  if (db->memory_parts == 0) {
    return false;
  }
  if (db->memory_bytes >= db->options.memory_bytes_limit) {
    return true;
  }
  int64_t now = sl_monotonic_ns();
  int64_t oldest = INT64_MAX;
  for (size_t s = 0; s < db->segment_count; s++) {
    for (size_t k = 0; k < (size_t)db->options.shard_count * db->options.kind_count; k++) {
      table *t = db->segments[s]->tables[k];
      for (size_t p = 0; t != NULL && p < t->part_count; p++) {
        sl_part_info info = sl_part_info_of(t->parts[p]);
        if (info.in_memory && info.created_ns < oldest) {
          oldest = info.created_ns;
        }
      }
    }
  }
  return oldest != INT64_MAX && now - oldest >= (int64_t)db->options.flush_interval_ms * 1000000;
}

static void *flusher_main(void *opaque) {
  sl_tsdb *db = opaque;
  pthread_setname_np(pthread_self(), "flush");
  pthread_mutex_lock(&db->lock);
  while (!db->stop) {
    wait_tick(db, BACKGROUND_TICK_MS);
    if (db->stop || db->background_failed) {
      continue;
    }
    bool due = flush_due(db);
    table *crowded = NULL;
    for (size_t s = 0; !due && crowded == NULL && s < db->segment_count; s++) {
      for (size_t k = 0; k < (size_t)db->options.shard_count * db->options.kind_count; k++) {
        table *t = db->segments[s]->tables[k];
        if (t != NULL && t->memory_part_count > db->options.max_memory_parts) {
          crowded = t;
          break;
        }
      }
    }
    pthread_mutex_unlock(&db->lock);
    sl_error err;
    sl_status status = SL_OK;
    if (due) {
      status = flush_cycle(db, &err);
    } else if (crowded != NULL) {
      status = compact_memory(db, crowded, &err);
    }
    if (status != SL_OK) {
      background_fail(db, "a background flush or merge failed", &err);
    }
    pthread_mutex_lock(&db->lock);
  }
  pthread_mutex_unlock(&db->lock);
  return NULL;
}

static void *merger_main(void *opaque) {
  sl_tsdb *db = opaque;
  pthread_setname_np(pthread_self(), "merge");
  int64_t last_retention = 0;
  pthread_mutex_lock(&db->lock);
  while (!db->stop) {
    wait_tick(db, 4 * BACKGROUND_TICK_MS);
    if (db->stop || db->background_failed) {
      continue;
    }
    pthread_mutex_unlock(&db->lock);
    sl_error err;
    sl_status status = SL_OK;
    int64_t now = sl_monotonic_ns();
    if (now - last_retention >= (int64_t)RETENTION_EVERY_MS * 1000000) {
      last_retention = now;
      status = sl_tsdb_apply_retention(db, &err);
    }
    size_t count = 0;
    table **tables = status == SL_OK ? all_tables(db, &count) : NULL;
    for (size_t i = 0; i < count && status == SL_OK; i++) {
      bool merged = false;
      pthread_mutex_lock(&db->lock);
      bool stop = db->stop;
      /* Ingest first: while memory parts wait for the flusher, merges wait too, unless the
       * table already holds more file parts than the bound. */
      size_t files = tables[i]->part_count - tables[i]->memory_part_count;
      bool busy = db->memory_bytes >= db->options.memory_bytes_limit / 2 && files <= db->options.max_file_parts;
      pthread_mutex_unlock(&db->lock);
      if (!stop && !busy) {
        status = merge_table(db, tables[i], false, &merged, &err);
      }
    }
    free(tables);
    if (status != SL_OK) {
      background_fail(db, "a background flush or merge failed", &err);
    }
    pthread_mutex_lock(&db->lock);
  }
  pthread_mutex_unlock(&db->lock);
  return NULL;
}

/* ------------------------------------------------------------------ writing */

static void drop_targets(sl_tsdb_target *targets, size_t count) {
  for (size_t i = 0; i < count; i++) {
    sl_part_unref(targets[i].part);
  }
  free(targets);
}

bool sl_tsdb_logged(const sl_tsdb *db) { return db->wal != NULL; }

sl_status sl_tsdb_write(sl_tsdb *db, const void *payload, size_t payload_bytes, sl_tsdb_build_fn build,
                        void *context, sl_error *err) {
  struct iovec whole = {.iov_base = (void *)payload, .iov_len = payload_bytes};
  return sl_tsdb_writev(db, &whole, 1, build, context, err);
}

sl_status sl_tsdb_writev(sl_tsdb *db, const struct iovec *pieces, size_t piece_count, sl_tsdb_build_fn build,
                         void *context, sl_error *err) {
  assert(db != NULL && build != NULL);
  sl_status status = SL_OK;
  pthread_mutex_lock(&db->lock);
  if (db->background_failed) {
    status = db->background_error.status != SL_OK ? db->background_error.status : SL_ERR_IO;
    if (err != NULL) {
      *err = db->background_error;
      err->status = status;
      sl_error_prefix(err, "store %s refuses writes since %s (reopen it to go on)", db->dir, db->background_reason);
    }
  }
  /* Backpressure: memory parts over twice the limit wait for a flush. */
  bool stalled = false;
  int64_t stall_began = 0;
  while (status == SL_OK && db->options.background && db->memory_bytes >= 2 * db->options.memory_bytes_limit &&
         !db->background_failed && !db->stop) {
    if (!stalled) {
      stall_began = sl_monotonic_ns();
    }
    stalled = true;
    pthread_cond_broadcast(&db->wake);
    pthread_cond_wait(&db->drained, &db->lock);
  }
  db->stats.write_stalls += stalled;
  db->stats.write_stall_ns += stalled ? (uint64_t)(sl_monotonic_ns() - stall_began) : 0;
  pthread_mutex_unlock(&db->lock);
  if (status == SL_OK && !db->options.background && db->memory_bytes >= db->options.memory_bytes_limit) {
    status = flush_cycle(db, err);
  }
  /* Before the first record since the WAL was last emptied, a store snapshot says the WAL is in
   * use: a WAL deleted after that is then an error on open, not an empty store. */
  if (status == SL_OK && db->wal != NULL && !atomic_load(&db->wal_in_use)) {
    status = mark_wal_in_use(db, err);
  }
  /* The record is written by the WAL's thread while this one builds the memory parts. */
  sl_wal_ticket *ticket = NULL;
  if (status == SL_OK && db->wal != NULL) {
    status = sl_wal_submitv(db->wal, pieces, piece_count, &ticket, err);
  }
  if (status != SL_OK) {
    return status;
  }
  bool logged = ticket != NULL; /* the ticket is freed by the wait */
  sl_tsdb_target *targets = NULL;
  size_t target_count = 0;
  sl_error build_error;
  sl_error_clear(&build_error);
  int64_t build_began = sl_monotonic_ns();
  sl_status built = build(context, &targets, &target_count, &build_error);
  int64_t build_ns = sl_monotonic_ns() - build_began;
  assert(built != SL_OK || targets != NULL || target_count == 0);
  table *stack_tables[16];
  table **tables = stack_tables;
  if (built == SL_OK && target_count > 16) {
    tables = malloc(target_count * sizeof(table *));
    built = tables != NULL ? SL_OK : sl_error_set(&build_error, SL_ERR_NOMEM, "out of memory");
  }
  pthread_mutex_lock(&db->lock);
  for (size_t i = 0; built == SL_OK && i < target_count; i++) {
    built = ensure_table(db, targets[i].segment_start_ms, targets[i].shard, targets[i].kind, &tables[i],
                         &build_error);
    if (built == SL_OK) {
      built = reserve_parts(tables[i], target_count, &build_error);
    }
  }
  pthread_mutex_unlock(&db->lock);
  uint64_t sequence = 0;
  int64_t wait_began = sl_monotonic_ns();
  if (logged) {
    status = sl_wal_wait(db->wal, ticket, &sequence, built == SL_OK ? err : NULL);
  } else {
    pthread_mutex_lock(&db->lock);
    sequence = ++db->sequence_counter;
    pthread_mutex_unlock(&db->lock);
  }
  if (built != SL_OK) {
    drop_targets(targets, target_count);
    if (tables != stack_tables) {
      free(tables);
    }
    if (status == SL_OK) {
      /* The batch is in the WAL but not in memory: writing on would hide it until a reopen
       * replays it, so the store refuses writes until then (without a WAL nothing of it stays).
       * Its turn passes, so that the batches numbered after it are not kept waiting. */
      if (logged) {
        sl_error cause = build_error;
        sl_error_prefix(&cause, "batch %llu is in the WAL but was not applied", (unsigned long long)sequence);
        background_fail(db, "a batch in the WAL could not be applied in memory", &cause);
      }
      pthread_mutex_lock(&db->lock);
      while (db->introduced + 1 < sequence) {
        pthread_cond_wait(&db->turn, &db->lock);
      }
      db->introduced = sequence > db->introduced ? sequence : db->introduced;
      pthread_cond_broadcast(&db->turn);
      pthread_mutex_unlock(&db->lock);
    }
    if (err != NULL) {
      *err = build_error;
    }
    return built;
  }
  if (status != SL_OK) {
    drop_targets(targets, target_count);
    if (tables != stack_tables) {
      free(tables);
    }
    return status;
  }
  int64_t log_wait_ns = logged ? sl_monotonic_ns() - wait_began : 0;
  /* Acknowledged: make it visible, in sequence order, atomically. */
  pthread_mutex_lock(&db->lock);
  db->stats.write_build_ns += (uint64_t)build_ns;
  db->stats.write_log_wait_ns += (uint64_t)log_wait_ns;
  while (db->introduced + 1 < sequence) {
    pthread_cond_wait(&db->turn, &db->lock);
  }
  for (size_t i = 0; i < target_count; i++) {
    sl_part_info info = sl_part_info_of(targets[i].part);
    if (tables[i]->segment->expired) {
      if (targets[i].kind == 0) { /* the subject's rows, not its index tables' */
        atomic_fetch_add(&db->expired_rows, info.rows);
      }
      sl_part_unref(targets[i].part);
      continue;
    }
    sl_part_set_memory_sequences(targets[i].part, sequence, sequence);
    sl_error ignored;
    sl_status appended = table_append(tables[i], targets[i].part, &ignored);
    assert(appended == SL_OK); /* room reserved above */
    (void)appended;
    tables[i]->memory_part_count++;
    db->memory_bytes += info.size_bytes;
    db->memory_parts++;
    if (targets[i].kind == 0) { /* kind 0 holds the element timestamps (ns); indexes sort by other keys */
      int64_t newest = info.max_timestamp / 1000000;
      db->max_timestamp_ms = newest > db->max_timestamp_ms ? newest : db->max_timestamp_ms;
    }
  }
  free(targets);
  db->introduced = sequence > db->introduced ? sequence : db->introduced;
  db->stats.batches++;
  pthread_cond_broadcast(&db->turn);
  if (db->memory_bytes >= db->options.memory_bytes_limit) {
    pthread_cond_broadcast(&db->wake);
  }
  pthread_mutex_unlock(&db->lock);
  if (tables != stack_tables) {
    free(tables);
  }
  return SL_OK;
}

/* ------------------------------------------------------------------ reading */

struct sl_tsdb_view {
  size_t count;
  sl_tsdb_table_view *tables;
};

sl_status sl_tsdb_acquire(sl_tsdb *db, int64_t begin_ms, int64_t end_ms, uint32_t kind, sl_tsdb_view **out,
                          sl_error *err) {
  *out = NULL;
  sl_tsdb_view *view = calloc(1, sizeof *view);
  if (view == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  pthread_mutex_lock(&db->lock);
  size_t per_segment = (size_t)db->options.shard_count * db->options.kind_count;
  view->tables = calloc(db->segment_count * per_segment + 1, sizeof *view->tables);
  sl_status status = view->tables != NULL ? SL_OK : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  for (size_t s = 0; status == SL_OK && s < db->segment_count; s++) {
    segment *seg = db->segments[s];
    if (seg->end_ms <= begin_ms || seg->start_ms > end_ms) {
      continue;
    }
    for (size_t k = 0; k < per_segment; k++) {
      table *t = seg->tables[k];
      if (t == NULL || (kind != UINT32_MAX && t->kind != kind) || t->part_count == 0) {
        continue;
      }
      sl_tsdb_table_view *entry = &view->tables[view->count];
      entry->parts = malloc(t->part_count * sizeof(sl_part *));
      if (entry->parts == NULL) {
        status = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
        break;
      }
      entry->segment_start_ms = seg->start_ms;
      entry->segment_end_ms = seg->end_ms;
      entry->shard = t->shard;
      entry->kind = t->kind;
      entry->part_count = t->part_count;
      for (size_t p = 0; p < t->part_count; p++) {
        entry->parts[p] = t->parts[p];
        sl_part_ref(t->parts[p]);
      }
      view->count++;
    }
  }
  pthread_mutex_unlock(&db->lock);
  if (status != SL_OK) {
    sl_tsdb_release(view);
    return status;
  }
  *out = view;
  return SL_OK;
}

size_t sl_tsdb_view_count(const sl_tsdb_view *view) { return view->count; }

const sl_tsdb_table_view *sl_tsdb_view_at(const sl_tsdb_view *view, size_t index) {
  assert(index < view->count);
  return &view->tables[index];
}

void sl_tsdb_release(sl_tsdb_view *view) {
  if (view == NULL) {
    return;
  }
  for (size_t t = 0; view->tables != NULL && t < view->count; t++) {
    for (size_t p = 0; p < view->tables[t].part_count; p++) {
      sl_part_unref(view->tables[t].parts[p]);
    }
    free(view->tables[t].parts);
  }
  free(view->tables);
  free(view);
}

void sl_tsdb_drop_caches(sl_tsdb *db) {
  sl_tsdb_view *view = NULL;
  sl_error ignored;
  if (sl_tsdb_acquire(db, INT64_MIN, INT64_MAX, UINT32_MAX, &view, &ignored) != SL_OK) {
    return;
  }
  for (size_t t = 0; t < view->count; t++) {
    for (size_t p = 0; p < view->tables[t].part_count; p++) {
      sl_part_drop_caches(view->tables[t].parts[p]);
    }
  }
  sl_tsdb_release(view);
}

static uint64_t directory_bytes(const char *path) {
  DIR *dir = opendir(path);
  uint64_t total = 0;
  if (dir == NULL) {
    return 0;
  }
  for (struct dirent *entry = readdir(dir); entry != NULL; entry = readdir(dir)) {
    char child[PATH_BYTES];
    sl_fileio_path(child, sizeof child, "%s/%s", path, entry->d_name);
    struct stat info;
    if (lstat(child, &info) == 0 && S_ISREG(info.st_mode)) {
      total += (uint64_t)info.st_size;
    }
  }
  closedir(dir);
  return total;
}

void sl_tsdb_stats_get(sl_tsdb *db, sl_tsdb_stats *out) {
  pthread_mutex_lock(&db->lock);
  *out = db->stats;
  out->memory_parts = db->memory_parts;
  out->memory_bytes = db->memory_bytes;
  out->segments = db->segment_count;
  out->file_parts = out->file_bytes = out->rows = 0;
  for (size_t s = 0; s < db->segment_count; s++) {
    for (size_t k = 0; k < (size_t)db->options.shard_count * db->options.kind_count; k++) {
      table *t = db->segments[s]->tables[k];
      for (size_t p = 0; t != NULL && p < t->part_count; p++) {
        sl_part_info info = sl_part_info_of(t->parts[p]);
        out->rows += info.rows;
        if (!info.in_memory) {
          out->file_parts++;
          out->file_bytes += info.size_bytes;
        }
      }
    }
  }
  pthread_mutex_unlock(&db->lock);
  if (db->wal != NULL) {
    sl_wal_stats_get(db->wal, &out->wal);
  }
  out->wal_bytes = directory_bytes(db->wal_dir);
}

/* ------------------------------------------------------------------ opening */

/* Names of parts any snapshot of dir lists (the kept ones are all there is after a prune). */
static sl_status listed_parts(const char *dir, char ***names, size_t *count, sl_error *err) {
  *names = NULL;
  *count = 0;
  DIR *handle = opendir(dir);
  if (handle == NULL) {
    return errno == ENOENT ? SL_OK : sl_fileio_errno_error(err, errno, "open directory", dir);
  }
  sl_status status = SL_OK;
  for (struct dirent *entry = readdir(handle); entry != NULL && status == SL_OK; entry = readdir(handle)) {
    size_t length = strlen(entry->d_name);
    if (length != 20 || strcmp(entry->d_name + 16, ".snp") != 0) {
      continue;
    }
    char path[PATH_BYTES];
    sl_fileio_path(path, sizeof path, "%s/%s", dir, entry->d_name);
    sl_snapshot snapshot = {0};
    sl_error ignored;
    if (sl_snapshot_read_file(path, &snapshot, &ignored) != SL_OK) {
      continue; /* a corrupt snapshot names nothing we must keep */
    }
    for (size_t p = 0; p < snapshot.part_count && status == SL_OK; p++) {
      char **grown = realloc(*names, (*count + 1) * sizeof(char *));
      char *copy = strdup(snapshot.parts[p].name);
      if (grown == NULL || copy == NULL) {
        free(copy);
        if (grown != NULL) {
          *names = grown;
        }
        status = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
        break;
      }
      *names = grown;
      (*names)[(*count)++] = copy;
    }
    sl_snapshot_free(&snapshot);
  }
  closedir(handle);
  if (status != SL_OK) {
    for (size_t i = 0; i < *count; i++) {
      free((*names)[i]);
    }
    free(*names);
    *names = NULL;
    *count = 0;
  }
  return status;
}

/* An interrupted flush's or merge's part, to be removed when the open succeeds (remove_unnamed_parts):
 * an open refused after load_table (a missing table, segment or WAL) must leave the store as it
 * was, for a user told to put something back. */
static sl_status note_unnamed_part(sl_tsdb *db, const char *path, sl_error *err) {
  char **grown = realloc(db->unnamed_parts, (db->unnamed_part_count + 1) * sizeof(char *));
  char *copy = strdup(path);
  if (grown == NULL || copy == NULL) {
    free(copy);
    db->unnamed_parts = grown != NULL ? grown : db->unnamed_parts;
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  db->unnamed_parts = grown;
  db->unnamed_parts[db->unnamed_part_count++] = copy;
  return SL_OK;
}

static void remove_unnamed_parts(sl_tsdb *db) {
  for (size_t i = 0; i < db->unnamed_part_count; i++) {
    sl_fileio_remove_tree(db->unnamed_parts[i]);
    free(db->unnamed_parts[i]);
  }
  free(db->unnamed_parts);
  db->unnamed_parts = NULL;
  db->unnamed_part_count = 0;
}

static void free_names(char **names, size_t count) {
  for (size_t i = 0; i < count; i++) {
    free(names[i]);
  }
  free(names);
}

/* A part directory that no kept snapshot of table t names is removed on open: an interrupted flush
 * (its records are past what the table covers, so the WAL replays them) or a merge whose snapshot was
 * not written (its inputs are still named).  Unless its records are past what the table covers but
 * within the store checkpoint: the WAL is not replayed that far back, so they are in this part only,
 * and its snapshot was lost (deleted or never synced).  That is corruption; the part stays. */
static sl_status check_unnamed_part(sl_tsdb *db, const table *t, uint32_t kind, const char *path, uint64_t id,
                                    sl_error *err) {
  sl_part *part = NULL;
  sl_error ignored;
  if (sl_part_open(&db->options.layouts[kind], path, id, &part, &ignored) != SL_OK) {
    return SL_OK; /* unreadable: a flush or merge cut short */
  }
  sl_part_info info = sl_part_info_of(part);
  sl_part_unref(part);
  if (info.last_sequence > t->covered && info.last_sequence <= db->checkpoint) {
    return sl_error_set(err, SL_ERR_CORRUPT,
                        "%s: holds WAL records up to %llu, which the store checkpoint (%llu) says are flushed, but "
                        "no snapshot of its table names it (the table covers %llu): the table's snapshot is missing "
                        "or damaged; the part is left in place",
                        path, (unsigned long long)info.last_sequence, (unsigned long long)db->checkpoint,
                        (unsigned long long)t->covered);
  }
  return SL_OK;
}

static sl_status load_table(sl_tsdb *db, segment *seg, uint32_t shard, uint32_t kind, sl_error *err) {
  char dir[PATH_BYTES];
  table_dir(db, seg, shard, kind, dir, sizeof dir);
  struct stat info;
  if (stat(dir, &info) != 0) {
    if (errno == ENOENT) {
      return SL_OK; /* never written */
    }
    /* A symlink loop or a directory that cannot be searched is not a table never written: opening
     * without it served the store without its rows. */
    return sl_fileio_errno_error(err, errno, "stat", dir);
  }
  table *t = NULL;
  SL_TRY(table_new(db, seg, shard, kind, &t, err));
  seg->tables[table_slot(db, shard, kind)] = t;
  /* A crash between creating the table directory and its parts/ leaves no parts/: flushes need it. */
  SL_TRY(make_dirs(t, db, false, false, false, err));
  sl_snapshot snapshot = {0};
  sl_snapshot_load_result result = {0};
  SL_TRY(sl_snapshot_load_latest(dir, true, &snapshot, &result, err));
  if (result.warning[0] != '\0') {
    fprintf(stderr, "spanlab: %s\n", result.warning);
  }
  t->epoch = result.newest_epoch_seen;
  t->covered = result.found ? snapshot.wal_sequence : 0;
  t->published = result.found;
  seg->published = seg->published || result.found;
  sl_status status = SL_OK;
  for (size_t p = 0; p < snapshot.part_count && status == SL_OK; p++) {
    const char *name = snapshot.parts[p].name;
    char *end = NULL;
    uint64_t id = strtoull(name, &end, 16);
    char path[PATH_BYTES];
    sl_fileio_path(path, sizeof path, "%s/%s", t->parts_dir, name);
    if (end == NULL || *end != '\0' || strlen(name) != 16) {
      status = sl_error_set(err, SL_ERR_CORRUPT, "%s: snapshot names part \"%s\", not a part id", dir, name);
      break;
    }
    sl_part *part = NULL;
    status = sl_part_open(&db->options.layouts[kind], path, id, &part, err);
    if (status == SL_OK && sl_part_info_of(part).size_bytes != snapshot.parts[p].size_bytes) {
      status = sl_error_set(err, SL_ERR_CORRUPT, "%s: %llu bytes, the snapshot says %llu", path,
                            (unsigned long long)sl_part_info_of(part).size_bytes,
                            (unsigned long long)snapshot.parts[p].size_bytes);
    }
    if (status == SL_OK) {
      status = table_append(t, part, err);
    }
    if (status != SL_OK) {
      sl_part_unref(part);
      break;
    }
    uint64_t next = atomic_load(&db->next_part_id);
    if (id + 1 > next) {
      atomic_store(&db->next_part_id, id + 1);
    }
    if (kind == 0) {
      int64_t newest = sl_part_info_of(part).max_timestamp / 1000000;
      db->max_timestamp_ms = newest > db->max_timestamp_ms ? newest : db->max_timestamp_ms;
    }
  }
  sl_snapshot_free(&snapshot);
  if (status != SL_OK) {
    return status;
  }
  /* Remove what no kept snapshot lists: interrupted flushes and merges. */
  char **listed = NULL;
  size_t listed_count = 0;
  SL_TRY(listed_parts(dir, &listed, &listed_count, err));
  DIR *handle = opendir(t->parts_dir);
  for (struct dirent *entry = handle != NULL ? readdir(handle) : NULL; entry != NULL; entry = readdir(handle)) {
    if (entry->d_name[0] == '.') {
      continue;
    }
    bool keep = false;
    for (size_t i = 0; i < listed_count && !keep; i++) {
      keep = strcmp(listed[i], entry->d_name) == 0;
    }
    char *end = NULL;
    uint64_t id = strtoull(entry->d_name, &end, 16);
    if (id + 1 > atomic_load(&db->next_part_id)) {
      atomic_store(&db->next_part_id, id + 1);
    }
    if (!keep) {
      char path[PATH_BYTES];
      sl_fileio_path(path, sizeof path, "%s/%s", t->parts_dir, entry->d_name);
      status = check_unnamed_part(db, t, kind, path, id, err);
      if (status == SL_OK) {
        status = note_unnamed_part(db, path, err);
      }
      if (status != SL_OK) {
        break;
      }
    }
  }
  if (handle != NULL) {
    closedir(handle);
  }
  free_names(listed, listed_count);
  return status;
}

static sl_status load_segments(sl_tsdb *db, sl_error *err) {
  DIR *handle = opendir(db->dir);
  if (handle == NULL) {
    return sl_fileio_errno_error(err, errno, "open directory", db->dir);
  }
  sl_status status = SL_OK;
  for (struct dirent *entry = readdir(handle); entry != NULL && status == SL_OK; entry = readdir(handle)) {
    int64_t start = 0;
    if (strncmp(entry->d_name, EXPIRED_PREFIX, strlen(EXPIRED_PREFIX)) == 0) {
      /* An expired segment that a crash left half deleted (apply_retention_locked). */
      char path[PATH_BYTES];
      if (sl_fileio_path(path, sizeof path, "%s/%s", db->dir, entry->d_name)) {
        sl_fileio_remove_tree(path);
      }
      continue;
    }
    if (strncmp(entry->d_name, "seg-", 4) != 0) {
      continue;
    }
    if (!parse_segment_name(db, entry->d_name, &start)) {
      fprintf(stderr, "spanlab: %s/%s: not a segment of this store's interval; left alone\n", db->dir, entry->d_name);
      continue;
    }
    segment *seg = NULL;
    status = add_segment(db, start, &seg, err);
    if (status == SL_OK) {
      seg->on_disk = true;
    }
    for (uint32_t shard = 0; status == SL_OK && shard < db->options.shard_count; shard++) {
      for (uint32_t kind = 0; status == SL_OK && kind < db->options.kind_count; kind++) {
        status = load_table(db, seg, shard, kind, err);
      }
    }
  }
  closedir(handle);
  return status;
}

typedef struct replay_state {
  sl_tsdb *db;
  uint64_t records;
} replay_state;

static sl_status replay_record(void *opaque, uint64_t sequence, const uint8_t *payload, size_t size, sl_error *err) {
  replay_state *state = opaque;
  sl_tsdb *db = state->db;
  sl_tsdb_target *targets = NULL;
  size_t count = 0;
  SL_TRY(db->options.replay(db->options.replay_context, db, sequence, payload, size, &targets, &count, err));
  sl_status status = SL_OK;
  pthread_mutex_lock(&db->lock);
  for (size_t i = 0; i < count; i++) {
    table *t = NULL;
    if (status == SL_OK && !expired_locked(db, targets[i].segment_start_ms)) {
      status = ensure_table(db, targets[i].segment_start_ms, targets[i].shard, targets[i].kind, &t, err);
    }
    if (status == SL_OK && t != NULL && t->covered < sequence) {
      status = table_append(t, targets[i].part, err);
      if (status == SL_OK) {
        sl_part_info info = sl_part_info_of(targets[i].part);
        t->memory_part_count++;
        db->memory_bytes += info.size_bytes;
        db->memory_parts++;
        if (targets[i].kind == 0) {
          int64_t newest = info.max_timestamp / 1000000;
          db->max_timestamp_ms = newest > db->max_timestamp_ms ? newest : db->max_timestamp_ms;
        }
        continue;
      }
    }
    sl_part_unref(targets[i].part);
  }
  db->introduced = sequence;
  pthread_mutex_unlock(&db->lock);
  free(targets);
  state->records++;
  return status;
}

/* Every table the store snapshot says published rows (bits: published_tables) was found at open
 * with a snapshot: a table directory deleted inside a segment (one shard, or one index's sidx), or
 * its snapshots deleted, opened as a store without that table's rows. Runs before the open writes
 * any table snapshot, so a table's published flag is still what load_table found (a table the
 * replay made has none). Caller holds db->lock. */
static sl_status check_named_tables(const sl_tsdb *db, const segment *seg, uint64_t bits, uint64_t epoch,
                                    sl_error *err) {
  size_t slots = (size_t)db->options.shard_count * db->options.kind_count;
  for (size_t k = 0; k < 64; k++) {
    if ((bits >> k & 1) == 0) {
      continue;
    }
    if (k >= slots) {
      return sl_error_set(err, SL_ERR_CORRUPT,
                          "the store snapshot (epoch %llu) of %s says table %zu of segment %s published rows, but "
                          "the store has %zu tables per segment (%u shards of %u kinds)",
                          (unsigned long long)epoch, db->dir, k, seg->name, slots, db->options.shard_count,
                          db->options.kind_count);
    }
    const table *t = seg->tables != NULL ? seg->tables[k] : NULL;
    if (t == NULL || !t->published) {
      char dir[PATH_BYTES];
      table_dir(db, seg, (uint32_t)(k / db->options.kind_count), (uint32_t)(k % db->options.kind_count), dir,
                sizeof dir);
      struct stat info;
      bool there = stat(dir, &info) == 0;
      return sl_error_set(err, SL_ERR_CORRUPT,
                          "table %s %s: the store snapshot (epoch %llu) says it published rows and its segment "
                          "has not expired, so they would be lost (was it deleted or moved?); put it back to "
                          "open the store",
                          dir, there ? "holds no snapshot" : "is missing", (unsigned long long)epoch);
    }
  }
  return SL_OK;
}

/* Every segment the newest store snapshot names has its directory (found by load_segments) unless
 * retention has expired it: one whose directory was deleted or moved opened as a store without that
 * segment's rows, and the next checkpoint wrote snapshots without it. The WAL does not stand in for
 * the directory: a replay makes the segment again from the records after the checkpoint, not from
 * the rows flushed before it. Runs after the replay (the data clock is then whole) and before the
 * open's retention, which writes a store snapshot, and before the parts no snapshot names are removed
 * (remove_unnamed_parts): a refused open changes nothing. Each named segment's tables are checked
 * too (check_named_tables). */
static sl_status check_named_segments(sl_tsdb *db, const sl_snapshot *named, uint64_t epoch, sl_error *err) {
  sl_status status = SL_OK;
  pthread_mutex_lock(&db->lock);
  for (size_t p = 0; p < named->part_count && status == SL_OK; p++) {
    const char *name = named->parts[p].name;
    int64_t start = 0;
    if (!parse_segment_name(db, name, &start)) {
      continue; /* not a segment of this interval: load_segments says so when its directory is there */
    }
    const segment *seg = NULL;
    for (size_t s = 0; s < db->segment_count && seg == NULL; s++) {
      seg = db->segments[s]->on_disk && strcmp(db->segments[s]->name, name) == 0 ? db->segments[s] : NULL;
    }
    if (expired_locked(db, start)) {
      continue;
    }
    if (seg == NULL) {
      status = sl_error_set(err, SL_ERR_CORRUPT,
                            "segment %s/%s is missing: the store snapshot (epoch %llu) names it and it has not "
                            "expired, so its spans would be lost (was the directory deleted or moved?); put it "
                            "back to open the store",
                            db->dir, name, (unsigned long long)epoch);
      break;
    }
    status = check_named_tables(db, seg, named->parts[p].size_bytes, epoch, err);
  }
  pthread_mutex_unlock(&db->lock);
  return status;
}

sl_status sl_tsdb_open(const sl_tsdb_options *options, sl_tsdb **out, sl_error *err) {
  assert(options != NULL && out != NULL);
  *out = NULL;
  if (options->directory == NULL || options->shard_count == 0 || options->shard_count > SL_TSDB_MAX_SHARDS ||
      options->kind_count == 0 || options->kind_count > SL_TSDB_MAX_KINDS || options->segment_interval_ms <= 0) {
    return sl_error_set(err, SL_ERR_INVALID, "store: a directory, 1..%d shards, 1..%d table kinds and a segment interval are needed",
                        SL_TSDB_MAX_SHARDS, SL_TSDB_MAX_KINDS);
  }
  for (uint32_t k = 0; k < options->kind_count; k++) {
    SL_TRY(sl_layout_validate(&options->layouts[k], err));
  }
  sl_tsdb *db = calloc(1, sizeof *db);
  if (db == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  db->options = *options;
#ifdef __GLIBC__
  db->heap_free_baseline_bytes = mallinfo2().fordblks;
#endif
  if (db->options.memory_bytes_limit == 0) {
    db->options.memory_bytes_limit = 64ULL << 20;
  }
  if (db->options.max_memory_parts == 0) {
    db->options.max_memory_parts = 16;
  }
  if (db->options.max_file_parts == 0) {
    db->options.max_file_parts = 64;
  }
  if (db->options.merge_policy.max_parts < 2) {
    sl_merge_policy_default(&db->options.merge_policy);
  }
  sl_fileio_path(db->dir, sizeof db->dir, "%s", options->directory);
  sl_fileio_path(db->wal_dir, sizeof db->wal_dir, "%s/wal", options->directory);
  db->options.directory = db->dir;
  db->max_timestamp_ms = INT64_MIN;
  atomic_init(&db->next_part_id, 1);
  atomic_init(&db->expired_rows, 0);
  pthread_mutex_init(&db->lock, NULL);
  pthread_mutex_init(&db->flush_lock, NULL);
  pthread_cond_init(&db->turn, NULL);
  pthread_cond_init(&db->drained, NULL);
  pthread_cond_init(&db->wake, NULL);
  sl_status status = sl_fileio_ensure_dir(db->dir, err);
  /* The store checkpoint first: a table's open tells an interrupted flush (records past it, still
   * in the WAL) from a part whose snapshot is lost (records up to it, nowhere else). */
  sl_snapshot store = {0};
  sl_snapshot_load_result result = {0};
  bool wal_in_use = false;
  if (status == SL_OK) {
    status = sl_snapshot_load_latest(db->dir, true, &store, &result, err);
  }
  if (status == SL_OK) {
    if (result.warning[0] != '\0') {
      fprintf(stderr, "spanlab: %s\n", result.warning);
    }
    db->epoch = result.newest_epoch_seen;
    db->checkpoint = result.found ? store.wal_sequence : 0;
    db->introduced = db->checkpoint;
    wal_in_use = result.found && (store.flags & SL_SNAPSHOT_WAL_IN_USE) != 0;
    atomic_init(&db->wal_in_use, wal_in_use && db->options.wal_enabled);
  }
  /* The segments the newest store snapshot names, checked once the WAL is replayed. */
  sl_snapshot named = store;
  store = (sl_snapshot){0};
  if (status == SL_OK) {
    status = load_segments(db, err);
  }
  if (status == SL_OK && db->options.wal_enabled) {
    if (db->options.replay == NULL) {
      status = sl_error_set(err, SL_ERR_INTERNAL, "store: a WAL needs a replay callback");
    }
    replay_state replay = {.db = db};
    sl_wal_replay_result replayed = {0};
    if (status == SL_OK) {
      status = sl_wal_replay(db->wal_dir, db->checkpoint, replay_record, &replay, &replayed, err);
    }
    if (status == SL_OK && (replayed.torn_bytes_truncated > 0 || replayed.header_torn)) {
      /* A record cut by a crash was never acknowledged (batch sync acknowledges after fdatasync),
       * so cutting it is right; but damage looks the same, and a cut is never silent. */
      fprintf(stderr,
              "spanlab: store %s: WAL %s: %s %llu bytes cut: a write torn by a crash, or damage; records after "
              "sequence %llu, if any were acknowledged, are lost\n",
              db->dir, db->wal_dir, replayed.header_torn ? "its last segment has no intact header," : "its last",
              (unsigned long long)replayed.torn_bytes_truncated,
              (unsigned long long)(replayed.last_sequence > db->checkpoint ? replayed.last_sequence : db->checkpoint));
    }
    if (status == SL_OK && wal_in_use && replayed.segments_found == 0) {
      /* Opening would start a new WAL over the loss, and the next checkpoint would hide it. */
      status = sl_error_set(err, SL_ERR_CORRUPT,
                            "WAL %s holds no segment, but the newest store snapshot (epoch %llu) was written "
                            "while it was in use: the records after sequence %llu, if any were acknowledged, "
                            "are in no part (was the WAL deleted or moved?); put its seg*.wal files back to "
                            "open the store",
                            db->wal_dir, (unsigned long long)db->epoch, (unsigned long long)db->checkpoint);
    }
    if (status == SL_OK) {
      db->stats.replayed_records = replay.records;
      sl_wal_options wal_options;
      sl_wal_options_default(&wal_options);
      wal_options.sync_mode = db->options.sync_mode;
      wal_options.interval_ms = db->options.sync_interval_ms > 0 ? db->options.sync_interval_ms : 100;
      wal_options.min_next_sequence = db->checkpoint + 1;
      wal_options.segment_size_bytes = db->options.wal_segment_bytes > 0 ? db->options.wal_segment_bytes : 64ULL << 20;
      /* Enough recycled segments for the records of a flush cycle (docs/FORMAT.md "Recycled segments"). */
      uint64_t recycle = 2 * db->options.memory_bytes_limit / wal_options.segment_size_bytes + 2;
      wal_options.recycle_segments = (uint32_t)(recycle < 64 ? recycle : 64);
      status = sl_wal_open(db->wal_dir, &wal_options, &db->wal, err);
    }
    if (status == SL_OK) {
      uint64_t last = sl_wal_last_sequence(db->wal);
      db->introduced = last > db->introduced ? last : db->introduced;
    }
  }
  if (status == SL_OK) {
    status = check_named_segments(db, &named, named.epoch, err);
  }
  sl_snapshot_free(&named);
  if (status == SL_OK) {
    remove_unnamed_parts(db);
  }
  if (status == SL_OK) {
    status = sl_tsdb_apply_retention(db, err); /* after the check: it writes a store snapshot */
  }
  if (status == SL_OK && db->options.background) {
    if (pthread_create(&db->flusher, NULL, flusher_main, db) != 0) {
      status = sl_error_set(err, SL_ERR_INTERNAL, "store: cannot start the flush thread");
    } else if (pthread_create(&db->merger, NULL, merger_main, db) != 0) {
      pthread_mutex_lock(&db->lock);
      db->stop = true;
      pthread_cond_broadcast(&db->wake);
      pthread_mutex_unlock(&db->lock);
      pthread_join(db->flusher, NULL);
      status = sl_error_set(err, SL_ERR_INTERNAL, "store: cannot start the merge thread");
    } else {
      db->threads_started = true;
    }
  }
  if (status != SL_OK) {
    sl_error ignored;
    sl_tsdb_close(db, false, &ignored);
    return sl_error_prefix(err, "store %s", options->directory);
  }
  *out = db;
  return SL_OK;
}

sl_status sl_tsdb_close(sl_tsdb *db, bool flush, sl_error *err) {
  if (db == NULL) {
    return SL_OK;
  }
  sl_status status = SL_OK;
  if (db->threads_started) {
    pthread_mutex_lock(&db->lock);
    db->stop = true;
    pthread_cond_broadcast(&db->wake);
    pthread_cond_broadcast(&db->drained);
    pthread_mutex_unlock(&db->lock);
    pthread_join(db->flusher, NULL);
    pthread_join(db->merger, NULL);
    db->threads_started = false;
  }
  if (flush && !db->background_failed) {
    status = flush_cycle(db, err);
  }
  if (db->wal != NULL) {
    sl_error close_err;
    sl_status closed = sl_wal_close(db->wal, &close_err);
    if (status == SL_OK && closed != SL_OK) {
      *err = close_err;
      status = closed;
    }
    db->wal = NULL;
  }
  size_t per_segment = (size_t)db->options.shard_count * db->options.kind_count;
  for (size_t s = 0; s < db->segment_count; s++) {
    for (size_t k = 0; k < per_segment; k++) {
      table_free(db->segments[s]->tables[k]);
    }
    free(db->segments[s]->tables);
    free(db->segments[s]);
  }
  for (size_t s = 0; s < db->dead_count; s++) {
    for (size_t k = 0; k < per_segment; k++) {
      table_free(db->dead[s]->tables[k]);
    }
    free(db->dead[s]->tables);
    free(db->dead[s]);
  }
  free(db->segments);
  for (size_t i = 0; i < db->unnamed_part_count; i++) {
    free(db->unnamed_parts[i]); /* a refused open: left on disk */
  }
  free(db->unnamed_parts);
  free(db->dead);
  pthread_mutex_destroy(&db->lock);
  pthread_mutex_destroy(&db->flush_lock);
  pthread_cond_destroy(&db->turn);
  pthread_cond_destroy(&db->drained);
  pthread_cond_destroy(&db->wake);
  free(db);
  return status;
}

/* ------------------------------------------------------------------ storage breakdown */

static const char *column_type_name(sl_column_type type) {
  switch (type) {
    case SL_COLUMN_INT64: return "int64";
    case SL_COLUMN_TIMESTAMP: return "timestamp";
    case SL_COLUMN_STRING: return "string";
    default: return "binary";
  }
}

static void add_number(json_t *object, const char *key, double value) {
  json_t *old = json_object_get(object, key);
  json_object_set_new(object, key, json_real((old != NULL ? json_number_value(old) : 0) + value));
}

static void add_figures(json_t *parent, const char *key, const char *type, const sl_column_stats *stats) {
  json_t *entry = json_object_get(parent, key);
  if (entry == NULL) {
    entry = json_object();
    json_object_set_new(parent, key, entry);
    if (type != NULL) {
      json_object_set_new(entry, "type", json_string(type));
    }
  }
  add_number(entry, "raw_bytes", (double)stats->raw_bytes);
  add_number(entry, "encoded_bytes", (double)stats->encoded_bytes);
  add_number(entry, "stored_bytes", (double)stats->stored_bytes);
}

static void finish_ratios(json_t *group) {
  const char *key;
  json_t *entry;
  json_object_foreach(group, key, entry) {
    double raw = json_number_value(json_object_get(entry, "raw_bytes"));
    double stored = json_number_value(json_object_get(entry, "stored_bytes"));
    json_object_set_new(entry, "compression_ratio", json_real(stored > 0 ? raw / stored : 0));
    json_object_set_new(entry, "stored_share_of_raw", json_real(raw > 0 ? stored / raw : 0));
  }
}

static uint64_t snapshot_bytes(const char *dir) {
  DIR *handle = opendir(dir);
  uint64_t total = 0;
  for (struct dirent *entry = handle != NULL ? readdir(handle) : NULL; entry != NULL; entry = readdir(handle)) {
    if (strstr(entry->d_name, ".snp") != NULL || strcmp(entry->d_name, "store.json") == 0) {
      char path[PATH_BYTES];
      struct stat info;
      if (sl_fileio_path(path, sizeof path, "%s/%s", dir, entry->d_name) && stat(path, &info) == 0) {
        total += (uint64_t)info.st_size;
      }
    }
  }
  if (handle != NULL) {
    closedir(handle);
  }
  return total;
}

json_t *sl_tsdb_storage_json(sl_tsdb *db, const char *const *kind_names) {
  sl_tsdb_view *view = NULL;
  sl_error err;
  /* The WAL's bytes below are what it keeps once its given-up segments are gone (a failure to
   * delete one leaves it counted, and stays for sl_tsdb_settle's caller to report). */
  if (db->wal != NULL) {
    sl_wal_await_removals(db->wal);
  }
  if (sl_tsdb_acquire(db, INT64_MIN, INT64_MAX, UINT32_MAX, &view, &err) != SL_OK) {
    return NULL;
  }
  json_t *root = json_object();
  json_t *by_column = json_object(), *by_type = json_object(), *by_kind = json_object(), *tables = json_array();
  uint64_t files[8] = {0}; /* data, index, bloom, metadata */
  uint64_t shard_bytes[SL_TSDB_MAX_SHARDS] = {0}, shard_rows[SL_TSDB_MAX_SHARDS] = {0};
  uint64_t parts = 0, memory_parts = 0, memory_bytes = 0, rows = 0;
  for (size_t t = 0; t < sl_tsdb_view_count(view); t++) {
    const sl_tsdb_table_view *entry_view = sl_tsdb_view_at(view, t);
    const sl_part_layout *layout = &db->options.layouts[entry_view->kind];
    uint64_t table_rows = 0, table_bytes = 0, table_parts = 0;
    for (size_t p = 0; p < entry_view->part_count; p++) {
      sl_part *part = entry_view->parts[p];
      sl_part_info info = sl_part_info_of(part);
      if (info.in_memory) {
        memory_parts++;
        memory_bytes += info.size_bytes;
        continue;
      }
      table_parts++;
      table_rows += info.rows;
      table_bytes += info.size_bytes;
      const sl_column_stats *stats = sl_part_column_stats(part);
      for (uint32_t c = 0; c < layout->column_count; c++) {
        char name[2 * SL_PART_NAME_BYTES + 2];
        if (entry_view->kind == 0 || kind_names == NULL || kind_names[entry_view->kind] == NULL) {
          snprintf(name, sizeof name, "%s", layout->columns[c].name);
        } else {
          snprintf(name, sizeof name, "%s/%s", kind_names[entry_view->kind], layout->columns[c].name);
        }
        add_figures(by_column, name, column_type_name(layout->columns[c].type), &stats[c]);
        add_figures(by_type, column_type_name(layout->columns[c].type), NULL, &stats[c]);
      }
      for (uint32_t f = 0; f < layout->file_count; f++) {
        files[0] += sl_part_file_bytes(part, SL_PART_FILE_COLUMNS, f);
      }
      for (uint32_t i = 0; i < layout->index_count; i++) {
        files[1] += sl_part_file_bytes(part, SL_PART_FILE_INDEX, i);
      }
      files[2] += sl_part_file_bytes(part, SL_PART_FILE_BLOOM, 0);
      files[3] += sl_part_file_bytes(part, SL_PART_FILE_METADATA, 0) + sl_part_file_bytes(part, SL_PART_FILE_META, 0) +
                  sl_part_file_bytes(part, SL_PART_FILE_PRIMARY, 0) + sl_part_file_bytes(part, SL_PART_FILE_SERIES, 0);
      if (entry_view->kind > 0) {
        char key[SL_PART_NAME_BYTES + 8];
        snprintf(key, sizeof key, "%s", kind_names != NULL && kind_names[entry_view->kind] != NULL ? kind_names[entry_view->kind] : "kind");
        json_t *kind_entry = json_object_get(by_kind, key);
        if (kind_entry == NULL) {
          kind_entry = json_object();
          json_object_set_new(by_kind, key, kind_entry);
        }
        add_number(kind_entry, "rows", (double)info.rows);
        add_number(kind_entry, "bytes", (double)info.size_bytes);
      }
    }
    parts += table_parts;
    if (entry_view->kind == 0) {
      rows += table_rows;
      shard_bytes[entry_view->shard] += table_bytes;
      shard_rows[entry_view->shard] += table_rows;
    }
    char segment_label[32];
    segment_name(db, entry_view->segment_start_ms, segment_label, sizeof segment_label);
    json_array_append_new(tables, json_pack("{s:s, s:i, s:s, s:I, s:I, s:I}", "segment", segment_label, "shard", (int)entry_view->shard,
                                            "kind", entry_view->kind == 0 ? "main" : (kind_names != NULL && kind_names[entry_view->kind] ? kind_names[entry_view->kind] : "kind"),
                                            "parts", (json_int_t)table_parts, "rows", (json_int_t)table_rows,
                                            "bytes", (json_int_t)table_bytes));
  }
  sl_tsdb_release(view);
  finish_ratios(by_column);
  finish_ratios(by_type);
  /* Snapshot files of the store and of every table. */
  uint64_t snapshots = snapshot_bytes(db->dir);
  pthread_mutex_lock(&db->lock);
  for (size_t s = 0; s < db->segment_count; s++) {
    for (size_t k = 0; k < (size_t)db->options.shard_count * db->options.kind_count; k++) {
      if (db->segments[s]->tables[k] != NULL) {
        snapshots += snapshot_bytes(db->segments[s]->tables[k]->dir);
      }
    }
  }
  sl_tsdb_stats stats = db->stats;
  pthread_mutex_unlock(&db->lock);
  uint64_t wal = directory_bytes(db->wal_dir);
  json_t *file_kinds = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "data", (json_int_t)files[0], "index", (json_int_t)files[1],
                                 "bloom", (json_int_t)files[2], "metadata", (json_int_t)files[3], "snapshots",
                                 (json_int_t)snapshots, "wal", (json_int_t)wal);
  uint64_t total = files[0] + files[1] + files[2] + files[3] + snapshots;
  double mean = 0, max = 0;
  json_t *shards = json_array();
  for (uint32_t s = 0; s < db->options.shard_count; s++) {
    mean += (double)shard_bytes[s] / db->options.shard_count;
    max = (double)shard_bytes[s] > max ? (double)shard_bytes[s] : max;
    json_array_append_new(shards, json_pack("{s:i, s:I, s:I}", "shard", (int)s, "rows", (json_int_t)shard_rows[s], "bytes",
                                            (json_int_t)shard_bytes[s]));
  }
  uint64_t written = stats.flush_bytes + stats.merge_bytes_out;
  json_object_set_new(root, "by_tag", by_column);
  json_object_set_new(root, "by_type", by_type);
  json_object_set_new(root, "by_file_kind", file_kinds);
  json_object_set_new(root, "by_index_kind", by_kind);
  json_object_set_new(root, "stored_bytes", json_integer((json_int_t)total));
  json_object_set_new(root, "index_share", json_real(total > 0 ? (double)(files[1] + files[2]) / (double)total : 0));
  json_object_set_new(root, "rows", json_integer((json_int_t)rows));
  json_object_set_new(root, "parts", json_integer((json_int_t)parts));
  json_object_set_new(root, "memory_parts", json_integer((json_int_t)memory_parts));
  json_object_set_new(root, "memory_part_bytes", json_integer((json_int_t)memory_bytes));
  json_object_set_new(root, "shards", shards);
  json_object_set_new(root, "shard_skew", json_real(mean > 0 ? max / mean : 0));
  json_object_set_new(root, "tables", tables);
  json_object_set_new(root, "merges",
                      json_pack("{s:I, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f}", "write_stalls",
                                (json_int_t)stats.write_stalls, "write_stall_seconds", (double)stats.write_stall_ns / 1e9,
                                "flushes", (json_int_t)stats.flushes,
                                "flush_bytes", (json_int_t)stats.flush_bytes, "merges", (json_int_t)stats.merges,
                                "bytes_rewritten", (json_int_t)stats.merge_bytes_out, "blocks_copied",
                                (json_int_t)stats.blocks_copied, "blocks_rewritten", (json_int_t)stats.blocks_rewritten,
                                "write_amplification", total > 0 ? (double)written / (double)total : 0.0,
                                "flush_compress_seconds", (double)stats.flush_compress_ns / 1e9,
                                "merge_compress_seconds", (double)stats.merge_compress_ns / 1e9));
  if (db->wal != NULL) {
    sl_wal_stats wal_stats;
    sl_wal_stats_get(db->wal, &wal_stats);
    json_object_set_new(
        root, "wal",
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:f, s:f, s:f, s:f, s:f}}", "records",
                  (json_int_t)wal_stats.records, "bytes_written", (json_int_t)wal_stats.bytes_written, "write_calls",
                  (json_int_t)wal_stats.write_calls, "direct_write_calls", (json_int_t)wal_stats.direct_write_calls,
                  "fsyncs", (json_int_t)wal_stats.fsyncs, "segments_created", (json_int_t)wal_stats.segments_created,
                  "segments_recycled", (json_int_t)wal_stats.segments_recycled, "segments_deleted",
                  (json_int_t)wal_stats.segments_deleted, "seconds", "groups", (double)wal_stats.group_ns / 1e9,
                  "stage", (double)wal_stats.stage_ns / 1e9, "write", (double)wal_stats.write_ns / 1e9, "fdatasync",
                  (double)wal_stats.sync_ns / 1e9, "rotate", (double)wal_stats.rotate_ns / 1e9));
  }
  json_object_set_new(root, "write_seconds",
                      json_pack("{s:f, s:f, s:f}", "build", (double)stats.write_build_ns / 1e9, "log",
                                (double)stats.write_log_wait_ns / 1e9, "stall", (double)stats.write_stall_ns / 1e9));
  return root;
}
