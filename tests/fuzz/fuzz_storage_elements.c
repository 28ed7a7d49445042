/* fuzz_storage_elements.c: the write-batch decoder (a WAL record's payload) on arbitrary bytes.
 *
 * Byte 0 of the input is the number of values per element the decoder is told (mod 24); the rest
 * is the batch.  Every outcome is SL_OK or SL_ERR_CORRUPT (with "offset" in the message), never a
 * crash.  A batch that decodes is encoded again; that encoding decodes to the same elements, and
 * encodes again to the same bytes (an encoding is canonical even when the input's varints were not),
 * and the gathered encoding (sl_elements_encode_gather) joins to those bytes, its long pieces
 * pointing into the elements rather than copied.
 * Array values also go through sl_array_encode / sl_array_decode.
 *
 * SPANLAB_FUZZ_WRITE_SEEDS=DIR writes the seed corpus (valid batches of every value kind) into DIR
 * and exits: tests/fuzz/corpus/fuzz_storage_elements was made so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "common/arena.h"
#include "storage/elements.h"

enum { MAX_VALUES = 24 };

static void check(bool condition) {
  if (!condition) {
    abort();
  }
}

static bool same_bytes(sl_bytes a, sl_bytes b) {
  return a.size_bytes == b.size_bytes && (a.size_bytes == 0 || memcmp(a.data, b.data, a.size_bytes) == 0);
}

static bool same_value(const sl_value *a, const sl_value *b) {
  if (a->kind != b->kind) {
    return false;
  }
  switch (a->kind) {
    case SL_VALUE_NULL: return true;
    case SL_VALUE_INT:
    case SL_VALUE_TIMESTAMP: return a->as.int_value == b->as.int_value;
    case SL_VALUE_STR:
    case SL_VALUE_BINARY: return same_bytes(a->as.str, b->as.str);
    case SL_VALUE_STR_ARRAY:
      if (a->as.str_array.count != b->as.str_array.count) {
        return false;
      }
      for (size_t i = 0; i < a->as.str_array.count; i++) {
        if (!same_bytes(a->as.str_array.items[i], b->as.str_array.items[i])) {
          return false;
        }
      }
      return true;
    case SL_VALUE_INT_ARRAY:
      return a->as.int_array.count == b->as.int_array.count &&
             (a->as.int_array.count == 0 ||
              memcmp(a->as.int_array.items, b->as.int_array.items, a->as.int_array.count * sizeof(int64_t)) == 0);
  }
  return false;
}

static void write_seed(const char *dir, const char *name, uint8_t values, const sl_element *elements, size_t count) {
  sl_buffer out = {0};
  check(sl_buffer_append(&out, &values, 1, NULL) == SL_OK);
  check(sl_elements_encode(elements, count, values, &out, NULL) == SL_OK);
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *file = fopen(path, "wb");
  check(file != NULL && fwrite(out.data, 1, out.size, file) == out.size && fclose(file) == 0);
  sl_buffer_free(&out);
}

static void write_seeds(const char *dir) {
  static const sl_bytes items[] = {{"a", 1}, {"", 0}, {"span-kind", 9}};
  static const int64_t numbers[] = {0, -1, 1234567890123LL, INT64_MIN};
  sl_value values[7];
  values[0] = sl_value_str("service-a", 9);
  values[1] = sl_value_int(-42);
  values[2] = sl_value_binary("\x00\x01\xff", 3);
  values[3] = (sl_value){.kind = SL_VALUE_STR_ARRAY, .as.str_array = {items, 3}};
  values[4] = (sl_value){.kind = SL_VALUE_INT_ARRAY, .as.int_array = {numbers, 4}};
  values[5] = (sl_value){.kind = SL_VALUE_TIMESTAMP, .as.timestamp_ns = 1717200000000000000LL};
  values[6] = sl_value_null();
  sl_value second[7];
  for (int v = 0; v < 7; v++) {
    second[v] = sl_value_null();
  }
  second[0] = sl_value_str("", 0);
  second[3] = (sl_value){.kind = SL_VALUE_STR_ARRAY, .as.str_array = {items, 0}};
  sl_element elements[3] = {
      {.timestamp_ns = 1717200000123000000LL, .data = {"b1-e0", 5}, .values = values},
      {.timestamp_ns = 1, .data = {"", 0}, .values = second},
      {.timestamp_ns = INT64_MAX, .data = {"b1-e2", 5}, .values = values},
  };
  write_seed(dir, "three_elements", 7, elements, 3);
  write_seed(dir, "one_element", 7, elements, 1);
  write_seed(dir, "no_values", 0, elements, 2);
  write_seed(dir, "empty_batch", 7, elements, 0);
  /* Long data and values: the gathered encoding borrows them. */
  static char long_bytes[SL_ELEMENTS_GATHER_MIN_BYTES + 88];
  memset(long_bytes, 'x', sizeof long_bytes);
  sl_value long_values[2] = {sl_value_str(long_bytes, sizeof long_bytes), sl_value_binary(long_bytes, 40)};
  sl_element long_elements[2] = {
      {.timestamp_ns = 7, .data = {long_bytes, sizeof long_bytes}, .values = long_values},
      {.timestamp_ns = 8, .data = {"short", 5}, .values = long_values},
  };
  write_seed(dir, "long_values", 2, long_elements, 2);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *seeds = getenv("SPANLAB_FUZZ_WRITE_SEEDS");
  if (seeds != NULL) {
    write_seeds(seeds);
    exit(0);
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) {
    return 0;
  }
  size_t value_count = data[0] % MAX_VALUES;
  sl_arena *arena = sl_arena_new(4096);
  check(arena != NULL);
  sl_element *elements = NULL;
  size_t count = 0;
  sl_error err;
  sl_status status = sl_elements_decode(data + 1, size - 1, value_count, arena, &elements, &count, &err);
  if (status != SL_OK) {
    check(status == SL_ERR_CORRUPT || status == SL_ERR_NOMEM);
    check(status != SL_ERR_CORRUPT || strstr(err.message, "offset") != NULL);
    check(elements == NULL && count == 0);
    sl_arena_free(arena);
    return 0;
  }
  sl_buffer first = {0}, second = {0};
  check(sl_elements_encode(elements, count, value_count, &first, &err) == SL_OK);
  sl_element *again = NULL;
  size_t again_count = 0;
  check(sl_elements_decode(first.data, first.size, value_count, arena, &again, &again_count, &err) == SL_OK);
  check(again_count == count);
  for (size_t e = 0; e < count; e++) {
    check(elements[e].timestamp_ns == again[e].timestamp_ns);
    check(same_bytes(elements[e].data, again[e].data));
    for (size_t v = 0; v < value_count; v++) {
      const sl_value *value = &elements[e].values[v];
      check(same_value(value, &again[e].values[v]));
      if (value->kind == SL_VALUE_STR_ARRAY || value->kind == SL_VALUE_INT_ARRAY) {
        sl_buffer stored = {0};
        check(sl_array_encode(value, &stored, &err) == SL_OK);
        sl_value decoded;
        sl_bytes bytes = {.data = (const char *)stored.data, .size_bytes = stored.size};
        check(sl_array_decode(bytes, value->kind, arena, &decoded, &err) == SL_OK);
        check(same_value(value, &decoded));
        sl_buffer_free(&stored);
      }
    }
  }
  check(sl_elements_encode(again, again_count, value_count, &second, &err) == SL_OK);
  check(first.size == second.size && memcmp(first.data, second.data, first.size) == 0);
  sl_elements_gather gathered = {0};
  check(sl_elements_encode_gather(elements, count, value_count, &gathered, &err) == SL_OK);
  size_t at = 0;
  for (size_t i = 0; i < gathered.count; i++) {
    const struct iovec *piece = &gathered.pieces[i];
    check(piece->iov_len > 0 && at + piece->iov_len <= first.size);
    check(memcmp(first.data + at, piece->iov_base, piece->iov_len) == 0);
    const uint8_t *base = piece->iov_base;
    bool in_scratch = base >= gathered.scratch.data && base < gathered.scratch.data + gathered.scratch.size;
    check(in_scratch || piece->iov_len >= SL_ELEMENTS_GATHER_MIN_BYTES);
    at += piece->iov_len;
  }
  check(at == first.size);
  sl_elements_gather_free(&gathered);
  sl_buffer_free(&first);
  sl_buffer_free(&second);
  sl_arena_free(arena);
  return 0;
}
