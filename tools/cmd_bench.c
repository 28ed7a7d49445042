/* cmd_bench.c: `spanlab bench`. */
#include <stdio.h>

#include "cli.h"

int cmd_bench(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    printf("usage: spanlab bench [OPTIONS]\n\nRuns write, query, storage and memory benchmarks (--scale, --models, --label, --focus, --iterations, --out).\n\nNot available yet: arrives with issue #7.\n");
    return CLI_EXIT_OK;
  }
  return cli_not_yet("bench", 7, "The benchmark runner");
}
