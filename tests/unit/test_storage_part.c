/* test_storage_part.c: parts hold exactly the rows they are given.
 *
 * Rows come from fixed seeds (tests/support/part_model.h: an int64 sort column with many ties, a
 * timestamp column, strings with few and many distinct values, binary values, nulls, term indexes
 * on strings and on an int column, series metadata, a key bloom).  Every part is compared with a
 * brute-force model: rows in (key, sort value, input order) order, values, nulls, block and chunk
 * metadata, series, bloom, term cursors both ways, lookups, seeks and ranges, row lookups, and the
 * block limits (max_block_rows, max_block_raw_bytes).  Checked for memory parts, for file parts
 * written by sl_parts_merge and reopened with sl_part_open, and for merges of several parts: the
 * raw block copy path (sort ranges apart, keys apart) and the decode path (overlapping ranges,
 * ranges that touch, all rows tied), memory and mixed inputs, merges of merges.  Last,
 * sl_merge_policy_choose against choices worked out by hand from BanyanDB's
 * banyand/stream/merger_policy.go. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "part_model.h"
#include "storage/fileio.h"
#include "storage/merge.h"
#include "test_support.h"

/* snprintf for paths: fails the test when the result does not fit. */
static void make_path(char *out, size_t out_bytes, const char *format, ...) __attribute__((format(printf, 3, 4)));
static void make_path(char *out, size_t out_bytes, const char *format, ...) {
  va_list args;
  va_start(args, format);
  int length = vsnprintf(out, out_bytes, format, args);
  va_end(args);
  assert_true(length >= 0 && (size_t)length < out_bytes);
}

static void check_or_fail(sl_part *part, const pm_expected *expected, uint64_t seed, const char *what) {
  pm_checker checker;
  if (!pm_check(&checker, part, expected, seed)) {
    fail_msg("%s: %s", what, checker.message);
  }
  assert_true(checker.blocks > 0);
  assert_true(checker.terms_checked > 0);
}

static sl_part *build_memory(const sl_part_layout *layout, const pm_set *set, uint64_t id) {
  sl_part *part = NULL;
  sl_error err;
  if (sl_part_build_memory(layout, set->inputs, set->count, id, id, &part, &err) != SL_OK) {
    fail_msg("build memory part: %s", err.message);
  }
  return part;
}

/* A file part in dir/name holding set (a memory part flushed by sl_parts_merge). */
static sl_part *build_file(const sl_part_layout *layout, const pm_set *set, const char *dir, const char *name, uint64_t id) {
  sl_part *memory = build_memory(layout, set, id);
  char path[4200];
  make_path(path, sizeof path, "%s/%s", dir, name);
  sl_part *file = NULL;
  sl_error err;
  if (sl_parts_merge(&memory, 1, path, id, NULL, &file, &err) != SL_OK) {
    fail_msg("flush to %s: %s", path, err.message);
  }
  sl_part_unref(memory);
  assert_false(sl_part_info_of(file).in_memory);
  assert_string_equal(sl_part_dir(file), path);
  return file;
}

static void memory_parts_read_back_sorted(void **state) {
  (void)state;
  static const struct {
    uint64_t bytes_limit;
    uint32_t rows_limit;
    uint32_t many_bytes;
  } layouts[] = {{0, 0, 0}, {2 << 20, 0, 0}, {0, 8, 0}, {600, 5, 40}, {256, 0, 300}};
  for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; l++) {
    sl_part_layout layout;
    pm_layout(&layout, layouts[l].rows_limit, layouts[l].bytes_limit);
    for (uint64_t seed = 1; seed <= 3; seed++) {
      pm_spec spec = {.seed = seed * 100 + l, .rows = 1500 + seed * 200, .key_first = 0, .key_count = 180,
                      .sort_min = -20, .sort_span = 40, .set_number = 0, .first_id = 1,
                      .many_bytes = layouts[l].many_bytes};
      pm_set set;
      pm_generate(&spec, &set);
      pm_expected expected;
      pm_expect(&set, 1, &expected);
      sl_part *part = build_memory(&layout, &set, 7);
      sl_part_info info = sl_part_info_of(part);
      assert_true(info.in_memory);
      assert_int_equal(info.first_sequence, 7);
      assert_int_equal(info.last_sequence, 7);
      char what[96];
      snprintf(what, sizeof what, "memory part, layout %zu, seed %llu", l, (unsigned long long)seed);
      check_or_fail(part, &expected, seed, what);
      if (layouts[l].rows_limit > 0) {
        assert_true(info.chunks > 1); /* more than 128 blocks: several chunks */
      }
      sl_part_unref(part);
      pm_expected_free(&expected);
      pm_set_free(&set);
    }
  }
}

static void one_row_and_one_key(void **state) {
  (void)state;
  sl_part_layout layout;
  pm_layout(&layout, 3, 0);
  const char *dir = test_temp_dir("part-tiny");
  for (size_t rows = 1; rows <= 7; rows += 3) {
    pm_spec spec = {.seed = rows, .rows = rows, .key_count = 1, .sort_span = 1, .first_id = 1};
    pm_set set;
    pm_generate(&spec, &set);
    pm_expected expected;
    pm_expect(&set, 1, &expected);
    sl_part *memory = build_memory(&layout, &set, 1);
    pm_checker checker;
    if (!pm_check(&checker, memory, &expected, rows)) {
      fail_msg("%zu rows in memory: %s", rows, checker.message);
    }
    char name[32];
    snprintf(name, sizeof name, "p%zu", rows);
    sl_part *file = build_file(&layout, &set, dir, name, rows);
    if (!pm_check(&checker, file, &expected, rows)) {
      fail_msg("%zu rows on disk: %s", rows, checker.message);
    }
    assert_int_equal(checker.blocks, (rows + 2) / 3);
    sl_part_unref(memory);
    sl_part_unref(file);
    pm_expected_free(&expected);
    pm_set_free(&set);
  }
}

static void file_parts_round_trip(void **state) {
  (void)state;
  const char *base = test_temp_dir("part-file");
  char dir[4200];
  make_path(dir, sizeof dir, "%s", base);
  for (uint32_t limit = 0; limit <= 8; limit += 8) {
    sl_part_layout layout;
    pm_layout(&layout, limit, limit > 0 ? 900 : 0);
    pm_spec spec = {.seed = 42 + limit, .rows = 4000, .key_count = 300, .sort_min = 1000, .sort_span = 60, .first_id = 1};
    pm_set set;
    pm_generate(&spec, &set);
    pm_expected expected;
    pm_expect(&set, 1, &expected);
    char name[32];
    snprintf(name, sizeof name, "part-%u", limit);
    sl_part *file = build_file(&layout, &set, dir, name, 11);
    check_or_fail(file, &expected, 5, "file part as written");
    char path[4300];
    make_path(path, sizeof path, "%s/%s", dir, name);
    static const char *const files[] = {"metadata.bin", "meta.bin", "primary.bin", "timestamps.bin", "tags.tf",
                                        "blob.tf", "smeta.bin", "traceID.filter", "few_idx.idx", "num_idx.idx",
                                        "many_idx.idx"};
    uint64_t total = 0;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
      char file_path[4400];
      make_path(file_path, sizeof file_path, "%s/%s", path, files[f]);
      struct stat info;
      if (stat(file_path, &info) != 0) {
        fail_msg("%s is missing", file_path);
      }
      total += (uint64_t)info.st_size;
    }
    assert_int_equal(sl_part_info_of(file).size_bytes, total);
    sl_part_unref(file);
    sl_part *opened = NULL;
    sl_error err;
    if (sl_part_open(&layout, path, 11, &opened, &err) != SL_OK) {
      fail_msg("reopen %s: %s", path, err.message);
    }
    check_or_fail(opened, &expected, 6, "file part reopened");
    assert_int_equal(sl_part_info_of(opened).size_bytes, total);
    /* After the caches are dropped the part reads the same. */
    sl_part_drop_caches(opened);
    check_or_fail(opened, &expected, 7, "file part after drop_caches");
    /* Another layout is refused with the file named. */
    sl_part_layout other;
    pm_layout(&other, limit, 0);
    snprintf(other.columns[PM_MANY].name, sizeof other.columns[PM_MANY].name, "renamed");
    sl_part *refused = NULL;
    assert_int_equal(sl_part_open(&other, path, 11, &refused, &err), SL_ERR_CORRUPT);
    assert_non_null(strstr(err.message, "metadata.bin"));
    assert_null(refused);
    sl_part_unref(opened);
    pm_expected_free(&expected);
    pm_set_free(&set);
  }
}

/* ---- Part files are written with O_DIRECT where the file system takes it ---- */

enum { DIRECT_FDS = 64, DIRECT_ALIGN = 4096 };
static pthread_mutex_t direct_lock = PTHREAD_MUTEX_INITIALIZER;
static bool direct_refuse;     /* answer EINVAL to every write on an O_DIRECT descriptor */
static int direct_writes, buffered_writes, misaligned_direct_writes, refused_writes;
static int writes_per_fd[DIRECT_FDS];

static ssize_t direct_recording_pwrite(int fd, const void *data, size_t size, off_t offset) {
  int flags = fcntl(fd, F_GETFL);
  bool direct = flags >= 0 && (flags & O_DIRECT) != 0;
  pthread_mutex_lock(&direct_lock);
  if (fd >= 0 && fd < DIRECT_FDS) {
    writes_per_fd[fd]++;
  }
  bool refuse = direct && direct_refuse;
  refused_writes += refuse;
  direct_writes += direct && !refuse;
  buffered_writes += !direct;
  misaligned_direct_writes += direct && ((uintptr_t)data % DIRECT_ALIGN != 0 || size % DIRECT_ALIGN != 0 ||
                                         (uint64_t)offset % DIRECT_ALIGN != 0);
  pthread_mutex_unlock(&direct_lock);
  if (refuse) {
    errno = EINVAL;
    return -1;
  }
  return pwrite(fd, data, size, offset);
}

static void start_recording_writes(bool refuse) {
  direct_refuse = refuse;
  direct_writes = buffered_writes = misaligned_direct_writes = refused_writes = 0;
  memset(writes_per_fd, 0, sizeof writes_per_fd);
  sl_fileio_hooks hooks = {direct_recording_pwrite, NULL, NULL};
  sl_fileio_set_hooks(&hooks);
}

/* source merged alone into base/name, every write recorded (refused when direct, if refuse). */
static sl_part *merge_recording_writes(sl_part *source, const char *base, const char *name, bool refuse) {
  char path[4200];
  make_path(path, sizeof path, "%s/%s", base, name);
  start_recording_writes(refuse);
  sl_part *merged = NULL;
  sl_error err;
  sl_status status = sl_parts_merge(&source, 1, path, 21, NULL, &merged, &err);
  sl_fileio_set_hooks(NULL);
  if (status != SL_OK) {
    fail_msg("merge into %s: %s", path, err.message);
  }
  return merged;
}

/* Calls visit for every file of a part directory (names not starting with '.'); returns how many. */
typedef void (*file_visit_fn)(const char *dir, const char *name, void *context);
static int for_each_file(const char *dir, file_visit_fn visit, void *context) {
  DIR *listing = opendir(dir);
  assert_non_null(listing);
  int files = 0;
  for (struct dirent *entry = readdir(listing); entry != NULL; entry = readdir(listing)) {
    if (entry->d_name[0] != '.') {
      visit(dir, entry->d_name, context);
      files++;
    }
  }
  closedir(listing);
  return files;
}

static void assert_same_file(const char *dir_a, const char *name, void *context) {
  const char *dir_b = context;
  char path_a[4400], path_b[4400];
  make_path(path_a, sizeof path_a, "%s/%s", dir_a, name);
  make_path(path_b, sizeof path_b, "%s/%s", dir_b, name);
  uint8_t *a = NULL, *b = NULL;
  size_t size_a = 0, size_b = 0;
  sl_error err;
  if (sl_fileio_read_file(path_a, 1ULL << 30, &a, &size_a, &err) != SL_OK ||
      sl_fileio_read_file(path_b, 1ULL << 30, &b, &size_b, &err) != SL_OK) {
    fail_msg("read: %s", err.message);
  }
  if (size_a != size_b || memcmp(a, b, size_a) != 0) {
    fail_msg("%s (%zu bytes) differs from %s (%zu bytes)", path_a, size_a, path_b, size_b);
  }
  free(a);
  free(b);
}

static void assert_same_files(const char *dir_a, const char *dir_b) {
  assert_true(for_each_file(dir_a, assert_same_file, (void *)dir_b) >= 10);
}

/* A flush writes through the page cache (what was just written is read from memory, as BanyanDB's
 * flushed parts); a merge of at least sl_merge_uncached_from_bytes writes with O_DIRECT where the
 * file system takes it, every write aligned (the tail padded, then the file cut back to its
 * content), and where the system refuses (EINVAL) goes on buffered. The two merged parts are byte
 * for byte alike and read back right. */
static void large_merges_write_direct_and_flushes_through_the_cache(void **state) {
  (void)state;
  const char *base = test_temp_dir("part-direct");
  sl_part_layout layout;
  pm_layout(&layout, 0, 0);
  pm_spec spec = {.seed = 77, .rows = 70000, .key_count = 40, .sort_min = 1000, .sort_span = 600, .first_id = 1};
  pm_set set;
  pm_generate(&spec, &set);
  pm_expected expected;
  pm_expect(&set, 1, &expected);
  char probe_path[4200];
  make_path(probe_path, sizeof probe_path, "%s/probe", base);
  int probe = open(probe_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  assert_true(probe >= 0);
  sl_fileio_direct support = sl_fileio_direct_support(probe, DIRECT_ALIGN);
  close(probe);
  unlink(probe_path);

  start_recording_writes(false);
  sl_part *flushed = build_file(&layout, &set, base, "flushed", 20);
  sl_fileio_set_hooks(NULL);
  assert_int_equal(direct_writes, 0);
  assert_true(buffered_writes > 0);

  sl_merge_uncached_from_bytes = 1;
  sl_part *direct = merge_recording_writes(flushed, base, "direct", false);
  check_or_fail(direct, &expected, 3, "merged part written where direct writes are taken");
  int most_writes = 0;
  for (int fd = 0; fd < DIRECT_FDS; fd++) {
    most_writes = writes_per_fd[fd] > most_writes ? writes_per_fd[fd] : most_writes;
  }
  assert_true(most_writes >= 2); /* a file longer than one write buffer */
  assert_int_equal(misaligned_direct_writes, 0);
  if (support == SL_FILEIO_DIRECT_YES) {
    assert_true(direct_writes > 0);
    assert_int_equal(buffered_writes, 0);
  } else {
    print_message("the test directory's file system does not say it takes O_DIRECT: direct writes %d\n",
                  direct_writes);
  }

  sl_part *buffered = merge_recording_writes(flushed, base, "buffered", true);
  sl_merge_uncached_from_bytes = 0;
  check_or_fail(buffered, &expected, 4, "merged part written where direct writes are refused");
  assert_int_equal(direct_writes, 0);
  assert_true(buffered_writes > 0);
  if (support != SL_FILEIO_DIRECT_NO) {
    assert_true(refused_writes > 0); /* each file tried direct, once */
  }
  assert_int_equal(sl_part_info_of(direct).size_bytes, sl_part_info_of(buffered).size_bytes);
  char dir_a[4300], dir_b[4300];
  make_path(dir_a, sizeof dir_a, "%s/direct", base);
  make_path(dir_b, sizeof dir_b, "%s/buffered", base);
  assert_same_files(dir_a, dir_b);
  sl_part_unref(flushed);
  sl_part_unref(direct);
  sl_part_unref(buffered);
  pm_expected_free(&expected);
  pm_set_free(&set);
}

/* ---- Durability: every file of a part is fsynced before the part is named ---- */

enum { MAX_SYNCED = 128 };
static char synced_paths[MAX_SYNCED][512];
static int synced_count;
static int fsyncs_before_failure; /* -1: never fail */

static pthread_mutex_t synced_lock = PTHREAD_MUTEX_INITIALIZER; /* a part's fsyncs run on several threads */

/* Records which file each fsync was for; fails the n-th (and every one after it) with EIO when asked. */
static int recording_fsync(int fd) {
  pthread_mutex_lock(&synced_lock);
  bool fail = fsyncs_before_failure == 0;
  if (fsyncs_before_failure > 0) {
    fsyncs_before_failure--;
  }
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  if (!fail && synced_count < MAX_SYNCED) {
    ssize_t length = readlink(link, synced_paths[synced_count], sizeof synced_paths[0] - 1);
    synced_paths[synced_count][length > 0 ? length : 0] = '\0';
    synced_count++;
  }
  pthread_mutex_unlock(&synced_lock);
  if (fail) {
    errno = EIO;
    return -1;
  }
  return fsync(fd);
}

static bool was_synced(const char *path) {
  for (int i = 0; i < synced_count; i++) {
    if (strcmp(synced_paths[i], path) == 0) {
      return true;
    }
  }
  return false;
}

static void assert_synced(const char *dir, const char *name, void *context) {
  (void)context;
  char path[4400];
  make_path(path, sizeof path, "%s/%s", dir, name);
  if (!was_synced(path)) {
    fail_msg("%s was not fsynced", path);
  }
}

static int open_descriptors(void) {
  DIR *fds = opendir("/proc/self/fd");
  assert_non_null(fds);
  int count = 0;
  for (struct dirent *entry = readdir(fds); entry != NULL; entry = readdir(fds)) {
    count += entry->d_name[0] != '.';
  }
  closedir(fds);
  return count;
}

/* A part of spec's rows flushed to base/name with every fsync recorded. */
static sl_part *build_file_recording_fsyncs(const pm_spec *spec, const char *base, const char *name, uint64_t id,
                                            pm_set *set_out) {
  sl_part_layout layout;
  pm_layout(&layout, 8, 900);
  pm_generate(spec, set_out);
  synced_count = 0;
  fsyncs_before_failure = -1;
  sl_fileio_hooks hooks = {NULL, recording_fsync, NULL};
  sl_fileio_set_hooks(&hooks);
  sl_part *file = build_file(&layout, set_out, base, name, id);
  sl_fileio_set_hooks(NULL);
  return file;
}

/* The part's fsyncs come after all its files are written (so the disk writes them together):
 * each file and the directory is still fsynced, once, before sl_parts_merge returns. */
static void every_file_of_a_part_is_fsynced(void **state) {
  (void)state;
  const char *base = test_temp_dir("part-durable");
  pm_spec spec = {.seed = 9, .rows = 3000, .key_count = 200, .sort_min = 1000, .sort_span = 60, .first_id = 1};
  pm_set set;
  sl_part *file = build_file_recording_fsyncs(&spec, base, "part", 3, &set);
  char dir[4200];
  make_path(dir, sizeof dir, "%s/part", base);
  char real_dir[4096];
  assert_non_null(realpath(dir, real_dir));
  int files = for_each_file(real_dir, assert_synced, NULL);
  assert_true(files >= 10);
  assert_true(was_synced(real_dir));
  assert_int_equal(synced_count, files + 1); /* once each */
  sl_part_unref(file);
  pm_set_free(&set);
}

/* An fsync that fails while a part is finished fails the part: the error names the file, the
 * part's directory is gone, and no descriptor stays open, whichever file's fsync it was. */
static void a_failed_fsync_fails_the_part_and_leaves_nothing(void **state) {
  (void)state;
  const char *base = test_temp_dir("part-fsync-fails");
  pm_spec spec = {.seed = 10, .rows = 2000, .key_count = 100, .sort_min = 1000, .sort_span = 60, .first_id = 1};
  pm_set set;
  /* How many fsyncs a part takes: its files and its directory. */
  sl_part *whole = build_file_recording_fsyncs(&spec, base, "whole", 4, &set);
  sl_part_unref(whole);
  sl_part_layout layout;
  pm_layout(&layout, 8, 900);
  int fsyncs = synced_count;
  assert_true(fsyncs >= 10);
  int descriptors = open_descriptors();
  const int failures[] = {0, 1, fsyncs / 3, 2 * fsyncs / 3, fsyncs - 2, fsyncs - 1}; /* the last is the directory's */
  for (size_t f = 0; f < sizeof failures / sizeof failures[0]; f++) {
    int failing = failures[f];
    sl_part *memory = build_memory(&layout, &set, 4);
    char path[4200];
    make_path(path, sizeof path, "%s/part-%d", base, failing);
    synced_count = 0;
    fsyncs_before_failure = failing;
    sl_fileio_hooks hooks = {NULL, recording_fsync, NULL};
    sl_fileio_set_hooks(&hooks);
    sl_part *file = NULL;
    sl_error err;
    sl_status status = sl_parts_merge(&memory, 1, path, 4, NULL, &file, &err);
    sl_fileio_set_hooks(NULL);
    assert_int_equal(status, SL_ERR_IO);
    assert_null(file);
    assert_non_null(strstr(err.message, "fsync"));
    assert_non_null(strstr(err.message, path));
    struct stat info;
    assert_int_not_equal(stat(path, &info), 0);
    assert_int_equal(open_descriptors(), descriptors);
    sl_part_unref(memory);
  }
  pm_set_free(&set);
}

/* ---- sl_fileio_fsync_all: every file once, on several threads, the first failure in array order ---- */

enum { FSYNC_ALL_FILES = 12 };
static int fsync_all_fds[FSYNC_ALL_FILES];
static int fsync_all_calls[FSYNC_ALL_FILES];
static pthread_t fsync_all_threads[FSYNC_ALL_FILES];
static bool fsync_all_failing[FSYNC_ALL_FILES];
static int fsync_all_unknown; /* fsyncs of other descriptors (checked on the test's thread: cmocka asserts only there) */

static int counting_fsync(int fd) {
  usleep(20 * 1000); /* long enough for the other threads to take files too */
  pthread_mutex_lock(&synced_lock);
  int index = -1;
  for (int i = 0; i < FSYNC_ALL_FILES; i++) {
    index = fsync_all_fds[i] == fd ? i : index;
  }
  bool fail = index < 0;
  if (index >= 0) {
    fsync_all_calls[index]++;
    fsync_all_threads[index] = pthread_self();
    fail = fsync_all_failing[index];
  } else {
    fsync_all_unknown++;
  }
  pthread_mutex_unlock(&synced_lock);
  if (fail) {
    errno = EIO;
    return -1;
  }
  return fsync(fd);
}

static void fsync_all_syncs_every_file_and_names_the_first_failure(void **state) {
  (void)state;
  const char *base = test_temp_dir("fsync-all");
  char paths[FSYNC_ALL_FILES][4200];
  const char *names[FSYNC_ALL_FILES];
  for (int i = 0; i < FSYNC_ALL_FILES; i++) {
    make_path(paths[i], sizeof paths[i], "%s/file-%02d", base, i);
    names[i] = paths[i];
    fsync_all_fds[i] = open(paths[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fsync_all_fds[i] >= 0);
    assert_int_equal(write(fsync_all_fds[i], "x", 1), 1);
  }
  sl_fileio_hooks hooks = {NULL, counting_fsync, NULL};
  for (int round = 0; round < 2; round++) {
    memset(fsync_all_calls, 0, sizeof fsync_all_calls);
    memset(fsync_all_failing, 0, sizeof fsync_all_failing);
    if (round == 1) {
      fsync_all_failing[3] = fsync_all_failing[9] = true;
    }
    sl_fileio_set_hooks(&hooks);
    sl_error err;
    sl_status status = sl_fileio_fsync_all(fsync_all_fds, names, FSYNC_ALL_FILES, &err);
    sl_fileio_set_hooks(NULL);
    assert_int_equal(fsync_all_unknown, 0);
    int threads = 0;
    for (int i = 0; i < FSYNC_ALL_FILES; i++) {
      assert_int_equal(fsync_all_calls[i], 1); /* each file once, also after a failure */
      bool seen = false;
      for (int j = 0; j < i; j++) {
        seen = seen || pthread_equal(fsync_all_threads[i], fsync_all_threads[j]);
      }
      threads += !seen;
    }
    assert_true(threads >= 2);
    assert_true(threads <= SL_FILEIO_FSYNC_THREADS);
    if (round == 0) {
      assert_int_equal(status, SL_OK);
    } else {
      assert_int_equal(status, SL_ERR_IO);
      assert_non_null(strstr(err.message, "fsync"));
      assert_non_null(strstr(err.message, paths[3])); /* the first failing file in array order */
      assert_null(strstr(err.message, paths[9]));
    }
  }
  for (int i = 0; i < FSYNC_ALL_FILES; i++) {
    close(fsync_all_fds[i]);
  }
}

/* Threads of this process named name (from /proc/self/task/TID/comm). */
static int threads_named(const char *name) {
  DIR *tasks = opendir("/proc/self/task");
  assert_non_null(tasks);
  int count = 0;
  for (struct dirent *entry = readdir(tasks); entry != NULL; entry = readdir(tasks)) {
    if (entry->d_name[0] == '.') {
      continue;
    }
    char path[300], comm[64] = {0};
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", entry->d_name);
    FILE *file = fopen(path, "r");
    if (file != NULL) {
      if (fgets(comm, sizeof comm, file) != NULL) {
        comm[strcspn(comm, "\n")] = '\0';
        count += strcmp(comm, name) == 0;
      }
      fclose(file);
    }
  }
  closedir(tasks);
  return count;
}

/* Creates count empty files base/file-I for the fsync tests: their paths, names and open fds. */
static void open_sync_files(const char *base, int count, char (*paths)[4200], const char **names, int *fds) {
  for (int i = 0; i < count; i++) {
    make_path(paths[i], sizeof paths[i], "%s/file-%d", base, i);
    names[i] = paths[i];
    fds[i] = open(paths[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fds[i] >= 0);
  }
}

/* Waits for a forked child and checks that it exited with 0. */
static void expect_child_succeeded(pid_t child) {
  assert_true(child > 0);
  int child_status = 0;
  assert_int_equal(waitpid(child, &child_status, 0), child);
  assert_true(WIFEXITED(child_status));
  assert_int_equal(WEXITSTATUS(child_status), 0);
}

/* The fsync workers are made once and kept (a thread's create and join cost 140-160 us on these
 * VMs, ~860 times a load when every call made its own), and a forked child, which has none of
 * them, still syncs every file. */
static void fsync_all_keeps_its_workers_and_works_after_fork(void **state) {
  (void)state;
  const char *base = test_temp_dir("fsync-all-pool");
  enum { FILES = 6 };
  char paths[FILES][4200];
  const char *names[FILES];
  int fds[FILES];
  open_sync_files(base, FILES, paths, names, fds);
  sl_error err;
  assert_int_equal(sl_fileio_fsync_all(fds, names, FILES, &err), SL_OK);
  int workers = threads_named("fsync");
  assert_int_equal(workers, SL_FILEIO_FSYNC_THREADS - 1);
  for (int round = 0; round < 5; round++) {
    assert_int_equal(sl_fileio_fsync_all(fds, names, FILES, &err), SL_OK);
  }
  assert_int_equal(threads_named("fsync"), workers);
  pid_t child = fork();
  if (child == 0) {
    alarm(20); /* a deadlock in the child ends it instead of the test run */
    int ok = sl_fileio_fsync_all(fds, names, FILES, &err) == SL_OK &&
             threads_named("fsync") == SL_FILEIO_FSYNC_THREADS - 1;
    _exit(ok ? 0 : 1);
  }
  expect_child_succeeded(child);
  for (int i = 0; i < FILES; i++) {
    close(fds[i]);
  }
}

/* Regression (review of stop 25): a forked child's second batch waited for ever. The parent's
 * workers were waiting on the pool's condition variables when the child was forked, and the child
 * inherited those variables with waiters that do not exist there. */
static void fsync_all_works_for_several_batches_after_fork(void **state) {
  (void)state;
  const char *base = test_temp_dir("fsync-all-fork-batches");
  enum { FILES = 5 };
  char paths[FILES][4200];
  const char *names[FILES];
  int fds[FILES];
  open_sync_files(base, FILES, paths, names, fds);
  sl_error err;
  assert_int_equal(sl_fileio_fsync_all(fds, names, FILES, &err), SL_OK);
  struct timespec pause = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000};
  nanosleep(&pause, NULL); /* the parent's workers are back waiting for work */
  pid_t child = fork();
  if (child == 0) {
    alarm(20); /* a deadlock in the child ends it instead of the test run */
    int ok = 1;
    for (int round = 0; round < 5 && ok; round++) {
      ok = sl_fileio_fsync_all(fds, names, FILES, &err) == SL_OK;
    }
    _exit(ok ? 0 : 1);
  }
  expect_child_succeeded(child);
  assert_int_equal(sl_fileio_fsync_all(fds, names, FILES, &err), SL_OK);
  for (int i = 0; i < FILES; i++) {
    close(fds[i]);
  }
}

/* Regression (fuzz_storage_part, its first inputs): the first column read with a fresh read
 * context, before any block was decompressed, did pointer arithmetic on the context's NULL
 * decompression buffer (clang's UBSan: "applying zero offset to null pointer"; GCC's build does
 * not flag it).  Every column of the first and last block, each with a fresh context. */
static void first_read_with_a_fresh_context(void **state) {
  (void)state;
  const char *base = test_temp_dir("part-fresh-context");
  char dir[4200];
  make_path(dir, sizeof dir, "%s", base);
  sl_part_layout layout;
  pm_layout(&layout, 4, 0);
  pm_spec spec = {.seed = 77, .rows = 60, .key_count = 5, .sort_span = 10, .first_id = 1};
  pm_set set;
  pm_generate(&spec, &set);
  pm_expected expected;
  pm_expect(&set, 1, &expected);
  sl_part *part = build_file(&layout, &set, dir, "p", 3);
  sl_error err;
  for (size_t chunk = 0; chunk < sl_part_chunk_count(part); chunk++) {
    sl_read_context blocks_context;
    assert_int_equal(sl_read_context_init(&blocks_context, &err), SL_OK);
    const sl_block_meta *blocks = NULL;
    size_t count = 0;
    assert_int_equal(sl_part_chunk_blocks(part, chunk, &blocks_context, &blocks, &count, &err), SL_OK);
    size_t picks[2] = {0, count - 1};
    for (size_t k = 0; k < 2; k++) {
      const sl_block_meta *block = &blocks[picks[k]];
      for (uint32_t c = 0; c < layout.column_count; c++) {
        sl_read_context fresh;
        assert_int_equal(sl_read_context_init(&fresh, &err), SL_OK);
        sl_column_view view;
        if (sl_part_read_column(part, block, c, &fresh, &view, &err) != SL_OK) {
          fail_msg("column %u: %s", c, err.message);
        }
        for (uint32_t r = 0; r < block->rows; r++) {
          assert_true(pm_value_equal(layout.columns[c].type, &expected.rows[block->first_row + r]->values[c], &view, r));
        }
        sl_read_context_free(&fresh);
      }
    }
    sl_read_context_free(&blocks_context);
  }
  sl_part_unref(part);
  pm_expected_free(&expected);
  pm_set_free(&set);
}

/* ---- merges ---- */

typedef struct merge_case {
  const char *name;
  uint64_t bytes_limit;
  size_t inputs;
  size_t rows;
  int64_t sort_step;    /* input i's sort values start at i * sort_step */
  int64_t sort_span;
  uint32_t rows_limit;
  uint32_t key_count;
  bool keys_apart;      /* input i gets keys of its own */
  bool reverse_ranges;  /* the oldest input gets the highest sort range */
  bool memory_inputs;   /* every other input stays a memory part */
  bool memory_output;
  bool expect_copies;
  bool expect_rewrites;
} merge_case;

static uint64_t last_page_releases; /* of the last run_merge_case */

static void run_merge_case(const merge_case *c, const char *dir, uint64_t seed) {
  sl_part_layout layout;
  pm_layout(&layout, c->rows_limit, c->bytes_limit);
  pm_set sets[8];
  sl_part *parts[8];
  assert_true(c->inputs <= 8);
  for (size_t i = 0; i < c->inputs; i++) {
    size_t range = c->reverse_ranges ? c->inputs - 1 - i : i;
    pm_spec spec = {.seed = seed * 1000 + i, .rows = c->rows, .key_first = c->keys_apart ? (uint32_t)i * c->key_count : 0,
                    .key_count = c->key_count, .sort_min = (int64_t)range * c->sort_step, .sort_span = c->sort_span,
                    .set_number = (uint32_t)i, .first_id = (int64_t)(i * c->rows + 1)};
    pm_generate(&spec, &sets[i]);
    char name[64];
    snprintf(name, sizeof name, "%s-in%zu", c->name, i);
    parts[i] = c->memory_inputs && i % 2 == 1 ? build_memory(&layout, &sets[i], i + 1)
                                              : build_file(&layout, &sets[i], dir, name, i + 1);
  }
  pm_expected expected;
  pm_expect(sets, c->inputs, &expected);
  char path[4300];
  make_path(path, sizeof path, "%s/%s-out", dir, c->name);
  sl_merge_stats stats;
  sl_part *merged = NULL;
  sl_error err;
  if (sl_parts_merge(parts, c->inputs, c->memory_output ? NULL : path, 100, &stats, &merged, &err) != SL_OK) {
    fail_msg("%s: merge: %s", c->name, err.message);
  }
  assert_int_equal(stats.rows, expected.count);
  last_page_releases = stats.page_releases;
  assert_int_equal(sl_part_info_of(merged).first_sequence, 1);
  assert_int_equal(sl_part_info_of(merged).last_sequence, c->inputs);
  char what[128];
  snprintf(what, sizeof what, "merge %s (seed %llu; %llu blocks copied, %llu rewritten)", c->name,
           (unsigned long long)seed, (unsigned long long)stats.blocks_copied, (unsigned long long)stats.blocks_rewritten);
  check_or_fail(merged, &expected, seed, what);
  if (c->expect_copies && stats.blocks_copied == 0) {
    fail_msg("%s: no block was copied raw", what);
  }
  if (c->expect_rewrites && stats.blocks_rewritten == 0) {
    fail_msg("%s: no block was decoded and rewritten", what);
  }
  if (!c->memory_output) {
    sl_part_unref(merged);
    merged = NULL;
    if (sl_part_open(&layout, path, 100, &merged, &err) != SL_OK) {
      fail_msg("%s: reopen: %s", what, err.message);
    }
    check_or_fail(merged, &expected, seed + 1, what);
  }
  sl_part_unref(merged);
  for (size_t i = 0; i < c->inputs; i++) {
    sl_part_unref(parts[i]);
    pm_set_free(&sets[i]);
  }
  pm_expected_free(&expected);
}

/* Merge shapes run by the tests below: overlaps, ranges apart or touching, keys apart, ties, byte
 * limits, memory inputs and output. */
static const merge_case merge_cases[] = {
    {.name = "overlapping", .rows_limit = 8, .inputs = 4, .rows = 900, .key_count = 120, .sort_step = 0,
     .sort_span = 30, .expect_rewrites = true},
    {.name = "overlapping-unlimited", .inputs = 3, .rows = 1200, .key_count = 200, .sort_step = 0, .sort_span = 1000,
     .expect_rewrites = true},
    {.name = "ranges-apart", .rows_limit = 8, .inputs = 4, .rows = 900, .key_count = 60, .sort_step = 100,
     .sort_span = 100, .expect_copies = true},
    {.name = "ranges-apart-reversed", .rows_limit = 8, .inputs = 3, .rows = 900, .key_count = 60, .sort_step = 100,
     .sort_span = 100, .reverse_ranges = true, .expect_copies = true},
    {.name = "keys-apart", .rows_limit = 6, .inputs = 3, .rows = 700, .key_count = 90, .keys_apart = true,
     .sort_span = 50, .expect_copies = true},
    {.name = "keys-apart-unlimited", .inputs = 3, .rows = 700, .key_count = 90, .keys_apart = true, .sort_span = 50,
     .expect_copies = true},
    {.name = "ranges-touch", .rows_limit = 8, .inputs = 3, .rows = 900, .key_count = 40, .sort_step = 49,
     .sort_span = 50},
    {.name = "ranges-touch-reversed", .rows_limit = 8, .inputs = 3, .rows = 900, .key_count = 40, .sort_step = 49,
     .sort_span = 50, .reverse_ranges = true},
    {.name = "all-tied", .rows_limit = 4, .inputs = 3, .rows = 600, .key_count = 20, .sort_span = 1},
    {.name = "all-tied-unlimited", .inputs = 3, .rows = 600, .key_count = 20, .sort_span = 1},
    {.name = "byte-limit", .bytes_limit = 500, .inputs = 3, .rows = 800, .key_count = 30, .sort_step = 0,
     .sort_span = 40, .expect_rewrites = true},
    {.name = "byte-limit-apart", .bytes_limit = 500, .inputs = 3, .rows = 800, .key_count = 30, .sort_step = 40,
     .sort_span = 40},
    {.name = "mixed-inputs", .rows_limit = 8, .inputs = 4, .rows = 700, .key_count = 80, .sort_step = 20,
     .sort_span = 30, .memory_inputs = true},
    {.name = "memory-output", .rows_limit = 8, .inputs = 3, .rows = 700, .key_count = 80, .sort_step = 20,
     .sort_span = 30, .memory_inputs = true, .memory_output = true},
};

static void merges_keep_every_row_and_posting(void **state) {
  (void)state;
  const char *dir = test_temp_dir("part-merge");
  char base[4200];
  make_path(base, sizeof base, "%s", dir);
  for (size_t c = 0; c < sizeof merge_cases / sizeof merge_cases[0]; c++) {
    for (uint64_t seed = 1; seed <= 2; seed++) {
      char sub[4300];
      make_path(sub, sizeof sub, "%s/s%llu", base, (unsigned long long)seed);
      mkdir(sub, 0755);
      run_merge_case(&merge_cases[c], sub, seed);
    }
  }
}

/* With an input's mapped pages released after every block it gives (sl_merge_release_every_bytes
 * at 1), merges still hold every row and posting: rows pending in the merge that point into the
 * released pages read them back from the file (every case of merges_keep_every_row_and_posting). */
static void merges_read_right_when_inputs_release_their_pages(void **state) {
  (void)state;
  const char *dir = test_temp_dir("part-merge-release");
  char base[4200];
  make_path(base, sizeof base, "%s", dir);
  uint64_t saved = sl_merge_release_every_bytes;
  sl_merge_release_every_bytes = 1;
  for (size_t c = 0; c < sizeof merge_cases / sizeof merge_cases[0]; c++) {
    run_merge_case(&merge_cases[c], base, 7); /* every case has a file input */
    assert_true(last_page_releases > 0);
  }
  sl_merge_release_every_bytes = saved;
  /* At the default, these small inputs are never released while read. */
  char again[4300];
  make_path(again, sizeof again, "%s/default", base);
  mkdir(again, 0755);
  run_merge_case(&merge_cases[0], again, 8);
  assert_int_equal(last_page_releases, 0);
}

/* merge(merge(a, b), merge(c, d)) holds what merge(a, b, c, d) holds, in the same order. */
static void merges_of_merges(void **state) {
  (void)state;
  const char *base = test_temp_dir("part-merge2");
  char dir[4200];
  make_path(dir, sizeof dir, "%s", base);
  sl_part_layout layout;
  pm_layout(&layout, 8, 0);
  pm_set sets[4];
  sl_part *parts[4];
  for (size_t i = 0; i < 4; i++) {
    pm_spec spec = {.seed = 900 + i, .rows = 800, .key_count = 70, .sort_min = (int64_t)i * 10, .sort_span = 25,
                    .set_number = (uint32_t)i, .first_id = (int64_t)(i * 800 + 1)};
    pm_generate(&spec, &sets[i]);
    char name[16];
    snprintf(name, sizeof name, "in%zu", i);
    parts[i] = build_file(&layout, &sets[i], dir, name, i + 1);
  }
  sl_part *halves[2];
  sl_error err;
  for (size_t h = 0; h < 2; h++) {
    char path[4300];
    make_path(path, sizeof path, "%s/half%zu", dir, h);
    if (sl_parts_merge(parts + 2 * h, 2, path, 10 + h, NULL, &halves[h], &err) != SL_OK) {
      fail_msg("half %zu: %s", h, err.message);
    }
  }
  char path[4300];
  make_path(path, sizeof path, "%s/whole", dir);
  sl_part *whole = NULL;
  if (sl_parts_merge(halves, 2, path, 20, NULL, &whole, &err) != SL_OK) {
    fail_msg("whole: %s", err.message);
  }
  pm_expected expected;
  pm_expect(sets, 4, &expected);
  check_or_fail(whole, &expected, 3, "merge of merges");
  pm_expected_free(&expected);
  sl_part_unref(whole);
  for (size_t i = 0; i < 4; i++) {
    sl_part_unref(parts[i]);
    pm_set_free(&sets[i]);
  }
  sl_part_unref(halves[0]);
  sl_part_unref(halves[1]);
}

/* ---- the merge policy ---- */

typedef struct policy_case {
  uint32_t max_parts;
  double multiplier;
  uint64_t max_fan_out;
  size_t count;
  uint64_t sizes[16];
  size_t chosen_count;
  size_t chosen[16]; /* indexes into sizes, ascending */
} policy_case;

static int compare_size_t(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

/* Each expected choice is worked out by hand from getPartsToMerge in banyand/stream/merger_policy.go:
 * drop parts over maxFanOut / minMergeMultiplier, sort by size (newest first on equal sizes: our
 * inputs are oldest first, so the higher index first), try every window of (max+1)/2 .. max parts
 * (at least 2), skip windows whose smallest * length < largest, stop a length at the first window
 * over maxFanOut, keep the last window with the highest sum / largest, merge it when that score
 * reaches max(maxParts / 2, minMergeMultiplier). */
static void merge_policy_matches_banyandb(void **state) {
  (void)state;
  static const policy_case cases[] = {
      /* Fewer than two parts: nothing. */
      {15, 1.7, 0, 1, {10}, 0, {0}},
      /* Default policy: 8 equal parts score 8 >= 7.5: all of them. */
      {15, 1.7, 0, 8, {10, 10, 10, 10, 10, 10, 10, 10}, 8, {0, 1, 2, 3, 4, 5, 6, 7}},
      /* 7 equal parts score at most 7 < 7.5: nothing. */
      {15, 1.7, 0, 7, {10, 10, 10, 10, 10, 10, 10}, 0, {0}},
      /* 16 equal parts: windows of 8..15, the best scores 15 (the last such window wins: 15 parts,
       * sorted newest first, so the oldest 15 are chosen). */
      {15, 1.7, 0, 16, {5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5}, 15,
       {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}},
      /* max 4, needed max(2, 1.7) = 2: [1,2,3] scores 6/3 = 2 and replaces [100,100] (also 2, found
       * earlier at length 2); [3,100] and longer windows with 100 are too unbalanced. */
      {4, 1.7, 0, 5, {100, 2, 100, 1, 3}, 3, {1, 3, 4}},
      /* Without a fan-out limit [60,70,100,100] scores 330/100 = 3.3, the best. */
      {4, 1.7, 0, 5, {50, 60, 70, 100, 100}, 4, {1, 2, 3, 4}},
      /* Fan-out 200: windows summing over 200 stop their length; [50,60,70] = 180/70 = 2.57 wins over
       * [100,100] = 2. */
      {4, 1.7, 200, 5, {50, 60, 70, 100, 100}, 3, {0, 1, 2}},
      /* Fan-out 150: parts over 150 / 1.7 = 88 are dropped; the best, [60,70] = 130/70 = 1.86, is < 2;
       * [50,60,70] sums over 150: nothing. */
      {4, 1.7, 150, 5, {50, 60, 70, 100, 100}, 0, {0}},
      /* Too unbalanced: 1 * 2 < 10. */
      {2, 1.0, 0, 2, {1, 10}, 0, {0}},
      /* max 2, multiplier 1 (needed 1): [4,10] (4 * 2 < 10) and [19,40] are too unbalanced; [10,19]
       * scores 29/19 = 1.53. */
      {2, 1.0, 0, 4, {40, 19, 4, 10}, 2, {1, 3}},
      /* Equal sizes, max 4: every window of 4 scores 4; the last one holds the 4 oldest. */
      {4, 1.7, 0, 5, {5, 5, 5, 5, 5}, 4, {0, 1, 2, 3}},
      /* BanyanDB's test policy (3, 1): [1,1,1] scores 3. */
      {3, 1.0, 0, 4, {1, 1, 1, 1000}, 3, {0, 1, 2}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const policy_case *p = &cases[c];
    sl_merge_policy policy = {.max_parts = p->max_parts, .min_merge_multiplier = p->multiplier,
                              .max_fan_out_bytes = p->max_fan_out};
    size_t chosen[32];
    size_t count = sl_merge_policy_choose(&policy, p->sizes, p->count, chosen);
    if (count != p->chosen_count) {
      fail_msg("policy case %zu: %zu parts chosen, BanyanDB chooses %zu", c, count, p->chosen_count);
    }
    qsort(chosen, count, sizeof *chosen, compare_size_t);
    for (size_t k = 0; k < count; k++) {
      if (chosen[k] != p->chosen[k]) {
        fail_msg("policy case %zu: choice %zu is part %zu, BanyanDB chooses %zu", c, k, chosen[k], p->chosen[k]);
      }
    }
  }
  sl_merge_policy defaults;
  sl_merge_policy_default(&defaults);
  assert_int_equal(defaults.max_parts, 15);
  assert_true(defaults.min_merge_multiplier == 1.7);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(memory_parts_read_back_sorted),
      cmocka_unit_test(one_row_and_one_key),
      cmocka_unit_test(file_parts_round_trip),
      cmocka_unit_test(first_read_with_a_fresh_context),
      cmocka_unit_test(merges_keep_every_row_and_posting),
      cmocka_unit_test(merges_of_merges),
      cmocka_unit_test(merges_read_right_when_inputs_release_their_pages),
      cmocka_unit_test(merge_policy_matches_banyandb),
      cmocka_unit_test(large_merges_write_direct_and_flushes_through_the_cache),
      cmocka_unit_test(every_file_of_a_part_is_fsynced),
      cmocka_unit_test(a_failed_fsync_fails_the_part_and_leaves_nothing),
      cmocka_unit_test(fsync_all_syncs_every_file_and_names_the_first_failure),
      cmocka_unit_test(fsync_all_keeps_its_workers_and_works_after_fork),
      cmocka_unit_test(fsync_all_works_for_several_batches_after_fork),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
