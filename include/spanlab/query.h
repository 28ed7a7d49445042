/*
 * spanlab/query.h: BanyanDB stream and trace QueryRequests (protojson), bound
 * to the catalog, and a brute-force reference evaluator with BanyanDB's
 * semantics (docs/QUERIES.md).  The evaluator is the oracle the benchmarks
 * and the engines' tests compare against.
 *
 * Ownership: an sl_query owns everything reachable from it (one arena) and
 * borrows the catalog, which must outlive it.  Rows given to the evaluator
 * are borrowed for the call; results hold row indexes, not copies.
 */
#ifndef SPANLAB_QUERY_H
#define SPANLAB_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "spanlab/catalog.h"
#include "spanlab/error.h"
#include "spanlab/value.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sl_query_model { SL_QUERY_STREAM = 0, SL_QUERY_TRACE = 1 } sl_query_model;

/* model.v1.Condition.BinaryOp values. */
typedef enum sl_binary_op {
  SL_BINARY_OP_EQ = 1,
  SL_BINARY_OP_NE = 2,
  SL_BINARY_OP_LT = 3,
  SL_BINARY_OP_GT = 4,
  SL_BINARY_OP_LE = 5,
  SL_BINARY_OP_GE = 6,
  SL_BINARY_OP_HAVING = 7,
  SL_BINARY_OP_NOT_HAVING = 8,
  SL_BINARY_OP_IN = 9,
  SL_BINARY_OP_NOT_IN = 10,
  SL_BINARY_OP_MATCH = 11
} sl_binary_op;

/* model.v1.Sort values. */
typedef enum sl_sort { SL_SORT_UNSPECIFIED = 0, SL_SORT_DESC = 1, SL_SORT_ASC = 2 } sl_sort;

typedef enum sl_criteria_kind { SL_CRITERIA_AND, SL_CRITERIA_OR, SL_CRITERIA_CONDITION } sl_criteria_kind;

typedef struct sl_criteria sl_criteria;
struct sl_criteria {
  sl_criteria_kind kind;
  const sl_criteria *left;  /* AND/OR: NULL when the request gave only one side */
  const sl_criteria *right;
  /* CONDITION: */
  const char *tag_name;
  const sl_tag_spec *tag;   /* the subject's tag */
  sl_binary_op op;
  sl_value value;           /* str, int, str array, int array, null, timestamp */
  /* MATCH: the analyzer of the bound rule *named* like the tag, which BanyanDB's row filter tokenizes
   * both sides with ("" when that rule has none); NULL when no rule has that name. */
  const char *match_analyzer;
};

typedef struct sl_projection_family {
  const char *name;
  size_t tag_count;
  const sl_tag_spec *const *tags;
} sl_projection_family;

typedef struct sl_query {
  sl_query_model model;
  const char *group;
  const char *name;
  const sl_stream_schema *stream; /* SL_QUERY_STREAM */
  const sl_trace_schema *trace;   /* SL_QUERY_TRACE */
  bool has_time_range;
  int64_t begin_ns;               /* inclusive */
  int64_t end_ns;                 /* inclusive */
  const sl_criteria *criteria;    /* NULL: no criteria */
  const sl_index_rule *order_rule; /* NULL: time order */
  sl_sort sort;
  uint32_t limit;                 /* 0 in the request means 20 */
  uint32_t offset;
  size_t family_count;            /* stream projection */
  const sl_projection_family *families;
  size_t tag_projection_count;    /* trace projection */
  const sl_tag_spec *const *tag_projection;
  /* Trace: trace ids named by EQ/IN conditions on the trace-id tag. */
  size_t trace_id_count;
  const sl_bytes *trace_ids;
  /* Fields of the request that were ignored, each "LINE:COL: JSON.PATH: why" (unknown to
   * BanyanDB's QueryRequest, or known but not modelled, such as trace or matchOption); at most 32. */
  size_t note_count;
  const char *const *notes;
} sl_query;

/* Parses a QueryRequest of the given model and binds it to the catalog.
 * Errors name the JSON path and what was expected. */
sl_status sl_query_parse(const sl_catalog *catalog, sl_query_model model, const char *json,
                         size_t size_bytes, sl_query **out, sl_error *err);
void sl_query_free(sl_query *query);

/* A row for the evaluator: stream element or trace span. */
typedef struct sl_query_row {
  int64_t timestamp_ns;
  sl_bytes element_id; /* stream: the written element id */
  bool has_element_hash; /* stream engines keep only BanyanDB's hashed id: */
  uint64_t element_hash; /* XXH64("group|name|elementId"), printed in hex */
  const sl_value *tags; /* the subject's tags in flat schema order */
  sl_bytes span;       /* trace: the span payload */
} sl_query_row;

typedef struct sl_query_options {
  bool ttl_retention;  /* drop rows older than now - TTL, whole segments */
  int64_t now_ns;
  /* Every match in order, offset and limit not applied: the answer to the
   * request is then the window [offset, offset + limit) of this result (limit
   * 0 meaning 20), which a tie-aware check needs around it.  Trace-id lookups
   * still read only the first offset + limit of the sorted ids: that cut
   * decides which traces are read, not how they are ordered. */
  bool unlimited;
} sl_query_options;

/* Stream: ordered row indexes.  Trace: traces in order, each a list of row
 * indexes (all spans of the trace).  Owned by the caller: sl_query_result_free.
 *
 * Sort keys: what the evaluator orders by, so a caller can tell ties (equal
 * keys, whose order BanyanDB leaves undefined) from a wrong order.  Stream:
 * row_keys[i] is row i's key: the element timestamp (SL_VALUE_TIMESTAMP), or
 * with orderBy the rule's tag value (SL_VALUE_NULL when the row lacks it,
 * such rows sorted last).  Trace: trace_keys[t] is trace t's key: the first
 * key met in the sidx scan (DESC: the largest key of its matching spans, ASC:
 * the smallest), or for trace-id lookups the rank of its id among the sorted
 * ids (SL_VALUE_INT, never tied).  String keys borrow the rows' bytes. */
typedef struct sl_query_result {
  size_t *rows;
  size_t row_count;
  sl_value *row_keys;    /* stream: row_count keys; trace: NULL */
  size_t trace_count;
  size_t *trace_offsets; /* trace t's rows are rows[trace_offsets[t] .. trace_offsets[t+1]) */
  sl_value *trace_keys;  /* trace: trace_count keys; stream: NULL */
} sl_query_result;

void sl_query_result_free(sl_query_result *result);

sl_status sl_query_evaluate(const sl_query *query, const sl_query_row *rows, size_t row_count,
                            const sl_query_options *options, sl_query_result *result, sl_error *err);

/* Prints the QueryResponse protojson of a result. */
sl_status sl_query_print_response(const sl_query *query, const sl_query_row *rows,
                                  const sl_query_result *result, FILE *out, sl_error *err);

/* BanyanDB's element id in a response: hex of big-endian XXH64("group|name|id"). */
void sl_query_element_id(const char *group, const char *name, sl_bytes element_id, char out[17]);
uint64_t sl_query_element_hash(const char *group, const char *name, sl_bytes element_id);

#ifdef __cplusplus
}
#endif

#endif /* SPANLAB_QUERY_H */
