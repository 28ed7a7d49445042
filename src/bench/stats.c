/* stats.c: see stats.h. */
#include "bench/stats.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>

double sl_student_t95(size_t degrees_of_freedom) {
  static const double table[30] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262,
                                   2.228,  2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101,
                                   2.093,  2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052,
                                   2.048,  2.045, 2.042};
  assert(degrees_of_freedom >= 1);
  if (degrees_of_freedom <= 30) {
    return table[degrees_of_freedom - 1];
  }
  if (degrees_of_freedom <= 60) {
    return 2.042 - (2.042 - 2.000) * (double)(degrees_of_freedom - 30) / 30.0;
  }
  if (degrees_of_freedom <= 120) {
    return 2.000 - (2.000 - 1.980) * (double)(degrees_of_freedom - 60) / 60.0;
  }
  return 1.960;
}

sl_summary sl_summarize(const double *values, size_t count) {
  sl_summary summary = {.count = count};
  if (count == 0) {
    return summary;
  }
  double sum = 0;
  for (size_t i = 0; i < count; i++) {
    sum += values[i];
  }
  summary.mean = sum / (double)count;
  summary.ci95_low = summary.ci95_high = summary.mean;
  if (count < 2) {
    return summary;
  }
  double squares = 0;
  for (size_t i = 0; i < count; i++) {
    squares += (values[i] - summary.mean) * (values[i] - summary.mean);
  }
  summary.stdev = sqrt(squares / (double)(count - 1));
  double half_width = sl_student_t95(count - 1) * summary.stdev / sqrt((double)count);
  summary.ci95_low = summary.mean - half_width;
  summary.ci95_high = summary.mean + half_width;
  return summary;
}

sl_comparison sl_compare(const sl_summary *a, const sl_summary *b, bool higher_is_better, const char *a_name,
                         const char *b_name) {
  sl_comparison result = {.winner = -1};
  if (a->count < 2 || b->count < 2) {
    snprintf(result.description, sizeof result.description,
             "no significant difference (fewer than 2 iterations: no interval)");
    return result;
  }
  bool a_above = a->ci95_low > b->ci95_high;
  bool b_above = b->ci95_low > a->ci95_high;
  if (!a_above && !b_above) {
    snprintf(result.description, sizeof result.description,
             "no significant difference (95%% intervals overlap)");
    return result;
  }
  bool a_wins = higher_is_better ? a_above : b_above;
  result.winner = a_wins ? 0 : 1;
  const sl_summary *better = a_wins ? a : b;
  const sl_summary *worse = a_wins ? b : a;
  double ratio = worse->mean != 0 ? better->mean / worse->mean : 0;
  if (!higher_is_better && better->mean != 0) {
    ratio = worse->mean / better->mean;
  }
  snprintf(result.description, sizeof result.description,
           "%s better by %.2fx (95%% intervals do not overlap)",
           a_wins ? (a_name != NULL ? a_name : "a") : (b_name != NULL ? b_name : "b"), ratio);
  return result;
}

double sl_correlation(const double *x, const double *y, size_t count) {
  if (count < 2) {
    return 0;
  }
  double mean_x = 0, mean_y = 0;
  for (size_t i = 0; i < count; i++) {
    mean_x += x[i];
    mean_y += y[i];
  }
  mean_x /= (double)count;
  mean_y /= (double)count;
  double cov = 0, var_x = 0, var_y = 0;
  for (size_t i = 0; i < count; i++) {
    cov += (x[i] - mean_x) * (y[i] - mean_y);
    var_x += (x[i] - mean_x) * (x[i] - mean_x);
    var_y += (y[i] - mean_y) * (y[i] - mean_y);
  }
  if (var_x == 0 || var_y == 0) {
    return 0;
  }
  return cov / sqrt(var_x * var_y);
}
