/* test_storage_part_corrupt.c: a damaged part file is reported, never read as good data.
 *
 * A file part is written from fixed-seed rows (tests/support/part_model.h), then each of its files
 * in turn is truncated at several offsets, has single bytes flipped at several offsets (fixed ones
 * around the footer and the ends, and seeded ones), or is removed.  After each damage the part is
 * opened and, when that succeeds, every chunk, block, column, series entry and term is read.  The
 * damage must be reported: SL_ERR_CORRUPT or SL_ERR_IO (SL_ERR_NOT_FOUND for a removed file) with a
 * message naming the damaged file's path and an offset.  A damage nothing reports while the part
 * still answers exactly as the model says would be dead bytes in the format; one that changes an
 * answer without an error fails the test.  Runs clean under ASan: no read out of bounds.
 *
 * CORRUPT_FLIPS sets the seeded flips per file (default 24); CORRUPT_FLIPS=3000 flips about every
 * byte of the smaller part (66,374 damages, 55 s: every one reported). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "part_model.h"
#include "storage/merge.h"
#include "test_support.h"

enum { MAX_FILES = 16, SEEDED_FLIPS_DEFAULT = 24 };
static size_t SEEDED_FLIPS = SEEDED_FLIPS_DEFAULT; /* CORRUPT_FLIPS */

typedef struct part_files {
  char dir[4096];
  size_t count;
  char names[MAX_FILES][64];
  uint8_t *bytes[MAX_FILES];
  size_t sizes[MAX_FILES];
} part_files;

typedef struct totals {
  uint64_t damages;
  uint64_t at_open;   /* reported by sl_part_open */
  uint64_t at_read;   /* reported while reading */
  uint64_t undetected; /* nothing reported, every answer still right */
} totals;

static void write_bytes(const char *path, const uint8_t *data, size_t size) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    fail_msg("open %s: %s", path, strerror(errno));
  }
  size_t done = 0;
  while (done < size) {
    ssize_t wrote = write(fd, data + done, size - done);
    assert_true(wrote > 0);
    done += (size_t)wrote;
  }
  assert_int_equal(close(fd), 0);
}

static void file_path(const part_files *files, size_t f, char *out, size_t out_bytes) {
  int length = snprintf(out, out_bytes, "%s/%s", files->dir, files->names[f]);
  assert_true(length > 0 && (size_t)length < out_bytes);
}

/* Opens and reads the part; checks that damage to file f is reported as it must be. */
static void expect_reported(const part_files *files, size_t f, const sl_part_layout *layout, const pm_expected *expected,
                            const char *damage, bool removed, totals *sums) {
  sums->damages++;
  char path[4200];
  file_path(files, f, path, sizeof path);
  sl_part *part = NULL;
  sl_error err;
  sl_error_clear(&err);
  sl_status status = sl_part_open(layout, files->dir, 1, &part, &err);
  bool at_open = status != SL_OK;
  if (status == SL_OK) {
    status = pm_read_all(part, &err);
  }
  if (status == SL_OK) {
    pm_checker checker;
    bool same = pm_check(&checker, part, expected, 3);
    sl_part_unref(part);
    if (!same) {
      fail_msg("%s %s: no error, but the part answers wrong: %s", damage, path, checker.message);
    }
    if (removed || strcmp(damage, "nothing") != 0) {
      print_message("      undetected, answers unchanged: %s %s\n", damage, path);
    }
    sums->undetected++;
    return;
  }
  sl_part_unref(part);
  bool status_ok = status == SL_ERR_CORRUPT || status == SL_ERR_IO || (removed && status == SL_ERR_NOT_FOUND);
  if (!status_ok || strstr(err.message, path) == NULL || (!removed && strstr(err.message, "offset") == NULL)) {
    fail_msg("%s %s: reported as %s: \"%s\" (wanted corrupt or I/O, naming the file and an offset)", damage, path,
             sl_status_name(status), err.message);
  }
  sums->at_open += at_open;
  sums->at_read += !at_open;
}

static void restore(const part_files *files, size_t f) {
  char path[4200];
  file_path(files, f, path, sizeof path);
  write_bytes(path, files->bytes[f], files->sizes[f]);
}

static void load_files(part_files *files) {
  static const char *const names[] = {"metadata.bin", "meta.bin", "primary.bin", "timestamps.bin", "tags.tf", "blob.tf",
                                      "smeta.bin", "traceID.filter", "few_idx.idx", "num_idx.idx", "many_idx.idx"};
  files->count = sizeof names / sizeof names[0];
  for (size_t f = 0; f < files->count; f++) {
    snprintf(files->names[f], sizeof files->names[f], "%s", names[f]);
    char path[4200];
    file_path(files, f, path, sizeof path);
    size_t size = 0;
    files->bytes[f] = (uint8_t *)test_read_file(path, &size);
    if (files->bytes[f] == NULL) {
      fail_msg("%s is missing", path);
    }
    files->sizes[f] = size;
  }
}

static void damage_every_file(const sl_part_layout *layout, const pm_set *set, const char *dir, uint64_t seed, totals *sums) {
  pm_expected expected;
  pm_expect(set, 1, &expected);
  part_files files = {0};
  int length = snprintf(files.dir, sizeof files.dir, "%s/part", dir);
  assert_true(length > 0 && (size_t)length < sizeof files.dir);
  sl_part *memory = NULL;
  sl_part *written = NULL;
  sl_error err;
  assert_int_equal(sl_part_build_memory(layout, set->inputs, set->count, 1, 1, &memory, &err), SL_OK);
  if (sl_parts_merge(&memory, 1, files.dir, 1, NULL, &written, &err) != SL_OK) {
    fail_msg("write part: %s", err.message);
  }
  sl_part_unref(memory);
  sl_part_unref(written);
  load_files(&files);
  /* The pristine part reads back right. */
  totals pristine = {0};
  expect_reported(&files, 0, layout, &expected, "nothing", false, &pristine);
  assert_int_equal(pristine.undetected, 1);

  uint64_t state = pm_mix(seed);
  for (size_t f = 0; f < files.count; f++) {
    char path[4200];
    file_path(&files, f, path, sizeof path);
    size_t size = files.sizes[f];
    /* Truncations: empty, inside the content, at and inside the footer, one byte short. */
    size_t cuts[] = {0, 1, size / 3, size / 2, size > 41 ? size - 41 : 0, size > 40 ? size - 40 : 0,
                     size > 20 ? size - 20 : 0, size - 1};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
      if (c > 0 && cuts[c] == cuts[c - 1]) {
        continue;
      }
      write_bytes(path, files.bytes[f], cuts[c]);
      char damage[96];
      snprintf(damage, sizeof damage, "truncated to %zu of %zu bytes:", cuts[c], size);
      expect_reported(&files, f, layout, &expected, damage, false, sums);
    }
    restore(&files, f);
    /* Flips: both ends, the footer's fields, the middle, and seeded offsets. */
    size_t flip_count = 8 + SEEDED_FLIPS;
    size_t *flips = calloc(flip_count, sizeof *flips);
    assert_non_null(flips);
    size_t fixed[8] = {0, 1, size / 4, size / 2, size - 41, size - 40, size - 24, size - 1};
    memcpy(flips, fixed, sizeof fixed);
    for (size_t k = 8; k < flip_count; k++) {
      state = pm_mix(state + k);
      flips[k] = (size_t)(state % size);
    }
    uint8_t *copy = malloc(size);
    assert_non_null(copy);
    for (size_t k = 0; k < flip_count; k++) {
      memcpy(copy, files.bytes[f], size);
      uint8_t mask = (uint8_t)(1u << (k % 8));
      copy[flips[k]] ^= mask;
      write_bytes(path, copy, size);
      char damage[96];
      snprintf(damage, sizeof damage, "byte %zu of %zu flipped (xor 0x%02x):", flips[k], size, mask);
      expect_reported(&files, f, layout, &expected, damage, false, sums);
    }
    free(copy);
    free(flips);
    restore(&files, f);
    /* Removed. */
    assert_int_equal(unlink(path), 0);
    expect_reported(&files, f, layout, &expected, "removed:", true, sums);
    restore(&files, f);
  }
  totals clean = {0};
  expect_reported(&files, 0, layout, &expected, "nothing", false, &clean);
  assert_int_equal(clean.undetected, 1);
  for (size_t f = 0; f < files.count; f++) {
    free(files.bytes[f]);
  }
  pm_expected_free(&expected);
}

static void every_damaged_file_is_reported(void **state) {
  (void)state;
  totals sums = {0};
  const char *flips = getenv("CORRUPT_FLIPS");
  if (flips != NULL) {
    SEEDED_FLIPS = (size_t)strtoul(flips, NULL, 10);
  }
  static const struct {
    uint32_t rows_limit;
    size_t rows;
    uint64_t seed;
  } parts[] = {{8, 1500, 11}, {0, 300, 12}};
  for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++) {
    sl_part_layout layout;
    pm_layout(&layout, parts[p].rows_limit, 0);
    pm_spec spec = {.seed = parts[p].seed, .rows = parts[p].rows, .key_count = 200, .sort_span = 30, .first_id = 1};
    pm_set set;
    pm_generate(&spec, &set);
    char name[32];
    snprintf(name, sizeof name, "part-corrupt-%zu", p);
    const char *dir = test_temp_dir(name);
    char base[4000];
    int length = snprintf(base, sizeof base, "%s", dir);
    assert_true(length > 0 && (size_t)length < sizeof base);
    damage_every_file(&layout, &set, base, parts[p].seed, &sums);
    pm_set_free(&set);
  }
  print_message("      %llu damages: %llu reported at open, %llu while reading, %llu undetected\n",
                (unsigned long long)sums.damages, (unsigned long long)sums.at_open, (unsigned long long)sums.at_read,
                (unsigned long long)sums.undetected);
  assert_int_equal(sums.undetected, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_damaged_file_is_reported),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
