/* hash.h: the one hash function of spanlab, xxHash64 (as BanyanDB uses). */
#ifndef SPANLAB_COMMON_HASH_H
#define SPANLAB_COMMON_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t sl_hash64(const void *data, size_t size_bytes, uint64_t seed);

#endif
