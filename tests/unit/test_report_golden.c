/* test_report_golden.c: the Markdown reports of the committed fixtures
 * (the JSON files in tests/data/report, made by make_fixtures.py from real runs) equal the
 * goldens byte for byte, and the same input gives the same bytes again.
 * After an intended change: scripts/report-goldens.sh, then read the diff. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spanlab/report.h"
#include "test_support.h"

static const char *const report_files[] = {"summary.md", "detailed.md", "config-guide.md"};

/* Fails with the first differing line of out_dir/name against the golden. */
static void same_as_golden(const char *out_dir, const char *golden_dir, const char *name) {
  char path[8500], golden_path[8500];
  snprintf(path, sizeof path, "%s/%s", out_dir, name);
  snprintf(golden_path, sizeof golden_path, "%s/%s", golden_dir, name);
  size_t size = 0, golden_size = 0;
  char *got = test_read_file(path, &size);
  char *want = test_read_file(golden_path, &golden_size);
  assert_non_null(got);
  if (want == NULL) {
    fail_msg("no golden %s (scripts/report-goldens.sh writes it)", golden_path);
  }
  if (size != golden_size || memcmp(got, want, size) != 0) {
    int line = 1;
    size_t i = 0, line_start = 0;
    while (i < size && i < golden_size && got[i] == want[i]) {
      if (got[i] == '\n') {
        line++;
        line_start = i + 1;
      }
      i++;
    }
    const char *got_end = strchr(got + line_start, '\n');
    const char *want_end = strchr(want + line_start, '\n');
    int got_length = got_end ? (int)(got_end - got - (long)line_start) : (int)(size - line_start);
    int want_length = want_end ? (int)(want_end - want - (long)line_start) : (int)(golden_size - line_start);
    fprintf(stderr, "%s differs from %s at line %d:\n  got:  %.*s\n  want: %.*s\n"
                    "(intended? scripts/report-goldens.sh rewrites the goldens)\n",
            path, golden_path, line, got_length > 300 ? 300 : got_length, got + line_start,
            want_length > 300 ? 300 : want_length, want + line_start);
    free(got);
    free(want);
    fail_msg("%s differs from its golden", name);
  }
  free(got);
  free(want);
}

static void check_set(const char *set, const char *const *inputs, size_t count) {
  /* The reports print the paths as given: give them relative to the fixtures' directory. */
  assert_int_equal(chdir(SPANLAB_SOURCE_DIR "/tests/data/report"), 0);
  char out_dir[4096], again_dir[4200], golden_dir[4200];
  snprintf(out_dir, sizeof out_dir, "%s", test_temp_dir(set));
  snprintf(again_dir, sizeof again_dir, "%s-again", out_dir);
  snprintf(golden_dir, sizeof golden_dir, "%s/tests/data/report/golden/%s", SPANLAB_SOURCE_DIR, set);
  sl_error err;
  if (sl_report_write(inputs, count, out_dir, &err) != SL_OK) {
    fail_msg("sl_report_write: %s", err.message);
  }
  assert_int_equal(sl_report_write(inputs, count, again_dir, &err), SL_OK);
  for (size_t f = 0; f < sizeof report_files / sizeof report_files[0]; f++) {
    same_as_golden(out_dir, golden_dir, report_files[f]);
  }
  /* report.html is not golden (it inlines uPlot) but must repeat byte for byte too. */
  static const char *const all_files[] = {"summary.md", "detailed.md", "config-guide.md", "report.html"};
  for (size_t f = 0; f < 4; f++) {
    char a[8500], b[8500];
    snprintf(a, sizeof a, "%s/%s", out_dir, all_files[f]);
    snprintf(b, sizeof b, "%s/%s", again_dir, all_files[f]);
    size_t a_size = 0, b_size = 0;
    char *first = test_read_file(a, &a_size), *second = test_read_file(b, &b_size);
    assert_non_null(first);
    assert_non_null(second);
    assert_true(a_size > 1000);
    assert_true(a_size == b_size && memcmp(first, second, a_size) == 0);
    free(first);
    free(second);
  }
}

static void single_run_matches_golden(void **state) {
  (void)state;
  const char *inputs[] = {"run-5k-a.json"};
  check_set("single", inputs, 1);
}

static void three_runs_match_golden(void **state) {
  (void)state;
  const char *inputs[] = {"run-5k-a.json", "run-10k.json", "run-5k-b.json"};
  check_set("multi", inputs, 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(single_run_matches_golden),
      cmocka_unit_test(three_runs_match_golden),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
