/* test_storage_crash.c: acknowledged WAL records survive a crash.
 *
 * Each run forks a child that appends records from 4 threads to a WAL in batch mode and, after
 * every acknowledged append, writes (sequence, key) to a pipe. The parent SIGKILLs the child at a
 * random moment (seeded), then replays the WAL and checks that every acknowledged record is there,
 * intact and in order, that sequences have no gap, and that no partial record is visible. It then
 * reopens the WAL, appends, and replays again (recovery after recovery).
 *
 * CRASH_RUNS sets the number of runs (default 50; 10 when CI=true). CRASH_SEED sets the seed.
 * This simulates a process crash (the page cache survives), not a power failure. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "storage/wal.h"
#include "test_support.h"

enum {
  CHILD_THREADS = 4,
  MAX_APPENDS_PER_THREAD = 200000,
  MAX_LARGE_PAYLOAD_BYTES = 64 * 1024,
  MAX_SMALL_PAYLOAD_BYTES = 1024,
  MIN_DELAY_US = 2000,
  MAX_DELAY_US = 150000,
  EXIT_APPEND_FAILED = 3,
  EXIT_SETUP_FAILED = 4
};

typedef struct ack {
  uint64_t sequence;
  uint64_t key;
} ack;

static uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

/* A quarter of the records are large (up to 64 KiB) so that a kill can land inside a write. */
static size_t payload_size(uint64_t key) {
  uint64_t h = mix(key);
  size_t max_bytes = (h & 3) == 0 ? MAX_LARGE_PAYLOAD_BYTES : MAX_SMALL_PAYLOAD_BYTES;
  return 16 + (size_t)((h >> 8) % (max_bytes - 16 + 1));
}

/* Bytes 0-7: key; 8-15: size; then bytes derived from the key. */
static void fill_payload(uint64_t key, uint8_t *out, size_t size_bytes) {
  uint64_t size64 = size_bytes;
  memcpy(out, &key, 8);
  memcpy(out + 8, &size64, 8);
  uint64_t state = mix(key ^ 0x9e3779b97f4a7c15ull);
  for (size_t i = 16; i < size_bytes; i++) {
    if ((i & 7) == 0) {
      state = mix(state);
    }
    out[i] = (uint8_t)(state >> (8 * (i & 7)));
  }
}

/* ---- The child ---- */

typedef struct child_thread {
  sl_wal *wal;
  int pipe_fd;
  uint64_t thread;
  uint64_t run_seed;
} child_thread;

static void *child_append_main(void *argument) {
  child_thread *self = argument;
  uint8_t *payload = malloc(MAX_LARGE_PAYLOAD_BYTES);
  if (payload == NULL) {
    _exit(EXIT_SETUP_FAILED);
  }
  for (uint64_t i = 0; i < MAX_APPENDS_PER_THREAD; i++) {
    uint64_t key = mix(self->run_seed) ^ (self->thread << 40 | i);
    size_t size_bytes = payload_size(key);
    fill_payload(key, payload, size_bytes);
    ack acknowledged = {0, key};
    if (sl_wal_append(self->wal, payload, size_bytes, &acknowledged.sequence, NULL) != SL_OK) {
      _exit(EXIT_APPEND_FAILED);
    }
    /* 16 bytes <= PIPE_BUF: each write reaches the parent whole. */
    if (write(self->pipe_fd, &acknowledged, sizeof acknowledged) != (ssize_t)sizeof acknowledged) {
      _exit(EXIT_SETUP_FAILED);
    }
  }
  free(payload);
  return NULL;
}

static void child_main(const char *dir, int pipe_fd, uint64_t run_seed) {
  sl_wal_options options;
  sl_wal_options_default(&options);
  options.sync_mode = SL_WAL_SYNC_BATCH;
  options.segment_size_bytes = 256 * 1024; /* rotations happen during the run */
  sl_wal *wal = NULL;
  if (sl_wal_open(dir, &options, &wal, NULL) != SL_OK) {
    _exit(EXIT_SETUP_FAILED);
  }
  child_thread threads[CHILD_THREADS];
  pthread_t handles[CHILD_THREADS];
  for (int t = 0; t < CHILD_THREADS; t++) {
    threads[t] = (child_thread){wal, pipe_fd, (uint64_t)t, run_seed};
    if (pthread_create(&handles[t], NULL, child_append_main, &threads[t]) != 0) {
      _exit(EXIT_SETUP_FAILED);
    }
  }
  for (int t = 0; t < CHILD_THREADS; t++) {
    pthread_join(handles[t], NULL);
  }
  _exit(0);
}

/* ---- The parent ---- */

typedef struct ack_list {
  ack *items;
  size_t count;
  size_t capacity;
  uint8_t partial[sizeof(ack)];
  size_t partial_bytes;
} ack_list;

static void ack_list_add_bytes(ack_list *list, const uint8_t *bytes, size_t size_bytes) {
  for (size_t i = 0; i < size_bytes; i++) {
    list->partial[list->partial_bytes++] = bytes[i];
    if (list->partial_bytes == sizeof(ack)) {
      if (list->count == list->capacity) {
        list->capacity = list->capacity == 0 ? 4096 : list->capacity * 2;
        list->items = realloc(list->items, list->capacity * sizeof(ack));
        assert_non_null(list->items);
      }
      memcpy(&list->items[list->count++], list->partial, sizeof(ack));
      list->partial_bytes = 0;
    }
  }
}

/* Reads what the pipe holds; returns false at end of file. */
static bool drain_pipe(int fd, ack_list *list) {
  uint8_t buffer[16 * 256];
  ssize_t got = read(fd, buffer, sizeof buffer);
  if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
    return true;
  }
  assert_true(got >= 0);
  ack_list_add_bytes(list, buffer, (size_t)got);
  return got > 0;
}

/* Collects acks for delay_us, kills the child, collects the rest. */
static void run_child_and_kill(int read_fd, pid_t child, long delay_us, ack_list *acks) {
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  long left_us;
  while ((left_us = delay_us - test_elapsed_us(&start)) > 0) {
    struct pollfd poll_fd = {read_fd, POLLIN, 0};
    int ready = poll(&poll_fd, 1, (int)(left_us / 1000) + 1);
    if (ready > 0 && !drain_pipe(read_fd, acks)) {
      break; /* the child ended on its own */
    }
  }
  kill(child, SIGKILL);
  int wait_status = 0;
  assert_int_equal(waitpid(child, &wait_status, 0), child);
  if (!WIFSIGNALED(wait_status)) {
    fail_msg("child exited with status %d instead of being killed", WEXITSTATUS(wait_status));
  }
  while (drain_pipe(read_fd, acks)) {
  }
  assert_int_equal(acks->partial_bytes, 0);
}

typedef struct replayed {
  uint64_t *keys;     /* keys[i] is the key of sequence i + 1 */
  size_t count;
  size_t capacity;
  uint64_t expected_next;
  const char *problem;
} replayed;

static sl_status check_record(void *context, uint64_t sequence, const uint8_t *payload,
                              size_t size_bytes, sl_error *err) {
  (void)err;
  replayed *into = context;
  if (sequence != into->expected_next) {
    into->problem = "sequence gap or disorder";
    return SL_ERR_INTERNAL;
  }
  into->expected_next++;
  uint64_t key = 0;
  uint64_t size64 = 0;
  if (size_bytes < 16) {
    into->problem = "record shorter than its header";
    return SL_ERR_INTERNAL;
  }
  memcpy(&key, payload, 8);
  memcpy(&size64, payload + 8, 8);
  if (size64 != size_bytes || payload_size(key) != size_bytes) {
    into->problem = "partial record: size differs from the one written";
    return SL_ERR_INTERNAL;
  }
  uint8_t *expected = malloc(size_bytes);
  assert_non_null(expected);
  fill_payload(key, expected, size_bytes);
  bool same = memcmp(expected, payload, size_bytes) == 0;
  free(expected);
  if (!same) {
    into->problem = "payload bytes differ from the ones written";
    return SL_ERR_INTERNAL;
  }
  if (into->count == into->capacity) {
    into->capacity = into->capacity == 0 ? 4096 : into->capacity * 2;
    into->keys = realloc(into->keys, into->capacity * sizeof *into->keys);
    assert_non_null(into->keys);
  }
  into->keys[into->count++] = key;
  return SL_OK;
}

static void replay_and_check(const char *dir, replayed *records, sl_wal_replay_result *result,
                             int run) {
  memset(records, 0, sizeof *records);
  records->expected_next = 1;
  sl_error err;
  sl_error_clear(&err);
  sl_status status = sl_wal_replay(dir, 0, check_record, records, result, &err);
  if (status != SL_OK) {
    fail_msg("run %d: replay failed: %s%s", run, records->problem ? records->problem : "",
             err.message);
  }
}

typedef struct totals {
  uint64_t acks;
  uint64_t records;
  uint64_t torn_tails;
  uint64_t torn_bytes;
} totals;

static void one_run(const char *dir, int run, uint64_t seed, totals *sums) {
  uint64_t run_seed = mix(seed + (uint64_t)run);
  long delay_us = MIN_DELAY_US + (long)(run_seed % (MAX_DELAY_US - MIN_DELAY_US));
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  fflush(NULL);
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    close(fds[0]);
    child_main(dir, fds[1], run_seed);
  }
  close(fds[1]);
  ack_list acks = {0};
  run_child_and_kill(fds[0], child, delay_us, &acks);
  close(fds[0]);

  replayed records;
  sl_wal_replay_result result;
  replay_and_check(dir, &records, &result, run);
  for (size_t i = 0; i < acks.count; i++) {
    uint64_t sequence = acks.items[i].sequence;
    if (sequence == 0 || sequence > records.count) {
      fail_msg("run %d (delay %ld us): acknowledged sequence %llu missing, WAL holds %zu", run,
               delay_us, (unsigned long long)sequence, records.count);
    }
    if (records.keys[sequence - 1] != acks.items[i].key) {
      fail_msg("run %d: sequence %llu holds another record", run, (unsigned long long)sequence);
    }
  }
  sums->acks += acks.count;
  sums->records += records.count;
  sums->torn_tails += result.torn_bytes_truncated > 0;
  sums->torn_bytes += result.torn_bytes_truncated;

  /* Recovery after recovery: the WAL takes appends after its intact tail. */
  sl_wal *wal = NULL;
  sl_error err;
  assert_int_equal(sl_wal_open(dir, NULL, &wal, &err), SL_OK);
  assert_int_equal(sl_wal_last_sequence(wal), records.count);
  uint8_t payload[64];
  for (uint64_t i = 0; i < 3; i++) {
    uint64_t key = 0;
    size_t size_bytes;
    do {
      key = mix(run_seed + 1000 + i + key);
      size_bytes = payload_size(key);
    } while (size_bytes > sizeof payload);
    fill_payload(key, payload, size_bytes);
    uint64_t sequence = 0;
    assert_int_equal(sl_wal_append(wal, payload, size_bytes, &sequence, &err), SL_OK);
    assert_int_equal(sequence, records.count + 1 + i);
  }
  assert_int_equal(sl_wal_close(wal, &err), SL_OK);
  size_t before = records.count;
  free(records.keys);
  replay_and_check(dir, &records, &result, run);
  assert_int_equal(records.count, before + 3);
  assert_int_equal(result.torn_bytes_truncated, 0);
  free(records.keys);
  free(acks.items);
}

static void acknowledged_records_survive_sigkill(void **state) {
  (void)state;
  const char *ci = getenv("CI");
  uint64_t runs = test_env_u64("CRASH_RUNS", ci != NULL && strcmp(ci, "true") == 0 ? 10 : 50);
  uint64_t seed = test_env_u64("CRASH_SEED", 20240601);
  totals sums = {0};
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (uint64_t run = 0; run < runs; run++) {
    char name[64];
    snprintf(name, sizeof name, "crash-run-%llu", (unsigned long long)run);
    const char *dir = test_temp_dir(name);
    one_run(dir, (int)run, seed, &sums);
    char command[4300];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    assert_int_equal(system(command), 0);
  }
  print_message("      %llu runs (seed %llu) in %.1f s: %llu acknowledged, %llu records replayed, "
                "%llu torn tails (%llu bytes) cut\n",
                (unsigned long long)runs, (unsigned long long)seed, test_elapsed_us(&start) / 1e6,
                (unsigned long long)sums.acks, (unsigned long long)sums.records,
                (unsigned long long)sums.torn_tails, (unsigned long long)sums.torn_bytes);
  assert_true(runs == 0 || sums.acks > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(acknowledged_records_survive_sigkill),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
