/* hash.h: the one hash function of spanlab, xxHash64 (as BanyanDB uses). */
#ifndef SPANLAB_COMMON_HASH_H
#define SPANLAB_COMMON_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t sl_hash64(const void *data, size_t size_bytes, uint64_t seed);

/* The hash of first followed by the pieces, as sl_hash64 of them all joined. */
struct iovec;
uint64_t sl_hash64_gather(const void *first, size_t first_bytes, const struct iovec *pieces, size_t count,
                          uint64_t seed);

#endif
