/* fuzz_storage_termindex.c: the term index reader on arbitrary bytes, three ways per input.
 *  1. The input as IDX.idx content (in a memfd): open, iterate both ways with postings, look every
 *     term up, range over everything.  Every outcome is SL_OK or SL_ERR_CORRUPT, never a crash; what
 *     reads must be consistent (terms strictly increasing, as many as the trailer says, a lookup
 *     and a range give the cursor's postings).
 *  2. The same after resealing: every block checksum and the trailer checksum recomputed, so that
 *     mutations reach the structure checks behind the checksums.
 *  3. The input as (term, position) pairs: builder -> term list -> writer -> reader must give the
 *     list back exactly. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include "storage/block.h"
#include "storage/termindex.h"

enum { MAX_INPUT_BYTES = 1 << 16 };

static sl_codec *codec;
static int memfd = -1;

static void free_bitmap(roaring_bitmap_t *bitmap) {
  if (bitmap != NULL) {
    roaring_bitmap_free(bitmap);
  }
}

static void check(bool condition) {
  if (!condition) {
    abort();
  }
}

static void put_file(const uint8_t *data, size_t size) {
  check(ftruncate(memfd, 0) == 0);
  check(size == 0 || pwrite(memfd, data, size, 0) == (ssize_t)size);
}

static int compare_terms(const sl_bytes *a, const sl_bytes *b) {
  size_t common = a->size_bytes < b->size_bytes ? a->size_bytes : b->size_bytes;
  int order = common == 0 ? 0 : memcmp(a->data, b->data, common);
  return order != 0 ? order : (a->size_bytes > b->size_bytes) - (a->size_bytes < b->size_bytes);
}

static bool status_ok_or_corrupt(sl_status status) {
  return status == SL_OK || status == SL_ERR_CORRUPT || status == SL_ERR_NOMEM;
}

/* Reads everything the index holds; aborts on an inconsistency.  Returns the union of all
 * postings (NULL when a read failed). */
static roaring_bitmap_t *read_all(const sl_term_index *index) {
  sl_error err;
  sl_term_cursor *cursor = NULL;
  check(sl_term_cursor_open(index, codec, false, NULL, &cursor, &err) == SL_OK);
  roaring_bitmap_t *all = roaring_bitmap_create();
  uint8_t previous[SL_TERM_MAX_BYTES];
  sl_bytes previous_term = {(const char *)previous, 0};
  uint64_t terms = 0;
  uint64_t lookup_every = sl_term_index_term_count(index) / 32 + 1; /* about 32 lookups per input */
  sl_status status = SL_OK;
  for (bool valid = true; status == SL_OK && valid;) {
    sl_bytes term;
    roaring_bitmap_t *postings = NULL;
    status = sl_term_cursor_next(cursor, &valid, &term, &postings, &err);
    check(status_ok_or_corrupt(status));
    if (status != SL_OK || !valid) {
      continue;
    }
    check(!roaring_bitmap_is_empty(postings));
    check(terms == 0 || compare_terms(&previous_term, &term) < 0);
    check(term.size_bytes <= SL_TERM_MAX_BYTES);
    memcpy(previous, term.data, term.size_bytes);
    previous_term.size_bytes = term.size_bytes;
    roaring_bitmap_t *looked_up = NULL;
    if (terms++ % lookup_every == 0) {
      status = sl_term_index_lookup(index, term.data, term.size_bytes, codec, NULL, &looked_up, &err);
      check(status_ok_or_corrupt(status));
      check(status != SL_OK || (looked_up != NULL && roaring_bitmap_equals(looked_up, postings)));
    }
    roaring_bitmap_or_inplace(all, postings);
    free_bitmap(looked_up);
    free_bitmap(postings);
  }
  sl_term_cursor_close(cursor);
  check(status != SL_OK || terms == sl_term_index_term_count(index));
  if (status == SL_OK) { /* descending, without postings: the same count */
    check(sl_term_cursor_open(index, codec, true, NULL, &cursor, &err) == SL_OK);
    uint64_t back = 0;
    for (bool valid = true; status == SL_OK && valid;) {
      sl_bytes term;
      status = sl_term_cursor_next(cursor, &valid, &term, NULL, &err);
      back += status == SL_OK && valid;
    }
    check(status_ok_or_corrupt(status));
    check(status != SL_OK || back == terms);
    sl_term_cursor_close(cursor);
  }
  if (status == SL_OK) {
    roaring_bitmap_t *range = NULL;
    uint64_t visited = 0;
    status = sl_term_index_range(index, NULL, 0, NULL, 0, codec, NULL, &range, &visited, &err);
    check(status_ok_or_corrupt(status));
    check(status != SL_OK || (roaring_bitmap_equals(range, all) && visited == terms));
    free_bitmap(range);
  }
  if (status != SL_OK) {
    free_bitmap(all);
    return NULL;
  }
  return all;
}

static void open_and_read(const uint8_t *data, size_t size) {
  put_file(data, size);
  sl_error err;
  sl_term_index *index = NULL;
  sl_status status = sl_term_index_open(memfd, size, "fuzz.idx", codec, &index, &err);
  check(status_ok_or_corrupt(status));
  if (status != SL_OK) {
    check(index == NULL);
    check(status != SL_ERR_CORRUPT ||
          (strncmp(err.message, "fuzz.idx: offset ", 17) == 0 && strstr(err.message, ": offset ") != NULL));
    return;
  }
  free_bitmap(read_all(index));
  /* Seeks on a cursor, to terms made of the input's bytes. */
  for (int descending = 0; descending < 2; descending++) {
    sl_term_cursor *cursor = NULL;
    check(sl_term_cursor_open(index, codec, descending, NULL, &cursor, &err) == SL_OK);
    for (size_t at = 0; at + 4 <= size && at < 64; at += 4) {
      if (sl_term_cursor_seek(cursor, data + at, data[at] % 8, &err) != SL_OK) {
        break;
      }
      bool valid = false;
      sl_bytes term;
      if (sl_term_cursor_next(cursor, &valid, &term, NULL, &err) != SL_OK) {
        break;
      }
    }
    sl_term_cursor_close(cursor);
  }
  sl_term_index_close(index);
}

/* Recomputes the checksum of every block laid end to end before the trailer, and the trailer's. */
static void reseal(uint8_t *data, size_t size) {
  if (size < SL_TERM_INDEX_TRAILER_BYTES) {
    return;
  }
  size_t end = size - SL_TERM_INDEX_TRAILER_BYTES;
  size_t offset = 0;
  while (offset < end) {
    size_t at = offset + 1;
    uint64_t raw_size = 0, stored = 0;
    if (!sl_varint_get(data, end, &at, &raw_size) || !sl_varint_get(data, end, &at, &stored) ||
        end - at < 4 || stored > end - at - 4) {
      break;
    }
    uint32_t checksum = XXH32(data + at + 4, (size_t)stored, 0);
    for (int i = 0; i < 4; i++) {
      data[at + (size_t)i] = (uint8_t)(checksum >> (8 * i));
    }
    offset = at + 4 + (size_t)stored;
  }
  uint32_t checksum = XXH32(data + end, 36, 0);
  for (int i = 0; i < 4; i++) {
    data[end + 36 + (size_t)i] = (uint8_t)(checksum >> (8 * i));
  }
}

/* The input as pairs: a length byte (term bytes mod 24), the term, two bytes of position. */
static void round_trip(const uint8_t *data, size_t size) {
  sl_error err;
  sl_term_builder *builder = sl_term_builder_new();
  size_t at = 0;
  while (at < size) {
    size_t length = data[at++] % 24;
    if (length > size - at) {
      length = size - at;
    }
    const uint8_t *term = data + at;
    at += length;
    uint32_t position = 0;
    for (int i = 0; i < 2 && at < size; i++) {
      position = position << 8 | data[at++];
    }
    check(sl_term_builder_add(builder, term, length, position * 37, &err) == SL_OK);
  }
  sl_term_list *list = NULL;
  check(sl_term_builder_finish(builder, &list, &err) == SL_OK);
  sl_term_builder_free(builder);
  sl_term_writer *writer = sl_term_writer_new(codec);
  for (size_t i = 0; i < sl_term_list_count(list); i++) {
    sl_bytes term = sl_term_list_term(list, i);
    check(sl_term_writer_add(writer, term.data, term.size_bytes, sl_term_list_postings(list, i), &err) == SL_OK);
  }
  sl_buffer content = {0};
  check(sl_term_writer_finish(writer, &content, NULL, &err) == SL_OK);
  sl_term_writer_free(writer);
  put_file(content.data, content.size);
  sl_term_index *index = NULL;
  check(sl_term_index_open(memfd, content.size, "fuzz.idx", codec, &index, &err) == SL_OK);
  check(sl_term_index_term_count(index) == sl_term_list_count(list));
  roaring_bitmap_t *expected = roaring_bitmap_create();
  for (size_t i = 0; i < sl_term_list_count(list); i++) {
    sl_bytes term = sl_term_list_term(list, i);
    roaring_bitmap_t *got = NULL;
    check(sl_term_index_lookup(index, term.data, term.size_bytes, codec, NULL, &got, &err) == SL_OK);
    check(got != NULL && roaring_bitmap_equals(got, sl_term_list_postings(list, i)));
    check(sl_term_list_lower_bound(list, term.data, term.size_bytes) == i);
    roaring_bitmap_or_inplace(expected, got);
    free_bitmap(got);
  }
  roaring_bitmap_t *all = read_all(index);
  check(all != NULL && roaring_bitmap_equals(all, expected));
  free_bitmap(all);
  free_bitmap(expected);
  sl_term_index_close(index);
  sl_buffer_free(&content);
  sl_term_list_free(list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > MAX_INPUT_BYTES) {
    return 0;
  }
  if (codec == NULL) {
    codec = sl_codec_new();
    memfd = memfd_create("fuzz_storage_termindex", 0);
    check(codec != NULL && memfd >= 0);
  }
  open_and_read(data, size);
  uint8_t *copy = malloc(size + 1);
  check(copy != NULL);
  if (size > 0) {
    memcpy(copy, data, size);
  }
  reseal(copy, size);
  open_and_read(copy, size);
  free(copy);
  round_trip(data, size);
  return 0;
}
