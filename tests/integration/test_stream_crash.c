/* test_stream_crash.c: the Stream engine keeps every acknowledged batch, whole, through SIGKILL.
 *
 * Each run uses a fresh store of the seed stream (schemas/stream-vs-trace: segment_stream, 2
 * shards, day segments).  Three times, a child opens the engine (WAL in batch sync mode, memory
 * parts flushed past 1 MiB or after 20 ms; every 160 ms a policy merge or a full compaction with
 * a checkpoint, so flushes, snapshots, merges, part deletion and WAL truncation happen during the
 * run) and writes batches from 3 threads; each batch's number is in every element's id
 * (tests/support/stream_batches.h), and after each acknowledged sl_stream_engine_write the child
 * sends the number through a pipe.  The parent SIGKILLs the child at a random moment (seeded; it
 * may land during the child's own recovery), reopens the engine (WAL replay) and checks with
 * sl_stream_engine_scan that every row is exactly as written, every acknowledged batch is there
 * completely, every batch there is complete (never partial), nothing is stored twice, nothing
 * seen after an earlier recovery is lost, and only a batch a thread may have had in flight is
 * there unacknowledged; a few queries (by traceId, through the term index) agree.  Then the parent
 * writes more, closes without flushing, reopens (replay again) and checks again.
 *
 * CRASH_RUNS sets the number of runs (default 50; 10 when CI=true). CRASH_SEED sets the seed.
 * This simulates a process crash (the page cache survives), not a power failure. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spanlab/query.h"
#include "stream_batches.h"
#include "test_support.h"

enum {
  CHILD_THREADS = 3,
  MAX_BATCHES_PER_THREAD = 1 << 20,
  PARENT_BATCHES = 20,
  PARENT_THREAD = 15,
  MIN_DELAY_US = 20000,
  MAX_DELAY_US = 1200000,
  KILLS_PER_RUN = 3,
  STATS_EVERY_US = 20000,
  MAINTENANCE_EVERY_TICKS = 8, /* a merge or compaction every 160 ms */
  EXIT_WRITE_FAILED = 3,
  EXIT_SETUP_FAILED = 4
};

enum { MESSAGE_ACK = 1, MESSAGE_FLUSHES = 2, MESSAGE_MERGES = 3 };

typedef struct message {
  uint32_t type;
  uint32_t reserved;
  uint64_t value;
} message;

static uint64_t batch_number(uint64_t cycle_tag, uint64_t thread, uint64_t index) {
  return cycle_tag << 40 | thread << 32 | index;
}

static void engine_options(const sl_catalog *catalog, const char *dir, sl_engine_options *options) {
  sl_engine_options_default(options);
  options->catalog = catalog;
  options->group = "stream_performance_test";
  options->name = "segment_stream";
  options->directory = dir;
  options->sync_mode = SL_WAL_SYNC_BATCH;
  options->memory_bytes_limit = 1024 * 1024;
  options->flush_interval_ms = 20;
}

/* ---- the child ---- */

typedef struct child_state {
  sl_stream_engine *engine;
  sb_tags tags;
  int pipe_fd;
  uint64_t cycle_tag;
  atomic_int writers_left;
} child_state;

typedef struct child_thread {
  child_state *state;
  uint64_t thread;
} child_thread;

static void send_message(int fd, uint32_t type, uint64_t value) {
  message m = {type, 0, value};
  /* 16 bytes <= PIPE_BUF: each write reaches the parent whole. */
  if (write(fd, &m, sizeof m) != (ssize_t)sizeof m) {
    _exit(EXIT_SETUP_FAILED);
  }
}

static void *child_writer_main(void *argument) {
  child_thread *self = argument;
  child_state *state = self->state;
  for (uint64_t i = 0; i < MAX_BATCHES_PER_THREAD; i++) {
    uint64_t batch = batch_number(state->cycle_tag, self->thread, i);
    sb_batch made;
    if (!sb_batch_make(&state->tags, batch, &made)) {
      _exit(EXIT_SETUP_FAILED);
    }
    sl_error err;
    if (sl_stream_engine_write(state->engine, made.elements, made.count, &err) != SL_OK) {
      fprintf(stderr, "child: write of batch %llx failed: %s\n", (unsigned long long)batch, err.message);
      _exit(EXIT_WRITE_FAILED);
    }
    send_message(state->pipe_fd, MESSAGE_ACK, batch);
    sb_batch_free(&made);
  }
  atomic_fetch_sub(&state->writers_left, 1);
  return NULL;
}

static void child_main(const sl_catalog *catalog, const char *dir, int pipe_fd, uint64_t cycle_tag) {
  sl_engine_options options;
  engine_options(catalog, dir, &options);
  child_state state = {.pipe_fd = pipe_fd, .cycle_tag = cycle_tag};
  sl_error err;
  if (sl_stream_engine_open(&options, &state.engine, &err) != SL_OK) {
    fprintf(stderr, "child: open failed: %s\n", err.message);
    _exit(EXIT_SETUP_FAILED);
  }
  if (!sb_tags_of(sl_stream_engine_schema(state.engine), &state.tags)) {
    _exit(EXIT_SETUP_FAILED);
  }
  atomic_init(&state.writers_left, CHILD_THREADS);
  child_thread threads[CHILD_THREADS];
  pthread_t handles[CHILD_THREADS];
  for (int t = 0; t < CHILD_THREADS; t++) {
    threads[t] = (child_thread){&state, (uint64_t)t};
    if (pthread_create(&handles[t], NULL, child_writer_main, &threads[t]) != 0) {
      _exit(EXIT_SETUP_FAILED);
    }
  }
  /* Until killed: report the store's flushes and merges; now and then merge as the policy says
   * or compact everything (merge all, checkpoint, WAL rotation) while the writers go on: the
   * size-tiered policy alone merges little in a run this short. */
  for (uint64_t tick = 1; atomic_load(&state.writers_left) > 0; tick++) {
    usleep(STATS_EVERY_US);
    sl_status status = SL_OK;
    if (tick % MAINTENANCE_EVERY_TICKS == 0) {
      status = tick / MAINTENANCE_EVERY_TICKS % 2 == 1 ? sl_tsdb_merge_all(sl_stream_engine_store(state.engine), false, &err)
                                                          : sl_stream_engine_compact(state.engine, &err);
    }
    if (status != SL_OK) {
      fprintf(stderr, "child: merge or compaction failed: %s\n", err.message);
      _exit(EXIT_WRITE_FAILED);
    }
    sl_engine_stats stats;
    sl_stream_engine_stats(state.engine, &stats);
    send_message(pipe_fd, MESSAGE_FLUSHES, stats.store.flushes);
    send_message(pipe_fd, MESSAGE_MERGES, stats.store.merges);
  }
  _exit(0);
}

/* ---- the parent ---- */

typedef struct cycle_result {
  uint64_t *acks;
  size_t ack_count;
  size_t ack_capacity;
  uint64_t flushes;
  uint64_t merges;
  uint8_t partial[sizeof(message)];
  size_t partial_bytes;
} cycle_result;

static void take_bytes(cycle_result *result, const uint8_t *bytes, size_t size) {
  for (size_t i = 0; i < size; i++) {
    result->partial[result->partial_bytes++] = bytes[i];
    if (result->partial_bytes < sizeof(message)) {
      continue;
    }
    message m;
    memcpy(&m, result->partial, sizeof m);
    result->partial_bytes = 0;
    if (m.type == MESSAGE_ACK) {
      if (result->ack_count == result->ack_capacity) {
        result->ack_capacity = result->ack_capacity == 0 ? 1024 : result->ack_capacity * 2;
        result->acks = realloc(result->acks, result->ack_capacity * sizeof *result->acks);
        assert_non_null(result->acks);
      }
      result->acks[result->ack_count++] = m.value;
    } else if (m.type == MESSAGE_FLUSHES) {
      result->flushes = m.value > result->flushes ? m.value : result->flushes;
    } else if (m.type == MESSAGE_MERGES) {
      result->merges = m.value > result->merges ? m.value : result->merges;
    } else {
      fail_msg("unknown message %u from the child", m.type);
    }
  }
}

static bool drain_pipe(int fd, cycle_result *result) {
  uint8_t buffer[16 * 256];
  ssize_t got = read(fd, buffer, sizeof buffer);
  if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
    return true;
  }
  assert_true(got >= 0);
  take_bytes(result, buffer, (size_t)got);
  return got > 0;
}

static void run_child_and_kill(const sl_catalog *catalog, const char *dir, uint64_t cycle_tag, long delay_us,
                               cycle_result *result) {
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  fflush(NULL);
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    close(fds[0]);
    child_main(catalog, dir, fds[1], cycle_tag);
  }
  close(fds[1]);
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  long left_us;
  while ((left_us = delay_us - test_elapsed_us(&start)) > 0) {
    struct pollfd poll_fd = {fds[0], POLLIN, 0};
    int ready = poll(&poll_fd, 1, (int)(left_us / 1000) + 1);
    if (ready > 0 && !drain_pipe(fds[0], result)) {
      break; /* the child ended on its own */
    }
  }
  kill(child, SIGKILL);
  int wait_status = 0;
  assert_int_equal(waitpid(child, &wait_status, 0), child);
  if (!WIFSIGNALED(wait_status)) {
    fail_msg("the child exited with status %d instead of being killed (see its message above)", WEXITSTATUS(wait_status));
  }
  while (drain_pipe(fds[0], result)) {
  }
  close(fds[0]);
  assert_int_equal(result->partial_bytes, 0);
}

/* The batches a store must and may hold. */
typedef struct expectation {
  uint64_t *committed; /* seen after an earlier recovery, or acknowledged: must be there */
  size_t committed_count;
  uint64_t in_flight[CHILD_THREADS]; /* may be there, unacknowledged */
  size_t in_flight_count;
} expectation;

static size_t query_batch(sl_stream_engine *engine, const sl_catalog *catalog, const sb_tags *tags, uint64_t batch) {
  char json[1024];
  snprintf(json, sizeof json,
           "{\"groups\":[\"stream_performance_test\"],\"name\":\"segment_stream\","
           "\"timeRange\":{\"begin\":\"2024-05-30T00:00:00Z\",\"end\":\"2024-06-06T00:00:00Z\"},"
           "\"criteria\":{\"condition\":{\"name\":\"traceId\",\"op\":\"BINARY_OP_EQ\","
           "\"value\":{\"str\":{\"value\":\"batch-%llx\"}}}},"
           "\"projection\":{\"tagFamilies\":[{\"name\":\"primary\",\"tags\":[\"spanId\",\"traceId\"]}]},\"limit\":100}",
           (unsigned long long)batch);
  sl_query *query = NULL;
  sl_error err;
  if (sl_query_parse(catalog, SL_QUERY_STREAM, json, strlen(json), &query, &err) != SL_OK) {
    fail_msg("query parse: %s", err.message);
  }
  sl_stream_answer answer;
  if (sl_stream_engine_query(engine, query, NULL, 0, &answer, &err) != SL_OK) {
    fail_msg("query batch %llx: %s", (unsigned long long)batch, err.message);
  }
  char prefix[48];
  int prefix_bytes = snprintf(prefix, sizeof prefix, "b%llx-e", (unsigned long long)batch);
  for (size_t r = 0; r < answer.row_count; r++) {
    const sl_value *span = &answer.rows[r].tags[tags->span];
    if (span->kind != SL_VALUE_STR || span->as.str.size_bytes <= (size_t)prefix_bytes ||
        memcmp(span->as.str.data, prefix, (size_t)prefix_bytes) != 0) {
      fail_msg("query for batch %llx returned a row of another batch", (unsigned long long)batch);
    }
  }
  size_t count = answer.row_count;
  sl_stream_answer_free(&answer);
  sl_query_free(query);
  return count;
}

/* Opens the store, checks it against what must and may be there, returns the batches present. */
static sl_stream_engine *open_and_check(const sl_catalog *catalog, const char *dir, const expectation *expect, int run,
                                        const char *when, uint64_t **present, size_t *present_count) {
  sl_engine_options options;
  engine_options(catalog, dir, &options);
  sl_stream_engine *engine = NULL;
  sl_error err;
  if (sl_stream_engine_open(&options, &engine, &err) != SL_OK) {
    fail_msg("run %d, %s: reopen failed: %s", run, when, err.message);
  }
  sb_tags tags;
  assert_true(sb_tags_of(sl_stream_engine_schema(engine), &tags));
  char problem[SB_MESSAGE_BYTES];
  if (!sb_collect(engine, &tags, present, present_count, problem, sizeof problem)) {
    fail_msg("run %d, %s: %s", run, when, problem);
  }
  for (size_t i = 0; i < expect->committed_count; i++) {
    if (!sb_contains(*present, *present_count, expect->committed[i])) {
      fail_msg("run %d, %s: acknowledged batch %llx is missing (%zu batches present)", run, when,
               (unsigned long long)expect->committed[i], *present_count);
    }
  }
  for (size_t i = 0; i < *present_count; i++) {
    uint64_t batch = (*present)[i];
    bool allowed = sb_contains(expect->committed, expect->committed_count, batch);
    for (size_t k = 0; k < expect->in_flight_count && !allowed; k++) {
      allowed = expect->in_flight[k] == batch;
    }
    if (!allowed) {
      fail_msg("run %d, %s: batch %llx is there but was never acknowledged nor in flight", run, when,
               (unsigned long long)batch);
    }
  }
  /* Queries through the traceId term index: a committed batch, the in-flight ones, one never written. */
  if (expect->committed_count > 0) {
    uint64_t batch = expect->committed[(size_t)run % expect->committed_count];
    assert_int_equal(query_batch(engine, catalog, &tags, batch), sb_element_count(batch));
  }
  for (size_t k = 0; k < expect->in_flight_count; k++) {
    uint64_t batch = expect->in_flight[k];
    size_t want = sb_contains(*present, *present_count, batch) ? sb_element_count(batch) : 0;
    assert_int_equal(query_batch(engine, catalog, &tags, batch), want);
  }
  assert_int_equal(query_batch(engine, catalog, &tags, batch_number(0xfffff, 0, 1)), 0);
  return engine;
}

static void sort_unique(uint64_t *values, size_t *count) {
  if (*count == 0) {
    return;
  }
  qsort(values, *count, sizeof *values, sb_compare_u64);
  size_t write = 0;
  for (size_t i = 0; i < *count; i++) {
    if (write == 0 || values[write - 1] != values[i]) {
      values[write++] = values[i];
    }
  }
  *count = write;
}

typedef struct totals {
  uint64_t acks;
  uint64_t unacknowledged_present;
  uint64_t flushes;
  uint64_t merges;
  uint64_t cycles_with_merges;
} totals;

static void one_run(const sl_catalog *catalog, const char *dir, int run, uint64_t seed, totals *sums) {
  uint64_t *committed = NULL;
  size_t committed_count = 0;
  for (int cycle = 0; cycle < KILLS_PER_RUN; cycle++) {
    uint64_t cycle_seed = sb_mix(seed * 1000 + (uint64_t)run * KILLS_PER_RUN + (uint64_t)cycle);
    long delay_us = MIN_DELAY_US + (long)(cycle_seed % (MAX_DELAY_US - MIN_DELAY_US));
    uint64_t cycle_tag = (uint64_t)run * (KILLS_PER_RUN + 1) + (uint64_t)cycle + 1;
    cycle_result result = {0};
    run_child_and_kill(catalog, dir, cycle_tag, delay_us, &result);
    sums->flushes += result.flushes;
    sums->merges += result.merges;
    sums->cycles_with_merges += result.merges > 0;
    /* Each thread may have had its next batch in flight. */
    expectation expect = {0};
    for (uint64_t t = 0; t < CHILD_THREADS; t++) {
      uint64_t next = 0;
      for (size_t a = 0; a < result.ack_count; a++) {
        uint64_t batch = result.acks[a];
        if ((batch >> 32 & 0xff) == t && (batch & 0xffffffffu) + 1 > next) {
          next = (batch & 0xffffffffu) + 1;
        }
      }
      expect.in_flight[expect.in_flight_count++] = batch_number(cycle_tag, t, next);
    }
    committed = realloc(committed, (committed_count + result.ack_count + 1) * sizeof *committed);
    assert_non_null(committed);
    if (result.ack_count > 0) {
      memcpy(committed + committed_count, result.acks, result.ack_count * sizeof *committed);
    }
    committed_count += result.ack_count;
    sort_unique(committed, &committed_count);
    expect.committed = committed;
    expect.committed_count = committed_count;
    uint64_t *present = NULL;
    size_t present_count = 0;
    char when[64];
    snprintf(when, sizeof when, "kill %d after %ld ms", cycle + 1, delay_us / 1000);
    sl_stream_engine *engine = open_and_check(catalog, dir, &expect, run, when, &present, &present_count);
    sums->acks += result.ack_count;
    sums->unacknowledged_present += present_count - committed_count;
    /* What survived a recovery must survive every later one. */
    free(committed);
    committed = present;
    committed_count = present_count;
    sl_error err;
    assert_int_equal(sl_stream_engine_close(engine, cycle == KILLS_PER_RUN - 1, &err), SL_OK);
    free(result.acks);
  }
  /* Recovery after recovery: write more, close without a flush, replay again. */
  sl_engine_options options;
  engine_options(catalog, dir, &options);
  sl_stream_engine *engine = NULL;
  sl_error err;
  assert_int_equal(sl_stream_engine_open(&options, &engine, &err), SL_OK);
  sb_tags tags;
  assert_true(sb_tags_of(sl_stream_engine_schema(engine), &tags));
  committed = realloc(committed, (committed_count + PARENT_BATCHES + 1) * sizeof *committed);
  assert_non_null(committed);
  for (uint64_t i = 0; i < PARENT_BATCHES; i++) {
    uint64_t batch = batch_number((uint64_t)run * (KILLS_PER_RUN + 1) + KILLS_PER_RUN + 1, PARENT_THREAD, i);
    sb_batch made;
    assert_true(sb_batch_make(&tags, batch, &made));
    if (sl_stream_engine_write(engine, made.elements, made.count, &err) != SL_OK) {
      fail_msg("run %d: write after recovery: %s", run, err.message);
    }
    sb_batch_free(&made);
    committed[committed_count++] = batch;
  }
  sort_unique(committed, &committed_count);
  assert_int_equal(sl_stream_engine_close(engine, false, &err), SL_OK);
  expectation expect = {.committed = committed, .committed_count = committed_count};
  uint64_t *present = NULL;
  size_t present_count = 0;
  engine = open_and_check(catalog, dir, &expect, run, "reopen after writes", &present, &present_count);
  assert_int_equal(present_count, committed_count);
  assert_int_equal(sl_stream_engine_close(engine, true, &err), SL_OK);
  free(present);
  free(committed);
}

static void acknowledged_batches_survive_sigkill(void **state) {
  (void)state;
  sl_catalog *catalog = NULL;
  sl_diag *problems = sl_diag_new();
  if (sl_catalog_load_dir(SPANLAB_SOURCE_DIR "/schemas/stream-vs-trace", NULL, &catalog, problems) != SL_OK) {
    fail_msg("seed schemas: %s", sl_diag_count(problems) > 0 ? sl_diag_message(problems, 0) : "?");
  }
  sl_diag_free(problems);
  const char *ci = getenv("CI");
  uint64_t runs = test_env_u64("CRASH_RUNS", ci != NULL && strcmp(ci, "true") == 0 ? 10 : 50);
  uint64_t seed = test_env_u64("CRASH_SEED", 20240601);
  totals sums = {0};
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (uint64_t run = 0; run < runs; run++) {
    char name[64];
    snprintf(name, sizeof name, "stream-crash-%llu", (unsigned long long)run);
    const char *dir = test_temp_dir(name);
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", dir);
    one_run(catalog, copy, (int)run, seed, &sums);
    char command[4300];
    snprintf(command, sizeof command, "rm -rf '%s'", copy);
    assert_int_equal(system(command), 0);
  }
  print_message("      %llu runs (seed %llu) in %.1f s: %llu batches acknowledged, %llu unacknowledged found whole; "
                "children flushed %llu times and merged %llu times (%llu kills after a merge)\n",
                (unsigned long long)runs, (unsigned long long)seed, test_elapsed_us(&start) / 1e6,
                (unsigned long long)sums.acks, (unsigned long long)sums.unacknowledged_present,
                (unsigned long long)sums.flushes, (unsigned long long)sums.merges,
                (unsigned long long)sums.cycles_with_merges);
  assert_true(runs == 0 || sums.acks > 0);
  assert_true(runs < 5 || sums.flushes > 0);
  sl_catalog_free(catalog);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(acknowledged_batches_survive_sigkill),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
