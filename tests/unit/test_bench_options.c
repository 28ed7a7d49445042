/* test_bench_options.c: the runner's command-line options. */
#include <stdio.h>
#include <string.h>

#include "bench/options.h"
#include "test_support.h"

static sl_status parse(sl_bench_options *options, const char *line, sl_error *err) {
  static char buffer[1024];
  static char *argv[64];
  snprintf(buffer, sizeof buffer, "bench %s", line);
  int argc = 0;
  for (char *save = NULL, *word = strtok_r(buffer, " ", &save); word != NULL && argc < 64;
       word = strtok_r(NULL, " ", &save)) {
    argv[argc++] = word;
  }
  sl_bench_options_defaults(options);
  return sl_bench_options_parse(options, argc, argv, err);
}

static void defaults_follow_the_issue(void **state) {
  (void)state;
  sl_bench_options options;
  sl_error err;
  assert_int_equal(parse(&options, "", &err), SL_OK);
  assert_string_equal(options.scale, "small");
  assert_int_equal(options.model_count, 3);
  assert_string_equal(options.models[2], "sqlite");
  assert_int_equal(options.labels, SL_LABEL_ALL);
  assert_int_equal(options.iterations, 3);
  assert_int_equal(options.writer_count, 4);
  assert_int_equal(options.writers[3], 1000);
  assert_int_equal(options.batch_size_count, 5);
  assert_int_equal(options.batch_sizes[4], 10000);
  assert_int_equal(options.sync_mode, SL_SYNC_BATCH);
  assert_int_equal(options.spans, -1);
}

static void parses_every_option(void **state) {
  (void)state;
  sl_bench_options options;
  sl_error err;
  assert_int_equal(parse(&options,
                         "--scale custom --models stream,sqlite --label write,consistency "
                         "--focus ^write/ --iterations 5 --out /tmp/x --spans 20k --services 7 "
                         "--instances 30 --time-range 90m --seed 7 --error-rate 0.1 --operations 50 "
                         "--payload-bytes 1000 --writers 1,4 --batch-sizes 10,100 --sync none --keep -q",
                         &err),
                   SL_OK);
  assert_string_equal(options.scale, "custom");
  assert_int_equal(options.model_count, 2);
  assert_string_equal(options.models[1], "sqlite");
  assert_int_equal(options.labels, SL_LABEL_WRITE | SL_LABEL_CONSISTENCY);
  assert_string_equal(options.focus, "^write/");
  assert_int_equal(options.iterations, 5);
  assert_int_equal(options.spans, 20000);
  assert_int_equal(options.time_range_ms, 90 * 60000);
  assert_int_equal(options.seed, 7);
  assert_true(options.error_rate > 0.099 && options.error_rate < 0.101);
  assert_int_equal(options.writer_count, 2);
  assert_int_equal(options.writers[1], 4);
  assert_int_equal(options.batch_sizes[0], 10);
  assert_int_equal(options.sync_mode, SL_SYNC_NONE);
  assert_true(options.keep_stores);
  sl_bench_options without_wal;
  assert_int_equal(parse(&without_wal, "--sync off", &err), SL_OK);
  assert_int_equal(without_wal.sync_mode, SL_SYNC_OFF);
  assert_true(options.quiet);
}

static void bad_values_name_the_option(void **state) {
  (void)state;
  static const struct {
    const char *line;
    const char *message;
  } cases[] = {
      {"--scale huge", "--scale expects small, medium, large or custom, not \"huge\""},
      {"--iterations 0", "--iterations expects a whole number from 1 to 1000, not \"0\""},
      {"--spans ten", "--spans expects a whole number"},
      {"--time-range 5y", "--time-range expects a positive duration"},
      {"--label write,speed", "--label: unknown label \"speed\""},
      {"--focus (", "--focus: \"(\" is not a valid regular expression"},
      {"--error-rate 2", "--error-rate expects a number from 0 to 1"},
      /* Overflow and non-numbers are refused, not wrapped or turned into the default. */
      {"--spans 18446744073709552k", "--spans expects a whole number"},
      {"--seed 18446744073709552k", "--seed expects a whole number"},
      {"--time-range 1e300d", "--time-range expects a positive duration"},
      {"--time-range nand", "--time-range expects a positive duration"},
      {"--time-range infd", "--time-range expects a positive duration"},
      {"--time-range 0.0001ms", "--time-range expects a positive duration"},
      {"--error-rate nan", "--error-rate expects a number from 0 to 1"},
      {"--models stream,trace,stream", "--models: \"stream\" is named twice"},
      {"--models stream,", "--models: an empty item"},
      {"--writers 1,1,1", "--writers: 1 is named twice"},
      /* Counts whose tables the generator builds up front are bounded (1e8 services ran for minutes). */
      {"--services 100000000", "--services expects a whole number from 1 to 1000000"},
      /* The option took up to 64 MiB, and the generator then refused more than 16 MiB. */
      {"--payload-bytes 20000000", "--payload-bytes expects a whole number from 0 to 16777216"},
      {"--operations 2m", "--operations expects a whole number from 1 to 1000000"},
      {"--sync always", "--sync expects none, batch, interval or off, not \"always\""},
      {"--frobnicate 3", "--frobnicate: unknown option"},
      {"--out", "--out: unknown option or missing value"},
      {"--writers 1,2,3,4,5,6,7,8,9", "--writers takes at most 8 items"},
      {"--models stream,sqlight", "--models: unknown backend \"sqlight\" (this build has stream, trace, sqlite, null)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sl_bench_options options;
    sl_error err = {0};
    assert_int_equal(parse(&options, cases[i].line, &err), SL_ERR_INVALID);
    if (strstr(err.message, cases[i].message) == NULL) {
      fail_msg("%s: got \"%s\", expected \"%s\"", cases[i].line, err.message, cases[i].message);
    }
  }
  /* An empty --out (it said "cannot create : No such file or directory" later). */
  char *argv[] = {"bench", "--out", ""};
  sl_bench_options options;
  sl_bench_options_defaults(&options);
  sl_error err = {0};
  assert_int_equal(sl_bench_options_parse(&options, 3, argv, &err), SL_ERR_INVALID);
  assert_non_null(strstr(err.message, "--out needs a directory"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(defaults_follow_the_issue),
      cmocka_unit_test(parses_every_option),
      cmocka_unit_test(bad_values_name_the_option),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
