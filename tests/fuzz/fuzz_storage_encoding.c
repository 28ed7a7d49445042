/* fuzz_storage_encoding.c: the column and block decoders on arbitrary bytes.
 * The first byte picks the decoder and the value count; whatever decodes is
 * re-encoded and must decode to the same values. */
#include <stdlib.h>
#include <string.h>

#include "storage/block.h"
#include "storage/encoding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) {
    return 0;
  }
  static sl_codec *codec;
  if (codec == NULL) {
    codec = sl_codec_new();
  }
  unsigned which = data[0] % 4;
  size_t count = data[0] / 4;
  const uint8_t *body = data + 1;
  size_t body_size = size - 1;
  sl_buffer again = {0};
  if (which == 0 || which == 1) {
    int64_t values[64], back[64];
    sl_status status = which == 0 ? sl_decode_int64s(body, body_size, count, values, NULL)
                                  : sl_decode_timestamps(body, body_size, count, values, NULL);
    if (status == SL_OK) {
      if ((which == 0 ? sl_encode_int64s(values, count, &again, NULL) : sl_encode_timestamps(values, count, &again, NULL)) != SL_OK ||
          (which == 0 ? sl_decode_int64s(again.data, again.size, count, back, NULL)
                      : sl_decode_timestamps(again.data, again.size, count, back, NULL)) != SL_OK ||
          (count > 0 && memcmp(values, back, count * sizeof(int64_t)) != 0)) {
        abort();
      }
    }
  } else if (which == 2) {
    sl_bytes values[64], back[64];
    if (sl_decode_strings(body, body_size, count, values, NULL) == SL_OK) {
      if (sl_encode_strings(values, count, true, &again, NULL) != SL_OK ||
          sl_decode_strings(again.data, again.size, count, back, NULL) != SL_OK) {
        abort();
      }
      for (size_t i = 0; i < count; i++) {
        if (back[i].size_bytes != values[i].size_bytes ||
            (values[i].size_bytes > 0 && memcmp(back[i].data, values[i].data, values[i].size_bytes) != 0)) {
          abort();
        }
      }
    }
  } else {
    sl_buffer scratch = {0};
    const uint8_t *raw = NULL;
    size_t raw_size = 0, used = 0;
    if (sl_block_decode(codec, body, body_size, &scratch, &raw, &raw_size, &used, NULL) == SL_OK) {
      if (used > body_size) {
        abort();
      }
      const uint8_t *back = NULL;
      size_t back_size = 0, back_used = 0;
      sl_buffer scratch2 = {0};
      if (sl_block_encode(codec, raw, raw_size, &again, NULL, NULL) != SL_OK ||
          sl_block_decode(codec, again.data, again.size, &scratch2, &back, &back_size, &back_used, NULL) != SL_OK ||
          back_size != raw_size || (raw_size > 0 && memcmp(back, raw, raw_size) != 0)) {
        abort();
      }
      sl_buffer_free(&scratch2);
    }
    sl_buffer_free(&scratch);
  }
  sl_buffer_free(&again);
  return 0;
}
