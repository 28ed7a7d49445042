/* block.h: framing of one encoded column (docs/FORMAT.md "Blocks"): flags,
 * raw and stored sizes, XXH32 of the payload, payload (zstd level 1 when the
 * column has 128 bytes or more and zstd shrinks it).
 *
 * An sl_codec owns one zstd compression and one decompression context and is
 * used by one thread at a time; keep one per writer or reader thread. */
#ifndef SPANLAB_STORAGE_BLOCK_H
#define SPANLAB_STORAGE_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "spanlab/error.h"
#include "storage/encoding.h"

enum { SL_BLOCK_COMPRESS_MIN_BYTES = 128, SL_BLOCK_MAX_RAW_BYTES = 256 << 20 };

typedef struct sl_codec sl_codec;

sl_codec *sl_codec_new(void);
void sl_codec_free(sl_codec *codec);

/* What framing cost, for the storage statistics. */
typedef struct sl_block_stats {
  uint64_t raw_bytes;
  uint64_t stored_bytes;     /* payload plus frame */
  uint64_t compress_ns;
  uint64_t blocks_compressed;
  uint64_t blocks_raw;
} sl_block_stats;

/* Appends the block framing raw[0..raw_size) to out. stats may be NULL. */
sl_status sl_block_encode(sl_codec *codec, const uint8_t *raw, size_t raw_size, sl_buffer *out,
                          sl_block_stats *stats, sl_error *err);

/* Decodes the block at data[0..size): *raw points at the column (into data when
 * stored raw, else into scratch, which is grown as needed); *used is the
 * block's length.  Errors name the offset within the block. */
sl_status sl_block_decode(sl_codec *codec, const uint8_t *data, size_t size, sl_buffer *scratch,
                          const uint8_t **raw, size_t *raw_size, size_t *used, sl_error *err);

#endif
