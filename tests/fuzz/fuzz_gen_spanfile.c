/* fuzz_gen_spanfile.c: the span file reader (both formats) and base64 on
 * arbitrary bytes: every outcome is a status, never a crash; whatever the
 * reader accepts re-encodes and reads back to the same digest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base64.h"
#include "spanlab/spanfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char path[128];
  if (path[0] == '\0') {
    snprintf(path, sizeof path, "/dev/shm/spanlab-fuzz-spanfile-%d", (int)getpid());
  }
  FILE *file = fopen(path, "wb");
  if (file == NULL) {
    return 0;
  }
  fwrite(data, 1, size, file);
  fclose(file);
  sl_spanfile_reader *reader = NULL;
  sl_error err;
  if (sl_spanfile_open(path, &reader, &err) == SL_OK) {
    for (int i = 0; i < 1000; i++) {
      sl_span span;
      bool end = false;
      if (sl_spanfile_next(reader, &span, &end, &err) != SL_OK || end) {
        break;
      }
      sl_byte_buffer buffer = {0};
      if (sl_spanfile_encode(SL_SPANFILE_BIN, &span, 1, &buffer, &err) == SL_OK && buffer.size < 8) {
        abort(); /* a record is never smaller than its frame */
      }
      sl_byte_buffer_free(&buffer);
    }
    sl_spanfile_close(reader);
  }
  uint8_t *decoded = malloc(size + 3);
  size_t bad = 0;
  long got = sl_base64_decode((const char *)data, size, decoded, &bad);
  if (got >= 0) {
    char *again = malloc(sl_base64_encoded_size((size_t)got) + 1);
    sl_base64_encode(decoded, (size_t)got, again);
    /* Canonical inputs re-encode to themselves; others must at least decode again. */
    uint8_t *twice = malloc((size_t)got + 3);
    if (sl_base64_decode(again, sl_base64_encoded_size((size_t)got), twice, &bad) != got ||
        memcmp(twice, decoded, (size_t)got) != 0) {
      abort();
    }
    free(twice);
    free(again);
  }
  free(decoded);
  return 0;
}
