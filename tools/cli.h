/* cli.h: what every `spanlab` subcommand shares.  Exit codes: 0 success,
 * 1 the job ran and found a problem (bad schema, failed check), 2 usage error
 * or a job that is not available. */
#ifndef SPANLAB_TOOLS_CLI_H
#define SPANLAB_TOOLS_CLI_H

#include <stdbool.h>

enum { CLI_EXIT_OK = 0, CLI_EXIT_FAILED = 1, CLI_EXIT_USAGE = 2 };

typedef int (*cli_command_fn)(int argc, char **argv);

/* True if argv[1..] holds -h or --help. */
bool cli_wants_help(int argc, char **argv);

/* True, after saying so on stderr, if an option (an argument "--NAME") occurs twice in argv[1..]:
 * the parsers would take the last value without a word. */
bool cli_refuse_repeated_options(const char *command, int argc, char **argv);

/* The directory of the shipped schemas: $SPANLAB_SCHEMAS, else the source tree's. */
const char *cli_default_schema_dir(void);

/* Loads the schema set in dir for `spanlab COMMAND`; on failure prints every problem and a line
 * saying so, and returns NULL. The caller frees the catalog with sl_catalog_free. */
struct sl_catalog;
struct sl_catalog *cli_load_catalog(const char *command, const char *dir);

int cmd_run(int argc, char **argv);
int cmd_schema(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_inspect(int argc, char **argv);

#endif
