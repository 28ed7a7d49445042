/*
 * spanlab/catalog.h: the schema catalog, the one source of schemas for the
 * engines, the generator and the benchmarks.
 *
 * A catalog is loaded from a directory holding the seed's seven files, in the
 * seed's seven steps, each verified after it (docs/CATALOG.md):
 *   1 group.json                        groups (common.v1.Group)
 *   2 stream_schema.json                streams (database.v1.Stream)
 *   3 trace_schema.json                 traces (database.v1.Trace)
 *   4 stream_index_rules.json           index rules of stream groups (database.v1.IndexRule)
 *   5 trace_index_rules.json            index rules of trace groups
 *   6 stream_index_rule_bindings.json   bindings of stream subjects (database.v1.IndexRuleBinding)
 *   7 trace_index_rule_bindings.json    bindings of trace subjects
 * Each file holds one object or an array of objects in BanyanDB's protojson
 * (camelCase or snake_case keys, enum names or numbers, RFC 3339 timestamps).
 *
 * Ownership: the sl_catalog owns every struct and string reachable from the
 * pointers it hands out; they stay valid and unchanged until sl_catalog_free.
 * A loaded catalog is immutable and safe to read from many threads.
 */
#ifndef SPANLAB_CATALOG_H
#define SPANLAB_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spanlab/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sl_catalog_kind {
  SL_CATALOG_UNSPECIFIED = 0,
  SL_CATALOG_STREAM = 1,
  SL_CATALOG_MEASURE = 2,
  SL_CATALOG_PROPERTY = 3,
  SL_CATALOG_TRACE = 4
} sl_catalog_kind;

typedef enum sl_tag_type {
  SL_TAG_UNSPECIFIED = 0,
  SL_TAG_STRING = 1,
  SL_TAG_INT = 2,
  SL_TAG_STRING_ARRAY = 3,
  SL_TAG_INT_ARRAY = 4,
  SL_TAG_DATA_BINARY = 5,
  SL_TAG_TIMESTAMP = 6
} sl_tag_type;

typedef enum sl_interval_unit {
  SL_UNIT_UNSPECIFIED = 0,
  SL_UNIT_HOUR = 1,
  SL_UNIT_DAY = 2
} sl_interval_unit;

typedef enum sl_index_type {
  SL_INDEX_UNSPECIFIED = 0,
  SL_INDEX_INVERTED = 1,
  SL_INDEX_SKIPPING = 2,
  SL_INDEX_TREE = 3
} sl_index_type;

typedef struct sl_interval {
  sl_interval_unit unit;
  uint32_t num;
} sl_interval;

typedef struct sl_group {
  const char *name;
  sl_catalog_kind catalog;
  uint32_t shard_num;
  sl_interval segment_interval;
  sl_interval ttl;
  uint32_t replicas;
} sl_group;

typedef struct sl_tag_spec {
  const char *name;
  sl_tag_type type;
  uint32_t family_index; /* stream: index of its tag family; trace: 0 */
  uint32_t tag_index;    /* position in the subject's flat tag list (all families in order) */
} sl_tag_spec;

typedef struct sl_tag_family_spec {
  const char *name;
  size_t tag_count;
  const sl_tag_spec *tags;
} sl_tag_family_spec;

typedef struct sl_stream_schema {
  const char *group;
  const char *name;
  size_t family_count;
  const sl_tag_family_spec *families;
  size_t tag_count;           /* all tags of all families, in schema order */
  const sl_tag_spec *tags;
  size_t entity_count;
  const char *const *entity_tags; /* entity.tag_names, in order */
} sl_stream_schema;

typedef struct sl_trace_schema {
  const char *group;
  const char *name;
  size_t tag_count;
  const sl_tag_spec *tags;
  const char *trace_id_tag;  /* trace_id_tag_name: a string tag */
  const char *timestamp_tag; /* timestamp_tag_name: an int or timestamp tag */
  const char *span_id_tag;   /* span_id_tag_name, or NULL when the schema has none */
} sl_trace_schema;

typedef struct sl_index_rule {
  const char *group;
  const char *name;
  size_t tag_count;
  const char *const *tags;
  sl_index_type type;
  const char *analyzer; /* "" when none */
  bool no_sort;
} sl_index_rule;

typedef struct sl_index_binding {
  const char *group;
  const char *name;
  size_t rule_count;
  const char *const *rules;
  sl_catalog_kind subject_catalog;
  const char *subject_name;
  int64_t begin_at_ns; /* validity window [begin_at, expire_at) */
  int64_t expire_at_ns;
} sl_index_binding;

typedef struct sl_catalog sl_catalog;

/* Called after each of the seven steps, with a one-line summary of what was
 * loaded and verified ("groups: 2 loaded and verified (...)"). */
typedef void (*sl_catalog_step_fn)(void *context, int step_number, const char *step_name,
                                   const char *file_path, bool file_present, size_t object_count,
                                   const char *summary);

typedef struct sl_catalog_load_options {
  sl_catalog_step_fn on_step; /* may be NULL */
  void *context;
} sl_catalog_load_options;

/* Loads and verifies the schema set in directory dir.  On success *out is a new
 * catalog (free it with sl_catalog_free) and problems is untouched.  Otherwise
 * every problem found is added to problems, each as
 * "FILE:LINE:COL: JSON.PATH: what is wrong and what was expected", *out is
 * NULL, and the return is SL_ERR_INVALID (or SL_ERR_IO, SL_ERR_NOMEM).
 * A missing file is reported as a problem only when a later step needs it:
 * group.json is always needed. */
sl_status sl_catalog_load_dir(const char *dir, const sl_catalog_load_options *options,
                              sl_catalog **out, sl_diag *problems);

void sl_catalog_free(sl_catalog *catalog);

size_t sl_catalog_group_count(const sl_catalog *catalog);
const sl_group *sl_catalog_group_at(const sl_catalog *catalog, size_t index);
const sl_group *sl_catalog_find_group(const sl_catalog *catalog, const char *name);

size_t sl_catalog_stream_count(const sl_catalog *catalog);
const sl_stream_schema *sl_catalog_stream_at(const sl_catalog *catalog, size_t index);
const sl_stream_schema *sl_catalog_find_stream(const sl_catalog *catalog, const char *group,
                                               const char *name);

size_t sl_catalog_trace_count(const sl_catalog *catalog);
const sl_trace_schema *sl_catalog_trace_at(const sl_catalog *catalog, size_t index);
const sl_trace_schema *sl_catalog_find_trace(const sl_catalog *catalog, const char *group,
                                             const char *name);

size_t sl_catalog_rule_count(const sl_catalog *catalog);
const sl_index_rule *sl_catalog_rule_at(const sl_catalog *catalog, size_t index);
const sl_index_rule *sl_catalog_find_rule(const sl_catalog *catalog, const char *group,
                                          const char *name);

size_t sl_catalog_binding_count(const sl_catalog *catalog);
const sl_index_binding *sl_catalog_binding_at(const sl_catalog *catalog, size_t index);

/* The index rules bound to subject (kind, group, name) by bindings valid at
 * time at_ns, in binding order then rule order, without duplicates.  Writes up
 * to max_rules pointers into rules and returns how many are bound in total. */
size_t sl_catalog_bound_rules(const sl_catalog *catalog, sl_catalog_kind kind, const char *group,
                              const char *subject, int64_t at_ns, const sl_index_rule **rules,
                              size_t max_rules);

/* Looks a tag up by name in a subject; NULL when absent. */
const sl_tag_spec *sl_stream_find_tag(const sl_stream_schema *stream, const char *tag_name);
const sl_tag_spec *sl_trace_find_tag(const sl_trace_schema *trace, const char *tag_name);

/* Length of an interval in milliseconds (0 for an unspecified unit). */
int64_t sl_interval_ms(sl_interval interval);

/* Protojson names: "TAG_TYPE_STRING", "CATALOG_TRACE", "UNIT_DAY", "TYPE_INVERTED". */
const char *sl_tag_type_name(sl_tag_type type);
const char *sl_catalog_kind_name(sl_catalog_kind kind);
const char *sl_interval_unit_name(sl_interval_unit unit);
const char *sl_index_type_name(sl_index_type type);

#ifdef __cplusplus
}
#endif

#endif /* SPANLAB_CATALOG_H */
