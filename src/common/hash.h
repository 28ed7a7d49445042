/* hash.h: the one hash function of spanlab, xxHash64 (as BanyanDB uses). */
#ifndef SPANLAB_COMMON_HASH_H
#define SPANLAB_COMMON_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t sl_hash64(const void *data, size_t size_bytes, uint64_t seed);

/* sl_hash64 of bytes given in pieces: begin, add each piece in order, end (the same value as
 * sl_hash64 of them joined). The state is the caller's, on its stack if it likes. */
typedef struct sl_hash64_state {
  _Alignas(8) unsigned char opaque[96];
} sl_hash64_state;
void sl_hash64_begin(sl_hash64_state *state, uint64_t seed);
void sl_hash64_add(sl_hash64_state *state, const void *data, size_t size_bytes);
uint64_t sl_hash64_end(const sl_hash64_state *state);

/* The hash of first followed by the pieces, as sl_hash64 of them all joined. */
struct iovec;
uint64_t sl_hash64_gather(const void *first, size_t first_bytes, const struct iovec *pieces, size_t count,
                          uint64_t seed);

#endif
