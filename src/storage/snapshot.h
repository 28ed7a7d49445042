/*
 * snapshot.h: snapshot (manifest) files, docs/FORMAT.md "Snapshot files".
 *
 * A snapshot names the parts that make up a directory's durable data and the WAL sequence they
 * cover. Publishing one is the atomic step that makes new parts visible: the engine fsyncs the
 * parts' files, then calls sl_snapshot_write (tmp file, fsync, rename, directory fsync).
 *
 * Ownership: an sl_snapshot owns its parts array and every part name (sl_snapshot_free releases
 * them). Functions that take a const sl_snapshot borrow it.
 */
#ifndef SPANLAB_STORAGE_SNAPSHOT_H
#define SPANLAB_STORAGE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spanlab/error.h"

enum {
  SL_SNAPSHOT_HEADER_BYTES = 48,
  SL_SNAPSHOT_MAX_PARTS = 1000000,
  SL_SNAPSHOT_MAX_NAME_BYTES = 255,
  SL_SNAPSHOT_MAX_FILE_BYTES = 64 << 20,
  SL_SNAPSHOT_DEFAULT_KEEP = 2
};

typedef struct sl_snapshot_part {
  char *name; /* owned, NUL-terminated */
  uint64_t size_bytes;
} sl_snapshot_part;

/* Snapshot flags (docs/FORMAT.md "Store snapshots"). */
enum {
  /* A store snapshot written while records past wal_sequence may be in the store's WAL: the WAL
   * has been written since the last checkpoint that emptied it. */
  SL_SNAPSHOT_WAL_IN_USE = 1u
};

typedef struct sl_snapshot {
  uint64_t epoch;           /* grows with every snapshot of a directory */
  uint32_t flags;           /* SL_SNAPSHOT_* */
  uint64_t wal_sequence;    /* every WAL record up to it is in the parts */
  int64_t created_unix_ms;
  size_t part_count;
  sl_snapshot_part *parts;  /* owned */
} sl_snapshot;

typedef struct sl_snapshot_load_result {
  bool found;                  /* a valid snapshot was loaded */
  uint64_t newest_epoch_seen;  /* the highest epoch of any .snp file, valid or not */
  uint64_t oldest_kept_wal_sequence; /* smallest wal_sequence among valid snapshots (for WAL truncation) */
  uint32_t corrupt_skipped;    /* newer snapshots that failed validation */
  char warning[SL_ERROR_MESSAGE_BYTES]; /* why the newest was skipped, "" if none */
} sl_snapshot_load_result;

void sl_snapshot_free(sl_snapshot *snapshot);

/* Appends a part (the name is copied). */
sl_status sl_snapshot_add_part(sl_snapshot *snapshot, const char *name, uint64_t size_bytes,
                               sl_error *err);

/* "%016x.snp" of the epoch into out (at least 21 bytes). */
void sl_snapshot_file_name(uint64_t epoch, char *out, size_t out_bytes);

/* Encodes to a malloc'ed buffer (caller frees). Checks names (1..255 bytes, no '/', not "." or
 * "..", unique) and counts. */
sl_status sl_snapshot_encode(const sl_snapshot *snapshot, uint8_t **data_out, size_t *size_out,
                             sl_error *err);

/* Decodes and fully validates; name is used in errors ("snapshot NAME: offset N: why"). On failure
 * *out is empty. */
sl_status sl_snapshot_decode(const uint8_t *data, size_t size_bytes, const char *name,
                             sl_snapshot *out, sl_error *err);

/* Reads and validates one file; the epoch must match the file name when it is EPOCH.snp. */
sl_status sl_snapshot_read_file(const char *path, sl_snapshot *out, sl_error *err);

/* Publishes the snapshot in dir (tmp + fsync + rename + fsync dir), then prunes: keeps it and the
 * newest keep_count - 1 older valid snapshots, removes the rest and stale .tmp files. The epoch
 * must be above every existing snapshot's. keep_count 0 means SL_SNAPSHOT_DEFAULT_KEEP. */
sl_status sl_snapshot_write(const char *dir, const sl_snapshot *snapshot, uint32_t keep_count,
                            sl_error *err);

/* Loads the newest valid snapshot of dir. With no snapshot file, SL_OK and result->found false.
 * If the newest is corrupt: with allow_fallback, the newest valid older one is loaded and
 * result->warning names the bad file and offset; without, the error is returned. */
sl_status sl_snapshot_load_latest(const char *dir, bool allow_fallback, sl_snapshot *out,
                                  sl_snapshot_load_result *result, sl_error *err);

#endif
