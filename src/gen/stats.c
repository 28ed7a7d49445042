/* stats.c: `spanlab generate --stats FILE`: does the data match the seed? */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/timeutil.h"
#include "spanlab/gen.h"
#include "spanlab/spanfile.h"

/* A string -> count table with open addressing; owns its key copies. */
typedef struct counter {
  char **keys;
  uint64_t *counts;
  size_t capacity;
  size_t size;
} counter;

static bool counter_add(counter *table, const sl_bytes *key) {
  if ((table->size + 1) * 2 > table->capacity) {
    size_t capacity = table->capacity == 0 ? 1024 : table->capacity * 2;
    char **keys = calloc(capacity, sizeof(char *));
    uint64_t *counts = calloc(capacity, sizeof(uint64_t));
    if (keys == NULL || counts == NULL) {
      free(keys);
      free(counts);
      return false;
    }
    for (size_t i = 0; i < table->capacity; i++) {
      if (table->keys[i] != NULL) {
        size_t slot = sl_hash64(table->keys[i], strlen(table->keys[i]), 0) & (capacity - 1);
        while (keys[slot] != NULL) {
          slot = (slot + 1) & (capacity - 1);
        }
        keys[slot] = table->keys[i];
        counts[slot] = table->counts[i];
      }
    }
    free(table->keys);
    free(table->counts);
    table->keys = keys;
    table->counts = counts;
    table->capacity = capacity;
  }
  size_t slot = sl_hash64(key->data, key->size_bytes, 0) & (table->capacity - 1);
  while (table->keys[slot] != NULL) {
    if (strlen(table->keys[slot]) == key->size_bytes &&
        memcmp(table->keys[slot], key->data, key->size_bytes) == 0) {
      table->counts[slot]++;
      return true;
    }
    slot = (slot + 1) & (table->capacity - 1);
  }
  table->keys[slot] = strndup(key->data, key->size_bytes);
  if (table->keys[slot] == NULL) {
    return false;
  }
  table->counts[slot] = 1;
  table->size++;
  return true;
}

static void counter_free(counter *table) {
  for (size_t i = 0; i < table->capacity; i++) {
    free(table->keys[i]);
  }
  free(table->keys);
  free(table->counts);
}

/* Counts sorted descending into a new array of table->size entries. */
static int compare_descending(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a;
  uint64_t y = *(const uint64_t *)b;
  return x < y ? 1 : x > y ? -1 : 0;
}

static uint64_t *sorted_counts(const counter *table) {
  uint64_t *counts = malloc((table->size + 1) * sizeof(uint64_t));
  if (counts == NULL) {
    return NULL;
  }
  size_t n = 0;
  for (size_t i = 0; i < table->capacity; i++) {
    if (table->keys[i] != NULL) {
      counts[n++] = table->counts[i];
    }
  }
  qsort(counts, n, sizeof(uint64_t), compare_descending);
  return counts;
}

/* Exact percentiles from bucket counts (bucket width `width`). */
static void percentiles(const uint64_t *buckets, size_t bucket_count, int64_t width, uint64_t total,
                        int64_t max_seen, int64_t out[5]) {
  static const double points[4] = {0.5, 0.9, 0.99, 0.999};
  for (int p = 0; p < 4; p++) {
    uint64_t rank = (uint64_t)ceil(points[p] * (double)total);
    uint64_t seen = 0;
    out[p] = max_seen;
    for (size_t b = 0; b < bucket_count; b++) {
      seen += buckets[b];
      if (seen >= rank && rank > 0) {
        out[p] = (int64_t)b * width;
        break;
      }
    }
  }
  out[4] = max_seen;
}

enum { LATENCY_BUCKETS = 1 << 17, PAYLOAD_BUCKETS = 1 << 16, PAYLOAD_WIDTH = 16 };

sl_status sl_spanfile_stats_read(const char *path, sl_spanfile_stats *stats, sl_error *err) {
  assert(path != NULL && stats != NULL);
  memset(stats, 0, sizeof *stats);
  sl_spanfile_reader *reader = NULL;
  SL_TRY(sl_spanfile_open(path, &reader, err));
  counter root_services = {0};
  counter operations = {0};
  uint64_t *latency = calloc(LATENCY_BUCKETS, sizeof(uint64_t));
  uint64_t *payload = calloc(PAYLOAD_BUCKETS, sizeof(uint64_t));
  size_t minute_capacity = 1 << 20; /* two years of minutes */
  uint8_t *minutes = calloc(minute_capacity / 8, 1);
  sl_trace_tally tally = {0};
  int64_t first_start = INT64_MIN;
  int64_t latency_max = 0, payload_max = 0;
  double latency_sum = 0, payload_sum = 0;
  if (latency == NULL || payload == NULL || minutes == NULL) {
    free(latency);
    free(payload);
    free(minutes);
    sl_spanfile_close(reader);
    return sl_error_set(err, SL_ERR_NOMEM, "stats: out of memory");
  }
  sl_status status = SL_OK;
  while (status == SL_OK) {
    sl_span span;
    bool end = false;
    status = sl_spanfile_next(reader, &span, &end, err);
    if (status != SL_OK || end) {
      break;
    }
    status = sl_trace_tally_add(&tally, span.trace_id, err);
    if (status != SL_OK) {
      break;
    }
    stats->spans++;
    if (span.parent_span_id.size_bytes == 2 && memcmp(span.parent_span_id.data, "-1", 2) == 0) {
      counter_add(&root_services, &span.service_id);
      if (first_start == INT64_MIN) {
        first_start = span.start_time_ms;
        stats->min_start_ms = stats->max_start_ms = span.start_time_ms;
      }
      stats->min_start_ms = span.start_time_ms < stats->min_start_ms ? span.start_time_ms : stats->min_start_ms;
      stats->max_start_ms = span.start_time_ms > stats->max_start_ms ? span.start_time_ms : stats->max_start_ms;
      int64_t minute = (span.start_time_ms - first_start) / 60000 + (int64_t)minute_capacity / 2;
      if (minute >= 0 && (size_t)minute < minute_capacity) {
        minutes[minute / 8] |= (uint8_t)(1u << (minute % 8));
      }
    }
    counter_add(&operations, &span.operation_name);
    stats->error_spans += span.is_error != 0;
    int64_t latency_ms = span.latency_ms < 0 ? 0 : span.latency_ms;
    latency[latency_ms < LATENCY_BUCKETS ? latency_ms : LATENCY_BUCKETS - 1]++;
    latency_max = latency_ms > latency_max ? latency_ms : latency_max;
    latency_sum += (double)latency_ms;
    int64_t size = (int64_t)span.data_binary.size_bytes;
    payload[size / PAYLOAD_WIDTH < PAYLOAD_BUCKETS ? size / PAYLOAD_WIDTH : PAYLOAD_BUCKETS - 1]++;
    payload_max = size > payload_max ? size : payload_max;
    payload_sum += (double)size;
  }
  sl_trace_tally_finish(&tally);
  stats->traces = tally.traces;
  memcpy(stats->traces_by_class, tally.traces_by_class, sizeof stats->traces_by_class);
  memcpy(stats->spans_by_class, tally.spans_by_class, sizeof stats->spans_by_class);
  if (status == SL_OK && stats->spans > 0) {
    uint64_t *service_counts = sorted_counts(&root_services);
    uint64_t *operation_counts = sorted_counts(&operations);
    if (service_counts == NULL || operation_counts == NULL) {
      status = sl_error_set(err, SL_ERR_NOMEM, "stats: out of memory");
    } else {
      stats->services = root_services.size;
      size_t top = (size_t)ceil(0.2 * (double)root_services.size);
      uint64_t top_traces = 0, all_traces = 0;
      for (size_t i = 0; i < root_services.size; i++) {
        all_traces += service_counts[i];
        top_traces += i < top ? service_counts[i] : 0;
      }
      stats->top20_service_trace_share = all_traces ? (double)top_traces / (double)all_traces : 0;
      stats->distinct_operations = operations.size;
      for (size_t i = 0; i < 10 && i < operations.size; i++) {
        stats->top_operation_shares[i] = (double)operation_counts[i] / (double)stats->spans;
      }
      /* Least squares of log(count) on log(rank) over ranks with count >= 5. */
      double sx = 0, sy = 0, sxx = 0, sxy = 0;
      size_t n = 0;
      for (size_t i = 0; i < operations.size && operation_counts[i] >= 5; i++, n++) {
        double x = log((double)(i + 1));
        double y = log((double)operation_counts[i]);
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
      }
      stats->operation_zipf_exponent =
          n >= 2 ? -((double)n * sxy - sx * sy) / ((double)n * sxx - sx * sx) : 0;
    }
    free(service_counts);
    free(operation_counts);
    percentiles(latency, LATENCY_BUCKETS, 1, stats->spans, latency_max, stats->latency_ms_percentiles);
    percentiles(payload, PAYLOAD_BUCKETS, PAYLOAD_WIDTH, stats->spans, payload_max,
                stats->payload_bytes_percentiles);
    stats->latency_ms_mean = latency_sum / (double)stats->spans;
    stats->payload_bytes_mean = payload_sum / (double)stats->spans;
    int64_t minutes_spanned = (stats->max_start_ms - stats->min_start_ms) / 60000 + 1;
    uint64_t covered = 0;
    for (size_t b = 0; b < minute_capacity / 8; b++) {
      covered += (uint64_t)__builtin_popcount(minutes[b]);
    }
    stats->minute_coverage = minutes_spanned > 0 ? (double)covered / (double)minutes_spanned : 0;
  }
  free(latency);
  free(payload);
  free(minutes);
  counter_free(&root_services);
  counter_free(&operations);
  sl_spanfile_close(reader);
  return status;
}

/* A start time as RFC 3339, or as a number of ms where nanoseconds would not fit an int64 (a span
 * file may hold any startTime). */
static void format_start_ms(int64_t start_ms, char *out, size_t out_bytes) {
  if (start_ms > INT64_MAX / 1000000 || start_ms < INT64_MIN / 1000000) {
    snprintf(out, out_bytes, "%lld ms", (long long)start_ms);
  } else {
    sl_rfc3339_format_ns(start_ms * 1000000, out, out_bytes);
  }
}

void sl_spanfile_stats_print(const sl_spanfile_stats *stats, FILE *out) {
  double spans = stats->spans ? (double)stats->spans : 1;
  double traces = stats->traces ? (double)stats->traces : 1;
  fprintf(out, "spans                 %llu\n", (unsigned long long)stats->spans);
  fprintf(out, "traces                %llu (%.2f spans per trace)\n",
          (unsigned long long)stats->traces, spans / traces);
  static const char *const labels[3] = {"simple (1-5)", "medium (6-20)", "complex (21-100)"};
  static const double targets[3] = {20, 60, 20};
  for (int c = 0; c < 3; c++) {
    fprintf(out, "  %-18s  %8llu traces, %5.1f%% of spans (seed: %.0f%%)\n", labels[c],
            (unsigned long long)stats->traces_by_class[c], 100.0 * (double)stats->spans_by_class[c] / spans,
            targets[c]);
  }
  fprintf(out, "root services         %llu; top 20%% start %.1f%% of traces (seed: 80/20 rule)\n",
          (unsigned long long)stats->services, 100 * stats->top20_service_trace_share);
  fprintf(out, "error rate            %.2f%% of spans (seed: 5%%)\n",
          100.0 * (double)stats->error_spans / spans);
  fprintf(out, "operations            %llu distinct; Zipf exponent fitted %.2f; top ranks:",
          (unsigned long long)stats->distinct_operations, stats->operation_zipf_exponent);
  for (int i = 0; i < 10 && stats->top_operation_shares[i] > 0; i++) {
    fprintf(out, " %d:%.2f%%", i + 1, 100 * stats->top_operation_shares[i]);
  }
  fprintf(out, "\nlatency ms            p50 %lld, p90 %lld, p99 %lld, p99.9 %lld, max %lld, mean %.1f\n",
          (long long)stats->latency_ms_percentiles[0], (long long)stats->latency_ms_percentiles[1],
          (long long)stats->latency_ms_percentiles[2], (long long)stats->latency_ms_percentiles[3],
          (long long)stats->latency_ms_percentiles[4], stats->latency_ms_mean);
  fprintf(out, "dataBinary bytes      p50 %lld, p90 %lld, p99 %lld, p99.9 %lld, max %lld, mean %.0f\n",
          (long long)stats->payload_bytes_percentiles[0], (long long)stats->payload_bytes_percentiles[1],
          (long long)stats->payload_bytes_percentiles[2], (long long)stats->payload_bytes_percentiles[3],
          (long long)stats->payload_bytes_percentiles[4], stats->payload_bytes_mean);
  char first[40], last[40];
  format_start_ms(stats->min_start_ms, first, sizeof first);
  format_start_ms(stats->max_start_ms, last, sizeof last);
  fprintf(out, "trace starts          %s .. %s, %.1f%% of minutes covered\n", first, last,
          100 * stats->minute_coverage);
}
