/* test_trace_crash.c: acknowledged Trace engine batches survive a crash, and
 * no batch is ever seen in part.
 *
 * Each run forks a child that opens the Trace engine (background flusher and
 * merger on, a 20 ms flush interval so that flushes and merges run all along,
 * WAL in batch mode) and writes batches of spans; after each acknowledged
 * write it sends the batch number to the parent through a pipe.  A batch
 * mixes spans of traces of its own with spans of a few traces that every
 * seventh batch shares, so a trace lives in many batches and parts.  The
 * parent SIGKILLs the child at a random moment (seeded), reopens the store
 * (WAL replay past the snapshots) and checks, by a scan and by trace-id
 * queries, that every acknowledged batch is there whole, that every batch
 * seen is whole (all its spans or none) and that no span comes twice.  Then
 * it writes one more batch, closes, reopens and checks again.
 *
 * CRASH_RUNS sets the number of runs (default 50; 10 when CI=true), CRASH_SEED
 * the seed.  This simulates a process crash (the page cache survives), not a
 * power failure. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spanlab/catalog.h"
#include "spanlab/query.h"
#include "test_support.h"
#include "trace/trace.h"

#define SCHEMAS SPANLAB_SOURCE_DIR "/schemas/stream-vs-trace"

enum {
  TAGS = 11,
  MAX_BATCHES = 1000000,
  MAX_BATCH_SPANS = 40,
  MIN_DELAY_US = 20000,
  MAX_DELAY_US = 500000,
  EXIT_SETUP_FAILED = 4,
  EXIT_WRITE_FAILED = 3
};

static uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

static size_t batch_spans(uint64_t run_seed, uint64_t batch) { return 1 + (size_t)(mix(run_seed ^ batch) % MAX_BATCH_SPANS); }

static sl_catalog *load_catalog(void) {
  sl_catalog *catalog = NULL;
  sl_diag *problems = sl_diag_new();
  sl_status status = sl_catalog_load_dir(SCHEMAS, NULL, &catalog, problems);
  sl_diag_free(problems);
  return status == SL_OK ? catalog : NULL;
}

static sl_trace_engine *open_engine(const sl_catalog *catalog, const char *dir, bool background, sl_error *err) {
  sl_engine_options options;
  sl_engine_options_default(&options);
  options.catalog = catalog;
  options.directory = dir;
  options.background = background;
  options.sync_mode = getenv("CRASH_SYNC_NONE") ? SL_WAL_SYNC_NONE : SL_WAL_SYNC_BATCH;
  options.memory_bytes_limit = 64 << 20; /* flushes come from age: every 20 ms */
  options.flush_interval_ms = 20;
  sl_trace_engine *engine = NULL;
  return sl_trace_engine_open(&options, &engine, err) == SL_OK ? engine : NULL;
}

/* The spans of one batch: span i of batch b is "b<b>-s<i>", of trace "b<b>-t<i % 3>" or, for a
 * third of them, of the shared trace "shared-<b % 7>"; times spread over two days. */
typedef struct batch_buffer {
  sl_element elements[MAX_BATCH_SPANS];
  sl_value values[MAX_BATCH_SPANS][TAGS];
  char text[MAX_BATCH_SPANS][4][48];
} batch_buffer;

static size_t make_batch(const sl_trace_schema *schema, uint64_t run_seed, uint64_t batch, batch_buffer *out) {
  size_t count = batch_spans(run_seed, batch);
  for (size_t i = 0; i < count; i++) {
    uint64_t h = mix(run_seed + batch * 1000 + i);
    char (*text)[48] = out->text[i];
    snprintf(text[0], 48, "b%llu-s%zu", (unsigned long long)batch, i);
    if (h % 3 == 0) {
      snprintf(text[1], 48, "shared-%llu", (unsigned long long)(batch % 7));
    } else {
      snprintf(text[1], 48, "b%llu-t%zu", (unsigned long long)batch, i % 3);
    }
    snprintf(text[2], 48, "svc-%d", (int)(h % 5));
    snprintf(text[3], 48, "svc-%d-inst-%d", (int)(h % 5), (int)((h >> 8) % 3));
    int64_t start_ms = 1740787200000LL + (int64_t)((h >> 16) % (2ULL * 86400000));
    for (size_t t = 0; t < schema->tag_count; t++) {
      const char *name = schema->tags[t].name;
      sl_value value = sl_value_null();
      if (strcmp(name, "serviceId") == 0) {
        value = sl_value_str(text[2], strlen(text[2]));
      } else if (strcmp(name, "serviceInstanceId") == 0) {
        value = sl_value_str(text[3], strlen(text[3]));
      } else if (strcmp(name, "traceId") == 0) {
        value = sl_value_str(text[1], strlen(text[1]));
      } else if (strcmp(name, "startTime") == 0) {
        value = sl_value_int(start_ms);
      } else if (strcmp(name, "latency") == 0) {
        value = sl_value_int((int64_t)((h >> 40) % 1000));
      } else if (strcmp(name, "isError") == 0) {
        value = sl_value_int((int64_t)((h >> 50) % 2));
      } else if (strcmp(name, "spanId") == 0) {
        value = sl_value_str(text[0], strlen(text[0]));
      } else if (strcmp(name, "dataBinary") == 0) {
        value = sl_value_binary(text[0], strlen(text[0]));
      }
      out->values[i][t] = value;
    }
    out->elements[i] = (sl_element){.timestamp_ns = start_ms * 1000000,
                                    .data = {.data = text[0], .size_bytes = strlen(text[0])},
                                    .values = out->values[i]};
  }
  return count;
}

static void child_main(const char *dir, int pipe_fd, uint64_t run_seed) {
  sl_catalog *catalog = load_catalog();
  sl_error err;
  sl_trace_engine *engine = catalog != NULL ? open_engine(catalog, dir, true, &err) : NULL;
  if (engine == NULL) {
    _exit(EXIT_SETUP_FAILED);
  }
  const sl_trace_schema *schema = sl_trace_engine_schema(engine);
  static batch_buffer buffer;
  for (uint64_t batch = 1; batch <= MAX_BATCHES; batch++) {
    size_t count = make_batch(schema, run_seed, batch, &buffer);
    if (sl_trace_engine_write(engine, buffer.elements, count, &err) != SL_OK) {
      _exit(EXIT_WRITE_FAILED);
    }
    if (write(pipe_fd, &batch, sizeof batch) != (ssize_t)sizeof batch) {
      _exit(EXIT_SETUP_FAILED);
    }
  }
  _exit(0);
}

/* ---- the parent ---- */

/* Reads acknowledgments for delay_us, kills the child, reads the rest; returns the highest batch acknowledged. */
static uint64_t run_child_and_kill(int read_fd, pid_t child, long delay_us, uint64_t *acks) {
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  uint64_t highest = 0;
  uint8_t partial[8];
  size_t partial_bytes = 0;
  bool killed = false;
  for (;;) {
    long left_us = delay_us - test_elapsed_us(&start);
    if (!killed && left_us <= 0) {
      kill(child, SIGKILL);
      killed = true;
    }
    struct pollfd poll_fd = {read_fd, POLLIN, 0};
    int ready = poll(&poll_fd, 1, killed ? 1000 : (int)(left_us / 1000) + 1);
    if (ready <= 0) {
      if (killed) {
        break;
      }
      continue;
    }
    uint8_t bytes[8 * 256];
    ssize_t got = read(read_fd, bytes, sizeof bytes);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) {
      continue;
    }
    assert_true(got >= 0);
    if (got == 0) {
      break; /* the child is gone and the pipe drained */
    }
    for (ssize_t i = 0; i < got; i++) {
      partial[partial_bytes++] = bytes[i];
      if (partial_bytes == 8) {
        uint64_t batch;
        memcpy(&batch, partial, 8);
        assert_int_equal(batch, highest + 1); /* one writer: acknowledged in order */
        highest = batch;
        (*acks)++;
        partial_bytes = 0;
      }
    }
  }
  if (!killed) {
    kill(child, SIGKILL);
  }
  int wait_status = 0;
  assert_int_equal(waitpid(child, &wait_status, 0), child);
  if (!WIFSIGNALED(wait_status)) {
    fail_msg("child exited with status %d instead of being killed", WEXITSTATUS(wait_status));
  }
  assert_int_equal(partial_bytes, 0);
  return highest;
}

typedef struct seen_spans {
  size_t span_tag;     /* flat index of spanId */
  uint32_t *per_batch; /* spans seen of each batch */
  uint64_t max_batch;
  uint64_t spans;
  const char *problem;
} seen_spans;

static sl_status count_span(void *opaque, int64_t timestamp_ns, const sl_value *tags, sl_error *err) {
  (void)timestamp_ns;
  seen_spans *seen = opaque;
  const sl_value *span_id = &tags[seen->span_tag];
  char text[64];
  if (span_id->kind != SL_VALUE_STR || span_id->as.str.size_bytes >= sizeof text) {
    return sl_error_set(err, SL_ERR_INTERNAL, "a span without its span id");
  }
  memcpy(text, span_id->as.str.data, span_id->as.str.size_bytes);
  text[span_id->as.str.size_bytes] = '\0';
  unsigned long long batch = 0;
  size_t index = 0;
  if (sscanf(text, "b%llu-s%zu", &batch, &index) != 2 || batch == 0 || batch > seen->max_batch) {
    return sl_error_set(err, SL_ERR_INTERNAL, "span %s was never written", text);
  }
  seen->per_batch[batch]++;
  seen->spans++;
  return SL_OK;
}

/* Every batch up to acknowledged whole; every other batch whole or absent; returns the batches seen. */
static uint64_t check_store(const sl_catalog *catalog, const char *dir, uint64_t run_seed, uint64_t acknowledged,
                            uint64_t max_batch, int run) {
  sl_error err;
  sl_trace_engine *engine = open_engine(catalog, dir, false, &err);
  if (engine == NULL) {
    fail_msg("run %d: reopen failed: %s", run, err.message);
  }
  seen_spans seen = {.per_batch = calloc(max_batch + 2, sizeof(uint32_t)), .max_batch = max_batch,
                     .span_tag = sl_trace_find_tag(sl_trace_engine_schema(engine), "spanId")->tag_index};
  assert_non_null(seen.per_batch);
  if (sl_trace_engine_scan(engine, count_span, &seen, &err) != SL_OK) {
    fail_msg("run %d: scan: %s", run, err.message);
  }
  uint64_t batches = 0;
  for (uint64_t b = 1; b <= max_batch; b++) {
    size_t want = batch_spans(run_seed, b);
    if (b <= acknowledged && seen.per_batch[b] != want) {
      fail_msg("run %d: acknowledged batch %llu has %u of its %zu spans", run, (unsigned long long)b, seen.per_batch[b],
               want);
    }
    if (seen.per_batch[b] != 0 && seen.per_batch[b] != want) {
      fail_msg("run %d: batch %llu is visible in part: %u of its %zu spans", run, (unsigned long long)b,
               seen.per_batch[b], want);
    }
    batches += seen.per_batch[b] != 0;
  }
  /* The last acknowledged batch's own traces, by id. */
  if (acknowledged > 0) {
    const sl_catalog *c = catalog;
    for (int t = 0; t < 3; t++) {
      char request[512];
      snprintf(request, sizeof request,
               "{\"groups\":[\"trace_performance_test\"],\"name\":\"segment_trace\","
               "\"criteria\":{\"condition\":{\"name\":\"traceId\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"b%llu-t%d\"}}}},"
               "\"tagProjection\":[\"spanId\"]}",
               (unsigned long long)acknowledged, t);
      sl_query *query = NULL;
      assert_int_equal(sl_query_parse(c, SL_QUERY_TRACE, request, strlen(request), &query, &err), SL_OK);
      sl_trace_answer answer;
      if (sl_trace_engine_query(engine, query, NULL, 0, &answer, &err) != SL_OK) {
        fail_msg("run %d: query: %s", run, err.message);
      }
      assert_true(answer.result.trace_count <= 1);
      sl_trace_answer_free(&answer);
      sl_query_free(query);
    }
  }
  free(seen.per_batch);
  if (sl_trace_engine_close(engine, false, &err) != SL_OK) {
    fail_msg("run %d: close: %s", run, err.message);
  }
  return batches;
}

static void acknowledged_batches_survive_sigkill(void **state) {
  (void)state;
  const char *ci = getenv("CI");
  uint64_t runs = test_env_u64("CRASH_RUNS", ci != NULL && strcmp(ci, "true") == 0 ? 10 : 50);
  uint64_t seed = test_env_u64("CRASH_SEED", 20250301);
  sl_catalog *catalog = load_catalog();
  assert_non_null(catalog);
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  uint64_t total_acks = 0, total_seen = 0, unacknowledged_seen = 0;
  for (uint64_t run = 0; run < runs; run++) {
    char name[64];
    snprintf(name, sizeof name, "trace-crash-%llu", (unsigned long long)run);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", test_temp_dir(name));
    uint64_t run_seed = mix(seed + run);
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
    uint64_t acks = 0;
    uint64_t acknowledged = run_child_and_kill(fds[0], child, delay_us, &acks);
    close(fds[0]);
    /* A batch written but not yet acknowledged may be there, whole. */
    uint64_t seen = check_store(catalog, dir, run_seed, acknowledged, acknowledged + 1, (int)run);
    total_acks += acknowledged;
    total_seen += seen;
    unacknowledged_seen += seen > acknowledged;
    /* Recovery after recovery: one more batch, a clean close, the same check. */
    sl_error err;
    sl_trace_engine *engine = open_engine(catalog, dir, false, &err);
    assert_non_null(engine);
    static batch_buffer buffer;
    uint64_t next = seen + 1;
    size_t count = make_batch(sl_trace_engine_schema(engine), run_seed, next, &buffer);
    if (sl_trace_engine_write(engine, buffer.elements, count, &err) != SL_OK) {
      fail_msg("run %d: a write after recovery: %s", (int)run, err.message);
    }
    if (sl_trace_engine_close(engine, true, &err) != SL_OK) {
      fail_msg("run %d: a clean close after recovery: %s", (int)run, err.message);
    }
    assert_int_equal(check_store(catalog, dir, run_seed, next, next, (int)run), next);
    char command[4300];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    assert_int_equal(system(command), 0);
  }
  print_message("      %llu runs (seed %llu) in %.1f s: %llu batches acknowledged, all found whole; %llu runs also "
                "kept the batch in flight\n",
                (unsigned long long)runs, (unsigned long long)seed, test_elapsed_us(&start) / 1e6,
                (unsigned long long)total_acks, (unsigned long long)unacknowledged_seen);
  assert_true(runs == 0 || total_acks > 0);
  (void)total_seen;
  sl_catalog_free(catalog);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(acknowledged_batches_survive_sigkill),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
