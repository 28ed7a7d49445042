/* verify.h: is a backend's answer one that BanyanDB's semantics allow?
 *
 * BanyanDB leaves the order of elements (stream) or traces (trace model)
 * with equal sort keys undefined, and at the limit boundary which of the tied
 * ones come back.  The check takes the oracle's whole ordered result (every
 * match, each with its sort key, from sl_query_evaluate with `unlimited`) and
 * the request's window [offset, offset + limit), and accepts exactly the
 * answers that differ from the oracle's window only among equal keys
 * (docs/QUERIES.md "How answers are compared"):
 *
 * - stream: as many spans as the window; no span twice; every span a match;
 *   the answer's sequence of sort keys equal to the window's.
 * - trace model: spans grouped by trace (from the oracle's traces) in order of
 *   first appearance; as many traces as the window; the sequence of trace
 *   keys equal to the window's; each trace whole (exactly the oracle's spans
 *   of it); no span twice; no trace twice (a trace's spans come back
 *   together, one trace of BanyanDB's response).
 *
 * Ownership: the expectation and the answer are borrowed for the call; the
 * verdict is the caller's, plain data.
 */
#ifndef SPANLAB_BENCH_VERIFY_H
#define SPANLAB_BENCH_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spanlab/backend.h"
#include "spanlab/error.h"
#include "spanlab/query.h"
#include "spanlab/value.h"

/* The oracle's whole result, in its order.  Units are spans (stream) or
 * traces (trace model); offset and limit count units. */
typedef struct sl_verify_expected {
  sl_query_model model;
  const uint64_t *span_keys;      /* every matching span (sl_span_key), in order */
  size_t span_count;
  const sl_value *span_sort_keys; /* stream: span_count sort keys, sorted as the oracle sorts */
  const sl_bytes *span_labels;    /* optional, for messages: span_count names ("traceId/spanId") */
  size_t trace_count;             /* trace model: */
  const size_t *trace_offsets;    /* trace t's spans: span_keys[trace_offsets[t] .. trace_offsets[t + 1]) */
  const sl_value *trace_sort_keys; /* trace_count keys */
  const sl_bytes *trace_labels;   /* optional, for messages: trace_count trace ids */
  size_t offset;                  /* the request's window over units */
  size_t limit;                   /* resolved: a request's limit 0 means 20 */
} sl_verify_expected;

enum { SL_VERIFY_DIFFERENCE_BYTES = 1024 };

/* What differs.  Counts are tie-aware: a tied match standing in for another
 * is neither missing nor extra. */
typedef struct sl_verify_verdict {
  bool ok;
  size_t window_spans;    /* spans in the oracle's window */
  size_t answer_spans;
  size_t missing_spans;   /* window spans not in the answer and not replaced by a tied match */
  size_t extra_spans;     /* answer spans that are no match, or one more of a key than the window holds */
  size_t duplicate_spans; /* repeats of a span already in the answer */
  size_t window_traces;   /* trace model: traces in the oracle's window */
  size_t answer_traces;   /* trace model: distinct traces in the answer */
  size_t missing_traces;
  size_t extra_traces;
  size_t partial_traces;  /* returned without all of their spans */
  char difference[SL_VERIFY_DIFFERENCE_BYTES]; /* "" when ok; else the first problem of each kind, "; "-separated */
} sl_verify_verdict;

/* Checks answer against expected and fills verdict.  Fails only for lack of
 * memory (SL_ERR_NOMEM); a wrong answer is verdict->ok == false. */
sl_status sl_verify_answer(const sl_verify_expected *expected, const sl_backend_answer *answer,
                           sl_verify_verdict *verdict, sl_error *err);

#endif
