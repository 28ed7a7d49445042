/* encoding.c: see encoding.h and docs/FORMAT.md "Column encodings". */
#include "storage/encoding.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"

enum { KIND_DELTA = 0, KIND_CONSTANT = 1, KIND_PLAIN = 0, KIND_DICTIONARY = 1 };

sl_status sl_buffer_reserve(sl_buffer *buffer, size_t more_bytes, sl_error *err) {
  if (buffer->size + more_bytes <= buffer->capacity) {
    return SL_OK;
  }
  if (buffer->size + more_bytes < buffer->size) {
    return sl_error_set(err, SL_ERR_NOMEM, "buffer size overflow");
  }
  size_t capacity = buffer->capacity == 0 ? 256 : buffer->capacity;
  while (capacity < buffer->size + more_bytes) {
    capacity *= 2;
  }
  uint8_t *grown = realloc(buffer->data, capacity);
  if (grown == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory growing a buffer to %zu bytes", capacity);
  }
  buffer->data = grown;
  buffer->capacity = capacity;
  return SL_OK;
}

sl_status sl_buffer_append(sl_buffer *buffer, const void *data, size_t size_bytes, sl_error *err) {
  SL_TRY(sl_buffer_reserve(buffer, size_bytes, err));
  if (size_bytes > 0) {
    memcpy(buffer->data + buffer->size, data, size_bytes);
  }
  buffer->size += size_bytes;
  return SL_OK;
}

void sl_buffer_free(sl_buffer *buffer) {
  free(buffer->data);
  memset(buffer, 0, sizeof *buffer);
}

size_t sl_varint_put(uint8_t *out, uint64_t value) {
  size_t written = 0;
  while (value >= 0x80) {
    out[written++] = (uint8_t)(value | 0x80);
    value >>= 7;
  }
  out[written++] = (uint8_t)value;
  return written;
}

bool sl_varint_get(const uint8_t *data, size_t size, size_t *offset, uint64_t *value) {
  uint64_t result = 0;
  for (unsigned shift = 0, i = 0; i < SL_VARINT_MAX_BYTES; i++, shift += 7) {
    if (*offset >= size) {
      return false;
    }
    uint8_t byte = data[(*offset)++];
    if (i == SL_VARINT_MAX_BYTES - 1 && byte > 1) {
      return false; /* more than 64 bits */
    }
    result |= (uint64_t)(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *value = result;
      return true;
    }
  }
  return false;
}

/* sl_varint_get without per-byte bounds checks when 10 bytes remain (the hot
 * loops of the decoders); the same answers otherwise. */
static inline bool varint_fast(const uint8_t *data, size_t size, size_t *offset, uint64_t *value) {
  size_t at = *offset;
  if (at < size && data[at] < 0x80) {
    *value = data[at];
    *offset = at + 1;
    return true;
  }
  if (size - at < SL_VARINT_MAX_BYTES || at > size) {
    return sl_varint_get(data, size, offset, value);
  }
  uint64_t result = 0;
  for (unsigned i = 0, shift = 0; i < SL_VARINT_MAX_BYTES; i++, shift += 7) {
    uint8_t byte = data[at + i];
    if (i == SL_VARINT_MAX_BYTES - 1 && byte > 1) {
      return false;
    }
    result |= (uint64_t)(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *value = result;
      *offset = at + i + 1;
      return true;
    }
  }
  return false;
}

static sl_status put_varint(sl_buffer *out, uint64_t value, sl_error *err) {
  SL_TRY(sl_buffer_reserve(out, SL_VARINT_MAX_BYTES, err));
  out->size += sl_varint_put(out->data + out->size, value);
  return SL_OK;
}

static bool all_equal(const int64_t *values, size_t count) {
  for (size_t i = 1; i < count; i++) {
    if (values[i] != values[0]) {
      return false;
    }
  }
  return true;
}

/* Writes the kind byte of an int column, and the value of a constant one;
 * *constant tells the caller that nothing more follows. */
static sl_status begin_int_column(const int64_t *values, size_t count, sl_buffer *out, bool *constant,
                                  sl_error *err) {
  assert(values != NULL || count == 0);
  uint8_t kind = count > 0 && all_equal(values, count) ? KIND_CONSTANT : KIND_DELTA;
  SL_TRY(sl_buffer_append(out, &kind, 1, err));
  *constant = kind == KIND_CONSTANT;
  return *constant ? put_varint(out, sl_zigzag_encode(values[0]), err) : SL_OK;
}

sl_status sl_encode_int64s(const int64_t *values, size_t count, sl_buffer *out, sl_error *err) {
  bool constant = false;
  SL_TRY(begin_int_column(values, count, out, &constant, err));
  if (constant) {
    return SL_OK;
  }
  uint64_t previous = 0;
  for (size_t i = 0; i < count; i++) {
    uint64_t delta = (uint64_t)values[i] - previous; /* wrapping */
    SL_TRY(put_varint(out, sl_zigzag_encode((int64_t)delta), err));
    previous = (uint64_t)values[i];
  }
  return SL_OK;
}

static sl_status corrupt(sl_error *err, const char *what, size_t offset) {
  return sl_error_set(err, SL_ERR_CORRUPT, "%s at byte %zu of the column", what, offset);
}

static sl_status read_kind(const uint8_t *data, size_t size, size_t count, uint8_t *kind, sl_error *err) {
  if (size == 0) {
    return corrupt(err, "empty column", 0);
  }
  *kind = data[0];
  if (*kind > 1) {
    return corrupt(err, "unknown encoding kind", 0);
  }
  if (*kind == KIND_CONSTANT && count == 0) {
    return corrupt(err, "a constant column of no values", 0);
  }
  return SL_OK;
}

sl_status sl_decode_int64s(const uint8_t *data, size_t size, size_t count, int64_t *values, sl_error *err) {
  uint8_t kind = 0;
  SL_TRY(read_kind(data, size, count, &kind, err));
  size_t offset = 1;
  uint64_t raw = 0;
  if (kind == KIND_CONSTANT) {
    if (!sl_varint_get(data, size, &offset, &raw)) {
      return corrupt(err, "bad varint", offset);
    }
    for (size_t i = 0; i < count; i++) {
      values[i] = sl_zigzag_decode(raw);
    }
  } else {
    uint64_t previous = 0;
    for (size_t i = 0; i < count; i++) {
      if (!varint_fast(data, size, &offset, &raw)) {
        return corrupt(err, "bad or missing varint", offset);
      }
      previous += (uint64_t)sl_zigzag_decode(raw);
      values[i] = (int64_t)previous;
    }
  }
  if (offset != size) {
    return corrupt(err, "trailing bytes", offset);
  }
  return SL_OK;
}

sl_status sl_encode_timestamps(const int64_t *values, size_t count, sl_buffer *out, sl_error *err) {
  bool constant = false;
  SL_TRY(begin_int_column(values, count, out, &constant, err));
  if (constant) {
    return SL_OK;
  }
  uint64_t previous = 0;
  uint64_t previous_delta = 0;
  for (size_t i = 0; i < count; i++) {
    uint64_t delta = (uint64_t)values[i] - previous;
    uint64_t written = i == 0 ? (uint64_t)values[0] : i == 1 ? delta : delta - previous_delta;
    SL_TRY(put_varint(out, sl_zigzag_encode((int64_t)written), err));
    previous_delta = i == 0 ? 0 : delta;
    previous = (uint64_t)values[i];
  }
  return SL_OK;
}

sl_status sl_decode_timestamps(const uint8_t *data, size_t size, size_t count, int64_t *values,
                               sl_error *err) {
  uint8_t kind = 0;
  SL_TRY(read_kind(data, size, count, &kind, err));
  if (kind == KIND_CONSTANT) {
    return sl_decode_int64s(data, size, count, values, err);
  }
  size_t offset = 1;
  uint64_t previous = 0;
  uint64_t delta = 0;
  for (size_t i = 0; i < count; i++) {
    uint64_t raw = 0;
    if (!varint_fast(data, size, &offset, &raw)) {
      return corrupt(err, "bad or missing varint", offset);
    }
    uint64_t read = (uint64_t)sl_zigzag_decode(raw);
    if (i == 0) {
      previous = read;
    } else {
      delta = i == 1 ? read : delta + read;
      previous += delta;
    }
    values[i] = (int64_t)previous;
  }
  if (offset != size) {
    return corrupt(err, "trailing bytes", offset);
  }
  return SL_OK;
}

static bool bytes_equal(const sl_bytes *a, const sl_bytes *b) {
  return a->size_bytes == b->size_bytes && (a->size_bytes == 0 || memcmp(a->data, b->data, a->size_bytes) == 0);
}

/* Distinct values in first-seen order, up to the dictionary limit; returns
 * false when there are more.  index[i] receives value i's entry. */
static bool build_dictionary(const sl_bytes *values, size_t count, const sl_bytes **entries,
                             size_t *entry_count, uint8_t *index) {
  enum { SLOTS = 1024 };
  int16_t slots[SLOTS];
  memset(slots, -1, sizeof slots);
  *entry_count = 0;
  for (size_t i = 0; i < count; i++) {
    size_t slot = sl_hash64(values[i].data, values[i].size_bytes, 0) & (SLOTS - 1);
    while (slots[slot] >= 0 && !bytes_equal(entries[slots[slot]], &values[i])) {
      slot = (slot + 1) & (SLOTS - 1);
    }
    if (slots[slot] < 0) {
      if (*entry_count == SL_DICTIONARY_MAX_ENTRIES) {
        return false;
      }
      slots[slot] = (int16_t)*entry_count;
      entries[(*entry_count)++] = &values[i];
    }
    index[i] = (uint8_t)slots[slot];
  }
  return true;
}

sl_status sl_encode_strings(const sl_bytes *values, size_t count, bool dictionary_allowed,
                            sl_buffer *out, sl_error *err) {
  assert(values != NULL || count == 0);
  const sl_bytes *entries[SL_DICTIONARY_MAX_ENTRIES];
  size_t entry_count = 0;
  uint8_t *index = NULL;
  bool dictionary = false;
  if (dictionary_allowed && count > 0) {
    index = malloc(count);
    if (index == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory encoding %zu strings", count);
    }
    dictionary = build_dictionary(values, count, entries, &entry_count, index);
  }
  uint8_t kind = dictionary ? KIND_DICTIONARY : KIND_PLAIN;
  sl_status status = sl_buffer_append(out, &kind, 1, err);
  if (dictionary) {
    status = status == SL_OK ? put_varint(out, entry_count, err) : status;
    for (size_t e = 0; status == SL_OK && e < entry_count; e++) {
      status = put_varint(out, entries[e]->size_bytes, err);
      if (status == SL_OK) {
        status = sl_buffer_append(out, entries[e]->data, entries[e]->size_bytes, err);
      }
    }
    if (status == SL_OK) {
      status = sl_buffer_append(out, index, count, err);
    }
  } else {
    for (size_t i = 0; status == SL_OK && i < count; i++) {
      status = put_varint(out, values[i].size_bytes, err);
      if (status == SL_OK) {
        status = sl_buffer_append(out, values[i].data, values[i].size_bytes, err);
      }
    }
  }
  free(index);
  return status;
}

/* One length-prefixed value at data[*offset]. */
static sl_status read_bytes(const uint8_t *data, size_t size, size_t *offset, sl_bytes *out, sl_error *err) {
  uint64_t length = 0;
  if (!sl_varint_get(data, size, offset, &length)) {
    return corrupt(err, "bad or missing length", *offset);
  }
  if (length > size - *offset) {
    return corrupt(err, "length past the end of the column", *offset);
  }
  out->data = (const char *)data + *offset;
  out->size_bytes = (size_t)length;
  *offset += (size_t)length;
  return SL_OK;
}

sl_status sl_decode_strings(const uint8_t *data, size_t size, size_t count, sl_bytes *values,
                            sl_error *err) {
  if (size == 0) {
    return corrupt(err, "empty column", 0);
  }
  uint8_t kind = data[0];
  size_t offset = 1;
  if (kind == KIND_PLAIN) {
    for (size_t i = 0; i < count; i++) {
      SL_TRY(read_bytes(data, size, &offset, &values[i], err));
    }
  } else if (kind == KIND_DICTIONARY) {
    uint64_t entry_count = 0;
    if (!sl_varint_get(data, size, &offset, &entry_count) || entry_count == 0 ||
        entry_count > SL_DICTIONARY_MAX_ENTRIES) {
      return corrupt(err, "bad dictionary size", offset);
    }
    sl_bytes entries[SL_DICTIONARY_MAX_ENTRIES];
    for (uint64_t e = 0; e < entry_count; e++) {
      SL_TRY(read_bytes(data, size, &offset, &entries[e], err));
    }
    if (size - offset != count) {
      return corrupt(err, "index bytes do not match the value count", offset);
    }
    for (size_t i = 0; i < count; i++) {
      uint8_t entry = data[offset + i];
      if (entry >= entry_count) {
        return corrupt(err, "dictionary index out of range", offset + i);
      }
      values[i] = entries[entry];
    }
    offset += count;
  } else {
    return corrupt(err, "unknown string encoding kind", 0);
  }
  if (offset != size) {
    return corrupt(err, "trailing bytes", offset);
  }
  return SL_OK;
}
