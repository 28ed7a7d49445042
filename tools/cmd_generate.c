/* cmd_generate.c: `spanlab generate`: deterministic SkyWalking span files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/options.h"
#include "cli.h"
#include "common/progress.h"
#include "spanlab/gen.h"
#include "spanlab/spanfile.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: spanlab generate --scale small|medium|large [OPTIONS] --format ndjson|bin --out FILE\n"
          "       spanlab generate --stats FILE\n\n"
          "Writes the profile's spans to FILE, byte-identical for the same profile and seed whatever\n"
          "--threads is, and FILE.manifest.json beside it (profile, seed, counts, bytes, checksum).\n"
          "--stats reads any span file (either format) and prints what shows it matches the seed.\n\n"
          "profile (defaults from --scale; small: 100,000 spans, 100 services, 500 instances, 1h):\n"
          "  --spans N            exact number of spans (10k, 2m accepted)\n"
          "  --services N         services, at most 1000000 (Zipfian: the top 20%% start ~80%% of traces)\n"
          "  --instances N        service instances, spread over the services\n"
          "  --time-range DUR     span of trace start times: 90s, 30m, 1h, 7d\n"
          "  --start TIME         first trace start, RFC 3339 (default 2025-01-01T00:00:00Z)\n"
          "  --seed N             random seed (default 42)\n"
          "  --error-rate F       share of error spans (default 0.05)\n"
          "  --operations N       distinct operation names, at most 1000000 (default 1000)\n"
          "  --payload-bytes N    mean dataBinary size aimed at (default 5000)\n"
          "output:\n"
          "  --format ndjson|bin  NDJSON (one object per span) or the framed binary format\n"
          "  --out FILE           the span file to write\n"
          "  --threads N          generator threads (default: the number of cores)\n"
          "  --quiet              no progress\n");
}

static void show_progress(void *context, uint64_t done, uint64_t total) {
  (void)total;
  sl_progress_update(context, done);
}

static int print_stats(const char *path) {
  sl_spanfile_stats stats;
  sl_error err;
  if (sl_spanfile_stats_read(path, &stats, &err) != SL_OK) {
    fprintf(stderr, "spanlab generate --stats: %s\n", err.message);
    return CLI_EXIT_FAILED;
  }
  printf("%s\n", path);
  sl_spanfile_stats_print(&stats, stdout);
  return CLI_EXIT_OK;
}

int cmd_generate(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    usage(stdout);
    return CLI_EXIT_OK;
  }
  const char *out_path = NULL;
  const char *stats_path = NULL;
  const char *format_name = NULL;
  long threads = sysconf(_SC_NPROCESSORS_ONLN);
  /* Take the generator's own options out; the profile options are shared with bench. */
  char *rest[128];
  int rest_count = 0;
  rest[rest_count++] = argv[0];
  bool scale_given = false;
  for (int i = 1; i < argc && rest_count < 126; i++) {
    bool has_value = i + 1 < argc;
    if (strcmp(argv[i], "--out") == 0 && has_value) {
      out_path = argv[++i];
    } else if (strcmp(argv[i], "--stats") == 0 && has_value) {
      stats_path = argv[++i];
    } else if (strcmp(argv[i], "--format") == 0 && has_value) {
      format_name = argv[++i];
    } else if (strcmp(argv[i], "--threads") == 0 && has_value) {
      char *end = NULL;
      threads = strtol(argv[++i], &end, 10);
      if (*end != '\0' || threads < 1 || threads > 64) {
        fprintf(stderr, "spanlab generate: --threads expects 1 to 64, not \"%s\"\n", argv[i]);
        return CLI_EXIT_USAGE;
      }
    } else {
      scale_given = scale_given || strcmp(argv[i], "--scale") == 0;
      rest[rest_count++] = argv[i];
    }
  }
  if (stats_path != NULL) {
    return print_stats(stats_path);
  }
  sl_bench_options options;
  sl_bench_options_defaults(&options);
  sl_error err;
  if (sl_bench_options_parse(&options, rest_count, rest, &err) != SL_OK) {
    fprintf(stderr, "spanlab generate: %s\n", err.message);
    return CLI_EXIT_USAGE;
  }
  if (out_path == NULL || format_name == NULL || !scale_given) {
    fprintf(stderr, "spanlab generate: --scale, --format and --out are required (see --help)\n");
    return CLI_EXIT_USAGE;
  }
  sl_spanfile_format format;
  if (!sl_spanfile_format_parse(format_name, &format)) {
    fprintf(stderr, "spanlab generate: --format expects ndjson or bin, not \"%s\"\n", format_name);
    return CLI_EXIT_USAGE;
  }
  sl_gen_profile profile;
  if (sl_bench_options_profile(&options, &profile, &err) != SL_OK) {
    fprintf(stderr, "spanlab generate: %s\n", err.message);
    return CLI_EXIT_USAGE;
  }
  sl_progress progress;
  sl_progress_start(&progress, "generate", "spans", profile.spans, !options.quiet);
  sl_gen_manifest manifest;
  sl_status status = sl_gen_write_file(&profile, (int)format, out_path, (int)threads, show_progress,
                                       &progress, &manifest, &err);
  sl_progress_finish(&progress);
  if (status != SL_OK) {
    fprintf(stderr, "spanlab generate: %s\n", err.message);
    return CLI_EXIT_FAILED;
  }
  printf("%s: %llu spans in %llu traces, %.1f MB (%.1f MB of dataBinary, mean %.0f bytes), "
         "%.2f s, %.0f spans/s; checksum %016llx; manifest %s.manifest.json\n",
         out_path, (unsigned long long)manifest.spans, (unsigned long long)manifest.traces,
         (double)manifest.file_bytes / 1e6, (double)manifest.data_binary_bytes / 1e6,
         (double)manifest.data_binary_bytes / (double)(manifest.spans ? manifest.spans : 1),
         manifest.seconds, (double)manifest.spans / manifest.seconds,
         (unsigned long long)manifest.span_checksum, out_path);
  return CLI_EXIT_OK;
}
