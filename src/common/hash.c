/* hash.c: xxHash64 from the libxxhash package. */
#include "common/hash.h"

#include <sys/uio.h>

#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack */
#include <xxhash.h>

uint64_t sl_hash64(const void *data, size_t size_bytes, uint64_t seed) {
  return XXH64(data, size_bytes, seed);
}

_Static_assert(sizeof(XXH64_state_t) <= sizeof(sl_hash64_state), "sl_hash64_state holds an XXH64_state_t");
_Static_assert(_Alignof(XXH64_state_t) <= _Alignof(sl_hash64_state), "sl_hash64_state is aligned for it");

void sl_hash64_begin(sl_hash64_state *state, uint64_t seed) { XXH64_reset((XXH64_state_t *)(void *)state, seed); }

void sl_hash64_add(sl_hash64_state *state, const void *data, size_t size_bytes) {
  if (size_bytes > 0) {
    XXH64_update((XXH64_state_t *)(void *)state, data, size_bytes);
  }
}

uint64_t sl_hash64_end(const sl_hash64_state *state) { return XXH64_digest((const XXH64_state_t *)(const void *)state); }

uint64_t sl_hash64_gather(const void *first, size_t first_bytes, const struct iovec *pieces, size_t count,
                          uint64_t seed) {
  sl_hash64_state state;
  sl_hash64_begin(&state, seed);
  sl_hash64_add(&state, first, first_bytes);
  for (size_t i = 0; i < count; i++) {
    sl_hash64_add(&state, pieces[i].iov_base, pieces[i].iov_len);
  }
  return sl_hash64_end(&state);
}
