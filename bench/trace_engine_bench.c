/* trace_engine_bench.c: the Trace engine's load, storage, trace-by-id and
 * memory figures on generated spans, in one run (issue #5 targets):
 *
 *   build/release/bench/trace_engine_bench [--spans N[,N2...]] [--payload-bytes B]
 *       [--memory-limit-mb M] [--batch S] [--queries Q] [--dir DIR]
 *
 * For each data size (default 100,000 and 200,000 spans of ~5 KB dataBinary,
 * the small scale's profile), a child process generates the spans in batches
 * of S (default 1,000) and writes them to a fresh store (background flush and
 * merge on, WAL batch mode, memory_bytes_limit M MiB, default 64), and
 * measures:
 *   - zstd level 1 over the same dataBinary bytes, one frame per trace (the
 *     unit a trace block compresses), the reference, and one frame per batch;
 *   - load time: the time inside sl_trace_engine_write plus the final flush,
 *     and its ratio to the reference (target <= 2x);
 *   - stored bytes (file parts after a full merge, WAL apart) / raw bytes
 *     (every tag's bytes, ints as 8; target <= 20%);
 *   - each sidx's bytes per span (target <= 16);
 *   - warm trace-by-id latency over Q sampled trace ids (P50, P99, max;
 *     target P99 <= 1 ms) and an orderBy query (a service's newest 20 traces);
 *   - peak RSS while loading (ru_maxrss at the end of the load, before any
 *     query): it should follow memory_bytes_limit, not the data size.
 * Generation time is not in the load time.  Prints one table per size. */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/timeutil.h"
#include "spanlab/catalog.h"
#include "spanlab/gen.h"
#include "spanlab/query.h"
#include "storage/block.h"
#include "storage/elements.h"
#include "storage/part.h"
#include "storage/tsdb.h"
#include "trace/trace.h"

#define SCHEMAS SPANLAB_SOURCE_DIR "/schemas/stream-vs-trace"

enum { MAX_SIZES = 8, MAX_BATCH = 100000, MAX_QUERIES = 100000, TAGS = 11 };

typedef struct bench_options {
  uint64_t sizes[MAX_SIZES];
  size_t size_count;
  uint32_t payload_bytes;
  uint64_t memory_limit_mb;
  size_t batch;
  size_t queries;
  const char *dir;
} bench_options;

/* What one child measures, sent to the parent through a pipe. */
typedef struct bench_figures {
  uint64_t spans;
  uint64_t traces;
  uint64_t raw_bytes;
  uint64_t data_binary_bytes;
  double zstd_trace_s;
  uint64_t zstd_trace_bytes;
  double zstd_column_s;
  uint64_t zstd_column_bytes;
  double write_s;
  double flush_s;
  double compact_s;
  uint64_t stored_bytes;
  uint64_t wal_bytes;
  uint64_t file_parts;
  uint64_t trace_table_bytes;
  size_t sidx_count;
  char sidx_names[4][64];
  uint64_t sidx_bytes[4];
  uint64_t sidx_rows[4];
  uint64_t rss_before_kb;
  uint64_t rss_load_kb;
  uint64_t rss_anon_kb;  /* now, at the end of the load: heap and anonymous maps */
  uint64_t rss_file_kb;
  uint64_t rss_trimmed_kb; /* anonymous after malloc_trim: live heap */  /* file pages mapped (parts' column files, read by merges and queries) */
  size_t queries;
  double id_p50_us;
  double id_p99_us;
  double id_max_us;
  double id_mean_spans;
  double rule_p50_us;
  double rule_p99_us;
  uint64_t bloom_lookups;
  uint64_t bloom_false_positives;
  uint64_t write_stalls;
  size_t column_count;              /* the trace table's columns, summed over its file parts */
  char column_names[48][48];
  uint64_t column_raw[48];
  uint64_t column_stored[48];
  uint64_t fixed_files[8];          /* by sl_part_file_kind: metadata, meta, primary, bloom */
  int ok;
  char error[SL_ERROR_MESSAGE_BYTES];
} bench_figures;

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double percentile(double *values, size_t count, double p) {
  if (count == 0) {
    return 0;
  }
  qsort(values, count, sizeof *values, compare_doubles);
  size_t index = (size_t)(p * (double)(count - 1) + 0.5);
  return values[index < count ? index : count - 1];
}

static uint64_t rss_kb(void) {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return (uint64_t)usage.ru_maxrss;
}

/* A field of /proc/self/status in kB ("RssAnon", "RssFile"), 0 when absent. */
static uint64_t status_kb(const char *field) {
  FILE *file = fopen("/proc/self/status", "r");
  char line[256];
  uint64_t value = 0;
  size_t length = strlen(field);
  while (file != NULL && fgets(line, sizeof line, file) != NULL) {
    if (strncmp(line, field, length) == 0 && line[length] == ':') {
      value = strtoull(line + length + 1, NULL, 10);
    }
  }
  if (file != NULL) {
    fclose(file);
  }
  return value;
}

static uint64_t span_raw_bytes(const sl_span *span) {
  return 24 + span->service_id.size_bytes + span->service_instance_id.size_bytes + span->trace_id.size_bytes +
         span->span_id.size_bytes + span->parent_span_id.size_bytes + span->operation_name.size_bytes +
         span->component.size_bytes + span->data_binary.size_bytes;
}

static bool same_bytes(sl_bytes a, sl_bytes b) {
  return a.size_bytes == b.size_bytes && memcmp(a.data, b.data, a.size_bytes) == 0;
}

/* zstd-1 over the batch's dataBinary: one frame per run of spans of one trace, and one for the whole batch. */
static sl_status reference_zstd(sl_codec *codec, const sl_span *spans, size_t count, sl_buffer *joined, sl_buffer *out,
                                bench_figures *figures, sl_error *err) {
  for (size_t first = 0; first < count;) {
    size_t end = first + 1;
    while (end < count && same_bytes(spans[end].trace_id, spans[first].trace_id)) {
      end++;
    }
    joined->size = 0;
    for (size_t i = first; i < end; i++) {
      SL_TRY(sl_buffer_append(joined, spans[i].data_binary.data, spans[i].data_binary.size_bytes, err));
    }
    out->size = 0;
    int64_t begin = sl_monotonic_ns();
    SL_TRY(sl_block_encode(codec, joined->data, joined->size, out, NULL, err));
    figures->zstd_trace_s += (double)(sl_monotonic_ns() - begin) / 1e9;
    figures->zstd_trace_bytes += out->size;
    first = end;
  }
  joined->size = 0;
  for (size_t i = 0; i < count; i++) {
    SL_TRY(sl_buffer_append(joined, spans[i].data_binary.data, spans[i].data_binary.size_bytes, err));
  }
  out->size = 0;
  int64_t begin = sl_monotonic_ns();
  SL_TRY(sl_block_encode(codec, joined->data, joined->size, out, NULL, err));
  figures->zstd_column_s += (double)(sl_monotonic_ns() - begin) / 1e9;
  figures->zstd_column_bytes += out->size;
  return SL_OK;
}

typedef struct sampled_ids {
  char (*ids)[64];
  size_t count;
  size_t capacity;
  char service[64];
} sampled_ids;

static sl_status measure_queries(sl_trace_engine *engine, const sl_catalog *catalog, const sampled_ids *sample,
                                 bench_figures *figures, sl_error *err) {
  size_t count = sample->count;
  double *latencies = calloc(count + 1, sizeof *latencies);
  if (latencies == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  uint64_t spans = 0;
  for (int pass = 0; pass < 2; pass++) { /* pass 0 warms the caches */
    for (size_t q = 0; q < count; q++) {
      char request[512];
      snprintf(request, sizeof request,
               "{\"groups\":[\"trace_performance_test\"],\"name\":\"segment_trace\","
               "\"timeRange\":{\"begin\":\"2000-01-01T00:00:00Z\",\"end\":\"2100-01-01T00:00:00Z\"},"
               "\"criteria\":{\"condition\":{\"name\":\"traceId\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"%s\"}}}},"
               "\"tagProjection\":[\"spanId\",\"startTime\",\"dataBinary\"]}",
               sample->ids[q]);
      sl_query *query = NULL;
      SL_TRY(sl_query_parse(catalog, SL_QUERY_TRACE, request, strlen(request), &query, err));
      sl_trace_answer answer;
      int64_t begin = sl_monotonic_ns();
      sl_status status = sl_trace_engine_query(engine, query, NULL, 0, &answer, err);
      int64_t elapsed = sl_monotonic_ns() - begin;
      sl_query_free(query);
      if (status != SL_OK) {
        free(latencies);
        return status;
      }
      if (answer.result.trace_count != 1) {
        sl_trace_answer_free(&answer);
        free(latencies);
        return sl_error_set(err, SL_ERR_INTERNAL, "trace %s: %zu traces found", sample->ids[q], answer.result.trace_count);
      }
      if (pass == 1) {
        latencies[q] = (double)elapsed / 1e3;
        spans += answer.row_count;
      }
      sl_trace_answer_free(&answer);
    }
  }
  figures->queries = count;
  figures->id_mean_spans = count > 0 ? (double)spans / (double)count : 0;
  figures->id_max_us = percentile(latencies, count, 1.0);
  figures->id_p50_us = percentile(latencies, count, 0.5);
  figures->id_p99_us = percentile(latencies, count, 0.99);
  /* The newest 20 traces of the busiest sampled service, 200 times. */
  size_t rule_runs = 200;
  for (size_t q = 0; q < rule_runs + 20; q++) {
    char request[512];
    snprintf(request, sizeof request,
             "{\"groups\":[\"trace_performance_test\"],\"name\":\"segment_trace\","
             "\"timeRange\":{\"begin\":\"2000-01-01T00:00:00Z\",\"end\":\"2100-01-01T00:00:00Z\"},"
             "\"criteria\":{\"condition\":{\"name\":\"serviceId\",\"op\":\"BINARY_OP_EQ\",\"value\":{\"str\":{\"value\":\"%s\"}}}},"
             "\"orderBy\":{\"indexRuleName\":\"time_based_index\",\"sort\":\"SORT_DESC\"},\"tagProjection\":[\"spanId\"]}",
             sample->service);
    sl_query *query = NULL;
    SL_TRY(sl_query_parse(catalog, SL_QUERY_TRACE, request, strlen(request), &query, err));
    sl_trace_answer answer;
    int64_t begin = sl_monotonic_ns();
    sl_status status = sl_trace_engine_query(engine, query, NULL, 0, &answer, err);
    int64_t elapsed = sl_monotonic_ns() - begin;
    sl_query_free(query);
    if (status != SL_OK) {
      free(latencies);
      return status;
    }
    sl_trace_answer_free(&answer);
    if (q >= 20 && q - 20 < count) {
      latencies[q - 20] = (double)elapsed / 1e3;
    }
  }
  size_t kept = rule_runs < count ? rule_runs : count;
  figures->rule_p50_us = percentile(latencies, kept, 0.5);
  figures->rule_p99_us = percentile(latencies, kept, 0.99);
  free(latencies);
  return SL_OK;
}

/* Where the trace table's bytes go: per column and per fixed file. */
static sl_status breakdown(sl_trace_engine *engine, bench_figures *figures, sl_error *err) {
  sl_tsdb_view *view = NULL;
  SL_TRY(sl_tsdb_acquire(sl_trace_engine_store(engine), INT64_MIN, INT64_MAX, 0, &view, err));
  for (size_t t = 0; t < sl_tsdb_view_count(view); t++) {
    const sl_tsdb_table_view *table = sl_tsdb_view_at(view, t);
    for (size_t p = 0; p < table->part_count; p++) {
      const sl_part_layout *layout = sl_part_layout_of(table->parts[p]);
      const sl_column_stats *stats = sl_part_column_stats(table->parts[p]);
      figures->column_count = layout->column_count < 48 ? layout->column_count : 48;
      for (size_t c = 0; c < figures->column_count; c++) {
        snprintf(figures->column_names[c], sizeof figures->column_names[c], "%.40s", layout->columns[c].name);
        figures->column_raw[c] += stats[c].raw_bytes;
        figures->column_stored[c] += stats[c].stored_bytes;
      }
      for (int kind = SL_PART_FILE_METADATA; kind <= SL_PART_FILE_SERIES; kind++) {
        if (kind != SL_PART_FILE_COLUMNS && kind != SL_PART_FILE_INDEX) {
          figures->fixed_files[kind] += sl_part_file_bytes(table->parts[p], (sl_part_file_kind)kind, 0);
        }
      }
    }
  }
  sl_tsdb_release(view);
  return SL_OK;
}

static sl_status run_size(const bench_options *options, uint64_t spans, const char *dir, bench_figures *figures,
                          sl_error *err) {
  sl_catalog *catalog = NULL;
  sl_diag *problems = sl_diag_new();
  sl_status status = sl_catalog_load_dir(SCHEMAS, NULL, &catalog, problems);
  sl_diag_free(problems);
  if (status != SL_OK) {
    return sl_error_set(err, SL_ERR_INVALID, "cannot load %s", SCHEMAS);
  }
  sl_gen_profile profile;
  SL_TRY(sl_gen_profile_init(&profile, "small", err));
  profile.spans = spans;
  profile.payload_bytes = options->payload_bytes;
  sl_gen *gen = NULL;
  SL_TRY(sl_gen_open(&profile, &gen, err));
  sl_engine_options engine_options;
  sl_engine_options_default(&engine_options);
  engine_options.catalog = catalog;
  engine_options.directory = dir;
  engine_options.memory_bytes_limit = options->memory_limit_mb << 20;
  sl_trace_engine *engine = NULL;
  status = sl_trace_engine_open(&engine_options, &engine, err);
  if (status != SL_OK) {
    sl_gen_close(gen);
    return status;
  }
  const sl_trace_schema *schema = sl_trace_engine_schema(engine);
  int field_of_tag[TAGS];
  for (size_t t = 0; t < schema->tag_count && t < TAGS; t++) {
    field_of_tag[t] = -1;
    for (size_t f = 0; f < SL_SPAN_TAG_COUNT; f++) {
      if (strcmp(schema->tags[t].name, sl_span_tag_names[f]) == 0) {
        field_of_tag[t] = (int)f;
      }
    }
  }
  sl_span *batch = calloc(options->batch, sizeof *batch);
  sl_element *elements = calloc(options->batch, sizeof *elements);
  sl_value *values = calloc(options->batch * TAGS, sizeof *values);
  sampled_ids sample = {.capacity = options->queries, .ids = calloc(options->queries + 1, 64)};
  sl_codec *codec = sl_codec_new();
  sl_buffer joined = {0}, compressed = {0};
  if (batch == NULL || elements == NULL || values == NULL || sample.ids == NULL || codec == NULL) {
    status = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  figures->rss_before_kb = rss_kb();
  uint64_t every = spans / 9 / (options->queries > 0 ? options->queries : 1) + 1; /* ~9 spans a trace */
  uint64_t roots = 0;
  while (status == SL_OK) {
    size_t count = 0;
    status = sl_gen_next(gen, batch, options->batch, &count, err);
    if (status != SL_OK || count == 0) {
      break;
    }
    for (size_t i = 0; i < count; i++) {
      sl_value *row = values + i * TAGS;
      for (size_t t = 0; t < schema->tag_count; t++) {
        row[t] = field_of_tag[t] >= 0 ? sl_span_tag_value(&batch[i], (size_t)field_of_tag[t]) : sl_value_null();
      }
      /* As the backend adapter: the span's tags, dataBinary among them; no separate payload. */
      elements[i] = (sl_element){.timestamp_ns = batch[i].start_time_ms * 1000000, .values = row};
      figures->raw_bytes += span_raw_bytes(&batch[i]);
      figures->data_binary_bytes += batch[i].data_binary.size_bytes;
      bool root = batch[i].parent_span_id.size_bytes == 2 && memcmp(batch[i].parent_span_id.data, "-1", 2) == 0;
      if (root && roots++ % every == 0 && sample.count < sample.capacity && batch[i].trace_id.size_bytes < 64) {
        snprintf(sample.ids[sample.count++], 64, "%.*s", (int)batch[i].trace_id.size_bytes, batch[i].trace_id.data);
        if (sample.count == 1) {
          snprintf(sample.service, sizeof sample.service, "%.*s", (int)batch[i].service_id.size_bytes,
                   batch[i].service_id.data);
        }
      }
    }
    int64_t begin = sl_monotonic_ns();
    status = sl_trace_engine_write(engine, elements, count, err);
    figures->write_s += (double)(sl_monotonic_ns() - begin) / 1e9;
    figures->spans += count;
    if (status == SL_OK) {
      status = reference_zstd(codec, batch, count, &joined, &compressed, figures, err);
    }
  }
  figures->traces = roots;
  if (status == SL_OK) {
    int64_t begin = sl_monotonic_ns();
    status = sl_trace_engine_flush(engine, err);
    figures->flush_s = (double)(sl_monotonic_ns() - begin) / 1e9;
    figures->rss_load_kb = rss_kb();
    figures->rss_anon_kb = status_kb("RssAnon");
    malloc_trim(0); /* what of it is free memory the allocator kept */
    figures->rss_trimmed_kb = status_kb("RssAnon");
    figures->rss_file_kb = status_kb("RssFile");
  }
  if (status == SL_OK) {
    int64_t begin = sl_monotonic_ns();
    status = sl_trace_engine_compact(engine, err);
    figures->compact_s = (double)(sl_monotonic_ns() - begin) / 1e9;
  }
  if (status == SL_OK) {
    sl_trace_stats stats;
    sl_trace_engine_stats(engine, &stats);
    figures->stored_bytes = stats.store.file_bytes;
    figures->wal_bytes = stats.store.wal_bytes;
    figures->file_parts = stats.store.file_parts;
    figures->write_stalls = stats.store.write_stalls;
    figures->sidx_count = stats.sidx_count < 4 ? stats.sidx_count : 4;
    uint64_t sidx_total = 0;
    for (size_t r = 0; r < figures->sidx_count; r++) {
      snprintf(figures->sidx_names[r], sizeof figures->sidx_names[r], "%s", stats.sidx_names[r]);
      figures->sidx_bytes[r] = stats.sidx_bytes[r];
      figures->sidx_rows[r] = stats.sidx_rows[r];
      sidx_total += stats.sidx_bytes[r];
    }
    figures->trace_table_bytes = stats.store.file_bytes - sidx_total;
    status = breakdown(engine, figures, err);
  }
  if (status == SL_OK) {
    sl_trace_stats stats;
    status = measure_queries(engine, catalog, &sample, figures, err);
    sl_trace_engine_stats(engine, &stats);
    figures->bloom_lookups = stats.bloom_lookups;
    figures->bloom_false_positives = stats.bloom_false_positives;
  }
  sl_error ignored;
  sl_trace_engine_close(engine, status == SL_OK, status == SL_OK ? err : &ignored);
  sl_buffer_free(&joined);
  sl_buffer_free(&compressed);
  sl_codec_free(codec);
  free(batch);
  free(elements);
  free(values);
  free(sample.ids);
  sl_gen_close(gen);
  sl_catalog_free(catalog);
  return status;
}

static void print_figures(const bench_options *options, const bench_figures *f) {
  double load_s = f->write_s + f->flush_s;
  printf("\n== %llu spans (%llu traces), dataBinary %.1f MB, raw %.1f MB, memory_bytes_limit %llu MiB, batches of %zu\n",
         (unsigned long long)f->spans, (unsigned long long)f->traces, (double)f->data_binary_bytes / 1e6,
         (double)f->raw_bytes / 1e6, (unsigned long long)options->memory_limit_mb, options->batch);
  printf("reference: zstd-1 per trace %.3f s (%.0f MB/s), %.1f%% of dataBinary; one frame per batch %.3f s, %.1f%%\n",
         f->zstd_trace_s, (double)f->data_binary_bytes / 1e6 / f->zstd_trace_s,
         100.0 * (double)f->zstd_trace_bytes / (double)f->data_binary_bytes, f->zstd_column_s,
         100.0 * (double)f->zstd_column_bytes / (double)f->data_binary_bytes);
  printf("load:      %.3f s (writes %.3f s + final flush %.3f s), %.0f spans/s, %.2fx the per-trace reference "
         "(target <= 2x; %.2fx the per-batch one); %llu write stalls; compact %.3f s\n",
         load_s, f->write_s, f->flush_s, (double)f->spans / load_s, load_s / f->zstd_trace_s, load_s / f->zstd_column_s,
         (unsigned long long)f->write_stalls, f->compact_s);
  printf("storage:   %.1f MB in %llu file parts = %.1f%% of raw (target <= 20%%); trace tables %.1f MB; WAL %.1f MB apart\n",
         (double)f->stored_bytes / 1e6, (unsigned long long)f->file_parts,
         100.0 * (double)f->stored_bytes / (double)f->raw_bytes, (double)f->trace_table_bytes / 1e6,
         (double)f->wal_bytes / 1e6);
  printf("trace table by column (raw -> stored):");
  for (size_t c = 0; c < f->column_count; c++) {
    printf("%s %s %.1f -> %.1f MB", c > 0 ? ";" : "", f->column_names[c], (double)f->column_raw[c] / 1e6,
           (double)f->column_stored[c] / 1e6);
  }
  printf("; metadata.bin %.2f, meta.bin %.2f, primary.bin %.2f, traceID.filter %.2f MB\n",
         (double)f->fixed_files[SL_PART_FILE_METADATA] / 1e6, (double)f->fixed_files[SL_PART_FILE_META] / 1e6,
         (double)f->fixed_files[SL_PART_FILE_PRIMARY] / 1e6, (double)f->fixed_files[SL_PART_FILE_BLOOM] / 1e6);
  for (size_t r = 0; r < f->sidx_count; r++) {
    printf("sidx %-20s %8.1f KB, %llu rows, %.2f bytes per span (target <= 16)\n", f->sidx_names[r],
           (double)f->sidx_bytes[r] / 1e3, (unsigned long long)f->sidx_rows[r],
           (double)f->sidx_bytes[r] / (double)f->spans);
  }
  printf("by id:     %zu warm queries, %.1f spans each: P50 %.0f us, P99 %.0f us (target <= 1,000), max %.0f us; "
         "bloom lookups %llu, false positives %llu\n",
         f->queries, f->id_mean_spans, f->id_p50_us, f->id_p99_us, f->id_max_us, (unsigned long long)f->bloom_lookups,
         (unsigned long long)f->bloom_false_positives);
  printf("by rule:   a service's newest 20 traces (time_based_index DESC): P50 %.0f us, P99 %.0f us\n", f->rule_p50_us,
         f->rule_p99_us);
  printf("memory:    peak RSS %.1f MB at the end of the load (%.1f MB before it); then %.1f MB anonymous (%.1f MB after "
         "malloc_trim: the rest was free heap kept by the allocator), %.1f MB of mapped part files\n",
         (double)f->rss_load_kb / 1e3, (double)f->rss_before_kb / 1e3, (double)f->rss_anon_kb / 1e3,
         (double)f->rss_trimmed_kb / 1e3, (double)f->rss_file_kb / 1e3);
}

static void usage(const char *program) {
  fprintf(stderr,
          "usage: %s [--spans N[,N...]] [--payload-bytes B] [--memory-limit-mb M] [--batch S] [--queries Q] "
          "[--dir DIR]\n",
          program);
}

int main(int argc, char **argv) {
  bench_options options = {.sizes = {100000, 200000}, .size_count = 2, .payload_bytes = 5000, .memory_limit_mb = 64,
                           .batch = 1000, .queries = 2000, .dir = "/tmp/spanlab-trace-bench"};
  static const struct option longs[] = {{"spans", required_argument, NULL, 's'},
                                        {"payload-bytes", required_argument, NULL, 'p'},
                                        {"memory-limit-mb", required_argument, NULL, 'm'},
                                        {"batch", required_argument, NULL, 'b'},
                                        {"queries", required_argument, NULL, 'q'},
                                        {"dir", required_argument, NULL, 'd'},
                                        {"help", no_argument, NULL, 'h'},
                                        {NULL, 0, NULL, 0}};
  int option;
  while ((option = getopt_long(argc, argv, "", longs, NULL)) != -1) {
    switch (option) {
      case 's': {
        options.size_count = 0;
        for (char *token = strtok(optarg, ","); token != NULL && options.size_count < MAX_SIZES; token = strtok(NULL, ",")) {
          options.sizes[options.size_count++] = strtoull(token, NULL, 10);
        }
        break;
      }
      case 'p': options.payload_bytes = (uint32_t)strtoul(optarg, NULL, 10); break;
      case 'm': options.memory_limit_mb = strtoull(optarg, NULL, 10); break;
      case 'b': options.batch = (size_t)strtoull(optarg, NULL, 10); break;
      case 'q': options.queries = (size_t)strtoull(optarg, NULL, 10); break;
      case 'd': options.dir = optarg; break;
      default: usage(argv[0]); return option == 'h' ? 0 : 2;
    }
  }
  if (options.batch == 0 || options.batch > MAX_BATCH || options.queries == 0 || options.queries > MAX_QUERIES ||
      options.memory_limit_mb == 0 || options.size_count == 0) {
    usage(argv[0]);
    return 2;
  }
  int failures = 0;
  for (size_t s = 0; s < options.size_count; s++) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%llu", options.dir, (unsigned long long)options.sizes[s]);
    char command[8400];
    snprintf(command, sizeof command, "rm -rf '%s' && mkdir -p '%s'", dir, options.dir);
    if (system(command) != 0) {
      fprintf(stderr, "cannot prepare %s\n", dir);
      return 1;
    }
    int fds[2];
    if (pipe(fds) != 0) {
      return 1;
    }
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) { /* one process per size: its peak RSS is its own */
      close(fds[0]);
      bench_figures figures = {0};
      sl_error err;
      sl_error_clear(&err);
      figures.ok = run_size(&options, options.sizes[s], dir, &figures, &err) == SL_OK;
      snprintf(figures.error, sizeof figures.error, "%s", err.message);
      ssize_t written = write(fds[1], &figures, sizeof figures);
      _exit(written == (ssize_t)sizeof figures ? 0 : 1);
    }
    close(fds[1]);
    bench_figures figures = {0};
    size_t got = 0;
    while (got < sizeof figures) {
      ssize_t n = read(fds[0], (char *)&figures + got, sizeof figures - got);
      if (n <= 0) {
        break;
      }
      got += (size_t)n;
    }
    close(fds[0]);
    int wait_status = 0;
    waitpid(child, &wait_status, 0);
    if (got != sizeof figures || !figures.ok) {
      fprintf(stderr, "%llu spans: %s\n", (unsigned long long)options.sizes[s],
              got == sizeof figures ? figures.error : "the child died");
      failures++;
      continue;
    }
    print_figures(&options, &figures);
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    (void)system(command);
  }
  return failures > 0;
}
