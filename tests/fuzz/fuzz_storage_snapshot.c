/* fuzz_storage_snapshot.c: the snapshot decoder on arbitrary bytes. Every outcome is a status,
 * never a crash; whatever decodes re-encodes to exactly the input (the format has one encoding). */
#include <stdlib.h>
#include <string.h>

#include "storage/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sl_snapshot snapshot;
  sl_error err;
  sl_status status = sl_snapshot_decode(data, size, "fuzz.snp", &snapshot, &err);
  if (status == SL_OK) {
    uint8_t *encoded = NULL;
    size_t encoded_size = 0;
    if (sl_snapshot_encode(&snapshot, &encoded, &encoded_size, &err) != SL_OK) {
      abort(); /* a decoded snapshot is always encodable */
    }
    if (encoded_size != size || memcmp(encoded, data, size) != 0) {
      abort();
    }
    free(encoded);
    sl_snapshot_free(&snapshot);
  } else if (status != SL_ERR_CORRUPT && status != SL_ERR_NOMEM) {
    abort();
  } else if (snapshot.parts != NULL || snapshot.part_count != 0) {
    abort(); /* a failed decode leaves nothing behind */
  }
  return 0;
}
