/* runner.c: `spanlab bench` / `spanlab run`: loads identical generated data
 * into every requested backend, measures, checks consistency and writes
 * results.json after every benchmark (docs/RESULTS.md). */
#include "bench/runner.h"

#include <assert.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "bench/monitor.h"
#include "bench/results.h"
#include "bench/stats.h"
#include "bench/verify.h"
#include "common/arena.h"
#include "common/histogram.h"
#include "common/progress.h"
#include "common/timeutil.h"
#include "spanlab/backend.h"
#include "spanlab/gen.h"
#include "spanlab/query.h"
#include "storage/fileio.h"

enum { LOAD_CHUNK_BYTES = 1 << 30, LOAD_BATCH_SPANS = 1000, SWEEP_BATCH_SPANS = 100, SWEEP_MAX_SPANS = 20000 };
static const double SWEEP_MAX_SECONDS = 10.0;
static const double QUERY_MAX_SECONDS = 2.0;

static volatile sig_atomic_t interrupted;

static void on_signal(int signal_number) {
  (void)signal_number;
  interrupted = 1;
}

typedef struct run {
  const sl_bench_options *options;
  sl_backend_query_stats query_cache; /* block metadata cache hits and misses over a query phase */
  sl_monitor *monitor; /* NULL unless the memory label is on */
  sl_gen_profile profile;
  sl_catalog *catalog;
  sl_results *results;
  regex_t focus;
  bool has_focus;
  char out_dir[4096];
  uint64_t expected_spans;
  uint64_t expected_checksum;
  uint64_t expected_raw_bytes;
  uint64_t expected_traces;
  int consistency_failures;
  /* The oracle: every span as a query row (no dataBinary), from the first load. */
  sl_query_row *oracle_rows;
  sl_value *oracle_values;
  size_t oracle_count;
  sl_arena *oracle_arena;
  bool oracle_ready;
  /* Trace ids of one trace per complexity class, for the trace lookups. */
  char class_trace_ids[3][128];
  char top_service[256];
  char top_instance[512];
  /* The sweep subset: the first spans of the stream, copied. */
  sl_span *sweep_spans;
  size_t sweep_count;
  sl_arena *sweep_arena;
} run;

/* Peak RSS per phase: /proc/self/clear_refs "5" resets VmHWM (Linux >= 4.0).  Heap an earlier
 * phase freed goes back to the system first, so a phase's peak is its own. */
static void phase_start(void) {
  malloc_trim(0);
  FILE *file = fopen("/proc/self/clear_refs", "w");
  if (file != NULL) {
    fputs("5", file);
    fclose(file);
  }
}

static int64_t peak_rss_bytes(void) {
  FILE *file = fopen("/proc/self/status", "r");
  if (file == NULL) {
    return -1;
  }
  char line[256];
  long long kib = -1;
  while (fgets(line, sizeof line, file) != NULL) {
    if (strncmp(line, "VmHWM:", 6) == 0) {
      char *end = NULL;
      kib = strtoll(line + 6, &end, 10);
      if (end == line + 6) {
        kib = -1;
      }
      break;
    }
  }
  fclose(file);
  return kib < 0 ? -1 : kib * 1024;
}

/* A /proc/self/status figure in bytes (kB lines), -1 when absent. */
static int64_t status_bytes(const char *key) {
  FILE *file = fopen("/proc/self/status", "r");
  if (file == NULL) {
    return -1;
  }
  char line[256];
  long long kib = -1;
  size_t key_length = strlen(key);
  while (fgets(line, sizeof line, file) != NULL) {
    if (strncmp(line, key, key_length) == 0 && line[key_length] == ':') {
      kib = strtoll(line + key_length + 1, NULL, 10);
      break;
    }
  }
  fclose(file);
  return kib < 0 ? -1 : kib * 1024;
}

/* Memory of a phase beyond its peak: anonymous and file-mapped resident bytes
 * now, the allocator's live bytes, and fragmentation = anonymous RSS / live
 * bytes (what the allocator holds that the program does not use). */
static void record_memory_detail(run *state, const char *benchmark, const char *model, int iteration,
                                 const sl_backend_query_stats *cache) {
  struct mallinfo2 info = mallinfo2();
  int64_t anon = status_bytes("RssAnon"), file = status_bytes("RssFile");
  double live = (double)info.uordblks + (double)info.hblkhd;
  sl_error err;
  if (anon >= 0) {
    sl_results_record(state->results, benchmark, "memory", model, "rss_anon_bytes", "bytes", false, iteration, (double)anon, &err);
    if (live > 0) {
      sl_results_record(state->results, benchmark, "memory", model, "fragmentation_ratio", "ratio", false, iteration,
                        (double)anon / live, &err);
    }
  }
  if (file >= 0) {
    sl_results_record(state->results, benchmark, "memory", model, "rss_file_bytes", "bytes", false, iteration, (double)file, &err);
  }
  sl_results_record(state->results, benchmark, "memory", model, "allocator_live_bytes", "bytes", false, iteration, live, &err);
  if (cache != NULL && cache->cache_hits + cache->cache_misses > 0) {
    sl_results_record(state->results, benchmark, "memory", model, "block_cache_hit_rate", "ratio", true, iteration,
                      (double)cache->cache_hits / (double)(cache->cache_hits + cache->cache_misses), &err);
  }
}

static bool wanted(const run *state, unsigned label, const char *benchmark) {
  if ((state->options->labels & label) == 0) {
    return false;
  }
  return !state->has_focus || regexec(&state->focus, benchmark, 0, NULL, 0) == 0;
}

static sl_status make_directory(const char *path, sl_error *err) {
  char partial[4096];
  snprintf(partial, sizeof partial, "%s", path);
  for (char *slash = partial + 1; *slash != '\0'; slash++) {
    if (*slash == '/') {
      *slash = '\0';
      mkdir(partial, 0755);
      *slash = '/';
    }
  }
  if (mkdir(partial, 0755) != 0 && errno != EEXIST) {
    return sl_error_set(err, errno == ENOSPC ? SL_ERR_NOSPACE : SL_ERR_IO, "cannot create %s: %s",
                        path, strerror(errno));
  }
  return SL_OK;
}

/* Removes a store's directory (not through a shell: the path is the user's --out). */
static void remove_tree(const char *path) {
  sl_fileio_remove_tree(path);
  struct stat info;
  if (lstat(path, &info) == 0) {
    fprintf(stderr, "warning: could not remove %s\n", path);
  }
}

static sl_status open_backend(run *state, const char *model, const char *store, sl_backend **out,
                              sl_error *err) {
  remove_tree(store);
  sl_backend_options options = {.catalog = state->catalog,
                                .directory = store,
                                .shape = strcmp(model, "trace") == 0 ? SL_SHAPE_TRACE : SL_SHAPE_STREAM,
                                .sync_mode = state->options->sync_mode,
                                .sync_interval_ms = 1000};
  return sl_backend_open(model, &options, out, err);
}

static bool backend_exists(const char *model) {
  for (const char *const *kind = sl_backend_kinds(); *kind != NULL; kind++) {
    if (strcmp(*kind, model) == 0) {
      return true;
    }
  }
  return false;
}

/* Records the figures of one write measurement. */
static sl_status record_write(run *state, const char *benchmark, const char *model, int iteration,
                              uint64_t spans, uint64_t traces, uint64_t bytes, double seconds,
                              const sl_histogram *latency, sl_error *err) {
  double safe_seconds = seconds > 0 ? seconds : 1e-9;
  struct {
    const char *metric;
    const char *unit;
    bool higher;
    double value;
  } figures[] = {
      {"spans_per_second", "spans/s", true, (double)spans / safe_seconds},
      {"traces_per_second", "traces/s", true, (double)traces / safe_seconds},
      {"mb_per_second", "MB/s", true, (double)bytes / 1e6 / safe_seconds},
      {"batch_latency_p50_ms", "ms", false, (double)sl_histogram_percentile(latency, 50) / 1e6},
      {"batch_latency_p95_ms", "ms", false, (double)sl_histogram_percentile(latency, 95) / 1e6},
      {"batch_latency_p99_ms", "ms", false, (double)sl_histogram_percentile(latency, 99) / 1e6},
      {"batch_latency_p999_ms", "ms", false, (double)sl_histogram_percentile(latency, 99.9) / 1e6},
      {"batch_latency_max_ms", "ms", false, (double)latency->max / 1e6},
  };
  for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++) {
    SL_TRY(sl_results_record(state->results, benchmark, "write", model, figures[i].metric,
                             figures[i].unit, figures[i].higher, iteration, figures[i].value, err));
  }
  json_t *details = sl_results_details(state->results, benchmark, model, iteration);
  json_object_set_new(details, "spans", json_integer((json_int_t)spans));
  json_object_set_new(details, "seconds", json_real(seconds));
  json_object_set_new(details, "batches", json_integer((json_int_t)latency->count));
  return SL_OK;
}

static uint64_t span_bytes(const sl_span *span) {
  return 24 + span->service_id.size_bytes + span->service_instance_id.size_bytes +
         span->trace_id.size_bytes + span->span_id.size_bytes + span->parent_span_id.size_bytes +
         span->operation_name.size_bytes + span->component.size_bytes + span->data_binary.size_bytes;
}

static sl_bytes copy_bytes(sl_arena *arena, sl_bytes bytes) {
  char *copy = sl_arena_strndup(arena, bytes.data, bytes.size_bytes);
  return (sl_bytes){.data = copy != NULL ? copy : "", .size_bytes = copy != NULL ? bytes.size_bytes : 0};
}

/* A span whose bytes live in arena (the generator reuses its buffers). */
static sl_span copy_span(sl_arena *arena, const sl_span *span) {
  sl_span copy = *span;
  copy.service_id = copy_bytes(arena, span->service_id);
  copy.service_instance_id = copy_bytes(arena, span->service_instance_id);
  copy.trace_id = copy_bytes(arena, span->trace_id);
  copy.span_id = copy_bytes(arena, span->span_id);
  copy.parent_span_id = copy_bytes(arena, span->parent_span_id);
  copy.operation_name = copy_bytes(arena, span->operation_name);
  copy.component = copy_bytes(arena, span->component);
  copy.data_binary = copy_bytes(arena, span->data_binary);
  return copy;
}
static sl_status query_benchmarks(run *state, const char *model, sl_backend *backend, int iteration,
                                  sl_error *err);

/* Keeps spans as oracle rows: the seed's tags in the stream schema's order,
 * dataBinary left out (no query reads it), element id = traceId/spanId. */
static sl_status keep_for_oracle(run *state, const sl_span *spans, size_t count, sl_error *err) {
  if (state->oracle_arena == NULL) {
    state->oracle_arena = sl_arena_new(4 << 20);
    state->oracle_rows = calloc(state->profile.spans + 1, sizeof(sl_query_row));
    state->oracle_values = calloc((state->profile.spans + 1) * SL_SPAN_TAG_COUNT, sizeof(sl_value));
    if (state->oracle_arena == NULL || state->oracle_rows == NULL || state->oracle_values == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "bench: out of memory for the oracle's %llu rows",
                          (unsigned long long)state->profile.spans);
    }
  }
  const sl_stream_schema *stream = sl_catalog_stream_count(state->catalog) > 0 ? sl_catalog_stream_at(state->catalog, 0) : NULL;
  if (stream == NULL) {
    return sl_error_set(err, SL_ERR_INVALID, "bench: the schema set has no stream for the oracle");
  }
  for (size_t i = 0; i < count && state->oracle_count < state->profile.spans; i++) {
    sl_value *values = &state->oracle_values[state->oracle_count * SL_SPAN_TAG_COUNT];
    for (size_t t = 0; t < stream->tag_count && t < SL_SPAN_TAG_COUNT; t++) {
      size_t field = SL_SPAN_TAG_COUNT;
      for (size_t f = 0; f < SL_SPAN_TAG_COUNT; f++) {
        if (strcmp(sl_span_tag_names[f], stream->tags[t].name) == 0) {
          field = f;
        }
      }
      sl_value value = field < SL_SPAN_TAG_COUNT ? sl_span_tag_value(&spans[i], field) : sl_value_null();
      if (value.kind == SL_VALUE_STR) {
        sl_bytes copy = copy_bytes(state->oracle_arena, value.as.str);
        value = sl_value_str(copy.data, copy.size_bytes);
      } else if (value.kind == SL_VALUE_BINARY) {
        value = sl_value_null();
      }
      values[t] = value;
    }
    sl_query_row *row = &state->oracle_rows[state->oracle_count++];
    row->tags = values;
    row->timestamp_ns = spans[i].start_time_ms * 1000000;
    char element[512];
    int length = snprintf(element, sizeof element, "%.*s/%.*s", (int)spans[i].trace_id.size_bytes,
                          spans[i].trace_id.data, (int)spans[i].span_id.size_bytes, spans[i].span_id.data);
    row->element_id = copy_bytes(state->oracle_arena, (sl_bytes){element, (size_t)length});
  }
  return SL_OK;
}

/* CPU time of the whole process (every thread), in ns. */
static int64_t process_cpu_ns(void) {
  struct timespec now;
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now) != 0) {
    return 0;
  }
  return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/* The process's minor page faults so far (all threads). */
static int64_t process_minor_faults(void) {
  struct rusage usage;
  return getrusage(RUSAGE_SELF, &usage) == 0 ? (int64_t)usage.ru_minflt : 0;
}

/* The backend's storage breakdown (docs/RESULTS.md "storage") into
 * storage.MODEL (after the final merge: its members; after the load: .after_load). */
static void record_breakdown(run *state, const char *model, sl_backend *backend, const char *when, int iteration) {
  if (iteration != 0) {
    return; /* the layout repeats across iterations: keep the first */
  }
  char *text = NULL;
  sl_error err;
  if (sl_backend_storage_json(backend, &text, &err) != SL_OK) {
    return;
  }
  json_t *breakdown = json_loads(text, 0, NULL);
  free(text);
  if (breakdown == NULL) {
    return;
  }
  json_t *section = sl_results_section(state->results, "storage");
  json_t *entry = json_object_get(section, model);
  if (entry == NULL) {
    entry = json_object();
    json_object_set_new(section, model, entry);
  }
  if (strcmp(when, "final") == 0) {
    json_object_update(entry, breakdown);
    json_decref(breakdown);
  } else {
    json_object_set_new(entry, when, breakdown);
    if (json_object_get(entry, "by_tag") == NULL) {
      /* until a final merge replaces them, the after-load figures are the backend's */
      json_object_update_missing(entry, json_object_get(entry, when));
    }
  }
}

/* What the run's stores may take on disk at once (the largest, or all of them with --keep), from the
 * data's raw bytes: the stored shares measured at small and medium scale (Stream 21-22% of raw,
 * Trace 25%, SQLite 119%) with a margin, plus each engine's WAL (up to twice the memory limit). */
static uint64_t disk_estimate_bytes(const run *state) {
  uint64_t raw = state->expected_raw_bytes, largest = 0, all = 0;
  for (size_t m = 0; m < state->options->model_count; m++) {
    const char *model = state->options->models[m];
    double share = strcmp(model, "stream") == 0 ? 0.30 : strcmp(model, "trace") == 0 ? 0.33
                 : strcmp(model, "sqlite") == 0 ? 1.30 : 0.0;
    uint64_t wal = share > 0 && strcmp(model, "sqlite") != 0 ? (256ull << 20) : 0;
    uint64_t bytes = (uint64_t)(share * (double)raw) + wal;
    largest = bytes > largest ? bytes : largest;
    all += bytes;
  }
  return state->options->keep_stores ? all : largest;
}

static const char *size_text(double bytes, char *out, size_t out_bytes) {
  if (bytes >= 1e9) {
    snprintf(out, out_bytes, "%.1f GB", bytes / 1e9);
  } else {
    snprintf(out, out_bytes, "%.1f MB", bytes / 1e6);
  }
  return out;
}

/* Before any store is written: a warning when the estimate is over the space free under --out (a
 * full disk later stops the run with an error naming the file; the results so far are kept). */
static void warn_about_disk(const run *state) {
  struct statvfs fs;
  uint64_t needed = disk_estimate_bytes(state);
  if (statvfs(state->out_dir, &fs) != 0 || needed == 0) {
    return;
  }
  uint64_t free_bytes = (uint64_t)fs.f_bavail * (uint64_t)fs.f_frsize;
  if (needed > free_bytes) {
    char needed_text[32], raw_text[32], free_text[32];
    fprintf(stderr,
            "warning: the stores of this run may need about %s (%s, for %s of spans) and %s has %s free; a full "
            "disk stops the run (--models or --spans make it smaller)\n",
            size_text((double)needed, needed_text, sizeof needed_text),
            state->options->keep_stores ? "all of them, --keep" : "the largest at a time",
            size_text((double)state->expected_raw_bytes, raw_text, sizeof raw_text), state->out_dir,
            size_text((double)free_bytes, free_text, sizeof free_text));
  }
}

/* Fills results.json's "dataset" (docs/RESULTS.md). */
static void record_dataset(run *state, uint64_t data_binary_bytes, const sl_trace_tally *tally, int64_t first_ms,
                           int64_t last_ms) {
  json_t *dataset = sl_results_dataset(state->results);
  if (dataset == NULL) {
    return;
  }
  char checksum[24];
  snprintf(checksum, sizeof checksum, "%016llx", (unsigned long long)state->expected_checksum);
  char begin[64] = "", end[64] = "";
  if (first_ms <= last_ms) {
    sl_rfc3339_format_ns(first_ms * 1000000, begin, (int)sizeof begin);
    sl_rfc3339_format_ns(last_ms * 1000000, end, (int)sizeof end);
  }
  json_object_set_new(dataset, "spans", json_integer((json_int_t)state->expected_spans));
  json_object_set_new(dataset, "traces", json_integer((json_int_t)state->expected_traces));
  json_object_set_new(dataset, "raw_bytes", json_integer((json_int_t)state->expected_raw_bytes));
  json_object_set_new(dataset, "data_binary_bytes", json_integer((json_int_t)data_binary_bytes));
  json_object_set_new(dataset, "checksum", json_string(checksum));
  json_t *by_class = json_object();
  for (int c = SL_TRACE_SIMPLE; c <= SL_TRACE_COMPLEX; c++) {
    json_object_set_new(by_class, sl_trace_class_name((sl_trace_class)c),
                        json_integer((json_int_t)tally->traces_by_class[c]));
  }
  json_object_set_new(dataset, "traces_by_class", by_class);
  json_object_set_new(dataset, "time_range", json_pack("{s:s, s:s}", "begin", begin, "end", end));
}

/* One pass over the profile's spans before the loads of an iteration: what every store must then
 * hold (count, order-independent checksum, raw bytes, traces) and, the first time, the oracle's
 * rows.  The generator is deterministic (same profile and seed, same spans), so the loads that
 * follow write exactly these spans, and their timed loops do nothing but write. */
static sl_status expect_dataset(run *state, sl_error *err) {
  sl_gen *gen = NULL;
  SL_TRY(sl_gen_open(&state->profile, &gen, err));
  sl_span *spans = calloc(LOAD_BATCH_SPANS, sizeof(sl_span));
  sl_status status = spans != NULL ? SL_OK : sl_error_set(err, SL_ERR_NOMEM, "bench: out of memory");
  uint64_t done = 0, bytes = 0, checksum = 0, data_binary_bytes = 0;
  int64_t first_ms = INT64_MAX, last_ms = INT64_MIN;
  sl_trace_tally tally = {0};
  /* A pass over the whole data set before any load: minutes at medium scale, so it shows progress. */
  sl_progress progress;
  sl_progress_start(&progress, "expected data (manifest, oracle)", "spans", state->profile.spans,
                    !state->options->quiet);
  while (status == SL_OK && !interrupted) {
    size_t count = 0;
    status = sl_gen_next(gen, spans, LOAD_BATCH_SPANS, &count, err);
    if (status != SL_OK || count == 0) {
      break;
    }
    sl_progress_update(&progress, done + count);
    for (size_t i = 0; i < count && status == SL_OK; i++) {
      checksum += sl_span_digest(&spans[i]);
      bytes += span_bytes(&spans[i]);
      data_binary_bytes += spans[i].data_binary.size_bytes;
      first_ms = spans[i].start_time_ms < first_ms ? spans[i].start_time_ms : first_ms;
      last_ms = spans[i].start_time_ms > last_ms ? spans[i].start_time_ms : last_ms;
      status = sl_trace_tally_add(&tally, spans[i].trace_id, err);
    }
    done += count;
    if (!state->oracle_ready && (state->options->labels & SL_LABEL_QUERY)) {
      status = keep_for_oracle(state, spans, count, err);
    }
  }
  sl_progress_finish(&progress);
  if (status == SL_OK && !interrupted && state->oracle_arena != NULL) {
    state->oracle_ready = true;
  }
  state->expected_spans = done;
  state->expected_checksum = checksum;
  state->expected_raw_bytes = bytes;
  sl_trace_tally_finish(&tally);
  state->expected_traces = tally.traces; /* the same count as dataset.traces_by_class */
  if (status == SL_OK && !interrupted) {
    record_dataset(state, data_binary_bytes, &tally, first_ms, last_ms);
  }
  free(spans);
  sl_gen_close(gen);
  return status;
}

/* The sequential load writes spans generated beforehand, a chunk of up to LOAD_CHUNK_BYTES at a
 * time (the small profile is one chunk), so that its batches reach the backend back to back: with
 * the generator running between timed writes, an engine's background threads (flush, merge) got
 * the generator's time for free, and SQLite, which has none, did not. */
typedef struct load_chunk {
  sl_arena *arena;
  sl_span *spans;
  size_t count;
  size_t capacity;
  size_t *batch_counts; /* the generator's batches, kept as they came */
  size_t batches;
  size_t batch_capacity;
  bool end;             /* the generator has nothing more */
} load_chunk;

static void chunk_free(load_chunk *chunk) {
  sl_arena_free(chunk->arena);
  free(chunk->spans);
  free(chunk->batch_counts);
  memset(chunk, 0, sizeof *chunk);
}

static size_t chunk_bytes(const load_chunk *chunk) {
  return (chunk->arena != NULL ? sl_arena_reserved_bytes(chunk->arena) : 0) + chunk->capacity * sizeof(sl_span) +
         chunk->batch_capacity * sizeof(size_t);
}

static bool chunk_grow(load_chunk *chunk, size_t more_spans) {
  if (chunk->count + more_spans > chunk->capacity) {
    size_t capacity = chunk->capacity == 0 ? 4096 : chunk->capacity;
    while (capacity < chunk->count + more_spans) {
      capacity *= 2;
    }
    sl_span *grown = realloc(chunk->spans, capacity * sizeof *grown);
    if (grown == NULL) {
      return false;
    }
    chunk->spans = grown;
    chunk->capacity = capacity;
  }
  if (chunk->batches == chunk->batch_capacity) {
    size_t capacity = chunk->batch_capacity == 0 ? 256 : chunk->batch_capacity * 2;
    size_t *grown = realloc(chunk->batch_counts, capacity * sizeof *grown);
    if (grown == NULL) {
      return false;
    }
    chunk->batch_counts = grown;
    chunk->batch_capacity = capacity;
  }
  return true;
}

/* Refills chunk with the generator's next batches, up to about LOAD_CHUNK_BYTES of span bytes. */
static sl_status chunk_fill(load_chunk *chunk, sl_gen *gen, sl_span *scratch, sl_error *err) {
  sl_arena_free(chunk->arena);
  chunk->arena = sl_arena_new(4 << 20);
  chunk->count = 0;
  chunk->batches = 0;
  if (chunk->arena == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "bench: out of memory for the spans to load");
  }
  uint64_t bytes = 0;
  while (bytes < LOAD_CHUNK_BYTES && !interrupted) {
    size_t count = 0;
    SL_TRY(sl_gen_next(gen, scratch, LOAD_BATCH_SPANS, &count, err));
    if (count == 0) {
      chunk->end = true;
      break;
    }
    if (!chunk_grow(chunk, count)) {
      return sl_error_set(err, SL_ERR_NOMEM, "bench: out of memory for the spans to load");
    }
    for (size_t i = 0; i < count; i++) {
      chunk->spans[chunk->count + i] = copy_span(chunk->arena, &scratch[i]);
      bytes += span_bytes(&scratch[i]);
    }
    chunk->count += count;
    chunk->batch_counts[chunk->batches++] = count;
  }
  return SL_OK;
}

/* The index into options->models of the m-th backend run in an iteration (see the run loop). */
static size_t model_at(const sl_bench_options *options, int iteration, size_t m) {
  assert(options->model_count > 0 && m < options->model_count && iteration >= 0);
  return (m + (size_t)iteration) % options->model_count;
}

/* Waits for the store's background removals (the WAL segments a checkpoint gave up), so that they
 * run neither into the next benchmark's time nor into a disk figure; the wait goes into the details
 * of benchmark (when not NULL) as settle_seconds. A failure is a warning there and on stderr, as
 * `spanlab load` says it: the spans are in the store's parts by then, and a removal holds none. */
static void settle_store(run *state, const char *benchmark, const char *model, sl_backend *backend, int iteration) {
  sl_error settle_err;
  int64_t started = sl_monotonic_ns();
  sl_status settled = sl_backend_settle(backend, &settle_err);
  double seconds = (double)(sl_monotonic_ns() - started) / 1e9;
  json_t *details = benchmark != NULL ? sl_results_details(state->results, benchmark, model, iteration) : NULL;
  if (details != NULL) {
    json_object_set_new(details, "settle_seconds", json_real(seconds));
  }
  if (settled != SL_OK) {
    fprintf(stderr, "warning: %s #%d: %s\n", model, iteration + 1, settle_err.message);
    if (details != NULL) {
      json_object_set_new(details, "settle_warning", json_string(settle_err.message));
    }
  }
}

static sl_status sequential_load(run *state, const char *model, int iteration, sl_error *err) {
  char store[4200];
  snprintf(store, sizeof store, "%s/stores/%s", state->out_dir, model);
  sl_backend *backend = NULL;
  SL_TRY(open_backend(state, model, store, &backend, err));
  sl_gen *gen = NULL;
  sl_status status = sl_gen_open(&state->profile, &gen, err);
  sl_span *spans = calloc(LOAD_BATCH_SPANS, sizeof(sl_span));
  static sl_histogram latency;
  sl_histogram_reset(&latency);
  uint64_t done = 0, traces = 0, bytes = 0, checksum = 0;
  int64_t inside_ns = 0;
  char label[64];
  snprintf(label, sizeof label, "load %s #%d", model, iteration + 1);
  sl_progress progress;
  sl_progress_start(&progress, label, "spans", state->profile.spans, !state->options->quiet);
  char phase[96];
  snprintf(phase, sizeof phase, "load/%s", model);
  sl_monitor_mark_phase(state->monitor, phase);
  phase_start();
  int64_t loop_started_ns = sl_monotonic_ns();
  int64_t generate_ns = 0;
  load_chunk chunk = {0};
  size_t buffer_bytes = 0; /* the most the generated spans held at once (in RSS while writing) */
  if (spans == NULL && status == SL_OK) {
    status = sl_error_set(err, SL_ERR_NOMEM, "bench: out of memory");
  }
  int64_t cpu_ns = 0; /* the process's CPU time while writing (all its threads; the generator's apart) */
  int64_t flush_ns = 0;  /* the final flush's share of inside_ns */
  int64_t faults = 0;    /* minor page faults while writing */
  while (status == SL_OK && !chunk.end && !interrupted) {
    int64_t generate_started = sl_monotonic_ns();
    status = chunk_fill(&chunk, gen, spans, err);
    int64_t generated_ns = sl_monotonic_ns() - generate_started;
    generate_ns += generated_ns;
    sl_progress_exclude(&progress, generated_ns); /* the rate shown is the writes' */
    int64_t cpu_started = process_cpu_ns();
    int64_t faults_started = process_minor_faults();
    size_t held = chunk_bytes(&chunk);
    buffer_bytes = held > buffer_bytes ? held : buffer_bytes;
    /* The expected checksum, bytes and traces, and the oracle's rows, come from the pass before
     * the loads (expect_dataset): the loop only writes and times. */
    size_t at = 0;
    for (size_t b = 0; status == SL_OK && b < chunk.batches && !interrupted; b++) {
      size_t count = chunk.batch_counts[b];
      int64_t started = sl_monotonic_ns();
      status = sl_backend_write(backend, chunk.spans + at, count, err);
      int64_t elapsed = sl_monotonic_ns() - started;
      inside_ns += elapsed;
      sl_histogram_record(&latency, elapsed);
      at += count;
      done += count;
      sl_monitor_add_progress(state->monitor, count);
      sl_progress_update(&progress, done);
    }
    cpu_ns += process_cpu_ns() - cpu_started;
    faults += process_minor_faults() - faults_started;
  }
  if (status == SL_OK && !interrupted) {
    int64_t started = sl_monotonic_ns();
    int64_t cpu_started = process_cpu_ns();
    int64_t faults_started = process_minor_faults();
    status = sl_backend_flush(backend, err);
    flush_ns = sl_monotonic_ns() - started;
    inside_ns += flush_ns;
    cpu_ns += process_cpu_ns() - cpu_started;
    faults += process_minor_faults() - faults_started;
  }
  sl_progress_finish(&progress);
  /* The loop ends here: what follows (memory figures, freeing the generated spans) is bookkeeping
   * between loads, not the harness's share of the writes. */
  int64_t loop_ns = sl_monotonic_ns() - loop_started_ns;
  if (status == SL_OK && !interrupted && wanted(state, SL_LABEL_MEMORY, "memory/load")) {
    /* The generated spans were resident all through the writes: they are the harness's, not the
     * backend's (the raw figure and the buffer are in the details). */
    int64_t peak = peak_rss_bytes();
    int64_t backend_peak = peak - (int64_t)buffer_bytes;
    if (peak > 0) {
      sl_results_record(state->results, "memory/load", "memory", model, "peak_rss_bytes", "bytes", false,
                        iteration, (double)(backend_peak > 0 ? backend_peak : 0), err);
    }
    record_memory_detail(state, "memory/load", model, iteration, NULL);
    json_t *details = sl_results_details(state->results, "memory/load", model, iteration);
    json_object_set_new(details, "process_peak_rss_bytes", json_integer((json_int_t)peak));
    json_object_set_new(details, "generated_spans_buffer_bytes", json_integer((json_int_t)buffer_bytes));
  }
  chunk_free(&chunk);
  checksum = state->expected_checksum;
  bytes = state->expected_raw_bytes;
  traces = state->expected_traces;
  if (status == SL_OK && !interrupted && done != state->expected_spans) {
    status = sl_error_set(err, SL_ERR_INTERNAL, "bench: the generator made %llu spans for %s, %llu before",
                          (unsigned long long)done, model, (unsigned long long)state->expected_spans);
  }
  if (status == SL_OK && !interrupted && wanted(state, SL_LABEL_WRITE, "write/sequential")) {
    status = record_write(state, "write/sequential", model, iteration, done, traces, bytes,
                          (double)inside_ns / 1e9, &latency, err);
    /* The harness's own time: the loop minus the backend and the generator
     * (digests, copies for the oracle, timing, progress). */
    int64_t harness_ns = loop_ns - inside_ns - generate_ns;
    json_t *details = sl_results_details(state->results, "write/sequential", model, iteration);
    json_object_set_new(details, "generate_seconds", json_real((double)generate_ns / 1e9));
    json_object_set_new(details, "final_flush_seconds", json_real((double)flush_ns / 1e9));
    json_object_set_new(details, "cpu_seconds", json_real((double)cpu_ns / 1e9));
    json_object_set_new(details, "minor_page_faults", json_integer((json_int_t)faults));
    json_object_set_new(details, "cpu_cores_busy", json_real(inside_ns > 0 ? (double)cpu_ns / (double)inside_ns : 0));
    json_object_set_new(details, "harness_seconds", json_real((double)harness_ns / 1e9));
    json_object_set_new(details, "harness_ns_per_batch",
                        json_real(latency.count ? (double)harness_ns / (double)latency.count : 0));
    json_object_set_new(details, "harness_overhead_pct_of_measured",
                        json_real(inside_ns > 0 ? 100.0 * (double)harness_ns / (double)inside_ns : 0));
  }
  if (status == SL_OK && !interrupted && (state->options->labels & SL_LABEL_CONSISTENCY)) {
    uint64_t stored = 0, stored_checksum = 0;
    status = sl_backend_count(backend, &stored, &stored_checksum, err);
    if (status == SL_OK) {
      bool matches = stored == done && stored_checksum == checksum;
      json_t *stores = json_object_get(sl_results_section(state->results, "consistency"), "stores");
      if (stores == NULL) {
        stores = json_array();
        json_object_set_new(sl_results_section(state->results, "consistency"), "stores", stores);
      }
      char expected_hex[20], got_hex[20];
      snprintf(expected_hex, sizeof expected_hex, "%016llx", (unsigned long long)checksum);
      snprintf(got_hex, sizeof got_hex, "%016llx", (unsigned long long)stored_checksum);
      json_array_append_new(stores, json_pack("{s:s, s:i, s:I, s:I, s:s, s:s, s:b}", "backend", model,
                                              "iteration", iteration, "spans_expected", (json_int_t)done,
                                              "spans_stored", (json_int_t)stored, "checksum_expected",
                                              expected_hex, "checksum_stored", got_hex, "matches_manifest",
                                              matches));
      if (!matches) {
        state->consistency_failures++;
        fprintf(stderr, "consistency: %s holds %llu spans (checksum %s), the generator made %llu (checksum %s)\n",
                model, (unsigned long long)stored, got_hex, (unsigned long long)done, expected_hex);
      }
    }
  }
  if (status == SL_OK && !interrupted) {
    /* The wait is in write/sequential's details when that is measured, and nowhere else. */
    settle_store(state, wanted(state, SL_LABEL_WRITE, "write/sequential") ? "write/sequential" : NULL, model,
                 backend, iteration);
  }
  if (status == SL_OK && !interrupted && wanted(state, SL_LABEL_STORAGE, "storage/size")) {
    uint64_t stored_bytes = sl_backend_disk_bytes(backend);
    sl_results_record(state->results, "storage/size", "storage", model, "stored_bytes", "bytes", false,
                      iteration, (double)stored_bytes, err);
    sl_results_record(state->results, "storage/size", "storage", model, "raw_bytes", "bytes", false,
                      iteration, (double)bytes, err);
    sl_results_record(state->results, "storage/size", "storage", model, "stored_share_of_raw", "ratio",
                      false, iteration, bytes ? (double)stored_bytes / (double)bytes : 0, err);
    record_breakdown(state, model, backend, "after_load", iteration);
  }
  if (status == SL_OK && !interrupted && (state->options->labels & SL_LABEL_QUERY)) {
    snprintf(phase, sizeof phase, "query/%s", model);
    sl_monitor_mark_phase(state->monitor, phase);
    phase_start();
    memset(&state->query_cache, 0, sizeof state->query_cache);
    status = query_benchmarks(state, model, backend, iteration, err);
    int64_t peak = peak_rss_bytes();
    if (status == SL_OK && peak > 0 && wanted(state, SL_LABEL_MEMORY, "memory/query")) {
      sl_results_record(state->results, "memory/query", "memory", model, "peak_rss_bytes", "bytes", false,
                        iteration, (double)peak, err);
    }
    if (status == SL_OK && wanted(state, SL_LABEL_MEMORY, "memory/query")) {
      record_memory_detail(state, "memory/query", model, iteration, &state->query_cache);
    }
  }
  if (status == SL_OK && !interrupted && wanted(state, SL_LABEL_STORAGE, "storage/final")) {
    /* The final merge: every table's parts into one (SQLite: VACUUM), then the same figures. */
    int64_t started = sl_monotonic_ns();
    if (!state->options->quiet) {
      /* No progress inside a merge: say what the wait is for (minutes at medium scale). */
      fprintf(stderr, "final merge %s #%d: merging every table's parts into one\n", model, iteration + 1);
    }
    sl_status compacted = sl_backend_compact(backend, err);
    double seconds = (double)(sl_monotonic_ns() - started) / 1e9;
    if (!state->options->quiet && compacted == SL_OK) {
      fprintf(stderr, "final merge %s #%d: done in %.1f s\n", model, iteration + 1, seconds);
    }
    if (compacted == SL_ERR_UNSUPPORTED) {
      sl_results_unsupported(state->results, "storage/final", "storage", model, err->message, err);
    } else if (compacted != SL_OK) {
      status = compacted;
    } else {
      settle_store(state, "storage/final", model, backend, iteration);
      uint64_t stored_bytes = sl_backend_disk_bytes(backend);
      sl_results_record(state->results, "storage/final", "storage", model, "stored_bytes", "bytes", false,
                        iteration, (double)stored_bytes, err);
      sl_results_record(state->results, "storage/final", "storage", model, "stored_share_of_raw", "ratio", false,
                        iteration, bytes ? (double)stored_bytes / (double)bytes : 0, err);
      sl_results_record(state->results, "storage/final", "storage", model, "compression_ratio", "ratio", true,
                        iteration, stored_bytes ? (double)bytes / (double)stored_bytes : 0, err);
      sl_results_record(state->results, "storage/final", "storage", model, "final_merge_seconds", "s", false,
                        iteration, seconds, err);
      record_breakdown(state, model, backend, "final", iteration);
    }
  }
  free(spans);
  sl_gen_close(gen);
  sl_backend_close(backend);
  if (!state->options->keep_stores) {
    remove_tree(store);
  }
  return status;
}


/* The first spans of the stream, copied, for the writer and batch sweeps. */
static sl_status prepare_sweep(run *state, sl_error *err) {
  size_t want = state->profile.spans < SWEEP_MAX_SPANS ? (size_t)state->profile.spans : SWEEP_MAX_SPANS;
  state->sweep_spans = calloc(want + LOAD_BATCH_SPANS, sizeof(sl_span));
  state->sweep_arena = sl_arena_new(1 << 20);
  if (state->sweep_spans == NULL || state->sweep_arena == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "bench: out of memory preparing the sweep data");
  }
  sl_gen *gen = NULL;
  SL_TRY(sl_gen_open(&state->profile, &gen, err));
  sl_span batch[LOAD_BATCH_SPANS];
  sl_status status = SL_OK;
  while (state->sweep_count < want) {
    size_t count = 0;
    status = sl_gen_next(gen, batch, LOAD_BATCH_SPANS, &count, err);
    if (status != SL_OK || count == 0) {
      break;
    }
    for (size_t i = 0; i < count && state->sweep_count < want; i++) {
      state->sweep_spans[state->sweep_count++] = copy_span(state->sweep_arena, &batch[i]);
    }
  }
  sl_gen_close(gen);
  return status;
}

typedef struct sweep {
  sl_backend *backend;
  const sl_span *spans;
  size_t count;
  size_t batch_spans;
  atomic_size_t next;
  atomic_size_t written;
  int64_t deadline_ns;
  sl_status status;
  sl_error error;
  pthread_mutex_t mutex;
  sl_histogram latency;
} sweep;

/* Threads carry their role in their name, so the monitor can add their CPU up per role. */
static void name_thread(const char *role) {
  static atomic_int serial;
  char name[16];
  snprintf(name, sizeof name, "%s-%d", role, atomic_fetch_add(&serial, 1) % 1000);
  pthread_setname_np(pthread_self(), name);
}

static void *sweep_writer(void *opaque) {
  sweep *shared = opaque;
  name_thread("writer");
  static _Thread_local sl_histogram local;
  sl_histogram_reset(&local);
  for (;;) {
    size_t first = atomic_fetch_add(&shared->next, shared->batch_spans);
    if (first >= shared->count || interrupted || sl_monotonic_ns() > shared->deadline_ns) {
      break;
    }
    size_t count = shared->count - first < shared->batch_spans ? shared->count - first : shared->batch_spans;
    sl_error err;
    int64_t started = sl_monotonic_ns();
    sl_status status = sl_backend_write(shared->backend, shared->spans + first, count, &err);
    sl_histogram_record(&local, sl_monotonic_ns() - started);
    if (status != SL_OK) {
      pthread_mutex_lock(&shared->mutex);
      if (shared->status == SL_OK) {
        shared->status = status;
        shared->error = err;
      }
      pthread_mutex_unlock(&shared->mutex);
      break;
    }
    atomic_fetch_add(&shared->written, count);
  }
  pthread_mutex_lock(&shared->mutex);
  sl_histogram_merge(&shared->latency, &local);
  pthread_mutex_unlock(&shared->mutex);
  return NULL;
}

/* One configuration of a sweep: `writers` threads, batches of `batch_spans`,
 * into a fresh store, until the sweep data is written or the time cap. */
static sl_status sweep_once(run *state, const char *model, const char *benchmark, int iteration,
                            int writers, size_t batch_spans, sl_error *err) {
  char store[4200];
  snprintf(store, sizeof store, "%s/stores/%s-sweep", state->out_dir, model);
  sl_backend *backend = NULL;
  SL_TRY(open_backend(state, model, store, &backend, err));
  sweep *shared = calloc(1, sizeof *shared);
  pthread_t *threads = calloc((size_t)writers, sizeof(pthread_t));
  if (shared == NULL || threads == NULL) {
    free(shared);
    free(threads);
    sl_backend_close(backend);
    return sl_error_set(err, SL_ERR_NOMEM, "bench: out of memory for %d writers", writers);
  }
  shared->backend = backend;
  shared->spans = state->sweep_spans;
  shared->count = state->sweep_count;
  shared->batch_spans = batch_spans;
  pthread_mutex_init(&shared->mutex, NULL);
  sl_histogram_reset(&shared->latency);
  int64_t started = sl_monotonic_ns();
  shared->deadline_ns = started + (int64_t)(SWEEP_MAX_SECONDS * 1e9);
  int created = 0;
  for (int w = 0; w < writers; w++) {
    if (pthread_create(&threads[w], NULL, sweep_writer, shared) == 0) {
      created++;
    }
  }
  for (int w = 0; w < created; w++) {
    pthread_join(threads[w], NULL);
  }
  double seconds = (double)(sl_monotonic_ns() - started) / 1e9;
  sl_status status = shared->status;
  if (status != SL_OK && err != NULL) {
    *err = shared->error;
  }
  size_t written = atomic_load(&shared->written);
  if (status == SL_OK && !interrupted) {
    uint64_t bytes = 0;
    sl_trace_tally tally = {0};
    for (size_t i = 0; i < written && status == SL_OK; i++) {
      bytes += span_bytes(&state->sweep_spans[i]);
      status = sl_trace_tally_add(&tally, state->sweep_spans[i].trace_id, err);
    }
    sl_trace_tally_finish(&tally); /* traces counted as dataset.traces is */
    if (status == SL_OK) {
      status = record_write(state, benchmark, model, iteration, written, tally.traces, bytes, seconds,
                            &shared->latency, err);
    }
    json_t *details = sl_results_details(state->results, benchmark, model, iteration);
    json_object_set_new(details, "writers", json_integer(writers));
    json_object_set_new(details, "batch_spans", json_integer((json_int_t)batch_spans));
    json_object_set_new(details, "capped_by_time", json_boolean(written < state->sweep_count));
  }
  pthread_mutex_destroy(&shared->mutex);
  free(threads);
  free(shared);
  sl_backend_close(backend);
  remove_tree(store);
  if (!state->options->quiet) {
    fprintf(stderr, "%-24s %-8s %7zu spans in %6.2f s\n", benchmark, model, written, seconds);
  }
  return status;
}

/* ---- query benchmarks ---- */

typedef struct workload_query {
  char name[64];
  char json[2048];
  sl_query_model model;
} workload_query;

/* The seed's query classes with parameters drawn from the data (DESIGN.md "Queries"). */
static size_t build_workload(run *state, workload_query *queries, size_t capacity) {
  const sl_stream_schema *stream = sl_catalog_stream_at(state->catalog, 0);
  char subject[512];
  snprintf(subject, sizeof subject, "\"groups\":[\"%s\"],\"name\":\"%s\"", stream->group, stream->name);
  int64_t start_ms = state->profile.start_ms;
  int64_t middle_ms = start_ms + state->profile.time_range_ms / 2;
  char window_1m[200], window_1h[200], window_1d[200], window_1w[200], begin[40], end[40];
  struct { char *out; int64_t from_ms; int64_t length_ms; } windows[] = {
      {window_1m, middle_ms, 60000}, {window_1h, start_ms, 3600000},
      {window_1d, start_ms, 86400000}, {window_1w, start_ms, 7 * 86400000LL}};
  for (size_t w = 0; w < 4; w++) {
    sl_rfc3339_format_ns(windows[w].from_ms * 1000000, begin, sizeof begin);
    sl_rfc3339_format_ns((windows[w].from_ms + windows[w].length_ms) * 1000000, end, sizeof end);
    snprintf(windows[w].out, 200, "\"timeRange\":{\"begin\":\"%s\",\"end\":\"%s\"}", begin, end);
  }
  const char *projection = "\"projection\":{\"tagFamilies\":[{\"name\":\"primary\",\"tags\":[\"traceId\",\"spanId\"]}]}";
  size_t n = 0;
#define ADD(query_name, ...)                                                                    \
  do {                                                                                          \
    if (n < capacity) {                                                                         \
      snprintf(queries[n].name, sizeof queries[n].name, "%s", query_name);                      \
      snprintf(queries[n].json, sizeof queries[n].json, __VA_ARGS__);                           \
      queries[n].model = SL_QUERY_STREAM;                                                       \
      n++;                                                                                      \
    }                                                                                           \
  } while (0)
  ADD("query/time/1m/newest20", "{%s,%s,\"orderBy\":{\"sort\":\"SORT_DESC\"},\"limit\":20,%s}", subject, window_1m, projection);
  ADD("query/time/1h/newest20", "{%s,%s,\"orderBy\":{\"sort\":\"SORT_DESC\"},\"limit\":20,%s}", subject, window_1h, projection);
  ADD("query/time/1d/newest20", "{%s,%s,\"orderBy\":{\"sort\":\"SORT_DESC\"},\"limit\":20,%s}", subject, window_1d, projection);
  ADD("query/time/1w/newest20", "{%s,%s,\"orderBy\":{\"sort\":\"SORT_DESC\"},\"limit\":20,%s}", subject, window_1w, projection);
  ADD("query/time/1m/limit1000", "{%s,%s,\"limit\":1000,%s}", subject, window_1m, projection);
  static const char *const classes[3] = {"simple", "medium", "complex"};
  for (int c = 0; c < 3; c++) {
    if (state->class_trace_ids[c][0] != '\0') {
      char name[64];
      snprintf(name, sizeof name, "query/trace/%s", classes[c]);
      ADD(name, "{%s,%s,\"criteria\":{\"condition\":{\"name\":\"traceId\",\"op\":\"BINARY_OP_EQ\","
                "\"value\":{\"str\":{\"value\":\"%s\"}}}},\"limit\":1000,%s}",
          subject, window_1w, state->class_trace_ids[c], projection);
    }
  }
  ADD("query/service/service", "{%s,%s,\"criteria\":{\"condition\":{\"name\":\"serviceId\",\"op\":\"BINARY_OP_EQ\","
      "\"value\":{\"str\":{\"value\":\"%s\"}}}},\"orderBy\":{\"sort\":\"SORT_DESC\"},\"limit\":20,%s}",
      subject, window_1h, state->top_service, projection);
  ADD("query/service/instance", "{%s,%s,\"criteria\":{\"condition\":{\"name\":\"serviceInstanceId\",\"op\":\"BINARY_OP_EQ\","
      "\"value\":{\"str\":{\"value\":\"%s\"}}}},\"orderBy\":{\"sort\":\"SORT_DESC\"},\"limit\":20,%s}",
      subject, window_1h, state->top_instance, projection);
  ADD("query/error/all", "{%s,%s,\"criteria\":{\"condition\":{\"name\":\"isError\",\"op\":\"BINARY_OP_EQ\","
      "\"value\":{\"int\":{\"value\":\"1\"}}}},\"orderBy\":{\"sort\":\"SORT_DESC\"},\"limit\":20,%s}",
      subject, window_1h, projection);
  ADD("query/latency/range", "{%s,%s,\"criteria\":{\"le\":{\"op\":\"LOGICAL_OP_AND\",\"left\":{\"condition\":{\"name\":\"latency\","
      "\"op\":\"BINARY_OP_GE\",\"value\":{\"int\":{\"value\":\"200\"}}}},\"right\":{\"condition\":{\"name\":\"latency\","
      "\"op\":\"BINARY_OP_LE\",\"value\":{\"int\":{\"value\":\"2000\"}}}}}},"
      "\"orderBy\":{\"indexRuleName\":\"latency_index\",\"sort\":\"SORT_DESC\"},\"limit\":20,%s}",
      subject, window_1h, projection);
  ADD("query/complex/service+error", "{%s,%s,\"criteria\":{\"le\":{\"op\":\"LOGICAL_OP_AND\",\"left\":{\"condition\":{\"name\":\"serviceId\","
      "\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"%s\"}}}},\"right\":{\"condition\":{\"name\":\"isError\","
      "\"op\":\"BINARY_OP_EQ\",\"value\":{\"int\":{\"value\":\"1\"}}}}}},\"orderBy\":{\"sort\":\"SORT_DESC\"},\"limit\":20,%s}",
      subject, window_1h, state->top_service, projection);
  /* The same questions asked of the trace subject: whole traces (DESIGN.md "Trace model"). */
  const sl_trace_schema *trace = sl_catalog_trace_count(state->catalog) > 0 ? sl_catalog_trace_at(state->catalog, 0) : NULL;
  if (trace != NULL) {
    char trace_subject[512];
    snprintf(trace_subject, sizeof trace_subject, "\"groups\":[\"%s\"],\"name\":\"%s\"", trace->group, trace->name);
    const char *trace_projection = "\"tagProjection\":[\"traceId\",\"spanId\"]";
    size_t first_trace_query = n;
    for (int c = 0; c < 3; c++) {
      if (state->class_trace_ids[c][0] != '\0') {
        char name[64];
        snprintf(name, sizeof name, "query/trace-model/by-id/%s", classes[c]);
        ADD(name, "{%s,%s,\"criteria\":{\"condition\":{\"name\":\"traceId\",\"op\":\"BINARY_OP_EQ\","
                  "\"value\":{\"str\":{\"value\":\"%s\"}}}},%s}",
            trace_subject, window_1w, state->class_trace_ids[c], trace_projection);
      }
    }
    ADD("query/trace-model/service/newest20", "{%s,%s,\"criteria\":{\"condition\":{\"name\":\"serviceId\",\"op\":\"BINARY_OP_EQ\","
        "\"value\":{\"str\":{\"value\":\"%s\"}}}},\"orderBy\":{\"indexRuleName\":\"time_based_index\",\"sort\":\"SORT_DESC\"},"
        "\"limit\":20,%s}", trace_subject, window_1h, state->top_service, trace_projection);
    /* No latency condition: with the seed's rule names BanyanDB keeps it in the sidx row filter,
     * whose rows hold no latency, and answers nothing (docs/QUERIES.md). */
    ADD("query/trace-model/latency/slowest20", "{%s,%s,\"orderBy\":{\"indexRuleName\":\"latency_based_index\",\"sort\":\"SORT_DESC\"},"
        "\"limit\":20,%s}", trace_subject, window_1h, trace_projection);
    for (size_t i = first_trace_query; i < n; i++) {
      queries[i].model = SL_QUERY_TRACE;
    }
  }
#undef ADD
  return n;
}

/* Picks the query parameters from the oracle rows: the most frequent root
 * service and one of its instances, one trace id per complexity class. */
static void pick_parameters(run *state) {
  const sl_stream_schema *stream = sl_catalog_stream_at(state->catalog, 0);
  const sl_tag_spec *trace = sl_stream_find_tag(stream, "traceId");
  const sl_tag_spec *service = sl_stream_find_tag(stream, "serviceId");
  const sl_tag_spec *instance = sl_stream_find_tag(stream, "serviceInstanceId");
  if (trace == NULL || service == NULL || instance == NULL || state->oracle_count == 0) {
    return;
  }
  /* The service of the first span is, by the Zipf draw, usually a top one; take the
   * service with the most spans among the first 10,000 rows. */
  size_t best_count = 0;
  for (size_t i = 0; i < state->oracle_count && i < 10000; i += 97) {
    const sl_bytes *candidate = &state->oracle_rows[i].tags[service->tag_index].as.str;
    size_t count = 0;
    for (size_t j = 0; j < state->oracle_count && j < 10000; j++) {
      const sl_bytes *other = &state->oracle_rows[j].tags[service->tag_index].as.str;
      count += other->size_bytes == candidate->size_bytes && memcmp(other->data, candidate->data, other->size_bytes) == 0;
    }
    if (count > best_count) {
      best_count = count;
      snprintf(state->top_service, sizeof state->top_service, "%.*s", (int)candidate->size_bytes, candidate->data);
      const sl_bytes *inst = &state->oracle_rows[i].tags[instance->tag_index].as.str;
      snprintf(state->top_instance, sizeof state->top_instance, "%.*s", (int)inst->size_bytes, inst->data);
    }
  }
  size_t run_start = 0;
  for (size_t i = 1; i <= state->oracle_count; i++) {
    sl_bytes before = state->oracle_rows[i - 1].tags[trace->tag_index].as.str;
    if (i < state->oracle_count) {
      sl_bytes now = state->oracle_rows[i].tags[trace->tag_index].as.str;
      if (now.size_bytes == before.size_bytes && memcmp(now.data, before.data, now.size_bytes) == 0) {
        continue;
      }
    }
    sl_trace_class trace_class = sl_trace_class_of((uint32_t)(i - run_start));
    if (state->class_trace_ids[trace_class][0] == '\0') {
      snprintf(state->class_trace_ids[trace_class], sizeof state->class_trace_ids[trace_class], "%.*s",
               (int)before.size_bytes, before.data);
    }
    run_start = i;
  }
}

/* The oracle's rows follow the stream schema's flat tag order; a trace subject
 * can use them only when its tags stand in the same order. */
static bool same_tag_order(const run *state, const sl_query *query) {
  if (query->model == SL_QUERY_STREAM) {
    return true;
  }
  const sl_stream_schema *stream = sl_catalog_stream_at(state->catalog, 0);
  for (size_t t = 0; t < query->trace->tag_count; t++) {
    const sl_tag_spec *same = sl_stream_find_tag(stream, query->trace->tags[t].name);
    if (same == NULL || same->tag_index != query->trace->tags[t].tag_index) {
      return false;
    }
  }
  return true;
}

/* The oracle's whole result for a query: every match in order with its sort
 * key, and the request's window, as the tie-aware check takes it (verify.h).
 * Owns its arrays; the labels borrow the oracle rows' bytes. */
typedef struct oracle_expectation {
  sl_query_result result;
  uint64_t *span_keys;
  sl_bytes *span_labels;  /* element ids: "traceId/spanId" */
  sl_bytes *trace_labels; /* trace model: trace ids */
  sl_verify_expected expected;
} oracle_expectation;

static void oracle_expectation_free(oracle_expectation *oracle) {
  sl_query_result_free(&oracle->result);
  free(oracle->span_keys);
  free(oracle->span_labels);
  free(oracle->trace_labels);
  memset(oracle, 0, sizeof *oracle);
}

static sl_status oracle_answer(run *state, const sl_query *query, oracle_expectation *oracle, sl_error *err) {
  const sl_tag_spec *trace = query->model == SL_QUERY_STREAM ? sl_stream_find_tag(query->stream, "traceId")
                                                             : sl_trace_find_tag(query->trace, "traceId");
  const sl_tag_spec *span = query->model == SL_QUERY_STREAM ? sl_stream_find_tag(query->stream, "spanId")
                                                            : sl_trace_find_tag(query->trace, "spanId");
  if (trace == NULL || span == NULL || !same_tag_order(state, query)) {
    return sl_error_set(err, SL_ERR_UNSUPPORTED, "the oracle's rows do not fit this subject's tags");
  }
  sl_query_options options = {.unlimited = true};
  SL_TRY(sl_query_evaluate(query, state->oracle_rows, state->oracle_count, &options, &oracle->result, err));
  const sl_query_result *result = &oracle->result;
  oracle->span_keys = calloc(result->row_count + 1, sizeof(uint64_t));
  oracle->span_labels = calloc(result->row_count + 1, sizeof(sl_bytes));
  oracle->trace_labels = calloc(result->trace_count + 1, sizeof(sl_bytes));
  if (oracle->span_keys == NULL || oracle->span_labels == NULL || oracle->trace_labels == NULL) {
    oracle_expectation_free(oracle);
    return sl_error_set(err, SL_ERR_NOMEM, "oracle: out of memory for %zu matches", result->row_count);
  }
  for (size_t i = 0; i < result->row_count; i++) {
    const sl_query_row *row = &state->oracle_rows[result->rows[i]];
    oracle->span_keys[i] = sl_span_key(row->tags[trace->tag_index].as.str, row->tags[span->tag_index].as.str);
    oracle->span_labels[i] = row->element_id;
  }
  for (size_t t = 0; t < result->trace_count; t++) {
    oracle->trace_labels[t] = state->oracle_rows[result->rows[result->trace_offsets[t]]].tags[trace->tag_index].as.str;
  }
  oracle->expected = (sl_verify_expected){
      .model = query->model,
      .span_keys = oracle->span_keys,
      .span_count = result->row_count,
      .span_sort_keys = result->row_keys,
      .span_labels = oracle->span_labels,
      .trace_count = result->trace_count,
      .trace_offsets = result->trace_offsets,
      .trace_sort_keys = result->trace_keys,
      .trace_labels = oracle->trace_labels,
      .offset = query->offset,
      .limit = query->limit == 0 ? 20 : query->limit,
  };
  return SL_OK;
}

static void record_mismatch(run *state, const char *model, const workload_query *query,
                            const sl_verify_verdict *verdict) {
  state->consistency_failures++;
  char duplicates[64] = "";
  if (verdict->duplicate_spans > 0) {
    snprintf(duplicates, sizeof duplicates, ", %zu duplicate", verdict->duplicate_spans);
  }
  char traces[200] = "";
  if (query->model == SL_QUERY_TRACE) {
    snprintf(traces, sizeof traces, "; traces: %zu answered, %zu in the oracle's window, %zu missing, %zu extra, %zu partial",
             verdict->answer_traces, verdict->window_traces, verdict->missing_traces, verdict->extra_traces,
             verdict->partial_traces);
  }
  fprintf(stderr, "consistency: %s answers %s with %zu spans, the oracle with %zu (%zu missing, %zu extra%s%s): %s\n  %s\n",
          model, query->name, verdict->answer_spans, verdict->window_spans, verdict->missing_spans,
          verdict->extra_spans, duplicates, traces, verdict->difference, query->json);
  json_t *failures = json_object_get(sl_results_section(state->results, "consistency"), "failures");
  if (failures == NULL) {
    failures = json_array();
    json_object_set_new(sl_results_section(state->results, "consistency"), "failures", failures);
  }
  json_t *failure = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s}", "backend", model, "name", query->name,
                              "query", query->json, "expected_spans", (json_int_t)verdict->window_spans, "got_spans",
                              (json_int_t)verdict->answer_spans, "missing", (json_int_t)verdict->missing_spans,
                              "extra", (json_int_t)verdict->extra_spans, "duplicates",
                              (json_int_t)verdict->duplicate_spans, "difference", verdict->difference);
  if (failure != NULL && query->model == SL_QUERY_TRACE) {
    json_object_set_new(failure, "expected_traces", json_integer((json_int_t)verdict->window_traces));
    json_object_set_new(failure, "got_traces", json_integer((json_int_t)verdict->answer_traces));
    json_object_set_new(failure, "missing_traces", json_integer((json_int_t)verdict->missing_traces));
    json_object_set_new(failure, "extra_traces", json_integer((json_int_t)verdict->extra_traces));
    json_object_set_new(failure, "partial_traces", json_integer((json_int_t)verdict->partial_traces));
  }
  json_array_append_new(failures, failure);
}

typedef struct client_run {
  sl_backend *backend;
  const sl_query *query;
  atomic_int remaining;
  atomic_int failures;
} client_run;

static void *client_main(void *opaque) {
  client_run *shared = opaque;
  name_thread("query");
  while (atomic_fetch_sub(&shared->remaining, 1) > 0 && !interrupted) {
    sl_backend_answer answer = {0};
    sl_error err;
    if (sl_backend_query(shared->backend, shared->query, &answer, &err) != SL_OK) {
      atomic_fetch_add(&shared->failures, 1);
    }
    sl_backend_answer_free(&answer);
  }
  return NULL;
}

/* Queries per second with `clients` threads sharing `total` executions. */
static double clients_throughput(sl_backend *backend, const sl_query *query, int clients, int total) {
  client_run shared = {.backend = backend, .query = query};
  atomic_store(&shared.remaining, total);
  pthread_t threads[64];
  int started = 0;
  int64_t begin = sl_monotonic_ns();
  for (int c = 0; c < clients && c < 64; c++) {
    started += pthread_create(&threads[started], NULL, client_main, &shared) == 0;
  }
  for (int c = 0; c < started; c++) {
    pthread_join(threads[c], NULL);
  }
  double seconds = (double)(sl_monotonic_ns() - begin) / 1e9;
  return atomic_load(&shared.failures) == 0 && seconds > 0 ? (double)total / seconds : 0;
}

/* Each workload query on a loaded store: checked against the oracle, then
 * timed warm (repetitions on one client). */
static sl_status query_benchmarks(run *state, const char *model, sl_backend *backend, int iteration, sl_error *err) {
  if (!state->oracle_ready) {
    return SL_OK;
  }
  if (state->top_service[0] == '\0') {
    pick_parameters(state);
  }
  workload_query *queries = calloc(32, sizeof(workload_query));
  if (queries == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "bench: out of memory");
  }
  size_t count = build_workload(state, queries, 32);
  sl_status status = SL_OK;
  int repetitions = state->options->query_repetitions;
  for (size_t q = 0; q < count && status == SL_OK && !interrupted; q++) {
    char warm[96];
    snprintf(warm, sizeof warm, "%s/warm", queries[q].name);
    if (!wanted(state, SL_LABEL_QUERY, warm)) {
      continue;
    }
    sl_query *query = NULL;
    status = sl_query_parse(state->catalog, queries[q].model, queries[q].json, strlen(queries[q].json), &query, err);
    if (status != SL_OK && queries[q].model == SL_QUERY_TRACE) {
      /* A schema set without the seed's trace rules: the trace questions do not apply. */
      sl_results_unsupported(state->results, warm, "query", model, err->message, err);
      status = SL_OK;
      continue;
    }
    if (status != SL_OK) {
      sl_error_prefix(err, "workload query %s", queries[q].name);
      break;
    }
    oracle_expectation oracle = {0};
    sl_backend_answer got = {0};
    status = oracle_answer(state, query, &oracle, err);
    sl_status answer_status = status; /* the oracle's SL_ERR_UNSUPPORTED too: recorded below */
    if (status == SL_OK) {
      answer_status = sl_backend_query(backend, query, &got, err);
    }
    if (answer_status == SL_ERR_UNSUPPORTED) {
      sl_results_unsupported(state->results, warm, "query", model, err->message, err);
      status = SL_OK;
    } else if (answer_status != SL_OK) {
      status = answer_status;
    } else {
      json_t *consistency = sl_results_section(state->results, "consistency");
      json_object_set_new(consistency, "checked",
                          json_integer(json_integer_value(json_object_get(consistency, "checked")) + 1));
      sl_verify_verdict verdict;
      status = sl_verify_answer(&oracle.expected, &got, &verdict, err);
      if (status == SL_OK && !verdict.ok) {
        record_mismatch(state, model, &queries[q], &verdict);
      }
      static sl_histogram latency;
      sl_histogram_reset(&latency);
      int64_t started = sl_monotonic_ns();
      /* Repetitions, but at most QUERY_MAX_SECONDS per benchmark (at least 3 runs). */
      int64_t deadline = started + (int64_t)(QUERY_MAX_SECONDS * 1e9);
      for (int r = 0; r < repetitions && status == SL_OK && !interrupted && (r < 3 || sl_monotonic_ns() < deadline); r++) {
        sl_backend_answer again = {0};
        int64_t one = sl_monotonic_ns();
        status = sl_backend_query(backend, query, &again, err);
        sl_histogram_record(&latency, sl_monotonic_ns() - one);
        sl_monitor_add_progress(state->monitor, 1);
        state->query_cache.cache_hits += again.stats.cache_hits;
        state->query_cache.cache_misses += again.stats.cache_misses;
        sl_backend_answer_free(&again);
      }
      double seconds = (double)(sl_monotonic_ns() - started) / 1e9;
      struct {
        const char *metric;
        double value;
        bool higher;
      } figures[] = {{"latency_p50_ms", (double)sl_histogram_percentile(&latency, 50) / 1e6, false},
                     {"latency_p95_ms", (double)sl_histogram_percentile(&latency, 95) / 1e6, false},
                     {"latency_p99_ms", (double)sl_histogram_percentile(&latency, 99) / 1e6, false},
                     {"latency_p999_ms", (double)sl_histogram_percentile(&latency, 99.9) / 1e6, false},
                     {"latency_max_ms", (double)latency.max / 1e6, false},
                     {"queries_per_second", seconds > 0 ? (double)latency.count / seconds : 0, true},
                     {"result_spans_mean", (double)got.span_count, true}};
      for (size_t f = 0; status == SL_OK && f < sizeof figures / sizeof figures[0]; f++) {
        status = sl_results_record(state->results, warm, "query", model, figures[f].metric,
                                   strstr(figures[f].metric, "_ms") ? "ms" : strstr(figures[f].metric, "second") ? "queries/s" : "spans",
                                   figures[f].higher, iteration, figures[f].value, err);
      }
      json_t *details = sl_results_details(state->results, warm, model, iteration);
      json_object_set_new(details, "query", json_string(queries[q].json));
      json_object_set_new(details, "repetitions", json_integer(repetitions));
      if (got.stats.valid) {
        /* Index utilisation of one run of the query (the engines' own counters). */
        const sl_backend_query_stats *used = &got.stats;
        json_object_set_new(details, "index_utilisation",
                            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
                                      "blocks_read", (json_int_t)used->blocks_read, "blocks_skipped",
                                      (json_int_t)used->blocks_skipped, "postings_read", (json_int_t)used->postings_read,
                                      "rows_examined", (json_int_t)used->rows_examined, "rows_returned",
                                      (json_int_t)used->rows_returned, "bytes_decompressed",
                                      (json_int_t)used->bytes_decompressed, "cache_hits", (json_int_t)used->cache_hits,
                                      "cache_misses", (json_int_t)used->cache_misses, "bloom_checks",
                                      (json_int_t)used->bloom_checks, "bloom_negatives", (json_int_t)used->bloom_negatives,
                                      "sidx_rows_scanned", (json_int_t)used->sidx_rows_scanned,
                                      "rows_examined_per_row_returned",
                                      used->rows_returned > 0 ? (double)used->rows_examined / (double)used->rows_returned : 0.0));
      }
      /* Cold: caches dropped and files advised out of the page cache before each run. */
      char cold[96];
      snprintf(cold, sizeof cold, "%s/cold", queries[q].name);
      if (status == SL_OK && wanted(state, SL_LABEL_QUERY, cold)) {
        sl_histogram_reset(&latency);
        int cold_runs = repetitions < 5 ? repetitions : 5;
        sl_status drop = SL_OK;
        int64_t cold_deadline = sl_monotonic_ns() + (int64_t)(QUERY_MAX_SECONDS * 1e9);
        for (int r = 0; r < cold_runs && status == SL_OK && drop == SL_OK && !interrupted &&
                        (r < 1 || sl_monotonic_ns() < cold_deadline);
             r++) {
          drop = sl_backend_drop_caches(backend, err);
          if (drop != SL_OK) {
            break;
          }
          sl_backend_answer again = {0};
          int64_t one = sl_monotonic_ns();
          status = sl_backend_query(backend, query, &again, err);
          sl_histogram_record(&latency, sl_monotonic_ns() - one);
          sl_backend_answer_free(&again);
        }
        if (drop == SL_ERR_UNSUPPORTED) {
          sl_results_unsupported(state->results, cold, "query", model, err->message, err);
        } else if (drop != SL_OK) {
          status = drop;
        } else {
          const double cold_figures[3] = {(double)sl_histogram_percentile(&latency, 50) / 1e6,
                                          (double)sl_histogram_percentile(&latency, 95) / 1e6,
                                          (double)latency.max / 1e6};
          static const char *const cold_names[3] = {"latency_p50_ms", "latency_p95_ms", "latency_max_ms"};
          for (int f = 0; status == SL_OK && f < 3; f++) {
            status = sl_results_record(state->results, cold, "query", model, cold_names[f], "ms", false, iteration,
                                       cold_figures[f], err);
          }
        }
      }
      for (size_t c = 0; status == SL_OK && c < state->options->query_concurrency_count && !interrupted; c++) {
        int clients = state->options->query_concurrency[c];
        char name[128];
        snprintf(name, sizeof name, "%s/clients=%d", queries[q].name, clients);
        if (!wanted(state, SL_LABEL_QUERY, name)) {
          continue;
        }
        /* As many executions as the warm runs fitted in their time cap. */
        int executions = (int)latency.count > clients ? (int)latency.count : clients;
        double qps = clients_throughput(backend, query, clients, executions);
        status = sl_results_record(state->results, name, "query", model, "queries_per_second", "queries/s", true,
                                   iteration, qps, err);
      }
    }
    oracle_expectation_free(&oracle);
    sl_backend_answer_free(&got);
    sl_query_free(query);
  }
  free(queries);
  return status;
}

static sl_status save(run *state, bool complete, sl_error *err) {
  if (interrupted) {
    json_object_set_new(sl_results_section(state->results, "consistency"), "interrupted", json_true());
  }
  json_object_set_new(sl_results_section(state->results, "consistency"), "mismatches",
                      json_integer(state->consistency_failures));
  return sl_results_save(state->results, complete, err);
}

static void fill_parameters(run *state) {
  json_t *parameters = sl_results_parameters(state->results);
  const sl_bench_options *options = state->options;
  const sl_gen_profile *profile = &state->profile;
  json_t *models = json_array();
  for (size_t i = 0; i < options->model_count; i++) {
    json_array_append_new(models, json_string(options->models[i]));
  }
  json_t *labels = json_array();
  static const char *const label_names[] = {"schema", "write", "query", "storage", "memory", "consistency"};
  for (int i = 0; i < 6; i++) {
    if (options->labels & (1u << i)) {
      json_array_append_new(labels, json_string(label_names[i]));
    }
  }
  json_t *writers = json_array(), *batches = json_array();
  for (size_t i = 0; i < options->writer_count; i++) {
    json_array_append_new(writers, json_integer(options->writers[i]));
  }
  for (size_t i = 0; i < options->batch_size_count; i++) {
    json_array_append_new(batches, json_integer(options->batch_sizes[i]));
  }
  static const char *const sync_names[] = {"none", "batch", "interval", "off"};
  char start[40];
  sl_rfc3339_format_ns(profile->start_ms * 1000000, start, sizeof start);
  json_object_set_new(parameters, "scale", json_string(profile->scale));
  json_object_set_new(parameters, "spans", json_integer((json_int_t)profile->spans));
  json_object_set_new(parameters, "services", json_integer(profile->services));
  json_object_set_new(parameters, "instances", json_integer(profile->instances));
  json_object_set_new(parameters, "time_range_ms", json_integer(profile->time_range_ms));
  json_object_set_new(parameters, "start", json_string(start));
  json_object_set_new(parameters, "seed", json_integer((json_int_t)profile->seed));
  json_object_set_new(parameters, "error_rate", json_real(profile->error_rate));
  json_object_set_new(parameters, "operations", json_integer(profile->operations));
  json_object_set_new(parameters, "payload_bytes", json_integer(profile->payload_bytes));
  json_object_set_new(parameters, "models", models);
  json_object_set_new(parameters, "labels", labels);
  json_object_set_new(parameters, "focus", options->focus ? json_string(options->focus) : json_null());
  json_object_set_new(parameters, "iterations", json_integer(options->iterations));
  json_t *order = json_array();
  for (int i = 0; i < options->iterations; i++) {
    json_t *one = json_array();
    for (size_t m = 0; m < options->model_count; m++) {
      json_array_append_new(one, json_string(options->models[model_at(options, i, m)]));
    }
    json_array_append_new(order, one);
  }
  json_object_set_new(parameters, "model_order", order);
  json_object_set_new(parameters, "writers", writers);
  json_object_set_new(parameters, "batch_sizes", batches);
  json_object_set_new(parameters, "sync_mode", json_string(sync_names[options->sync_mode]));
  json_object_set_new(parameters, "load_batch_spans", json_integer(LOAD_BATCH_SPANS));
  json_object_set_new(parameters, "sweep_batch_spans", json_integer(SWEEP_BATCH_SPANS));
  json_object_set_new(parameters, "sweep_max_spans", json_integer(SWEEP_MAX_SPANS));
  json_object_set_new(parameters, "sweep_max_seconds", json_real(SWEEP_MAX_SECONDS));
  json_object_set_new(parameters, "query_max_seconds", json_real(QUERY_MAX_SECONDS));
  json_object_set_new(parameters, "query_repetitions", json_integer(options->query_repetitions));
}

static void print_summary(run *state, const char *results_path) {
  if (state->options->quiet) {
    return;
  }
  json_t *root = json_load_file(results_path, 0, NULL);
  json_t *benchmarks = json_object_get(root, "benchmarks");
  printf("\n%-44s %-22s %-8s %14s %24s\n", "benchmark", "metric", "backend", "mean", "95% CI");
  size_t i;
  json_t *entry;
  json_array_foreach(benchmarks, i, entry) {
    const char *metric = json_string_value(json_object_get(entry, "metric"));
    if (json_is_true(json_object_get(entry, "unsupported"))) {
      printf("%-44s %-22s %-8s %14s   %s\n", json_string_value(json_object_get(entry, "name")), "-",
             json_string_value(json_object_get(entry, "backend")), "unsupported",
             json_string_value(json_object_get(entry, "reason")));
      continue;
    }
    const char *name = json_string_value(json_object_get(entry, "name"));
    bool warm_query = strstr(name, "/warm") != NULL && metric != NULL && strcmp(metric, "latency_p95_ms") == 0;
    bool cold_query = strstr(name, "/cold") != NULL && metric != NULL && strcmp(metric, "latency_p50_ms") == 0;
    if (!warm_query && !cold_query &&
        (metric == NULL || (strcmp(metric, "spans_per_second") != 0 && strcmp(metric, "batch_latency_p99_ms") != 0 &&
                            strcmp(metric, "stored_share_of_raw") != 0 && strcmp(metric, "load_ms") != 0 &&
                            strcmp(metric, "peak_rss_bytes") != 0))) {
      continue;
    }
    json_t *ci = json_object_get(entry, "ci95");
    char interval[64] = "n < 2";
    if (json_is_array(ci)) {
      snprintf(interval, sizeof interval, "[%.4g, %.4g]", json_number_value(json_array_get(ci, 0)),
               json_number_value(json_array_get(ci, 1)));
    }
    printf("%-44s %-22s %-8s %14.4g %24s\n", name, metric,
           json_string_value(json_object_get(entry, "backend")),
           json_number_value(json_object_get(entry, "mean")), interval);
  }
  json_t *comparisons = json_object_get(root, "comparisons");
  json_array_foreach(comparisons, i, entry) {
    if (strcmp(json_string_value(json_object_get(entry, "metric")), "spans_per_second") == 0) {
      printf("%s: %s vs %s: %s\n", json_string_value(json_object_get(entry, "benchmark")),
             json_string_value(json_object_get(entry, "a")), json_string_value(json_object_get(entry, "b")),
             json_string_value(json_object_get(entry, "verdict")));
    }
  }
  json_decref(root);
}

sl_status sl_bench_run(const sl_bench_options *options, sl_error *err) {
  run state = {.options = options};
  SL_TRY(sl_bench_options_profile(options, &state.profile, err));
  if (options->focus != NULL) {
    state.has_focus = regcomp(&state.focus, options->focus, REG_EXTENDED | REG_NOSUB) == 0;
  }
  if (options->out_dir != NULL) {
    snprintf(state.out_dir, sizeof state.out_dir, "%s", options->out_dir);
  } else {
    char stamp[40];
    sl_rfc3339_format_ns(sl_wall_clock_ns() / 1000000000 * 1000000000, stamp, sizeof stamp);
    for (char *c = stamp; *c != '\0'; c++) {
      *c = *c == ':' ? '-' : *c;
    }
    snprintf(state.out_dir, sizeof state.out_dir, "results/%s", stamp);
  }
  SL_TRY(make_directory(state.out_dir, err));
  char results_path[4200];
  snprintf(results_path, sizeof results_path, "%s/results.json", state.out_dir);
  state.results = sl_results_new(results_path);
  if (state.results == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "bench: out of memory");
  }
  sl_results_capture_environment(state.results);
  fill_parameters(&state);
  json_object_set_new(sl_results_section(state.results, "consistency"), "checked", json_integer(0));
  if (save(&state, false, err) != SL_OK) { /* a valid results.json from the start */
    sl_results_free(state.results);
    return err != NULL ? err->status : SL_ERR_IO;
  }
  if (options->labels & SL_LABEL_MEMORY) {
    sl_monitor_options monitor_options = {.interval_ms = 250, .store_path = state.out_dir};
    sl_error monitor_error;
    if (sl_monitor_start(&monitor_options, &state.monitor, &monitor_error) != SL_OK) {
      fprintf(stderr, "warning: no resource monitor: %s\n", monitor_error.message);
    }
  }
  struct sigaction action = {.sa_handler = on_signal};
  sigaction(SIGINT, &action, NULL);
  sigaction(SIGTERM, &action, NULL);

  const char *schema_dir = options->schema_dir != NULL ? options->schema_dir : SPANLAB_SOURCE_DIR "/schemas/stream-vs-trace";
  sl_status status = SL_OK;
  for (int iteration = 0; status == SL_OK && iteration < options->iterations && !interrupted; iteration++) {
    sl_diag *problems = sl_diag_new();
    sl_catalog_free(state.catalog);
    state.catalog = NULL;
    int64_t started = sl_monotonic_ns();
    status = sl_catalog_load_dir(schema_dir, NULL, &state.catalog, problems);
    double load_ms = (double)(sl_monotonic_ns() - started) / 1e6;
    if (status != SL_OK) {
      sl_error_set(err, status, "schemas in %s: %s", schema_dir,
                   sl_diag_count(problems) ? sl_diag_message(problems, 0) : "cannot load");
    }
    sl_diag_free(problems);
    if (status == SL_OK && wanted(&state, SL_LABEL_SCHEMA, "schema/load")) {
      status = sl_results_record(state.results, "schema/load", "schema", "catalog", "load_ms", "ms", false,
                                 iteration, load_ms, err);
    }
    if (status == SL_OK && iteration == 0 && state.sweep_spans == NULL &&
        (options->labels & SL_LABEL_WRITE)) {
      status = prepare_sweep(&state, err);
    }
    if (status == SL_OK) {
      status = expect_dataset(&state, err);
    }
    if (status == SL_OK && iteration == 0 && !interrupted) {
      warn_about_disk(&state);
    }
    for (size_t m = 0; status == SL_OK && m < options->model_count && !interrupted; m++) {
      /* Iteration i starts with the i-th backend (mod the count), so that over n iterations each
       * backend runs once in each position: what a phase leaves behind (freed memory the VM has
       * taken back, a page cache full of the previous store) falls on every backend alike. */
      const char *model = options->models[model_at(options, iteration, m)];
      if (!backend_exists(model)) {
        static const char *const names[] = {"write/sequential", "query/all", "storage/size"};
        for (size_t n = 0; n < 3; n++) {
          /* sl_bench_options_parse refuses such names; a library caller's options may not */
          sl_results_unsupported(state.results, names[n], "write", model, "no backend of that name in this build",
                                 err);
        }
        continue;
      }
      status = sequential_load(&state, model, iteration, err);
      char sweep_phase[96];
      snprintf(sweep_phase, sizeof sweep_phase, "sweep/%s", model);
      sl_monitor_mark_phase(state.monitor, sweep_phase);
      for (size_t w = 0; status == SL_OK && w < options->writer_count && !interrupted; w++) {
        char name[64];
        snprintf(name, sizeof name, "write/writers=%d", options->writers[w]);
        if (wanted(&state, SL_LABEL_WRITE, name)) {
          status = sweep_once(&state, model, name, iteration, options->writers[w], SWEEP_BATCH_SPANS, err);
        }
      }
      for (size_t b = 0; status == SL_OK && b < options->batch_size_count && !interrupted; b++) {
        char name[64];
        snprintf(name, sizeof name, "write/batch=%d", options->batch_sizes[b]);
        if (wanted(&state, SL_LABEL_WRITE, name)) {
          status = sweep_once(&state, model, name, iteration, 1, (size_t)options->batch_sizes[b], err);
        }
      }
      if (status == SL_OK) {
        status = save(&state, false, err);
      }
    }
  }
  if (state.monitor != NULL) {
    sl_results_set_section(state.results, "resources", sl_monitor_stop(state.monitor));
    state.monitor = NULL;
  }
  sl_error save_error;
  sl_status saved = save(&state, status == SL_OK && !interrupted, &save_error);
  if (status == SL_OK && saved != SL_OK) {
    status = saved;
    if (err != NULL) {
      *err = save_error;
    }
  }
  if (saved == SL_OK) {
    print_summary(&state, results_path);
    fflush(stdout); /* the summary (stdout) before the path (stderr) when both go to one file */
    fprintf(stderr, "results: %s%s\n", results_path, interrupted ? " (interrupted: partial)" : "");
  }
  if (status == SL_OK && state.consistency_failures > 0) {
    status = sl_error_set(err, SL_ERR_INTERNAL,
                          "%d store(s) do not hold what the generator made (see consistency in %s)",
                          state.consistency_failures, results_path);
  }
  if (status == SL_OK && interrupted) {
    status = sl_error_set(err, SL_ERR_INVALID, "interrupted; %s holds the partial results", results_path);
  }
  if (status == SL_OK && state.has_focus && json_array_size(sl_results_section(state.results, "benchmarks")) == 0) {
    /* A typo in --focus measured nothing and said "complete". */
    status = sl_error_set(err, SL_ERR_INVALID,
                          "--focus \"%s\" matched no benchmark of this run (names look like write/sequential, "
                          "write/writers=10, query/time/1h/newest20/warm, storage/size, memory/load: docs/RESULTS.md)",
                          options->focus);
  }
  if (state.has_focus) {
    regfree(&state.focus);
  }
  sl_results_free(state.results);
  sl_catalog_free(state.catalog);
  free(state.sweep_spans);
  sl_arena_free(state.sweep_arena);
  free(state.oracle_rows);
  free(state.oracle_values);
  sl_arena_free(state.oracle_arena);
  return status;
}
