/* test_storage_snapshot.c: snapshot files. They round-trip; every flipped byte and every
 * truncation is an SL_ERR_CORRUPT error naming the file and an offset; the latest valid snapshot is
 * loaded, falling back past a corrupt newest one only when allowed; old ones are pruned; a full disk
 * leaves the previous snapshot in place. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hash.h"
#include "storage/fileio.h"
#include "storage/snapshot.h"
#include "test_support.h"

enum { PATH_BYTES = 4200 };

static void make_snapshot(sl_snapshot *snapshot, uint64_t epoch, size_t parts) {
  memset(snapshot, 0, sizeof *snapshot);
  snapshot->epoch = epoch;
  snapshot->flags = (uint32_t)(epoch & 1) * SL_SNAPSHOT_WAL_IN_USE;
  snapshot->wal_sequence = epoch * 1000 + 7;
  snapshot->created_unix_ms = 1700000000000 + (int64_t)epoch;
  for (size_t i = 0; i < parts; i++) {
    char name[64];
    uint64_t part_id = epoch * 100 + i;
    snprintf(name, sizeof name, "%016llx", (unsigned long long)part_id);
    sl_error err;
    assert_int_equal(sl_snapshot_add_part(snapshot, name, (uint64_t)i * 4096 + epoch, &err), SL_OK);
  }
}

static void assert_same(const sl_snapshot *a, const sl_snapshot *b) {
  assert_int_equal(a->epoch, b->epoch);
  assert_int_equal(a->flags, b->flags);
  assert_int_equal(a->wal_sequence, b->wal_sequence);
  assert_int_equal(a->created_unix_ms, b->created_unix_ms);
  assert_int_equal(a->part_count, b->part_count);
  for (size_t i = 0; i < a->part_count; i++) {
    assert_string_equal(a->parts[i].name, b->parts[i].name);
    assert_int_equal(a->parts[i].size_bytes, b->parts[i].size_bytes);
  }
}

static void snapshot_file(const char *dir, uint64_t epoch, char *out) {
  char name[32];
  sl_snapshot_file_name(epoch, name, sizeof name);
  snprintf(out, PATH_BYTES, "%s/%s", dir, name);
}

static bool exists(const char *path) {
  struct stat info;
  return stat(path, &info) == 0;
}

static void write_snapshot(const char *dir, uint64_t epoch, size_t parts, uint32_t keep) {
  sl_snapshot snapshot;
  make_snapshot(&snapshot, epoch, parts);
  sl_error err;
  sl_status status = sl_snapshot_write(dir, &snapshot, keep, &err);
  sl_snapshot_free(&snapshot);
  if (status != SL_OK) {
    fail_msg("write epoch %llu: %s", (unsigned long long)epoch, err.message);
  }
}

static void flip_byte(const char *path, off_t offset) {
  int fd = open(path, O_RDWR);
  assert_true(fd >= 0);
  uint8_t byte = 0;
  assert_int_equal(pread(fd, &byte, 1, offset), 1);
  byte ^= 0x01;
  assert_int_equal(pwrite(fd, &byte, 1, offset), 1);
  close(fd);
}

static void encode_decode_round_trip(void **state) {
  (void)state;
  const size_t part_counts[] = {0, 1, 3, 500};
  for (size_t c = 0; c < sizeof part_counts / sizeof part_counts[0]; c++) {
    sl_snapshot original;
    make_snapshot(&original, 10 + c, part_counts[c]);
    uint8_t *data = NULL;
    size_t size_bytes = 0;
    sl_error err;
    assert_int_equal(sl_snapshot_encode(&original, &data, &size_bytes, &err), SL_OK);
    assert_int_equal(size_bytes, SL_SNAPSHOT_HEADER_BYTES + 8 + part_counts[c] * (2 + 16 + 8));
    sl_snapshot decoded;
    assert_int_equal(sl_snapshot_decode(data, size_bytes, "mem", &decoded, &err), SL_OK);
    assert_same(&original, &decoded);
    /* Re-encoding gives the same bytes. */
    uint8_t *again = NULL;
    size_t again_bytes = 0;
    assert_int_equal(sl_snapshot_encode(&decoded, &again, &again_bytes, &err), SL_OK);
    assert_int_equal(again_bytes, size_bytes);
    assert_memory_equal(again, data, size_bytes);
    free(again);
    free(data);
    sl_snapshot_free(&decoded);
    sl_snapshot_free(&original);
  }
}

static void write_then_load_latest(void **state) {
  (void)state;
  const char *dir = test_temp_dir("snapshot-write");
  sl_snapshot loaded;
  sl_snapshot_load_result result;
  sl_error err;
  assert_int_equal(sl_snapshot_load_latest(dir, true, &loaded, &result, &err), SL_OK);
  assert_false(result.found);
  for (uint64_t epoch = 1; epoch <= 5; epoch++) {
    write_snapshot(dir, epoch, (size_t)epoch, 2);
  }
  /* Two kept (the default count), the older ones pruned, no temporary file left. */
  char path[PATH_BYTES];
  for (uint64_t epoch = 1; epoch <= 5; epoch++) {
    snapshot_file(dir, epoch, path);
    assert_int_equal(exists(path), epoch >= 4);
  }
  snapshot_file(dir, 5, path);
  strcat(path, ".tmp");
  assert_false(exists(path));
  assert_int_equal(sl_snapshot_load_latest(dir, false, &loaded, &result, &err), SL_OK);
  assert_true(result.found);
  assert_int_equal(result.newest_epoch_seen, 5);
  assert_int_equal(result.oldest_kept_wal_sequence, 4 * 1000 + 7);
  assert_int_equal(result.corrupt_skipped, 0);
  assert_string_equal(result.warning, "");
  sl_snapshot expected;
  make_snapshot(&expected, 5, 5);
  assert_same(&expected, &loaded);
  sl_snapshot_free(&expected);
  sl_snapshot_free(&loaded);
  /* An epoch that is not above the newest is refused. */
  sl_snapshot stale;
  make_snapshot(&stale, 5, 1);
  assert_int_equal(sl_snapshot_write(dir, &stale, 2, &err), SL_ERR_INVALID);
  assert_non_null(strstr(err.message, "epoch 5"));
  sl_snapshot_free(&stale);
  /* keep_count 3 keeps three. */
  write_snapshot(dir, 6, 1, 3);
  write_snapshot(dir, 7, 1, 3);
  for (uint64_t epoch = 4; epoch <= 7; epoch++) {
    snapshot_file(dir, epoch, path);
    assert_int_equal(exists(path), epoch >= 5);
  }
}

static void every_flipped_byte_is_caught(void **state) {
  (void)state;
  sl_snapshot original;
  make_snapshot(&original, 3, 4);
  uint8_t *data = NULL;
  size_t size_bytes = 0;
  sl_error err;
  assert_int_equal(sl_snapshot_encode(&original, &data, &size_bytes, &err), SL_OK);
  for (size_t offset = 0; offset < size_bytes; offset++) {
    for (int bit = 0; bit < 8; bit += 3) {
      data[offset] ^= (uint8_t)(1u << bit);
      sl_snapshot decoded;
      sl_status status = sl_snapshot_decode(data, size_bytes, "flipped.snp", &decoded, &err);
      data[offset] ^= (uint8_t)(1u << bit);
      if (status != SL_ERR_CORRUPT) {
        fail_msg("flip at offset %zu bit %d: status %d", offset, bit, (int)status);
      }
      assert_non_null(strstr(err.message, "snapshot flipped.snp: offset "));
      assert_int_equal(decoded.part_count, 0);
      assert_null(decoded.parts);
    }
  }
  free(data);
  sl_snapshot_free(&original);
}

/* Flags: the WAL bit is read back; any other bit is refused by both sides, even under a valid
 * checksum (a newer build's snapshot is not read as this one's). */
static void unknown_flags_are_refused(void **state) {
  (void)state;
  sl_snapshot original;
  make_snapshot(&original, 5, 2);
  assert_int_equal(original.flags, SL_SNAPSHOT_WAL_IN_USE);
  uint8_t *data = NULL;
  size_t size_bytes = 0;
  sl_error err;
  assert_int_equal(sl_snapshot_encode(&original, &data, &size_bytes, &err), SL_OK);
  data[12] = 3;
  uint64_t sum = sl_hash64(data, size_bytes - 8, 0);
  for (int i = 0; i < 8; i++) {
    data[size_bytes - 8 + (size_t)i] = (uint8_t)(sum >> (8 * i));
  }
  sl_snapshot decoded;
  assert_int_equal(sl_snapshot_decode(data, size_bytes, "new.snp", &decoded, &err), SL_ERR_CORRUPT);
  assert_non_null(strstr(err.message, "snapshot new.snp: offset 12: unknown flags"));
  free(data);
  original.flags = 2;
  assert_int_equal(sl_snapshot_encode(&original, &data, &size_bytes, &err), SL_ERR_INVALID);
  assert_non_null(strstr(err.message, "flags"));
  sl_snapshot_free(&original);
}

static void every_truncation_is_caught(void **state) {
  (void)state;
  const char *dir = test_temp_dir("snapshot-truncated");
  write_snapshot(dir, 9, 3, 2);
  char path[PATH_BYTES];
  snapshot_file(dir, 9, path);
  size_t size_bytes = 0;
  char *data = test_read_file(path, &size_bytes);
  assert_non_null(data);
  for (size_t cut = 0; cut < size_bytes; cut++) {
    assert_int_equal(truncate(path, (off_t)cut), 0);
    sl_snapshot snapshot;
    sl_error err;
    assert_int_equal(sl_snapshot_read_file(path, &snapshot, &err), SL_ERR_CORRUPT);
    assert_non_null(strstr(err.message, path));
    assert_non_null(strstr(err.message, "offset"));
  }
  /* One byte too many is caught as well. */
  FILE *file = fopen(path, "wb");
  assert_non_null(file);
  assert_int_equal(fwrite(data, 1, size_bytes, file), size_bytes);
  assert_int_equal(fputc(0, file), 0);
  fclose(file);
  sl_snapshot snapshot;
  sl_error err;
  assert_int_equal(sl_snapshot_read_file(path, &snapshot, &err), SL_ERR_CORRUPT);
  free(data);
}

static void corrupt_newest_falls_back_only_when_allowed(void **state) {
  (void)state;
  const char *dir = test_temp_dir("snapshot-fallback");
  write_snapshot(dir, 1, 2, 2);
  write_snapshot(dir, 2, 3, 2);
  char newest[PATH_BYTES];
  snapshot_file(dir, 2, newest);
  flip_byte(newest, SL_SNAPSHOT_HEADER_BYTES + 5); /* inside the first part name */
  sl_snapshot loaded;
  sl_snapshot_load_result result;
  sl_error err;
  assert_int_equal(sl_snapshot_load_latest(dir, false, &loaded, &result, &err), SL_ERR_CORRUPT);
  assert_non_null(strstr(err.message, newest));
  assert_non_null(strstr(err.message, "offset"));
  assert_false(result.found);
  assert_int_equal(sl_snapshot_load_latest(dir, true, &loaded, &result, &err), SL_OK);
  assert_true(result.found);
  assert_int_equal(loaded.epoch, 1);
  assert_int_equal(result.newest_epoch_seen, 2);
  assert_int_equal(result.corrupt_skipped, 1);
  assert_non_null(strstr(result.warning, newest));
  assert_non_null(strstr(result.warning, "loaded epoch 1"));
  sl_snapshot_free(&loaded);
  /* The next snapshot goes above the newest seen; pruning drops the corrupt one. */
  write_snapshot(dir, 3, 1, 2);
  char path[PATH_BYTES];
  snapshot_file(dir, 1, path);
  assert_true(exists(path));
  assert_false(exists(newest));
  /* Every snapshot corrupt: an error even with fallback. */
  snapshot_file(dir, 1, path);
  flip_byte(path, 20);
  snapshot_file(dir, 3, path);
  flip_byte(path, 20);
  assert_int_equal(sl_snapshot_load_latest(dir, true, &loaded, &result, &err), SL_ERR_CORRUPT);
  assert_false(result.found);
}

static void file_name_must_match_the_epoch(void **state) {
  (void)state;
  const char *dir = test_temp_dir("snapshot-rename");
  write_snapshot(dir, 4, 1, 2);
  char from[PATH_BYTES];
  char to[PATH_BYTES];
  snapshot_file(dir, 4, from);
  snapshot_file(dir, 8, to);
  assert_int_equal(rename(from, to), 0);
  sl_snapshot snapshot;
  sl_error err;
  assert_int_equal(sl_snapshot_read_file(to, &snapshot, &err), SL_ERR_CORRUPT);
  assert_non_null(strstr(err.message, "does not match the file name"));
}

static void bad_part_names_are_refused(void **state) {
  (void)state;
  const char *bad[] = {"", ".", "..", "a/b"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    sl_snapshot snapshot;
    make_snapshot(&snapshot, 1, 1);
    sl_error err;
    assert_int_equal(sl_snapshot_add_part(&snapshot, bad[i], 1, &err), SL_OK);
    uint8_t *data = NULL;
    size_t size_bytes = 0;
    assert_int_equal(sl_snapshot_encode(&snapshot, &data, &size_bytes, &err), SL_ERR_INVALID);
    assert_null(data);
    sl_snapshot_free(&snapshot);
  }
  char long_name[300];
  memset(long_name, 'x', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  sl_snapshot snapshot;
  make_snapshot(&snapshot, 1, 2);
  sl_error err;
  assert_int_equal(sl_snapshot_add_part(&snapshot, long_name, 1, &err), SL_OK);
  uint8_t *data = NULL;
  size_t size_bytes = 0;
  assert_int_equal(sl_snapshot_encode(&snapshot, &data, &size_bytes, &err), SL_ERR_INVALID);
  sl_snapshot_free(&snapshot);
  make_snapshot(&snapshot, 1, 2);
  assert_int_equal(sl_snapshot_add_part(&snapshot, snapshot.parts[0].name, 1, &err), SL_OK);
  assert_int_equal(sl_snapshot_encode(&snapshot, &data, &size_bytes, &err), SL_ERR_INVALID);
  assert_non_null(strstr(err.message, "listed twice"));
  sl_snapshot_free(&snapshot);
}

static int failures_left;

static ssize_t full_disk_pwrite(int fd, const void *data, size_t size_bytes, off_t offset) {
  (void)fd;
  (void)data;
  (void)size_bytes;
  (void)offset;
  failures_left--;
  errno = ENOSPC;
  return -1;
}

static void full_disk_keeps_the_previous_snapshot(void **state) {
  (void)state;
  const char *dir = test_temp_dir("snapshot-nospace");
  write_snapshot(dir, 1, 2, 2);
  sl_snapshot next;
  make_snapshot(&next, 2, 2);
  sl_fileio_hooks hooks = {full_disk_pwrite, NULL, NULL};
  sl_fileio_set_hooks(&hooks);
  sl_error err;
  sl_status status = sl_snapshot_write(dir, &next, 2, &err);
  sl_fileio_set_hooks(NULL);
  sl_snapshot_free(&next);
  assert_int_equal(status, SL_ERR_NOSPACE);
  char path[PATH_BYTES];
  snapshot_file(dir, 2, path);
  assert_non_null(strstr(err.message, path)); /* names the file (its .tmp) */
  assert_false(exists(path));
  strcat(path, ".tmp");
  assert_false(exists(path));
  sl_snapshot loaded;
  sl_snapshot_load_result result;
  assert_int_equal(sl_snapshot_load_latest(dir, false, &loaded, &result, &err), SL_OK);
  assert_int_equal(loaded.epoch, 1);
  sl_snapshot_free(&loaded);
}

static void leftover_temporary_files_are_ignored_then_removed(void **state) {
  (void)state;
  const char *dir = test_temp_dir("snapshot-tmp");
  write_snapshot(dir, 1, 1, 2);
  test_write_file(dir, "0000000000000002.snp.tmp", "half a snapshot");
  sl_snapshot loaded;
  sl_snapshot_load_result result;
  sl_error err;
  assert_int_equal(sl_snapshot_load_latest(dir, false, &loaded, &result, &err), SL_OK);
  assert_int_equal(loaded.epoch, 1);
  assert_int_equal(result.newest_epoch_seen, 1);
  sl_snapshot_free(&loaded);
  write_snapshot(dir, 2, 1, 2);
  char path[PATH_BYTES];
  snapshot_file(dir, 2, path);
  strcat(path, ".tmp");
  assert_false(exists(path));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(encode_decode_round_trip),
      cmocka_unit_test(write_then_load_latest),
      cmocka_unit_test(every_flipped_byte_is_caught),
      cmocka_unit_test(unknown_flags_are_refused),
      cmocka_unit_test(every_truncation_is_caught),
      cmocka_unit_test(corrupt_newest_falls_back_only_when_allowed),
      cmocka_unit_test(file_name_must_match_the_epoch),
      cmocka_unit_test(bad_part_names_are_refused),
      cmocka_unit_test(full_disk_keeps_the_previous_snapshot),
      cmocka_unit_test(leftover_temporary_files_are_ignored_then_removed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
