/* test_gen_samplers.c: the generator's random streams and samplers, checked
 * statistically with fixed seeds.  Tolerances: chi-square below the critical
 * value at p = 0.001; Kolmogorov-Smirnov D below the critical value at
 * alpha = 0.001 (1.95 / sqrt(n)).  With fixed seeds the outcome is
 * deterministic; the thresholds say how far from the distribution a correct
 * sampler may land. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen/random.h"
#include "test_support.h"

static void streams_are_reproducible_and_independent(void **state) {
  (void)state;
  sl_rng a, b, c;
  sl_rng_seed(&a, 42, 3, 1000);
  sl_rng_seed(&b, 42, 3, 1000);
  sl_rng_seed(&c, 42, 3, 1001);
  int same_as_neighbour = 0;
  for (int i = 0; i < 1000; i++) {
    uint64_t x = sl_rng_next(&a);
    assert_int_equal(x, sl_rng_next(&b));
    same_as_neighbour += x == sl_rng_next(&c);
  }
  assert_int_equal(same_as_neighbour, 0);
}

static int compare_doubles(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

/* KS statistic of sorted samples against cdf. */
static double ks_statistic(double *samples, size_t n, double (*cdf)(double, double, double),
                           double p1, double p2) {
  qsort(samples, n, sizeof(double), compare_doubles);
  double d = 0;
  for (size_t i = 0; i < n; i++) {
    double f = cdf(samples[i], p1, p2);
    double above = (double)(i + 1) / (double)n - f;
    double below = f - (double)i / (double)n;
    d = fmax(d, fmax(above, below));
  }
  return d;
}

static double exponential_cdf(double x, double mean, double unused) {
  (void)unused;
  return x <= 0 ? 0 : 1 - exp(-x / mean);
}

static double normal_cdf(double x, double mean, double stdev) {
  return 0.5 * erfc(-(x - mean) / (stdev * sqrt(2)));
}

static void exponential_passes_kolmogorov_smirnov(void **state) {
  (void)state;
  enum { N = 50000 };
  double *samples = malloc(N * sizeof(double));
  sl_rng rng;
  sl_rng_seed(&rng, 7, 1, 1);
  double sum = 0;
  for (int i = 0; i < N; i++) {
    samples[i] = sl_sample_exponential(&rng, 100.0);
    sum += samples[i];
  }
  assert_true(fabs(sum / N - 100.0) < 2.0); /* mean within 2% */
  double d = ks_statistic(samples, N, exponential_cdf, 100.0, 0);
  assert_true(d < 1.95 / sqrt(N));
  /* A wrong mean is caught by the same test. */
  double wrong = ks_statistic(samples, N, exponential_cdf, 110.0, 0);
  assert_true(wrong > 1.95 / sqrt(N));
  free(samples);
}

static void normal_passes_kolmogorov_smirnov(void **state) {
  (void)state;
  enum { N = 50000 };
  double *samples = malloc(N * sizeof(double));
  sl_rng rng;
  sl_rng_seed(&rng, 9, 1, 2);
  for (int i = 0; i < N; i++) {
    samples[i] = sl_sample_normal(&rng, 5.0, 2.0);
  }
  assert_true(ks_statistic(samples, N, normal_cdf, 5.0, 2.0) < 1.95 / sqrt(N));
  assert_true(ks_statistic(samples, N, normal_cdf, 5.0, 2.3) > 1.95 / sqrt(N));
  free(samples);
}

static void zipf_passes_chi_square(void **state) {
  (void)state;
  enum { RANKS = 50, N = 200000 };
  sl_zipf zipf;
  assert_int_equal(sl_zipf_init(&zipf, RANKS, 1.0), 0);
  uint64_t counts[RANKS] = {0};
  sl_rng rng;
  sl_rng_seed(&rng, 11, 1, 3);
  for (int i = 0; i < N; i++) {
    size_t rank = sl_zipf_sample(&zipf, &rng);
    assert_true(rank < RANKS);
    counts[rank]++;
  }
  double harmonic = 0;
  for (int k = 1; k <= RANKS; k++) {
    harmonic += 1.0 / k;
  }
  double chi_square = 0;
  for (int k = 1; k <= RANKS; k++) {
    double expected = N / (k * harmonic);
    chi_square += (counts[k - 1] - expected) * (counts[k - 1] - expected) / expected;
  }
  assert_true(chi_square < 85.35); /* df 49, p = 0.001 */
  sl_zipf_free(&zipf);
}

static void uniform_below_passes_chi_square(void **state) {
  (void)state;
  enum { BINS = 10, N = 100000 };
  uint64_t counts[BINS] = {0};
  sl_rng rng;
  sl_rng_seed(&rng, 13, 1, 4);
  for (int i = 0; i < N; i++) {
    counts[sl_rng_below(&rng, BINS)]++;
  }
  double chi_square = 0;
  for (int b = 0; b < BINS; b++) {
    double delta = (double)counts[b] - N / BINS;
    chi_square += delta * delta / (N / BINS);
  }
  assert_true(chi_square < 27.88); /* df 9, p = 0.001 */
  for (int i = 0; i < 1000; i++) {
    int64_t value = sl_rng_between(&rng, -3, 3);
    assert_true(value >= -3 && value <= 3);
  }
}

static void fitted_exponent_gives_the_80_20_rule(void **state) {
  (void)state;
  const size_t sizes[] = {10, 100, 1000, 10000};
  for (size_t i = 0; i < 4; i++) {
    double exponent = sl_zipf_fit_exponent(sizes[i], 0.2, 0.8);
    sl_zipf zipf;
    assert_int_equal(sl_zipf_init(&zipf, sizes[i], exponent), 0);
    double share = sl_zipf_top_share(&zipf, (size_t)ceil(0.2 * (double)sizes[i]));
    assert_true(fabs(share - 0.8) < 0.001);
    sl_zipf_free(&zipf);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(streams_are_reproducible_and_independent),
      cmocka_unit_test(exponential_passes_kolmogorov_smirnov),
      cmocka_unit_test(normal_passes_kolmogorov_smirnov),
      cmocka_unit_test(zipf_passes_chi_square),
      cmocka_unit_test(uniform_below_passes_chi_square),
      cmocka_unit_test(fitted_exponent_gives_the_80_20_rule),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
