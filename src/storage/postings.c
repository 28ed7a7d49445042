/* postings.c: see postings.h. */
#include "storage/postings.h"

#include <assert.h>
#include <stdbool.h>

/* CRoaring 0.2.66's portable_deserialize_safe bounds its reads but does not check what it read;
 * newer versions have roaring_bitmap_internal_validate for that.  Until the upgrade we check the
 * containers here, through 0.2.66's installed internal headers. */
_Static_assert(ROARING_VERSION_MAJOR == 0 && ROARING_VERSION_MINOR == 2,
               "newer CRoaring: replace bitmap_valid with roaring_bitmap_internal_validate");

/* The invariants CRoaring's operations rely on: an array holds 1..4096 strictly increasing values,
 * a bitset more than 4096 bits and exactly its cardinality, a run container sorted runs that
 * neither overlap nor touch and end at 65535 at most (a union would write a longer run past its
 * bitset). */
static bool container_valid(uint8_t typecode, const void *container) {
  switch (typecode) {
    case ARRAY_CONTAINER_TYPE_CODE: {
      const array_container_t *array = container;
      if (array->cardinality < 1 || array->cardinality > DEFAULT_MAX_SIZE) {
        return false;
      }
      for (int32_t i = 1; i < array->cardinality; i++) {
        if (array->array[i - 1] >= array->array[i]) {
          return false;
        }
      }
      return true;
    }
    case BITSET_CONTAINER_TYPE_CODE: {
      const bitset_container_t *bitset = container;
      int32_t bits = 0;
      for (int32_t w = 0; w < BITSET_CONTAINER_SIZE_IN_WORDS; w++) {
        bits += __builtin_popcountll(bitset->array[w]);
      }
      return bits == bitset->cardinality && bits > DEFAULT_MAX_SIZE;
    }
    case RUN_CONTAINER_TYPE_CODE: {
      const run_container_t *run = container;
      if (run->n_runs < 1) {
        return false;
      }
      uint32_t previous_end = 0; /* one past the previous run */
      for (int32_t i = 0; i < run->n_runs; i++) {
        uint32_t start = run->runs[i].value;
        uint32_t end = start + run->runs[i].length + 1;
        if (end > 65536 || (i > 0 && start <= previous_end)) {
          return false;
        }
        previous_end = end;
      }
      return true;
    }
    default:
      return false;
  }
}

static bool bitmap_valid(const roaring_bitmap_t *bitmap) {
  const roaring_array_t *containers = &bitmap->high_low_container;
  for (int32_t i = 0; i < containers->size; i++) {
    if ((i > 0 && containers->keys[i - 1] >= containers->keys[i]) ||
        !container_valid(containers->typecodes[i], containers->containers[i])) {
      return false;
    }
  }
  return true;
}

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
  if (!bitmap_valid(bitmap)) {
    roaring_bitmap_free(bitmap);
    return sl_error_set(err, SL_ERR_CORRUPT, "posting list: bitmap at offset %zu has invalid containers",
                        *offset);
  }
  *offset += (size_t)bytes;
  *out = bitmap;
  return SL_OK;
}
