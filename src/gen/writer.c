/* writer.c: generating a span file with several threads, byte-identical for
 * every thread count.  Each round the main thread plans up to threads x 4
 * chunks of whole traces; thread k makes and encodes chunks k, k+threads, ...
 * into their own buffers; the main thread then writes the chunks in order. */
#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/timeutil.h"
#include "spanlab/gen.h"
#include "spanlab/spanfile.h"

enum { CHUNK_TRACES = 128, CHUNKS_PER_THREAD = 4, MAX_THREADS = 64, MAX_TRACE_SPANS = 100 };

typedef struct chunk {
  sl_trace_plan plans[CHUNK_TRACES];
  size_t plan_count;
  sl_byte_buffer records;
  uint64_t spans;
  uint64_t data_binary_bytes;
  uint64_t raw_bytes;
  uint64_t checksum;
  sl_status status;
  sl_error error;
} chunk;

typedef struct pool {
  sl_gen *gen;
  int format;
  int threads;
  chunk *chunks;
  size_t chunk_count;     /* chunks planned this round */
  bool finished;
  pthread_barrier_t round_start;
  pthread_barrier_t round_end;
} pool;

typedef struct worker_argument {
  pool *shared;
  int index;
} worker_argument;

static void make_chunk(sl_gen_worker *worker, int format, chunk *target) {
  sl_span spans[MAX_TRACE_SPANS];
  target->records.size = 0;
  target->spans = target->data_binary_bytes = target->raw_bytes = target->checksum = 0;
  target->status = SL_OK;
  for (size_t p = 0; p < target->plan_count && target->status == SL_OK; p++) {
    sl_gen_worker_reset(worker);
    target->status = sl_gen_worker_make(worker, &target->plans[p], spans, &target->error);
    if (target->status != SL_OK) {
      break;
    }
    for (uint32_t i = 0; i < target->plans[p].span_count; i++) {
      target->checksum += sl_span_digest(&spans[i]);
      target->data_binary_bytes += spans[i].data_binary.size_bytes;
      target->raw_bytes += 3 * 8 + spans[i].service_id.size_bytes +
                           spans[i].service_instance_id.size_bytes + spans[i].trace_id.size_bytes +
                           spans[i].span_id.size_bytes + spans[i].parent_span_id.size_bytes +
                           spans[i].operation_name.size_bytes + spans[i].component.size_bytes +
                           spans[i].data_binary.size_bytes;
    }
    target->spans += target->plans[p].span_count;
    target->status = sl_spanfile_encode((sl_spanfile_format)format, spans,
                                        target->plans[p].span_count, &target->records,
                                        &target->error);
  }
}

static void *worker_main(void *opaque) {
  worker_argument *argument = opaque;
  pool *shared = argument->shared;
  sl_gen_worker *worker = sl_gen_worker_new(shared->gen);
  for (;;) {
    pthread_barrier_wait(&shared->round_start);
    if (shared->finished) {
      break;
    }
    for (size_t c = (size_t)argument->index; c < shared->chunk_count; c += (size_t)shared->threads) {
      if (worker == NULL) {
        shared->chunks[c].status =
            sl_error_set(&shared->chunks[c].error, SL_ERR_NOMEM, "generator: out of memory");
        continue;
      }
      make_chunk(worker, shared->format, &shared->chunks[c]);
    }
    pthread_barrier_wait(&shared->round_end);
  }
  sl_gen_worker_free(worker);
  return NULL;
}


static void remove_regular_file(const char *path) {
  struct stat info;
  if (lstat(path, &info) == 0 && S_ISREG(info.st_mode)) {
    (void)unlink(path);
  }
}

sl_status sl_gen_write_file(const sl_gen_profile *profile, int format, const char *path,
                            int threads, sl_gen_progress_fn progress, void *context,
                            sl_gen_manifest *manifest, sl_error *err) {
  assert(profile != NULL && path != NULL && manifest != NULL);
  if (threads < 1 || threads > MAX_THREADS) {
    return sl_error_set(err, SL_ERR_INVALID, "threads must be 1..%d, not %d", MAX_THREADS, threads);
  }
  memset(manifest, 0, sizeof *manifest);
  int64_t started_ns = sl_monotonic_ns();
  sl_gen *gen = NULL;
  SL_TRY(sl_gen_open(profile, &gen, err));
  sl_spanfile_writer *writer = NULL;
  sl_status status = sl_spanfile_writer_open(path, (sl_spanfile_format)format, &writer, err);
  if (status != SL_OK) {
    sl_gen_close(gen);
    return status;
  }
  pool shared = {.gen = gen, .format = format, .threads = threads};
  size_t chunk_capacity = (size_t)threads * CHUNKS_PER_THREAD;
  shared.chunks = calloc(chunk_capacity, sizeof(chunk));
  pthread_t thread_ids[MAX_THREADS];
  worker_argument arguments[MAX_THREADS];
  if (shared.chunks == NULL) {
    sl_spanfile_writer_close(writer, NULL);
    sl_gen_close(gen);
    return sl_error_set(err, SL_ERR_NOMEM, "generator: out of memory");
  }
  pthread_barrier_init(&shared.round_start, NULL, (unsigned)threads + 1);
  pthread_barrier_init(&shared.round_end, NULL, (unsigned)threads + 1);
  for (int t = 0; t < threads; t++) {
    arguments[t] = (worker_argument){.shared = &shared, .index = t};
    pthread_create(&thread_ids[t], NULL, worker_main, &arguments[t]);
  }
  while (status == SL_OK) {
    shared.chunk_count = 0;
    for (size_t c = 0; c < chunk_capacity; c++) {
      shared.chunks[c].plan_count = sl_gen_plan_next(gen, shared.chunks[c].plans, CHUNK_TRACES);
      if (shared.chunks[c].plan_count == 0) {
        break;
      }
      shared.chunk_count++;
    }
    if (shared.chunk_count == 0) {
      break;
    }
    pthread_barrier_wait(&shared.round_start);
    pthread_barrier_wait(&shared.round_end);
    for (size_t c = 0; c < shared.chunk_count && status == SL_OK; c++) {
      chunk *done = &shared.chunks[c];
      if (done->status != SL_OK) {
        status = done->status;
        if (err != NULL) {
          *err = done->error;
        }
        break;
      }
      status = sl_spanfile_writer_append(writer, &done->records, done->spans, err);
      manifest->spans += done->spans;
      manifest->data_binary_bytes += done->data_binary_bytes;
      manifest->raw_bytes += done->raw_bytes;
      manifest->span_checksum += done->checksum;
      for (size_t p = 0; p < done->plan_count; p++) {
        sl_trace_class trace_class = sl_trace_class_of(done->plans[p].span_count);
        manifest->traces++;
        manifest->traces_by_class[trace_class]++;
        manifest->spans_by_class[trace_class] += done->plans[p].span_count;
      }
    }
    if (progress != NULL) {
      progress(context, manifest->spans, profile->spans);
    }
  }
  shared.finished = true;
  pthread_barrier_wait(&shared.round_start);
  for (int t = 0; t < threads; t++) {
    pthread_join(thread_ids[t], NULL);
  }
  pthread_barrier_destroy(&shared.round_start);
  pthread_barrier_destroy(&shared.round_end);
  for (size_t c = 0; c < chunk_capacity; c++) {
    sl_byte_buffer_free(&shared.chunks[c].records);
  }
  free(shared.chunks);
  sl_gen_close(gen);
  uint64_t file_bytes = sl_spanfile_writer_bytes(writer);
  sl_status close_status = sl_spanfile_writer_close(writer, status == SL_OK ? err : NULL);
  if (status == SL_OK) {
    status = close_status;
  }
  manifest->file_bytes = file_bytes + (format == SL_SPANFILE_BIN ? 24 : 0);
  manifest->seconds = (double)(sl_monotonic_ns() - started_ns) / 1e9;
  char manifest_path[4200];
  snprintf(manifest_path, sizeof manifest_path, "%s.manifest.json", path);
  if (status != SL_OK) {
    /* A file cut short by a full disk (or any failure) is not left to be taken for a whole one, and
     * neither is an older manifest beside it; but only regular files go (never a device or a
     * symlink given as --out, such as /dev/full). */
    remove_regular_file(path);
    remove_regular_file(manifest_path);
    return status;
  }
  /* A manifest that cannot be written leaves the whole span file (load then checks nothing). */
  return sl_gen_write_manifest(manifest_path, profile, sl_spanfile_format_name((sl_spanfile_format)format),
                               manifest, err);
}

sl_status sl_gen_write_manifest(const char *manifest_path, const sl_gen_profile *profile,
                                const char *format_name, const sl_gen_manifest *manifest,
                                sl_error *err) {
  char checksum[24];
  snprintf(checksum, sizeof checksum, "%016llx", (unsigned long long)manifest->span_checksum);
  char start[40];
  sl_rfc3339_format_ns(profile->start_ms * 1000000, start, sizeof start);
  json_t *root = json_pack(
      "{s:i, s:s, s:{s:s, s:I, s:i, s:i, s:s, s:I, s:I, s:f, s:i, s:i, s:f, s:I, s:f}, "
      "s:I, s:I, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I}, s:I, s:I, s:I, s:s, s:s}",
      "manifest_version", 1, "format", format_name, "profile", "scale", profile->scale, "spans",
      (json_int_t)profile->spans, "services", (int)profile->services, "instances",
      (int)profile->instances, "start", start, "time_range_ms", (json_int_t)profile->time_range_ms,
      "seed", (json_int_t)profile->seed, "error_rate", profile->error_rate, "operations",
      (int)profile->operations, "payload_bytes", (int)profile->payload_bytes, "latency_mean_ms",
      profile->latency_mean_ms, "latency_cap_ms", (json_int_t)profile->latency_cap_ms,
      "cross_service_share", profile->cross_service_share, "spans", (json_int_t)manifest->spans,
      "traces", (json_int_t)manifest->traces, "traces_by_class", "simple",
      (json_int_t)manifest->traces_by_class[0], "medium", (json_int_t)manifest->traces_by_class[1],
      "complex", (json_int_t)manifest->traces_by_class[2], "spans_by_class", "simple",
      (json_int_t)manifest->spans_by_class[0], "medium", (json_int_t)manifest->spans_by_class[1],
      "complex", (json_int_t)manifest->spans_by_class[2], "file_bytes",
      (json_int_t)manifest->file_bytes, "data_binary_bytes", (json_int_t)manifest->data_binary_bytes,
      "raw_bytes", (json_int_t)manifest->raw_bytes, "span_checksum", checksum,
      "span_checksum_definition", "hex of the wrapping 64-bit sum of sl_span_digest over all spans");
  if (root == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "manifest: out of memory");
  }
  errno = 0;
  int rc = json_dump_file(root, manifest_path, JSON_INDENT(2));
  int saved = errno;
  json_decref(root);
  if (rc != 0) {
    return sl_error_set(err, SL_ERR_IO, "%s: cannot write the manifest: %s", manifest_path,
                        saved != 0 ? strerror(saved) : "write failed");
  }
  return SL_OK;
}
