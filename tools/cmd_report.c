/* cmd_report.c: `spanlab report RESULTS.json... --out DIR`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "spanlab/report.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: spanlab report RESULTS.json... [--out DIR]\n\n"
          "Writes summary.md, detailed.md, config-guide.md and report.html (one self-contained page with\n"
          "interactive charts; opens offline) into DIR from one or more results.json files\n"
          "(docs/RESULTS.md). With several files: growth of each figure with dataset size, and\n"
          "regressions between runs of the same scale (docs/REPORTS.md).\n\n"
          "  --out DIR   default: the directory of the last results file\n");
}

int cmd_report(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    usage(stdout);
    return CLI_EXIT_OK;
  }
  const char *paths[SL_REPORT_MAX_RUNS];
  size_t count = 0;
  const char *out_dir = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--out") == 0) {
      if (i + 1 >= argc) {
        fprintf(stderr, "spanlab report: --out needs a directory\n");
        return CLI_EXIT_USAGE;
      }
      out_dir = argv[++i];
    } else if (strncmp(argv[i], "--", 2) == 0) {
      fprintf(stderr, "spanlab report: unknown option '%s'\n\n", argv[i]);
      usage(stderr);
      return CLI_EXIT_USAGE;
    } else if (count == SL_REPORT_MAX_RUNS) {
      fprintf(stderr, "spanlab report: at most %d results files\n", SL_REPORT_MAX_RUNS);
      return CLI_EXIT_USAGE;
    } else {
      paths[count++] = argv[i];
    }
  }
  if (count == 0) {
    fprintf(stderr, "spanlab report: give at least one results.json\n\n");
    usage(stderr);
    return CLI_EXIT_USAGE;
  }
  char default_dir[4096];
  if (out_dir == NULL) {
    const char *slash = strrchr(paths[count - 1], '/');
    snprintf(default_dir, sizeof default_dir, "%.*s", slash != NULL ? (int)(slash - paths[count - 1]) : 1,
             slash != NULL ? paths[count - 1] : ".");
    out_dir = default_dir[0] != '\0' ? default_dir : "/";
  }
  sl_error err;
  if (sl_report_write(paths, count, out_dir, &err) != SL_OK) {
    fprintf(stderr, "spanlab report: %s\n", err.message);
    return CLI_EXIT_FAILED;
  }
  printf("report: %s/summary.md, detailed.md, config-guide.md, report.html\n", out_dir);
  return CLI_EXIT_OK;
}
