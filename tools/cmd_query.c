/* cmd_query.c: `spanlab query`. */
#include <stdio.h>

#include "cli.h"

int cmd_query(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    printf("usage: spanlab query [OPTIONS]\n\nRuns a BanyanDB QueryRequest JSON file against a store (--model stream|trace --data DIR QUERY.json).\n\nNot available yet: arrives with issue #4.\n");
    return CLI_EXIT_OK;
  }
  return cli_not_yet("query", 4, "Querying a store");
}
