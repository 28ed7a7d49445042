/* cmd_inspect.c: `spanlab inspect`. */
#include <stdio.h>

#include "cli.h"

int cmd_inspect(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    printf("usage: spanlab inspect [OPTIONS]\n\nPrints the storage breakdown of an existing store (--data DIR).\n\nNot available yet: arrives with issue #8.\n");
    return CLI_EXIT_OK;
  }
  return cli_not_yet("inspect", 8, "Store inspection");
}
