/* test_common_progress.c: the plain progress lines (not a terminal) give done/total, the share,
 * the rate and the elapsed time, and time excluded with sl_progress_exclude is in neither. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/progress.h"
#include "common/timeutil.h"
#include "test_support.h"

static void sleep_ms(long ms) {
  struct timespec pause = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  nanosleep(&pause, NULL);
}

/* The last line progress wrote to out. */
static void last_line(FILE *out, char *line, size_t line_bytes) {
  rewind(out);
  line[0] = '\0';
  char buffer[256];
  while (fgets(buffer, sizeof buffer, out) != NULL) {
    snprintf(line, line_bytes, "%s", buffer);
  }
}

static void excluded_time_is_not_in_the_rate(void **state) {
  (void)state;
  FILE *out = tmpfile();
  assert_non_null(out);
  sl_progress progress;
  int64_t began = sl_monotonic_ns();
  sl_progress_start(&progress, "load", "spans", 1000, true);
  progress.out = out;
  progress.terminal = false;
  sleep_ms(300);
  sl_progress_exclude(&progress, 250 * 1000000LL); /* say 250 ms of it were someone else's */
  sl_progress_update(&progress, 1000);
  sl_progress_finish(&progress);
  double wall_s = (double)(sl_monotonic_ns() - began) / 1e9;
  char line[256];
  last_line(out, line, sizeof line);
  unsigned long long done = 0, total = 0;
  double share = 0, rate = 0, elapsed = 0;
  assert_int_equal(sscanf(line, "load: %llu/%llu spans (%lf%%), %lf spans/s, %lf s", &done, &total, &share, &rate,
                          &elapsed),
                   5);
  assert_int_equal(done, 1000);
  assert_int_equal(total, 1000);
  assert_true(share > 99.9);
  /* Elapsed is the wall time minus the 250 ms, not the wall time (one decimal printed). */
  assert_true(elapsed <= wall_s - 0.25 + 0.06);
  assert_true(elapsed >= 0.0);
  assert_true(rate >= 1000.0 / (wall_s - 0.25 + 0.06));
  fclose(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(excluded_time_is_not_in_the_rate),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
