/* trace_internal.h: what trace.c (store, layouts, write path) and query.c
 * (queries, scan) share.  docs/FORMAT.md "Parts" has the two layouts. */
#ifndef SPANLAB_TRACE_INTERNAL_H
#define SPANLAB_TRACE_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "storage/part.h"
#include "storage/tsdb.h"
#include "trace/trace.h"

enum {
  SL_TRACE_MAX_TAGS = SL_PART_MAX_COLUMNS - 2, /* two hidden columns: timestamp, span */
  SL_TRACE_MAX_RULES = SL_TSDB_MAX_KINDS - 1,  /* kind 0 is the trace table */
  SL_TRACE_MAX_SPAN_BYTES = 2 << 20,           /* BanyanDB's maxUncompressedSpanSize */
  SL_SIDX_MAX_BLOCK_ROWS = 8192,               /* BanyanDB's sidx block element limit */
  SL_SIDX_MAX_BLOCK_BYTES = 2 << 20,
  SL_TRACE_HASH_BYTES = 8
};

/* One secondary index: table kind 1 + its position, directory "sidx-<rule>". */
typedef struct sl_trace_sidx {
  const sl_index_rule *rule;
  uint32_t kind;
  uint32_t key_tag;                                  /* flat index of the rule's last tag */
  bool key_is_timestamp;                             /* a TIMESTAMP tag: keys in ns */
  size_t series_count;                               /* the rule's leading tags */
  uint32_t series_tags[SL_PART_MAX_SERIES_VALUES];
} sl_trace_sidx;

/* Owns the store; borrows the catalog. */
struct sl_trace_engine {
  const sl_catalog *catalog;
  const sl_trace_schema *schema;
  const sl_group *group;
  uint32_t trace_tag;     /* flat index of trace_id_tag_name */
  uint32_t timestamp_tag; /* flat index of timestamp_tag_name */
  bool timestamp_in_ns;   /* the timestamp tag is a TIMESTAMP tag (else int ms) */
  sl_part_layout trace_layout;
  sl_part_layout sidx_layout;
  uint32_t timestamp_column; /* hidden: the timestamp tag in ns, sort and timestamp column */
  uint32_t span_column;      /* hidden: the span payload (element data) */
  int32_t column_of_tag[SL_TRACE_MAX_TAGS]; /* -1: the trace-id tag (its value is the block key) */
  uint32_t sidx_key_column;
  uint32_t sidx_trace_column;
  sl_trace_sidx sidx[SL_TRACE_MAX_RULES];
  size_t sidx_count;
  sl_tsdb *db;
  atomic_uint_fast64_t spans_written;
  atomic_uint_fast64_t spans_expired;
  atomic_uint_fast64_t raw_bytes_written;
  atomic_uint_fast64_t bloom_lookups;
  atomic_uint_fast64_t bloom_false_positives;
};

/* The block key of a trace: 8 bytes big-endian XXH64 (seed 0) of the id, then the id. */
uint64_t sl_trace_hash(sl_bytes trace_id);
/* One stored value of tag t from a decoded column (arrays decoded into arena). */
sl_status sl_trace_column_value(const sl_trace_engine *engine, size_t tag, const sl_column_view *view, size_t row,
                                sl_arena *arena, sl_value *out, sl_error *err);
/* The series values of an smeta entry (kind byte + bytes each), count values. */
void sl_trace_series_values(const sl_series_entry *entry, size_t count, sl_value *out);

#endif
