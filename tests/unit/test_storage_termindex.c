/* test_storage_termindex.c: the term index of a part.  The builder dedups and sorts; builder ->
 * writer -> file -> reader round-trips random terms (fixed seeds) against a brute-force model for
 * every lookup, random ranges (absent bounds, open bounds, empty ranges, int64 terms with negative
 * values) and cursors both ways with seeks; a tiny index matches docs/FORMAT.md byte for byte;
 * every truncation, every single-byte corruption and hand-made inconsistent files (valid
 * checksums, wrong content) are SL_ERR_CORRUPT naming the path and an offset; readers in several
 * threads agree. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "storage/block.h"
#include "storage/postings.h"
#include "storage/termindex.h"
#include "test_support.h"

enum { PATH_BYTES = 4200 };

/* CRoaring 0.2.66's roaring_bitmap_free does not accept NULL. */
static void free_bitmap(roaring_bitmap_t *bitmap) {
  if (bitmap != NULL) {
    roaring_bitmap_free(bitmap);
  }
}

/* ---- Deterministic randomness ---- */

static uint64_t next_random(uint64_t *state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *state = x;
  return x;
}

static uint64_t random_below(uint64_t *state, uint64_t bound) { return next_random(state) % bound; }

/* ---- A brute-force model: sorted unique terms, each with sorted unique positions ---- */

typedef struct model_term {
  uint8_t *bytes;
  size_t size;
  uint32_t *positions;
  size_t count;
} model_term;

typedef struct model {
  model_term *terms;
  size_t count;
} model;

typedef struct model_pair {
  uint8_t *bytes;
  size_t size;
  uint32_t position;
} model_pair;

static int model_compare_bytes(const uint8_t *a, size_t a_size, const uint8_t *b, size_t b_size) {
  for (size_t i = 0; i < a_size && i < b_size; i++) {
    if (a[i] != b[i]) {
      return a[i] < b[i] ? -1 : 1;
    }
  }
  return a_size < b_size ? -1 : a_size > b_size ? 1 : 0;
}

static int compare_model_pairs(const void *a_ptr, const void *b_ptr) {
  const model_pair *a = a_ptr;
  const model_pair *b = b_ptr;
  int order = model_compare_bytes(a->bytes, a->size, b->bytes, b->size);
  if (order != 0) {
    return order;
  }
  return a->position < b->position ? -1 : a->position > b->position ? 1 : 0;
}

/* Builds the model from pairs (sorting them; the pairs keep ownership of their bytes). */
static model model_from_pairs(model_pair *pairs, size_t count) {
  qsort(pairs, count, sizeof *pairs, compare_model_pairs);
  model result = {calloc(count + 1, sizeof(model_term)), 0};
  for (size_t i = 0; i < count; i++) {
    model_term *last = result.count == 0 ? NULL : &result.terms[result.count - 1];
    if (last == NULL || model_compare_bytes(last->bytes, last->size, pairs[i].bytes, pairs[i].size) != 0) {
      last = &result.terms[result.count++];
      last->bytes = pairs[i].bytes;
      last->size = pairs[i].size;
      size_t run = 1;
      while (i + run < count && model_compare_bytes(pairs[i + run].bytes, pairs[i + run].size,
                                                    pairs[i].bytes, pairs[i].size) == 0) {
        run++;
      }
      last->positions = malloc(run * sizeof(uint32_t));
    }
    if (last->count == 0 || last->positions[last->count - 1] != pairs[i].position) {
      last->positions[last->count++] = pairs[i].position;
    }
  }
  return result;
}

static void model_free(model *m) {
  for (size_t i = 0; i < m->count; i++) {
    free(m->terms[i].positions);
  }
  free(m->terms);
}

static roaring_bitmap_t *model_bitmap(const model_term *term) {
  return roaring_bitmap_of_ptr(term->count, term->positions);
}

/* Index of the first model term >= bytes. */
static size_t model_lower_bound(const model *m, const uint8_t *bytes, size_t size) {
  size_t i = 0;
  while (i < m->count && model_compare_bytes(m->terms[i].bytes, m->terms[i].size, bytes, size) < 0) {
    i++;
  }
  return i;
}

static void assert_bitmap_is(const roaring_bitmap_t *bitmap, const model_term *term) {
  assert_non_null(bitmap);
  roaring_bitmap_t *expected = model_bitmap(term);
  assert_true(roaring_bitmap_equals(bitmap, expected));
  free_bitmap(expected);
}

/* ---- Files ---- */

static int write_content(const char *dir, const char *name, const uint8_t *data, size_t size,
                         char *path_out) {
  snprintf(path_out, PATH_BYTES, "%s/%s", dir, name);
  int fd = open(path_out, O_RDWR | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  if (size > 0) {
    assert_int_equal(pwrite(fd, data, size, 0), (ssize_t)size);
  }
  return fd;
}

/* Writes the model's terms in order through an sl_term_writer. */
static void write_model(const model *m, sl_codec *codec, sl_buffer *out) {
  sl_term_writer *writer = sl_term_writer_new(codec);
  assert_non_null(writer);
  sl_error err;
  for (size_t i = 0; i < m->count; i++) {
    roaring_bitmap_t *bitmap = model_bitmap(&m->terms[i]);
    roaring_bitmap_run_optimize(bitmap);
    if (sl_term_writer_add(writer, m->terms[i].bytes, m->terms[i].size, bitmap, &err) != SL_OK) {
      fail_msg("add term %zu: %s", i, err.message);
    }
    free_bitmap(bitmap);
  }
  uint64_t term_count = 0;
  assert_int_equal(sl_term_writer_finish(writer, out, &term_count, &err), SL_OK);
  assert_int_equal(term_count, m->count);
  sl_term_writer_free(writer);
}

/* ---- Builder ---- */

static void builder_dedups_and_orders(void **state) {
  (void)state;
  sl_term_builder *builder = sl_term_builder_new();
  assert_non_null(builder);
  sl_error err;
  /* "b" {5, 1}, "a" {3}, "" {0}, "ab" {2, 2}, "a\0" {9}, "\xff" {4}: given out of order, with
   * the pair ("ab", 2) twice and ("b", 5) twice. */
  struct {
    const char *term;
    size_t size;
    uint32_t position;
  } adds[] = {{"b", 1, 5}, {"a", 1, 3}, {"", 0, 0}, {"ab", 2, 2}, {"b", 1, 1},
              {"ab", 2, 2}, {"a\0", 2, 9}, {"\xff", 1, 4}, {"b", 1, 5}};
  for (size_t i = 0; i < sizeof adds / sizeof adds[0]; i++) {
    assert_int_equal(sl_term_builder_add(builder, adds[i].term, adds[i].size, adds[i].position, &err), SL_OK);
  }
  assert_int_equal(sl_term_builder_pair_count(builder), 9);
  char too_long[SL_TERM_MAX_BYTES + 1];
  memset(too_long, 'x', sizeof too_long);
  assert_int_equal(sl_term_builder_add(builder, too_long, sizeof too_long, 1, &err), SL_ERR_INVALID);
  assert_non_null(strstr(err.message, "65535"));
  sl_term_list *list = NULL;
  assert_int_equal(sl_term_builder_finish(builder, &list, &err), SL_OK);
  const struct {
    const char *term;
    size_t size;
    uint32_t positions[2];
    size_t count;
  } expected[] = {{"", 0, {0}, 1},     {"a", 1, {3}, 1},    {"a\0", 2, {9}, 1},
                  {"ab", 2, {2}, 1},   {"b", 1, {1, 5}, 2}, {"\xff", 1, {4}, 1}};
  size_t count = sizeof expected / sizeof expected[0];
  assert_int_equal(sl_term_list_count(list), count);
  for (size_t i = 0; i < count; i++) {
    sl_bytes term = sl_term_list_term(list, i);
    assert_int_equal(term.size_bytes, expected[i].size);
    assert_memory_equal(term.data, expected[i].term, expected[i].size);
    const roaring_bitmap_t *postings = sl_term_list_postings(list, i);
    assert_int_equal(roaring_bitmap_get_cardinality(postings), expected[i].count);
    for (size_t p = 0; p < expected[i].count; p++) {
      assert_true(roaring_bitmap_contains(postings, expected[i].positions[p]));
    }
  }
  assert_int_equal(sl_term_list_lower_bound(list, "", 0), 0);
  assert_int_equal(sl_term_list_lower_bound(list, "a", 1), 1);
  assert_int_equal(sl_term_list_lower_bound(list, "aa", 2), 3);
  assert_int_equal(sl_term_list_lower_bound(list, "b\0", 2), 5);
  assert_int_equal(sl_term_list_lower_bound(list, "\xff\xff", 2), 6);
  assert_true(sl_term_list_memory_bytes(list) > 6);
  sl_term_list_free(list);
  /* The builder is empty and reusable. */
  assert_int_equal(sl_term_builder_pair_count(builder), 0);
  assert_int_equal(sl_term_builder_add(builder, "z", 1, 7, &err), SL_OK);
  assert_int_equal(sl_term_builder_finish(builder, &list, &err), SL_OK);
  assert_int_equal(sl_term_list_count(list), 1);
  assert_true(roaring_bitmap_contains(sl_term_list_postings(list, 0), 7));
  sl_term_list_free(list);
  /* Runs, dense and sparse positions (run, bitset and array containers) survive the frozen
   * copies the list keeps, and read like any bitmap. */
  for (uint32_t p = 5099; p >= 100; p--) {
    assert_int_equal(sl_term_builder_add(builder, "run", 3, p, &err), SL_OK);
  }
  for (uint32_t p = 0; p < 10000; p++) {
    assert_int_equal(sl_term_builder_add(builder, "dense", 5, p * 2, &err), SL_OK);
  }
  const uint32_t sparse[] = {4000000000u, 0, 70000};
  for (size_t p = 0; p < 3; p++) {
    assert_int_equal(sl_term_builder_add(builder, "sparse", 6, sparse[p], &err), SL_OK);
  }
  assert_int_equal(sl_term_builder_finish(builder, &list, &err), SL_OK);
  assert_int_equal(sl_term_list_count(list), 3);
  const roaring_bitmap_t *dense = sl_term_list_postings(list, 0);
  const roaring_bitmap_t *run = sl_term_list_postings(list, 1);
  const roaring_bitmap_t *sparse_postings = sl_term_list_postings(list, 2);
  assert_int_equal(roaring_bitmap_get_cardinality(run), 5000);
  assert_true(roaring_bitmap_contains(run, 100) && roaring_bitmap_contains(run, 5099));
  assert_false(roaring_bitmap_contains(run, 99) || roaring_bitmap_contains(run, 5100));
  assert_int_equal(roaring_bitmap_get_cardinality(dense), 10000);
  assert_true(roaring_bitmap_contains(dense, 19998) && !roaring_bitmap_contains(dense, 19999));
  assert_int_equal(roaring_bitmap_get_cardinality(sparse_postings), 3);
  assert_true(roaring_bitmap_contains(sparse_postings, 4000000000u));
  roaring_bitmap_t *both = roaring_bitmap_and(run, dense); /* even positions 100..5098 */
  assert_int_equal(roaring_bitmap_get_cardinality(both), 2500);
  free_bitmap(both);
  sl_term_list_free(list);
  /* An empty builder gives an empty list. */
  assert_int_equal(sl_term_builder_finish(builder, &list, &err), SL_OK);
  assert_int_equal(sl_term_list_count(list), 0);
  assert_int_equal(sl_term_list_lower_bound(list, "a", 1), 0);
  sl_term_list_free(list);
  sl_term_builder_free(builder);
}

static void int64_terms_keep_numeric_order(void **state) {
  (void)state;
  const int64_t values[] = {INT64_MIN, INT64_MIN + 1, -1000000, -256, -255, -1, 0,
                            1, 255, 256, 1000000, INT64_MAX - 1, INT64_MAX};
  size_t count = sizeof values / sizeof values[0];
  uint8_t previous[8];
  for (size_t i = 0; i < count; i++) {
    uint8_t term[8];
    sl_term_from_int64(values[i], term);
    assert_int_equal(sl_term_to_int64(term), values[i]);
    if (i > 0) {
      assert_true(memcmp(previous, term, 8) < 0);
    }
    memcpy(previous, term, 8);
  }
  uint8_t zero[8];
  sl_term_from_int64(0, zero);
  const uint8_t expected_zero[8] = {0x80, 0, 0, 0, 0, 0, 0, 0};
  assert_memory_equal(zero, expected_zero, 8);
  uint8_t minus_one[8];
  sl_term_from_int64(-1, minus_one);
  const uint8_t expected_minus_one[8] = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  assert_memory_equal(minus_one, expected_minus_one, 8);
}

/* ---- Round trip ---- */

typedef struct scenario {
  uint64_t seed;
  size_t pairs;
  size_t max_position;
  bool int64_terms;
  bool long_terms;   /* some terms of 1..3 KB (term blocks close by size) */
  bool big_postings; /* one term with 20,000 positions (zstd-compressed postings) */
} scenario;

/* Random terms over a small alphabet, so that many share prefixes and some are prefixes of others. */
static void random_term(uint64_t *random, const scenario *s, uint8_t *out, size_t *size) {
  if (s->int64_terms) {
    int64_t value = (int64_t)random_below(random, 4001) - 2000;
    uint64_t pick = random_below(random, 50);
    value = pick == 0 ? INT64_MIN : pick == 1 ? INT64_MAX : pick == 2 ? value * 1000000007LL : value;
    sl_term_from_int64(value, out);
    *size = 8;
    return;
  }
  static const uint8_t alphabet[] = {'a', 'b', 'c', 0x00, 0xff};
  size_t length = (size_t)random_below(random, 9);
  if (s->long_terms && random_below(random, 20) == 0) {
    length = 1000 + (size_t)random_below(random, 2000);
  }
  for (size_t i = 0; i < length; i++) {
    out[i] = alphabet[random_below(random, sizeof alphabet)];
  }
  *size = length;
}

typedef struct fixture {
  scenario s;
  model m;
  model_pair *pairs;
  size_t pair_count;
  sl_term_list *list;
  sl_buffer content;
  char path[PATH_BYTES];
  int fd;
  sl_term_index *index;
  sl_codec *codec;
} fixture;

static void fixture_build(fixture *f, const scenario *s, const char *name) {
  memset(f, 0, sizeof *f);
  f->s = *s;
  uint64_t random = s->seed;
  size_t total = s->pairs + (s->big_postings ? 20000 : 0);
  f->pairs = calloc(total + 1, sizeof *f->pairs);
  sl_term_builder *builder = sl_term_builder_new();
  sl_error err;
  uint8_t term[4096];
  for (size_t i = 0; i < total; i++) {
    size_t size = 0;
    uint32_t position = 0;
    if (i < s->pairs) {
      random_term(&random, s, term, &size);
      position = (uint32_t)random_below(&random, s->max_position);
    } else { /* the big term: every third position */
      memcpy(term, "big", 3);
      size = 3;
      position = (uint32_t)(i - s->pairs) * 3;
    }
    f->pairs[i].bytes = malloc(size + 1);
    memcpy(f->pairs[i].bytes, term, size);
    f->pairs[i].size = size;
    f->pairs[i].position = position;
    assert_int_equal(sl_term_builder_add(builder, term, size, position, &err), SL_OK);
  }
  f->pair_count = total;
  assert_int_equal(sl_term_builder_finish(builder, &f->list, &err), SL_OK);
  sl_term_builder_free(builder);
  f->m = model_from_pairs(f->pairs, total);
  f->codec = sl_codec_new();
  write_model(&f->m, f->codec, &f->content);
  const char *dir = test_temp_dir(name);
  f->fd = write_content(dir, "IDX.idx", f->content.data, f->content.size, f->path);
  if (sl_term_index_open(f->fd, f->content.size, f->path, f->codec, &f->index, &err) != SL_OK) {
    fail_msg("open: %s", err.message);
  }
}

static void fixture_free(fixture *f) {
  sl_term_index_close(f->index);
  close(f->fd);
  sl_codec_free(f->codec);
  sl_buffer_free(&f->content);
  sl_term_list_free(f->list);
  model_free(&f->m);
  for (size_t i = 0; i < f->pair_count; i++) {
    free(f->pairs[i].bytes);
  }
  free(f->pairs);
}

static void check_list_against_model(const fixture *f) {
  assert_int_equal(sl_term_list_count(f->list), f->m.count);
  size_t bitmap_bytes = 0;
  size_t term_bytes = 0;
  for (size_t i = 0; i < f->m.count; i++) {
    sl_bytes term = sl_term_list_term(f->list, i);
    assert_int_equal(term.size_bytes, f->m.terms[i].size);
    assert_memory_equal(term.data, f->m.terms[i].bytes, term.size_bytes);
    assert_bitmap_is(sl_term_list_postings(f->list, i), &f->m.terms[i]);
    assert_int_equal(sl_term_list_lower_bound(f->list, f->m.terms[i].bytes, f->m.terms[i].size), i);
    bitmap_bytes += roaring_bitmap_portable_size_in_bytes(sl_term_list_postings(f->list, i));
    term_bytes += term.size_bytes;
  }
  /* The list's memory is its terms, its bitmaps (frozen bytes and views) and a few words per term;
   * chunks may be up to half empty. */
  size_t memory = sl_term_list_memory_bytes(f->list);
  assert_true(memory >= term_bytes + bitmap_bytes);
  assert_true(memory <= term_bytes + 4 * bitmap_bytes + 256 * f->m.count + 8192);
}

static void check_lookups(const fixture *f) {
  sl_error err;
  sl_term_stats stats = {0};
  assert_int_equal(sl_term_index_term_count(f->index), f->m.count);
  for (size_t i = 0; i < f->m.count; i++) {
    roaring_bitmap_t *bitmap = NULL;
    if (sl_term_index_lookup(f->index, f->m.terms[i].bytes, f->m.terms[i].size, f->codec, &stats,
                             &bitmap, &err) != SL_OK) {
      fail_msg("lookup %zu: %s", i, err.message);
    }
    assert_bitmap_is(bitmap, &f->m.terms[i]);
    free_bitmap(bitmap);
  }
  assert_int_equal(stats.postings_read, f->m.count);
  assert_int_equal(stats.term_blocks_read, f->m.count);
  assert_true(stats.postings_bytes_read > 0);
  if (f->s.big_postings) {
    assert_true(stats.bytes_decompressed > 0);
  }
  /* Absent terms: random ones not in the model, and the neighbours of present ones. */
  uint64_t random = f->s.seed * 31 + 7;
  uint8_t term[4096];
  for (int probe = 0; probe < 2000; probe++) {
    size_t size = 0;
    if (probe % 2 == 0) {
      random_term(&random, &f->s, term, &size);
    } else {
      const model_term *near = &f->m.terms[random_below(&random, f->m.count)];
      memcpy(term, near->bytes, near->size);
      size = near->size;
      if (size > 0 && probe % 4 == 1) {
        term[size - 1] ^= 0x01; /* a sibling */
      } else {
        term[size++] = 0x7f; /* an extension */
      }
    }
    size_t at = model_lower_bound(&f->m, term, size);
    bool present = at < f->m.count &&
                   model_compare_bytes(f->m.terms[at].bytes, f->m.terms[at].size, term, size) == 0;
    roaring_bitmap_t *bitmap = NULL;
    assert_int_equal(sl_term_index_lookup(f->index, term, size, f->codec, NULL, &bitmap, &err), SL_OK);
    if (present) {
      assert_bitmap_is(bitmap, &f->m.terms[at]);
    } else {
      assert_null(bitmap);
    }
    free_bitmap(bitmap);
  }
}

/* A random range bound: NULL (open), a model term, or a random (likely absent) term. */
static const uint8_t *random_bound(uint64_t *random, const fixture *f, uint8_t *buffer, size_t *size) {
  uint64_t pick = random_below(random, 10);
  if (pick == 0) {
    *size = 0;
    return NULL;
  }
  if (pick < 5) {
    const model_term *term = &f->m.terms[random_below(random, f->m.count)];
    memcpy(buffer, term->bytes, term->size);
    *size = term->size;
    return buffer;
  }
  random_term(random, &f->s, buffer, size);
  return buffer;
}

static void check_ranges(const fixture *f) {
  uint64_t random = f->s.seed * 17 + 3;
  uint8_t low_buffer[4096], high_buffer[4096];
  sl_error err;
  for (int round = 0; round < 300; round++) {
    size_t low_size = 0, high_size = 0;
    const uint8_t *low = random_bound(&random, f, low_buffer, &low_size);
    const uint8_t *high = random_bound(&random, f, high_buffer, &high_size);
    if (round == 0) {
      low = high = NULL; /* everything */
      low_size = high_size = 0;
    }
    roaring_bitmap_t *expected = roaring_bitmap_create();
    uint64_t expected_terms = 0;
    for (size_t i = 0; i < f->m.count; i++) {
      const model_term *term = &f->m.terms[i];
      if ((low == NULL || model_compare_bytes(term->bytes, term->size, low, low_size) >= 0) &&
          (high == NULL || model_compare_bytes(term->bytes, term->size, high, high_size) <= 0)) {
        roaring_bitmap_add_many(expected, term->count, term->positions);
        expected_terms++;
      }
    }
    roaring_bitmap_t *got = NULL;
    uint64_t visited = 0;
    if (sl_term_index_range(f->index, low, low_size, high, high_size, f->codec, NULL, &got,
                            &visited, &err) != SL_OK) {
      fail_msg("range %d: %s", round, err.message);
    }
    assert_non_null(got);
    assert_true(roaring_bitmap_equals(got, expected));
    assert_int_equal(visited, expected_terms);
    free_bitmap(got);
    free_bitmap(expected);
  }
  /* low > high: empty, nothing read. */
  const model_term *last = &f->m.terms[f->m.count - 1];
  const model_term *first = &f->m.terms[0];
  roaring_bitmap_t *got = NULL;
  sl_term_stats stats = {0};
  assert_int_equal(sl_term_index_range(f->index, last->bytes, last->size, first->bytes, first->size,
                                       f->codec, &stats, &got, NULL, &err), SL_OK);
  if (f->m.count > 1) {
    assert_true(roaring_bitmap_is_empty(got));
    assert_int_equal(stats.term_blocks_read, 0);
  }
  free_bitmap(got);
}

/* For int64 terms: ranges by number agree with a numeric filter of the model. */
static void check_numeric_ranges(const fixture *f) {
  uint64_t random = f->s.seed;
  sl_error err;
  for (int round = 0; round < 200; round++) {
    int64_t low = (int64_t)random_below(&random, 5001) - 2500;
    int64_t high = low + (int64_t)random_below(&random, 1500) - 100;
    if (round == 1) {
      low = INT64_MIN;
      high = -1;
    }
    uint8_t low_term[8], high_term[8];
    sl_term_from_int64(low, low_term);
    sl_term_from_int64(high, high_term);
    roaring_bitmap_t *expected = roaring_bitmap_create();
    for (size_t i = 0; i < f->m.count; i++) {
      int64_t value = sl_term_to_int64(f->m.terms[i].bytes);
      if (value >= low && value <= high) {
        roaring_bitmap_add_many(expected, f->m.terms[i].count, f->m.terms[i].positions);
      }
    }
    roaring_bitmap_t *got = NULL;
    assert_int_equal(sl_term_index_range(f->index, low_term, 8, high_term, 8, f->codec, NULL, &got, NULL, &err), SL_OK);
    assert_true(roaring_bitmap_equals(got, expected));
    free_bitmap(got);
    free_bitmap(expected);
  }
}

/* Iterates from the cursor's position; the terms must be model[from], model[from +- 1], ... */
static void expect_cursor_terms(sl_term_cursor *cursor, const model *m, size_t from, bool descending,
                                size_t limit, bool with_postings) {
  sl_error err;
  size_t expected = from;
  for (size_t step = 0; step < limit; step++) {
    bool valid = false;
    sl_bytes term;
    roaring_bitmap_t *postings = NULL;
    assert_int_equal(sl_term_cursor_next(cursor, &valid, &term, with_postings ? &postings : NULL, &err), SL_OK);
    bool should_be_valid = descending ? expected != SIZE_MAX : expected < m->count;
    assert_int_equal(valid, should_be_valid);
    if (!valid) {
      return;
    }
    assert_int_equal(term.size_bytes, m->terms[expected].size);
    assert_memory_equal(term.data, m->terms[expected].bytes, term.size_bytes);
    if (with_postings) {
      assert_bitmap_is(postings, &m->terms[expected]);
      free_bitmap(postings);
    }
    expected = descending ? (expected == 0 ? SIZE_MAX : expected - 1) : expected + 1;
  }
}

static void check_cursors(const fixture *f) {
  sl_error err;
  const model *m = &f->m;
  sl_term_cursor *cursor = NULL;
  sl_term_stats stats = {0};
  /* Whole iteration, both ways, with postings. */
  assert_int_equal(sl_term_cursor_open(f->index, f->codec, false, &stats, &cursor, &err), SL_OK);
  expect_cursor_terms(cursor, m, 0, false, m->count + 2, true);
  assert_int_equal(stats.postings_read, m->count);
  sl_term_cursor_close(cursor);
  assert_int_equal(sl_term_cursor_open(f->index, f->codec, true, NULL, &cursor, &err), SL_OK);
  expect_cursor_terms(cursor, m, m->count - 1, true, m->count + 2, true);
  sl_term_cursor_close(cursor);
  /* Seeks to present and absent terms, both ways. */
  uint64_t random = f->s.seed * 7 + 1;
  uint8_t term[4096];
  for (int descending = 0; descending < 2; descending++) {
    assert_int_equal(sl_term_cursor_open(f->index, f->codec, descending, NULL, &cursor, &err), SL_OK);
    for (int round = 0; round < 200; round++) {
      size_t size = 0;
      if (round % 3 == 0) {
        const model_term *near = &m->terms[random_below(&random, m->count)];
        memcpy(term, near->bytes, near->size);
        size = near->size;
      } else {
        random_term(&random, &f->s, term, &size);
      }
      size_t at = model_lower_bound(m, term, size);
      size_t expected = at;
      if (descending) { /* the last term <= term */
        bool equal = at < m->count && model_compare_bytes(m->terms[at].bytes, m->terms[at].size, term, size) == 0;
        expected = equal ? at : at == 0 ? SIZE_MAX : at - 1;
      }
      assert_int_equal(sl_term_cursor_seek(cursor, term, size, &err), SL_OK);
      expect_cursor_terms(cursor, m, expected, descending, 3, round % 2 == 0);
    }
    /* Seek before the first and after the last term, and back to the start. */
    assert_int_equal(sl_term_cursor_seek(cursor, "", 0, &err), SL_OK);
    expect_cursor_terms(cursor, m, descending ? (m->terms[0].size == 0 ? 0 : SIZE_MAX) : 0, descending, 2, false);
    uint8_t top[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(sl_term_cursor_seek(cursor, top, sizeof top, &err), SL_OK);
    size_t top_at = model_lower_bound(m, top, sizeof top);
    bool top_equal = top_at < m->count && model_compare_bytes(m->terms[top_at].bytes, m->terms[top_at].size, top, 8) == 0;
    expect_cursor_terms(cursor, m, descending ? (top_equal ? top_at : top_at - 1) : top_at, descending, 2, false);
    assert_int_equal(sl_term_cursor_seek(cursor, NULL, 0, &err), SL_OK);
    expect_cursor_terms(cursor, m, descending ? m->count - 1 : 0, descending, 2, false);
    sl_term_cursor_close(cursor);
  }
}

static void round_trip(const scenario *s, const char *name) {
  fixture f;
  fixture_build(&f, s, name);
  check_list_against_model(&f);
  check_lookups(&f);
  check_ranges(&f);
  if (s->int64_terms) {
    check_numeric_ranges(&f);
  }
  check_cursors(&f);
  fixture_free(&f);
}

static void round_trip_random_terms(void **state) {
  (void)state;
  const scenario scenarios[] = {
      {.seed = 1, .pairs = 200, .max_position = 1000},
      {.seed = 2, .pairs = 20000, .max_position = 100000},
      {.seed = 3, .pairs = 5000, .max_position = 70000, .long_terms = true},
      {.seed = 4, .pairs = 8000, .max_position = 200000, .big_postings = true},
      {.seed = 5, .pairs = 3, .max_position = 10},
  };
  for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
    round_trip(&scenarios[i], "termindex-round-trip");
  }
}

static void round_trip_int64_terms(void **state) {
  (void)state;
  const scenario scenarios[] = {
      {.seed = 11, .pairs = 10000, .max_position = 50000, .int64_terms = true},
      {.seed = 12, .pairs = 300, .max_position = 300, .int64_terms = true},
  };
  for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
    round_trip(&scenarios[i], "termindex-int64");
  }
}

static void empty_index_reads_empty(void **state) {
  (void)state;
  sl_codec *codec = sl_codec_new();
  sl_term_writer *writer = sl_term_writer_new(codec);
  sl_buffer content = {0};
  sl_error err;
  uint64_t term_count = 99;
  assert_int_equal(sl_term_writer_finish(writer, &content, &term_count, &err), SL_OK);
  assert_int_equal(term_count, 0);
  sl_term_writer_free(writer);
  /* An empty directory block (flags 0, sizes 0 and 0, XXH32 of nothing) and the trailer. */
  assert_int_equal(content.size, 7 + SL_TERM_INDEX_TRAILER_BYTES);
  const uint8_t directory[7] = {0, 0, 0, 0x05, 0x5d, 0xcc, 0x02}; /* XXH32("") = 0x02cc5d05 */
  assert_memory_equal(content.data, directory, sizeof directory);
  char path[PATH_BYTES];
  int fd = write_content(test_temp_dir("termindex-empty"), "IDX.idx", content.data, content.size, path);
  sl_term_index *index = NULL;
  assert_int_equal(sl_term_index_open(fd, content.size, path, codec, &index, &err), SL_OK);
  assert_int_equal(sl_term_index_term_count(index), 0);
  roaring_bitmap_t *bitmap = NULL;
  assert_int_equal(sl_term_index_lookup(index, "a", 1, codec, NULL, &bitmap, &err), SL_OK);
  assert_null(bitmap);
  assert_int_equal(sl_term_index_range(index, NULL, 0, NULL, 0, codec, NULL, &bitmap, NULL, &err), SL_OK);
  assert_true(roaring_bitmap_is_empty(bitmap));
  free_bitmap(bitmap);
  for (int descending = 0; descending < 2; descending++) {
    sl_term_cursor *cursor = NULL;
    assert_int_equal(sl_term_cursor_open(index, codec, descending, NULL, &cursor, &err), SL_OK);
    bool valid = true;
    sl_bytes term;
    assert_int_equal(sl_term_cursor_next(cursor, &valid, &term, NULL, &err), SL_OK);
    assert_false(valid);
    assert_int_equal(sl_term_cursor_seek(cursor, "m", 1, &err), SL_OK);
    assert_int_equal(sl_term_cursor_next(cursor, &valid, &term, NULL, &err), SL_OK);
    assert_false(valid);
    sl_term_cursor_close(cursor);
  }
  sl_term_index_close(index);
  close(fd);
  sl_buffer_free(&content);
  sl_codec_free(codec);
}

static void writer_rejects_bad_input(void **state) {
  (void)state;
  sl_codec *codec = sl_codec_new();
  sl_term_writer *writer = sl_term_writer_new(codec);
  sl_error err;
  roaring_bitmap_t *one = roaring_bitmap_of(1, 5);
  roaring_bitmap_t *empty = roaring_bitmap_create();
  assert_int_equal(sl_term_writer_add(writer, "b", 1, one, &err), SL_OK);
  assert_int_equal(sl_term_writer_add(writer, "b", 1, one, &err), SL_ERR_INVALID);
  assert_non_null(strstr(err.message, "strictly increase"));
  assert_int_equal(sl_term_writer_add(writer, "a", 1, one, &err), SL_ERR_INVALID);
  assert_int_equal(sl_term_writer_add(writer, "c", 1, empty, &err), SL_ERR_INVALID);
  assert_non_null(strstr(err.message, "no postings"));
  char too_long[SL_TERM_MAX_BYTES + 1];
  memset(too_long, 'z', sizeof too_long);
  assert_int_equal(sl_term_writer_add(writer, too_long, sizeof too_long, one, &err), SL_ERR_INVALID);
  /* A rejected add changes nothing: the writer goes on. */
  assert_int_equal(sl_term_writer_add(writer, "c", 1, one, &err), SL_OK);
  assert_int_equal(sl_term_writer_add(writer, too_long, SL_TERM_MAX_BYTES, one, &err), SL_OK);
  sl_buffer content = {0};
  uint64_t term_count = 0;
  assert_int_equal(sl_term_writer_finish(writer, &content, &term_count, &err), SL_OK);
  assert_int_equal(term_count, 3);
  assert_int_equal(sl_term_writer_add(writer, "d", 1, one, &err), SL_ERR_INVALID);
  assert_int_equal(sl_term_writer_finish(writer, &content, &term_count, &err), SL_ERR_INVALID);
  sl_term_writer_free(writer);
  /* The longest term reads back. */
  char path[PATH_BYTES];
  int fd = write_content(test_temp_dir("termindex-writer"), "IDX.idx", content.data, content.size, path);
  sl_term_index *index = NULL;
  assert_int_equal(sl_term_index_open(fd, content.size, path, codec, &index, &err), SL_OK);
  roaring_bitmap_t *got = NULL;
  assert_int_equal(sl_term_index_lookup(index, too_long, SL_TERM_MAX_BYTES, codec, NULL, &got, &err), SL_OK);
  assert_true(roaring_bitmap_equals(got, one));
  free_bitmap(got);
  sl_term_index_close(index);
  close(fd);
  /* Appending to a buffer that already holds bytes writes the same content after them. */
  sl_buffer prefixed = {0};
  assert_int_equal(sl_buffer_append(&prefixed, "xyz", 3, &err), SL_OK);
  writer = sl_term_writer_new(codec);
  assert_int_equal(sl_term_writer_add(writer, "b", 1, one, &err), SL_OK);
  assert_int_equal(sl_term_writer_add(writer, "c", 1, one, &err), SL_OK);
  assert_int_equal(sl_term_writer_add(writer, too_long, SL_TERM_MAX_BYTES, one, &err), SL_OK);
  assert_int_equal(sl_term_writer_finish(writer, &prefixed, NULL, &err), SL_OK);
  assert_int_equal(prefixed.size, 3 + content.size);
  assert_memory_equal(prefixed.data + 3, content.data, content.size);
  sl_term_writer_free(writer);
  sl_buffer_free(&prefixed);
  sl_buffer_free(&content);
  free_bitmap(one);
  free_bitmap(empty);
  sl_codec_free(codec);
}

/* ---- Golden bytes and hand-made files ---- */

/* Frames raw bytes as a block (block.h), for hand-made files. */
static void append_block(sl_codec *codec, const uint8_t *raw, size_t raw_size, sl_buffer *out) {
  assert_int_equal(sl_block_encode(codec, raw, raw_size, out, NULL, NULL), SL_OK);
}

static void append_trailer(sl_buffer *out, uint64_t terms, uint64_t term_blocks_offset,
                           uint64_t directory_offset, uint32_t blocks) {
  uint8_t trailer[40];
  for (int i = 0; i < 8; i++) {
    trailer[i] = (uint8_t)(terms >> (8 * i));
    trailer[8 + i] = (uint8_t)(term_blocks_offset >> (8 * i));
    trailer[16 + i] = (uint8_t)(directory_offset >> (8 * i));
  }
  for (int i = 0; i < 4; i++) {
    trailer[24 + i] = (uint8_t)(blocks >> (8 * i));
    trailer[28 + i] = (uint8_t)(1u >> (8 * i));
  }
  memcpy(trailer + 32, "SLTI", 4);
  uint32_t checksum = XXH32(trailer, 36, 0);
  for (int i = 0; i < 4; i++) {
    trailer[36 + i] = (uint8_t)(checksum >> (8 * i));
  }
  assert_int_equal(sl_buffer_append(out, trailer, sizeof trailer, NULL), SL_OK);
}

static void golden_bytes_of_a_tiny_index(void **state) {
  (void)state;
  sl_codec *codec = sl_codec_new();
  sl_term_writer *writer = sl_term_writer_new(codec);
  roaring_bitmap_t *first = roaring_bitmap_of(1, 1);
  roaring_bitmap_t *second = roaring_bitmap_of(2, 2, 3);
  sl_error err;
  assert_int_equal(sl_term_writer_add(writer, "ab", 2, first, &err), SL_OK);
  assert_int_equal(sl_term_writer_add(writer, "ac", 2, second, &err), SL_OK);
  sl_buffer content = {0};
  assert_int_equal(sl_term_writer_finish(writer, &content, NULL, &err), SL_OK);
  sl_term_writer_free(writer);
  const uint8_t golden[] = {
      /* 0: postings of "ab" = block: flags 0, raw 19, stored 19, XXH32, then the posting list:
       * varint 18, roaring {1} (cookie 12346, 1 container, key 0, cardinality-1 0, offset 16, value 1) */
      0x00, 0x13, 0x13, 0xcf, 0xab, 0x39, 0x8d,
      0x12, 0x3a, 0x30, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x10, 0x00, 0x00, 0x00, 0x01, 0x00,
      /* 26: postings of "ac" = block of 21 raw bytes: varint 20, roaring {2, 3} */
      0x00, 0x15, 0x15, 0x68, 0x31, 0x12, 0xf9,
      0x14, 0x3a, 0x30, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
      0x10, 0x00, 0x00, 0x00, 0x02, 0x00, 0x03, 0x00,
      /* 54 = O_t: the term block, 10 raw bytes: 2 terms; shared 0, suffix 2, "ab", P 26;
       * shared 1, suffix 1, "c", P 28 */
      0x00, 0x0a, 0x0a, 0xf4, 0xce, 0xcf, 0x84,
      0x02, 0x00, 0x02, 'a', 'b', 0x1a, 0x01, 0x01, 'c', 0x1c,
      /* 71 = O_d: the directory, 6 raw bytes: first term "ab", block of 17 bytes, 2 terms,
       * 54 bytes of postings */
      0x00, 0x06, 0x06, 0xca, 0x36, 0x9a, 0xa5,
      0x02, 'a', 'b', 0x11, 0x02, 0x36,
      /* 84: trailer: T 2, O_t 54, O_d 71, B 1, version 1, "SLTI", XXH32 of the 36 bytes before */
      0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x36, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x47, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 'S', 'L', 'T', 'I',
      0xe6, 0x15, 0x7a, 0x34,
  };
  assert_int_equal(content.size, sizeof golden);
  assert_memory_equal(content.data, golden, sizeof golden);
  /* Each checksum in the golden bytes is XXH32 (seed 0) of what it covers: the four payloads and
   * the trailer's first 36 bytes. */
  static const size_t checksums[][3] = {{3, 7, 19}, {29, 33, 21}, {57, 61, 10}, {74, 78, 6}, {120, 84, 36}};
  for (size_t i = 0; i < sizeof checksums / sizeof checksums[0]; i++) {
    uint32_t checksum = XXH32(golden + checksums[i][1], checksums[i][2], 0);
    const uint8_t *stored = golden + checksums[i][0];
    assert_int_equal(checksum, (uint32_t)stored[0] | (uint32_t)stored[1] << 8 |
                                   (uint32_t)stored[2] << 16 | (uint32_t)stored[3] << 24);
  }
  /* And it reads back. */
  char path[PATH_BYTES];
  int fd = write_content(test_temp_dir("termindex-golden"), "IDX.idx", golden, sizeof golden, path);
  sl_term_index *index = NULL;
  assert_int_equal(sl_term_index_open(fd, sizeof golden, path, codec, &index, &err), SL_OK);
  roaring_bitmap_t *got = NULL;
  assert_int_equal(sl_term_index_lookup(index, "ac", 2, codec, NULL, &got, &err), SL_OK);
  assert_true(roaring_bitmap_equals(got, second));
  free_bitmap(got);
  sl_term_index_close(index);
  close(fd);
  sl_buffer_free(&content);
  free_bitmap(first);
  free_bitmap(second);
  sl_codec_free(codec);
}

/* Opens content from a fresh file and reads everything; returns the first failing status (SL_OK
 * if every read succeeded) and checks that an error names the path and an offset. */
static sl_status open_and_read_all(const char *dir, const uint8_t *data, size_t size,
                                   uint64_t content_bytes, sl_codec *codec) {
  char path[PATH_BYTES];
  int fd = write_content(dir, "IDX.idx", data, size, path);
  sl_error err;
  sl_error_clear(&err);
  sl_term_index *index = NULL;
  sl_status status = sl_term_index_open(fd, content_bytes, path, codec, &index, &err);
  if (status == SL_OK) {
    sl_term_cursor *cursor = NULL;
    for (int descending = 0; status == SL_OK && descending < 2; descending++) {
      status = sl_term_cursor_open(index, codec, descending, NULL, &cursor, &err);
      bool valid = status == SL_OK;
      bool cursor_failed = false;
      for (size_t steps = 0; status == SL_OK && valid; steps++) {
        assert_true(steps <= sl_term_index_term_count(index));
        sl_bytes term;
        roaring_bitmap_t *postings = NULL;
        status = sl_term_cursor_next(cursor, &valid, &term, &postings, &err);
        cursor_failed = status != SL_OK;
        roaring_bitmap_t *looked_up = NULL;
        if (status == SL_OK && valid) {
          status = sl_term_index_lookup(index, term.data, term.size_bytes, codec, NULL, &looked_up, &err);
          assert_true(status != SL_OK || (looked_up != NULL && roaring_bitmap_equals(postings, looked_up)));
        }
        free_bitmap(postings);
        free_bitmap(looked_up);
      }
      if (cursor_failed) { /* a failed cursor repeats its error */
        sl_error again;
        bool valid_again = true;
        sl_bytes term;
        assert_int_equal(sl_term_cursor_next(cursor, &valid_again, &term, NULL, &again), status);
        assert_false(valid_again);
        assert_string_equal(again.message, err.message);
      }
      sl_term_cursor_close(cursor);
    }
    roaring_bitmap_t *all = NULL;
    if (status == SL_OK) {
      status = sl_term_index_range(index, NULL, 0, NULL, 0, codec, NULL, &all, NULL, &err);
    }
    free_bitmap(all);
    sl_term_index_close(index);
  }
  if (status != SL_OK) {
    assert_int_equal(status, SL_ERR_CORRUPT);
    assert_int_equal(strncmp(err.message, path, strlen(path)), 0);
    assert_non_null(strstr(err.message, ": offset "));
  }
  close(fd);
  return status;
}

/* A small valid file: 5 terms in one term block (one with compressed postings). */
static void small_file(sl_codec *codec, sl_buffer *content) {
  sl_term_writer *writer = sl_term_writer_new(codec);
  const char *terms[] = {"alpha", "alphabet", "beta", "gamma", "gammaray"};
  for (uint32_t i = 0; i < 5; i++) {
    roaring_bitmap_t *bitmap = roaring_bitmap_create();
    for (uint32_t p = 0; p < (i == 3 ? 600u : i + 1); p++) {
      roaring_bitmap_add(bitmap, p * 7 + i);
    }
    assert_int_equal(sl_term_writer_add(writer, terms[i], strlen(terms[i]), bitmap, NULL), SL_OK);
    free_bitmap(bitmap);
  }
  assert_int_equal(sl_term_writer_finish(writer, content, NULL, NULL), SL_OK);
  sl_term_writer_free(writer);
}

static void every_truncation_is_corrupt(void **state) {
  (void)state;
  sl_codec *codec = sl_codec_new();
  sl_buffer content = {0};
  small_file(codec, &content);
  const char *dir = test_temp_dir("termindex-truncate");
  assert_int_equal(open_and_read_all(dir, content.data, content.size, content.size, codec), SL_OK);
  for (size_t cut = 0; cut < content.size; cut++) {
    /* The content is shorter ... */
    assert_int_equal(open_and_read_all(dir, content.data, cut, cut, codec), SL_ERR_CORRUPT);
    /* ... or the file is shorter than the content it should hold. */
    assert_int_equal(open_and_read_all(dir, content.data, cut, content.size, codec), SL_ERR_CORRUPT);
  }
  /* A file truncated after open: reads fail with an offset. */
  char path[PATH_BYTES];
  int fd = write_content(dir, "IDX.idx", content.data, content.size, path);
  sl_term_index *index = NULL;
  sl_error err;
  assert_int_equal(sl_term_index_open(fd, content.size, path, codec, &index, &err), SL_OK);
  assert_int_equal(ftruncate(fd, 10), 0);
  roaring_bitmap_t *bitmap = NULL;
  assert_int_equal(sl_term_index_lookup(index, "beta", 4, codec, NULL, &bitmap, &err), SL_ERR_CORRUPT);
  assert_null(bitmap);
  assert_non_null(strstr(err.message, "ends"));
  sl_term_index_close(index);
  close(fd);
  sl_buffer_free(&content);
  sl_codec_free(codec);
}

static void every_byte_corruption_is_corrupt(void **state) {
  (void)state;
  sl_codec *codec = sl_codec_new();
  sl_buffer content = {0};
  small_file(codec, &content);
  const char *dir = test_temp_dir("termindex-corrupt");
  uint8_t *copy = malloc(content.size);
  const uint8_t flips[] = {0x01, 0x80, 0xff};
  size_t detected = 0;
  for (size_t at = 0; at < content.size; at++) {
    for (size_t f = 0; f < sizeof flips; f++) {
      memcpy(copy, content.data, content.size);
      copy[at] ^= flips[f];
      /* Every block and the trailer is checksummed: each flipped byte is caught by some read. */
      if (open_and_read_all(dir, copy, content.size, content.size, codec) != SL_ERR_CORRUPT) {
        fail_msg("flipping byte %zu with 0x%02x went unnoticed", at, flips[f]);
      }
      detected++;
    }
  }
  assert_int_equal(detected, content.size * sizeof flips);
  free(copy);
  sl_buffer_free(&content);
  sl_codec_free(codec);
}

/* Hand-made files whose checksums are right but whose structure is wrong. */
typedef struct handmade {
  const char *why;                  /* expected in the message */
  uint8_t term_block[32];           /* raw term block */
  size_t term_block_size;
  uint8_t directory[32];            /* raw directory */
  size_t directory_size;
  uint64_t terms;
  uint32_t blocks;
  int64_t term_blocks_offset_delta; /* added to the true O_t in the trailer */
  const char *magic;
} handmade;

static void inconsistent_files_are_corrupt(void **state) {
  (void)state;
  sl_codec *codec = sl_codec_new();
  /* Two postings blocks of 26 and 28 bytes (as the golden file): P = 26 and 28, 54 in all. */
  sl_buffer postings = {0};
  roaring_bitmap_t *first = roaring_bitmap_of(1, 1);
  roaring_bitmap_t *second = roaring_bitmap_of(2, 2, 3);
  sl_buffer frame = {0};
  assert_int_equal(sl_postings_encode(first, &frame, NULL), SL_OK);
  append_block(codec, frame.data, frame.size, &postings);
  frame.size = 0;
  assert_int_equal(sl_postings_encode(second, &frame, NULL), SL_OK);
  append_block(codec, frame.data, frame.size, &postings);
  assert_int_equal(postings.size, 54);
  const handmade cases[] = {
      {"valid", {2, 0, 2, 'a', 'b', 26, 1, 1, 'c', 28}, 10, {2, 'a', 'b', 17, 2, 54}, 6, 2, 1, 0, "SLTI"},
      {"bad magic", {2, 0, 2, 'a', 'b', 26, 1, 1, 'c', 28}, 10, {2, 'a', 'b', 17, 2, 54}, 6, 2, 1, 0, "SLTX"},
      {"not above the previous term", {2, 0, 2, 'a', 'c', 26, 1, 1, 'b', 28}, 10, {2, 'a', 'c', 17, 2, 54}, 6, 2, 1, 0, "SLTI"},
      {"not above the previous term", {2, 0, 2, 'a', 'b', 26, 2, 0, 28}, 9, {2, 'a', 'b', 16, 2, 54}, 6, 2, 1, 0, "SLTI"},
      {"shared prefix is not the longest", {2, 0, 2, 'a', 'b', 26, 0, 2, 'a', 'c', 28}, 11, {2, 'a', 'b', 18, 2, 54}, 6, 2, 1, 0, "SLTI"},
      {"not the directory's first term", {2, 0, 2, 'a', 'b', 26, 1, 1, 'c', 28}, 10, {2, 'a', 'a', 17, 2, 54}, 6, 2, 1, 0, "SLTI"},
      {"bad shared or suffix", {2, 1, 2, 'a', 'b', 26, 1, 1, 'c', 28}, 10, {2, 'a', 'b', 17, 2, 54}, 6, 2, 1, 0, "SLTI"},
      {"bad shared or suffix", {2, 0, 2, 'a', 'b', 26, 3, 1, 'c', 28}, 10, {2, 'a', 'b', 17, 2, 54}, 6, 2, 1, 0, "SLTI"},
      {"bad postings size", {2, 0, 2, 'a', 'b', 26, 1, 1, 'c', 29}, 10, {2, 'a', 'b', 17, 2, 54}, 6, 2, 1, 0, "SLTI"},
      {"do not add up", {2, 0, 2, 'a', 'b', 25, 1, 1, 'c', 28}, 10, {2, 'a', 'b', 17, 2, 54}, 6, 2, 1, 0, "SLTI"},
      {"term count", {1, 0, 2, 'a', 'b', 54}, 6, {2, 'a', 'b', 13, 2, 54}, 6, 2, 1, 0, "SLTI"},
      {"bytes after the last term", {2, 0, 2, 'a', 'b', 26, 1, 1, 'c', 28, 0}, 11, {2, 'a', 'b', 18, 2, 54}, 6, 2, 1, 0, "SLTI"},
      {"bytes after the last entry", {2, 0, 2, 'a', 'b', 26, 1, 1, 'c', 28}, 10, {2, 'a', 'b', 17, 2, 54, 0}, 7, 2, 1, 0, "SLTI"},
      {"the trailer says", {2, 0, 2, 'a', 'b', 26, 1, 1, 'c', 28}, 10, {2, 'a', 'b', 17, 2, 54}, 6, 3, 1, 0, "SLTI"},
      {"cannot fill", {2, 0, 2, 'a', 'b', 26, 1, 1, 'c', 28}, 10, {2, 'a', 'b', 17, 2, 54}, 6, 2, 0, 0, "SLTI"},
      {"cannot hold", {2, 0, 2, 'a', 'b', 26, 1, 1, 'c', 28}, 10, {2, 'a', 'b', 17, 2, 54}, 6, 200, 2, 0, "SLTI"},
      {"bad block size", {2, 0, 2, 'a', 'b', 26, 1, 1, 'c', 28}, 10, {2, 'a', 'b', 17, 0, 54}, 6, 2, 1, 0, "SLTI"},
      {"bad block size", {2, 0, 2, 'a', 'b', 26, 1, 1, 'c', 28}, 10, {2, 'a', 'b', 18, 2, 54}, 6, 2, 1, 0, "SLTI"},
      {"do not fit", {2, 0, 2, 'a', 'b', 26, 1, 1, 'c', 28}, 10, {2, 'a', 'b', 17, 2, 54}, 6, 2, 1, 100, "SLTI"},
      {"bad first-term length", {2, 0, 2, 'a', 'b', 26, 1, 1, 'c', 28}, 10, {9, 'a', 'b', 17, 2, 54}, 6, 2, 1, 0, "SLTI"},
  };
  const char *dir = test_temp_dir("termindex-handmade");
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const handmade *h = &cases[c];
    sl_buffer content = {0};
    assert_int_equal(sl_buffer_append(&content, postings.data, postings.size, NULL), SL_OK);
    uint64_t term_blocks_offset = content.size;
    append_block(codec, h->term_block, h->term_block_size, &content);
    uint64_t directory_offset = content.size;
    append_block(codec, h->directory, h->directory_size, &content);
    append_trailer(&content, h->terms, (uint64_t)((int64_t)term_blocks_offset + h->term_blocks_offset_delta),
                   directory_offset, h->blocks);
    memcpy(content.data + content.size - 8, h->magic, 4);
    uint32_t checksum = XXH32(content.data + content.size - 40, 36, 0);
    for (int i = 0; i < 4; i++) {
      content.data[content.size - 4 + i] = (uint8_t)(checksum >> (8 * i));
    }
    char path[PATH_BYTES];
    int fd = write_content(dir, "IDX.idx", content.data, content.size, path);
    sl_error err;
    sl_error_clear(&err);
    sl_term_index *index = NULL;
    sl_status status = sl_term_index_open(fd, content.size, path, codec, &index, &err);
    roaring_bitmap_t *bitmap = NULL;
    if (status == SL_OK) {
      status = sl_term_index_range(index, NULL, 0, NULL, 0, codec, NULL, &bitmap, NULL, &err);
    }
    if (c == 0) {
      assert_int_equal(status, SL_OK);
      assert_int_equal(roaring_bitmap_get_cardinality(bitmap), 3);
    } else {
      if (status != SL_ERR_CORRUPT || strstr(err.message, h->why) == NULL) {
        fail_msg("case %zu (%s): status %d, message \"%s\"", c, h->why, status, err.message);
      }
      assert_non_null(strstr(err.message, ": offset "));
    }
    free_bitmap(bitmap);
    sl_term_index_close(index);
    close(fd);
    sl_buffer_free(&content);
  }
  sl_buffer_free(&frame);
  sl_buffer_free(&postings);
  free_bitmap(first);
  free_bitmap(second);
  sl_codec_free(codec);
}

/* ---- Concurrent readers ---- */

typedef struct reader_job {
  const fixture *f;
  size_t first;
  size_t mismatches;
} reader_job;

static void *reader_thread(void *argument) {
  reader_job *job = argument;
  sl_codec *codec = sl_codec_new();
  for (size_t n = 0; n < job->f->m.count; n++) {
    size_t i = (job->first + n * 7) % job->f->m.count;
    const model_term *term = &job->f->m.terms[i];
    roaring_bitmap_t *bitmap = NULL;
    if (sl_term_index_lookup(job->f->index, term->bytes, term->size, codec, NULL, &bitmap, NULL) != SL_OK ||
        bitmap == NULL || roaring_bitmap_get_cardinality(bitmap) != term->count) {
      job->mismatches++;
    }
    free_bitmap(bitmap);
  }
  sl_codec_free(codec);
  return NULL;
}

static void concurrent_readers_agree(void **state) {
  (void)state;
  const scenario s = {.seed = 21, .pairs = 20000, .max_position = 100000};
  fixture f;
  fixture_build(&f, &s, "termindex-threads");
  enum { THREADS = 4 };
  pthread_t threads[THREADS];
  reader_job jobs[THREADS];
  for (size_t t = 0; t < THREADS; t++) {
    jobs[t] = (reader_job){.f = &f, .first = t * 101};
    assert_int_equal(pthread_create(&threads[t], NULL, reader_thread, &jobs[t]), 0);
  }
  for (size_t t = 0; t < THREADS; t++) {
    assert_int_equal(pthread_join(threads[t], NULL), 0);
    assert_int_equal(jobs[t].mismatches, 0);
  }
  fixture_free(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(builder_dedups_and_orders),
      cmocka_unit_test(int64_terms_keep_numeric_order),
      cmocka_unit_test(round_trip_random_terms),
      cmocka_unit_test(round_trip_int64_terms),
      cmocka_unit_test(empty_index_reads_empty),
      cmocka_unit_test(writer_rejects_bad_input),
      cmocka_unit_test(golden_bytes_of_a_tiny_index),
      cmocka_unit_test(every_truncation_is_corrupt),
      cmocka_unit_test(every_byte_corruption_is_corrupt),
      cmocka_unit_test(inconsistent_files_are_corrupt),
      cmocka_unit_test(concurrent_readers_agree),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
