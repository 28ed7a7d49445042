/* main.c: `spanlab SUBCOMMAND ...` dispatch. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct command {
  const char *name;
  cli_command_fn run;
  const char *summary;
} command;

static const command commands[] = {
    {"run", cmd_run, "the main job: bench at small scale, stream vs trace vs baseline, report"},
    {"schema", cmd_schema, "check or show a schema set (groups, subjects, index rules, bindings)"},
    {"generate", cmd_generate, "write a deterministic SkyWalking span file, or print its statistics"},
    {"load", cmd_load, "load a span file into a stream or trace store"},
    {"query", cmd_query, "run a BanyanDB QueryRequest (JSON) against a store"},
    {"bench", cmd_bench, "write, query, storage and memory benchmarks"},
    {"report", cmd_report, "turn results.json files into Markdown and HTML reports"},
    {"inspect", cmd_inspect, "storage breakdown of an existing store"},
};

static void usage(FILE *out) {
  fprintf(out,
          "spanlab %s: measure BanyanDB's Stream model against its Trace model for SkyWalking spans.\n\n"
          "usage: spanlab COMMAND [OPTIONS]\n\ncommands:\n",
          SPANLAB_VERSION);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
  }
  fprintf(out, "\n'spanlab COMMAND --help' describes each command.\n");
}

int main(int argc, char **argv) {
  /* A file size limit (ulimit -f) is a write error to report, naming the file, not a death. */
  signal(SIGXFSZ, SIG_IGN);
  if (argc < 2) {
    usage(stderr);
    return CLI_EXIT_USAGE;
  }
  if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return CLI_EXIT_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("spanlab %s\n", SPANLAB_VERSION);
    return CLI_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    if (strcmp(argv[1], commands[i].name) == 0) {
      if (!cli_wants_help(argc - 1, argv + 1) && cli_refuse_repeated_options(commands[i].name, argc - 1, argv + 1)) {
        return CLI_EXIT_USAGE;
      }
      return commands[i].run(argc - 1, argv + 1);
    }
  }
  fprintf(stderr, "spanlab: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return CLI_EXIT_USAGE;
}
