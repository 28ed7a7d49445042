/* storage_codec_bench.c: column encodings and zstd-1 blocks on generated spans.
 *   build/release/bench/storage_codec_bench [SPANS]
 * Prints MB/s of encoding and decoding each kind of column, and zstd level 1
 * over the dataBinary bytes: the reference the engines' load time is held to
 * (issue #4: loading at most 2x the time zstd-1 takes on the same bytes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"
#include "spanlab/gen.h"
#include "storage/block.h"
#include "storage/encoding.h"

enum { BLOCK_ROWS = 1000 };

int main(int argc, char **argv) {
  sl_gen_profile profile;
  sl_gen_profile_init(&profile, "small", NULL);
  profile.spans = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
  sl_gen *gen = NULL;
  sl_error err;
  if (sl_gen_open(&profile, &gen, &err) != SL_OK) {
    fprintf(stderr, "%s\n", err.message);
    return 1;
  }
  sl_codec *codec = sl_codec_new();
  static sl_span spans[BLOCK_ROWS];
  static int64_t ints[BLOCK_ROWS], back_ints[BLOCK_ROWS];
  static sl_bytes strings[BLOCK_ROWS], back_strings[BLOCK_ROWS];
  sl_buffer column = {0}, block = {0}, scratch = {0};
  int64_t encode_ns[4] = {0}, decode_ns[4] = {0};
  uint64_t raw_bytes[4] = {0}, stored_bytes[4] = {0};
  int64_t zstd_ns = 0, column_ns = 0;
  uint64_t column_stored = 0;
  uint64_t binary_bytes = 0, binary_stored = 0;
  static const char *const names[4] = {"int64 (latency)", "timestamps (startTime)", "strings (traceId)",
                                       "strings (serviceId)"};
  for (;;) {
    size_t count = 0;
    if (sl_gen_next(gen, spans, BLOCK_ROWS, &count, &err) != SL_OK || count == 0) {
      break;
    }
    for (int kind = 0; kind < 4; kind++) {
      for (size_t i = 0; i < count; i++) {
        ints[i] = kind == 0 ? spans[i].latency_ms : spans[i].start_time_ms;
        strings[i] = kind == 2 ? spans[i].trace_id : spans[i].service_id;
      }
      column.size = 0;
      block.size = 0;
      int64_t begin = sl_monotonic_ns();
      sl_status status = kind == 0   ? sl_encode_int64s(ints, count, &column, &err)
                         : kind == 1 ? sl_encode_timestamps(ints, count, &column, &err)
                                     : sl_encode_strings(strings, count, true, &column, &err);
      if (status == SL_OK) {
        status = sl_block_encode(codec, column.data, column.size, &block, NULL, &err);
      }
      encode_ns[kind] += sl_monotonic_ns() - begin;
      const uint8_t *raw = NULL;
      size_t raw_size = 0, used = 0;
      begin = sl_monotonic_ns();
      if (status == SL_OK) {
        status = sl_block_decode(codec, block.data, block.size, &scratch, &raw, &raw_size, &used, &err);
      }
      if (status == SL_OK) {
        status = kind == 0   ? sl_decode_int64s(raw, raw_size, count, back_ints, &err)
                 : kind == 1 ? sl_decode_timestamps(raw, raw_size, count, back_ints, &err)
                             : sl_decode_strings(raw, raw_size, count, back_strings, &err);
      }
      decode_ns[kind] += sl_monotonic_ns() - begin;
      if (status != SL_OK) {
        fprintf(stderr, "%s: %s\n", names[kind], err.message);
        return 1;
      }
      for (size_t i = 0; i < count; i++) {
        raw_bytes[kind] += kind < 2 ? 8 : strings[i].size_bytes;
      }
      stored_bytes[kind] += block.size;
    }
    /* dataBinary as one plain column of the whole batch (a block of up to 1000 spans). */
    for (size_t i = 0; i < count; i++) {
      strings[i] = spans[i].data_binary;
    }
    column.size = 0;
    block.size = 0;
    int64_t column_begin = sl_monotonic_ns();
    if (sl_encode_strings(strings, count, false, &column, &err) != SL_OK ||
        sl_block_encode(codec, column.data, column.size, &block, NULL, &err) != SL_OK) {
      fprintf(stderr, "%s\n", err.message);
      return 1;
    }
    column_ns += sl_monotonic_ns() - column_begin;
    column_stored += block.size;
    for (size_t i = 0; i < count; i++) {
      block.size = 0;
      int64_t begin = sl_monotonic_ns();
      sl_block_encode(codec, (const uint8_t *)spans[i].data_binary.data, spans[i].data_binary.size_bytes, &block, NULL,
                      &err);
      zstd_ns += sl_monotonic_ns() - begin;
      binary_bytes += spans[i].data_binary.size_bytes;
      binary_stored += block.size;
    }
  }
  printf("%-24s %12s %12s %10s\n", "column", "encode MB/s", "decode MB/s", "stored/raw");
  for (int kind = 0; kind < 4; kind++) {
    printf("%-24s %12.1f %12.1f %9.1f%%\n", names[kind], (double)raw_bytes[kind] / 1e6 / ((double)encode_ns[kind] / 1e9),
           (double)raw_bytes[kind] / 1e6 / ((double)decode_ns[kind] / 1e9),
           100.0 * (double)stored_bytes[kind] / (double)raw_bytes[kind]);
  }
  printf("dataBinary zstd-1 per span: %.3f s for %.1f MB (%.1f MB/s), stored %.1f%% of raw\n", (double)zstd_ns / 1e9,
         (double)binary_bytes / 1e6, (double)binary_bytes / 1e6 / ((double)zstd_ns / 1e9),
         100.0 * (double)binary_stored / (double)binary_bytes);
  printf("dataBinary zstd-1 per %d-span column: %.3f s (%.1f MB/s), stored %.1f%% of raw\n", BLOCK_ROWS,
         (double)column_ns / 1e9, (double)binary_bytes / 1e6 / ((double)column_ns / 1e9),
         100.0 * (double)column_stored / (double)binary_bytes);
  sl_buffer_free(&column);
  sl_buffer_free(&block);
  sl_buffer_free(&scratch);
  sl_codec_free(codec);
  sl_gen_close(gen);
  return 0;
}
