/* cmd_run.c: `spanlab run`. */
#include <stdio.h>

#include "cli.h"

int cmd_run(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    printf("usage: spanlab run [OPTIONS]\n\nRuns the benchmark at small scale on the stream, trace and SQLite backends and writes the report.\n\nNot available yet: arrives with issue #7.\n");
    return CLI_EXIT_OK;
  }
  return cli_not_yet("run", 7, "The main job (bench at small scale with stream, trace and sqlite, then the report)");
}
