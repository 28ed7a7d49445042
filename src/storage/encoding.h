/* encoding.h: column encodings of the storage core (docs/FORMAT.md "Column
 * encodings"): int64 delta + zigzag varint, timestamps delta-of-delta, strings
 * as a dictionary (<= 256 distinct) or length-prefixed plain.
 *
 * Encoders append to an sl_buffer the caller owns.  Decoders read untrusted
 * bytes: they never read past `size`, never trust a length beyond the bytes
 * left, and fail with SL_ERR_CORRUPT naming the offset.  Decoded strings point
 * into the input bytes (no copy): valid while the input is. */
#ifndef SPANLAB_STORAGE_ENCODING_H
#define SPANLAB_STORAGE_ENCODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spanlab/error.h"
#include "spanlab/value.h"

/* A growable byte buffer; owns data. */
typedef struct sl_buffer {
  uint8_t *data;
  size_t size;
  size_t capacity;
} sl_buffer;

sl_status sl_buffer_reserve(sl_buffer *buffer, size_t more_bytes, sl_error *err);
sl_status sl_buffer_append(sl_buffer *buffer, const void *data, size_t size_bytes, sl_error *err);
void sl_buffer_free(sl_buffer *buffer);

enum { SL_VARINT_MAX_BYTES = 10, SL_DICTIONARY_MAX_ENTRIES = 256 };

/* Unsigned LEB128; returns bytes written (out has SL_VARINT_MAX_BYTES). */
size_t sl_varint_put(uint8_t *out, uint64_t value);
/* Reads a varint at data[*offset]; false when truncated or longer than 10 bytes. */
bool sl_varint_get(const uint8_t *data, size_t size, size_t *offset, uint64_t *value);
static inline uint64_t sl_zigzag_encode(int64_t value) {
  return ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
}
static inline int64_t sl_zigzag_decode(uint64_t value) {
  return (int64_t)(value >> 1) ^ -(int64_t)(value & 1);
}

sl_status sl_encode_int64s(const int64_t *values, size_t count, sl_buffer *out, sl_error *err);
sl_status sl_decode_int64s(const uint8_t *data, size_t size, size_t count, int64_t *values, sl_error *err);

sl_status sl_encode_timestamps(const int64_t *values, size_t count, sl_buffer *out, sl_error *err);
sl_status sl_decode_timestamps(const uint8_t *data, size_t size, size_t count, int64_t *values,
                               sl_error *err);

/* Strings or binary values (sl_bytes). `dictionary_allowed` false forces plain
 * (binary columns such as dataBinary). */
sl_status sl_encode_strings(const sl_bytes *values, size_t count, bool dictionary_allowed,
                            sl_buffer *out, sl_error *err);
sl_status sl_decode_strings(const uint8_t *data, size_t size, size_t count, sl_bytes *values,
                            sl_error *err);

#endif
