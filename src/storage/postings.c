/* postings.c: see postings.h. */
#include "storage/postings.h"

#include <assert.h>

sl_status sl_postings_encode(const roaring_bitmap_t *bitmap, sl_buffer *out, sl_error *err) {
  assert(bitmap != NULL);
  size_t bytes = roaring_bitmap_portable_size_in_bytes(bitmap);
  SL_TRY(sl_buffer_reserve(out, SL_VARINT_MAX_BYTES + bytes, err));
  out->size += sl_varint_put(out->data + out->size, bytes);
  size_t written = roaring_bitmap_portable_serialize(bitmap, (char *)out->data + out->size);
  if (written != bytes) {
    return sl_error_set(err, SL_ERR_INTERNAL, "roaring wrote %zu bytes, announced %zu", written, bytes);
  }
  out->size += bytes;
  return SL_OK;
}

sl_status sl_postings_decode(const uint8_t *data, size_t size, size_t *offset, roaring_bitmap_t **out,
                             sl_error *err) {
  size_t start = *offset;
  uint64_t bytes = 0;
  if (!sl_varint_get(data, size, offset, &bytes) || bytes > size - *offset) {
    return sl_error_set(err, SL_ERR_CORRUPT, "posting list: bad length at offset %zu", start);
  }
  const char *body = (const char *)data + *offset;
  if (roaring_bitmap_portable_deserialize_size(body, (size_t)bytes) != bytes) {
    return sl_error_set(err, SL_ERR_CORRUPT, "posting list: not a roaring bitmap of %llu bytes at offset %zu",
                        (unsigned long long)bytes, *offset);
  }
  roaring_bitmap_t *bitmap = roaring_bitmap_portable_deserialize_safe(body, (size_t)bytes);
  if (bitmap == NULL) {
    return sl_error_set(err, SL_ERR_CORRUPT, "posting list: bitmap at offset %zu does not decode", *offset);
  }
  *offset += (size_t)bytes;
  *out = bitmap;
  return SL_OK;
}
