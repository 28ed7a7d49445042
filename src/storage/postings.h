/* postings.h: posting lists of row positions, CRoaring bitmaps (the library
 * does the work; this file only frames them, docs/FORMAT.md "Posting lists"). */
#ifndef SPANLAB_STORAGE_POSTINGS_H
#define SPANLAB_STORAGE_POSTINGS_H

#include <roaring/roaring.h>
#include <stddef.h>
#include <stdint.h>

#include "spanlab/error.h"
#include "storage/encoding.h"

/* roaring_bitmap_free that accepts NULL (the packaged CRoaring does not). */
static inline void sl_bitmap_free(roaring_bitmap_t *bitmap) {
  if (bitmap != NULL) {
    roaring_bitmap_free(bitmap);
  }
}

/* Appends varint length + portable serialization of bitmap. */
sl_status sl_postings_encode(const roaring_bitmap_t *bitmap, sl_buffer *out, sl_error *err);
/* Reads one framed bitmap at data[*offset] (advancing it); the caller frees
 * the result with roaring_bitmap_free. */
sl_status sl_postings_decode(const uint8_t *data, size_t size, size_t *offset, roaring_bitmap_t **out,
                             sl_error *err);

#endif
