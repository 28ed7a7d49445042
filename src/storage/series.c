/* series.c: see series.h. */
#include "storage/series.h"

#include <assert.h>
#include <string.h>

#include "common/hash.h"

enum { TYPE_NULL = 0, TYPE_STR = 1, TYPE_INT = 2, TYPE_BINARY = 4, TYPE_TIMESTAMP = 7 };

/* data with '|' and '\\' escaped, then '|'. Written straight into the buffer (this runs for
 * every element written). */
static sl_status append_escaped(sl_buffer *out, const void *data, size_t size, sl_error *err) {
  SL_TRY(sl_buffer_reserve(out, 2 * size + 1, err));
  const uint8_t *bytes = data;
  uint8_t *to = out->data + out->size;
  for (size_t i = 0; i < size; i++) {
    if (bytes[i] == '|' || bytes[i] == '\\') {
      *to++ = '\\';
    }
    *to++ = bytes[i];
  }
  *to++ = '|';
  out->size = (size_t)(to - out->data);
  return SL_OK;
}

static void big_endian(uint64_t value, uint8_t out[8]) {
  for (int i = 0; i < 8; i++) {
    out[i] = (uint8_t)(value >> (56 - 8 * i));
  }
}

sl_status sl_series_marshal(const char *subject, const sl_value *values, size_t count, sl_buffer *out, sl_error *err) {
  out->size = 0;
  SL_TRY(append_escaped(out, subject, strlen(subject), err));
  for (size_t i = 0; i < count; i++) {
    const sl_value *value = &values[i];
    uint8_t type = TYPE_NULL;
    uint8_t number[8];
    const void *data = NULL;
    size_t size = 0;
    switch (value->kind) {
      case SL_VALUE_NULL: break;
      case SL_VALUE_STR: type = TYPE_STR; data = value->as.str.data; size = value->as.str.size_bytes; break;
      case SL_VALUE_BINARY: type = TYPE_BINARY; data = value->as.binary.data; size = value->as.binary.size_bytes; break;
      case SL_VALUE_INT:
      case SL_VALUE_TIMESTAMP:
        type = value->kind == SL_VALUE_INT ? TYPE_INT : TYPE_TIMESTAMP;
        big_endian(sl_zigzag_encode(value->as.int_value), number);
        data = number;
        size = 8;
        break;
      default:
        return sl_error_set(err, SL_ERR_INVALID, "an entity value cannot be an array");
    }
    SL_TRY(sl_buffer_append(out, &type, 1, err));
    if (type == TYPE_NULL) {
      SL_TRY(sl_buffer_append(out, "|", 1, err));
    } else {
      SL_TRY(append_escaped(out, data, size, err));
    }
  }
  return SL_OK;
}

sl_status sl_series_id(const char *subject, const sl_value *values, size_t count, sl_buffer *scratch, uint64_t *id_out,
                       sl_error *err) {
  SL_TRY(sl_series_marshal(subject, values, count, scratch, err));
  *id_out = sl_hash64(scratch->data, scratch->size, 0);
  return SL_OK;
}

sl_bytes sl_series_value_bytes(const sl_value *value, uint8_t scratch[8], uint8_t *kind) {
  switch (value->kind) {
    case SL_VALUE_STR: *kind = TYPE_STR; return value->as.str;
    case SL_VALUE_BINARY: *kind = TYPE_BINARY; return value->as.binary;
    case SL_VALUE_INT:
    case SL_VALUE_TIMESTAMP:
      *kind = value->kind == SL_VALUE_INT ? TYPE_INT : TYPE_TIMESTAMP;
      big_endian((uint64_t)value->as.int_value ^ (1ULL << 63), scratch);
      return (sl_bytes){.data = (const char *)scratch, .size_bytes = 8};
    default: *kind = TYPE_NULL; return (sl_bytes){.data = "", .size_bytes = 0};
  }
}

sl_value sl_series_value_from(sl_bytes bytes, uint8_t kind) {
  if ((kind == TYPE_INT || kind == TYPE_TIMESTAMP) && bytes.size_bytes == 8) {
    uint64_t raw = 0;
    for (int i = 0; i < 8; i++) {
      raw = raw << 8 | (uint8_t)bytes.data[i];
    }
    sl_value value = sl_value_int((int64_t)(raw ^ (1ULL << 63)));
    value.kind = kind == TYPE_INT ? SL_VALUE_INT : SL_VALUE_TIMESTAMP;
    return value;
  }
  if (kind == TYPE_STR) {
    return sl_value_str(bytes.data, bytes.size_bytes);
  }
  if (kind == TYPE_BINARY) {
    return sl_value_binary(bytes.data, bytes.size_bytes);
  }
  return sl_value_null();
}

sl_status sl_series_shard(const char *subject, const sl_value *values, size_t count, uint32_t shard_count,
                          sl_buffer *scratch, uint32_t *shard_out, sl_error *err) {
  assert(shard_count > 0);
  scratch->size = 0;
  SL_TRY(sl_buffer_append(scratch, subject, strlen(subject), err));
  for (size_t i = 0; i < count; i++) {
    uint8_t number[8];
    uint8_t kind = 0;
    sl_bytes bytes = sl_series_value_bytes(&values[i], number, &kind);
    SL_TRY(sl_buffer_append(scratch, bytes.data, bytes.size_bytes, err));
  }
  *shard_out = (uint32_t)(sl_hash64(scratch->data, scratch->size, 0) % shard_count);
  return SL_OK;
}
