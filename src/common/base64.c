/* base64.c: see base64.h. */
#include "common/base64.h"

#include <assert.h>
#include <stdbool.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t sl_base64_encoded_size(size_t size_bytes) { return (size_bytes + 2) / 3 * 4; }

void sl_base64_encode(const uint8_t *data, size_t size_bytes, char *out) {
  assert(data != NULL || size_bytes == 0);
  size_t i = 0;
  size_t o = 0;
  for (; i + 3 <= size_bytes; i += 3) {
    uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
    out[o++] = alphabet[v >> 18];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = alphabet[(v >> 6) & 63];
    out[o++] = alphabet[v & 63];
  }
  if (i < size_bytes) {
    uint32_t v = (uint32_t)data[i] << 16;
    if (i + 1 < size_bytes) {
      v |= (uint32_t)data[i + 1] << 8;
    }
    out[o++] = alphabet[v >> 18];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = i + 1 < size_bytes ? alphabet[(v >> 6) & 63] : '=';
    out[o++] = '=';
  }
}

static int value_of(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

long sl_base64_decode(const char *text, size_t size_bytes, uint8_t *out, size_t *bad_offset) {
  assert(text != NULL || size_bytes == 0);
  if (size_bytes % 4 != 0) {
    *bad_offset = size_bytes;
    return -1;
  }
  size_t o = 0;
  for (size_t i = 0; i < size_bytes; i += 4) {
    int v[4];
    for (int k = 0; k < 4; k++) {
      bool last_group = i + 4 == size_bytes;
      if (text[i + k] == '=' && last_group && k >= 2 && (k == 3 || text[i + 3] == '=')) {
        v[k] = -2;
        continue;
      }
      v[k] = value_of(text[i + k]);
      if (v[k] < 0) {
        *bad_offset = i + k;
        return -1;
      }
    }
    uint32_t bits = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
                    (uint32_t)(v[2] < 0 ? 0 : v[2]) << 6 | (uint32_t)(v[3] < 0 ? 0 : v[3]);
    out[o++] = (uint8_t)(bits >> 16);
    if (v[2] >= 0) {
      out[o++] = (uint8_t)(bits >> 8);
    }
    if (v[3] >= 0) {
      out[o++] = (uint8_t)bits;
    }
  }
  return (long)o;
}
