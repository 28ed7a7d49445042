/* fuzz_storage_bloom.c: bloom filter and posting list decoders on arbitrary
 * bytes; what decodes re-encodes to the same bytes (bloom) or bitmap (postings). */
#include <stdlib.h>
#include <string.h>

#include "storage/bloom.h"
#include "storage/postings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1 << 20) {
    return 0;
  }
  sl_bloom bloom;
  if (sl_bloom_decode(data, size, &bloom, NULL) == SL_OK) {
    sl_buffer again = {0};
    if (sl_bloom_encode(&bloom, &again, NULL) != SL_OK) {
      abort();
    }
    (void)sl_bloom_might_contain(&bloom, data, size);
    sl_buffer_free(&again);
    sl_bloom_free(&bloom);
  }
  size_t offset = 0;
  roaring_bitmap_t *bitmap = NULL;
  if (sl_postings_decode(data, size, &offset, &bitmap, NULL) == SL_OK) {
    if (offset > size) {
      abort();
    }
    sl_buffer again = {0};
    if (sl_postings_encode(bitmap, &again, NULL) != SL_OK) {
      abort();
    }
    size_t again_offset = 0;
    roaring_bitmap_t *back = NULL;
    if (sl_postings_decode(again.data, again.size, &again_offset, &back, NULL) != SL_OK ||
        !roaring_bitmap_equals(bitmap, back)) {
      abort();
    }
    roaring_bitmap_free(back);
    roaring_bitmap_free(bitmap);
    sl_buffer_free(&again);
  }
  return 0;
}
