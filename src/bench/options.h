/* options.h: what `spanlab bench` and `spanlab run` take (docs/RESULTS.md
 * "parameters" records all of it).  Plain data; strings point into argv or
 * static storage and are not owned. */
#ifndef SPANLAB_BENCH_OPTIONS_H
#define SPANLAB_BENCH_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spanlab/backend.h"
#include "spanlab/error.h"

enum { SL_BENCH_MAX_MODELS = 8, SL_BENCH_MAX_SWEEP = 8 };

typedef enum sl_bench_label {
  SL_LABEL_SCHEMA = 1 << 0,
  SL_LABEL_WRITE = 1 << 1,
  SL_LABEL_QUERY = 1 << 2,
  SL_LABEL_STORAGE = 1 << 3,
  SL_LABEL_MEMORY = 1 << 4,
  SL_LABEL_CONSISTENCY = 1 << 5,
  SL_LABEL_ALL = (1 << 6) - 1
} sl_bench_label;

typedef struct sl_bench_options {
  const char *scale;          /* small, medium, large, custom */
  const char *models[SL_BENCH_MAX_MODELS];
  size_t model_count;
  unsigned labels;            /* sl_bench_label bits */
  const char *focus;          /* POSIX extended regex over benchmark names, or NULL */
  int iterations;
  const char *out_dir;
  const char *schema_dir;
  /* Generator overrides: negative / NULL = the profile's value. */
  int64_t spans;
  int64_t services;
  int64_t instances;
  int64_t time_range_ms;
  const char *start;          /* RFC 3339 */
  int64_t seed;
  double error_rate;
  int64_t operations;
  int64_t payload_bytes;
  /* Sweeps. */
  int writers[SL_BENCH_MAX_SWEEP];
  size_t writer_count;
  int batch_sizes[SL_BENCH_MAX_SWEEP];
  size_t batch_size_count;
  int query_repetitions;
  int query_concurrency[SL_BENCH_MAX_SWEEP];
  size_t query_concurrency_count;
  sl_sync_mode sync_mode;
  bool keep_stores;
  bool quiet;
} sl_bench_options;

/* Defaults: small scale, stream+trace+sqlite, every label, 3 iterations,
 * writers 1,10,100,1000, batches 1,10,100,1000,10000, sync batch. */
void sl_bench_options_defaults(sl_bench_options *options);

/* Parses argv[1..] (argv[0] is the command name) into options; an error
 * names the option and what it expects. */
sl_status sl_bench_options_parse(sl_bench_options *options, int argc, char **argv, sl_error *err);

/* The generator profile the options describe: the scale's profile with every
 * override applied ("custom" when anything is overridden). */
struct sl_gen_profile;
sl_status sl_bench_options_profile(const sl_bench_options *options, struct sl_gen_profile *profile,
                                   sl_error *err);

#endif
