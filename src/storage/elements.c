/* elements.c: see elements.h. */
#include "storage/elements.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

enum { KIND_NULL = 0, KIND_STR = 1, KIND_INT = 2, KIND_BINARY = 3, KIND_STR_ARRAY = 4, KIND_INT_ARRAY = 5, KIND_TIMESTAMP = 6 };

static sl_status put_varint(sl_buffer *out, uint64_t value, sl_error *err) {
  uint8_t bytes[SL_VARINT_MAX_BYTES];
  return sl_buffer_append(out, bytes, sl_varint_put(bytes, value), err);
}

static sl_status put_bytes(sl_buffer *out, sl_bytes bytes, sl_error *err) {
  SL_TRY(put_varint(out, bytes.size_bytes, err));
  return sl_buffer_append(out, bytes.data, bytes.size_bytes, err);
}

/* Where an encoding goes: all into out, or (gather != NULL) into out but for long byte strings,
 * which become pieces of their own borrowed from the elements. */
typedef struct encoder {
  sl_buffer *out;
  sl_elements_gather *gather;
  size_t run_start; /* gather: the first byte of out not yet in a piece */
} encoder;

/* A gather piece before out stops moving: either out's bytes [offset, offset + size) or borrowed. */
struct sl_elements_piece {
  const void *borrowed; /* NULL: out's bytes from offset */
  size_t offset;
  size_t size_bytes;
};

static bool add_piece(sl_elements_gather *gather, const void *borrowed, size_t offset, size_t size_bytes) {
  if (size_bytes == 0) {
    return true;
  }
  if (gather->raw_count == gather->raw_capacity) {
    size_t capacity = gather->raw_capacity == 0 ? 64 : 2 * gather->raw_capacity;
    struct sl_elements_piece *grown = realloc(gather->raw, capacity * sizeof *grown);
    if (grown == NULL) {
      return false;
    }
    gather->raw = grown;
    gather->raw_capacity = capacity;
  }
  gather->raw[gather->raw_count++] = (struct sl_elements_piece){borrowed, offset, size_bytes};
  return true;
}

static sl_status close_run(encoder *e, sl_error *err) {
  if (!add_piece(e->gather, NULL, e->run_start, e->out->size - e->run_start)) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory for a write batch's pieces");
  }
  e->run_start = e->out->size;
  return SL_OK;
}

static bool borrowed(const encoder *e, size_t size_bytes) {
  return e->gather != NULL && size_bytes >= SL_ELEMENTS_GATHER_MIN_BYTES;
}

static sl_status put_long(encoder *e, sl_bytes bytes, sl_error *err) {
  SL_TRY(put_varint(e->out, bytes.size_bytes, err));
  if (!borrowed(e, bytes.size_bytes)) {
    return sl_buffer_append(e->out, bytes.data, bytes.size_bytes, err);
  }
  SL_TRY(close_run(e, err));
  if (!add_piece(e->gather, bytes.data, 0, bytes.size_bytes)) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory for a write batch's pieces");
  }
  return SL_OK;
}

sl_status sl_array_encode(const sl_value *value, sl_buffer *out, sl_error *err) {
  if (value->kind == SL_VALUE_STR_ARRAY) {
    SL_TRY(put_varint(out, value->as.str_array.count, err));
    for (size_t i = 0; i < value->as.str_array.count; i++) {
      SL_TRY(put_bytes(out, value->as.str_array.items[i], err));
    }
    return SL_OK;
  }
  if (value->kind == SL_VALUE_INT_ARRAY) {
    SL_TRY(put_varint(out, value->as.int_array.count, err));
    for (size_t i = 0; i < value->as.int_array.count; i++) {
      SL_TRY(put_varint(out, sl_zigzag_encode(value->as.int_array.items[i]), err));
    }
    return SL_OK;
  }
  return sl_error_set(err, SL_ERR_INTERNAL, "not an array value");
}

/* An upper bound of the bytes encoded into out, so that it is reserved once. */
static size_t encoded_bound(const encoder *encoding, const sl_element *elements, size_t count, size_t value_count) {
  size_t bytes = 4 + 2 * SL_VARINT_MAX_BYTES;
  for (size_t e = 0; e < count; e++) {
    size_t data_bytes = elements[e].data.size_bytes;
    bytes += 2 * SL_VARINT_MAX_BYTES + (borrowed(encoding, data_bytes) ? 0 : data_bytes);
    for (size_t v = 0; v < value_count; v++) {
      const sl_value *value = &elements[e].values[v];
      bytes += 1 + SL_VARINT_MAX_BYTES;
      if (value->kind == SL_VALUE_STR || value->kind == SL_VALUE_BINARY) {
        bytes += borrowed(encoding, value->as.str.size_bytes) ? 0 : value->as.str.size_bytes;
      } else if (value->kind == SL_VALUE_STR_ARRAY) {
        for (size_t i = 0; i < value->as.str_array.count; i++) {
          bytes += SL_VARINT_MAX_BYTES + value->as.str_array.items[i].size_bytes;
        }
      } else if (value->kind == SL_VALUE_INT_ARRAY) {
        bytes += value->as.int_array.count * SL_VARINT_MAX_BYTES;
      }
    }
  }
  return bytes;
}

static sl_status encode(encoder *encoding, const sl_element *elements, size_t count, size_t value_count,
                        sl_error *err) {
  assert(value_count <= SL_ELEMENTS_MAX_VALUES);
  sl_buffer *out = encoding->out;
  SL_TRY(sl_buffer_reserve(out, encoded_bound(encoding, elements, count, value_count), err));
  uint8_t magic[4] = {(uint8_t)SL_ELEMENTS_MAGIC, (uint8_t)(SL_ELEMENTS_MAGIC >> 8), (uint8_t)(SL_ELEMENTS_MAGIC >> 16),
                      (uint8_t)(SL_ELEMENTS_MAGIC >> 24)};
  SL_TRY(sl_buffer_append(out, magic, 4, err));
  SL_TRY(put_varint(out, count, err));
  SL_TRY(put_varint(out, value_count, err));
  for (size_t e = 0; e < count; e++) {
    const sl_element *element = &elements[e];
    SL_TRY(put_varint(out, sl_zigzag_encode(element->timestamp_ns), err));
    SL_TRY(put_long(encoding, element->data, err));
    for (size_t v = 0; v < value_count; v++) {
      const sl_value *value = &element->values[v];
      uint8_t kind = KIND_NULL;
      switch (value->kind) {
        case SL_VALUE_NULL: kind = KIND_NULL; break;
        case SL_VALUE_STR: kind = KIND_STR; break;
        case SL_VALUE_INT: kind = KIND_INT; break;
        case SL_VALUE_BINARY: kind = KIND_BINARY; break;
        case SL_VALUE_STR_ARRAY: kind = KIND_STR_ARRAY; break;
        case SL_VALUE_INT_ARRAY: kind = KIND_INT_ARRAY; break;
        case SL_VALUE_TIMESTAMP: kind = KIND_TIMESTAMP; break;
      }
      SL_TRY(sl_buffer_append(out, &kind, 1, err));
      switch (kind) {
        case KIND_STR: SL_TRY(put_long(encoding, value->as.str, err)); break;
        case KIND_BINARY: SL_TRY(put_long(encoding, value->as.binary, err)); break;
        case KIND_INT: SL_TRY(put_varint(out, sl_zigzag_encode(value->as.int_value), err)); break;
        case KIND_TIMESTAMP: SL_TRY(put_varint(out, sl_zigzag_encode(value->as.timestamp_ns), err)); break;
        case KIND_STR_ARRAY:
        case KIND_INT_ARRAY: SL_TRY(sl_array_encode(value, out, err)); break;
        default: break;
      }
    }
  }
  return SL_OK;
}

sl_status sl_elements_encode(const sl_element *elements, size_t count, size_t value_count, sl_buffer *out,
                             sl_error *err) {
  encoder encoding = {.out = out};
  return encode(&encoding, elements, count, value_count, err);
}

sl_status sl_elements_encode_gather(const sl_element *elements, size_t count, size_t value_count,
                                    sl_elements_gather *out, sl_error *err) {
  assert(out != NULL && out->pieces == NULL && out->raw_count == 0);
  encoder encoding = {.out = &out->scratch, .gather = out, .run_start = out->scratch.size};
  SL_TRY(encode(&encoding, elements, count, value_count, err));
  SL_TRY(close_run(&encoding, err));
  /* out->scratch no longer moves: the pieces can point into it. */
  out->pieces = malloc((out->raw_count > 0 ? out->raw_count : 1) * sizeof *out->pieces);
  if (out->pieces == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory for a write batch's pieces");
  }
  for (size_t i = 0; i < out->raw_count; i++) {
    const struct sl_elements_piece *piece = &out->raw[i];
    const void *base = piece->borrowed != NULL ? piece->borrowed : out->scratch.data + piece->offset;
    out->pieces[i] = (struct iovec){.iov_base = (void *)base, .iov_len = piece->size_bytes};
  }
  out->count = out->raw_count;
  return SL_OK;
}

void sl_elements_gather_free(sl_elements_gather *gather) {
  sl_buffer_free(&gather->scratch);
  free(gather->raw);
  free(gather->pieces);
  memset(gather, 0, sizeof *gather);
}

typedef struct cursor {
  const uint8_t *data;
  size_t size;
  size_t offset;
  sl_error *err;
  sl_status status;
} cursor;

static bool fail(cursor *c, const char *why) {
  if (c->status == SL_OK) {
    c->status = sl_error_set(c->err, SL_ERR_CORRUPT, "write batch: offset %zu: %s", c->offset, why);
  }
  return false;
}

static bool get_varint(cursor *c, uint64_t *value) {
  if (c->status != SL_OK) {
    return false;
  }
  return sl_varint_get(c->data, c->size, &c->offset, value) || fail(c, "bad or truncated varint");
}

static bool get_bytes(cursor *c, sl_bytes *out) {
  uint64_t length = 0;
  if (!get_varint(c, &length)) {
    return false;
  }
  if (length > c->size - c->offset) {
    return fail(c, "a length runs past the end of the batch");
  }
  out->data = (const char *)c->data + c->offset;
  out->size_bytes = (size_t)length;
  c->offset += (size_t)length;
  return true;
}

static bool get_array(cursor *c, sl_value_kind kind, sl_arena *arena, sl_value *out) {
  uint64_t count = 0;
  if (!get_varint(c, &count)) {
    return false;
  }
  if (count > c->size - c->offset) {
    return fail(c, "an array count runs past the end");
  }
  out->kind = kind;
  if (kind == SL_VALUE_STR_ARRAY) {
    sl_bytes *items = sl_arena_alloc(arena, (size_t)(count + 1) * sizeof *items);
    if (items == NULL) {
      return fail(c, "out of memory");
    }
    for (uint64_t i = 0; i < count; i++) {
      if (!get_bytes(c, &items[i])) {
        return false;
      }
    }
    out->as.str_array.items = items;
    out->as.str_array.count = (size_t)count;
  } else {
    int64_t *items = sl_arena_alloc(arena, (size_t)(count + 1) * sizeof *items);
    if (items == NULL) {
      return fail(c, "out of memory");
    }
    for (uint64_t i = 0; i < count; i++) {
      uint64_t raw = 0;
      if (!get_varint(c, &raw)) {
        return false;
      }
      items[i] = sl_zigzag_decode(raw);
    }
    out->as.int_array.items = items;
    out->as.int_array.count = (size_t)count;
  }
  return true;
}

sl_status sl_array_decode(sl_bytes stored, sl_value_kind kind, sl_arena *arena, sl_value *out, sl_error *err) {
  cursor c = {.data = (const uint8_t *)stored.data, .size = stored.size_bytes, .err = err};
  if (get_array(&c, kind, arena, out) && c.offset != c.size) {
    fail(&c, "trailing bytes after an array");
  }
  return c.status;
}

sl_status sl_elements_decode(const uint8_t *data, size_t size, size_t value_count, sl_arena *arena,
                             sl_element **out, size_t *count_out, sl_error *err) {
  *out = NULL;
  *count_out = 0;
  cursor c = {.data = data, .size = size, .err = err};
  if (size < 4 || (uint32_t)(data[0] | data[1] << 8 | data[2] << 16 | (uint32_t)data[3] << 24) != SL_ELEMENTS_MAGIC) {
    fail(&c, "not a write batch (bad magic)");
    return c.status;
  }
  c.offset = 4;
  uint64_t count = 0, values = 0;
  get_varint(&c, &count);
  get_varint(&c, &values);
  if (c.status == SL_OK && values != value_count) {
    fail(&c, "the batch has another number of tags than the schema");
  }
  /* Each element takes at least 2 + value_count bytes. */
  if (c.status == SL_OK && count > (size - c.offset) / (2 + value_count)) {
    fail(&c, "element count larger than the batch");
  }
  if (c.status != SL_OK) {
    return c.status;
  }
  sl_element *elements = sl_arena_alloc(arena, (size_t)(count + 1) * sizeof *elements);
  sl_value *all_values = sl_arena_alloc(arena, (size_t)(count * value_count + 1) * sizeof *all_values);
  if (elements == NULL || all_values == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory decoding a write batch of %llu elements", (unsigned long long)count);
  }
  for (uint64_t e = 0; e < count && c.status == SL_OK; e++) {
    sl_element *element = &elements[e];
    uint64_t raw = 0;
    get_varint(&c, &raw);
    element->timestamp_ns = sl_zigzag_decode(raw);
    get_bytes(&c, &element->data);
    sl_value *row = all_values + e * value_count;
    element->values = row;
    for (size_t v = 0; v < value_count && c.status == SL_OK; v++) {
      if (c.offset >= c.size) {
        fail(&c, "truncated in a tag value");
        break;
      }
      uint8_t kind = c.data[c.offset++];
      sl_value *value = &row[v];
      *value = sl_value_null();
      switch (kind) {
        case KIND_NULL: break;
        case KIND_STR: value->kind = SL_VALUE_STR; get_bytes(&c, &value->as.str); break;
        case KIND_BINARY: value->kind = SL_VALUE_BINARY; get_bytes(&c, &value->as.binary); break;
        case KIND_INT:
        case KIND_TIMESTAMP:
          get_varint(&c, &raw);
          value->kind = kind == KIND_INT ? SL_VALUE_INT : SL_VALUE_TIMESTAMP;
          value->as.int_value = sl_zigzag_decode(raw);
          break;
        case KIND_STR_ARRAY: get_array(&c, SL_VALUE_STR_ARRAY, arena, value); break;
        case KIND_INT_ARRAY: get_array(&c, SL_VALUE_INT_ARRAY, arena, value); break;
        default: c.offset--; fail(&c, "unknown tag value kind"); break;
      }
    }
  }
  if (c.status == SL_OK && c.offset != size) {
    fail(&c, "trailing bytes after the last element");
  }
  if (c.status != SL_OK) {
    return c.status;
  }
  *out = elements;
  *count_out = (size_t)count;
  return SL_OK;
}
