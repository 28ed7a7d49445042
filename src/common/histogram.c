/* histogram.c: see histogram.h. */
#include "common/histogram.h"

#include <assert.h>
#include <math.h>
#include <string.h>

static unsigned bucket_of(uint64_t value) {
  if (value < 128) {
    return (unsigned)value;
  }
  unsigned exponent = 63u - (unsigned)__builtin_clzll(value); /* >= 7 */
  unsigned shift = exponent - SL_HISTOGRAM_SUB_BITS;
  unsigned sub = (unsigned)(value >> shift) - 128u;
  return 128u + (exponent - SL_HISTOGRAM_SUB_BITS) * 128u + sub;
}

/* Middle of a bucket's value range (the exact value below 128). */
static int64_t bucket_value(unsigned bucket) {
  if (bucket < 128) {
    return (int64_t)bucket;
  }
  unsigned exponent = (bucket - 128u) / 128u + SL_HISTOGRAM_SUB_BITS;
  unsigned sub = (bucket - 128u) % 128u;
  unsigned shift = exponent - SL_HISTOGRAM_SUB_BITS;
  uint64_t low = (uint64_t)(128u + sub) << shift;
  uint64_t width = 1ull << shift;
  return (int64_t)(low + (width - 1) / 2);
}

void sl_histogram_reset(sl_histogram *histogram) {
  memset(histogram, 0, sizeof *histogram);
  histogram->min = INT64_MAX;
  histogram->max = 0;
}

void sl_histogram_record(sl_histogram *histogram, int64_t value) {
  if (value < 0) {
    value = 0;
  }
  unsigned bucket = bucket_of((uint64_t)value);
  assert(bucket < SL_HISTOGRAM_BUCKETS);
  histogram->counts[bucket]++;
  histogram->count++;
  histogram->sum += (double)value;
  histogram->min = value < histogram->min ? value : histogram->min;
  histogram->max = value > histogram->max ? value : histogram->max;
}

void sl_histogram_merge(sl_histogram *into, const sl_histogram *from) {
  for (unsigned b = 0; b < SL_HISTOGRAM_BUCKETS; b++) {
    into->counts[b] += from->counts[b];
  }
  into->count += from->count;
  into->sum += from->sum;
  into->min = from->min < into->min ? from->min : into->min;
  into->max = from->max > into->max ? from->max : into->max;
}

int64_t sl_histogram_percentile(const sl_histogram *histogram, double percentile) {
  if (histogram->count == 0) {
    return 0;
  }
  double wanted = ceil(percentile / 100.0 * (double)histogram->count);
  uint64_t rank = wanted < 1 ? 1 : (uint64_t)wanted;
  if (rank >= histogram->count) {
    return histogram->max; /* the largest value is known exactly */
  }
  uint64_t seen = 0;
  for (unsigned b = 0; b < SL_HISTOGRAM_BUCKETS; b++) {
    seen += histogram->counts[b];
    if (seen >= rank) {
      int64_t value = bucket_value(b);
      value = value < histogram->min ? histogram->min : value;
      return value > histogram->max ? histogram->max : value;
    }
  }
  return histogram->max;
}

double sl_histogram_mean(const sl_histogram *histogram) {
  return histogram->count ? histogram->sum / (double)histogram->count : 0;
}
