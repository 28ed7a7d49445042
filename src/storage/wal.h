/*
 * wal.h: the write-ahead log shared by the Stream and Trace engines (docs/FORMAT.md).
 *
 * A WAL is a directory of segment files holding checksummed records, each an opaque payload from
 * the engine with a sequence number given by the WAL. sl_wal_append returns only once the record
 * is durable under the sync mode:
 *   none      after write(2): survives a process crash, not a power failure;
 *   batch     after fdatasync (default). Concurrent appenders are grouped: one of them writes the
 *             whole group with one write and one fdatasync, then wakes the others (group commit);
 *   interval  after write(2); a background thread fdatasyncs every interval_ms.
 *
 * Ownership: sl_wal_open returns a handle the caller frees with sl_wal_close. Payloads are
 * borrowed for the duration of sl_wal_append (copied before it returns). Replay hands the callback
 * a payload that is valid only during the call.
 *
 * Threads: sl_wal_append, sl_wal_sync, sl_wal_truncate_before and sl_wal_stats_get may be called
 * from any number of threads at once; sl_wal_close must not race with them. sl_wal_replay and
 * sl_wal_open must not run on a directory that another open handle appends to.
 *
 * Recovery, in order: load the latest snapshot (covering sequence S, 0 if none); sl_wal_replay(dir,
 * S, ...); sl_wal_open(dir, {.min_next_sequence = S + 1}). After publishing a snapshot, call
 * sl_wal_truncate_before(wal, C + 1) where C is the covered sequence of the OLDEST snapshot kept.
 */
#ifndef SPANLAB_STORAGE_WAL_H
#define SPANLAB_STORAGE_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spanlab/error.h"

typedef enum sl_wal_sync_mode {
  SL_WAL_SYNC_NONE = 0,
  SL_WAL_SYNC_BATCH = 1,
  SL_WAL_SYNC_INTERVAL = 2
} sl_wal_sync_mode;

enum {
  SL_WAL_SEGMENT_HEADER_BYTES = 40,
  SL_WAL_RECORD_OVERHEAD_BYTES = 24,        /* 16-byte record header + 8-byte checksum */
  SL_WAL_MAX_PAYLOAD_BYTES = 256 << 20,     /* 256 MiB */
  SL_WAL_BATCH_HISTOGRAM_BUCKETS = 10       /* group sizes 1, 2-3, 4-7, ..., 256-511, >= 512 */
};

typedef struct sl_wal_options {
  sl_wal_sync_mode sync_mode;  /* default SL_WAL_SYNC_BATCH */
  uint32_t interval_ms;        /* interval mode: fdatasync period; default 100 */
  uint64_t segment_size_bytes; /* rotate past this; default 64 MiB, at least 4 KiB */
  uint64_t min_next_sequence;  /* the next sequence is at least this (snapshot covered + 1) */
  uint32_t recycle_segments;   /* truncated segments kept for rotation to overwrite (default 0) */
  bool direct_io;              /* write segments with O_DIRECT where the file system takes it
                                  (default true; docs/FORMAT.md "Direct I/O") */
} sl_wal_options;

/* Counters since sl_wal_open. */
typedef struct sl_wal_stats {
  uint64_t records;              /* acknowledged appends */
  uint64_t payload_bytes;        /* their payload bytes */
  uint64_t bytes_written;        /* bytes written to segments (headers and checksums included) */
  uint64_t write_calls;          /* group writes */
  uint64_t fsyncs;               /* fdatasync/fsync calls on segments and the directory */
  uint64_t failed_appends;       /* appends that returned an error */
  uint64_t segments_created;
  uint64_t segments_deleted;
  uint64_t segments_recycled;    /* segments started by overwriting a recycled file */
  uint64_t direct_write_calls;   /* group writes that went to the file with O_DIRECT */
  uint64_t batch_records_max;    /* largest group committed by one write */
  /* Where the leaders' time went (nanoseconds, every group, failed ones too): */
  uint64_t group_ns;             /* writing groups: everything below and the rest (framing) */
  uint64_t stage_ns;             /* copying records into the staging chunks and hashing them
                                    (direct I/O), or hashing them (buffered) */
  uint64_t write_ns;             /* waiting for the data writes (chunk writes, pwrite/pwritev) */
  uint64_t sync_ns;              /* batch mode: the groups' fdatasync */
  uint64_t rotate_ns;            /* rotations on the write path (seal, new segment, fsyncs) */
  uint64_t batch_histogram[SL_WAL_BATCH_HISTOGRAM_BUCKETS]; /* groups by record count */
} sl_wal_stats;

/* Summary of a replay. */
typedef struct sl_wal_replay_result {
  uint64_t records_replayed;     /* records called back (sequence > after) */
  uint64_t last_sequence;        /* last intact sequence in the WAL (0 if none) */
  uint64_t segments_read;
  uint64_t segments_found;       /* segment files in the directory (0: no WAL there) */
  uint64_t torn_bytes_truncated; /* bytes removed from the last segment's tail */
  bool header_torn;              /* the last segment had no intact header (an empty file too) */
} sl_wal_replay_result;

/* Called for each record in order; a status other than SL_OK stops the replay and is returned. */
typedef sl_status (*sl_wal_record_fn)(void *context, uint64_t sequence, const uint8_t *payload,
                                      size_t size_bytes, sl_error *err);

typedef struct sl_wal sl_wal;

void sl_wal_options_default(sl_wal_options *options);
const char *sl_wal_sync_mode_name(sl_wal_sync_mode mode);
/* "none", "batch" or "interval". */
sl_status sl_wal_sync_mode_parse(const char *name, sl_wal_sync_mode *mode_out, sl_error *err);

/* Opens (creating if needed) the WAL in dir; truncates a torn tail of the last segment. options may
 * be NULL for the defaults. */
sl_status sl_wal_open(const char *dir, const sl_wal_options *options, sl_wal **wal_out,
                      sl_error *err);

/* Appends one record; on SL_OK *sequence_out (may be NULL) holds its sequence and the record is
 * durable per the sync mode. On failure the record is not acknowledged, and it is cut from the
 * segment so that it is not replayed (unless that truncate failed too; the WAL then refuses
 * every later append). A failed write (SL_ERR_NOSPACE when the disk is full) leaves the WAL usable;
 * a failed fdatasync makes the failure sticky: reopen the WAL to recover. */
sl_status sl_wal_append(sl_wal *wal, const void *payload, size_t size_bytes,
                        uint64_t *sequence_out, sl_error *err);

/* The same append in two steps, so that the caller can work while the record is written:
 * sl_wal_submit queues the record (a writer thread writes it, grouped with other appenders') and
 * returns at once; sl_wal_wait returns what sl_wal_append would have, and frees the ticket.
 * The payload stays borrowed until sl_wal_wait returns; every ticket must be waited for, and
 * before sl_wal_close. Records are numbered in submission order. */
typedef struct sl_wal_ticket sl_wal_ticket;
sl_status sl_wal_submit(sl_wal *wal, const void *payload, size_t size_bytes, sl_wal_ticket **ticket_out,
                        sl_error *err);
sl_status sl_wal_wait(sl_wal *wal, sl_wal_ticket *ticket, uint64_t *sequence_out, sl_error *err);

/* sl_wal_submit of one record whose payload is pieces[0..piece_count) joined (nothing is copied to
 * join them). Both the pieces array and the bytes it points to stay borrowed until sl_wal_wait
 * returns (a single piece is copied into the ticket). */
struct iovec;
sl_status sl_wal_submitv(sl_wal *wal, const struct iovec *pieces, size_t piece_count, sl_wal_ticket **ticket_out,
                         sl_error *err);

/* Makes every record appended so far durable (fdatasync), whatever the sync mode. */
sl_status sl_wal_sync(sl_wal *wal, sl_error *err);

/* Deletes every segment except the current one whose records all have sequences below
 * first_needed_sequence. Up to options.recycle_segments of them are kept (renamed free*.wal) for
 * rotation to overwrite in place: on this kind of file system a write into blocks already
 * allocated costs a fraction of one that allocates (docs/FORMAT.md "Recycled segments"). */
sl_status sl_wal_truncate_before(sl_wal *wal, uint64_t first_needed_sequence, sl_error *err);

/* Gives up the recycled segments kept by sl_wal_truncate_before (a checkpoint at rest: the disk then
 * holds only the WAL's records): rotation no longer reuses them, and a background thread deletes
 * them without the caller waiting (an unlink frees the file's blocks: 10-17 ms for 64 MiB here,
 * docs/FORMAT.md "Recycled segments"). An error is only for deleting them on the caller's thread,
 * when the thread cannot be started. sl_wal_close deletes the pool too. */
sl_status sl_wal_release_recycled(sl_wal *wal, sl_error *err);

/* Waits until every file sl_wal_release_recycled gave up is deleted and the directory fsynced;
 * returns the first failure of that since the last call, once. A file left behind is only that (it
 * stays, and the next sl_wal_open reuses or deletes it; sl_wal_close prints such a failure not yet
 * returned here to stderr and does not fail for it: no record is in those files). A failed fsync of
 * the directory also makes the WAL refuse appends (docs/FORMAT.md "Recycled segments"). */
sl_status sl_wal_settle(sl_wal *wal, sl_error *err);

/* Waits as sl_wal_settle does, but leaves a failure for sl_wal_settle to return (for readers of the
 * WAL's disk use, which must not swallow the error their caller is to report). */
void sl_wal_await_removals(sl_wal *wal);

/* Seals the current segment and starts an empty one when it holds records, so that
 * sl_wal_truncate_before can delete everything a snapshot covers.  A failed fdatasync is sticky. */
sl_status sl_wal_rotate(sl_wal *wal, sl_error *err);

/* The sequence of the last acknowledged record (or the chain end at open), 0 if none. */
uint64_t sl_wal_last_sequence(sl_wal *wal);

void sl_wal_stats_get(sl_wal *wal, sl_wal_stats *stats_out);

/* Syncs (every mode), stops the interval thread, closes files and frees the handle (also on
 * error). NULL is allowed. */
sl_status sl_wal_close(sl_wal *wal, sl_error *err);

/* Validates the segments holding records after after_sequence, truncates a torn tail of the last
 * segment, then calls back each record with sequence > after_sequence in order. Nothing is called
 * back when validation fails. A missing directory is an empty WAL. result may be NULL. */
sl_status sl_wal_replay(const char *dir, uint64_t after_sequence, sl_wal_record_fn callback,
                        void *context, sl_wal_replay_result *result, sl_error *err);

/* ---- Internal, exposed for the fuzzer and tests: one segment decoded from memory. ---- */

typedef struct sl_wal_segment_info {
  bool header_valid;
  uint64_t first_sequence;     /* from the header (when valid) */
  uint64_t previous_sequence;  /* from the header (when valid) */
  uint64_t record_count;
  uint64_t last_sequence;      /* chain end: last record, else first_sequence - 1 */
  uint64_t valid_end_offset;   /* end of the last intact record (0 if the header is torn) */
  bool torn_tail;              /* bytes after valid_end_offset are a torn tail */
} sl_wal_segment_info;

/* Decodes a segment held in memory. name is used in errors. If is_last_segment, a torn tail is
 * accepted (info->torn_tail); otherwise any bad record is SL_ERR_CORRUPT. Records with sequence >
 * after_sequence are passed to callback (may be NULL) as they are decoded. */
sl_status sl_wal_segment_decode(const uint8_t *data, size_t size_bytes, const char *name,
                                bool is_last_segment, uint64_t after_sequence,
                                sl_wal_record_fn callback, void *context,
                                sl_wal_segment_info *info, sl_error *err);

/* Encodes a segment header / one record into out (40 bytes / 24 + size_bytes). For tests and tools. */
void sl_wal_encode_segment_header(uint64_t first_sequence, uint64_t previous_sequence,
                                  uint8_t out[SL_WAL_SEGMENT_HEADER_BYTES]);
void sl_wal_encode_record(uint64_t sequence, const void *payload, size_t size_bytes, uint8_t *out);

#endif
