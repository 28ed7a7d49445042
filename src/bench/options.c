/* options.c: command-line options of the benchmark runner. */
#include "bench/options.h"

#include "common/timeutil.h"
#include "spanlab/backend.h"
#include "spanlab/gen.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

void sl_bench_options_defaults(sl_bench_options *options) {
  assert(options != NULL);
  memset(options, 0, sizeof *options);
  options->scale = "small";
  options->models[0] = "stream";
  options->models[1] = "trace";
  options->models[2] = "sqlite";
  options->model_count = 3;
  options->labels = SL_LABEL_ALL;
  options->iterations = 3;
  options->out_dir = NULL;
  options->spans = options->services = options->instances = -1;
  options->time_range_ms = options->seed = options->operations = options->payload_bytes = -1;
  options->error_rate = -1;
  static const int writers[] = {1, 10, 100, 1000};
  memcpy(options->writers, writers, sizeof writers);
  options->writer_count = 4;
  static const int batches[] = {1, 10, 100, 1000, 10000};
  memcpy(options->batch_sizes, batches, sizeof batches);
  options->batch_size_count = 5;
  options->query_repetitions = 50;
  static const int clients[] = {1, 4, 16};
  memcpy(options->query_concurrency, clients, sizeof clients);
  options->query_concurrency_count = 3;
  options->sync_mode = SL_SYNC_BATCH;
}

static sl_status parse_int(const char *option, const char *text, int64_t minimum, int64_t maximum,
                           int64_t *out, sl_error *err) {
  char *end = NULL;
  errno = 0;
  long long value = strtoll(text, &end, 10);
  /* Accept 10k, 10m, 1g multipliers for counts. */
  if (end != NULL && end != text && (*end == 'k' || *end == 'K' || *end == 'm' || *end == 'M' ||
                                     *end == 'g' || *end == 'G') && end[1] == '\0') {
    long long multiplier = (*end == 'k' || *end == 'K') ? 1000LL
                           : (*end == 'm' || *end == 'M') ? 1000000LL : 1000000000LL;
    if (value > LLONG_MAX / multiplier || value < LLONG_MIN / multiplier) {
      errno = ERANGE; /* 18446744073709552k wrapped to 384 */
    } else {
      value *= multiplier;
    }
    end++;
  }
  if (text[0] == '\0' || end == NULL || *end != '\0' || errno != 0 || value < minimum ||
      value > maximum) {
    return sl_error_set(err, SL_ERR_INVALID, "%s expects a whole number from %lld to %lld, not \"%s\"",
                        option, (long long)minimum, (long long)maximum, text);
  }
  *out = value;
  return SL_OK;
}

/* "1h", "30m", "7d", "90s", "500ms" -> milliseconds. */
static sl_status parse_duration_ms(const char *option, const char *text, int64_t *out, sl_error *err) {
  char *end = NULL;
  errno = 0;
  double value = strtod(text, &end);
  double unit_ms = 0;
  if (end != NULL && end != text && errno == 0) {
    if (strcmp(end, "ms") == 0) unit_ms = 1;
    else if (strcmp(end, "s") == 0) unit_ms = 1000;
    else if (strcmp(end, "m") == 0) unit_ms = 60000;
    else if (strcmp(end, "h") == 0) unit_ms = 3600000;
    else if (strcmp(end, "d") == 0) unit_ms = 86400000;
    else if (strcmp(end, "w") == 0) unit_ms = 7 * 86400000.0;
  }
  /* NaN, infinities, durations past int64 milliseconds and those under one millisecond are refused
   * (they became the default, or a wrapped value, without a word). */
  double ms = value * unit_ms;
  if (unit_ms == 0 || !isfinite(value) || !(value > 0) || !(ms >= 1) || ms >= 9.2e18) {
    return sl_error_set(err, SL_ERR_INVALID,
                        "%s expects a positive duration of at least 1 ms such as 90s, 30m, 1h, 7d, not \"%s\"",
                        option, text);
  }
  *out = (int64_t)ms;
  return SL_OK;
}

/* Comma-separated list into items (at most capacity); an empty item ("stream," or "a,,b") is an
 * error, not skipped. */
static sl_status parse_list(const char *option, char *text, const char **items, size_t capacity,
                            size_t *count, sl_error *err) {
  *count = 0;
  if (text[0] == '\0') {
    return sl_error_set(err, SL_ERR_INVALID, "%s needs at least one item", option);
  }
  for (char *item = text;;) {
    char *comma = strchr(item, ',');
    if (comma != NULL) {
      *comma = '\0';
    }
    if (item[0] == '\0') {
      return sl_error_set(err, SL_ERR_INVALID, "%s: an empty item (a comma too many?)", option);
    }
    if (*count == capacity) {
      return sl_error_set(err, SL_ERR_INVALID, "%s takes at most %zu items", option, capacity);
    }
    items[(*count)++] = item;
    if (comma == NULL) {
      return SL_OK;
    }
    item = comma + 1;
  }
}

/* Every name in --models is a backend of this build (a typo would otherwise run the whole bench
 * and measure nothing for it). */
static sl_status check_models(const sl_bench_options *options, sl_error *err) {
  const char *const *kinds = sl_backend_kinds();
  for (size_t m = 0; m < options->model_count; m++) {
    for (size_t earlier = 0; earlier < m; earlier++) {
      if (strcmp(options->models[earlier], options->models[m]) == 0) {
        /* Two runs of one backend into one store directory would measure the second on the first's. */
        return sl_error_set(err, SL_ERR_INVALID, "--models: \"%s\" is named twice", options->models[m]);
      }
    }
    bool known = false;
    for (size_t k = 0; kinds[k] != NULL && !known; k++) {
      known = strcmp(kinds[k], options->models[m]) == 0;
    }
    if (!known) {
      char names[256] = "";
      for (size_t k = 0; kinds[k] != NULL; k++) {
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%s", k > 0 ? ", " : "", kinds[k]);
      }
      return sl_error_set(err, SL_ERR_INVALID, "--models: unknown backend \"%s\" (this build has %s)",
                          options->models[m], names);
    }
  }
  return SL_OK;
}

static sl_status parse_int_list(const char *option, char *text, int *items, size_t *count,
                                int64_t maximum, sl_error *err) {
  const char *words[SL_BENCH_MAX_SWEEP];
  SL_TRY(parse_list(option, text, words, SL_BENCH_MAX_SWEEP, count, err));
  for (size_t i = 0; i < *count; i++) {
    int64_t value = 0;
    SL_TRY(parse_int(option, words[i], 1, maximum, &value, err));
    items[i] = (int)value;
    for (size_t earlier = 0; earlier < i; earlier++) {
      if (items[earlier] == items[i]) { /* one benchmark name for both: the second overwrote the first */
        return sl_error_set(err, SL_ERR_INVALID, "%s: %d is named twice", option, items[i]);
      }
    }
  }
  return SL_OK;
}

static sl_status parse_labels(char *text, unsigned *labels, sl_error *err) {
  static const struct {
    const char *name;
    unsigned bit;
  } names[] = {{"schema", SL_LABEL_SCHEMA},   {"write", SL_LABEL_WRITE},
               {"query", SL_LABEL_QUERY},     {"storage", SL_LABEL_STORAGE},
               {"memory", SL_LABEL_MEMORY},   {"consistency", SL_LABEL_CONSISTENCY},
               {"all", SL_LABEL_ALL}};
  const char *words[16];
  size_t count = 0;
  SL_TRY(parse_list("--label", text, words, 16, &count, err));
  *labels = 0;
  for (size_t i = 0; i < count; i++) {
    unsigned bit = 0;
    for (size_t n = 0; n < sizeof names / sizeof names[0]; n++) {
      if (strcmp(words[i], names[n].name) == 0) {
        bit = names[n].bit;
      }
    }
    if (bit == 0) {
      return sl_error_set(err, SL_ERR_INVALID,
                          "--label: unknown label \"%s\"; expected schema, write, query, storage, "
                          "memory, consistency or all",
                          words[i]);
    }
    *labels |= bit;
  }
  return SL_OK;
}

sl_status sl_bench_options_parse(sl_bench_options *options, int argc, char **argv, sl_error *err) {
  assert(options != NULL && argv != NULL);
  for (int i = 1; i < argc; i++) {
    const char *option = argv[i];
    if (strcmp(option, "--keep") == 0) {
      options->keep_stores = true;
      continue;
    }
    if (strcmp(option, "--quiet") == 0 || strcmp(option, "-q") == 0) {
      options->quiet = true;
      continue;
    }
    if (i + 1 >= argc) {
      return sl_error_set(err, SL_ERR_INVALID, "%s: unknown option or missing value", option);
    }
    char *value = argv[++i];
    int64_t number = 0;
    if (strcmp(option, "--scale") == 0) {
      if (strcmp(value, "small") != 0 && strcmp(value, "medium") != 0 &&
          strcmp(value, "large") != 0 && strcmp(value, "custom") != 0) {
        return sl_error_set(err, SL_ERR_INVALID,
                            "--scale expects small, medium, large or custom, not \"%s\"", value);
      }
      options->scale = value;
    } else if (strcmp(option, "--models") == 0) {
      SL_TRY(parse_list("--models", value, options->models, SL_BENCH_MAX_MODELS,
                        &options->model_count, err));
      SL_TRY(check_models(options, err));
    } else if (strcmp(option, "--label") == 0 || strcmp(option, "--labels") == 0) {
      SL_TRY(parse_labels(value, &options->labels, err));
    } else if (strcmp(option, "--focus") == 0) {
      regex_t compiled;
      int rc = regcomp(&compiled, value, REG_EXTENDED | REG_NOSUB);
      if (rc != 0) {
        char reason[256];
        regerror(rc, &compiled, reason, sizeof reason);
        return sl_error_set(err, SL_ERR_INVALID, "--focus: \"%s\" is not a valid regular expression: %s",
                            value, reason);
      }
      regfree(&compiled);
      options->focus = value;
    } else if (strcmp(option, "--iterations") == 0) {
      SL_TRY(parse_int(option, value, 1, 1000, &number, err));
      options->iterations = (int)number;
    } else if (strcmp(option, "--out") == 0) {
      if (value[0] == '\0') {
        return sl_error_set(err, SL_ERR_INVALID, "--out needs a directory, not an empty value");
      }
      options->out_dir = value;
    } else if (strcmp(option, "--schemas") == 0) {
      options->schema_dir = value;
    } else if (strcmp(option, "--spans") == 0) {
      SL_TRY(parse_int(option, value, 1, 100000000000LL, &options->spans, err));
    } else if (strcmp(option, "--services") == 0) {
      SL_TRY(parse_int(option, value, 1, SL_GEN_MAX_SERVICES, &options->services, err));
    } else if (strcmp(option, "--instances") == 0) {
      SL_TRY(parse_int(option, value, 1, 1000000000, &options->instances, err));
    } else if (strcmp(option, "--time-range") == 0) {
      SL_TRY(parse_duration_ms(option, value, &options->time_range_ms, err));
    } else if (strcmp(option, "--start") == 0) {
      options->start = value;
    } else if (strcmp(option, "--seed") == 0) {
      SL_TRY(parse_int(option, value, 0, INT64_MAX, &options->seed, err));
    } else if (strcmp(option, "--error-rate") == 0) {
      char *end = NULL;
      double rate = strtod(value, &end);
      if (end == value || *end != '\0' || !(rate >= 0 && rate <= 1)) { /* NaN too */
        return sl_error_set(err, SL_ERR_INVALID, "--error-rate expects a number from 0 to 1, not \"%s\"",
                            value);
      }
      options->error_rate = rate;
    } else if (strcmp(option, "--operations") == 0) {
      SL_TRY(parse_int(option, value, 1, SL_GEN_MAX_OPERATIONS, &options->operations, err));
    } else if (strcmp(option, "--payload-bytes") == 0) {
      SL_TRY(parse_int(option, value, 0, SL_GEN_MAX_PAYLOAD_BYTES, &options->payload_bytes, err));
    } else if (strcmp(option, "--writers") == 0) {
      SL_TRY(parse_int_list(option, value, options->writers, &options->writer_count, 10000, err));
    } else if (strcmp(option, "--batch-sizes") == 0) {
      SL_TRY(parse_int_list(option, value, options->batch_sizes, &options->batch_size_count,
                            1000000, err));
    } else if (strcmp(option, "--query-repetitions") == 0) {
      SL_TRY(parse_int(option, value, 1, 1000000, &number, err));
      options->query_repetitions = (int)number;
    } else if (strcmp(option, "--clients") == 0) {
      SL_TRY(parse_int_list(option, value, options->query_concurrency,
                            &options->query_concurrency_count, 1024, err));
    } else if (strcmp(option, "--sync") == 0) {
      if (strcmp(value, "none") == 0) {
        options->sync_mode = SL_SYNC_NONE;
      } else if (strcmp(value, "batch") == 0) {
        options->sync_mode = SL_SYNC_BATCH;
      } else if (strcmp(value, "interval") == 0) {
        options->sync_mode = SL_SYNC_INTERVAL;
      } else if (strcmp(value, "off") == 0) {
        options->sync_mode = SL_SYNC_OFF;
      } else {
        return sl_error_set(err, SL_ERR_INVALID, "--sync expects none, batch, interval or off, not \"%s\"",
                            value);
      }
    } else {
      return sl_error_set(err, SL_ERR_INVALID, "%s: unknown option (see spanlab bench --help)",
                          option);
    }
  }
  return SL_OK;
}

sl_status sl_bench_options_profile(const sl_bench_options *options, sl_gen_profile *profile,
                                   sl_error *err) {
  const char *base = strcmp(options->scale, "custom") == 0 ? "small" : options->scale;
  SL_TRY(sl_gen_profile_init(profile, base, err));
  bool customized = false;
  if (options->spans > 0) { profile->spans = (uint64_t)options->spans; customized = true; }
  if (options->services > 0) { profile->services = (uint32_t)options->services; customized = true; }
  if (options->instances > 0) { profile->instances = (uint32_t)options->instances; customized = true; }
  if (options->time_range_ms > 0) { profile->time_range_ms = options->time_range_ms; customized = true; }
  if (options->seed >= 0) { profile->seed = (uint64_t)options->seed; }
  if (options->error_rate >= 0) { profile->error_rate = options->error_rate; customized = true; }
  if (options->operations > 0) { profile->operations = (uint32_t)options->operations; customized = true; }
  if (options->payload_bytes >= 0) { profile->payload_bytes = (uint32_t)options->payload_bytes; customized = true; }
  if (options->start != NULL) {
    int64_t start_ns = 0;
    if (sl_rfc3339_parse_ns(options->start, &start_ns, err) != SL_OK) {
      return sl_error_prefix(err, "--start");
    }
    profile->start_ms = start_ns / 1000000;
    customized = true;
  }
  if (customized || strcmp(options->scale, "custom") == 0) {
    snprintf(profile->scale, sizeof profile->scale, "custom");
  }
  return sl_gen_profile_validate(profile, err);
}
