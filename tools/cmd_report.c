/* cmd_report.c: `spanlab report`. */
#include <stdio.h>

#include "cli.h"

int cmd_report(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    printf("usage: spanlab report [OPTIONS]\n\nWrites summary.md, detailed.md, config-guide.md and report.html from results.json files.\n\nNot available yet: arrives with issue #9.\n");
    return CLI_EXIT_OK;
  }
  return cli_not_yet("report", 9, "Reports");
}
