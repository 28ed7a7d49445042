/* catalog.c: read access to a loaded catalog. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_internal.h"

bool sl_catalog_reserve(void **items, const char ***origins, size_t *capacity, size_t count,
                        size_t item_bytes) {
  if (count < *capacity) {
    return true;
  }
  size_t grown_capacity = *capacity == 0 ? 8 : *capacity * 2;
  void *grown_items = realloc(*items, grown_capacity * item_bytes);
  if (grown_items == NULL) {
    return false;
  }
  *items = grown_items;
  const char **grown_origins = realloc((void *)*origins, grown_capacity * sizeof(char *));
  if (grown_origins == NULL) {
    return false;
  }
  *origins = grown_origins;
  *capacity = grown_capacity;
  return true;
}

void sl_catalog_free(sl_catalog *catalog) {
  if (catalog == NULL) {
    return;
  }
  free(catalog->groups);
  free((void *)catalog->group_origins);
  free(catalog->streams);
  free((void *)catalog->stream_origins);
  free(catalog->traces);
  free((void *)catalog->trace_origins);
  free(catalog->rules);
  free((void *)catalog->rule_origins);
  free(catalog->bindings);
  free((void *)catalog->binding_origins);
  sl_arena_free(catalog->arena);
  free(catalog);
}

size_t sl_catalog_group_count(const sl_catalog *catalog) { return catalog->group_count; }

const sl_group *sl_catalog_group_at(const sl_catalog *catalog, size_t index) {
  assert(index < catalog->group_count);
  return &catalog->groups[index];
}

const sl_group *sl_catalog_find_group(const sl_catalog *catalog, const char *name) {
  assert(catalog != NULL && name != NULL);
  for (size_t i = 0; i < catalog->group_count; i++) {
    if (strcmp(catalog->groups[i].name, name) == 0) {
      return &catalog->groups[i];
    }
  }
  return NULL;
}

size_t sl_catalog_stream_count(const sl_catalog *catalog) { return catalog->stream_count; }

const sl_stream_schema *sl_catalog_stream_at(const sl_catalog *catalog, size_t index) {
  assert(index < catalog->stream_count);
  return &catalog->streams[index];
}

const sl_stream_schema *sl_catalog_find_stream(const sl_catalog *catalog, const char *group,
                                               const char *name) {
  assert(catalog != NULL && group != NULL && name != NULL);
  for (size_t i = 0; i < catalog->stream_count; i++) {
    if (strcmp(catalog->streams[i].group, group) == 0 && strcmp(catalog->streams[i].name, name) == 0) {
      return &catalog->streams[i];
    }
  }
  return NULL;
}

size_t sl_catalog_trace_count(const sl_catalog *catalog) { return catalog->trace_count; }

const sl_trace_schema *sl_catalog_trace_at(const sl_catalog *catalog, size_t index) {
  assert(index < catalog->trace_count);
  return &catalog->traces[index];
}

const sl_trace_schema *sl_catalog_find_trace(const sl_catalog *catalog, const char *group,
                                             const char *name) {
  assert(catalog != NULL && group != NULL && name != NULL);
  for (size_t i = 0; i < catalog->trace_count; i++) {
    if (strcmp(catalog->traces[i].group, group) == 0 && strcmp(catalog->traces[i].name, name) == 0) {
      return &catalog->traces[i];
    }
  }
  return NULL;
}

size_t sl_catalog_rule_count(const sl_catalog *catalog) { return catalog->rule_count; }

const sl_index_rule *sl_catalog_rule_at(const sl_catalog *catalog, size_t index) {
  assert(index < catalog->rule_count);
  return &catalog->rules[index];
}

const sl_index_rule *sl_catalog_find_rule(const sl_catalog *catalog, const char *group,
                                          const char *name) {
  assert(catalog != NULL && group != NULL && name != NULL);
  for (size_t i = 0; i < catalog->rule_count; i++) {
    if (strcmp(catalog->rules[i].group, group) == 0 && strcmp(catalog->rules[i].name, name) == 0) {
      return &catalog->rules[i];
    }
  }
  return NULL;
}

size_t sl_catalog_binding_count(const sl_catalog *catalog) { return catalog->binding_count; }

const sl_index_binding *sl_catalog_binding_at(const sl_catalog *catalog, size_t index) {
  assert(index < catalog->binding_count);
  return &catalog->bindings[index];
}

size_t sl_catalog_bound_rules(const sl_catalog *catalog, sl_catalog_kind kind, const char *group,
                              const char *subject, int64_t at_ns, const sl_index_rule **rules,
                              size_t max_rules) {
  assert(catalog != NULL && group != NULL && subject != NULL);
  assert(rules != NULL || max_rules == 0);
  size_t found = 0;
  for (size_t b = 0; b < catalog->binding_count; b++) {
    const sl_index_binding *binding = &catalog->bindings[b];
    if (binding->subject_catalog != kind || strcmp(binding->group, group) != 0 ||
        strcmp(binding->subject_name, subject) != 0 || at_ns < binding->begin_at_ns ||
        at_ns >= binding->expire_at_ns) {
      continue;
    }
    for (size_t r = 0; r < binding->rule_count; r++) {
      const sl_index_rule *rule = sl_catalog_find_rule(catalog, group, binding->rules[r]);
      if (rule == NULL) {
        continue;
      }
      bool seen = false;
      for (size_t k = 0; k < found && k < max_rules; k++) {
        seen = seen || rules[k] == rule;
      }
      if (seen) {
        continue;
      }
      if (found < max_rules) {
        rules[found] = rule;
      }
      found++;
    }
  }
  return found;
}

const sl_tag_spec *sl_stream_find_tag(const sl_stream_schema *stream, const char *tag_name) {
  assert(stream != NULL && tag_name != NULL);
  for (size_t i = 0; i < stream->tag_count; i++) {
    if (strcmp(stream->tags[i].name, tag_name) == 0) {
      return &stream->tags[i];
    }
  }
  return NULL;
}

const sl_tag_spec *sl_trace_find_tag(const sl_trace_schema *trace, const char *tag_name) {
  assert(trace != NULL && tag_name != NULL);
  for (size_t i = 0; i < trace->tag_count; i++) {
    if (strcmp(trace->tags[i].name, tag_name) == 0) {
      return &trace->tags[i];
    }
  }
  return NULL;
}

int64_t sl_interval_ms(sl_interval interval) {
  switch (interval.unit) {
    case SL_UNIT_HOUR: return (int64_t)interval.num * 3600 * 1000;
    case SL_UNIT_DAY: return (int64_t)interval.num * 86400 * 1000;
    case SL_UNIT_UNSPECIFIED: return 0;
  }
  return 0;
}

const char *sl_tag_type_name(sl_tag_type type) {
  static const char *const names[] = {"TAG_TYPE_UNSPECIFIED", "TAG_TYPE_STRING",
                                      "TAG_TYPE_INT",         "TAG_TYPE_STRING_ARRAY",
                                      "TAG_TYPE_INT_ARRAY",   "TAG_TYPE_DATA_BINARY",
                                      "TAG_TYPE_TIMESTAMP"};
  return (unsigned)type < sizeof names / sizeof names[0] ? names[type] : "TAG_TYPE_?";
}

const char *sl_catalog_kind_name(sl_catalog_kind kind) {
  static const char *const names[] = {"CATALOG_UNSPECIFIED", "CATALOG_STREAM", "CATALOG_MEASURE",
                                      "CATALOG_PROPERTY", "CATALOG_TRACE"};
  return (unsigned)kind < sizeof names / sizeof names[0] ? names[kind] : "CATALOG_?";
}

const char *sl_interval_unit_name(sl_interval_unit unit) {
  static const char *const names[] = {"UNIT_UNSPECIFIED", "UNIT_HOUR", "UNIT_DAY"};
  return (unsigned)unit < sizeof names / sizeof names[0] ? names[unit] : "UNIT_?";
}

const char *sl_index_type_name(sl_index_type type) {
  static const char *const names[] = {"TYPE_UNSPECIFIED", "TYPE_INVERTED", "TYPE_SKIPPING",
                                      "TYPE_TREE"};
  return (unsigned)type < sizeof names / sizeof names[0] ? names[type] : "TYPE_?";
}
