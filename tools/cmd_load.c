/* cmd_load.c: `spanlab load`. */
#include <stdio.h>

#include "cli.h"

int cmd_load(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    printf("usage: spanlab load [OPTIONS]\n\nLoads a span file into a stream or trace store (--model stream|trace --data DIR --input FILE).\n\nNot available yet: arrives with issue #4.\n");
    return CLI_EXIT_OK;
  }
  return cli_not_yet("load", 4, "Loading spans into a store");
}
