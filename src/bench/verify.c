/* verify.c: the tie-aware comparison of a backend's answer with the oracle's
 * whole result (verify.h).  Linear in the oracle's matches plus the answer:
 * a table from span key to the oracle's position, the runs of equal sort
 * keys numbered once (the oracle's result is sorted, so equal keys are
 * adjacent), then one pass over the runs for the tie-aware counts.
 *
 * Memory: everything allocated here is freed before returning; the verdict
 * holds no pointers. */
#include "bench/verify.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"

#define NONE SIZE_MAX

enum { LABEL_BYTES = 200, KEY_TEXT_BYTES = 96, KEY_STRING_SHOWN_BYTES = 64 };

/* ---- span key -> position in the oracle's result ---- */

typedef struct position_table {
  size_t *slots;    /* position + 1; 0 is empty */
  size_t capacity;  /* a power of two above twice the keys: probes end */
  const uint64_t *keys;
} position_table;

static size_t slot_of(uint64_t key, size_t mask) {
  /* Span keys are XXH64 already; the multiply spreads small test keys too. */
  uint64_t mixed = key * 0x9E3779B97F4A7C15ULL;
  return (size_t)(mixed ^ (mixed >> 29)) & mask;
}

static bool table_build(position_table *table, const uint64_t *keys, size_t count) {
  size_t capacity = 16;
  while (capacity < count * 2 + 1) {
    capacity *= 2;
  }
  table->slots = calloc(capacity, sizeof(size_t));
  table->capacity = capacity;
  table->keys = keys;
  if (table->slots == NULL) {
    return false;
  }
  size_t mask = capacity - 1;
  for (size_t position = 0; position < count; position++) {
    size_t slot = slot_of(keys[position], mask);
    for (size_t probe = 0; probe < capacity; probe++) {
      size_t *at = &table->slots[slot];
      if (*at == 0) {
        *at = position + 1;
        break;
      }
      if (keys[*at - 1] == keys[position]) {
        break; /* the oracle repeats a span: its first position stands */
      }
      slot = (slot + 1) & mask;
    }
  }
  return true;
}

static size_t table_find(const position_table *table, uint64_t key) {
  size_t mask = table->capacity - 1;
  size_t slot = slot_of(key, mask);
  for (size_t probe = 0; probe < table->capacity; probe++) {
    size_t at = table->slots[slot];
    if (at == 0) {
      return NONE;
    }
    if (table->keys[at - 1] == key) {
      return at - 1;
    }
    slot = (slot + 1) & mask;
  }
  return NONE;
}

/* ---- sort keys ---- */

static bool is_integer(const sl_value *value) {
  return value->kind == SL_VALUE_INT || value->kind == SL_VALUE_TIMESTAMP;
}

/* Equal as the evaluator orders them: ints and timestamps by number, strings
 * bytewise, null equal to null only, different kinds never equal. */
static bool keys_equal(const sl_value *a, const sl_value *b) {
  if (is_integer(a) && is_integer(b)) {
    int64_t x = a->kind == SL_VALUE_INT ? a->as.int_value : a->as.timestamp_ns;
    int64_t y = b->kind == SL_VALUE_INT ? b->as.int_value : b->as.timestamp_ns;
    return x == y;
  }
  if (a->kind == SL_VALUE_STR && b->kind == SL_VALUE_STR) {
    return a->as.str.size_bytes == b->as.str.size_bytes &&
           (a->as.str.size_bytes == 0 || memcmp(a->as.str.data, b->as.str.data, a->as.str.size_bytes) == 0);
  }
  return a->kind == SL_VALUE_NULL && b->kind == SL_VALUE_NULL;
}

static void format_key(const sl_value *key, char out[KEY_TEXT_BYTES]) {
  switch (key->kind) {
    case SL_VALUE_NULL: snprintf(out, KEY_TEXT_BYTES, "null"); return;
    case SL_VALUE_INT: snprintf(out, KEY_TEXT_BYTES, "%lld", (long long)key->as.int_value); return;
    case SL_VALUE_TIMESTAMP: sl_rfc3339_format_ns(key->as.timestamp_ns, out, KEY_TEXT_BYTES); return;
    case SL_VALUE_STR: {
      int shown = key->as.str.size_bytes > KEY_STRING_SHOWN_BYTES ? KEY_STRING_SHOWN_BYTES : (int)key->as.str.size_bytes;
      snprintf(out, KEY_TEXT_BYTES, "\"%.*s\"%s", shown, key->as.str.data,
               key->as.str.size_bytes > KEY_STRING_SHOWN_BYTES ? "..." : "");
      return;
    }
    default: snprintf(out, KEY_TEXT_BYTES, "(a value of kind %d)", (int)key->kind); return;
  }
}

/* Numbers runs of equal adjacent keys: run[u] for each of count units. */
static size_t number_runs(const sl_value *keys, size_t count, size_t *run) {
  size_t runs = 0;
  for (size_t u = 0; u < count; u++) {
    if (u == 0 || !keys_equal(&keys[u - 1], &keys[u])) {
      runs++;
    }
    run[u] = runs - 1;
  }
  return runs;
}

/* ---- messages ---- */

__attribute__((format(printf, 2, 3))) static void note(sl_verify_verdict *verdict, const char *format, ...) {
  size_t used = strlen(verdict->difference);
  if (used + 4 >= sizeof verdict->difference) {
    return;
  }
  if (used > 0) {
    memcpy(verdict->difference + used, "; ", 3);
    used += 2;
  }
  va_list arguments;
  va_start(arguments, format);
  int written = vsnprintf(verdict->difference + used, sizeof verdict->difference - used, format, arguments);
  va_end(arguments);
  if (written > 0 && (size_t)written >= sizeof verdict->difference - used) {
    memcpy(verdict->difference + sizeof verdict->difference - 4, "...", 4);
  }
}

/* A span by its name when the oracle has it, else by its key. */
static void format_span(const sl_verify_expected *expected, size_t position, uint64_t key, char out[LABEL_BYTES]) {
  if (position != NONE && expected->span_labels != NULL) {
    const sl_bytes *label = &expected->span_labels[position];
    int shown = label->size_bytes > LABEL_BYTES - 8 ? LABEL_BYTES - 8 : (int)label->size_bytes;
    snprintf(out, LABEL_BYTES, "%.*s", shown, label->data);
    return;
  }
  snprintf(out, LABEL_BYTES, "%016llx", (unsigned long long)key);
}

static void format_trace(const sl_verify_expected *expected, size_t trace, char out[LABEL_BYTES]) {
  if (expected->trace_labels != NULL) {
    const sl_bytes *label = &expected->trace_labels[trace];
    int shown = label->size_bytes > LABEL_BYTES - 8 ? LABEL_BYTES - 8 : (int)label->size_bytes;
    snprintf(out, LABEL_BYTES, "%.*s", shown, label->data);
    return;
  }
  snprintf(out, LABEL_BYTES, "#%zu of the oracle's", trace);
}

/* ---- the tie-aware reconciliation, over units (spans or traces) ---- */

typedef struct units {
  size_t count;          /* units in the oracle's result */
  const size_t *run;     /* run of equal keys of each unit */
  const sl_value *keys;  /* sort key of each unit */
  size_t window_begin;   /* the window [begin, end) over units */
  size_t window_end;
  const bool *answered;  /* which units the answer holds */
} units;

/* Per run of equal keys, W units in the window and A in the answer: max(0,
 * W - A) are missing (the first window units of the run not answered) and
 * max(0, A - W) extra (the first answered units of the run outside the
 * window).  Each is passed to the visitor. */
typedef void (*unit_visitor)(void *context, size_t unit, bool missing);

static void reconcile(const units *u, unit_visitor visit, void *context) {
  size_t start = 0;
  while (start < u->count) {
    size_t end = start + 1;
    while (end < u->count && u->run[end] == u->run[start]) {
      end++;
    }
    size_t in_window = 0, answered = 0;
    for (size_t k = start; k < end; k++) {
      in_window += k >= u->window_begin && k < u->window_end;
      answered += u->answered[k];
    }
    size_t missing = in_window > answered ? in_window - answered : 0;
    size_t extra = answered > in_window ? answered - in_window : 0;
    for (size_t k = start; k < end && (missing > 0 || extra > 0); k++) {
      bool windowed = k >= u->window_begin && k < u->window_end;
      if (missing > 0 && windowed && !u->answered[k]) {
        visit(context, k, true);
        missing--;
      } else if (extra > 0 && !windowed && u->answered[k]) {
        visit(context, k, false);
        extra--;
      }
    }
    start = end;
  }
}

/* The first position where the answer's key sequence leaves the window's:
 * sequence[i] is the unit at answer position i (NONE: not a match, skipped). */
static void compare_sequences(const units *u, const size_t *sequence, size_t sequence_count, const char *what,
                              sl_verify_verdict *verdict) {
  size_t window_count = u->window_end - u->window_begin;
  size_t common = sequence_count < window_count ? sequence_count : window_count;
  char got[KEY_TEXT_BYTES], want[KEY_TEXT_BYTES];
  for (size_t i = 0; i < common; i++) {
    size_t unit = sequence[i];
    size_t oracle = u->window_begin + i;
    if (unit != NONE && u->run[unit] != u->run[oracle]) {
      format_key(&u->keys[unit], got);
      format_key(&u->keys[oracle], want);
      note(verdict, "answer %s %zu: key %s, the oracle's key %s", what, i, got, want);
      return;
    }
  }
  if (sequence_count < window_count) {
    format_key(&u->keys[u->window_begin + common], want);
    note(verdict, "answer %s %zu: the answer ends, the oracle's key %s", what, common, want);
  } else if (sequence_count > window_count && sequence[common] != NONE) {
    format_key(&u->keys[sequence[common]], got);
    note(verdict, "answer %s %zu: key %s, past the end of the oracle's window", what, common, got);
  }
}

static void window_of(size_t count, size_t offset, size_t limit, size_t *begin, size_t *end) {
  *begin = offset < count ? offset : count;
  *end = count - *begin < limit ? count : *begin + limit;
}

/* ---- stream ---- */

typedef struct stream_tally {
  const sl_verify_expected *expected;
  sl_verify_verdict *verdict;
  size_t first_missing;
  size_t first_extra;
} stream_tally;

static void stream_visit(void *context, size_t unit, bool missing) {
  stream_tally *tally = context;
  if (missing) {
    tally->verdict->missing_spans++;
    tally->first_missing = tally->first_missing == NONE ? unit : tally->first_missing;
  } else {
    tally->verdict->extra_spans++;
    tally->first_extra = tally->first_extra == NONE ? unit : tally->first_extra;
  }
}

static sl_status verify_stream(const sl_verify_expected *expected, const position_table *table,
                               const sl_backend_answer *answer, sl_verify_verdict *verdict, sl_error *err) {
  size_t count = expected->span_count;
  size_t *run = calloc(count + 1, sizeof(size_t));
  size_t *first_seen = calloc(count + 1, sizeof(size_t)); /* answer position + 1 */
  bool *answered = calloc(count + 1, sizeof(bool));
  size_t *sequence = calloc(answer->span_count + 1, sizeof(size_t));
  if (run == NULL || first_seen == NULL || answered == NULL || sequence == NULL) {
    free(run);
    free(first_seen);
    free(answered);
    free(sequence);
    return sl_error_set(err, SL_ERR_NOMEM, "verify: out of memory for %zu matches", count);
  }
  number_runs(expected->span_sort_keys, count, run);
  units u = {.count = count, .run = run, .keys = expected->span_sort_keys, .answered = answered};
  window_of(count, expected->offset, expected->limit, &u.window_begin, &u.window_end);
  verdict->window_spans = u.window_end - u.window_begin;
  char label[LABEL_BYTES];
  if (answer->span_count != verdict->window_spans) {
    note(verdict, "the answer has %zu span%s, the oracle's window [%zu, %zu) of its %zu matches holds %zu",
         answer->span_count, answer->span_count == 1 ? "" : "s", u.window_begin, u.window_end, count,
         verdict->window_spans);
  }
  bool noted_non_match = false, noted_duplicate = false;
  for (size_t i = 0; i < answer->span_count; i++) {
    size_t position = table_find(table, answer->span_keys[i]);
    sequence[i] = position;
    if (position == NONE) {
      verdict->extra_spans++;
      if (!noted_non_match) {
        format_span(expected, NONE, answer->span_keys[i], label);
        note(verdict, "span %s at answer position %zu is not a match of the query", label, i);
        noted_non_match = true;
      }
      continue;
    }
    if (first_seen[position] != 0) {
      verdict->duplicate_spans++;
      if (!noted_duplicate) {
        format_span(expected, position, answer->span_keys[i], label);
        note(verdict, "span %s twice, at answer positions %zu and %zu", label, first_seen[position] - 1, i);
        noted_duplicate = true;
      }
      continue;
    }
    first_seen[position] = i + 1;
    answered[position] = true;
  }
  compare_sequences(&u, sequence, answer->span_count, "position", verdict);
  stream_tally tally = {.expected = expected, .verdict = verdict, .first_missing = NONE, .first_extra = NONE};
  reconcile(&u, stream_visit, &tally);
  char key_text[KEY_TEXT_BYTES];
  if (tally.first_missing != NONE) {
    format_span(expected, tally.first_missing, expected->span_keys[tally.first_missing], label);
    format_key(&expected->span_sort_keys[tally.first_missing], key_text);
    note(verdict, "first missing: span %s (key %s)", label, key_text);
  }
  if (tally.first_extra != NONE) {
    format_span(expected, tally.first_extra, expected->span_keys[tally.first_extra], label);
    format_key(&expected->span_sort_keys[tally.first_extra], key_text);
    note(verdict, "first extra: span %s (key %s), a match outside the window", label, key_text);
  }
  free(run);
  free(first_seen);
  free(answered);
  free(sequence);
  return SL_OK;
}

/* ---- trace model ---- */

typedef struct trace_tally {
  const sl_verify_expected *expected;
  sl_verify_verdict *verdict;
  const size_t *returned_spans; /* per trace: distinct spans the answer holds */
  size_t first_missing;
  size_t first_extra;
} trace_tally;

static size_t trace_size(const sl_verify_expected *expected, size_t trace) {
  return expected->trace_offsets[trace + 1] - expected->trace_offsets[trace];
}

static void trace_visit(void *context, size_t unit, bool missing) {
  trace_tally *tally = context;
  if (missing) {
    tally->verdict->missing_traces++;
    tally->verdict->missing_spans += trace_size(tally->expected, unit);
    tally->first_missing = tally->first_missing == NONE ? unit : tally->first_missing;
  } else {
    tally->verdict->extra_traces++;
    tally->verdict->extra_spans += tally->returned_spans[unit];
    tally->first_extra = tally->first_extra == NONE ? unit : tally->first_extra;
  }
}

typedef struct trace_scratch {
  size_t *run;            /* per trace */
  size_t *trace_of_span;  /* per oracle span */
  size_t *returned_spans; /* per trace */
  size_t *group_of_trace; /* per trace: answer group + 1 */
  bool *answered;         /* per trace */
  bool *span_seen;        /* per oracle span: already in the answer */
  size_t *groups;         /* answer groups in order of first appearance: their traces */
} trace_scratch;

static void scratch_free(trace_scratch *scratch) {
  free(scratch->run);
  free(scratch->trace_of_span);
  free(scratch->returned_spans);
  free(scratch->group_of_trace);
  free(scratch->answered);
  free(scratch->span_seen);
  free(scratch->groups);
}

/* Groups the answer's spans by trace, counting what does not belong. */
static void group_spans(const sl_verify_expected *expected, const position_table *table,
                        const sl_backend_answer *answer, trace_scratch *scratch, sl_verify_verdict *verdict) {
  char label[LABEL_BYTES];
  bool noted_non_match = false, noted_duplicate = false, noted_twice = false;
  size_t last_trace = NONE;
  for (size_t i = 0; i < answer->span_count; i++) {
    size_t position = table_find(table, answer->span_keys[i]);
    if (position == NONE) {
      verdict->extra_spans++;
      if (!noted_non_match) {
        format_span(expected, NONE, answer->span_keys[i], label);
        note(verdict, "span %s at answer position %zu is in no trace the query matches", label, i);
        noted_non_match = true;
      }
      continue;
    }
    if (scratch->span_seen[position]) {
      verdict->duplicate_spans++;
      if (!noted_duplicate) {
        format_span(expected, position, answer->span_keys[i], label);
        note(verdict, "span %s twice (again at answer position %zu)", label, i);
        noted_duplicate = true;
      }
      continue;
    }
    scratch->span_seen[position] = true;
    size_t trace = scratch->trace_of_span[position];
    scratch->returned_spans[trace]++;
    if (scratch->group_of_trace[trace] == 0) {
      scratch->groups[verdict->answer_traces] = trace;
      scratch->group_of_trace[trace] = ++verdict->answer_traces;
      scratch->answered[trace] = true;
    } else if (trace != last_trace && !noted_twice) {
      /* BanyanDB returns a trace once, with its spans together. */
      format_trace(expected, trace, label);
      note(verdict, "trace %s twice (its spans apart, again at answer position %zu)", label, i);
      noted_twice = true;
    }
    last_trace = trace;
  }
}

static sl_status verify_trace(const sl_verify_expected *expected, const position_table *table,
                              const sl_backend_answer *answer, sl_verify_verdict *verdict, sl_error *err) {
  size_t traces = expected->trace_count;
  size_t spans = expected->span_count;
  trace_scratch scratch = {
      .run = calloc(traces + 1, sizeof(size_t)),
      .trace_of_span = calloc(spans + 1, sizeof(size_t)),
      .returned_spans = calloc(traces + 1, sizeof(size_t)),
      .group_of_trace = calloc(traces + 1, sizeof(size_t)),
      .answered = calloc(traces + 1, sizeof(bool)),
      .span_seen = calloc(spans + 1, sizeof(bool)),
      .groups = calloc(traces + 1, sizeof(size_t)),
  };
  if (scratch.run == NULL || scratch.trace_of_span == NULL || scratch.returned_spans == NULL ||
      scratch.group_of_trace == NULL || scratch.answered == NULL || scratch.span_seen == NULL ||
      scratch.groups == NULL) {
    scratch_free(&scratch);
    return sl_error_set(err, SL_ERR_NOMEM, "verify: out of memory for %zu traces", traces);
  }
  for (size_t t = 0; t < traces; t++) {
    assert(expected->trace_offsets[t] <= expected->trace_offsets[t + 1]);
    for (size_t s = expected->trace_offsets[t]; s < expected->trace_offsets[t + 1] && s < spans; s++) {
      scratch.trace_of_span[s] = t;
    }
  }
  number_runs(expected->trace_sort_keys, traces, scratch.run);
  units u = {.count = traces, .run = scratch.run, .keys = expected->trace_sort_keys, .answered = scratch.answered};
  window_of(traces, expected->offset, expected->limit, &u.window_begin, &u.window_end);
  verdict->window_traces = u.window_end - u.window_begin;
  verdict->window_spans = expected->trace_offsets[u.window_end] - expected->trace_offsets[u.window_begin];
  group_spans(expected, table, answer, &scratch, verdict);
  char label[LABEL_BYTES];
  if (verdict->answer_traces != verdict->window_traces) {
    note(verdict, "the answer has %zu trace%s, the oracle's window [%zu, %zu) of its %zu matching traces holds %zu",
         verdict->answer_traces, verdict->answer_traces == 1 ? "" : "s", u.window_begin, u.window_end, traces,
         verdict->window_traces);
  }
  bool noted_partial = false;
  for (size_t g = 0; g < verdict->answer_traces; g++) {
    size_t trace = scratch.groups[g];
    size_t whole = trace_size(expected, trace);
    if (scratch.returned_spans[trace] < whole) {
      verdict->partial_traces++;
      verdict->missing_spans += whole - scratch.returned_spans[trace];
      if (!noted_partial) {
        format_trace(expected, trace, label);
        note(verdict, "trace %s with %zu of its %zu spans", label, scratch.returned_spans[trace], whole);
        noted_partial = true;
      }
    }
  }
  compare_sequences(&u, scratch.groups, verdict->answer_traces, "trace", verdict);
  trace_tally tally = {.expected = expected,
                       .verdict = verdict,
                       .returned_spans = scratch.returned_spans,
                       .first_missing = NONE,
                       .first_extra = NONE};
  reconcile(&u, trace_visit, &tally);
  char key_text[KEY_TEXT_BYTES];
  if (tally.first_missing != NONE) {
    format_trace(expected, tally.first_missing, label);
    format_key(&expected->trace_sort_keys[tally.first_missing], key_text);
    note(verdict, "first missing: trace %s (key %s)", label, key_text);
  }
  if (tally.first_extra != NONE) {
    format_trace(expected, tally.first_extra, label);
    format_key(&expected->trace_sort_keys[tally.first_extra], key_text);
    note(verdict, "first extra: trace %s (key %s), a match outside the window", label, key_text);
  }
  scratch_free(&scratch);
  return SL_OK;
}

sl_status sl_verify_answer(const sl_verify_expected *expected, const sl_backend_answer *answer,
                           sl_verify_verdict *verdict, sl_error *err) {
  assert(expected != NULL && answer != NULL && verdict != NULL);
  assert(expected->span_keys != NULL || expected->span_count == 0);
  assert(answer->span_keys != NULL || answer->span_count == 0);
  assert(expected->model == SL_QUERY_STREAM ? expected->span_sort_keys != NULL || expected->span_count == 0
                                            : expected->trace_offsets != NULL &&
                                                  (expected->trace_sort_keys != NULL || expected->trace_count == 0));
  memset(verdict, 0, sizeof *verdict);
  verdict->answer_spans = answer->span_count;
  position_table table;
  if (!table_build(&table, expected->span_keys, expected->span_count)) {
    return sl_error_set(err, SL_ERR_NOMEM, "verify: out of memory for %zu matches", expected->span_count);
  }
  sl_status status = expected->model == SL_QUERY_STREAM ? verify_stream(expected, &table, answer, verdict, err)
                                                        : verify_trace(expected, &table, answer, verdict, err);
  free(table.slots);
  verdict->ok = status == SL_OK && verdict->difference[0] == '\0';
  assert(verdict->ok || status != SL_OK || verdict->difference[0] != '\0');
  return status;
}
