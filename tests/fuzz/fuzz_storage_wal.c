/* fuzz_storage_wal.c: the WAL segment decoder on arbitrary bytes, as a sealed segment and as the
 * last one. Every outcome is a status, never a crash; the invariants of a successful decode hold:
 * records come in order with consecutive sequences inside the input, a sealed segment has no torn
 * tail, and re-encoding the intact records gives back the intact prefix byte for byte. */
#include <stdlib.h>
#include <string.h>

#include "storage/wal.h"

typedef struct rebuilt {
  uint8_t *bytes;
  size_t size;
  size_t capacity;
  uint64_t previous_sequence;
  uint64_t count;
} rebuilt;

static sl_status collect(void *context, uint64_t sequence, const uint8_t *payload,
                         size_t size_bytes, sl_error *err) {
  (void)err;
  rebuilt *into = context;
  if (into->count > 0 && sequence != into->previous_sequence + 1) {
    abort();
  }
  size_t needed = into->size + size_bytes + SL_WAL_RECORD_OVERHEAD_BYTES;
  if (needed > into->capacity) {
    abort(); /* records never add up to more than the input */
  }
  sl_wal_encode_record(sequence, payload, size_bytes, into->bytes + into->size);
  into->size = needed;
  into->previous_sequence = sequence;
  into->count++;
  return SL_OK;
}

static void decode(const uint8_t *data, size_t size, bool is_last) {
  rebuilt into = {0};
  into.capacity = size;
  into.bytes = malloc(size + 1);
  if (into.bytes == NULL) {
    return;
  }
  if (size >= SL_WAL_SEGMENT_HEADER_BYTES) {
    memcpy(into.bytes, data, SL_WAL_SEGMENT_HEADER_BYTES);
    into.size = SL_WAL_SEGMENT_HEADER_BYTES;
  }
  sl_wal_segment_info info;
  sl_error err;
  sl_status status = sl_wal_segment_decode(data, size, "fuzz.wal", is_last, 0, collect, &into,
                                           &info, &err);
  if (status == SL_OK) {
    if (!is_last && (info.torn_tail || !info.header_valid)) {
      abort();
    }
    if (info.valid_end_offset > size || info.record_count != into.count) {
      abort();
    }
    if (info.header_valid) {
      if (into.size != info.valid_end_offset || memcmp(into.bytes, data, into.size) != 0) {
        abort();
      }
      if (info.record_count > 0 && info.last_sequence != into.previous_sequence) {
        abort();
      }
    }
  } else if (status != SL_ERR_CORRUPT) {
    abort();
  }
  free(into.bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  decode(data, size, false);
  decode(data, size, true);
  return 0;
}
