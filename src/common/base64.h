/* base64.h: RFC 4648 base64 (standard alphabet, padded), for dataBinary in
 * NDJSON span files and SkyWalking-style ids.  No Debian C library offers a
 * small one (docs/DEPENDENCIES.md). */
#ifndef SPANLAB_COMMON_BASE64_H
#define SPANLAB_COMMON_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Bytes needed to encode size_bytes (without a terminating NUL). */
size_t sl_base64_encoded_size(size_t size_bytes);
/* Writes the encoding of data into out (sl_base64_encoded_size bytes). */
void sl_base64_encode(const uint8_t *data, size_t size_bytes, char *out);
/* Decodes text into out (capacity at least 3 * size / 4); returns the decoded
 * size, or -1 with *bad_offset set when text is not valid padded base64. */
long sl_base64_decode(const char *text, size_t size_bytes, uint8_t *out, size_t *bad_offset);

#endif
