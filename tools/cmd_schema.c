/* cmd_schema.c: `spanlab schema check|show [DIR]`. */
#include <stdio.h>

#include "cli.h"

int cmd_schema(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cli_not_yet("schema", 3, "The schema catalog");
}
