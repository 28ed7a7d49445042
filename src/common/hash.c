/* hash.c: xxHash64 from the libxxhash package. */
#include "common/hash.h"

#include <sys/uio.h>

#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack */
#include <xxhash.h>

uint64_t sl_hash64(const void *data, size_t size_bytes, uint64_t seed) {
  return XXH64(data, size_bytes, seed);
}

uint64_t sl_hash64_gather(const void *first, size_t first_bytes, const struct iovec *pieces, size_t count,
                          uint64_t seed) {
  XXH64_state_t state;
  XXH64_reset(&state, seed);
  XXH64_update(&state, first, first_bytes);
  for (size_t i = 0; i < count; i++) {
    if (pieces[i].iov_len > 0) {
      XXH64_update(&state, pieces[i].iov_base, pieces[i].iov_len);
    }
  }
  return XXH64_digest(&state);
}
