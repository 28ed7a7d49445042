/* cmd_schema.c: `spanlab schema check|show [DIR]`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "common/timeutil.h"
#include "spanlab/catalog.h"
#include "stream/stream.h"
#include "trace/trace.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: spanlab schema check [DIR]\n"
          "       spanlab schema show [DIR]\n\n"
          "Loads a schema set in the seed's seven steps (groups; stream schemas; trace schemas;\n"
          "stream index rules; trace index rules; stream bindings; trace bindings) and verifies\n"
          "each step. DIR holds group.json, stream_schema.json, trace_schema.json,\n"
          "stream_index_rules.json, trace_index_rules.json, stream_index_rule_bindings.json and\n"
          "trace_index_rule_bindings.json in BanyanDB's protojson; default: the shipped\n"
          "schemas/stream-vs-trace (or $SPANLAB_SCHEMAS).\n\n"
          "  check   print one line per verified step and exit 0, or every problem as\n"
          "          FILE:LINE:COL: JSON.PATH: message and exit 1; then checks that every\n"
          "          stream and trace fits the embedded engines' limits (docs/MODELS.md)\n"
          "  show    print groups, subjects, tags, index rules and bindings\n");
}

static void print_step(void *context, int step_number, const char *step_name,
                       const char *file_path, bool file_present, size_t object_count,
                       const char *summary) {
  (void)context;
  (void)object_count;
  printf("step %d/7 %-27s %s%s: %s\n", step_number, step_name, file_path,
         file_present ? "" : " (absent)", summary);
}

static void print_problems(const sl_diag *problems) {
  for (size_t i = 0; i < sl_diag_count(problems); i++) {
    fprintf(stderr, "%s\n", sl_diag_message(problems, i));
  }
}

/* The engines' own checks (tag families, stored tags, sidx rules) on every subject of a loaded
 * catalog, each problem on stderr; returns how many subjects failed. */
static size_t check_engines(const sl_catalog *catalog, const char *dir) {
  size_t failed = 0;
  size_t streams = sl_catalog_stream_count(catalog);
  size_t traces = sl_catalog_trace_count(catalog);
  for (size_t i = 0; i < streams + traces; i++) {
    bool stream = i < streams;
    const char *group = stream ? sl_catalog_stream_at(catalog, i)->group : sl_catalog_trace_at(catalog, i - streams)->group;
    const char *name = stream ? sl_catalog_stream_at(catalog, i)->name : sl_catalog_trace_at(catalog, i - streams)->name;
    sl_engine_options options;
    sl_engine_options_default(&options);
    options.catalog = catalog;
    options.group = group;
    options.name = name;
    sl_error err = {0};
    sl_status status = stream ? sl_stream_engine_check(&options, &err) : sl_trace_engine_check(&options, &err);
    if (status != SL_OK) {
      fprintf(stderr, "%s: %s %s/%s: the %s engine cannot store it: %s\n", dir, stream ? "stream" : "trace", group,
              name, stream ? "Stream" : "Trace", err.message);
      failed++;
    }
  }
  if (failed == 0) {
    printf("engines: %zu stream%s and %zu trace%s fit the embedded engines' limits\n", streams,
           streams == 1 ? "" : "s", traces, traces == 1 ? "" : "s");
  }
  return failed;
}

static void show_interval(const char *label, sl_interval interval) {
  printf("    %-17s %u %s\n", label, interval.num,
         interval.unit == SL_UNIT_DAY ? (interval.num == 1 ? "day" : "days")
                                      : (interval.num == 1 ? "hour" : "hours"));
}

static void show_rules_of(const sl_catalog *catalog, sl_catalog_kind kind, const char *group,
                          const char *subject) {
  for (size_t b = 0; b < sl_catalog_binding_count(catalog); b++) {
    const sl_index_binding *binding = sl_catalog_binding_at(catalog, b);
    if (binding->subject_catalog != kind || strcmp(binding->group, group) != 0 ||
        strcmp(binding->subject_name, subject) != 0) {
      continue;
    }
    char begin[40], expire[40];
    sl_rfc3339_format_ns(binding->begin_at_ns, begin, sizeof begin);
    sl_rfc3339_format_ns(binding->expire_at_ns, expire, sizeof expire);
    printf("    binding %s: valid %s .. %s\n", binding->name, begin, expire);
  }
}

static void show(const sl_catalog *catalog) {
  printf("groups:\n");
  for (size_t i = 0; i < sl_catalog_group_count(catalog); i++) {
    const sl_group *group = sl_catalog_group_at(catalog, i);
    printf("  %s (%s)\n    %-17s %u\n", group->name, sl_catalog_kind_name(group->catalog),
           "shards", group->shard_num);
    show_interval("segment interval", group->segment_interval);
    show_interval("ttl", group->ttl);
  }
  printf("\nstreams:\n");
  for (size_t i = 0; i < sl_catalog_stream_count(catalog); i++) {
    const sl_stream_schema *stream = sl_catalog_stream_at(catalog, i);
    printf("  %s/%s\n    entity: ", stream->group, stream->name);
    for (size_t e = 0; e < stream->entity_count; e++) {
      printf("%s%s", e ? " + " : "", stream->entity_tags[e]);
    }
    printf("\n");
    for (size_t f = 0; f < stream->family_count; f++) {
      printf("    family %s:\n", stream->families[f].name);
      for (size_t t = 0; t < stream->families[f].tag_count; t++) {
        printf("      %-20s %s\n", stream->families[f].tags[t].name,
               sl_tag_type_name(stream->families[f].tags[t].type));
      }
    }
    show_rules_of(catalog, SL_CATALOG_STREAM, stream->group, stream->name);
  }
  printf("\ntraces:\n");
  for (size_t i = 0; i < sl_catalog_trace_count(catalog); i++) {
    const sl_trace_schema *trace = sl_catalog_trace_at(catalog, i);
    printf("  %s/%s\n    trace id tag: %s, timestamp tag: %s, span id tag: %s\n", trace->group,
           trace->name, trace->trace_id_tag, trace->timestamp_tag,
           trace->span_id_tag != NULL ? trace->span_id_tag : "(none)");
    for (size_t t = 0; t < trace->tag_count; t++) {
      printf("      %-20s %s\n", trace->tags[t].name, sl_tag_type_name(trace->tags[t].type));
    }
    show_rules_of(catalog, SL_CATALOG_TRACE, trace->group, trace->name);
  }
  printf("\nindex rules:\n");
  for (size_t i = 0; i < sl_catalog_rule_count(catalog); i++) {
    const sl_index_rule *rule = sl_catalog_rule_at(catalog, i);
    printf("  %s/%s %s [", rule->group, rule->name, sl_index_type_name(rule->type));
    for (size_t t = 0; t < rule->tag_count; t++) {
      printf("%s%s", t ? ", " : "", rule->tags[t]);
    }
    printf("]");
    int bound = 0;
    for (size_t b = 0; b < sl_catalog_binding_count(catalog); b++) {
      const sl_index_binding *binding = sl_catalog_binding_at(catalog, b);
      for (size_t r = 0; r < binding->rule_count; r++) {
        if (strcmp(binding->group, rule->group) == 0 && strcmp(binding->rules[r], rule->name) == 0) {
          printf("%s%s/%s", bound++ ? ", " : " bound to ", binding->group, binding->subject_name);
        }
      }
    }
    printf("%s\n", bound ? "" : " (not bound)");
  }
}

int cmd_schema(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    usage(stdout);
    return CLI_EXIT_OK;
  }
  if (argc < 2 || argc > 3 || (strcmp(argv[1], "check") != 0 && strcmp(argv[1], "show") != 0)) {
    usage(stderr);
    return CLI_EXIT_USAGE;
  }
  bool check = strcmp(argv[1], "check") == 0;
  const char *dir = argc == 3 ? argv[2] : cli_default_schema_dir();
  sl_diag *problems = sl_diag_new();
  if (problems == NULL) {
    fprintf(stderr, "spanlab schema: out of memory\n");
    return CLI_EXIT_FAILED;
  }
  sl_catalog_load_options options = {.on_step = check ? print_step : NULL};
  sl_catalog *catalog = NULL;
  sl_status status = sl_catalog_load_dir(dir, &options, &catalog, problems);
  int exit_code = CLI_EXIT_OK;
  if (status != SL_OK) {
    print_problems(problems);
    fprintf(stderr, "spanlab schema %s: %s: %zu problem%s; the schema set was not loaded\n",
            argv[1], dir, sl_diag_count(problems), sl_diag_count(problems) == 1 ? "" : "s");
    exit_code = CLI_EXIT_FAILED;
  } else if (check) {
    size_t failed = check_engines(catalog, dir);
    if (failed == 0) {
      printf("schema set %s: all 7 steps loaded and verified\n", dir);
    } else {
      fprintf(stderr, "spanlab schema check: %s: all 7 steps loaded, but %zu subject%s do%s not fit the engines\n",
              dir, failed, failed == 1 ? "" : "s", failed == 1 ? "es" : "");
      exit_code = CLI_EXIT_FAILED;
    }
  } else {
    show(catalog);
  }
  sl_catalog_free(catalog);
  sl_diag_free(problems);
  return exit_code;
}
