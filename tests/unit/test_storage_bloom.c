/* test_storage_bloom.c: the bloom filter never forgets a key, its false-positive
 * rate on absent keys is near theory for 16 bits per key and 10 hashes, and it
 * survives serialization; posting lists round-trip and reject bad bytes. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "storage/bloom.h"
#include "storage/postings.h"
#include "test_support.h"

static void no_false_negatives_and_a_low_false_positive_rate(void **state) {
  (void)state;
  enum { KEYS = 100000 };
  sl_bloom bloom;
  assert_int_equal(sl_bloom_init(&bloom, KEYS, NULL), SL_OK);
  char key[64];
  for (int i = 0; i < KEYS; i++) {
    int length = snprintf(key, sizeof key, "%016x%016x.17.%d", i * 2654435761u, i, i);
    sl_bloom_add(&bloom, key, (size_t)length);
  }
  sl_buffer bytes = {0};
  assert_int_equal(sl_bloom_encode(&bloom, &bytes, NULL), SL_OK);
  sl_bloom read;
  assert_int_equal(sl_bloom_decode(bytes.data, bytes.size, &read, NULL), SL_OK);
  int false_positives = 0;
  for (int i = 0; i < KEYS; i++) {
    int length = snprintf(key, sizeof key, "%016x%016x.17.%d", i * 2654435761u, i, i);
    assert_true(sl_bloom_might_contain(&read, key, (size_t)length)); /* never a false negative */
    length = snprintf(key, sizeof key, "absent-%d", i);
    false_positives += sl_bloom_might_contain(&read, key, (size_t)length);
  }
  /* Theory: (1 - e^(-k n / m))^k with m = 16 n, k = 10: 0.046%; allow up to 0.2%. */
  double rate = (double)false_positives / KEYS;
  double theory = pow(1 - exp(-10.0 / 16), 10);
  fprintf(stderr, "bloom false positives: %.4f%% (theory %.4f%%)\n", 100 * rate, 100 * theory);
  assert_true(rate < 0.002);
  assert_int_equal(bloom.word_count, KEYS / 4);
  sl_bloom_free(&bloom);
  sl_bloom_free(&read);
  sl_buffer_free(&bytes);
}

static void bad_bloom_bytes_are_errors(void **state) {
  (void)state;
  sl_bloom bloom;
  sl_error err;
  const uint8_t zero_words[] = {0, 0};
  assert_int_equal(sl_bloom_decode(zero_words, 2, &bloom, &err), SL_ERR_CORRUPT);
  const uint8_t short_words[] = {2, 8, 1, 2, 3};
  assert_int_equal(sl_bloom_decode(short_words, sizeof short_words, &bloom, &err), SL_ERR_CORRUPT);
  assert_non_null(strstr(err.message, "expected 16"));
}

static void postings_round_trip(void **state) {
  (void)state;
  roaring_bitmap_t *bitmap = roaring_bitmap_create();
  for (uint32_t i = 0; i < 100000; i += 3) {
    roaring_bitmap_add(bitmap, i);
  }
  roaring_bitmap_add(bitmap, 4000000000u);
  sl_buffer bytes = {0};
  assert_int_equal(sl_postings_encode(bitmap, &bytes, NULL), SL_OK);
  size_t offset = 0;
  roaring_bitmap_t *back = NULL;
  assert_int_equal(sl_postings_decode(bytes.data, bytes.size, &offset, &back, NULL), SL_OK);
  assert_int_equal(offset, bytes.size);
  assert_true(roaring_bitmap_equals(bitmap, back));
  sl_error err;
  for (size_t cut = 0; cut < bytes.size; cut += 1 + bytes.size / 40) {
    offset = 0;
    roaring_bitmap_t *partial = NULL;
    assert_int_equal(sl_postings_decode(bytes.data, cut, &offset, &partial, &err), SL_ERR_CORRUPT);
    assert_null(partial);
  }
  roaring_bitmap_free(bitmap);
  roaring_bitmap_free(back);
  sl_buffer_free(&bytes);
}

/* Frames serialized roaring bytes as a posting list and decodes them. */
static sl_status decode_roaring(const uint8_t *roaring, size_t size, sl_error *err) {
  sl_buffer framed = {0};
  uint8_t length[SL_VARINT_MAX_BYTES];
  assert_int_equal(sl_buffer_append(&framed, length, sl_varint_put(length, size), NULL), SL_OK);
  assert_int_equal(sl_buffer_append(&framed, roaring, size, NULL), SL_OK);
  size_t offset = 0;
  roaring_bitmap_t *bitmap = NULL;
  sl_status status = sl_postings_decode(framed.data, framed.size, &offset, &bitmap, err);
  assert_true(status == SL_OK ? bitmap != NULL : bitmap == NULL);
  if (bitmap != NULL) {
    roaring_bitmap_free(bitmap);
  }
  sl_buffer_free(&framed);
  return status;
}

/* CRoaring 0.2.66's deserialize_safe bounds its reads but accepts containers that break its own
 * invariants; a run past 65535, for one, makes a later union write past a 64 Kbit bitset.  Such
 * bitmaps are corrupt data, not bitmaps. */
static void invalid_containers_are_corrupt(void **state) {
  (void)state;
  /* Run containers (cookie 12347, one container, run flag bit, key 0, cardinality - 1, runs). */
  const uint8_t run_past_65535[] = {0x3b, 0x30, 0, 0, 0x01, 0, 0, 0xe7, 0x03, 1, 0, 0xe8, 0xfd, 0xe7, 0x03};
  const uint8_t overlapping_runs[] = {0x3b, 0x30, 0, 0, 0x01, 0, 0, 0x0a, 0, 2, 0, 10, 0, 9, 0, 15, 0, 0, 0};
  const uint8_t adjacent_runs[] = {0x3b, 0x30, 0, 0, 0x01, 0, 0, 0x0a, 0, 2, 0, 10, 0, 9, 0, 20, 0, 0, 0};
  const uint8_t no_runs[] = {0x3b, 0x30, 0, 0, 0x01, 0, 0, 0, 0, 0, 0};
  /* Array containers (cookie 12346, count, key and cardinality - 1, offset, values). */
  const uint8_t unsorted_array[] = {0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 16, 0, 0, 0, 5, 0, 3, 0};
  const uint8_t repeated_value[] = {0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 16, 0, 0, 0, 3, 0, 3, 0};
  const uint8_t keys_out_of_order[] = {0x3a, 0x30, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
                                       24, 0, 0, 0, 26, 0, 0, 0, 7, 0, 7, 0};
  const struct {
    const char *name;
    const uint8_t *bytes;
    size_t size;
  } cases[] = {{"run past 65535", run_past_65535, sizeof run_past_65535},
               {"overlapping runs", overlapping_runs, sizeof overlapping_runs},
               {"adjacent runs", adjacent_runs, sizeof adjacent_runs},
               {"no runs", no_runs, sizeof no_runs},
               {"unsorted array", unsorted_array, sizeof unsorted_array},
               {"repeated value", repeated_value, sizeof repeated_value},
               {"keys out of order", keys_out_of_order, sizeof keys_out_of_order}};
  sl_error err;
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    if (decode_roaring(cases[c].bytes, cases[c].size, &err) != SL_ERR_CORRUPT) {
      fail_msg("%s: decoded", cases[c].name);
    }
    assert_non_null(strstr(err.message, "invalid"));
  }
  /* A bitset container whose cardinality (4097) is not its bit count (4096). */
  uint8_t bitset[16 + 8192];
  const uint8_t header[16] = {0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 0x00, 0x10, 16, 0, 0, 0};
  memcpy(bitset, header, sizeof header);
  memset(bitset + 16, 0, 8192);
  memset(bitset + 16, 0xff, 512); /* 4096 bits */
  assert_int_equal(decode_roaring(bitset, sizeof bitset, &err), SL_ERR_CORRUPT);
  bitset[16 + 512] = 1; /* now 4097: valid */
  assert_int_equal(decode_roaring(bitset, sizeof bitset, &err), SL_OK);
  /* Valid runs, up to the last value of a container, still decode. */
  const uint8_t run_to_65535[] = {0x3b, 0x30, 0, 0, 0x01, 0, 0, 0x17, 0x02, 1, 0, 0xe8, 0xfd, 0x17, 0x02};
  assert_int_equal(decode_roaring(run_to_65535, sizeof run_to_65535, &err), SL_OK);
  roaring_bitmap_t *runs = roaring_bitmap_create();
  roaring_bitmap_add_range(runs, 10, 70000);
  roaring_bitmap_add_range(runs, 200000, 200005);
  roaring_bitmap_run_optimize(runs);
  sl_buffer bytes = {0};
  assert_int_equal(sl_postings_encode(runs, &bytes, NULL), SL_OK);
  size_t offset = 0;
  roaring_bitmap_t *back = NULL;
  assert_int_equal(sl_postings_decode(bytes.data, bytes.size, &offset, &back, &err), SL_OK);
  assert_true(roaring_bitmap_equals(runs, back));
  roaring_bitmap_free(runs);
  roaring_bitmap_free(back);
  sl_buffer_free(&bytes);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(no_false_negatives_and_a_low_false_positive_rate),
      cmocka_unit_test(bad_bloom_bytes_are_errors),
      cmocka_unit_test(postings_round_trip),
      cmocka_unit_test(invalid_containers_are_corrupt),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
