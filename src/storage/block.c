/* block.c: see block.h. */
#include "storage/block.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <zstd.h>

#include "common/timeutil.h"

enum { FLAG_ZSTD = 1 };

/* Owns both zstd contexts. */
struct sl_codec {
  ZSTD_CCtx *compress;
  ZSTD_DCtx *decompress;
};

sl_codec *sl_codec_new(void) {
  sl_codec *codec = calloc(1, sizeof *codec);
  if (codec == NULL) {
    return NULL;
  }
  codec->compress = ZSTD_createCCtx();
  codec->decompress = ZSTD_createDCtx();
  if (codec->compress == NULL || codec->decompress == NULL) {
    sl_codec_free(codec);
    return NULL;
  }
  return codec;
}

void sl_codec_free(sl_codec *codec) {
  if (codec == NULL) {
    return;
  }
  ZSTD_freeCCtx(codec->compress);
  ZSTD_freeDCtx(codec->decompress);
  free(codec);
}

static void put_u32(uint8_t *out, uint32_t value) {
  for (int i = 0; i < 4; i++) {
    out[i] = (uint8_t)(value >> (8 * i));
  }
}

static uint32_t get_u32(const uint8_t *in) {
  return (uint32_t)in[0] | (uint32_t)in[1] << 8 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 24;
}

sl_status sl_block_encode(sl_codec *codec, const uint8_t *raw, size_t raw_size, sl_buffer *out,
                          sl_block_stats *stats, sl_error *err) {
  assert(codec != NULL && (raw != NULL || raw_size == 0));
  if (raw_size > SL_BLOCK_MAX_RAW_BYTES) {
    return sl_error_set(err, SL_ERR_INVALID, "a column of %zu bytes exceeds the %d-byte block limit",
                        raw_size, SL_BLOCK_MAX_RAW_BYTES);
  }
  size_t bound = ZSTD_compressBound(raw_size);
  SL_TRY(sl_buffer_reserve(out, 1 + 2 * SL_VARINT_MAX_BYTES + 4 + (bound > raw_size ? bound : raw_size), err));
  size_t start = out->size;
  uint8_t header[1 + 2 * SL_VARINT_MAX_BYTES + 4];
  /* Compress straight after a maximal header, then move it down. */
  uint8_t *payload_area = out->data + start + sizeof header;
  uint8_t flags = 0;
  size_t stored = raw_size;
  if (raw_size >= SL_BLOCK_COMPRESS_MIN_BYTES) {
    int64_t began = sl_monotonic_ns();
    size_t compressed = ZSTD_compressCCtx(codec->compress, payload_area, bound, raw, raw_size, 1);
    if (stats != NULL) {
      stats->compress_ns += (uint64_t)(sl_monotonic_ns() - began);
    }
    if (!ZSTD_isError(compressed) && compressed < raw_size) {
      flags = FLAG_ZSTD;
      stored = compressed;
    }
  }
  if (flags == 0 && raw_size > 0) {
    memcpy(payload_area, raw, raw_size);
  }
  size_t header_size = 0;
  header[header_size++] = flags;
  header_size += sl_varint_put(header + header_size, raw_size);
  header_size += sl_varint_put(header + header_size, stored);
  put_u32(header + header_size, XXH32(payload_area, stored, 0));
  header_size += 4;
  memmove(out->data + start + header_size, payload_area, stored);
  memcpy(out->data + start, header, header_size);
  out->size = start + header_size + stored;
  if (stats != NULL) {
    stats->raw_bytes += raw_size;
    stats->stored_bytes += header_size + stored;
    stats->blocks_compressed += flags == FLAG_ZSTD;
    stats->blocks_raw += flags == 0;
  }
  return SL_OK;
}

sl_status sl_block_decode(sl_codec *codec, const uint8_t *data, size_t size, sl_buffer *scratch,
                          const uint8_t **raw, size_t *raw_size, size_t *used, sl_error *err) {
  assert(codec != NULL && raw != NULL && raw_size != NULL && used != NULL);
  if (size < 1) {
    return sl_error_set(err, SL_ERR_CORRUPT, "block: empty at offset 0");
  }
  uint8_t flags = data[0];
  if (flags & ~FLAG_ZSTD) {
    return sl_error_set(err, SL_ERR_CORRUPT, "block: unknown flags 0x%02x at offset 0", flags);
  }
  size_t offset = 1;
  uint64_t raw_length = 0, stored = 0;
  if (!sl_varint_get(data, size, &offset, &raw_length) || raw_length > SL_BLOCK_MAX_RAW_BYTES) {
    return sl_error_set(err, SL_ERR_CORRUPT, "block: bad raw size at offset 1");
  }
  size_t stored_offset = offset;
  if (!sl_varint_get(data, size, &offset, &stored) || stored > size - offset ||
      (flags == 0 && stored != raw_length)) {
    return sl_error_set(err, SL_ERR_CORRUPT, "block: bad stored size at offset %zu", stored_offset);
  }
  if (size - offset < 4 + stored) {
    return sl_error_set(err, SL_ERR_CORRUPT, "block: truncated at offset %zu (needs %llu more bytes)", offset,
                        (unsigned long long)(4 + stored - (size - offset)));
  }
  uint32_t checksum = get_u32(data + offset);
  offset += 4;
  const uint8_t *payload = data + offset;
  if (XXH32(payload, (size_t)stored, 0) != checksum) {
    return sl_error_set(err, SL_ERR_CORRUPT, "block: checksum mismatch on the payload at offset %zu", offset);
  }
  if (flags == FLAG_ZSTD) {
    scratch->size = 0;
    SL_TRY(sl_buffer_reserve(scratch, (size_t)raw_length + 1, err));
    size_t got = ZSTD_decompressDCtx(codec->decompress, scratch->data, (size_t)raw_length + 1, payload, (size_t)stored);
    if (ZSTD_isError(got) || got != raw_length) {
      return sl_error_set(err, SL_ERR_CORRUPT, "block: zstd payload at offset %zu does not decode to %llu bytes",
                          offset, (unsigned long long)raw_length);
    }
    scratch->size = (size_t)raw_length;
    *raw = scratch->data;
  } else {
    *raw = payload;
  }
  *raw_size = (size_t)raw_length;
  *used = offset + (size_t)stored;
  return SL_OK;
}
