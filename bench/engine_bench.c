/* engine_bench.c: issue #4/#5 targets of an embedded engine, measured in one run.
 *
 *   build/release/bench/engine_bench [--model stream|trace] [--spans N] [--payload-bytes B]
 *                                    [--memory-mb M] [--sync none|batch|interval] [--dir DIR]
 *
 * Generates N spans (the small profile, default 100,000 with ~5 KB dataBinary), then:
 *   reference  zstd level 1 over the same dataBinary bytes, in columns of 1,000 spans
 *              (the shape the engines compress), timed alone;
 *   load       the engine's write time for the same spans in batches of 1,000 plus the final
 *              flush (generation excluded), and the ratio load / reference (target <= 2);
 *   storage    bytes of the parts after a full compaction (WAL, snapshots and store.json
 *              apart) against the raw span bytes (target <= 20%);
 *   queries    warm: trace-id lookups of 1,000 random traces (P99 target: stream 2 ms, trace
 *              1 ms) and, for the stream model, newest-20 in a one-minute window (P95 <= 2 ms);
 *   memory     peak RSS while loading, set by --memory-mb (default 64), not by N.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "common/histogram.h"
#include "common/timeutil.h"
#include "spanlab/backend.h"
#include "spanlab/catalog.h"
#include "spanlab/gen.h"
#include "spanlab/query.h"

enum { BATCH = 1000, LOOKUPS = 1000 };

static uint64_t tree_bytes(const char *path, bool skip_wal) {
  DIR *dir = opendir(path);
  uint64_t total = 0;
  if (dir == NULL) {
    return 0;
  }
  for (struct dirent *entry = readdir(dir); entry != NULL; entry = readdir(dir)) {
    if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0 || (skip_wal && strcmp(entry->d_name, "wal") == 0)) {
      continue;
    }
    char child[4096];
    snprintf(child, sizeof child, "%s/%s", path, entry->d_name);
    struct stat info;
    if (lstat(child, &info) != 0) {
      continue;
    }
    if (S_ISDIR(info.st_mode)) {
      total += tree_bytes(child, false);
    } else if (strstr(entry->d_name, ".snp") == NULL && strcmp(entry->d_name, "store.json") != 0) {
      total += (uint64_t)info.st_size;
    }
  }
  closedir(dir);
  return total;
}

static uint64_t peak_rss_bytes(void) {
  FILE *status = fopen("/proc/self/status", "r");
  char line[256];
  uint64_t kb = 0;
  while (status != NULL && fgets(line, sizeof line, status) != NULL) {
    if (strncmp(line, "VmHWM:", 6) == 0) {
      kb = strtoull(line + 6, NULL, 10);
    }
  }
  if (status != NULL) {
    fclose(status);
  }
  return kb * 1024;
}

static uint64_t span_raw_bytes(const sl_span *span) {
  return span->service_id.size_bytes + span->service_instance_id.size_bytes + span->trace_id.size_bytes + 24 +
         span->span_id.size_bytes + span->parent_span_id.size_bytes + span->operation_name.size_bytes +
         span->component.size_bytes + span->data_binary.size_bytes;
}

/* Parses json and runs it once, its latency into latency (NULL: untimed warm-up) and its span
 * count into *spans (may be NULL); false, with the problem printed, when it fails. */
static bool timed_query(const sl_catalog *catalog, sl_query_model model, sl_backend *backend, const char *json,
                        sl_histogram *latency, size_t *spans) {
  sl_error err;
  sl_query *query = NULL;
  if (sl_query_parse(catalog, model, json, strlen(json), &query, &err) != SL_OK) {
    fprintf(stderr, "engine_bench: %s\n", err.message);
    return false;
  }
  sl_backend_answer answer;
  int64_t began = sl_monotonic_ns();
  sl_status status = sl_backend_query(backend, query, &answer, &err);
  int64_t took = sl_monotonic_ns() - began;
  sl_query_free(query);
  if (status != SL_OK) {
    fprintf(stderr, "engine_bench: query: %s\n", err.message);
    return false;
  }
  if (latency != NULL) {
    sl_histogram_record(latency, took);
  }
  if (spans != NULL) {
    *spans = answer.span_count;
  }
  sl_backend_answer_free(&answer);
  return true;
}

int main(int argc, char **argv) {
  const char *model = "stream", *dir = "/tmp/spanlab-engine-bench";
  uint64_t spans_wanted = 100000, memory_mb = 64;
  uint32_t payload = 5000;
  sl_sync_mode sync = SL_SYNC_BATCH;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--model") == 0) model = argv[i + 1];
    else if (strcmp(argv[i], "--spans") == 0) spans_wanted = strtoull(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--payload-bytes") == 0) payload = (uint32_t)strtoul(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--memory-mb") == 0) memory_mb = strtoull(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
    else if (strcmp(argv[i], "--sync") == 0) sync = strcmp(argv[i + 1], "none") == 0 ? SL_SYNC_NONE
                                                  : strcmp(argv[i + 1], "interval") == 0 ? SL_SYNC_INTERVAL : SL_SYNC_BATCH;
    else {
      fprintf(stderr, "engine_bench: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  bool stream = strcmp(model, "stream") == 0;
  bool reuse = getenv("ENGINE_BENCH_REUSE") != NULL; /* query an existing store: for profiling */
  sl_error err;
  sl_diag *problems = sl_diag_new();
  sl_catalog *catalog = NULL;
  if (sl_catalog_load_dir(SPANLAB_SOURCE_DIR "/schemas/stream-vs-trace", NULL, &catalog, problems) != SL_OK) {
    fprintf(stderr, "engine_bench: the shipped schemas do not load\n");
    return 1;
  }
  sl_diag_free(problems);
  sl_gen_profile profile;
  sl_gen_profile_init(&profile, "small", NULL);
  profile.spans = spans_wanted;
  profile.payload_bytes = payload;
  char command[4200];
  snprintf(command, sizeof command, "rm -rf '%s'", dir);
  if (!reuse && system(command) != 0) {
    return 1;
  }
  sl_backend_options options = {.catalog = catalog, .directory = dir, .shape = stream ? SL_SHAPE_STREAM : SL_SHAPE_TRACE,
                                .sync_mode = sync, .sync_interval_ms = 100, .memory_bytes_limit = memory_mb << 20};
  sl_backend *backend = NULL;
  if (sl_backend_open(model, &options, &backend, &err) != SL_OK) {
    fprintf(stderr, "engine_bench: %s\n", err.message);
    return 1;
  }
  sl_gen *gen = NULL;
  if (sl_gen_open(&profile, &gen, &err) != SL_OK) {
    fprintf(stderr, "engine_bench: %s\n", err.message);
    return 1;
  }
  ZSTD_CCtx *zstd = ZSTD_createCCtx();
  static sl_span batch[BATCH];
  uint8_t *column = NULL, *compressed = NULL;
  size_t column_capacity = 0;
  uint64_t spans = 0, raw = 0, data_binary = 0, compressed_bytes = 0;
  int64_t zstd_ns = 0, load_ns = 0;
  char (*trace_ids)[128] = calloc(LOOKUPS, sizeof *trace_ids);
  int64_t *trace_starts = calloc(LOOKUPS, sizeof *trace_starts);
  uint64_t traces_seen = 0;
  int64_t newest_ms = 0;
  for (;;) {
    size_t got = 0;
    if (sl_gen_next(gen, batch, BATCH, &got, &err) != SL_OK) {
      fprintf(stderr, "engine_bench: %s\n", err.message);
      return 1;
    }
    if (got == 0) {
      break;
    }
    size_t bytes = 0;
    for (size_t i = 0; i < got; i++) {
      bytes += batch[i].data_binary.size_bytes;
      raw += span_raw_bytes(&batch[i]);
      newest_ms = batch[i].start_time_ms > newest_ms ? batch[i].start_time_ms : newest_ms;
      if (batch[i].parent_span_id.size_bytes == 2 && memcmp(batch[i].parent_span_id.data, "-1", 2) == 0) {
        /* reservoir of root spans' trace ids for the lookups */
        uint64_t slot = traces_seen < LOOKUPS ? traces_seen : (traces_seen * 2654435761u) % (traces_seen + 1);
        if (slot < LOOKUPS) {
          snprintf(trace_ids[slot], sizeof trace_ids[slot], "%.*s", (int)batch[i].trace_id.size_bytes, batch[i].trace_id.data);
          trace_starts[slot] = batch[i].start_time_ms;
        }
        traces_seen++;
      }
    }
    if (bytes > column_capacity) {
      column_capacity = bytes;
      column = realloc(column, column_capacity);
      compressed = realloc(compressed, ZSTD_compressBound(column_capacity));
    }
    size_t at = 0;
    for (size_t i = 0; i < got; i++) {
      memcpy(column + at, batch[i].data_binary.data, batch[i].data_binary.size_bytes);
      at += batch[i].data_binary.size_bytes;
    }
    int64_t began = sl_monotonic_ns();
    size_t out = ZSTD_compressCCtx(zstd, compressed, ZSTD_compressBound(bytes), column, bytes, 1);
    zstd_ns += sl_monotonic_ns() - began;
    compressed_bytes += ZSTD_isError(out) ? 0 : out;
    data_binary += bytes;
    began = sl_monotonic_ns();
    if (!reuse && sl_backend_write(backend, batch, got, &err) != SL_OK) {
      fprintf(stderr, "engine_bench: write: %s\n", err.message);
      return 1;
    }
    load_ns += sl_monotonic_ns() - began;
    spans += got;
  }
  int64_t began = sl_monotonic_ns();
  if (sl_backend_flush(backend, &err) != SL_OK) {
    fprintf(stderr, "engine_bench: flush: %s\n", err.message);
    return 1;
  }
  int64_t flush_ns = sl_monotonic_ns() - began;
  load_ns += flush_ns;
  uint64_t peak_load = peak_rss_bytes();
  double zstd_s = (double)zstd_ns / 1e9, load_s = (double)load_ns / 1e9;
  printf("%s engine, %llu spans (%.0f MB raw, %.0f MB dataBinary), memory limit %llu MB, sync %s\n", model,
         (unsigned long long)spans, (double)raw / 1e6, (double)data_binary / 1e6, (unsigned long long)memory_mb,
         sync == SL_SYNC_NONE ? "none" : sync == SL_SYNC_INTERVAL ? "interval" : "batch");
  printf("reference: zstd-1 over the dataBinary in 1000-span columns: %.3f s (%.0f MB/s, %.1f%% of dataBinary)\n", zstd_s,
         (double)data_binary / 1e6 / zstd_s, 100.0 * (double)compressed_bytes / (double)data_binary);
  printf("load: %.3f s = %.2fx the reference (target <= 2x); %.0f spans/s (of which the final flush %.3f s)\n", load_s,
         load_s / zstd_s, (double)spans / load_s, (double)flush_ns / 1e9);
  printf("peak RSS while loading: %.1f MB\n", (double)peak_load / 1e6);
  char *breakdown = NULL;
  if (sl_backend_storage_json(backend, &breakdown, &err) == SL_OK && breakdown != NULL) {
    const char *stalls = strstr(breakdown, "\"write_stalls\"");
    if (stalls != NULL) {
      printf("%.*s\n", (int)(strchr(stalls, ',') - stalls), stalls);
    }
    const char *at = strstr(breakdown, "\"write_seconds\"");
    if (at != NULL) {
      printf("where write time went: %.*s\n", (int)(strchr(at, '}') - at + 1), at);
    }
    free(breakdown);
  }
  uint64_t stored_load = tree_bytes(dir, true);
  printf("stored after load (parts, WAL apart): %.1f MB = %.1f%% of raw; WAL %.1f MB\n", (double)stored_load / 1e6,
         100.0 * (double)stored_load / (double)raw, (double)(tree_bytes(dir, false) - stored_load) / 1e6);
  began = sl_monotonic_ns();
  if (sl_backend_compact(backend, &err) != SL_OK) {
    fprintf(stderr, "engine_bench: compact: %s\n", err.message);
    return 1;
  }
  uint64_t stored = tree_bytes(dir, true);
  printf("stored after the final merge (%.2f s): %.1f MB = %.1f%% of raw (target <= 20%%); WAL %.1f MB\n",
         (double)(sl_monotonic_ns() - began) / 1e9, (double)stored / 1e6, 100.0 * (double)stored / (double)raw,
         (double)(tree_bytes(dir, false) - stored) / 1e6);
  /* Queries, warm (each once before timing). */
  const sl_stream_schema *stream_schema = sl_catalog_stream_at(catalog, 0);
  const sl_trace_schema *trace_schema = sl_catalog_trace_at(catalog, 0);
  sl_histogram lookups;
  sl_histogram_reset(&lookups);
  size_t lookup_count = traces_seen < LOOKUPS ? (size_t)traces_seen : LOOKUPS;
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < lookup_count; i++) {
      char json[1024];
      char begin[40], end[40];
      sl_rfc3339_format_ns((trace_starts[i] - 3600000) * 1000000, begin, sizeof begin);
      sl_rfc3339_format_ns((trace_starts[i] + 3600000) * 1000000, end, sizeof end);
      if (stream) {
        snprintf(json, sizeof json,
                 "{\"groups\":[\"%s\"],\"name\":\"%s\",\"timeRange\":{\"begin\":\"%s\",\"end\":\"%s\"},"
                 "\"criteria\":{\"condition\":{\"name\":\"traceId\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"%s\"}}}},"
                 "\"limit\":1000,\"projection\":{\"tagFamilies\":[{\"name\":\"primary\",\"tags\":[\"traceId\",\"spanId\"]}]}}",
                 stream_schema->group, stream_schema->name, begin, end, trace_ids[i]);
      } else {
        snprintf(json, sizeof json,
                 "{\"groups\":[\"%s\"],\"name\":\"%s\",\"timeRange\":{\"begin\":\"%s\",\"end\":\"%s\"},"
                 "\"criteria\":{\"condition\":{\"name\":\"traceId\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"%s\"}}}},"
                 "\"tagProjection\":[\"traceId\",\"spanId\"]}",
                 trace_schema->group, trace_schema->name, begin, end, trace_ids[i]);
      }
      size_t found = 0;
      if (!timed_query(catalog, stream ? SL_QUERY_STREAM : SL_QUERY_TRACE, backend, json, pass == 1 ? &lookups : NULL,
                       &found)) {
        return 1;
      }
      if (found == 0) {
        fprintf(stderr, "engine_bench: trace %s came back empty\n", trace_ids[i]);
        return 1;
      }
    }
  }
  printf("warm trace-id lookup over %zu traces: P50 %.3f ms, P99 %.3f ms, max %.3f ms (target P99: %s)\n", lookup_count,
         (double)sl_histogram_percentile(&lookups, 50) / 1e6, (double)sl_histogram_percentile(&lookups, 99) / 1e6,
         (double)sl_histogram_percentile(&lookups, 100) / 1e6, stream ? "<= 2 ms" : "<= 1 ms");
  if (stream) {
    sl_histogram windows;
    sl_histogram_reset(&windows);
    int passes = getenv("ENGINE_BENCH_WINDOW_PASSES") != NULL ? atoi(getenv("ENGINE_BENCH_WINDOW_PASSES")) : 2;
    for (int pass = 0; pass < passes; pass++) {
      for (int i = 0; i < 200; i++) {
        int64_t end_ms = newest_ms - (int64_t)i * 15000;
        char json[1024], begin[40], end[40];
        sl_rfc3339_format_ns((end_ms - 60000) * 1000000, begin, sizeof begin);
        sl_rfc3339_format_ns(end_ms * 1000000, end, sizeof end);
        snprintf(json, sizeof json,
                 "{\"groups\":[\"%s\"],\"name\":\"%s\",\"timeRange\":{\"begin\":\"%s\",\"end\":\"%s\"},"
                 "\"orderBy\":{\"sort\":\"SORT_DESC\"},\"limit\":20,"
                 "\"projection\":{\"tagFamilies\":[{\"name\":\"primary\",\"tags\":[\"traceId\",\"spanId\"]}]}}",
                 stream_schema->group, stream_schema->name, begin, end);
        if (!timed_query(catalog, SL_QUERY_STREAM, backend, json, pass >= 1 ? &windows : NULL, NULL)) {
          return 1;
        }
      }
    }
    printf("warm one-minute window, newest 20: P50 %.3f ms, P95 %.3f ms, P99 %.3f ms (target P95 <= 2 ms)\n",
           (double)sl_histogram_percentile(&windows, 50) / 1e6, (double)sl_histogram_percentile(&windows, 95) / 1e6,
           (double)sl_histogram_percentile(&windows, 99) / 1e6);
  }
  sl_backend_close(backend);
  free(trace_ids);
  free(trace_starts);
  free(column);
  free(compressed);
  ZSTD_freeCCtx(zstd);
  sl_gen_close(gen);
  sl_catalog_free(catalog);
  return 0;
}
