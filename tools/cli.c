/* cli.c: helpers shared by the subcommands. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spanlab/catalog.h"

bool cli_wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      return true;
    }
  }
  return false;
}

bool cli_refuse_repeated_options(const char *command, int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0') {
      continue;
    }
    for (int j = 1; j < i; j++) {
      if (strcmp(argv[i], argv[j]) == 0) {
        fprintf(stderr, "spanlab %s: %s is given twice (arguments %d and %d); give each option once\n", command,
                argv[i], j, i);
        return true;
      }
    }
  }
  return false;
}

const char *cli_default_schema_dir(void) {
  const char *from_env = getenv("SPANLAB_SCHEMAS");
  if (from_env != NULL && from_env[0] != '\0') {
    return from_env;
  }
  return SPANLAB_SOURCE_DIR "/schemas/stream-vs-trace";
}

sl_catalog *cli_load_catalog(const char *command, const char *dir) {
  sl_diag *problems = sl_diag_new();
  sl_catalog *catalog = NULL;
  if (sl_catalog_load_dir(dir, NULL, &catalog, problems) != SL_OK) {
    for (size_t i = 0; i < sl_diag_count(problems); i++) {
      fprintf(stderr, "%s\n", sl_diag_message(problems, i));
    }
    fprintf(stderr, "spanlab %s: the schema set %s does not load (run spanlab schema check)\n", command, dir);
    catalog = NULL;
  }
  sl_diag_free(problems);
  return catalog;
}
