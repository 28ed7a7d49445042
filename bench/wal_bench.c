/* wal_bench.c: write-ahead log throughput. Appends/s and MB/s of payload for 1 KiB and 64 KiB
 * records in each sync mode (none, batch, interval), with 1 and 8 writer threads, plus fsyncs and
 * the mean group size. Each case runs for --seconds (default 2) in a fresh WAL under --dir (default
 * ./wal-bench-tmp, removed afterwards): put it on the disk you want to measure.
 *
 *   wal_bench [--dir DIR] [--seconds S]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage/wal.h"

enum { MAX_THREADS = 8 };

typedef struct bench_case {
  sl_wal_sync_mode mode;
  size_t record_bytes;
  int threads;
} bench_case;

typedef struct worker {
  sl_wal *wal;
  size_t record_bytes;
  double seconds;
  uint64_t appends;
  sl_status status;
} worker;

static double now_seconds(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void *worker_main(void *argument) {
  worker *self = argument;
  uint8_t *payload = malloc(self->record_bytes);
  if (payload == NULL) {
    self->status = SL_ERR_NOMEM;
    return NULL;
  }
  for (size_t i = 0; i < self->record_bytes; i++) {
    payload[i] = (uint8_t)(i * 31 + 7); /* content does not matter: the WAL does not compress */
  }
  double end = now_seconds() + self->seconds;
  while (now_seconds() < end) {
    sl_error err;
    self->status = sl_wal_append(self->wal, payload, self->record_bytes, NULL, &err);
    if (self->status != SL_OK) {
      fprintf(stderr, "append: %s\n", err.message);
      break;
    }
    self->appends++;
  }
  free(payload);
  return NULL;
}

static int run_case(const char *dir, const bench_case *c, double seconds) {
  char command[4200];
  snprintf(command, sizeof command, "rm -rf '%s'", dir);
  if (system(command) != 0) {
    return 1;
  }
  sl_wal_options options;
  sl_wal_options_default(&options);
  options.sync_mode = c->mode;
  sl_wal *wal = NULL;
  sl_error err;
  if (sl_wal_open(dir, &options, &wal, &err) != SL_OK) {
    fprintf(stderr, "open: %s\n", err.message);
    return 1;
  }
  worker workers[MAX_THREADS];
  pthread_t threads[MAX_THREADS];
  double start = now_seconds();
  for (int t = 0; t < c->threads; t++) {
    workers[t] = (worker){wal, c->record_bytes, seconds, 0, SL_OK};
    pthread_create(&threads[t], NULL, worker_main, &workers[t]);
  }
  uint64_t appends = 0;
  int failed = 0;
  for (int t = 0; t < c->threads; t++) {
    pthread_join(threads[t], NULL);
    appends += workers[t].appends;
    failed |= workers[t].status != SL_OK;
  }
  double elapsed = now_seconds() - start;
  sl_wal_stats stats;
  sl_wal_stats_get(wal, &stats);
  if (sl_wal_close(wal, &err) != SL_OK) {
    fprintf(stderr, "close: %s\n", err.message);
    failed = 1;
  }
  printf("| %-8s | %6zu | %7d | %12.0f | %8.1f | %8llu | %10.1f |\n",
         sl_wal_sync_mode_name(c->mode), c->record_bytes, c->threads, (double)appends / elapsed,
         (double)appends * (double)c->record_bytes / elapsed / 1e6,
         (unsigned long long)stats.fsyncs,
         stats.write_calls > 0 ? (double)stats.records / (double)stats.write_calls : 0.0);
  fflush(stdout);
  return failed;
}

int main(int argc, char **argv) {
  const char *dir = "wal-bench-tmp";
  double seconds = 2.0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
      dir = argv[++i];
    } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      seconds = atof(argv[++i]);
    } else {
      fprintf(stderr, "usage: %s [--dir DIR] [--seconds S]\n", argv[0]);
      return 2;
    }
  }
  if (seconds <= 0) {
    fprintf(stderr, "--seconds must be positive\n");
    return 2;
  }
  printf("| mode     | record | writers |    appends/s |     MB/s |   fsyncs | mean group |\n");
  printf("|---|---|---|---|---|---|---|\n");
  const sl_wal_sync_mode modes[] = {SL_WAL_SYNC_NONE, SL_WAL_SYNC_BATCH, SL_WAL_SYNC_INTERVAL};
  const size_t sizes[] = {1024, 65536};
  const int writers[] = {1, 8};
  int failed = 0;
  for (size_t m = 0; m < 3; m++) {
    for (size_t s = 0; s < 2; s++) {
      for (size_t w = 0; w < 2; w++) {
        bench_case c = {modes[m], sizes[s], writers[w]};
        failed |= run_case(dir, &c, seconds);
      }
    }
  }
  char command[4200];
  snprintf(command, sizeof command, "rm -rf '%s'", dir);
  failed |= system(command) != 0;
  return failed;
}
