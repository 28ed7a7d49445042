/* test_catalog_bad.c: every invalid schema set under tests/data/schemas/bad/
 * fails to load and reports the problem its `expected` file names, with file,
 * line, column and JSON path.  A case directory holds replacement files laid
 * over the shipped schemas, an optional `remove` file listing files to delete,
 * and `expected`: lines each of which must end some reported message.  The
 * positions in `expected` were computed from the case text by
 * tests/data/schemas/make_bad_cases.py, independently of the loader. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spanlab/catalog.h"
#include "test_support.h"

#define BAD_DIR SPANLAB_SOURCE_DIR "/tests/data/schemas/bad"

static int run_case(const char *name) {
  char case_dir[4096];
  snprintf(case_dir, sizeof case_dir, "%s/%s", BAD_DIR, name);
  const char *work = test_temp_dir(name);
  char command[20000];
  snprintf(command, sizeof command,
           "cp '%s'/schemas/stream-vs-trace/*.json '%s'/ && "
           "for f in '%s'/*.json; do [ -e \"$f\" ] && cp \"$f\" '%s'/; done; "
           "if [ -f '%s/remove' ]; then while read -r f; do rm -f '%s'/\"$f\"; done < '%s/remove'; fi",
           SPANLAB_SOURCE_DIR, work, case_dir, work, case_dir, work, case_dir);
  assert_int_equal(system(command), 0);

  sl_diag *problems = sl_diag_new();
  sl_catalog *catalog = NULL;
  sl_status status = sl_catalog_load_dir(work, NULL, &catalog, problems);
  int failures = 0;
  if (status == SL_OK || catalog != NULL) {
    fprintf(stderr, "%s: loaded, but it is invalid\n", name);
    failures++;
  }
  char expected_path[4200];
  snprintf(expected_path, sizeof expected_path, "%s/expected", case_dir);
  char *expected = test_read_file(expected_path, NULL);
  assert_non_null(expected);
  int expected_lines = 0;
  for (char *line = strtok(expected, "\n"); line != NULL; line = strtok(NULL, "\n")) {
    expected_lines++;
    bool found = false;
    for (size_t i = 0; i < sl_diag_count(problems) && !found; i++) {
      const char *message = sl_diag_message(problems, i);
      /* A message is "WORK/FILE:LINE:COL: PATH: text": the expected line is a
       * part of it that starts right after "WORK/". */
      size_t work_length = strlen(work);
      found = strncmp(message, work, work_length) == 0 && message[work_length] == '/' &&
              strstr(message + work_length + 1, line) == message + work_length + 1;
      if (!found && line[0] == ':') { /* a continuation: matches anywhere */
        found = strstr(message, line) != NULL;
      }
    }
    if (!found) {
      fprintf(stderr, "%s: expected a problem starting\n    %s/%s\n  got:\n", name, work, line);
      for (size_t i = 0; i < sl_diag_count(problems); i++) {
        fprintf(stderr, "    %s\n", sl_diag_message(problems, i));
      }
      failures++;
    }
  }
  assert_true(expected_lines > 0);
  free(expected);
  sl_diag_free(problems);
  sl_catalog_free(catalog);
  return failures;
}

static void every_bad_case_reports_its_problem(void **state) {
  (void)state;
  DIR *dir = opendir(BAD_DIR);
  assert_non_null(dir);
  int cases = 0;
  int failures = 0;
  for (struct dirent *entry = readdir(dir); entry != NULL; entry = readdir(dir)) {
    if (entry->d_name[0] == '.') {
      continue;
    }
    cases++;
    failures += run_case(entry->d_name);
  }
  closedir(dir);
  fprintf(stderr, "%d bad schema sets checked, %d failures\n", cases, failures);
  assert_true(cases >= 30);
  assert_int_equal(failures, 0);
}

static void one_run_reports_every_problem(void **state) {
  (void)state;
  /* Three independent problems in three files: all three are reported. */
  const char *work = test_temp_dir("catalog-many");
  char command[8192];
  snprintf(command, sizeof command, "cp '%s'/schemas/stream-vs-trace/*.json '%s'/",
           SPANLAB_SOURCE_DIR, work);
  assert_int_equal(system(command), 0);
  snprintf(command, sizeof command,
           "sed -i 's/\"shard_num\": 2/\"shard_num\": 0/' '%s/group.json' && "
           "sed -i 's/\"TAG_TYPE_STRING\"/\"TAG_TYPE_TEXT\"/' '%s/trace_schema.json' && "
           "sed -i 's/2030-01-01/2020-01-01/' '%s/stream_index_rule_bindings.json'",
           work, work, work);
  assert_int_equal(system(command), 0);
  sl_diag *problems = sl_diag_new();
  sl_catalog *catalog = NULL;
  assert_int_equal(sl_catalog_load_dir(work, NULL, &catalog, problems), SL_ERR_INVALID);
  assert_null(catalog);
  int shard = 0, tag_type = 0, window = 0;
  for (size_t i = 0; i < sl_diag_count(problems); i++) {
    const char *message = sl_diag_message(problems, i);
    shard += strstr(message, "group.json") && strstr(message, "shard_num must be at least 1");
    tag_type += strstr(message, "trace_schema.json") && strstr(message, "TAG_TYPE_TEXT");
    window += strstr(message, "stream_index_rule_bindings.json") &&
              strstr(message, "begin_at must be before expire_at");
  }
  assert_int_equal(shard, 2);     /* both groups */
  assert_int_equal(tag_type, 7);  /* each of the trace's 7 string tags */
  assert_int_equal(window, 1);
  sl_diag_free(problems);
}

static void a_file_instead_of_a_directory_is_an_error(void **state) {
  (void)state;
  sl_diag *problems = sl_diag_new();
  sl_catalog *catalog = NULL;
  assert_int_equal(sl_catalog_load_dir(SPANLAB_SOURCE_DIR "/schemas/stream-vs-trace/group.json",
                                       NULL, &catalog, problems),
                   SL_ERR_IO);
  assert_int_equal(sl_diag_count(problems), 1);
  assert_non_null(strstr(sl_diag_message(problems, 0), "not a directory"));
  sl_diag_free(problems);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_bad_case_reports_its_problem),
      cmocka_unit_test(one_run_reports_every_problem),
      cmocka_unit_test(a_file_instead_of_a_directory_is_an_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
