/* test_bench_stats.c: mean, standard deviation, Student's t interval and the
 * winner rule, against values worked out by hand. */
#include <math.h>
#include <string.h>

#include "bench/stats.h"
#include "test_support.h"

static void summary_matches_hand_computation(void **s) {
  (void)s;
  const double values[] = {10, 12, 14};
  sl_summary summary = sl_summarize(values, 3);
  assert_int_equal(summary.count, 3);
  assert_true(fabs(summary.mean - 12) < 1e-12);
  assert_true(fabs(summary.stdev - 2) < 1e-12); /* sqrt((4+0+4)/2) */
  /* t(0.975, 2) = 4.303: half width 4.303 * 2 / sqrt(3) = 4.9687 */
  assert_true(fabs(summary.ci95_high - 12 - 4.303 * 2 / sqrt(3)) < 1e-9);
  assert_true(fabs(summary.ci95_low - 12 + 4.303 * 2 / sqrt(3)) < 1e-9);
  sl_summary one = sl_summarize(values, 1);
  assert_true(one.ci95_low == one.mean && one.ci95_high == one.mean && one.stdev == 0);
  assert_true(fabs(sl_student_t95(1) - 12.706) < 1e-9);
  assert_true(fabs(sl_student_t95(1000) - 1.96) < 1e-9);
}

static void winner_only_without_overlap(void **s) {
  (void)s;
  const double fast[] = {100, 101, 99}, slow[] = {50, 51, 49}, close[] = {98, 103, 100};
  sl_summary a = sl_summarize(fast, 3), b = sl_summarize(slow, 3), c = sl_summarize(close, 3);
  sl_comparison verdict = sl_compare(&a, &b, true, "stream", "sqlite");
  assert_int_equal(verdict.winner, 0);
  assert_non_null(strstr(verdict.description, "stream better by 2.00x"));
  verdict = sl_compare(&a, &b, false, "stream", "sqlite"); /* lower is better: b wins */
  assert_int_equal(verdict.winner, 1);
  assert_non_null(strstr(verdict.description, "sqlite better by 2.00x"));
  verdict = sl_compare(&a, &c, true, "stream", "trace");
  assert_int_equal(verdict.winner, -1);
  assert_non_null(strstr(verdict.description, "no significant difference"));
  sl_summary single = sl_summarize(fast, 1);
  assert_int_equal(sl_compare(&single, &b, true, NULL, NULL).winner, -1);
}

static void correlation(void **s) {
  (void)s;
  const double x[] = {1, 2, 3, 4}, y[] = {2, 4, 6, 8}, z[] = {8, 6, 4, 2}, flat[] = {1, 1, 1, 1};
  assert_true(fabs(sl_correlation(x, y, 4) - 1) < 1e-12);
  assert_true(fabs(sl_correlation(x, z, 4) + 1) < 1e-12);
  assert_true(sl_correlation(x, flat, 4) == 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(summary_matches_hand_computation),
      cmocka_unit_test(winner_only_without_overlap),
      cmocka_unit_test(correlation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
