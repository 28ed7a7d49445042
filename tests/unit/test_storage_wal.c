/* test_storage_wal.c: the write-ahead log. Records round-trip across segments; replay starts
 * after a given sequence; a torn tail is cut while corruption in the middle is an error naming the
 * file and offset; concurrent appenders get unique increasing sequences and share fsyncs (group
 * commit); each sync mode syncs as documented; a full disk gives SL_ERR_NOSPACE and loses nothing
 * acknowledged; a failed fsync makes the WAL refuse appends. Every test runs twice: segments
 * written with O_DIRECT (the default, where the file system takes it) and buffered. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/timeutil.h"
#include "storage/fileio.h"
#include "storage/wal.h"
#include "test_support.h"

enum { PATH_BYTES = 4200, MAX_RECORDS = 20000 };

/* The group being run: segments written with O_DIRECT (sl_wal_options.direct_io) or buffered. */
static bool direct_io = true;

/* ---- Deterministic payloads: record i has a size and bytes derived from (key, i). ---- */

static uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

static size_t payload_size(uint64_t key, size_t max_bytes) {
  return 8 + (size_t)(mix(key) % (max_bytes - 8 + 1));
}

/* First 8 bytes: the key; then bytes derived from it. */
static void fill_payload(uint64_t key, uint8_t *out, size_t size_bytes) {
  assert_true(size_bytes >= 8);
  memcpy(out, &key, 8);
  uint64_t state = mix(key + 1);
  for (size_t i = 8; i < size_bytes; i++) {
    if ((i & 7) == 0) {
      state = mix(state);
    }
    out[i] = (uint8_t)(state >> (8 * (i & 7)));
  }
}

static bool payload_intact(const uint8_t *payload, size_t size_bytes, uint64_t *key_out) {
  if (size_bytes < 8) {
    return false;
  }
  uint64_t key;
  memcpy(&key, payload, 8);
  uint8_t *expected = malloc(size_bytes);
  assert_non_null(expected);
  fill_payload(key, expected, size_bytes);
  bool same = memcmp(expected, payload, size_bytes) == 0;
  free(expected);
  *key_out = key;
  return same;
}

/* ---- Collecting replayed records ---- */

typedef struct collected {
  size_t count;
  uint64_t sequences[MAX_RECORDS];
  uint64_t keys[MAX_RECORDS];
  size_t sizes[MAX_RECORDS];
  bool all_intact;
} collected;

static collected replayed;

static sl_status collect(void *context, uint64_t sequence, const uint8_t *payload,
                         size_t size_bytes, sl_error *err) {
  (void)err;
  collected *into = context;
  assert_true(into->count < MAX_RECORDS);
  uint64_t key = 0;
  if (!payload_intact(payload, size_bytes, &key)) {
    into->all_intact = false;
  }
  into->sequences[into->count] = sequence;
  into->keys[into->count] = key;
  into->sizes[into->count] = size_bytes;
  into->count++;
  return SL_OK;
}

static sl_status replay_into(const char *dir, uint64_t after, sl_wal_replay_result *result,
                             sl_error *err) {
  memset(&replayed, 0, sizeof replayed);
  replayed.all_intact = true;
  return sl_wal_replay(dir, after, collect, &replayed, result, err);
}

static sl_wal *open_wal(const char *dir, sl_wal_sync_mode mode, uint64_t segment_size_bytes) {
  sl_wal_options options;
  sl_wal_options_default(&options);
  options.direct_io = direct_io;
  options.sync_mode = mode;
  options.segment_size_bytes = segment_size_bytes;
  sl_wal *wal = NULL;
  sl_error err;
  sl_status status = sl_wal_open(dir, &options, &wal, &err);
  if (status != SL_OK) {
    fail_msg("open %s: %s", dir, err.message);
  }
  return wal;
}

/* Appends records with keys first_key.. and returns their sequences. */
static void append_records(sl_wal *wal, uint64_t first_key, size_t count, size_t max_bytes,
                           uint64_t *sequences) {
  uint8_t *payload = malloc(max_bytes);
  assert_non_null(payload);
  for (size_t i = 0; i < count; i++) {
    size_t size_bytes = payload_size(first_key + i, max_bytes);
    fill_payload(first_key + i, payload, size_bytes);
    sl_error err;
    uint64_t sequence = 0;
    sl_status status = sl_wal_append(wal, payload, size_bytes, &sequence, &err);
    if (status != SL_OK) {
      fail_msg("append %zu: %s", i, err.message);
    }
    if (sequences != NULL) {
      sequences[i] = sequence;
    }
  }
  free(payload);
}

static sl_wal *open_recycling_wal(const char *dir, uint64_t segment_size_bytes, uint32_t recycle) {
  sl_wal_options options;
  sl_wal_options_default(&options);
  options.direct_io = direct_io;
  options.segment_size_bytes = segment_size_bytes;
  options.recycle_segments = recycle;
  sl_wal *wal = NULL;
  sl_error err;
  if (sl_wal_open(dir, &options, &wal, &err) != SL_OK) {
    fail_msg("open %s: %s", dir, err.message);
  }
  return wal;
}

/* Files named prefix*.wal in dir. */
static size_t count_files(const char *dir, const char *prefix) {
  DIR *handle = opendir(dir);
  assert_non_null(handle);
  size_t count = 0;
  struct dirent *entry;
  while ((entry = readdir(handle)) != NULL) {
    size_t length = strlen(entry->d_name);
    count += strncmp(entry->d_name, prefix, strlen(prefix)) == 0 && length > 4 &&
             strcmp(entry->d_name + length - 4, ".wal") == 0;
  }
  closedir(handle);
  return count;
}

static void close_wal(sl_wal *wal) {
  sl_error err;
  assert_int_equal(sl_wal_close(wal, &err), SL_OK);
}

static size_t count_segments(const char *dir) {
  DIR *handle = opendir(dir);
  assert_non_null(handle);
  size_t count = 0;
  struct dirent *entry;
  while ((entry = readdir(handle)) != NULL) {
    size_t length = strlen(entry->d_name);
    count += strncmp(entry->d_name, "seg", 3) == 0 && length > 4 &&
             strcmp(entry->d_name + length - 4, ".wal") == 0;
  }
  closedir(handle);
  return count;
}

static void segment_file(const char *dir, uint64_t first_sequence, char *out) {
  snprintf(out, PATH_BYTES, "%s/seg%016llx.wal", dir, (unsigned long long)first_sequence);
}

static off_t file_size(const char *path) {
  struct stat info;
  assert_int_equal(stat(path, &info), 0);
  return info.st_size;
}

static void flip_byte(const char *path, off_t offset) {
  int fd = open(path, O_RDWR);
  assert_true(fd >= 0);
  uint8_t byte = 0;
  assert_int_equal(pread(fd, &byte, 1, offset), 1);
  byte ^= 0x5a;
  assert_int_equal(pwrite(fd, &byte, 1, offset), 1);
  close(fd);
}

static void truncate_to(const char *path, off_t size_bytes) {
  assert_int_equal(truncate(path, size_bytes), 0);
}

static void append_bytes(const char *path, const void *data, size_t size_bytes) {
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, data, size_bytes), (ssize_t)size_bytes);
  close(fd);
}

/* Offset of record number index (0-based) in a segment written by append_records(first_key). */
static off_t record_offset(uint64_t first_key, size_t index, size_t max_bytes) {
  off_t offset = SL_WAL_SEGMENT_HEADER_BYTES;
  for (size_t i = 0; i < index; i++) {
    offset += (off_t)(payload_size(first_key + i, max_bytes) + SL_WAL_RECORD_OVERHEAD_BYTES);
  }
  return offset;
}

/* ---- Tests ---- */

static void records_round_trip(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-roundtrip");
  sl_wal *wal = open_wal(dir, SL_WAL_SYNC_BATCH, 64 << 20);
  uint64_t sequences[300];
  append_records(wal, 1000, 300, 3000, sequences);
  assert_int_equal(sl_wal_last_sequence(wal), 300);
  sl_wal_stats stats;
  sl_wal_stats_get(wal, &stats);
  assert_int_equal(stats.records, 300);
  close_wal(wal);
  sl_wal_replay_result result;
  sl_error err;
  assert_int_equal(replay_into(dir, 0, &result, &err), SL_OK);
  assert_int_equal(replayed.count, 300);
  assert_true(replayed.all_intact);
  uint64_t payload_bytes = 0;
  for (size_t i = 0; i < 300; i++) {
    assert_int_equal(sequences[i], i + 1);
    assert_int_equal(replayed.sequences[i], i + 1);
    assert_int_equal(replayed.keys[i], 1000 + i);
    payload_bytes += replayed.sizes[i];
  }
  assert_int_equal(payload_bytes, stats.payload_bytes);
  assert_int_equal(result.last_sequence, 300);
  assert_int_equal(result.torn_bytes_truncated, 0);
  /* Reopening continues the numbering. */
  wal = open_wal(dir, SL_WAL_SYNC_BATCH, 64 << 20);
  assert_int_equal(sl_wal_last_sequence(wal), 300);
  append_records(wal, 5000, 1, 100, sequences);
  assert_int_equal(sequences[0], 301);
  close_wal(wal);
  assert_int_equal(replay_into(dir, 0, NULL, &err), SL_OK);
  assert_int_equal(replayed.count, 301);
  assert_int_equal(replayed.keys[300], 5000);
}

static void empty_and_missing_directories_replay_nothing(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-empty");
  char missing[PATH_BYTES];
  snprintf(missing, sizeof missing, "%s/never-created", dir);
  sl_error err;
  assert_int_equal(replay_into(missing, 0, NULL, &err), SL_OK);
  assert_int_equal(replayed.count, 0);
  sl_wal *wal = open_wal(missing, SL_WAL_SYNC_BATCH, 1 << 20);
  close_wal(wal);
  assert_int_equal(count_segments(missing), 1);
  assert_int_equal(replay_into(missing, 0, NULL, &err), SL_OK);
  assert_int_equal(replayed.count, 0);
}

static void rotation_spreads_records_over_segments(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-rotation");
  sl_wal *wal = open_wal(dir, SL_WAL_SYNC_NONE, 8192);
  append_records(wal, 1, 400, 600, NULL);
  /* One record bigger than a whole segment still fits (alone). */
  append_records(wal, 9999, 1, 20000, NULL);
  sl_wal_stats stats;
  sl_wal_stats_get(wal, &stats);
  close_wal(wal);
  size_t segments = count_segments(dir);
  assert_true(segments >= 15);
  assert_int_equal(stats.segments_created, segments);
  sl_error err;
  assert_int_equal(replay_into(dir, 0, NULL, &err), SL_OK);
  assert_int_equal(replayed.count, 401);
  assert_true(replayed.all_intact);
  for (size_t i = 0; i < 401; i++) {
    assert_int_equal(replayed.sequences[i], i + 1);
  }
  assert_int_equal(replayed.keys[400], 9999);
  /* Every segment except possibly the giant record's stays within limit + one group. */
  char path[PATH_BYTES];
  segment_file(dir, 1, path);
  assert_true(file_size(path) <= 8192);
}

static void replay_starts_after_the_given_sequence(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-after");
  sl_wal *wal = open_wal(dir, SL_WAL_SYNC_BATCH, 4096);
  append_records(wal, 1, 200, 400, NULL);
  close_wal(wal);
  assert_true(count_segments(dir) > 5);
  const uint64_t afters[] = {0, 1, 57, 99, 150, 199, 200, 500};
  for (size_t a = 0; a < sizeof afters / sizeof afters[0]; a++) {
    uint64_t after = afters[a];
    sl_wal_replay_result result;
    sl_error err;
    assert_int_equal(replay_into(dir, after, &result, &err), SL_OK);
    uint64_t expected = after >= 200 ? 0 : 200 - after;
    assert_int_equal(replayed.count, expected);
    assert_int_equal(result.records_replayed, expected);
    for (size_t i = 0; i < replayed.count; i++) {
      assert_int_equal(replayed.sequences[i], after + 1 + i);
      assert_int_equal(replayed.keys[i], after + 1 + i);
    }
    assert_true(replayed.all_intact);
  }
}

static void torn_tail_is_truncated_and_appends_continue(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-torn");
  char path[PATH_BYTES];
  segment_file(dir, 1, path);
  /* Three kinds of torn tail: half a record, a bad checksum on the last record, garbage. */
  for (int kind = 0; kind < 3; kind++) {
    test_temp_dir("wal-torn");
    sl_wal *wal = open_wal(dir, SL_WAL_SYNC_BATCH, 1 << 20);
    append_records(wal, 1, 20, 500, NULL);
    close_wal(wal);
    off_t full = file_size(path);
    off_t last = record_offset(1, 19, 500);
    if (kind == 0) {
      truncate_to(path, last + 30);
    } else if (kind == 1) {
      flip_byte(path, full - 3);
    } else {
      static const char garbage[] = "this is not a record, only noise at the end of the file";
      append_bytes(path, garbage, sizeof garbage);
    }
    off_t damaged = file_size(path);
    sl_wal_replay_result result;
    sl_error err;
    assert_int_equal(replay_into(dir, 0, &result, &err), SL_OK);
    uint64_t intact = kind == 2 ? 20 : 19;
    assert_int_equal(replayed.count, intact);
    assert_true(replayed.all_intact);
    off_t good_end = kind == 2 ? full : last;
    assert_int_equal(result.torn_bytes_truncated, damaged - good_end);
    assert_int_equal(file_size(path), good_end);
    /* Appends continue right after the last intact record. */
    wal = open_wal(dir, SL_WAL_SYNC_BATCH, 1 << 20);
    uint64_t sequence = 0;
    append_records(wal, 777, 1, 100, &sequence);
    assert_int_equal(sequence, intact + 1);
    close_wal(wal);
    assert_int_equal(replay_into(dir, 0, &result, &err), SL_OK);
    assert_int_equal(replayed.count, intact + 1);
    assert_int_equal(replayed.keys[intact], 777);
    assert_int_equal(result.torn_bytes_truncated, 0);
  }
}

static void open_truncates_a_torn_tail_too(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-torn-open");
  char path[PATH_BYTES];
  segment_file(dir, 1, path);
  sl_wal *wal = open_wal(dir, SL_WAL_SYNC_BATCH, 1 << 20);
  append_records(wal, 1, 5, 200, NULL);
  close_wal(wal);
  off_t last = record_offset(1, 4, 200);
  truncate_to(path, last + 5);
  wal = open_wal(dir, SL_WAL_SYNC_BATCH, 1 << 20);
  assert_int_equal(sl_wal_last_sequence(wal), 4);
  assert_int_equal(file_size(path), last);
  close_wal(wal);
}

static void torn_segment_header_is_dropped(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-torn-header");
  sl_wal *wal = open_wal(dir, SL_WAL_SYNC_BATCH, 4096);
  append_records(wal, 1, 30, 400, NULL);
  close_wal(wal);
  /* A crash just after creating the next segment: its header never reached the disk. */
  char path[PATH_BYTES];
  segment_file(dir, 31, path);
  append_bytes(path, "SLWA", 4);
  sl_error err;
  assert_int_equal(replay_into(dir, 0, NULL, &err), SL_OK);
  assert_int_equal(replayed.count, 30);
  wal = open_wal(dir, SL_WAL_SYNC_BATCH, 4096);
  uint64_t sequence = 0;
  append_records(wal, 31, 1, 100, &sequence);
  assert_int_equal(sequence, 31);
  close_wal(wal);
  assert_int_equal(replay_into(dir, 0, NULL, &err), SL_OK);
  assert_int_equal(replayed.count, 31);
}

static void corruption_in_the_middle_names_file_and_offset(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-corrupt");
  sl_wal *wal = open_wal(dir, SL_WAL_SYNC_BATCH, 1 << 20);
  append_records(wal, 1, 10, 500, NULL);
  close_wal(wal);
  char path[PATH_BYTES];
  segment_file(dir, 1, path);
  off_t fifth = record_offset(1, 4, 500);
  flip_byte(path, fifth + 20); /* inside record 5's payload */
  off_t before = file_size(path);
  sl_error err;
  assert_int_equal(replay_into(dir, 0, NULL, &err), SL_ERR_CORRUPT);
  assert_int_equal(replayed.count, 0); /* nothing is handed over from a corrupt WAL */
  char expected[PATH_BYTES + 64];
  snprintf(expected, sizeof expected, "%s: offset %lld:", path, (long long)fifth);
  if (strstr(err.message, expected) == NULL) {
    fail_msg("message \"%s\" lacks \"%s\"", err.message, expected);
  }
  assert_non_null(strstr(err.message, "checksum"));
  assert_int_equal(file_size(path), before); /* corruption is never "repaired" by truncation */
  sl_wal *refused = NULL;
  assert_int_equal(sl_wal_open(dir, NULL, &refused, &err), SL_ERR_CORRUPT);
  assert_null(refused);
}

static void damage_in_an_older_segment_is_corruption(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-corrupt-old");
  sl_wal *wal = open_wal(dir, SL_WAL_SYNC_BATCH, 4096);
  append_records(wal, 1, 40, 400, NULL);
  close_wal(wal);
  char path[PATH_BYTES];
  segment_file(dir, 1, path);
  off_t size_bytes = file_size(path);
  truncate_to(path, size_bytes - 3); /* the tail of a sealed segment is never torn */
  sl_error err;
  assert_int_equal(replay_into(dir, 0, NULL, &err), SL_ERR_CORRUPT);
  assert_non_null(strstr(err.message, path));
  assert_non_null(strstr(err.message, "offset"));
}

static void a_missing_segment_is_detected(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-missing");
  sl_wal *wal = open_wal(dir, SL_WAL_SYNC_BATCH, 4096);
  append_records(wal, 1, 60, 400, NULL);
  close_wal(wal);
  assert_true(count_segments(dir) >= 4);
  sl_error err;
  assert_int_equal(replay_into(dir, 0, NULL, &err), SL_OK);
  /* Remove the second segment: its first sequence is the second segment-file name. */
  char command[PATH_BYTES + 64];
  snprintf(command, sizeof command, "cd '%s' && rm \"$(ls seg*.wal | sed -n 2p)\"", dir);
  assert_int_equal(system(command), 0);
  assert_int_equal(replay_into(dir, 0, NULL, &err), SL_ERR_CORRUPT);
  assert_non_null(strstr(err.message, "segment is missing"));
}

static void truncate_before_removes_covered_segments(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-truncate");
  sl_wal *wal = open_wal(dir, SL_WAL_SYNC_BATCH, 4096);
  append_records(wal, 1, 100, 400, NULL);
  size_t before = count_segments(dir);
  sl_error err;
  assert_int_equal(sl_wal_truncate_before(wal, 51, &err), SL_OK);
  size_t after = count_segments(dir);
  assert_true(after < before);
  assert_true(after >= 2);
  sl_wal_stats stats;
  sl_wal_stats_get(wal, &stats);
  assert_int_equal(stats.segments_deleted, before - after);
  /* Everything from 51 on is still there; records before it may be gone. */
  assert_int_equal(replay_into(dir, 50, NULL, &err), SL_OK);
  assert_int_equal(replayed.count, 50);
  assert_int_equal(replayed.sequences[0], 51);
  /* Asking for records that were truncated away is an error, not a silent gap. */
  assert_int_equal(replay_into(dir, 0, NULL, &err), SL_ERR_CORRUPT);
  assert_non_null(strstr(err.message, "no longer in the WAL"));
  /* The current segment is never deleted. */
  assert_int_equal(sl_wal_truncate_before(wal, 1000, &err), SL_OK);
  assert_int_equal(count_segments(dir), 1);
  append_records(wal, 101, 1, 100, NULL);
  close_wal(wal);
  assert_int_equal(replay_into(dir, 100, NULL, &err), SL_OK);
  assert_int_equal(replayed.count, 1);
  assert_int_equal(replayed.sequences[0], 101);
}

static void min_next_sequence_skips_numbers_a_snapshot_covers(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-min-next");
  sl_wal_options options;
  sl_wal_options_default(&options);
  options.direct_io = direct_io;
  options.min_next_sequence = 101;
  sl_wal *wal = NULL;
  sl_error err;
  assert_int_equal(sl_wal_open(dir, &options, &wal, &err), SL_OK);
  uint64_t sequence = 0;
  append_records(wal, 1, 1, 100, &sequence);
  assert_int_equal(sequence, 101);
  close_wal(wal);
  /* Reopen asking for more: a new segment starts at 500, chained to the old one. */
  options.min_next_sequence = 500;
  assert_int_equal(sl_wal_open(dir, &options, &wal, &err), SL_OK);
  append_records(wal, 2, 1, 100, &sequence);
  assert_int_equal(sequence, 500);
  close_wal(wal);
  assert_int_equal(replay_into(dir, 100, NULL, &err), SL_OK);
  assert_int_equal(replayed.count, 2);
  assert_int_equal(replayed.sequences[0], 101);
  assert_int_equal(replayed.sequences[1], 500);
  /* A lower floor does not move the numbering back. */
  options.min_next_sequence = 7;
  assert_int_equal(sl_wal_open(dir, &options, &wal, &err), SL_OK);
  append_records(wal, 3, 1, 100, &sequence);
  assert_int_equal(sequence, 501);
  close_wal(wal);
}

/* ---- Concurrency and group commit ---- */

enum { THREADS = 8, PER_THREAD = 250 };

typedef struct appender {
  sl_wal *wal;
  uint64_t sequences[PER_THREAD];
  int thread;
  sl_status status;
} appender;

static void *append_main(void *argument) {
  appender *self = argument;
  uint8_t payload[1024];
  for (int i = 0; i < PER_THREAD; i++) {
    uint64_t key = (uint64_t)self->thread << 32 | (uint64_t)i;
    size_t size_bytes = payload_size(key, sizeof payload);
    fill_payload(key, payload, size_bytes);
    sl_error err;
    self->status = sl_wal_append(self->wal, payload, size_bytes, &self->sequences[i], &err);
    if (self->status != SL_OK) {
      break;
    }
  }
  return NULL;
}

static void run_appenders(sl_wal *wal, appender *appenders) {
  pthread_t threads[THREADS];
  for (int t = 0; t < THREADS; t++) {
    appenders[t].wal = wal;
    appenders[t].thread = t;
    appenders[t].status = SL_OK;
    assert_int_equal(pthread_create(&threads[t], NULL, append_main, &appenders[t]), 0);
  }
  for (int t = 0; t < THREADS; t++) {
    assert_int_equal(pthread_join(threads[t], NULL), 0);
    assert_int_equal(appenders[t].status, SL_OK);
  }
}

static void concurrent_appenders_share_fsyncs(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-concurrent");
  sl_wal *wal = open_wal(dir, SL_WAL_SYNC_BATCH, 256 << 10);
  static appender appenders[THREADS];
  run_appenders(wal, appenders);
  sl_wal_stats stats;
  sl_wal_stats_get(wal, &stats);
  close_wal(wal);
  const uint64_t total = THREADS * PER_THREAD;
  assert_int_equal(stats.records, total);
  /* Group commit: fewer writes (one fdatasync each) than appends, and some group above 1. */
  assert_true(stats.write_calls < total);
  assert_true(stats.batch_records_max > 1);
  assert_true(stats.fsyncs < total);
  uint64_t grouped = 0;
  for (int b = 0; b < SL_WAL_BATCH_HISTOGRAM_BUCKETS; b++) {
    grouped += stats.batch_histogram[b];
  }
  assert_int_equal(grouped, stats.write_calls);
  print_message("      8 writers x %d: %llu groups, %llu fsyncs, largest group %llu\n", PER_THREAD,
                (unsigned long long)stats.write_calls, (unsigned long long)stats.fsyncs,
                (unsigned long long)stats.batch_records_max);
  /* Each thread saw increasing sequences; all sequences are unique. */
  static uint8_t seen[THREADS * PER_THREAD + 1];
  memset(seen, 0, sizeof seen);
  for (int t = 0; t < THREADS; t++) {
    for (int i = 0; i < PER_THREAD; i++) {
      uint64_t sequence = appenders[t].sequences[i];
      assert_true(sequence >= 1 && sequence <= total);
      assert_int_equal(seen[sequence], 0);
      seen[sequence] = 1;
      if (i > 0) {
        assert_true(sequence > appenders[t].sequences[i - 1]);
      }
    }
  }
  /* Replay gives every record once, in sequence order, with the payload its appender sent. */
  sl_error err;
  assert_int_equal(replay_into(dir, 0, NULL, &err), SL_OK);
  assert_int_equal(replayed.count, total);
  assert_true(replayed.all_intact);
  for (size_t i = 0; i < replayed.count; i++) {
    assert_int_equal(replayed.sequences[i], i + 1);
    uint64_t key = replayed.keys[i];
    int thread = (int)(key >> 32);
    int index = (int)(key & 0xffffffffu);
    assert_true(thread < THREADS && index < PER_THREAD);
    assert_int_equal(appenders[thread].sequences[index], i + 1);
  }
}

/* ---- Where the leaders' time went (sl_wal_stats *_ns), observed through slow hooks ---- */

enum { SLOW_FDATASYNC_NS = 10 * 1000 * 1000, SLOW_PWRITE_NS = 2 * 1000 * 1000 };

static void sleep_ns(long ns) {
  struct timespec pause = {.tv_sec = 0, .tv_nsec = ns};
  while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {
  }
}

static int slow_fdatasync(int fd) {
  sleep_ns(SLOW_FDATASYNC_NS);
  return fdatasync(fd);
}

static ssize_t slow_pwrite(int fd, const void *data, size_t size_bytes, off_t offset) {
  sleep_ns(SLOW_PWRITE_NS);
  return pwrite(fd, data, size_bytes, offset);
}

/* Each group's fdatasync is in sync_ns, its data writes in write_ns, the rotations (their seal's
 * fdatasync and the new header's write) in rotate_ns, and all of them inside group_ns; in none mode
 * nothing is synced. */
static void time_breakdown_names_where_groups_waited(void **state) {
  (void)state;
  const sl_wal_sync_mode modes[] = {SL_WAL_SYNC_BATCH, SL_WAL_SYNC_NONE};
  for (size_t m = 0; m < 2; m++) {
    const char *dir = test_temp_dir(m == 0 ? "wal-time-batch" : "wal-time-none");
    sl_wal *wal = open_wal(dir, modes[m], 16 << 10);
    sl_fileio_hooks hooks = {slow_pwrite, NULL, slow_fdatasync};
    sl_fileio_set_hooks(&hooks);
    uint8_t payload[6000]; /* 10 records of 6,000 bytes in 16 KiB segments: a rotation every 2 */
    for (uint64_t key = 1; key <= 10; key++) {
      fill_payload(key, payload, sizeof payload);
      sl_error err;
      if (sl_wal_append(wal, payload, sizeof payload, NULL, &err) != SL_OK) {
        fail_msg("append %llu: %s", (unsigned long long)key, err.message);
      }
    }
    sl_fileio_set_hooks(NULL);
    sl_wal_stats stats;
    sl_wal_stats_get(wal, &stats);
    close_wal(wal);
    uint64_t rotations = stats.segments_created - 1;
    assert_true(rotations >= 2);
    assert_int_equal(stats.write_calls, 10);
    if (modes[m] == SL_WAL_SYNC_BATCH) {
      assert_true(stats.sync_ns >= 10ull * SLOW_FDATASYNC_NS);
    } else {
      assert_int_equal(stats.sync_ns, 0);
    }
    assert_true(stats.write_ns >= 10ull * SLOW_PWRITE_NS);
    assert_true(stats.rotate_ns >= rotations * (uint64_t)(SLOW_FDATASYNC_NS + SLOW_PWRITE_NS));
    assert_true(stats.stage_ns > 0);
    assert_true(stats.group_ns >= stats.stage_ns + stats.write_ns + stats.sync_ns + stats.rotate_ns);
  }
}

/* ---- Sync modes, observed through counting hooks ---- */

static int fdatasync_calls;
static int fsync_calls;

static int counting_fdatasync(int fd) {
  __atomic_fetch_add(&fdatasync_calls, 1, __ATOMIC_SEQ_CST);
  return fdatasync(fd);
}

static int counting_fsync(int fd) {
  __atomic_fetch_add(&fsync_calls, 1, __ATOMIC_SEQ_CST);
  return fsync(fd);
}

static void install_counters(void) {
  fdatasync_calls = 0;
  fsync_calls = 0;
  sl_fileio_hooks hooks = {NULL, counting_fsync, counting_fdatasync};
  sl_fileio_set_hooks(&hooks);
}

static int load_count(int *counter) {
  return __atomic_load_n(counter, __ATOMIC_SEQ_CST);
}

static void batch_mode_syncs_every_append_of_a_single_writer(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-mode-batch");
  sl_wal *wal = open_wal(dir, SL_WAL_SYNC_BATCH, 1 << 20);
  install_counters();
  append_records(wal, 1, 25, 300, NULL);
  int during = load_count(&fdatasync_calls);
  close_wal(wal);
  sl_fileio_set_hooks(NULL);
  assert_int_equal(during, 25);
  assert_int_equal(load_count(&fdatasync_calls), 25); /* nothing left to sync at close */
}

static void none_mode_never_syncs_appends(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-mode-none");
  sl_wal *wal = open_wal(dir, SL_WAL_SYNC_NONE, 1 << 20);
  install_counters();
  append_records(wal, 1, 25, 300, NULL);
  int during = load_count(&fdatasync_calls) + load_count(&fsync_calls);
  sl_error err;
  assert_int_equal(sl_wal_sync(wal, &err), SL_OK);
  int after_sync = load_count(&fdatasync_calls);
  close_wal(wal);
  sl_fileio_set_hooks(NULL);
  assert_int_equal(during, 0);
  assert_int_equal(after_sync, 1);
  assert_int_equal(replay_into(dir, 0, NULL, &err), SL_OK);
  assert_int_equal(replayed.count, 25);
}

static void interval_mode_syncs_in_the_background(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-mode-interval");
  sl_wal_options options;
  sl_wal_options_default(&options);
  options.direct_io = direct_io;
  options.sync_mode = SL_WAL_SYNC_INTERVAL;
  options.interval_ms = 20;
  sl_wal *wal = NULL;
  sl_error err;
  assert_int_equal(sl_wal_open(dir, &options, &wal, &err), SL_OK);
  install_counters();
  usleep(100 * 1000);
  int idle = load_count(&fdatasync_calls); /* nothing written: nothing to sync */
  append_records(wal, 1, 25, 300, NULL);
  int right_after = load_count(&fdatasync_calls);
  /* The background sync may already have run while the appends went on (a slow or loaded machine):
   * what must hold is that one runs at all, with nobody asking for it. */
  for (int wait = 0; wait < 200 && load_count(&fdatasync_calls) == 0; wait++) {
    usleep(10 * 1000);
  }
  int later = load_count(&fdatasync_calls);
  close_wal(wal);
  sl_fileio_set_hooks(NULL);
  assert_int_equal(idle, 0);
  assert_true(right_after < 25); /* appends do not wait for an fsync each */
  assert_true(later > 0);
  assert_int_equal(replay_into(dir, 0, NULL, &err), SL_OK);
  assert_int_equal(replayed.count, 25);
}

/* ---- Failures ---- */

static int writes_before_failure;
static int injected_errno;
static int failed_writes;

/* Fails the n-th write and every later one with injected_errno, after writing half of it. */
static ssize_t failing_pwrite(int fd, const void *data, size_t size_bytes, off_t offset) {
  if (writes_before_failure > 0) {
    writes_before_failure--;
    return pwrite(fd, data, size_bytes, offset);
  }
  failed_writes++;
  if (size_bytes > 1 && failed_writes == 1) {
    ssize_t partial = pwrite(fd, data, size_bytes / 2, offset);
    if (partial > 0) {
      return partial; /* the retry of the rest then fails */
    }
  }
  errno = injected_errno;
  return -1;
}

static void full_disk_fails_the_append_and_loses_nothing(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-nospace");
  sl_wal *wal = open_wal(dir, SL_WAL_SYNC_BATCH, 1 << 20);
  append_records(wal, 1, 10, 2000, NULL);
  writes_before_failure = 0;
  failed_writes = 0;
  injected_errno = ENOSPC;
  sl_fileio_hooks hooks = {failing_pwrite, NULL, NULL};
  sl_fileio_set_hooks(&hooks);
  uint8_t payload[3000];
  fill_payload(4242, payload, sizeof payload);
  sl_error err;
  uint64_t sequence = 0;
  sl_status status = sl_wal_append(wal, payload, sizeof payload, &sequence, &err);
  sl_fileio_set_hooks(NULL);
  assert_int_equal(status, SL_ERR_NOSPACE);
  assert_int_equal(sequence, 0);
  char path[PATH_BYTES];
  segment_file(dir, 1, path);
  assert_non_null(strstr(err.message, path));
  assert_int_equal(file_size(path), record_offset(1, 10, 2000)); /* the half record is gone */
  /* Space is back: the WAL goes on with the next number. */
  append_records(wal, 11, 1, 2000, &sequence);
  assert_int_equal(sequence, 11);
  sl_wal_stats stats;
  sl_wal_stats_get(wal, &stats);
  assert_int_equal(stats.failed_appends, 1);
  close_wal(wal);
  assert_int_equal(replay_into(dir, 0, NULL, &err), SL_OK);
  assert_int_equal(replayed.count, 11);
  assert_true(replayed.all_intact);
  for (size_t i = 0; i < 11; i++) {
    assert_int_equal(replayed.keys[i], i + 1);
  }
}

/* A record of several staging chunks: whichever of its writes fails (a chunk written behind the
 * leader, or the last one, written by the leader itself), the append fails with that write's error,
 * nothing of the record stays in the file, and the next record follows the earlier ones. */
static void a_failed_write_in_a_big_record_loses_nothing(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-big-write-fails");
  sl_wal *wal = open_wal(dir, SL_WAL_SYNC_BATCH, 256 << 20);
  append_records(wal, 1, 3, 2000, NULL);
  size_t big_bytes = (7u << 20) + 333; /* four 2 MiB chunks */
  uint8_t *big = malloc(big_bytes);
  assert_non_null(big);
  fill_payload(999, big, big_bytes);
  char path[PATH_BYTES];
  segment_file(dir, 1, path);
  uint64_t expected_next = 4;
  for (int failing = 0; failing < 5; failing++) {
    writes_before_failure = failing;
    failed_writes = 0;
    injected_errno = ENOSPC;
    sl_fileio_hooks hooks = {failing_pwrite, NULL, NULL};
    sl_fileio_set_hooks(&hooks);
    sl_error err;
    uint64_t sequence = 0;
    sl_status status = sl_wal_append(wal, big, big_bytes, &sequence, &err);
    sl_fileio_set_hooks(NULL);
    if (failed_writes == 0) {
      assert_int_equal(status, SL_OK); /* fewer writes than failing: it went through */
      assert_int_equal(sequence, expected_next);
      expected_next++;
      break;
    }
    assert_int_equal(status, SL_ERR_NOSPACE);
    assert_non_null(strstr(err.message, path));
    assert_int_equal(file_size(path), record_offset(1, 3, 2000) + (off_t)(expected_next - 4) *
                                          (off_t)(big_bytes + SL_WAL_RECORD_OVERHEAD_BYTES));
  }
  assert_int_equal(expected_next, 5); /* the last attempt wrote the record */
  uint64_t sequence = 0;
  append_records(wal, 100, 1, 2000, &sequence);
  assert_int_equal(sequence, 5);
  close_wal(wal);
  free(big);
  sl_error err;
  assert_int_equal(replay_into(dir, 0, NULL, &err), SL_OK);
  assert_int_equal(replayed.count, 5);
  assert_true(replayed.all_intact);
  assert_int_equal(replayed.keys[3], 999);
  assert_int_equal(replayed.sizes[3], big_bytes);
  assert_int_equal(replayed.keys[4], 100);
}

/* Submitted records are numbered in submission order, whatever order they are waited in; each is
 * durable once waited for; a failed write fails its ticket only, and the WAL goes on. */
static void submitted_records_are_numbered_in_order_and_fail_alone(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-submit");
  sl_wal *wal = open_wal(dir, SL_WAL_SYNC_BATCH, 1 << 20);
  enum { SUBMITTED = 6 };
  uint8_t payloads[SUBMITTED][1500];
  sl_wal_ticket *tickets[SUBMITTED];
  sl_error err;
  for (int i = 0; i < SUBMITTED; i++) {
    fill_payload((uint64_t)i + 1, payloads[i], sizeof payloads[i]);
    assert_int_equal(sl_wal_submit(wal, payloads[i], sizeof payloads[i], &tickets[i], &err), SL_OK);
  }
  for (int i = SUBMITTED - 1; i >= 0; i--) {
    uint64_t sequence = 0;
    assert_int_equal(sl_wal_wait(wal, tickets[i], &sequence, &err), SL_OK);
    assert_int_equal(sequence, (uint64_t)i + 1);
  }
  assert_int_equal(sl_wal_last_sequence(wal), SUBMITTED);

  writes_before_failure = 0;
  failed_writes = 0;
  injected_errno = ENOSPC;
  sl_fileio_hooks hooks = {failing_pwrite, NULL, NULL};
  sl_fileio_set_hooks(&hooks);
  sl_wal_ticket *failing = NULL;
  assert_int_equal(sl_wal_submit(wal, payloads[0], sizeof payloads[0], &failing, &err), SL_OK);
  uint64_t sequence = 0;
  sl_status status = sl_wal_wait(wal, failing, &sequence, &err);
  sl_fileio_set_hooks(NULL);
  assert_int_equal(status, SL_ERR_NOSPACE);
  assert_non_null(strstr(err.message, "No space left"));
  sl_wal_ticket *after = NULL;
  fill_payload(7, payloads[1], sizeof payloads[1]);
  assert_int_equal(sl_wal_submit(wal, payloads[1], sizeof payloads[1], &after, &err), SL_OK);
  assert_int_equal(sl_wal_wait(wal, after, &sequence, &err), SL_OK);
  assert_int_equal(sequence, SUBMITTED + 1); /* the failed record took no number */
  close_wal(wal);
  assert_int_equal(replay_into(dir, 0, NULL, &err), SL_OK);
  assert_int_equal(replayed.count, SUBMITTED + 1);
  assert_true(replayed.all_intact);
  for (size_t i = 0; i < replayed.count; i++) {
    assert_int_equal(replayed.sequences[i], i + 1);
    assert_int_equal(replayed.keys[i], i + 1);
  }
}

static int failing_fdatasync(int fd) {
  (void)fd;
  errno = EIO;
  return -1;
}

static void failed_fsync_is_sticky(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-fsync-fails");
  sl_wal *wal = open_wal(dir, SL_WAL_SYNC_BATCH, 1 << 20);
  append_records(wal, 1, 5, 500, NULL);
  sl_fileio_hooks hooks = {NULL, NULL, failing_fdatasync};
  sl_fileio_set_hooks(&hooks);
  uint8_t payload[100];
  fill_payload(99, payload, sizeof payload);
  sl_error err;
  sl_status status = sl_wal_append(wal, payload, sizeof payload, NULL, &err);
  sl_fileio_set_hooks(NULL);
  assert_int_equal(status, SL_ERR_IO);
  assert_non_null(strstr(err.message, "fdatasync"));
  /* The disk is fine again, but the WAL does not trust its file any more. */
  status = sl_wal_append(wal, payload, sizeof payload, NULL, &err);
  assert_int_equal(status, SL_ERR_IO);
  assert_non_null(strstr(err.message, "refuses appends"));
  assert_int_equal(sl_wal_close(wal, &err), SL_ERR_IO);
  /* Reopening recovers: the acknowledged records are there, the failed one is not. */
  assert_int_equal(replay_into(dir, 0, NULL, &err), SL_OK);
  assert_int_equal(replayed.count, 5);
  wal = open_wal(dir, SL_WAL_SYNC_BATCH, 1 << 20);
  uint64_t sequence = 0;
  append_records(wal, 6, 1, 100, &sequence);
  assert_int_equal(sequence, 6);
  close_wal(wal);
}

/* A real full disk: a 64 KiB tmpfs (needs root; skipped otherwise). */
static void tmpfs_full_disk(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-tmpfs");
  if (geteuid() != 0 || mount("tmpfs", dir, "tmpfs", 0, "size=64k") != 0) {
    print_message("      (skipped: cannot mount a tmpfs here)\n");
    skip();
  }
  sl_wal *wal = open_wal(dir, SL_WAL_SYNC_BATCH, 16384);
  uint8_t payload[1000];
  uint64_t acknowledged = 0;
  sl_status status = SL_OK;
  sl_error err;
  for (uint64_t key = 1; key < 1000 && status == SL_OK; key++) {
    fill_payload(key, payload, sizeof payload);
    uint64_t sequence = 0;
    status = sl_wal_append(wal, payload, sizeof payload, &sequence, &err);
    if (status == SL_OK) {
      assert_int_equal(sequence, key);
      acknowledged = sequence;
    }
  }
  sl_wal_close(wal, NULL);
  sl_error replay_error;
  sl_status replay_status = replay_into(dir, 0, NULL, &replay_error);
  assert_int_equal(umount(dir), 0); /* before any assertion can leave the mount behind */
  assert_int_equal(status, SL_ERR_NOSPACE);
  assert_non_null(strstr(err.message, dir));
  assert_true(acknowledged > 10);
  assert_int_equal(replay_status, SL_OK);
  assert_int_equal(replayed.count, acknowledged);
  assert_true(replayed.all_intact);
  print_message("      tmpfs 64 KiB: %llu records acknowledged, then: %s\n",
                (unsigned long long)acknowledged, err.message);
}

static void bad_arguments_are_refused(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-arguments");
  sl_wal_options options;
  sl_wal_options_default(&options);
  options.direct_io = direct_io;
  sl_error err;
  sl_wal *wal = NULL;
  options.segment_size_bytes = 100;
  assert_int_equal(sl_wal_open(dir, &options, &wal, &err), SL_ERR_INVALID);
  assert_non_null(strstr(err.message, "segment_size_bytes"));
  sl_wal_options_default(&options);
  options.direct_io = direct_io;
  options.sync_mode = SL_WAL_SYNC_INTERVAL;
  options.interval_ms = 0;
  assert_int_equal(sl_wal_open(dir, &options, &wal, &err), SL_ERR_INVALID);
  sl_wal_sync_mode mode = SL_WAL_SYNC_NONE;
  assert_int_equal(sl_wal_sync_mode_parse("batch", &mode, &err), SL_OK);
  assert_int_equal(mode, SL_WAL_SYNC_BATCH);
  assert_int_equal(sl_wal_sync_mode_parse("interval", &mode, &err), SL_OK);
  assert_int_equal(mode, SL_WAL_SYNC_INTERVAL);
  assert_int_equal(sl_wal_sync_mode_parse("fsync", &mode, &err), SL_ERR_INVALID);
  assert_non_null(strstr(err.message, "fsync"));
  wal = open_wal(dir, SL_WAL_SYNC_BATCH, 1 << 20);
  static uint8_t byte;
  assert_int_equal(sl_wal_append(wal, &byte, (size_t)SL_WAL_MAX_PAYLOAD_BYTES + 1, NULL, &err),
                   SL_ERR_INVALID);
  uint64_t sequence = 0;
  assert_int_equal(sl_wal_append(wal, NULL, 0, &sequence, &err), SL_OK); /* empty payload is fine */
  assert_int_equal(sequence, 1);
  close_wal(wal);
}

static void expect_child_success(pid_t child);

/* A record submitted as pieces (sl_wal_submitv) is their bytes joined: replay gives back the
 * payload whole, and its checksum covers it. Empty pieces are allowed. */
static void a_record_submitted_in_pieces_replays_joined(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-pieces");
  sl_wal *wal = open_wal(dir, SL_WAL_SYNC_BATCH, 64 << 20);
  uint8_t payload[20000];
  fill_payload(77, payload, sizeof payload);
  struct iovec pieces[5] = {{payload, 8}, {payload + 8, 0}, {payload + 8, 5000}, {payload + 5008, 3},
                            {payload + 5011, sizeof payload - 5011}};
  sl_wal_ticket *ticket = NULL;
  sl_error err;
  assert_int_equal(sl_wal_submitv(wal, pieces, 5, &ticket, &err), SL_OK);
  uint64_t sequence = 0;
  assert_int_equal(sl_wal_wait(wal, ticket, &sequence, &err), SL_OK);
  assert_int_equal(sequence, 1);
  append_records(wal, 78, 1, 300, NULL);
  close_wal(wal);
  assert_int_equal(replay_into(dir, 0, NULL, &err), SL_OK);
  assert_int_equal(replayed.count, 2);
  assert_true(replayed.all_intact);
  assert_int_equal(replayed.keys[0], 77);
  assert_int_equal(replayed.sizes[0], sizeof payload);
  assert_int_equal(replayed.keys[1], 78);
}

/* ---- Direct I/O ---- */

/* Whether the file system of dir says it takes O_DIRECT writes aligned to 4 KiB (statx). */
static bool file_system_takes_direct_io(const char *dir) {
#ifdef STATX_DIOALIGN
  struct statx info;
  if (statx(AT_FDCWD, dir, 0, STATX_DIOALIGN, &info) == 0 && (info.stx_mask & STATX_DIOALIGN) != 0) {
    return info.stx_dio_offset_align != 0 && 4096 % info.stx_dio_offset_align == 0 &&
           info.stx_dio_mem_align != 0 && 4096 % info.stx_dio_mem_align == 0;
  }
#else
  (void)dir;
#endif
  return false;
}

/* A segment is appended to by three lives of the WAL: a clean close, then a process that dies
 * without closing (what a crash leaves: with O_DIRECT, zeros after the last record up to a 4 KiB
 * boundary), then a reopen. Each life starts in the middle of a 4 KiB block that holds
 * acknowledged records, which a direct write writes again: none of them may change. */
static void appends_after_reopen_and_crash_keep_earlier_records(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-direct-lives");
  char path[PATH_BYTES];
  segment_file(dir, 1, path);
  sl_wal *wal = open_wal(dir, SL_WAL_SYNC_BATCH, 64 << 20);
  append_records(wal, 1, 7, 1500, NULL);
  sl_wal_stats stats;
  sl_wal_stats_get(wal, &stats);
  if (direct_io && file_system_takes_direct_io(dir)) {
    assert_int_equal(stats.direct_write_calls, stats.write_calls);
  } else if (!direct_io) {
    assert_int_equal(stats.direct_write_calls, 0);
  }
  bool direct = stats.direct_write_calls > 0;
  close_wal(wal);
  assert_int_equal(file_size(path), record_offset(1, 7, 1500)); /* a clean close leaves no zeros */
  pid_t child = fork();
  if (child == 0) {
    sl_wal *dying = open_wal(dir, SL_WAL_SYNC_BATCH, 64 << 20);
    append_records(dying, 8, 5, 1500, NULL);
    _exit(0);
  }
  expect_child_success(child);
  off_t crash_end = record_offset(1, 12, 1500);
  if (direct) {
    assert_true(file_size(path) > crash_end);
    assert_int_equal(file_size(path) % 4096, 0);
  } else {
    assert_int_equal(file_size(path), crash_end);
  }
  wal = open_wal(dir, SL_WAL_SYNC_BATCH, 64 << 20);
  assert_int_equal(sl_wal_last_sequence(wal), 12);
  assert_int_equal(file_size(path), crash_end); /* the zeros were a torn tail, cut */
  append_records(wal, 13, 9, 5000, NULL);
  close_wal(wal);
  sl_error err;
  assert_int_equal(replay_into(dir, 0, NULL, &err), SL_OK);
  assert_int_equal(replayed.count, 21);
  assert_true(replayed.all_intact);
  for (size_t i = 0; i < 21; i++) {
    assert_int_equal(replayed.keys[i], i + 1);
    assert_int_equal(replayed.sequences[i], i + 1);
  }
}

/* A record bigger than the 4 MiB staging buffer goes through it in pieces; with small ones around
 * it, every block boundary case is crossed. */
static void records_larger_than_the_staging_buffer_round_trip(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-direct-big");
  sl_wal *wal = open_wal(dir, SL_WAL_SYNC_BATCH, 64 << 20);
  size_t sizes[] = {100, (9u << 20) + 123, 4096 - 24, 4096, 8, (4u << 20) - 16 - 24, 77};
  enum { SIZES = sizeof sizes / sizeof sizes[0] };
  uint8_t *payload = malloc(sizes[1]);
  assert_non_null(payload);
  for (size_t i = 0; i < SIZES; i++) {
    fill_payload(100 + i, payload, sizes[i]);
    sl_error err;
    uint64_t sequence = 0;
    assert_int_equal(sl_wal_append(wal, payload, sizes[i], &sequence, &err), SL_OK);
    assert_int_equal(sequence, i + 1);
  }
  free(payload);
  close_wal(wal);
  sl_error err;
  assert_int_equal(replay_into(dir, 0, NULL, &err), SL_OK);
  assert_int_equal(replayed.count, SIZES);
  assert_true(replayed.all_intact);
  for (size_t i = 0; i < SIZES; i++) {
    assert_int_equal(replayed.keys[i], 100 + i);
    assert_int_equal(replayed.sizes[i], sizes[i]);
  }
}

/* ---- Recycled segments ---- */

static void expect_child_success(pid_t child) {
  int status = 0;
  assert_true(child >= 0);
  assert_int_equal(waitpid(child, &status, 0), child);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

/* Two processes that die without closing (what a crash leaves): the first appends big records
 * in 8 KiB segments and recycles three; the second overwrites those files with small records in
 * 4 KiB segments, so every recycled segment it seals is shorter than the file was. */
static void crash_after_recycling(const char *dir) {
  pid_t first = fork();
  if (first == 0) {
    sl_wal *wal = open_recycling_wal(dir, 8192, 3);
    append_records(wal, 1, 200, 400, NULL);
    sl_error err;
    _exit(sl_wal_truncate_before(wal, 151, &err) == SL_OK && count_files(dir, "free") == 3 ? 0 : 2);
  }
  expect_child_success(first);
  pid_t second = fork();
  if (second == 0) {
    sl_wal *wal = open_recycling_wal(dir, 4096, 3);
    append_records(wal, 201, 120, 60, NULL);
    sl_wal_stats stats;
    sl_wal_stats_get(wal, &stats);
    _exit(stats.segments_recycled >= 2 ? 0 : 3);
  }
  expect_child_success(second);
}

static void recycled_segments_replay_only_their_new_records(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-recycle");
  crash_after_recycling(dir);
  /* Every record from 151 on, in order and intact; nothing of the files' earlier records, though
   * their bytes are still behind the new ones (sealed recycled segments were cut at their end). */
  sl_error err;
  sl_wal_replay_result result;
  assert_int_equal(replay_into(dir, 150, &result, &err), SL_OK);
  assert_int_equal(replayed.count, 170);
  assert_true(replayed.all_intact);
  for (size_t i = 0; i < replayed.count; i++) {
    assert_int_equal(replayed.sequences[i], 151 + i);
    assert_int_equal(replayed.keys[i], 151 + i);
  }
  assert_true(result.torn_bytes_truncated > 0); /* the last segment's old bytes were cut */
  /* Reopening reuses the pool the crash left and goes on where the records end. */
  assert_true(count_files(dir, "free") >= 1);
  sl_wal *wal = open_recycling_wal(dir, 4096, 3);
  append_records(wal, 321, 60, 60, NULL);
  sl_wal_stats stats;
  sl_wal_stats_get(wal, &stats);
  assert_true(stats.segments_recycled >= 1);
  /* At rest the pool goes, and a closed WAL keeps none. */
  assert_int_equal(sl_wal_truncate_before(wal, 330, &err), SL_OK);
  assert_true(count_files(dir, "free") >= 1);
  assert_int_equal(sl_wal_release_recycled(wal, &err), SL_OK);
  assert_int_equal(sl_wal_settle(wal, &err), SL_OK);
  assert_int_equal(count_files(dir, "free"), 0);
  assert_int_equal(sl_wal_truncate_before(wal, 370, &err), SL_OK);
  close_wal(wal);
  assert_int_equal(count_files(dir, "free"), 0);
  assert_int_equal(replay_into(dir, 369, NULL, &err), SL_OK);
  assert_int_equal(replayed.count, 11);
  assert_int_equal(replayed.sequences[10], 380);
  assert_int_equal(replayed.keys[10], 380);
}

/* A WAL holding a pool of `recycle` files (appended through small segments, then truncated). */
static sl_wal *wal_with_pool(const char *dir, uint32_t recycle) {
  sl_wal *wal = open_recycling_wal(dir, 4096, recycle);
  append_records(wal, 1, 80, 400, NULL);
  sl_error err;
  assert_int_equal(sl_wal_truncate_before(wal, 81, &err), SL_OK);
  assert_int_equal(count_files(dir, "free"), recycle);
  return wal;
}

/* The remover's fsyncs (and only the remover's: its thread is named "wal-remove") wait for the test
 * to open the gate, at most 10 s; every other thread's fsync goes through at once. */
static atomic_int removal_gate_open;
static atomic_int removal_fsyncs_waiting;

static int gated_fsync(int fd) {
  char name[16] = "";
  if (pthread_getname_np(pthread_self(), name, sizeof name) == 0 && strcmp(name, "wal-remove") == 0) {
    atomic_fetch_add(&removal_fsyncs_waiting, 1);
    for (int waited_ms = 0; !atomic_load(&removal_gate_open) && waited_ms < 10000; waited_ms++) {
      struct timespec pause = {0, 1000000};
      nanosleep(&pause, NULL);
    }
  }
  return fsync(fd);
}

struct settle_call {
  sl_wal *wal;
  atomic_int returned;
  sl_status status;
};

static void *settle_in_background(void *arg) {
  struct settle_call *call = arg;
  sl_error err;
  call->status = sl_wal_settle(call->wal, &err);
  atomic_store(&call->returned, 1);
  return NULL;
}

/* sl_wal_release_recycled returns before the files are gone (a 64 MiB unlink takes 10-17 ms on
 * these disks, and a checkpoint made the load wait for it); sl_wal_settle waits for them, and
 * rotation never takes a released file. */
static void released_segments_are_deleted_behind_the_caller(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-release-async");
  sl_wal *wal = wal_with_pool(dir, 3);
  atomic_store(&removal_gate_open, 0);
  atomic_store(&removal_fsyncs_waiting, 0);
  sl_fileio_hooks hooks = {NULL, gated_fsync, NULL};
  sl_fileio_set_hooks(&hooks);
  sl_error err;
  int64_t started = sl_monotonic_ns();
  assert_int_equal(sl_wal_release_recycled(wal, &err), SL_OK);
  int64_t took_ns = sl_monotonic_ns() - started;
  assert_true(took_ns < 5000000000LL); /* the gate holds the remover up to 10 s */
  sl_wal_stats stats;
  sl_wal_stats_get(wal, &stats);
  uint64_t deleted_before = stats.segments_deleted;
  /* A rotation now starts a new file: the released ones are out of the pool. */
  append_records(wal, 81, 30, 400, NULL);
  sl_wal_stats_get(wal, &stats);
  assert_int_equal(stats.segments_recycled, 0);
  /* sl_wal_settle waits for the remover, which is held at the gate. */
  struct settle_call call = {.wal = wal, .returned = 0, .status = SL_ERR_IO};
  pthread_t settler;
  assert_int_equal(pthread_create(&settler, NULL, settle_in_background, &call), 0);
  for (int waited_ms = 0; atomic_load(&removal_fsyncs_waiting) == 0 && waited_ms < 10000; waited_ms++) {
    struct timespec pause = {0, 1000000};
    nanosleep(&pause, NULL);
  }
  assert_true(atomic_load(&removal_fsyncs_waiting) >= 1);
  struct timespec pause = {0, 200 * 1000 * 1000};
  nanosleep(&pause, NULL);
  assert_int_equal(atomic_load(&call.returned), 0);
  atomic_store(&removal_gate_open, 1);
  assert_int_equal(pthread_join(settler, NULL), 0);
  assert_int_equal(call.status, SL_OK);
  sl_fileio_set_hooks(NULL);
  sl_wal_stats_get(wal, &stats);
  assert_int_equal(stats.segments_deleted - deleted_before, 3);
  assert_int_equal(count_files(dir, "free"), 0);
  close_wal(wal);
  assert_int_equal(replay_into(dir, 80, NULL, &err), SL_OK);
  assert_int_equal(replayed.count, 30);
}

static int failing_fsync(int fd) {
  (void)fd;
  errno = EIO;
  return -1;
}

/* A released file that cannot be deleted is a warning: sl_wal_settle returns it once, naming the
 * file and saying that no record is affected; appends go on and the close does not fail for it. */
static void a_file_left_behind_is_reported_by_settle_not_close(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-release-left");
  sl_wal *wal = wal_with_pool(dir, 2);
  /* A directory in a pool file's place: unlink(2) refuses it (EISDIR). */
  char stuck[1024];
  test_first_entry_with_prefix(dir, "free", stuck, sizeof stuck);
  assert_int_equal(unlink(stuck), 0);
  assert_int_equal(mkdir(stuck, 0755), 0);
  sl_error err;
  assert_int_equal(sl_wal_release_recycled(wal, &err), SL_OK);
  assert_int_equal(sl_wal_settle(wal, &err), SL_ERR_IO);
  assert_non_null(strstr(err.message, stuck));
  assert_non_null(strstr(err.message, "no record is affected"));
  assert_int_equal(sl_wal_settle(wal, &err), SL_OK); /* said once */
  append_records(wal, 81, 5, 400, NULL);
  assert_int_equal(sl_wal_close(wal, &err), SL_OK);
  assert_int_equal(rmdir(stuck), 0);
  assert_int_equal(replay_into(dir, 80, NULL, &err), SL_OK);
  assert_int_equal(replayed.count, 5);
}

/* A failed fsync of the directory after a removal leaves the directory's state on disk unknown: the
 * WAL refuses appends from then on, and the close says so; what was written before still replays. */
static void a_failed_directory_fsync_after_removal_is_sticky(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-release-fsync");
  sl_wal *wal = wal_with_pool(dir, 2);
  append_records(wal, 81, 5, 400, NULL);
  sl_error err;
  assert_int_equal(sl_wal_sync(wal, &err), SL_OK);
  sl_fileio_hooks hooks = {NULL, failing_fsync, NULL};
  sl_fileio_set_hooks(&hooks);
  assert_int_equal(sl_wal_release_recycled(wal, &err), SL_OK);
  sl_status settled = sl_wal_settle(wal, &err);
  sl_fileio_set_hooks(NULL);
  assert_int_equal(settled, SL_ERR_IO);
  assert_non_null(strstr(err.message, "fsync"));
  assert_non_null(strstr(err.message, dir));
  assert_non_null(strstr(err.message, "refuses appends"));
  uint64_t sequence = 0;
  assert_int_not_equal(sl_wal_append(wal, "late", 4, &sequence, &err), SL_OK);
  assert_non_null(strstr(err.message, "refuses appends"));
  assert_int_not_equal(sl_wal_close(wal, &err), SL_OK);
  assert_int_equal(replay_into(dir, 80, NULL, &err), SL_OK);
  assert_int_equal(replayed.count, 5);
}

static void pool_beyond_the_limit_is_deleted_at_open(void **state) {
  (void)state;
  const char *dir = test_temp_dir("wal-recycle-limit");
  crash_after_recycling(dir);
  size_t left = count_files(dir, "free");
  assert_true(left >= 1);
  /* Opened without recycling: the pool is not needed for anything, and goes. */
  sl_wal *wal = open_recycling_wal(dir, 4096, 0);
  assert_int_equal(count_files(dir, "free"), 0);
  append_records(wal, 321, 1, 60, NULL);
  close_wal(wal);
  sl_error err;
  assert_int_equal(replay_into(dir, 150, NULL, &err), SL_OK);
  assert_int_equal(replayed.count, 171);
}

/* ---- The in-memory decoder (what the fuzzer drives) ---- */

static void decoder_stops_at_records_of_a_recycled_files_earlier_life(void **state) {
  (void)state;
  enum { RECORD = SL_WAL_RECORD_OVERHEAD_BYTES + 10 };
  uint8_t segment[SL_WAL_SEGMENT_HEADER_BYTES + 4 * RECORD];
  sl_wal_encode_segment_header(7, 6, segment);
  uint8_t *records = segment + SL_WAL_SEGMENT_HEADER_BYTES;
  sl_wal_encode_record(7, "0123456789", 10, records);
  sl_wal_encode_record(8, "0123456789", 10, records + RECORD);
  sl_wal_encode_record(3, "old-record", 10, records + 2 * RECORD); /* left from the file's last use */
  sl_wal_encode_record(4, "old-record", 10, records + 3 * RECORD);
  sl_wal_segment_info info;
  sl_error err;
  assert_int_equal(sl_wal_segment_decode(segment, sizeof segment, "mem", true, 0, NULL, NULL, &info, &err), SL_OK);
  assert_int_equal(info.record_count, 2);
  assert_int_equal(info.last_sequence, 8);
  assert_true(info.torn_tail);
  assert_int_equal(info.valid_end_offset, SL_WAL_SEGMENT_HEADER_BYTES + 2 * RECORD);
  /* A sealed segment is cut at its last record: old records in it are corruption. */
  assert_int_equal(sl_wal_segment_decode(segment, sizeof segment, "mem", false, 0, NULL, NULL, &info, &err),
                   SL_ERR_CORRUPT);
  assert_non_null(strstr(err.message, "below the segment's first 7"));
  /* A record torn over old bytes, with only old records after it: still a torn tail. */
  records[RECORD + 20] ^= 0x5a;
  assert_int_equal(sl_wal_segment_decode(segment, sizeof segment, "mem", true, 0, NULL, NULL, &info, &err), SL_OK);
  assert_int_equal(info.record_count, 1);
  assert_true(info.torn_tail);
  /* ... but an intact record of this segment after the bad one is corruption. */
  sl_wal_encode_record(9, "0123456789", 10, records + 3 * RECORD);
  assert_int_equal(sl_wal_segment_decode(segment, sizeof segment, "mem", true, 0, NULL, NULL, &info, &err),
                   SL_ERR_CORRUPT);
  assert_non_null(strstr(err.message, "an intact record follows"));
}


static void decoder_handles_edge_inputs(void **state) {
  (void)state;
  sl_wal_segment_info info;
  sl_error err;
  /* Empty: a torn header if last, corruption otherwise. */
  assert_int_equal(sl_wal_segment_decode(NULL, 0, "empty", true, 0, NULL, NULL, &info, &err), SL_OK);
  assert_false(info.header_valid);
  assert_int_equal(info.valid_end_offset, 0);
  assert_int_equal(sl_wal_segment_decode(NULL, 0, "empty", false, 0, NULL, NULL, &info, &err),
                   SL_ERR_CORRUPT);
  /* A header and three records built in memory. */
  uint8_t segment[SL_WAL_SEGMENT_HEADER_BYTES + 3 * (SL_WAL_RECORD_OVERHEAD_BYTES + 10)];
  sl_wal_encode_segment_header(7, 6, segment);
  size_t offset = SL_WAL_SEGMENT_HEADER_BYTES;
  for (uint64_t sequence = 7; sequence < 10; sequence++) {
    sl_wal_encode_record(sequence, "0123456789", 10, segment + offset);
    offset += SL_WAL_RECORD_OVERHEAD_BYTES + 10;
  }
  assert_int_equal(sl_wal_segment_decode(segment, sizeof segment, "mem", false, 0, NULL, NULL,
                                         &info, &err), SL_OK);
  assert_int_equal(info.record_count, 3);
  assert_int_equal(info.first_sequence, 7);
  assert_int_equal(info.last_sequence, 9);
  /* Every truncation point: fine as the last segment (torn), corrupt otherwise (unless it falls
   * exactly on a record boundary). */
  for (size_t cut = 0; cut < sizeof segment; cut++) {
    sl_status as_last = sl_wal_segment_decode(segment, cut, "mem", true, 0, NULL, NULL, &info, &err);
    assert_int_equal(as_last, SL_OK);
    assert_true(info.valid_end_offset <= cut);
    bool boundary = cut >= SL_WAL_SEGMENT_HEADER_BYTES &&
                    (cut - SL_WAL_SEGMENT_HEADER_BYTES) % (SL_WAL_RECORD_OVERHEAD_BYTES + 10) == 0;
    assert_int_equal(info.torn_tail, !boundary);
    sl_status as_sealed =
        sl_wal_segment_decode(segment, cut, "mem", false, 0, NULL, NULL, &info, &err);
    assert_int_equal(as_sealed, boundary ? SL_OK : SL_ERR_CORRUPT);
  }
  /* A record with a valid checksum but the wrong sequence is corruption even at the tail. */
  sl_wal_encode_record(42, "0123456789", 10, segment + SL_WAL_SEGMENT_HEADER_BYTES +
                                                 2 * (SL_WAL_RECORD_OVERHEAD_BYTES + 10));
  assert_int_equal(sl_wal_segment_decode(segment, sizeof segment, "mem", true, 0, NULL, NULL, &info,
                                         &err), SL_ERR_CORRUPT);
  assert_non_null(strstr(err.message, "sequence 42, expected 9"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(records_round_trip),
      cmocka_unit_test(submitted_records_are_numbered_in_order_and_fail_alone),
      cmocka_unit_test(empty_and_missing_directories_replay_nothing),
      cmocka_unit_test(rotation_spreads_records_over_segments),
      cmocka_unit_test(replay_starts_after_the_given_sequence),
      cmocka_unit_test(torn_tail_is_truncated_and_appends_continue),
      cmocka_unit_test(open_truncates_a_torn_tail_too),
      cmocka_unit_test(torn_segment_header_is_dropped),
      cmocka_unit_test(corruption_in_the_middle_names_file_and_offset),
      cmocka_unit_test(damage_in_an_older_segment_is_corruption),
      cmocka_unit_test(a_missing_segment_is_detected),
      cmocka_unit_test(truncate_before_removes_covered_segments),
      cmocka_unit_test(min_next_sequence_skips_numbers_a_snapshot_covers),
      cmocka_unit_test(concurrent_appenders_share_fsyncs),
      cmocka_unit_test(batch_mode_syncs_every_append_of_a_single_writer),
      cmocka_unit_test(none_mode_never_syncs_appends),
      cmocka_unit_test(interval_mode_syncs_in_the_background),
      cmocka_unit_test(full_disk_fails_the_append_and_loses_nothing),
      cmocka_unit_test(a_failed_write_in_a_big_record_loses_nothing),
      cmocka_unit_test(failed_fsync_is_sticky),
      cmocka_unit_test(tmpfs_full_disk),
      cmocka_unit_test(bad_arguments_are_refused),
      cmocka_unit_test(decoder_handles_edge_inputs),
      cmocka_unit_test(decoder_stops_at_records_of_a_recycled_files_earlier_life),
      cmocka_unit_test(recycled_segments_replay_only_their_new_records),
      cmocka_unit_test(pool_beyond_the_limit_is_deleted_at_open),
      cmocka_unit_test(released_segments_are_deleted_behind_the_caller),
      cmocka_unit_test(a_file_left_behind_is_reported_by_settle_not_close),
      cmocka_unit_test(a_failed_directory_fsync_after_removal_is_sticky),
      cmocka_unit_test(appends_after_reopen_and_crash_keep_earlier_records),
      cmocka_unit_test(records_larger_than_the_staging_buffer_round_trip),
      cmocka_unit_test(a_record_submitted_in_pieces_replays_joined),
      cmocka_unit_test(time_breakdown_names_where_groups_waited),
  };
  int failed = cmocka_run_group_tests_name("direct I/O", tests, NULL, NULL);
  direct_io = false;
  return failed + cmocka_run_group_tests_name("buffered", tests, NULL, NULL);
}
