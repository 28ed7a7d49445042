/* bloom.c: see bloom.h. */
#include "storage/bloom.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

enum { HASHES = 10 };

sl_status sl_bloom_init(sl_bloom *bloom, uint64_t expected_keys, sl_error *err) {
  uint64_t words = expected_keys >> 2;
  if (words == 0) {
    words = 1;
  }
  if (words >= (1ull << 31)) {
    return sl_error_set(err, SL_ERR_INVALID, "bloom filter for %llu keys is too large",
                        (unsigned long long)expected_keys);
  }
  bloom->words = calloc((size_t)words, sizeof(uint64_t));
  if (bloom->words == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory for a bloom filter of %llu words",
                        (unsigned long long)words);
  }
  bloom->word_count = (size_t)words;
  bloom->expected_keys = expected_keys;
  return SL_OK;
}

void sl_bloom_free(sl_bloom *bloom) {
  free(bloom->words);
  memset(bloom, 0, sizeof *bloom);
}

/* The i-th bit index of a key, as BanyanDB: XXH64 of h + i's little-endian bytes. */
static uint64_t bit_index(uint64_t h, int i, uint64_t bits) {
  uint64_t value = h + (uint64_t)i;
  uint8_t bytes[8];
  for (int b = 0; b < 8; b++) {
    bytes[b] = (uint8_t)(value >> (8 * b));
  }
  return XXH64(bytes, sizeof bytes, 0) % bits;
}

void sl_bloom_add(sl_bloom *bloom, const void *key, size_t size_bytes) {
  assert(bloom->word_count > 0);
  uint64_t h = XXH64(key, size_bytes, 0);
  uint64_t bits = (uint64_t)bloom->word_count * 64;
  for (int i = 0; i < HASHES; i++) {
    uint64_t index = bit_index(h, i, bits);
    bloom->words[index / 64] |= 1ull << (index % 64);
  }
}

bool sl_bloom_might_contain(const sl_bloom *bloom, const void *key, size_t size_bytes) {
  assert(bloom->word_count > 0);
  uint64_t h = XXH64(key, size_bytes, 0);
  uint64_t bits = (uint64_t)bloom->word_count * 64;
  for (int i = 0; i < HASHES; i++) {
    uint64_t index = bit_index(h, i, bits);
    if ((bloom->words[index / 64] & (1ull << (index % 64))) == 0) {
      return false;
    }
  }
  return true;
}

sl_status sl_bloom_encode(const sl_bloom *bloom, sl_buffer *out, sl_error *err) {
  SL_TRY(sl_buffer_reserve(out, 2 * SL_VARINT_MAX_BYTES + bloom->word_count * 8, err));
  out->size += sl_varint_put(out->data + out->size, bloom->word_count);
  out->size += sl_varint_put(out->data + out->size, bloom->expected_keys);
  for (size_t w = 0; w < bloom->word_count; w++) {
    for (int b = 0; b < 8; b++) {
      out->data[out->size++] = (uint8_t)(bloom->words[w] >> (8 * b));
    }
  }
  return SL_OK;
}

sl_status sl_bloom_decode(const uint8_t *data, size_t size, sl_bloom *bloom, sl_error *err) {
  memset(bloom, 0, sizeof *bloom);
  size_t offset = 0;
  uint64_t words = 0, keys = 0;
  if (!sl_varint_get(data, size, &offset, &words) || words == 0 || words >= (1ull << 31)) {
    return sl_error_set(err, SL_ERR_CORRUPT, "bloom filter: bad word count at offset 0");
  }
  size_t keys_offset = offset;
  if (!sl_varint_get(data, size, &offset, &keys)) {
    return sl_error_set(err, SL_ERR_CORRUPT, "bloom filter: bad key count at offset %zu", keys_offset);
  }
  if ((size - offset) / 8 != words || (size - offset) % 8 != 0) {
    return sl_error_set(err, SL_ERR_CORRUPT, "bloom filter: %zu bytes of words at offset %zu, expected %llu",
                        size - offset, offset, (unsigned long long)words * 8);
  }
  bloom->words = malloc((size_t)words * sizeof(uint64_t));
  if (bloom->words == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory reading a bloom filter");
  }
  for (size_t w = 0; w < words; w++) {
    uint64_t value = 0;
    for (int b = 0; b < 8; b++) {
      value |= (uint64_t)data[offset + w * 8 + (size_t)b] << (8 * b);
    }
    bloom->words[w] = value;
  }
  bloom->word_count = (size_t)words;
  bloom->expected_keys = keys;
  return SL_OK;
}
