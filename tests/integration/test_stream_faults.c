/* test_stream_faults.c: the Stream engine on a full disk and with failing fsyncs.
 *
 * Faults come through sl_fileio_set_hooks (storage/fileio.h): pwrite fails with ENOSPC, or fsync /
 * fdatasync with EIO, on the files a test picks (by path: WAL segments, part files, table or store
 * snapshots) or from the N-th call on.  The hooks are installed once, before any engine opens, and
 * consult an atomic fault plan, so switching a fault on and off is safe while threads run.
 *
 *  - Targeted: a WAL append, a flush (part files), a table snapshot and the store snapshot each hit
 *    a full disk; the call returns SL_ERR_NOSPACE naming the file; once space is back the engine
 *    writes and flushes again; a reopen holds every acknowledged batch.  A background flush on a
 *    full disk makes later writes fail with an error that says so.  A failed WAL fdatasync makes the
 *    engine refuse writes (SL_ERR_IO, naming the segment) until it is reopened.
 *  - Sweeps: one fixed workload (writes that flush synchronously, explicit flushes, a compaction)
 *    is run again and again with the disk full from the N-th pwrite on (then freed after the first
 *    failed call), or with the N-th fsync failing, for N spread over every call the workload makes.  Each run then closes without flushing, reopens (WAL replay) and checks with the scan that
 *    every acknowledged batch is there whole, no batch is partial or doubled, only batches whose
 *    write failed may be missing, and that the engine takes writes again.
 *
 * A sweep tries every call of the workload (about 450 pwrites, 600 fsyncs; on tmpfs when there is one,
 * about 30 s for both), or 60 spread evenly when CI=true; FAULT_STRIDE=N tries every N-th. */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "spanlab/catalog.h"
#include "storage/fileio.h"
#include "stream_batches.h"
#include "test_support.h"

enum { SWEEP_RUNS = 1000, SWEEP_RUNS_CI = 60, WORKLOAD_BATCHES = 10, WORKLOAD_MEMORY_BYTES = 256 * 1024 };
enum { TARGET_ANY = 0, TARGET_WAL, TARGET_PARTS, TARGET_TABLE_SNAPSHOT, TARGET_STORE_SNAPSHOT };

/* The fault plan, read by the hooks on any thread. */
static atomic_int pwrite_target = -1;   /* TARGET_*: which files get ENOSPC; -1 none */
static atomic_long pwrite_fail_from = 0; /* TARGET_ANY: every pwrite call from this number on fails */
static atomic_long pwrite_calls = 0;
static atomic_long pwrite_failures = 0;
static atomic_long sync_fail_at = 0;     /* this fsync/fdatasync call fails (0: none) */
static atomic_long sync_calls = 0;
static atomic_long sync_failures = 0;
static atomic_int sync_wal_only = 0;     /* only WAL syncs count for sync_fail_at */

static bool fd_path(int fd, char *out, size_t out_bytes) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t length = readlink(link, out, out_bytes - 1);
  if (length < 0) {
    return false;
  }
  out[length] = '\0';
  return true;
}

static bool is_target(int fd, int target) {
  if (target == TARGET_ANY) {
    return true;
  }
  char path[PATH_MAX];
  if (!fd_path(fd, path, sizeof path)) {
    return false;
  }
  const char *name = strrchr(path, '/');
  name = name != NULL ? name + 1 : path;
  switch (target) {
    case TARGET_WAL: return strstr(path, "/wal/") != NULL;
    case TARGET_PARTS: return strstr(path, "/parts/") != NULL;
    case TARGET_TABLE_SNAPSHOT: return strstr(name, ".snp.tmp") != NULL && strstr(path, "/shard-") != NULL;
    case TARGET_STORE_SNAPSHOT: return strstr(name, ".snp.tmp") != NULL && strstr(path, "/shard-") == NULL;
    default: return false;
  }
}

static ssize_t faulty_pwrite(int fd, const void *data, size_t size, off_t offset) {
  long call = atomic_fetch_add(&pwrite_calls, 1) + 1;
  int target = atomic_load(&pwrite_target);
  long from = atomic_load(&pwrite_fail_from);
  bool fail = target == TARGET_ANY ? from > 0 && call >= from : target > 0 && is_target(fd, target);
  if (fail) {
    atomic_fetch_add(&pwrite_failures, 1);
    errno = ENOSPC;
    return -1;
  }
  return pwrite(fd, data, size, offset);
}

static bool sync_fails(int fd) {
  if (atomic_load(&sync_wal_only) && !is_target(fd, TARGET_WAL)) {
    return false;
  }
  long call = atomic_fetch_add(&sync_calls, 1) + 1;
  if (call != atomic_load(&sync_fail_at)) {
    return false;
  }
  atomic_fetch_add(&sync_failures, 1);
  errno = EIO;
  return true;
}

static int faulty_fsync(int fd) { return sync_fails(fd) ? -1 : fsync(fd); }
static int faulty_fdatasync(int fd) { return sync_fails(fd) ? -1 : fdatasync(fd); }

static void plan_clear(void) {
  atomic_store(&pwrite_target, -1);
  atomic_store(&pwrite_fail_from, 0);
  atomic_store(&sync_fail_at, 0);
  atomic_store(&sync_wal_only, 0);
}

/* ---- the engine and its batches ---- */

typedef struct fixture {
  sl_catalog *catalog;
  char dir[4096];
  sl_stream_engine *engine;
  sb_tags tags;
  uint64_t acked[512];
  size_t acked_count;
  uint64_t failed[512]; /* writes that returned an error: may be absent, never partial */
  size_t failed_count;
  uint64_t next_batch;
  bool sync_failed; /* an fsync fault was injected since the store opened */
} fixture;

static void open_engine(fixture *f, bool background, uint64_t memory_limit) {
  sl_engine_options options;
  sl_engine_options_default(&options);
  options.catalog = f->catalog;
  options.group = "stream_performance_test";
  options.name = "segment_stream";
  options.directory = f->dir;
  options.background = background;
  options.memory_bytes_limit = memory_limit;
  options.flush_interval_ms = background ? 20 : 1000000;
  sl_error err;
  if (sl_stream_engine_open(&options, &f->engine, &err) != SL_OK) {
    fail_msg("open %s: %s", f->dir, err.message);
  }
  assert_true(sb_tags_of(sl_stream_engine_schema(f->engine), &f->tags));
}

/* A store whose WAL failed an fsync may refuse to close cleanly (it cannot make the last records
 * durable): that error must say why; the handle is freed either way. */
static void close_engine(fixture *f, bool flush) {
  sl_error err;
  sl_status status = sl_stream_engine_close(f->engine, flush, &err);
  f->engine = NULL;
  if (status != SL_OK && !(f->sync_failed && status == SL_ERR_IO && strstr(err.message, "refuses") != NULL)) {
    fail_msg("close: %s", err.message);
  }
}

/* Writes the next batch: SL_OK (acknowledged) or the error. */
static sl_status write_batch(fixture *f, sl_error *err) {
  uint64_t batch = f->next_batch++;
  sb_batch made;
  assert_true(sb_batch_make(&f->tags, batch, &made));
  sl_status status = sl_stream_engine_write(f->engine, made.elements, made.count, err);
  sb_batch_free(&made);
  if (status == SL_OK) {
    assert_true(f->acked_count < sizeof f->acked / sizeof f->acked[0]);
    f->acked[f->acked_count++] = batch;
  } else {
    assert_true(f->failed_count < sizeof f->failed / sizeof f->failed[0]);
    f->failed[f->failed_count++] = batch;
  }
  return status;
}

static void write_ok(fixture *f, size_t count) {
  for (size_t i = 0; i < count; i++) {
    sl_error err;
    if (write_batch(f, &err) != SL_OK) {
      fail_msg("write: %s", err.message);
    }
  }
}

/* Every acknowledged batch whole, nothing partial or doubled, nothing never written. */
static void check_store(fixture *f, const char *when) {
  uint64_t *present = NULL;
  size_t present_count = 0;
  char problem[SB_MESSAGE_BYTES];
  if (!sb_collect(f->engine, &f->tags, &present, &present_count, problem, sizeof problem)) {
    fail_msg("%s: %s", when, problem);
  }
  for (size_t i = 0; i < f->acked_count; i++) {
    if (!sb_contains(present, present_count, f->acked[i])) {
      fail_msg("%s: acknowledged batch %llu is lost (%zu batches there)", when, (unsigned long long)f->acked[i],
               present_count);
    }
  }
  for (size_t i = 0; i < present_count; i++) {
    bool known = false;
    for (size_t k = 0; k < f->acked_count && !known; k++) {
      known = f->acked[k] == present[i];
    }
    for (size_t k = 0; k < f->failed_count && !known; k++) {
      known = f->failed[k] == present[i];
    }
    if (!known) {
      fail_msg("%s: batch %llu is there but was never written", when, (unsigned long long)present[i]);
    }
  }
  free(present);
}

static void reopen_and_check(fixture *f, const char *when) {
  close_engine(f, false);
  f->sync_failed = false;
  open_engine(f, false, WORKLOAD_MEMORY_BYTES);
  check_store(f, when);
}

static void expect_error(sl_status status, const sl_error *err, sl_status wanted, const char *must_name, const char *what) {
  if (status != wanted) {
    fail_msg("%s: %s (\"%s\"), expected %s", what, sl_status_name(status), status == SL_OK ? "" : err->message,
             sl_status_name(wanted));
  }
  const char *why = wanted == SL_ERR_NOSPACE ? "No space left on device" : "Input/output error";
  if (strstr(err->message, why) == NULL || strstr(err->message, must_name) == NULL) {
    fail_msg("%s: the message \"%s\" should name %s and say \"%s\"", what, err->message, must_name, why);
  }
}

/* fast: on tmpfs when there is one (sweeps make thousands of fsyncs; the faults are injected, so
 * the medium does not matter). */
static void fixture_start(fixture *f, const char *name, bool fast) {
  memset(f->acked, 0, sizeof f->acked);
  f->acked_count = f->failed_count = 0;
  f->next_batch = 1;
  f->sync_failed = false;
  struct stat info;
  if (fast && stat("/dev/shm", &info) == 0 && S_ISDIR(info.st_mode) && access("/dev/shm", W_OK) == 0) {
    snprintf(f->dir, sizeof f->dir, "/dev/shm/spanlab-%s-%d", name, (int)getpid());
    char command[8400];
    snprintf(command, sizeof command, "rm -rf '%s' && mkdir -p '%s'", f->dir, f->dir);
    assert_int_equal(system(command), 0);
    return;
  }
  snprintf(f->dir, sizeof f->dir, "%s", test_temp_dir(name));
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  sl_diag *problems = sl_diag_new();
  if (sl_catalog_load_dir(SPANLAB_SOURCE_DIR "/schemas/stream-vs-trace", NULL, &f->catalog, problems) != SL_OK) {
    return -1;
  }
  sl_diag_free(problems);
  sl_fileio_hooks hooks = {.pwrite_fn = faulty_pwrite, .fsync_fn = faulty_fsync, .fdatasync_fn = faulty_fdatasync};
  sl_fileio_set_hooks(&hooks);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  plan_clear();
  sl_fileio_set_hooks(NULL);
  sl_catalog_free(f->catalog);
  free(f);
  return 0;
}

/* ---- targeted faults ---- */

static void wal_append_on_a_full_disk(void **state) {
  fixture *f = *state;
  fixture_start(f, "faults-wal", false);
  open_engine(f, false, 64ull << 20);
  write_ok(f, 5);
  atomic_store(&pwrite_target, TARGET_WAL);
  sl_error err;
  for (int i = 0; i < 3; i++) {
    sl_status status = write_batch(f, &err);
    expect_error(status, &err, SL_ERR_NOSPACE, "/wal/seg", "a write while the WAL's disk is full");
  }
  plan_clear();
  write_ok(f, 5); /* space is back: the WAL goes on after its last good record */
  check_store(f, "after the full disk");
  reopen_and_check(f, "WAL full, reopened");
  for (size_t k = 0; k < f->failed_count; k++) {
    uint64_t *present = NULL;
    size_t count = 0;
    char problem[SB_MESSAGE_BYTES];
    assert_true(sb_collect(f->engine, &f->tags, &present, &count, problem, sizeof problem));
    if (sb_contains(present, count, f->failed[k])) {
      fail_msg("batch %llu, refused by a full WAL, came back on reopen", (unsigned long long)f->failed[k]);
    }
    free(present);
  }
  write_ok(f, 2);
  close_engine(f, true);
}

/* A flush whose files (target) cannot be written fails with the file named, keeps every batch
 * in memory, and succeeds once space is back. */
static void flush_on_a_full_disk(fixture *f, int target, const char *must_name, const char *name) {
  fixture_start(f, name, false);
  open_engine(f, false, 64ull << 20);
  write_ok(f, 12);
  sl_error err;
  assert_int_equal(sl_stream_engine_flush(f->engine, &err), SL_OK);
  write_ok(f, 12);
  atomic_store(&pwrite_target, target);
  long failures = atomic_load(&pwrite_failures);
  for (int i = 0; i < 2; i++) {
    sl_status status = sl_stream_engine_flush(f->engine, &err);
    expect_error(status, &err, SL_ERR_NOSPACE, must_name, name);
  }
  assert_true(atomic_load(&pwrite_failures) > failures);
  check_store(f, "after the failed flushes");
  plan_clear();
  /* Space is back: a flush with nothing new written must still publish what the failed ones left. */
  if (sl_stream_engine_flush(f->engine, &err) != SL_OK) {
    fail_msg("%s: flush once space is back: %s", name, err.message);
  }
  check_store(f, "after the flush");
  reopen_and_check(f, name);
  write_ok(f, 3);
  if (sl_stream_engine_flush(f->engine, &err) != SL_OK) {
    fail_msg("%s: flush after more writes: %s", name, err.message);
  }
  reopen_and_check(f, name);
  /* Flushed, compacted and reopened again: the checkpoint moved past every batch. */
  sl_status status = sl_stream_engine_compact(f->engine, &err);
  if (status != SL_OK) {
    fail_msg("%s: compact: %s", name, err.message);
  }
  reopen_and_check(f, name);
  close_engine(f, true);
}

static void part_files_on_a_full_disk(void **state) {
  flush_on_a_full_disk(*state, TARGET_PARTS, "/parts/", "faults-parts");
}

static void table_snapshot_on_a_full_disk(void **state) {
  flush_on_a_full_disk(*state, TARGET_TABLE_SNAPSHOT, ".snp.tmp", "faults-table-snapshot");
}

static void store_snapshot_on_a_full_disk(void **state) {
  flush_on_a_full_disk(*state, TARGET_STORE_SNAPSHOT, ".snp.tmp", "faults-store-snapshot");
}

/* The background flusher hits a full disk: writes then fail saying so; a reopen recovers. */
static void background_flush_on_a_full_disk(void **state) {
  fixture *f = *state;
  fixture_start(f, "faults-background", false);
  open_engine(f, true, 64 * 1024);
  write_ok(f, 3);
  atomic_store(&pwrite_target, TARGET_PARTS);
  sl_error err;
  sl_status status = SL_OK;
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  do {
    status = write_batch(f, &err);
    usleep(2000);
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while (status == SL_OK && now.tv_sec - start.tv_sec < 20);
  expect_error(status, &err, SL_ERR_NOSPACE, "/parts/", "a write after a background flush failed");
  if (strstr(err.message, "refuses writes since a background flush or merge failed") == NULL) {
    fail_msg("the message \"%s\" should say that a background flush failed", err.message);
  }
  plan_clear();
  /* Space is back; the store either writes again or refuses with the same clear error. */
  status = write_batch(f, &err);
  if (status != SL_OK) {
    expect_error(status, &err, SL_ERR_NOSPACE, "/parts/", "a write once space is back");
  }
  close_engine(f, true);
  open_engine(f, true, 64 * 1024);
  check_store(f, "background flush failed, reopened");
  write_ok(f, 5);
  close_engine(f, true);
}

/* A failed WAL fdatasync: the append is not acknowledged, the WAL refuses later appends (the page
 * cache state is unknown) until the store is reopened. */
static void wal_fdatasync_fails(void **state) {
  fixture *f = *state;
  fixture_start(f, "faults-fsync", false);
  open_engine(f, false, 64ull << 20);
  write_ok(f, 4);
  atomic_store(&sync_wal_only, 1);
  atomic_store(&sync_fail_at, atomic_load(&sync_calls) + 1);
  f->sync_failed = true;
  sl_error err;
  sl_status status = write_batch(f, &err);
  expect_error(status, &err, SL_ERR_IO, "/wal/seg", "a write whose fdatasync fails");
  plan_clear();
  status = write_batch(f, &err);
  if (status != SL_OK) {
    expect_error(status, &err, SL_ERR_IO, "/wal/seg", "a write after a failed fdatasync");
  }
  reopen_and_check(f, "fdatasync failed, reopened");
  write_ok(f, 3);
  reopen_and_check(f, "written again, reopened");
  close_engine(f, true);
}

/* ---- sweeps ---- */

/* After a failed call: space is freed (or the sync fault has passed); a flush retries what failed
 * (it may still be refused after a failed fsync, with a clear error), then a reopen without a flush
 * must find every acknowledged batch. */
static void recover(fixture *f, const char *when) {
  plan_clear();
  sl_error err;
  sl_status status = sl_stream_engine_flush(f->engine, &err);
  if (status != SL_OK && !(f->sync_failed && status == SL_ERR_IO)) {
    fail_msg("%s: flush once the fault is gone: %s", when, err.message);
  }
  reopen_and_check(f, when);
}

/* The workload: batches with a 256 KiB memory limit (some writes flush synchronously), an explicit
 * flush, a compaction.  After the first failed call it recovers and goes on. */
static void run_workload(fixture *f, const char *name, int *errors) {
  sl_error err;
  for (int i = 0; i < WORKLOAD_BATCHES; i++) {
    char when[128];
    snprintf(when, sizeof when, "%s, write %d", name, i);
    sl_status status = write_batch(f, &err);
    if (status != SL_OK) {
      (*errors)++;
      if (status != SL_ERR_NOSPACE && status != SL_ERR_IO) {
        fail_msg("%s: %s: %s", when, sl_status_name(status), err.message);
      }
      recover(f, when);
    }
    if (i == WORKLOAD_BATCHES / 2 || i == WORKLOAD_BATCHES - 1) {
      status = i == WORKLOAD_BATCHES - 1 ? sl_stream_engine_compact(f->engine, &err) : sl_stream_engine_flush(f->engine, &err);
      if (status != SL_OK) {
        (*errors)++;
        if (status != SL_ERR_NOSPACE && status != SL_ERR_IO) {
          fail_msg("%s, flush: %s: %s", when, sl_status_name(status), err.message);
        }
        recover(f, when);
      }
    }
  }
}

static void sweep(fixture *f, bool fsyncs, const char *name) {
  const char *ci = getenv("CI");
  const char *stride_text = getenv("FAULT_STRIDE");
  long max_runs = ci != NULL && strcmp(ci, "true") == 0 ? SWEEP_RUNS_CI : SWEEP_RUNS;
  /* A clean run counts the calls the workload makes. */
  fixture_start(f, name, true);
  open_engine(f, false, WORKLOAD_MEMORY_BYTES);
  long before = atomic_load(fsyncs ? &sync_calls : &pwrite_calls);
  int errors = 0;
  run_workload(f, name, &errors);
  long calls = atomic_load(fsyncs ? &sync_calls : &pwrite_calls) - before;
  assert_int_equal(errors, 0);
  close_engine(f, false);
  char clean_command[4300];
  snprintf(clean_command, sizeof clean_command, "rm -rf '%s'", f->dir);
  assert_int_equal(system(clean_command), 0);
  long stride = stride_text != NULL ? strtol(stride_text, NULL, 10) : (calls + max_runs - 1) / max_runs;
  stride = stride < 1 ? 1 : stride;
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  long runs = 0, failed_runs = 0;
  for (long n = 1; n <= calls; n += stride) {
    char run_name[64];
    snprintf(run_name, sizeof run_name, "%s-%ld", name, n);
    fixture_start(f, run_name, true);
    open_engine(f, false, WORKLOAD_MEMORY_BYTES);
    if (fsyncs) {
      atomic_store(&sync_fail_at, atomic_load(&sync_calls) + n);
      f->sync_failed = true;
    } else {
      atomic_store(&pwrite_fail_from, atomic_load(&pwrite_calls) + n);
      atomic_store(&pwrite_target, TARGET_ANY);
    }
    errors = 0;
    char when[96];
    snprintf(when, sizeof when, "%s: fault at call %ld of %ld", name, n, calls);
    run_workload(f, when, &errors);
    plan_clear();
    failed_runs += errors > 0;
    /* The store may refuse writes after a failed fsync; a reopen recovers. */
    reopen_and_check(f, when);
    sl_error err;
    if (write_batch(f, &err) != SL_OK) {
      fail_msg("%s: a write after the reopen: %s", when, err.message);
    }
    reopen_and_check(f, when);
    close_engine(f, true);
    char command[4300];
    snprintf(command, sizeof command, "rm -rf '%s'", f->dir);
    assert_int_equal(system(command), 0);
    runs++;
  }
  clock_gettime(CLOCK_MONOTONIC, &now);
  print_message("      %s: %ld %s calls in the workload, %ld runs (stride %ld), %ld with an error, %.1f s\n", name, calls,
                fsyncs ? "fsync" : "pwrite", runs, stride, failed_runs,
                (double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9);
  assert_true(failed_runs > 0);
}

static void full_disk_at_every_pwrite(void **state) { sweep(*state, false, "sweep-pwrite"); }
static void failed_fsync_at_every_call(void **state) { sweep(*state, true, "sweep-fsync"); }

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(wal_append_on_a_full_disk),
      cmocka_unit_test(part_files_on_a_full_disk),
      cmocka_unit_test(table_snapshot_on_a_full_disk),
      cmocka_unit_test(store_snapshot_on_a_full_disk),
      cmocka_unit_test(background_flush_on_a_full_disk),
      cmocka_unit_test(wal_fdatasync_fails),
      cmocka_unit_test(full_disk_at_every_pwrite),
      cmocka_unit_test(failed_fsync_at_every_call),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
