/* cmd_bench.c: `spanlab bench` and `spanlab run`. */
#include <stdio.h>
#include <string.h>

#include "bench/runner.h"
#include "cli.h"

static void usage(FILE *out, const char *name) {
  fprintf(out,
          "usage: spanlab %s [OPTIONS]\n\n"
          "Generates the profile's spans once per iteration and loads identical data into each\n"
          "backend, measuring writes (sequential load; concurrent writers; batch sizes), checking\n"
          "that every store holds exactly the generated spans (count and checksum), and recording\n"
          "storage size. Writes OUT/results.json (docs/RESULTS.md) after every step, prints a summary.\n"
          "`spanlab run` is `spanlab bench` with the defaults below.\n\n"
          "  --scale small|medium|large|custom   profile (default small: 100,000 spans)\n"
          "  --models LIST       backends, default stream,trace,sqlite\n"
          "  --label LIST        schema,write,query,storage,memory,consistency (default all)\n"
          "  --focus REGEX       only benchmarks whose name matches (e.g. '^write/sequential')\n"
          "  --iterations K      default 3\n"
          "  --out DIR           default results/<UTC time>\n"
          "  --writers LIST      concurrent writers, default 1,10,100,1000\n"
          "  --batch-sizes LIST  default 1,10,100,1000,10000\n"
          "  --sync none|batch|interval   durability of acknowledged writes (default batch)\n"
          "  --keep              keep the stores under OUT/stores\n"
          "  --quiet             no progress or summary\n"
          "  generator options as `spanlab generate`: --spans --services --instances --time-range\n"
          "  --start --seed --error-rate --operations --payload-bytes\n",
          name);
}

static int run_bench(int argc, char **argv, const char *name) {
  if (cli_wants_help(argc, argv)) {
    usage(stdout, name);
    return CLI_EXIT_OK;
  }
  sl_bench_options options;
  sl_bench_options_defaults(&options);
  sl_error err;
  if (sl_bench_options_parse(&options, argc, argv, &err) != SL_OK) {
    fprintf(stderr, "spanlab %s: %s\n", name, err.message);
    return CLI_EXIT_USAGE;
  }
  if (sl_bench_run(&options, &err) != SL_OK) {
    fprintf(stderr, "spanlab %s: %s\n", name, err.message);
    return CLI_EXIT_FAILED;
  }
  return CLI_EXIT_OK;
}

int cmd_bench(int argc, char **argv) { return run_bench(argc, argv, "bench"); }

int cmd_run(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    usage(stdout, "run");
    return CLI_EXIT_OK;
  }
  int code = run_bench(argc, argv, "run");
  if (code == CLI_EXIT_OK) {
    fprintf(stderr, "report: Markdown and HTML reports arrive with issue #9; results.json holds every figure.\n");
  }
  return code;
}
