/* histogram.h: a log-linear histogram of non-negative int64 values (latencies
 * in nanoseconds), HdrHistogram's idea in a few lines (HdrHistogram is not
 * packaged in Debian).  Values below 128 are exact; above, each power of two
 * is split into 128 linear buckets, so a reported percentile is within 1/256
 * (0.4%) of a recorded value.  Fixed size (about 60 KB), no allocation after
 * creation.  Not thread-safe: give each thread its own and merge them. */
#ifndef SPANLAB_COMMON_HISTOGRAM_H
#define SPANLAB_COMMON_HISTOGRAM_H

#include <stdint.h>

enum { SL_HISTOGRAM_SUB_BITS = 7, SL_HISTOGRAM_BUCKETS = 128 + 56 * 128 };

typedef struct sl_histogram {
  uint64_t counts[SL_HISTOGRAM_BUCKETS];
  uint64_t count;
  int64_t min;
  int64_t max;
  double sum;
} sl_histogram;

void sl_histogram_reset(sl_histogram *histogram);
/* Negative values count as 0; values past 2^63 - 1 cannot occur. */
void sl_histogram_record(sl_histogram *histogram, int64_t value);
void sl_histogram_merge(sl_histogram *into, const sl_histogram *from);
/* The value at percentile (0..100]: the smallest recorded value v such that
 * at least percentile% of values are <= v, within the bucket's precision. */
int64_t sl_histogram_percentile(const sl_histogram *histogram, double percentile);
double sl_histogram_mean(const sl_histogram *histogram);

#endif
