/* test_storage_encoding.c: column encodings and blocks round-trip on edge
 * cases, match golden bytes, and reject every truncation and corruption with
 * an offset instead of crashing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/uio.h>

#include "storage/block.h"
#include "storage/elements.h"
#include "storage/encoding.h"
#include "test_support.h"

static void int_round_trip(const int64_t *values, size_t count) {
  sl_buffer out = {0};
  sl_error err;
  assert_int_equal(sl_encode_int64s(values, count, &out, &err), SL_OK);
  int64_t *back = calloc(count + 1, sizeof(int64_t));
  assert_int_equal(sl_decode_int64s(out.data, out.size, count, back, &err), SL_OK);
  assert_memory_equal(back, values, count * sizeof(int64_t));
  sl_buffer times = {0};
  assert_int_equal(sl_encode_timestamps(values, count, &times, &err), SL_OK);
  assert_int_equal(sl_decode_timestamps(times.data, times.size, count, back, &err), SL_OK);
  assert_memory_equal(back, values, count * sizeof(int64_t));
  /* Every truncation is an error, never a crash or a wrong success. */
  for (size_t cut = 0; cut < out.size; cut++) {
    assert_int_equal(sl_decode_int64s(out.data, cut, count, back, &err), SL_ERR_CORRUPT);
  }
  for (size_t cut = 0; cut < times.size; cut++) {
    assert_int_equal(sl_decode_timestamps(times.data, cut, count, back, &err), SL_ERR_CORRUPT);
  }
  free(back);
  sl_buffer_free(&out);
  sl_buffer_free(&times);
}

static void ints_and_timestamps_round_trip(void **state) {
  (void)state;
  const int64_t one[] = {42};
  const int64_t extremes[] = {INT64_MIN, INT64_MAX, 0, -1, INT64_MAX, INT64_MIN, 1};
  const int64_t constant[] = {7, 7, 7, 7};
  int64_t times[1000];
  for (int i = 0; i < 1000; i++) {
    times[i] = 1735689600000LL + i * 500 + (i % 7) * 3;
  }
  int_round_trip(one, 1);
  int_round_trip(extremes, 7);
  int_round_trip(constant, 4);
  int_round_trip(times, 1000);
  int64_t empty[1];
  sl_buffer out = {0};
  assert_int_equal(sl_encode_int64s(empty, 0, &out, NULL), SL_OK);
  assert_int_equal(out.size, 1);
  assert_int_equal(sl_decode_int64s(out.data, out.size, 0, empty, NULL), SL_OK);
  sl_buffer_free(&out);
}

static void golden_bytes(void **state) {
  (void)state;
  /* ints 1, 3, 2: delta kind 0, zigzag(1)=2, zigzag(2)=4, zigzag(-1)=1 */
  const int64_t values[] = {1, 3, 2};
  sl_buffer out = {0};
  assert_int_equal(sl_encode_int64s(values, 3, &out, NULL), SL_OK);
  const uint8_t ints[] = {0, 2, 4, 1};
  assert_int_equal(out.size, sizeof ints);
  assert_memory_equal(out.data, ints, sizeof ints);
  /* timestamps 100, 110, 120, 125: first 100 -> 200 = 0xc8 0x01, delta 10 -> 20, dod 0 -> 0, dod -5 -> 9 */
  const int64_t times[] = {100, 110, 120, 125};
  out.size = 0;
  assert_int_equal(sl_encode_timestamps(times, 4, &out, NULL), SL_OK);
  const uint8_t golden_times[] = {0, 0xc8, 0x01, 20, 0, 9};
  assert_int_equal(out.size, sizeof golden_times);
  assert_memory_equal(out.data, golden_times, sizeof golden_times);
  /* strings "a", "bb", "a": dictionary of 2 entries then indexes 0 1 0 */
  const sl_bytes strings[] = {{"a", 1}, {"bb", 2}, {"a", 1}};
  out.size = 0;
  assert_int_equal(sl_encode_strings(strings, 3, true, &out, NULL), SL_OK);
  const uint8_t golden_strings[] = {1, 2, 1, 'a', 2, 'b', 'b', 0, 1, 0};
  assert_int_equal(out.size, sizeof golden_strings);
  assert_memory_equal(out.data, golden_strings, sizeof golden_strings);
  out.size = 0;
  assert_int_equal(sl_encode_strings(strings, 3, false, &out, NULL), SL_OK);
  const uint8_t golden_plain[] = {0, 1, 'a', 2, 'b', 'b', 1, 'a'};
  assert_int_equal(out.size, sizeof golden_plain);
  assert_memory_equal(out.data, golden_plain, sizeof golden_plain);
  sl_buffer_free(&out);
}

static void strings_switch_to_plain_past_256_distinct(void **state) {
  (void)state;
  enum { N = 2000 };
  static char text[N][16];
  static sl_bytes values[N];
  for (size_t distinct = 255; distinct <= 258; distinct++) {
    for (size_t i = 0; i < N; i++) {
      int length = snprintf(text[i], sizeof text[i], "v%zu", i % distinct);
      values[i] = (sl_bytes){text[i], (size_t)length};
    }
    values[3] = (sl_bytes){"", 0}; /* an empty string among them */
    sl_buffer out = {0};
    assert_int_equal(sl_encode_strings(values, N, true, &out, NULL), SL_OK);
    assert_int_equal(out.data[0], distinct <= 255 ? 1 : 0); /* "" adds one distinct value */
    static sl_bytes back[N];
    assert_int_equal(sl_decode_strings(out.data, out.size, N, back, NULL), SL_OK);
    for (size_t i = 0; i < N; i++) {
      assert_int_equal(back[i].size_bytes, values[i].size_bytes);
      assert_memory_equal(back[i].data, values[i].data, values[i].size_bytes);
    }
    for (size_t cut = 0; cut < out.size; cut += 7) {
      sl_error err;
      assert_int_equal(sl_decode_strings(out.data, cut, N, back, &err), SL_ERR_CORRUPT);
    }
    sl_buffer_free(&out);
  }
}

static void corrupt_columns_name_the_offset(void **state) {
  (void)state;
  sl_error err;
  int64_t values[4];
  const uint8_t bad_kind[] = {9, 1};
  assert_int_equal(sl_decode_int64s(bad_kind, 2, 1, values, &err), SL_ERR_CORRUPT);
  assert_non_null(strstr(err.message, "unknown encoding kind at byte 0"));
  const uint8_t long_varint[] = {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
  assert_int_equal(sl_decode_int64s(long_varint, sizeof long_varint, 1, values, &err), SL_ERR_CORRUPT);
  const uint8_t trailing[] = {0, 2, 2};
  assert_int_equal(sl_decode_int64s(trailing, 3, 1, values, &err), SL_ERR_CORRUPT);
  assert_non_null(strstr(err.message, "trailing bytes at byte 2"));
  sl_bytes strings[2];
  const uint8_t bad_index[] = {1, 1, 1, 'a', 0, 5};
  assert_int_equal(sl_decode_strings(bad_index, sizeof bad_index, 2, strings, &err), SL_ERR_CORRUPT);
  assert_non_null(strstr(err.message, "dictionary index out of range at byte 5"));
  const uint8_t long_length[] = {0, 100, 'a'};
  assert_int_equal(sl_decode_strings(long_length, sizeof long_length, 1, strings, &err), SL_ERR_CORRUPT);
  assert_non_null(strstr(err.message, "length past the end"));
}

static void blocks_compress_and_verify(void **state) {
  (void)state;
  sl_codec *codec = sl_codec_new();
  assert_non_null(codec);
  static uint8_t raw[100000];
  for (size_t i = 0; i < sizeof raw; i++) {
    raw[i] = (uint8_t)("SELECT m.id, m.status FROM orders_main m WHERE m.tenant_id = ? "[i % 62]);
  }
  const size_t sizes[] = {0, 1, 127, 128, 5000, sizeof raw};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    sl_buffer block = {0}, scratch = {0};
    sl_block_stats stats = {0};
    assert_int_equal(sl_block_encode(codec, raw, sizes[s], &block, &stats, NULL), SL_OK);
    assert_int_equal(block.data[0], sizes[s] >= 128 ? 1 : 0); /* zstd from 128 bytes on */
    if (sizes[s] >= 5000) {
      assert_true(block.size < sizes[s] / 10);
    }
    const uint8_t *back = NULL;
    size_t back_size = 0, used = 0;
    assert_int_equal(sl_block_decode(codec, block.data, block.size, &scratch, &back, &back_size, &used, NULL), SL_OK);
    assert_int_equal(back_size, sizes[s]);
    assert_int_equal(used, block.size);
    assert_memory_equal(back, raw, sizes[s]);
    assert_int_equal(stats.raw_bytes, sizes[s]);
    assert_int_equal(stats.stored_bytes, block.size);
    sl_error err;
    for (size_t cut = 0; cut < block.size; cut += 1 + block.size / 50) {
      assert_int_equal(sl_block_decode(codec, block.data, cut, &scratch, &back, &back_size, &used, &err), SL_ERR_CORRUPT);
    }
    if (block.size > 8) {
      block.data[block.size - 1] ^= 0x40;
      assert_int_equal(sl_block_decode(codec, block.data, block.size, &scratch, &back, &back_size, &used, &err),
                       SL_ERR_CORRUPT);
      assert_non_null(strstr(err.message, "checksum mismatch"));
    }
    sl_buffer_free(&block);
    sl_buffer_free(&scratch);
  }
  /* Incompressible bytes stay raw. */
  uint64_t x = 88172645463325252ULL;
  for (size_t i = 0; i < 4096; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    raw[i] = (uint8_t)x;
  }
  sl_buffer block = {0};
  assert_int_equal(sl_block_encode(codec, raw, 4096, &block, NULL, NULL), SL_OK);
  assert_int_equal(block.data[0], 0);
  sl_buffer_free(&block);
  sl_codec_free(codec);
}

/* A write batch gathered for the WAL joins to the bytes of the one-buffer encoding; element data
 * and string/binary values of SL_ELEMENTS_GATHER_MIN_BYTES or more are pieces pointing into the
 * elements (not copied), shorter ones are copied into the scratch. */
static void gathered_batch_joins_to_the_encoding_and_borrows_long_values(void **state) {
  (void)state;
  static char long_data[5000], long_binary[SL_ELEMENTS_GATHER_MIN_BYTES], short_binary[SL_ELEMENTS_GATHER_MIN_BYTES - 1];
  memset(long_data, 'd', sizeof long_data);
  memset(long_binary, 'b', sizeof long_binary);
  memset(short_binary, 's', sizeof short_binary);
  static const sl_bytes items[] = {{"a", 1}, {"bb", 2}};
  sl_value values[4] = {sl_value_str("svc", 3), sl_value_binary(long_binary, sizeof long_binary), sl_value_null(),
                        (sl_value){.kind = SL_VALUE_STR_ARRAY, .as.str_array = {items, 2}}};
  sl_value others[4] = {sl_value_str(long_data, sizeof long_data), sl_value_binary(short_binary, sizeof short_binary),
                        sl_value_int(-7), sl_value_null()};
  sl_element elements[3] = {{.timestamp_ns = 5, .data = {long_data, sizeof long_data}, .values = values},
                            {.timestamp_ns = -1, .data = {"id-1", 4}, .values = others},
                            {.timestamp_ns = 9, .data = {"", 0}, .values = values}};
  sl_buffer whole = {0};
  sl_error err;
  assert_int_equal(sl_elements_encode(elements, 3, 4, &whole, &err), SL_OK);
  sl_elements_gather gathered = {0};
  assert_int_equal(sl_elements_encode_gather(elements, 3, 4, &gathered, &err), SL_OK);
  size_t at = 0, borrowed = 0;
  for (size_t i = 0; i < gathered.count; i++) {
    const struct iovec *piece = &gathered.pieces[i];
    assert_true(at + piece->iov_len <= whole.size);
    assert_memory_equal(whole.data + at, piece->iov_base, piece->iov_len);
    const char *base = piece->iov_base;
    if (base == long_data || base == long_binary) {
      borrowed++;
    } else {
      assert_true((const uint8_t *)base >= gathered.scratch.data &&
                  (const uint8_t *)base + piece->iov_len <= gathered.scratch.data + gathered.scratch.size);
    }
    at += piece->iov_len;
  }
  assert_int_equal(at, whole.size);
  assert_int_equal(borrowed, 4); /* long_data twice (data, a value), long_binary twice; short_binary copied */
  assert_true(gathered.scratch.size < 1000);
  sl_elements_gather_free(&gathered);
  sl_buffer_free(&whole);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(ints_and_timestamps_round_trip),
      cmocka_unit_test(golden_bytes),
      cmocka_unit_test(strings_switch_to_plain_past_256_distinct),
      cmocka_unit_test(corrupt_columns_name_the_offset),
      cmocka_unit_test(blocks_compress_and_verify),
      cmocka_unit_test(gathered_batch_joins_to_the_encoding_and_borrows_long_values),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
