/* bloom.h: the trace-id bloom filter of a part, BanyanDB's design (16 bits per
 * key, 10 hashes; docs/FORMAT.md "Bloom filter").  Owns its words. */
#ifndef SPANLAB_STORAGE_BLOOM_H
#define SPANLAB_STORAGE_BLOOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spanlab/error.h"
#include "storage/encoding.h"

typedef struct sl_bloom {
  uint64_t *words;
  size_t word_count;
  uint64_t expected_keys;
} sl_bloom;

sl_status sl_bloom_init(sl_bloom *bloom, uint64_t expected_keys, sl_error *err);
void sl_bloom_free(sl_bloom *bloom);
void sl_bloom_add(sl_bloom *bloom, const void *key, size_t size_bytes);
bool sl_bloom_might_contain(const sl_bloom *bloom, const void *key, size_t size_bytes);
sl_status sl_bloom_encode(const sl_bloom *bloom, sl_buffer *out, sl_error *err);
/* Reads exactly size bytes; errors name the offset. */
sl_status sl_bloom_decode(const uint8_t *data, size_t size, sl_bloom *bloom, sl_error *err);

#endif
