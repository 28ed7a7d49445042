/* utf8.c: see utf8.h. */
#include "common/utf8.h"

size_t sl_utf8_sequence_bytes(const uint8_t *bytes, size_t size) {
  if (size == 0) {
    return 0;
  }
  uint8_t lead = bytes[0];
  if (lead < 0x80) {
    return 1;
  }
  size_t length = lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
  if (length == 0 || size < length) {
    return 0;
  }
  /* The second byte's range excludes overlong forms (E0, F0), surrogates (ED) and values above
   * U+10FFFF (F4). */
  uint8_t low = lead == 0xe0 ? 0xa0 : lead == 0xf0 ? 0x90 : 0x80;
  uint8_t high = lead == 0xed ? 0x9f : lead == 0xf4 ? 0x8f : 0xbf;
  if (bytes[1] < low || bytes[1] > high) {
    return 0;
  }
  for (size_t k = 2; k < length; k++) {
    if ((bytes[k] & 0xc0) != 0x80) {
      return 0;
    }
  }
  return length;
}
