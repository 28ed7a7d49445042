/* test_bench_verify.c: the runner's tie-aware check of a backend's answer
 * against the oracle's (src/bench/verify.h).  Answers that differ only among
 * equal sort keys pass; a non-match, a wrong order of different keys, a
 * duplicate, a missing span, a partial or repeated trace fail, each with a
 * message that says what differs. */
#include <stdio.h>
#include <string.h>

#include "bench/verify.h"
#include "test_support.h"

/* ---- stream: spans 1..6 sorted DESC by key, ties in runs ---- */

static const uint64_t stream_spans[] = {1, 2, 3, 4, 5, 6};
static const int64_t stream_key_numbers[] = {10, 10, 10, 9, 9, 8};
static sl_value stream_keys[6];
static const sl_bytes stream_labels[] = {{"t1/s1", 5}, {"t1/s2", 5}, {"t2/s1", 5},
                                         {"t2/s2", 5}, {"t3/s1", 5}, {"t3/s2", 5}};

static sl_verify_expected stream_expected(size_t offset, size_t limit) {
  for (size_t i = 0; i < 6; i++) {
    stream_keys[i] = sl_value_int(stream_key_numbers[i]);
  }
  return (sl_verify_expected){.model = SL_QUERY_STREAM,
                              .span_keys = stream_spans,
                              .span_count = 6,
                              .span_sort_keys = stream_keys,
                              .span_labels = stream_labels,
                              .offset = offset,
                              .limit = limit};
}

static sl_verify_verdict check(const sl_verify_expected *expected, const uint64_t *keys, size_t count) {
  sl_backend_answer answer = {.span_keys = (uint64_t *)keys, .span_count = count};
  sl_verify_verdict verdict;
  sl_error err;
  assert_int_equal(sl_verify_answer(expected, &answer, &verdict, &err), SL_OK);
  if (!verdict.ok) {
    printf("    (rejected: %s)\n", verdict.difference);
  }
  return verdict;
}

static void assert_mentions(const sl_verify_verdict *verdict, const char *text) {
  if (strstr(verdict->difference, text) == NULL) {
    fail_msg("difference \"%s\" does not mention \"%s\"", verdict->difference, text);
  }
}

static void exact_answer_is_accepted(void **state) {
  (void)state;
  sl_verify_expected expected = stream_expected(0, 20);
  sl_verify_verdict verdict = check(&expected, stream_spans, 6);
  assert_true(verdict.ok);
  assert_string_equal(verdict.difference, "");
  assert_int_equal(verdict.window_spans, 6);
  sl_verify_expected empty = {.model = SL_QUERY_STREAM, .limit = 20};
  assert_true(check(&empty, NULL, 0).ok);
}

static void ties_permuted_within_a_run_are_accepted(void **state) {
  (void)state;
  sl_verify_expected expected = stream_expected(0, 20);
  const uint64_t permuted[] = {3, 1, 2, 5, 4, 6};
  sl_verify_verdict verdict = check(&expected, permuted, 6);
  assert_true(verdict.ok);
  assert_int_equal(verdict.missing_spans + verdict.extra_spans + verdict.duplicate_spans, 0);
}

static void a_tie_at_the_limit_replaced_by_another_tied_match_is_accepted(void **state) {
  (void)state;
  /* Window [0, 4): keys 10 10 10 9; span 5 (key 9) may stand in for span 4. */
  sl_verify_expected expected = stream_expected(0, 4);
  const uint64_t other_tie[] = {2, 3, 1, 5};
  assert_true(check(&expected, other_tie, 4).ok);
  /* Window [1, 3) starts inside the run of 10s: any two of spans 1, 2, 3. */
  expected = stream_expected(1, 2);
  const uint64_t first_and_last[] = {3, 1};
  assert_true(check(&expected, first_and_last, 2).ok);
}

static void a_non_tied_match_swapped_in_is_rejected(void **state) {
  (void)state;
  sl_verify_expected expected = stream_expected(0, 4);
  const uint64_t swapped[] = {1, 2, 3, 6}; /* span 6 has key 8, the window's last key is 9 */
  sl_verify_verdict verdict = check(&expected, swapped, 4);
  assert_false(verdict.ok);
  assert_mentions(&verdict, "answer position 3: key 8, the oracle's key 9");
  assert_mentions(&verdict, "first missing: span t2/s2 (key 9)");
  assert_mentions(&verdict, "first extra: span t3/s2 (key 8)");
  assert_int_equal(verdict.missing_spans, 1);
  assert_int_equal(verdict.extra_spans, 1);
}

static void a_wrong_order_of_different_keys_is_rejected(void **state) {
  (void)state;
  sl_verify_expected expected = stream_expected(0, 20);
  const uint64_t reordered[] = {1, 2, 4, 3, 5, 6}; /* a 9 before the last 10 */
  sl_verify_verdict verdict = check(&expected, reordered, 6);
  assert_false(verdict.ok);
  assert_mentions(&verdict, "answer position 2: key 9, the oracle's key 10");
  /* Same spans: nothing missing or extra, only the order. */
  assert_int_equal(verdict.missing_spans + verdict.extra_spans, 0);
}

static void a_duplicate_is_rejected(void **state) {
  (void)state;
  sl_verify_expected expected = stream_expected(0, 3);
  const uint64_t twice[] = {1, 2, 1};
  sl_verify_verdict verdict = check(&expected, twice, 3);
  assert_false(verdict.ok);
  assert_mentions(&verdict, "span t1/s1 twice, at answer positions 0 and 2");
  assert_int_equal(verdict.duplicate_spans, 1);
  assert_int_equal(verdict.missing_spans, 1);
}

static void a_missing_span_is_rejected(void **state) {
  (void)state;
  sl_verify_expected expected = stream_expected(0, 20);
  const uint64_t short_by_one[] = {1, 2, 3, 4, 5};
  sl_verify_verdict verdict = check(&expected, short_by_one, 5);
  assert_false(verdict.ok);
  assert_mentions(&verdict, "the answer has 5 spans, the oracle's window [0, 6) of its 6 matches holds 6");
  assert_mentions(&verdict, "answer position 5: the answer ends, the oracle's key 8");
  assert_mentions(&verdict, "first missing: span t3/s2");
  assert_int_equal(verdict.missing_spans, 1);
  assert_int_equal(verdict.extra_spans, 0);
  /* One more than the window is as wrong. */
  expected = stream_expected(0, 2);
  const uint64_t one_more[] = {1, 2, 3};
  verdict = check(&expected, one_more, 3);
  assert_false(verdict.ok);
  assert_mentions(&verdict, "answer position 2: key 10, past the end of the oracle's window");
  assert_int_equal(verdict.extra_spans, 1);
}

static void a_span_that_does_not_match_is_rejected(void **state) {
  (void)state;
  sl_verify_expected expected = stream_expected(0, 2);
  const uint64_t stranger[] = {1, 0xabcdefULL};
  sl_verify_verdict verdict = check(&expected, stranger, 2);
  assert_false(verdict.ok);
  assert_mentions(&verdict, "span 0000000000abcdef at answer position 1 is not a match of the query");
  assert_int_equal(verdict.extra_spans, 1);
  assert_int_equal(verdict.missing_spans, 1);
}

static void timestamp_and_null_keys(void **state) {
  (void)state;
  /* Time order, 2025-01-01T00:00:00.001Z twice, then two rows without the key (last). */
  sl_value keys[4] = {{.kind = SL_VALUE_TIMESTAMP, .as.timestamp_ns = 1735689600001000000LL},
                      {.kind = SL_VALUE_TIMESTAMP, .as.timestamp_ns = 1735689600001000000LL},
                      sl_value_null(), sl_value_null()};
  const uint64_t spans[] = {11, 12, 13, 14};
  sl_verify_expected expected = {.model = SL_QUERY_STREAM, .span_keys = spans, .span_count = 4,
                                 .span_sort_keys = keys, .limit = 3};
  const uint64_t ties[] = {12, 11, 14};
  assert_true(check(&expected, ties, 3).ok);
  const uint64_t null_first[] = {13, 11, 12};
  sl_verify_verdict verdict = check(&expected, null_first, 3);
  assert_false(verdict.ok);
  assert_mentions(&verdict, "answer position 0: key null, the oracle's key 2025-01-01T00:00:00.001Z");
  /* String keys compare bytewise. */
  sl_value names[3] = {sl_value_str("a", 1), sl_value_str("b", 1), sl_value_str("b", 1)};
  expected = (sl_verify_expected){.model = SL_QUERY_STREAM, .span_keys = spans, .span_count = 3,
                                  .span_sort_keys = names, .limit = 2};
  const uint64_t other_b[] = {11, 13};
  assert_true(check(&expected, other_b, 2).ok);
  const uint64_t two_bs[] = {12, 13};
  verdict = check(&expected, two_bs, 2);
  assert_false(verdict.ok);
  assert_mentions(&verdict, "answer position 0: key \"b\", the oracle's key \"a\"");
}

/* ---- trace model: four traces sorted DESC by their key ---- */

/* t0 (key 100): spans 1 2 3; t1 (90): 4 5; t2 (90): 6; t3 (80): 7 8. */
static const uint64_t trace_spans[] = {1, 2, 3, 4, 5, 6, 7, 8};
static const size_t trace_offsets[] = {0, 3, 5, 6, 8};
static sl_value trace_keys[4];
static const sl_bytes trace_labels[] = {{"t0", 2}, {"t1", 2}, {"t2", 2}, {"t3", 2}};

static sl_verify_expected trace_expected(size_t offset, size_t limit) {
  static const int64_t numbers[] = {100, 90, 90, 80};
  for (size_t t = 0; t < 4; t++) {
    trace_keys[t] = sl_value_int(numbers[t]);
  }
  return (sl_verify_expected){.model = SL_QUERY_TRACE,
                              .span_keys = trace_spans,
                              .span_count = 8,
                              .trace_count = 4,
                              .trace_offsets = trace_offsets,
                              .trace_sort_keys = trace_keys,
                              .trace_labels = trace_labels,
                              .offset = offset,
                              .limit = limit};
}

static void traces_tied_or_reordered_inside_are_accepted(void **state) {
  (void)state;
  sl_verify_expected expected = trace_expected(0, 20);
  sl_verify_verdict verdict = check(&expected, trace_spans, 8);
  assert_true(verdict.ok);
  assert_int_equal(verdict.window_traces, 4);
  assert_int_equal(verdict.answer_traces, 4);
  /* t2 before t1 (both 90), spans of a trace in any order. */
  const uint64_t permuted[] = {3, 1, 2, 6, 5, 4, 8, 7};
  assert_true(check(&expected, permuted, 8).ok);
  /* Limit 2: t0 then either of the 90s, whole. */
  expected = trace_expected(0, 2);
  const uint64_t other_tie[] = {1, 2, 3, 6};
  verdict = check(&expected, other_tie, 4);
  assert_true(verdict.ok);
  assert_int_equal(verdict.window_spans, 5);
  /* Offset 2: the 90 not returned first, then t3. */
  expected = trace_expected(2, 2);
  const uint64_t after_offset[] = {4, 5, 7, 8};
  assert_true(check(&expected, after_offset, 4).ok);
}

static void a_partial_trace_is_rejected(void **state) {
  (void)state;
  sl_verify_expected expected = trace_expected(0, 2);
  const uint64_t partial[] = {1, 2, 3, 4};
  sl_verify_verdict verdict = check(&expected, partial, 4);
  assert_false(verdict.ok);
  assert_mentions(&verdict, "trace t1 with 1 of its 2 spans");
  assert_int_equal(verdict.partial_traces, 1);
  assert_int_equal(verdict.missing_spans, 1);
}

static void a_trace_twice_or_a_span_twice_is_rejected(void **state) {
  (void)state;
  sl_verify_expected expected = trace_expected(0, 2);
  const uint64_t apart[] = {1, 2, 4, 5, 3};
  sl_verify_verdict verdict = check(&expected, apart, 5);
  assert_false(verdict.ok);
  assert_mentions(&verdict, "trace t0 twice (its spans apart, again at answer position 4)");
  const uint64_t repeated[] = {1, 2, 3, 3, 4, 5};
  verdict = check(&expected, repeated, 6);
  assert_false(verdict.ok);
  assert_mentions(&verdict, "span 0000000000000003 twice (again at answer position 3)");
  assert_int_equal(verdict.duplicate_spans, 1);
}

static void a_wrong_trace_order_or_a_non_tied_trace_is_rejected(void **state) {
  (void)state;
  sl_verify_expected expected = trace_expected(0, 2);
  const uint64_t reversed[] = {4, 5, 1, 2, 3};
  sl_verify_verdict verdict = check(&expected, reversed, 5);
  assert_false(verdict.ok);
  assert_mentions(&verdict, "answer trace 0: key 90, the oracle's key 100");
  const uint64_t lower[] = {1, 2, 3, 7, 8}; /* t3 (80) where a 90 belongs */
  verdict = check(&expected, lower, 5);
  assert_false(verdict.ok);
  assert_mentions(&verdict, "answer trace 1: key 80, the oracle's key 90");
  assert_mentions(&verdict, "first missing: trace t1 (key 90)");
  assert_mentions(&verdict, "first extra: trace t3 (key 80)");
  assert_int_equal(verdict.missing_traces, 1);
  assert_int_equal(verdict.extra_traces, 1);
  assert_int_equal(verdict.missing_spans, 2);
  assert_int_equal(verdict.extra_spans, 2);
}

static void a_missing_trace_or_a_stranger_span_is_rejected(void **state) {
  (void)state;
  sl_verify_expected expected = trace_expected(0, 2);
  const uint64_t one_trace[] = {1, 2, 3};
  sl_verify_verdict verdict = check(&expected, one_trace, 3);
  assert_false(verdict.ok);
  assert_mentions(&verdict, "the answer has 1 trace, the oracle's window [0, 2) of its 4 matching traces holds 2");
  assert_mentions(&verdict, "answer trace 1: the answer ends, the oracle's key 90");
  assert_int_equal(verdict.missing_traces, 1);
  const uint64_t stranger[] = {1, 2, 3, 4, 5, 99};
  verdict = check(&expected, stranger, 6);
  assert_false(verdict.ok);
  assert_mentions(&verdict, "span 0000000000000063 at answer position 5 is in no trace the query matches");
  assert_int_equal(verdict.extra_spans, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(exact_answer_is_accepted),
      cmocka_unit_test(ties_permuted_within_a_run_are_accepted),
      cmocka_unit_test(a_tie_at_the_limit_replaced_by_another_tied_match_is_accepted),
      cmocka_unit_test(a_non_tied_match_swapped_in_is_rejected),
      cmocka_unit_test(a_wrong_order_of_different_keys_is_rejected),
      cmocka_unit_test(a_duplicate_is_rejected),
      cmocka_unit_test(a_missing_span_is_rejected),
      cmocka_unit_test(a_span_that_does_not_match_is_rejected),
      cmocka_unit_test(timestamp_and_null_keys),
      cmocka_unit_test(traces_tied_or_reordered_inside_are_accepted),
      cmocka_unit_test(a_partial_trace_is_rejected),
      cmocka_unit_test(a_trace_twice_or_a_span_twice_is_rejected),
      cmocka_unit_test(a_wrong_trace_order_or_a_non_tied_trace_is_rejected),
      cmocka_unit_test(a_missing_trace_or_a_stranger_span_is_rejected),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
