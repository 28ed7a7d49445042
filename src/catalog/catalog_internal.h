/* catalog_internal.h: the catalog's storage, shared by catalog.c (accessors)
 * and load.c (the seven-step loader).  Not part of the public API. */
#ifndef SPANLAB_CATALOG_INTERNAL_H
#define SPANLAB_CATALOG_INTERNAL_H

#include <stddef.h>

#include "common/arena.h"
#include "spanlab/catalog.h"

/* Owns: the arena (every string and nested array of every object) and the
 * five top-level arrays.  Objects keep the place they were defined
 * ("FILE:LINE:COL") for messages about duplicates. */
struct sl_catalog {
  sl_arena *arena;
  sl_group *groups;
  const char **group_origins;
  size_t group_count, group_capacity;
  sl_stream_schema *streams;
  const char **stream_origins;
  size_t stream_count, stream_capacity;
  sl_trace_schema *traces;
  const char **trace_origins;
  size_t trace_count, trace_capacity;
  sl_index_rule *rules;
  const char **rule_origins;
  size_t rule_count, rule_capacity;
  sl_index_binding *bindings;
  const char **binding_origins;
  size_t binding_count, binding_capacity;
};

/* Grows the parallel arrays *items (item_bytes each) and *origins to hold one
 * more; false when out of memory. */
bool sl_catalog_reserve(void **items, const char ***origins, size_t *capacity, size_t count,
                        size_t item_bytes);

#endif
