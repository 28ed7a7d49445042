/* stream_internal.h: what stream.c and query.c share. */
#ifndef SPANLAB_STREAM_INTERNAL_H
#define SPANLAB_STREAM_INTERNAL_H

#include <stdatomic.h>

#include "storage/fileio.h"
#include "storage/part.h"
#include "storage/tsdb.h"
#include "stream/stream.h"

enum {
  SL_STREAM_MAX_TAGS = 128,
  SL_STREAM_MAX_RULES = 64,
  SL_STREAM_MAX_BLOCK_BYTES = 2 << 20, /* BanyanDB's maxUncompressedBlockSize */
  SL_STREAM_MAX_BOUND = 1 << 20        /* windows up to this keep a bounded heap of matches */
};

/* Owns the store; borrows the catalog. */
struct sl_stream_engine {
  const sl_catalog *catalog;
  const sl_stream_schema *schema;
  const sl_group *group;
  const sl_index_rule *rules[SL_STREAM_MAX_RULES];
  size_t rule_count;
  sl_part_layout layout;
  uint32_t timestamp_column;
  uint32_t element_column;
  int32_t column_of_tag[SL_STREAM_MAX_TAGS];    /* -1: an entity tag, not stored in parts */
  int32_t index_of_tag[SL_STREAM_MAX_TAGS];     /* term index of the tag's rule, -1 none */
  int32_t entity_position[SL_STREAM_MAX_TAGS];  /* 1 + position in the entity, 0 if not */
  uint32_t entity_tags[SL_PART_MAX_SERIES_VALUES];
  sl_tsdb *db;
  sl_context_pool *contexts; /* read contexts for queries */
  atomic_uint_fast64_t elements_written;
  atomic_uint_fast64_t elements_expired;
  atomic_uint_fast64_t raw_bytes_written;
  atomic_uint_fast64_t encode_ns; /* write time encoding the WAL payload (the store times the rest) */
};

sl_status sl_stream_check_elements(const sl_stream_engine *engine, const sl_element *elements, size_t count,
                                   sl_error *err);
sl_status sl_stream_route(sl_stream_engine *engine, const sl_element *elements, size_t count,
                          sl_tsdb_target **targets_out, size_t *target_count, sl_error *err);

/* The entity values of a series entry (kind byte + bytes each). */
void sl_stream_entity_values(const sl_stream_engine *engine, const sl_series_entry *entry, sl_value *out);
/* One stored value of tag t from a decoded column (arrays decoded into arena). */
sl_status sl_stream_column_value(const sl_stream_engine *engine, size_t tag, const sl_column_view *view, size_t row,
                                 sl_arena *arena, sl_value *out, sl_error *err);

#endif
