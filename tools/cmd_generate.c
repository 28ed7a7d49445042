/* cmd_generate.c: `spanlab generate`. */
#include <stdio.h>

#include "cli.h"

int cmd_generate(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    printf("usage: spanlab generate [OPTIONS]\n\nWrites a deterministic SkyWalking span file (--scale small|medium|large, --format ndjson|bin, --out FILE).\n\nNot available yet: arrives with issue #6.\n");
    return CLI_EXIT_OK;
  }
  return cli_not_yet("generate", 6, "The span generator");
}
