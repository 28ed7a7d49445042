/*
 * part_model.h: a brute-force model of a part, for the storage tests and the part fuzzer.
 *
 * A model set is rows generated from a seed (pm_generate) in one fixed layout (pm_layout): an
 * int64 sort column with many ties, a timestamp column, a unique row id, strings with few and
 * many distinct values, binary values, nulls, term indexes on a string with few values, an int
 * column and a string with many values, series metadata and a key bloom.  pm_expect orders the
 * rows of one or more sets as a part must hold them: by (key, sort value, age), where age is
 * (set number, input position), i.e. oldest input first.  pm_check compares every answer a part
 * gives (info, chunks, blocks, values, series, bloom, term cursors, lookups, ranges, row lookups,
 * block limits) with the model; pm_read_all reads everything a part holds and only reports
 * errors (for corrupt inputs).
 *
 * Everything here is header-only (static inline) so that cmocka tests and libFuzzer targets can
 * share it without a library.  Checks return false with a message instead of asserting.
 *
 * Ownership: a pm_set owns its rows and every byte they point to (one arena); pm_set_free
 * releases them.  A pm_expected borrows the sets it orders.
 */
#ifndef SPANLAB_TEST_PART_MODEL_H
#define SPANLAB_TEST_PART_MODEL_H

#include <roaring/roaring.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "storage/part.h"
#include "storage/postings.h"
#include "storage/termindex.h"

enum { PM_SORT = 0, PM_TS, PM_ID, PM_FEW, PM_MANY, PM_BLOB, PM_NUM, PM_COLUMNS };
enum { PM_INDEX_FEW = 0, PM_INDEX_NUM, PM_INDEX_MANY, PM_INDEXES };
enum { PM_SERIES_VALUES = 2, PM_MESSAGE_BYTES = 2048, PM_MAX_RANGE_CHECKS = 40 };

static inline uint64_t pm_mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

/* The test layout; block limits 0 mean none. */
static inline void pm_layout(sl_part_layout *layout, uint32_t max_block_rows, uint64_t max_block_raw_bytes) {
  memset(layout, 0, sizeof *layout);
  layout->kind = SL_LAYOUT_STREAM;
  uint32_t timestamps = sl_layout_add_file(layout, "timestamps.bin");
  uint32_t tags = sl_layout_add_file(layout, "tags.tf");
  uint32_t blobs = sl_layout_add_file(layout, "blob.tf");
  sl_layout_add_column(layout, "sort", SL_COLUMN_INT64, timestamps);
  sl_layout_add_column(layout, "ts", SL_COLUMN_TIMESTAMP, timestamps);
  sl_layout_add_column(layout, "id", SL_COLUMN_INT64, timestamps);
  sl_layout_add_column(layout, "few", SL_COLUMN_STRING, tags);
  sl_layout_add_column(layout, "many", SL_COLUMN_STRING, tags);
  sl_layout_add_column(layout, "blob", SL_COLUMN_BINARY, blobs);
  sl_layout_add_column(layout, "num", SL_COLUMN_INT64, tags);
  sl_layout_add_index(layout, "few_idx", PM_FEW);
  sl_layout_add_index(layout, "num_idx", PM_NUM);
  sl_layout_add_index(layout, "many_idx", PM_MANY);
  layout->sort_column = PM_SORT;
  layout->timestamp_column = PM_TS;
  layout->key_bloom = true;
  layout->series_metadata = true;
  layout->max_block_rows = max_block_rows;
  layout->max_block_raw_bytes = max_block_raw_bytes;
}

typedef struct pm_row {
  sl_bytes key;
  sl_value values[PM_COLUMNS];
  sl_bytes series[PM_SERIES_VALUES];
  uint64_t age; /* set number << 32 | input position */
} pm_row;

typedef struct pm_set {
  sl_arena *arena;
  pm_row *rows;
  size_t count;
  sl_row_input *inputs; /* for sl_part_build_memory */
} pm_set;

/* What to generate. Keys come from a pool of key_count keys numbered from key_first, the same
 * bytes for the same number whatever the set, so sets can share or avoid keys. */
typedef struct pm_spec {
  uint64_t seed;
  size_t rows;
  uint32_t key_first;
  uint32_t key_count;
  int64_t sort_min;
  int64_t sort_span;   /* sort values in [sort_min, sort_min + sort_span) */
  uint32_t set_number; /* the age of the set among merge inputs (0 oldest) */
  int64_t first_id;
  uint32_t many_bytes; /* extra bytes on "many" strings (big rows for byte limits), 0 for short */
} pm_spec;

static inline sl_bytes pm_copy(sl_arena *arena, const void *data, size_t size) {
  char *copy = sl_arena_alloc(arena, size + 1);
  if (copy == NULL) {
    abort();
  }
  if (size > 0) {
    memcpy(copy, data, size);
  }
  return (sl_bytes){.data = copy, .size_bytes = size};
}

/* Key number k: 4 distinct bytes (a bijection of k), then 0..8 bytes derived from k. */
static inline sl_bytes pm_key(sl_arena *arena, uint32_t k) {
  uint8_t bytes[12];
  uint32_t head = k * 0x9E3779B1u + 0x7F4A7C15u;
  for (int i = 0; i < 4; i++) {
    bytes[i] = (uint8_t)(head >> (24 - 8 * i));
  }
  uint64_t tail = pm_mix(k + 0x51ull);
  size_t extra = (size_t)(tail % 9);
  for (size_t i = 0; i < extra; i++) {
    bytes[4 + i] = (uint8_t)(tail >> (8 * i));
  }
  return pm_copy(arena, bytes, 4 + extra);
}

static inline void pm_set_free(pm_set *set) {
  if (set == NULL) {
    return;
  }
  sl_arena_free(set->arena);
  free(set->rows);
  free(set->inputs);
  memset(set, 0, sizeof *set);
}

static inline void pm_generate(const pm_spec *spec, pm_set *set) {
  static const char *const few[] = {"alpha", "beta", "gamma", "", "delta", "epsilon"};
  memset(set, 0, sizeof *set);
  set->arena = sl_arena_new(64 * 1024);
  set->rows = calloc(spec->rows + 1, sizeof *set->rows);
  set->inputs = calloc(spec->rows + 1, sizeof *set->inputs);
  if (set->arena == NULL || set->rows == NULL || set->inputs == NULL) {
    abort();
  }
  set->count = spec->rows;
  uint64_t state = pm_mix(spec->seed ^ 0xabcdef12345ull);
  char text[512];
  for (size_t i = 0; i < spec->rows; i++) {
    pm_row *row = &set->rows[i];
    uint64_t h[8];
    for (int k = 0; k < 8; k++) {
      state = pm_mix(state + 0x9e3779b97f4a7c15ull);
      h[k] = state;
    }
    uint32_t hot = spec->key_count / 8 + 1;
    uint32_t number = spec->key_first + (uint32_t)((h[0] & 1) ? h[0] % spec->key_count : (h[0] >> 1) % hot);
    row->key = pm_key(set->arena, number);
    int length = snprintf(text, sizeof text, "svc-%08x", number);
    row->series[0] = pm_copy(set->arena, text, (size_t)length);
    row->series[1] = row->key;
    int64_t sort = spec->sort_min + (int64_t)(h[1] % (uint64_t)spec->sort_span);
    row->values[PM_SORT] = sl_value_int(sort);
    row->values[PM_TS] = sl_value_int(1700000000000000000LL + sort * 1000000 + (int64_t)(h[2] % 1000));
    row->values[PM_ID] = sl_value_int(spec->first_id + (int64_t)i);
    if (h[3] % 5 == 0) {
      row->values[PM_FEW] = sl_value_null();
    } else {
      const char *word = few[(h[3] >> 8) % (sizeof few / sizeof few[0])];
      sl_bytes copy = pm_copy(set->arena, word, strlen(word));
      row->values[PM_FEW] = sl_value_str(copy.data, copy.size_bytes);
    }
    if (h[4] % 10 == 0) {
      row->values[PM_MANY] = sl_value_null();
    } else {
      length = snprintf(text, sizeof text, "m%llx", (unsigned long long)(h[4] >> 24));
      size_t extra = spec->many_bytes > 0 ? (size_t)((h[4] >> 4) % (spec->many_bytes + 1)) : 0;
      extra = extra < sizeof text - (size_t)length - 1 ? extra : sizeof text - (size_t)length - 1;
      memset(text + length, 'x', extra);
      sl_bytes copy = pm_copy(set->arena, text, (size_t)length + extra);
      row->values[PM_MANY] = sl_value_str(copy.data, copy.size_bytes);
    }
    if (h[5] % 7 == 0) {
      row->values[PM_BLOB] = sl_value_null();
    } else {
      uint8_t blob[48];
      size_t size = (size_t)((h[5] >> 8) % sizeof blob);
      uint64_t bits = h[6];
      for (size_t k = 0; k < size; k++) {
        if (k % 8 == 0) {
          bits = pm_mix(bits + k);
        }
        blob[k] = (uint8_t)(bits >> (8 * (k % 8)));
      }
      sl_bytes copy = pm_copy(set->arena, blob, size);
      row->values[PM_BLOB] = sl_value_binary(copy.data, copy.size_bytes);
    }
    if (h[7] % 4 == 0) {
      row->values[PM_NUM] = sl_value_null();
    } else if (h[7] % 97 == 1) {
      row->values[PM_NUM] = sl_value_int((h[7] >> 8) & 1 ? INT64_MIN : INT64_MAX);
    } else {
      row->values[PM_NUM] = sl_value_int((int64_t)((h[7] >> 8) % 41) - 20);
    }
    row->age = (uint64_t)spec->set_number << 32 | i;
    set->inputs[i] = (sl_row_input){.key = row->key, .values = row->values, .series_values = row->series,
                                    .series_value_count = PM_SERIES_VALUES};
  }
}

/* ---- the expected part ---- */

typedef struct pm_term {
  sl_bytes term;
  roaring_bitmap_t *postings;
} pm_term;

typedef struct pm_expected {
  const pm_row **rows; /* in part order */
  size_t count;
  pm_term *terms[PM_INDEXES];
  size_t term_count[PM_INDEXES];
  sl_arena *arena; /* int terms */
} pm_expected;

static inline int pm_compare_rows(const void *a, const void *b) {
  const pm_row *x = *(const pm_row *const *)a, *y = *(const pm_row *const *)b;
  int order = sl_bytes_compare(x->key, y->key);
  if (order != 0) {
    return order;
  }
  int64_t xs = x->values[PM_SORT].as.int_value, ys = y->values[PM_SORT].as.int_value;
  if (xs != ys) {
    return xs < ys ? -1 : 1;
  }
  return x->age < y->age ? -1 : x->age > y->age;
}

typedef struct pm_posting {
  sl_bytes term;
  uint32_t position;
} pm_posting;

static inline int pm_compare_postings(const void *a, const void *b) {
  const pm_posting *x = a, *y = b;
  int order = sl_bytes_compare(x->term, y->term);
  if (order != 0) {
    return order;
  }
  return x->position < y->position ? -1 : x->position > y->position;
}

/* The term of a value of an indexed column (int columns: sl_term_from_int64). */
static inline sl_bytes pm_term_of(sl_arena *arena, const sl_value *value) {
  if (value->kind == SL_VALUE_INT) {
    uint8_t number[8];
    sl_term_from_int64(value->as.int_value, number);
    return pm_copy(arena, number, 8);
  }
  return value->as.str;
}

static inline void pm_expect(const pm_set *sets, size_t set_count, pm_expected *out) {
  static const uint32_t index_columns[PM_INDEXES] = {PM_FEW, PM_NUM, PM_MANY};
  memset(out, 0, sizeof *out);
  out->arena = sl_arena_new(16 * 1024);
  for (size_t s = 0; s < set_count; s++) {
    out->count += sets[s].count;
  }
  out->rows = calloc(out->count + 1, sizeof(const pm_row *));
  pm_posting *postings = calloc(out->count + 1, sizeof *postings);
  if (out->arena == NULL || out->rows == NULL || postings == NULL) {
    abort();
  }
  size_t at = 0;
  for (size_t s = 0; s < set_count; s++) {
    for (size_t i = 0; i < sets[s].count; i++) {
      out->rows[at++] = &sets[s].rows[i];
    }
  }
  qsort(out->rows, out->count, sizeof(const pm_row *), pm_compare_rows);
  for (size_t x = 0; x < PM_INDEXES; x++) {
    size_t pairs = 0;
    for (size_t r = 0; r < out->count; r++) {
      const sl_value *value = &out->rows[r]->values[index_columns[x]];
      if (value->kind != SL_VALUE_NULL) {
        postings[pairs++] = (pm_posting){.term = pm_term_of(out->arena, value), .position = (uint32_t)r};
      }
    }
    qsort(postings, pairs, sizeof *postings, pm_compare_postings);
    out->terms[x] = calloc(pairs + 1, sizeof(pm_term));
    if (out->terms[x] == NULL) {
      abort();
    }
    for (size_t p = 0; p < pairs; p++) {
      size_t count = out->term_count[x];
      if (count == 0 || sl_bytes_compare(out->terms[x][count - 1].term, postings[p].term) != 0) {
        out->terms[x][count] = (pm_term){.term = postings[p].term, .postings = roaring_bitmap_create()};
        out->term_count[x]++;
        count++;
      }
      roaring_bitmap_add(out->terms[x][count - 1].postings, postings[p].position);
    }
  }
  free(postings);
}

static inline void pm_expected_free(pm_expected *expected) {
  for (size_t x = 0; x < PM_INDEXES; x++) {
    for (size_t t = 0; t < expected->term_count[x]; t++) {
      roaring_bitmap_free(expected->terms[x][t].postings);
    }
    free(expected->terms[x]);
  }
  free(expected->rows);
  sl_arena_free(expected->arena);
  memset(expected, 0, sizeof *expected);
}

/* ---- checking a part against the model ---- */

typedef struct pm_checker {
  char message[PM_MESSAGE_BYTES];
  uint64_t blocks;
  uint64_t chunks;
  uint64_t terms_checked;
  uint64_t ranges_checked;
} pm_checker;

static inline bool pm_fail(pm_checker *checker, const char *format, ...) __attribute__((format(printf, 2, 3)));
static inline bool pm_fail(pm_checker *checker, const char *format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(checker->message, sizeof checker->message, format, args);
  va_end(args);
  return false;
}

#define PM_CHECK(checker, condition, ...) \
  do {                                    \
    if (!(condition)) {                   \
      return pm_fail((checker), __VA_ARGS__); \
    }                                     \
  } while (0)

static inline bool pm_value_equal(sl_column_type type, const sl_value *expected, const sl_column_view *view, size_t r) {
  bool is_null = view->is_null != NULL && view->is_null[r];
  if (expected->kind == SL_VALUE_NULL || is_null) {
    return expected->kind == SL_VALUE_NULL && is_null;
  }
  if (type == SL_COLUMN_INT64 || type == SL_COLUMN_TIMESTAMP) {
    return view->ints != NULL && view->ints[r] == expected->as.int_value;
  }
  return view->bytes != NULL && view->bytes[r].size_bytes == expected->as.str.size_bytes &&
         (expected->as.str.size_bytes == 0 || memcmp(view->bytes[r].data, expected->as.str.data, expected->as.str.size_bytes) == 0);
}

static inline uint64_t pm_row_column_bytes(const pm_row *row) {
  uint64_t bytes = 0;
  for (int c = 0; c < PM_COLUMNS; c++) {
    const sl_value *value = &row->values[c];
    if (value->kind == SL_VALUE_INT) {
      bytes += 8;
    } else if (value->kind == SL_VALUE_STR || value->kind == SL_VALUE_BINARY) {
      bytes += value->as.str.size_bytes;
    }
  }
  return bytes;
}

static inline bool pm_bitmap_check(pm_checker *checker, const roaring_bitmap_t *got, const roaring_bitmap_t *want,
                                   const char *what, size_t x, sl_bytes term) {
  if (want == NULL) {
    PM_CHECK(checker, got == NULL || roaring_bitmap_is_empty(got), "index %zu: %s of an absent term (%zu bytes) found rows",
             x, what, term.size_bytes);
    return true;
  }
  PM_CHECK(checker, got != NULL, "index %zu: %s: term of %zu bytes (\"%.*s\") missing", x, what, term.size_bytes,
           (int)term.size_bytes, term.data);
  if (!roaring_bitmap_equals(got, want)) {
    return pm_fail(checker, "index %zu: %s: term \"%.*s\": %llu rows, expected %llu", x, what, (int)term.size_bytes,
                   term.data, (unsigned long long)roaring_bitmap_get_cardinality(got),
                   (unsigned long long)roaring_bitmap_get_cardinality(want));
  }
  return true;
}

/* Cursor both ways, every term looked up, absent terms, seeks and ranges. */
static inline bool pm_check_index(pm_checker *checker, sl_part *part, const pm_expected *expected, size_t x,
                                  sl_read_context *context, uint64_t seed) {
  sl_error err;
  const pm_term *terms = expected->terms[x];
  size_t count = expected->term_count[x];
  PM_CHECK(checker, sl_part_index_terms(part, (uint32_t)x) == count, "index %zu: %llu terms, expected %zu", x,
           (unsigned long long)sl_part_index_terms(part, (uint32_t)x), count);
  for (int descending = 0; descending < 2; descending++) {
    sl_part_term_cursor *cursor = NULL;
    PM_CHECK(checker, sl_part_term_cursor_open(part, (uint32_t)x, descending, context, &cursor, &err) == SL_OK,
             "index %zu: cursor: %s", x, err.message);
    bool ok = true;
    for (size_t k = 0; k <= count && ok; k++) {
      bool valid = false;
      sl_bytes term = {0};
      roaring_bitmap_t *postings = NULL;
      if (sl_part_term_cursor_next(cursor, &valid, &term, &postings, &err) != SL_OK) {
        ok = pm_fail(checker, "index %zu: cursor next: %s", x, err.message);
        break;
      }
      if (k == count) {
        ok = !valid || pm_fail(checker, "index %zu: the cursor goes past the %zu terms", x, count);
      } else if (!valid) {
        ok = pm_fail(checker, "index %zu: the cursor stops after %zu of %zu terms", x, k, count);
      } else {
        const pm_term *want = &terms[descending ? count - 1 - k : k];
        ok = sl_bytes_compare(term, want->term) == 0 ||
             pm_fail(checker, "index %zu: %s cursor term %zu differs", x, descending ? "descending" : "ascending", k);
        ok = ok && pm_bitmap_check(checker, postings, want->postings, "cursor", x, want->term);
      }
      sl_bitmap_free(postings);
    }
    sl_part_term_cursor_close(cursor);
    if (!ok) {
      return false;
    }
  }
  for (size_t t = 0; t < count; t++) {
    roaring_bitmap_t *got = NULL;
    PM_CHECK(checker, sl_part_index_lookup(part, (uint32_t)x, terms[t].term, context, &got, &err) == SL_OK,
             "index %zu: lookup: %s", x, err.message);
    bool ok = pm_bitmap_check(checker, got, terms[t].postings, "lookup", x, terms[t].term);
    sl_bitmap_free(got);
    if (!ok) {
      return false;
    }
    checker->terms_checked++;
  }
  /* Absent terms: between and around existing ones. */
  static const char *const absent[] = {"zzzz-absent", "alphaa", "\x01", "m", "beta\x00", "\xff\xff\xff\xff\xff\xff\xff\xff\xff"};
  for (size_t a = 0; a < sizeof absent / sizeof absent[0]; a++) {
    sl_bytes term = {.data = absent[a], .size_bytes = strlen(absent[a]) + (a == 4)};
    const roaring_bitmap_t *want = NULL;
    for (size_t t = 0; t < count; t++) {
      if (sl_bytes_compare(terms[t].term, term) == 0) {
        want = terms[t].postings;
      }
    }
    roaring_bitmap_t *got = NULL;
    PM_CHECK(checker, sl_part_index_lookup(part, (uint32_t)x, term, context, &got, &err) == SL_OK,
             "index %zu: lookup: %s", x, err.message);
    bool ok = pm_bitmap_check(checker, got, want, "lookup", x, term);
    sl_bitmap_free(got);
    if (!ok) {
      return false;
    }
  }
  /* Seeks: ascending to the first term >= t, descending to the last <= t. */
  uint64_t state = pm_mix(seed + x);
  for (int probe = 0; probe < 12 && count > 0; probe++) {
    state = pm_mix(state + 1);
    const pm_term *base = &terms[state % count];
    uint8_t bytes[80];
    size_t size = base->term.size_bytes < 70 ? base->term.size_bytes : 70;
    memcpy(bytes, base->term.data, size);
    if (probe % 2 == 1) {
      bytes[size++] = 0; /* just above base */
    }
    sl_bytes target = {.data = (const char *)bytes, .size_bytes = size};
    for (int descending = 0; descending < 2; descending++) {
      sl_part_term_cursor *cursor = NULL;
      PM_CHECK(checker, sl_part_term_cursor_open(part, (uint32_t)x, descending, context, &cursor, &err) == SL_OK,
               "index %zu: cursor: %s", x, err.message);
      bool valid = false;
      sl_bytes got = {0};
      sl_status status = sl_part_term_cursor_seek(cursor, &target, &err);
      if (status == SL_OK) {
        status = sl_part_term_cursor_next(cursor, &valid, &got, NULL, &err);
      }
      sl_bytes got_copy = got;
      uint8_t held[80];
      if (valid && got.size_bytes <= sizeof held) {
        memcpy(held, got.data, got.size_bytes);
        got_copy.data = (const char *)held;
      }
      sl_part_term_cursor_close(cursor);
      PM_CHECK(checker, status == SL_OK, "index %zu: seek: %s", x, err.message);
      const pm_term *want = NULL;
      for (size_t t = 0; t < count; t++) {
        int order = sl_bytes_compare(terms[t].term, target);
        if (!descending && order >= 0 && want == NULL) {
          want = &terms[t];
        }
        if (descending && order <= 0) {
          want = &terms[t];
        }
      }
      PM_CHECK(checker, valid == (want != NULL) && (want == NULL || sl_bytes_compare(got_copy, want->term) == 0),
               "index %zu: %s seek to a term of %zu bytes lands on the wrong term", x,
               descending ? "descending" : "ascending", size);
    }
  }
  /* Ranges with bounds on, between and outside the terms, open on either side. */
  for (int probe = 0; probe < PM_MAX_RANGE_CHECKS; probe++) {
    sl_bytes bounds[2];
    uint8_t storage[2][80];
    bool open[2];
    for (int side = 0; side < 2; side++) {
      state = pm_mix(state + 7);
      open[side] = state % 7 == 0 || count == 0;
      if (open[side]) {
        continue;
      }
      const pm_term *base = &terms[(state >> 8) % count];
      size_t size = base->term.size_bytes < 70 ? base->term.size_bytes : 70;
      memcpy(storage[side], base->term.data, size);
      if ((state >> 4) % 3 == 0) {
        storage[side][size++] = 0;
      }
      bounds[side] = (sl_bytes){.data = (const char *)storage[side], .size_bytes = size};
    }
    roaring_bitmap_t *want = roaring_bitmap_create();
    for (size_t t = 0; t < count; t++) {
      if ((open[0] || sl_bytes_compare(terms[t].term, bounds[0]) >= 0) &&
          (open[1] || sl_bytes_compare(terms[t].term, bounds[1]) <= 0)) {
        roaring_bitmap_or_inplace(want, terms[t].postings);
      }
    }
    roaring_bitmap_t *got = NULL;
    sl_status status = sl_part_index_range(part, (uint32_t)x, open[0] ? NULL : &bounds[0], open[1] ? NULL : &bounds[1],
                                           context, &got, &err);
    bool ok = status == SL_OK ? got != NULL && roaring_bitmap_equals(got, want)
                              : pm_fail(checker, "index %zu: range: %s", x, err.message);
    if (status == SL_OK && !ok) {
      pm_fail(checker, "index %zu: range %d: %llu rows, expected %llu", x, probe,
              got != NULL ? (unsigned long long)roaring_bitmap_get_cardinality(got) : 0ull,
              (unsigned long long)roaring_bitmap_get_cardinality(want));
    }
    sl_bitmap_free(got);
    roaring_bitmap_free(want);
    if (!ok) {
      return false;
    }
    checker->ranges_checked++;
  }
  return true;
}

static inline bool pm_check_block(pm_checker *checker, sl_part *part, const sl_block_meta *block, const pm_expected *expected,
                                  sl_read_context *context) {
  const sl_part_layout *layout = sl_part_layout_of(part);
  sl_error err;
  PM_CHECK(checker, block->rows > 0 && block->first_row + block->rows <= expected->count,
           "block at row %llu: %u rows past the %zu expected", (unsigned long long)block->first_row, block->rows,
           expected->count);
  PM_CHECK(checker, layout->max_block_rows == 0 || block->rows <= layout->max_block_rows,
           "block at row %llu: %u rows, the limit is %u", (unsigned long long)block->first_row, block->rows,
           layout->max_block_rows);
  uint64_t bytes = 0;
  int64_t min_sort = INT64_MAX, max_sort = INT64_MIN, min_ts = INT64_MAX, max_ts = INT64_MIN;
  for (uint32_t r = 0; r < block->rows; r++) {
    const pm_row *row = expected->rows[block->first_row + r];
    PM_CHECK(checker, sl_bytes_compare(row->key, block->key) == 0, "block at row %llu: row %u has another key",
             (unsigned long long)block->first_row, r);
    bytes += pm_row_column_bytes(row);
    int64_t sort = row->values[PM_SORT].as.int_value, ts = row->values[PM_TS].as.int_value;
    min_sort = sort < min_sort ? sort : min_sort;
    max_sort = sort > max_sort ? sort : max_sort;
    min_ts = ts < min_ts ? ts : min_ts;
    max_ts = ts > max_ts ? ts : max_ts;
  }
  PM_CHECK(checker, layout->max_block_raw_bytes == 0 || block->rows == 1 || bytes <= layout->max_block_raw_bytes,
           "block at row %llu: %u rows of %llu column bytes, the limit is %llu", (unsigned long long)block->first_row,
           block->rows, (unsigned long long)bytes, (unsigned long long)layout->max_block_raw_bytes);
  PM_CHECK(checker, block->min_sort == min_sort && block->max_sort == max_sort && block->min_timestamp == min_ts &&
                        block->max_timestamp == max_ts,
           "block at row %llu: sort or time range differs from its rows", (unsigned long long)block->first_row);
  for (uint32_t c = 0; c < layout->column_count; c++) {
    sl_column_view view;
    PM_CHECK(checker, sl_part_read_column(part, block, c, context, &view, &err) == SL_OK, "read column %u: %s", c,
             err.message);
    PM_CHECK(checker, view.count == block->rows && view.type == layout->columns[c].type,
             "column %u of block at row %llu: %zu values", c, (unsigned long long)block->first_row, view.count);
    uint32_t nulls = 0;
    for (uint32_t r = 0; r < block->rows; r++) {
      const pm_row *row = expected->rows[block->first_row + r];
      nulls += row->values[c].kind == SL_VALUE_NULL;
      PM_CHECK(checker, pm_value_equal(layout->columns[c].type, &row->values[c], &view, r),
               "column %s, part row %llu (row id %lld): the value differs", layout->columns[c].name,
               (unsigned long long)(block->first_row + r), (long long)row->values[PM_ID].as.int_value);
    }
    PM_CHECK(checker, block->columns[c].null_count == nulls, "column %s of block at row %llu: %u nulls, expected %u",
             layout->columns[c].name, (unsigned long long)block->first_row, block->columns[c].null_count, nulls);
  }
  sl_read_context_reset(context);
  return true;
}

/* Compares everything part answers with the expected rows and terms. */
static inline bool pm_check(pm_checker *checker, sl_part *part, const pm_expected *expected, uint64_t seed) {
  memset(checker, 0, sizeof *checker);
  sl_error err;
  sl_part_info info = sl_part_info_of(part);
  PM_CHECK(checker, info.rows == expected->count, "the part has %llu rows, expected %zu", (unsigned long long)info.rows,
           expected->count);
  sl_read_context context;
  PM_CHECK(checker, sl_read_context_init(&context, &err) == SL_OK, "%s", err.message);
  bool ok = true;
  uint64_t row = 0, blocks = 0;
  int64_t min_sort = INT64_MAX, max_sort = INT64_MIN, min_ts = INT64_MAX, max_ts = INT64_MIN;
  sl_bytes previous_key = {0};
  int64_t previous_max_sort = INT64_MIN;
  for (size_t c = 0; ok && c < sl_part_chunk_count(part); c++) {
    const sl_chunk_info *chunk = sl_part_chunk(part, c);
    const sl_block_meta *list = NULL;
    size_t count = 0;
    if (sl_part_chunk_blocks(part, c, &context, &list, &count, &err) != SL_OK) {
      ok = pm_fail(checker, "chunk %zu: %s", c, err.message);
      break;
    }
    ok = (count == chunk->block_count && count > 0 && count <= SL_PART_CHUNK_BLOCKS && chunk->first_row == row &&
          chunk->first_block == blocks) ||
         pm_fail(checker, "chunk %zu: %zu blocks, first row %llu, expected row %llu", c, count,
                 (unsigned long long)chunk->first_row, (unsigned long long)row);
    uint64_t chunk_rows = 0;
    for (size_t b = 0; ok && b < count; b++) {
      const sl_block_meta *block = &list[b];
      ok = block->first_row == row || pm_fail(checker, "block %llu starts at row %llu, expected %llu",
                                              (unsigned long long)blocks, (unsigned long long)block->first_row,
                                              (unsigned long long)row);
      int order = blocks > 0 ? sl_bytes_compare(previous_key, block->key) : -1;
      ok = ok && (order < 0 || (order == 0 && block->min_sort >= previous_max_sort) ||
                  pm_fail(checker, "block %llu: keys or sort values out of order", (unsigned long long)blocks));
      ok = ok && pm_check_block(checker, part, block, expected, &context);
      if (!ok) {
        break;
      }
      if (b == 0) {
        ok = sl_bytes_compare(chunk->first_key, block->key) == 0 ||
             pm_fail(checker, "chunk %zu: first key differs from its first block's", c);
      }
      if (b + 1 == count) {
        ok = ok && (sl_bytes_compare(chunk->last_key, block->key) == 0 ||
                    pm_fail(checker, "chunk %zu: last key differs from its last block's", c));
      }
      previous_key = block->key;
      previous_max_sort = block->max_sort;
      min_sort = block->min_sort < min_sort ? block->min_sort : min_sort;
      max_sort = block->max_sort > max_sort ? block->max_sort : max_sort;
      min_ts = block->min_timestamp < min_ts ? block->min_timestamp : min_ts;
      max_ts = block->max_timestamp > max_ts ? block->max_timestamp : max_ts;
      row += block->rows;
      chunk_rows += block->rows;
      blocks++;
    }
    ok = ok && (chunk_rows == chunk->row_count || pm_fail(checker, "chunk %zu: row count differs", c));
    checker->chunks++;
  }
  checker->blocks = blocks;
  ok = ok && (row == expected->count || pm_fail(checker, "the blocks hold %llu rows of %zu", (unsigned long long)row,
                                                 expected->count));
  ok = ok && (blocks == info.blocks || pm_fail(checker, "%llu blocks, info says %llu", (unsigned long long)blocks,
                                               (unsigned long long)info.blocks));
  ok = ok && ((info.min_sort == min_sort && info.max_sort == max_sort && info.min_timestamp == min_ts &&
               info.max_timestamp == max_ts) ||
              pm_fail(checker, "the part's sort or time range differs from its blocks'"));
  /* Series metadata: one entry per distinct key, in key order, with the first row's values. */
  size_t series = 0;
  for (size_t r = 0; ok && r < expected->count; r++) {
    const pm_row *expected_row = expected->rows[r];
    if (r > 0 && sl_bytes_compare(expected->rows[r - 1]->key, expected_row->key) == 0) {
      continue;
    }
    ok = series < sl_part_series_count(part) || pm_fail(checker, "only %zu series", sl_part_series_count(part));
    if (!ok) {
      break;
    }
    const sl_series_entry *entry = sl_part_series_at(part, series);
    ok = (sl_bytes_compare(entry->key, expected_row->key) == 0 && entry->value_count == PM_SERIES_VALUES &&
          sl_bytes_compare(entry->values[0], expected_row->series[0]) == 0 &&
          sl_bytes_compare(entry->values[1], expected_row->series[1]) == 0) ||
         pm_fail(checker, "series %zu differs", series);
    ok = ok && (sl_part_key_might_exist(part, expected_row->key, &context) ||
                pm_fail(checker, "the bloom forgets the key of series %zu", series));
    series++;
  }
  ok = ok && (series == sl_part_series_count(part) ||
              pm_fail(checker, "%zu series, expected %zu", sl_part_series_count(part), series));
  /* Chunk lower bound and row lookups. */
  uint64_t state = pm_mix(seed ^ 0x77);
  for (int probe = 0; ok && probe < 64 && expected->count > 0; probe++) {
    state = pm_mix(state + 3);
    uint64_t target = state % expected->count;
    const sl_block_meta *block = NULL;
    uint32_t in_block = 0;
    if (sl_part_block_of_row(part, target, &context, &block, &in_block, &err) != SL_OK) {
      ok = pm_fail(checker, "block of row %llu: %s", (unsigned long long)target, err.message);
      break;
    }
    ok = (block->first_row + in_block == target && sl_bytes_compare(block->key, expected->rows[target]->key) == 0) ||
         pm_fail(checker, "block of row %llu is wrong", (unsigned long long)target);
    size_t chunk = sl_part_chunk_lower_bound(part, expected->rows[target]->key);
    ok = ok && ((chunk < sl_part_chunk_count(part) &&
                 sl_bytes_compare(sl_part_chunk(part, chunk)->last_key, expected->rows[target]->key) >= 0 &&
                 (chunk == 0 || sl_bytes_compare(sl_part_chunk(part, chunk - 1)->last_key, expected->rows[target]->key) < 0)) ||
                pm_fail(checker, "chunk lower bound of row %llu's key is wrong", (unsigned long long)target));
  }
  for (size_t x = 0; ok && x < PM_INDEXES; x++) {
    ok = pm_check_index(checker, part, expected, x, &context, seed);
  }
  sl_read_context_free(&context);
  return ok;
}

/* ---- reading everything, for corrupt inputs: the first error, never a crash ---- */

static inline sl_status pm_read_all(sl_part *part, sl_error *err) {
  sl_read_context context;
  SL_TRY(sl_read_context_init(&context, err));
  const sl_part_layout *layout = sl_part_layout_of(part);
  sl_status status = SL_OK;
  sl_part_info info = sl_part_info_of(part);
  for (size_t c = 0; status == SL_OK && c < sl_part_chunk_count(part); c++) {
    const sl_block_meta *blocks = NULL;
    size_t count = 0;
    status = sl_part_chunk_blocks(part, c, &context, &blocks, &count, err);
    for (size_t b = 0; status == SL_OK && b < count; b++) {
      for (uint32_t k = 0; status == SL_OK && k < layout->column_count; k++) {
        sl_column_view view;
        status = sl_part_read_column(part, &blocks[b], k, &context, &view, err);
        /* Touch every value: a view must be as long as the block says. */
        for (size_t r = 0; status == SL_OK && r < view.count; r++) {
          volatile uint64_t sink = 0;
          if (view.ints != NULL) {
            sink += (uint64_t)view.ints[r];
          }
          if (view.bytes != NULL && view.bytes[r].size_bytes > 0) {
            sink += (uint8_t)view.bytes[r].data[0] + (uint8_t)view.bytes[r].data[view.bytes[r].size_bytes - 1];
          }
          if (view.is_null != NULL) {
            sink += view.is_null[r];
          }
          (void)sink;
        }
      }
      sl_read_context_reset(&context);
    }
  }
  for (uint64_t r = 0; status == SL_OK && r < info.rows; r += 1 + info.rows / 16) {
    const sl_block_meta *block = NULL;
    uint32_t in_block = 0;
    status = sl_part_block_of_row(part, r, &context, &block, &in_block, err);
  }
  for (size_t s = 0; status == SL_OK && s < sl_part_series_count(part); s++) {
    const sl_series_entry *entry = sl_part_series_at(part, s);
    (void)sl_part_key_might_exist(part, entry->key, &context);
    (void)sl_part_chunk_lower_bound(part, entry->key);
  }
  for (uint32_t x = 0; status == SL_OK && x < layout->index_count; x++) {
    for (int descending = 0; status == SL_OK && descending < 2; descending++) {
      sl_part_term_cursor *cursor = NULL;
      status = sl_part_term_cursor_open(part, x, descending, &context, &cursor, err);
      bool valid = status == SL_OK;
      for (uint64_t n = 0; status == SL_OK && valid && n <= info.rows + 1; n++) {
        sl_bytes term = {0};
        roaring_bitmap_t *postings = NULL;
        status = sl_part_term_cursor_next(cursor, &valid, &term, &postings, err);
        if (status == SL_OK && valid && !descending) {
          roaring_bitmap_t *found = NULL;
          status = sl_part_index_lookup(part, x, term, &context, &found, err);
          sl_bitmap_free(found);
        }
        sl_bitmap_free(postings);
      }
      sl_part_term_cursor_close(cursor);
    }
    roaring_bitmap_t *all = NULL;
    if (status == SL_OK) {
      status = sl_part_index_range(part, x, NULL, NULL, &context, &all, err);
    }
    sl_bitmap_free(all);
  }
  sl_read_context_free(&context);
  return status;
}

#endif
