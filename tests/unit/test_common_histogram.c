/* test_common_histogram.c: percentiles from the histogram stay within 1% of
 * the exact percentiles of the recorded values, for several distributions. */
#include <math.h>
#include <stdlib.h>

#include "common/histogram.h"
#include "test_support.h"

static int compare_int64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static uint64_t state = 88172645463325252ULL;
static uint64_t next_random(void) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

static void check_distribution(int64_t (*sample)(void)) {
  enum { N = 100000 };
  int64_t *values = malloc(N * sizeof(int64_t));
  static sl_histogram histogram;
  sl_histogram_reset(&histogram);
  for (int i = 0; i < N; i++) {
    values[i] = sample();
    sl_histogram_record(&histogram, values[i]);
  }
  qsort(values, N, sizeof(int64_t), compare_int64);
  const double percentiles[] = {1, 50, 90, 95, 99, 99.9, 100};
  for (size_t p = 0; p < sizeof percentiles / sizeof percentiles[0]; p++) {
    size_t rank = (size_t)ceil(percentiles[p] / 100 * N);
    int64_t exact = values[rank - 1];
    int64_t approximate = sl_histogram_percentile(&histogram, percentiles[p]);
    double error = exact == 0 ? (double)llabs(approximate) : fabs((double)(approximate - exact)) / (double)exact;
    if (error > 0.01) {
      fail_msg("p%.1f: exact %lld, histogram %lld (error %.4f)", percentiles[p], (long long)exact,
               (long long)approximate, error);
    }
  }
  assert_int_equal(sl_histogram_percentile(&histogram, 100), values[N - 1]);
  assert_int_equal(histogram.min, values[0]);
  free(values);
}

static int64_t uniform(void) { return (int64_t)(next_random() % 10000000); }
static int64_t exponential(void) {
  return (int64_t)(-2e6 * log(1.0 - (double)(next_random() >> 11) * 0x1.0p-53));
}
static int64_t lognormal(void) {
  double u1 = 1.0 - (double)(next_random() >> 11) * 0x1.0p-53, u2 = (double)(next_random() >> 11) * 0x1.0p-53;
  return (int64_t)exp(13 + 1.5 * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
}
static int64_t constant(void) { return 123456789; }
static int64_t small(void) { return (int64_t)(next_random() % 100); }
static int64_t extremes(void) { return next_random() % 2 ? 1 : (INT64_C(1) << 62); }

static void percentiles_within_one_percent(void **s) {
  (void)s;
  check_distribution(uniform);
  check_distribution(exponential);
  check_distribution(lognormal);
  check_distribution(constant);
  check_distribution(small);
  check_distribution(extremes);
}

static void merge_equals_recording_everything_in_one(void **s) {
  (void)s;
  static sl_histogram a, b, all;
  sl_histogram_reset(&a);
  sl_histogram_reset(&b);
  sl_histogram_reset(&all);
  for (int i = 0; i < 50000; i++) {
    int64_t value = exponential();
    sl_histogram_record(i % 3 ? &a : &b, value);
    sl_histogram_record(&all, value);
  }
  sl_histogram_merge(&a, &b);
  assert_int_equal(a.count, all.count);
  assert_int_equal(a.min, all.min);
  assert_int_equal(a.max, all.max);
  assert_memory_equal(a.counts, all.counts, sizeof a.counts);
  assert_int_equal(sl_histogram_percentile(&a, 99), sl_histogram_percentile(&all, 99));
  sl_histogram_reset(&a);
  assert_int_equal(sl_histogram_percentile(&a, 50), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(percentiles_within_one_percent),
      cmocka_unit_test(merge_equals_recording_everything_in_one),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
