/* hash.c: xxHash64 from the libxxhash package. */
#include "common/hash.h"

#include <xxhash.h>

uint64_t sl_hash64(const void *data, size_t size_bytes, uint64_t seed) {
  return XXH64(data, size_bytes, seed);
}
