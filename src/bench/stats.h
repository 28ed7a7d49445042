/* stats.h: statistics across benchmark iterations: mean, sample standard
 * deviation, the 95% confidence interval of the mean (Student's t), and a
 * comparison that names a winner only where two intervals do not overlap.
 * Plain values; nothing allocated. */
#ifndef SPANLAB_BENCH_STATS_H
#define SPANLAB_BENCH_STATS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sl_summary {
  size_t count;
  double mean;
  double stdev;     /* sample standard deviation; 0 when count < 2 */
  double ci95_low;  /* equal to mean when count < 2 (no interval) */
  double ci95_high;
} sl_summary;

sl_summary sl_summarize(const double *values, size_t count);

/* Two-sided 95% critical value of Student's t with degrees_of_freedom >= 1. */
double sl_student_t95(size_t degrees_of_freedom);

typedef struct sl_comparison {
  int winner;              /* 0: a, 1: b, -1: no significant difference */
  char description[160];
} sl_comparison;

sl_comparison sl_compare(const sl_summary *a, const sl_summary *b, bool higher_is_better, const char *a_name,
                         const char *b_name);

/* Pearson correlation of two series of equal length (0 when undefined). */
double sl_correlation(const double *x, const double *y, size_t count);

#endif
