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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(no_false_negatives_and_a_low_false_positive_rate),
      cmocka_unit_test(bad_bloom_bytes_are_errors),
      cmocka_unit_test(postings_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
