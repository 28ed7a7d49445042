/*
 * plan.h: BanyanDB's planning of a bound QueryRequest, shared by the reference
 * evaluator and the engines (docs/QUERIES.md "Semantics"): which series the
 * criteria select (entity patterns), which conditions stay in the row filter
 * after that, and for the trace model the sidx key range, the span-id set and
 * the block-skip rule.  The engines answer through indexes what the evaluator
 * answers by brute force; planning the same way is what makes their answers
 * comparable.
 *
 * Ownership: a plan borrows its query (which must outlive it) and owns its
 * nodes; it is immutable and safe to read from many threads.
 */
#ifndef SPANLAB_QUERY_PLAN_H
#define SPANLAB_QUERY_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spanlab/query.h"

typedef struct sl_filter_node sl_filter_node;
struct sl_filter_node {
  sl_criteria_kind kind;        /* AND, OR or CONDITION */
  const sl_filter_node *left;
  const sl_filter_node *right;
  const sl_criteria *leaf;      /* CONDITION */
};

typedef struct sl_query_plan sl_query_plan;

sl_status sl_query_plan_make(const sl_query *query, sl_query_plan **out, sl_error *err);
void sl_query_plan_free(sl_query_plan *plan);

/* Series tags: stream, the entity; trace, the first bound rule's tags but its last. */
size_t sl_query_plan_series_tag_count(const sl_query_plan *plan);
const sl_tag_spec *sl_query_plan_series_tag(const sl_query_plan *plan, size_t index);
/* True when the criteria contradict themselves on series: nothing matches. */
bool sl_query_plan_no_series(const sl_query_plan *plan);
size_t sl_query_plan_pattern_count(const sl_query_plan *plan);
/* Series tag i of pattern p: its value, or *any when the pattern takes any. */
sl_value sl_query_plan_pattern_value(const sl_query_plan *plan, size_t pattern, size_t tag, bool *any);
/* Whether series values (one per series tag) match a pattern. */
bool sl_query_plan_series_match(const sl_query_plan *plan, const sl_value *series_values);

/* The row filter (NULL: none) and its evaluation over a row's tags (flat schema order). */
const sl_filter_node *sl_query_plan_filter(const sl_query_plan *plan);
bool sl_query_plan_filter_match(const sl_query_plan *plan, const sl_value *tags);
/* One condition on one value. */
bool sl_query_leaf_match(const sl_criteria *leaf, const sl_value *value);

/* Trace model. */
const sl_tag_spec *sl_query_plan_key_tag(const sl_query_plan *plan); /* orderBy rule's last tag, NULL by ids */
/* The sidx key range (INT64_MIN/INT64_MAX when unbounded). */
void sl_query_plan_key_range(const sl_query_plan *plan, int64_t *min, int64_t *max);
bool sl_query_plan_exact_window(const sl_query_plan *plan); /* else whole segments of the window count */
bool sl_query_plan_span_ids_match(const sl_query_plan *plan, const sl_value *tags);
bool sl_query_plan_skips_everything(const sl_query_plan *plan); /* BanyanDB's block skip rejects every block */
/* Trace ids of the request, sorted, de-duplicated and cut to offset + limit. */
size_t sl_query_plan_trace_id_count(const sl_query_plan *plan);
sl_bytes sl_query_plan_trace_id(const sl_query_plan *plan, size_t index);

#endif
