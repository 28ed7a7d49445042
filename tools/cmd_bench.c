/* cmd_bench.c: `spanlab bench` and `spanlab run`. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "bench/runner.h"
#include "cli.h"
#include "common/timeutil.h"
#include "spanlab/report.h"

static void usage(FILE *out, const char *name) {
  fprintf(out,
          "usage: spanlab %s [OPTIONS]\n\n"
          "Generates the profile's spans once per iteration and loads identical data into each\n"
          "backend, measuring writes (sequential load; concurrent writers; batch sizes), checking\n"
          "that every store holds exactly the generated spans (count and checksum), and recording\n"
          "storage size. Writes OUT/results.json (docs/RESULTS.md) after every step, prints a summary.\n"
          "`spanlab run` is `spanlab bench` with the defaults below, then `spanlab report` into OUT.\n\n"
          "  --scale small|medium|large|custom   profile (default small: 100,000 spans)\n"
          "  --models LIST       backends, default stream,trace,sqlite; the order rotates: iteration\n"
          "                      i (from 0) starts with backend i mod n of the n\n"
          "  --label LIST        schema,write,query,storage,memory,consistency (default all)\n"
          "  --focus REGEX       only benchmarks whose name matches (e.g. '^write/sequential')\n"
          "  --iterations K      default 3\n"
          "  --out DIR           default results/<UTC time>; a DIR that holds a results.json is refused\n"
          "  --writers LIST      concurrent writers, default 1,10,100,1000\n"
          "  --batch-sizes LIST  default 1,10,100,1000,10000\n"
          "  --sync none|batch|interval|off   durability of acknowledged writes (default batch);\n"
          "                      off: the engines keep no WAL (BanyanDB's behaviour), SQLite as none\n"
          "  --keep              keep the stores under OUT/stores\n"
          "  --quiet             no progress or summary\n"
          "  generator options as `spanlab generate`: --spans --services --instances --time-range\n"
          "  --start --seed --error-rate --operations --payload-bytes\n",
          name);
}

/* `spanlab run` ends with the report, next to results.json (docs/REPORTS.md). */
static int report_after_run(const char *out_dir) {
  char results[4200];
  snprintf(results, sizeof results, "%s/results.json", out_dir);
  const char *paths[] = {results};
  sl_error err;
  if (sl_report_write(paths, 1, out_dir, &err) != SL_OK) {
    fprintf(stderr, "spanlab run: report: %s\n", err.message);
    return CLI_EXIT_FAILED;
  }
  fprintf(stderr, "report: %s/summary.md, detailed.md, config-guide.md, report.html\n", out_dir);
  return CLI_EXIT_OK;
}

static int run_bench(int argc, char **argv, const char *name, bool report) {
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
  /* The report needs to know the run's directory: name the runner's default here. */
  char out_dir[4096];
  if (report && options.out_dir == NULL) {
    char stamp[40];
    sl_rfc3339_format_ns(sl_wall_clock_ns() / 1000000000 * 1000000000, stamp, sizeof stamp);
    for (char *c = stamp; *c != '\0'; c++) {
      *c = *c == ':' ? '-' : *c;
    }
    snprintf(out_dir, sizeof out_dir, "results/%s", stamp);
    options.out_dir = out_dir;
  }
  if (options.out_dir != NULL) {
    /* An earlier run's results are not overwritten. */
    char earlier[4200];
    struct stat info;
    snprintf(earlier, sizeof earlier, "%s/results.json", options.out_dir);
    if (stat(earlier, &info) == 0) {
      fprintf(stderr, "spanlab %s: %s already holds results.json (an earlier run's); give another --out, or remove it\n",
              name, options.out_dir);
      return CLI_EXIT_USAGE;
    }
  }
  if (sl_bench_run(&options, &err) != SL_OK) {
    fprintf(stderr, "spanlab %s: %s\n", name, err.message);
    return CLI_EXIT_FAILED;
  }
  return report ? report_after_run(options.out_dir) : CLI_EXIT_OK;
}

int cmd_bench(int argc, char **argv) { return run_bench(argc, argv, "bench", false); }

int cmd_run(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    usage(stdout, "run");
    return CLI_EXIT_OK;
  }
  return run_bench(argc, argv, "run", true);
}
