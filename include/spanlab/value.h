/*
 * spanlab/value.h: a tag value, as BanyanDB's model.v1.TagValue holds it.
 *
 * An sl_value never owns memory: its pointers borrow from whoever made it (a
 * span record, a query's arena, a decoded block).  The owner says how long the
 * borrowed bytes live.
 */
#ifndef SPANLAB_VALUE_H
#define SPANLAB_VALUE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sl_value_kind {
  SL_VALUE_NULL = 0,     /* absent tag or explicit null */
  SL_VALUE_STR,          /* TAG_TYPE_STRING */
  SL_VALUE_INT,          /* TAG_TYPE_INT */
  SL_VALUE_STR_ARRAY,    /* TAG_TYPE_STRING_ARRAY */
  SL_VALUE_INT_ARRAY,    /* TAG_TYPE_INT_ARRAY */
  SL_VALUE_BINARY,       /* TAG_TYPE_DATA_BINARY */
  SL_VALUE_TIMESTAMP     /* TAG_TYPE_TIMESTAMP: nanoseconds since the epoch */
} sl_value_kind;

typedef struct sl_bytes {
  const char *data; /* not NUL-terminated in general */
  size_t size_bytes;
} sl_bytes;

typedef struct sl_value {
  sl_value_kind kind;
  union {
    sl_bytes str;       /* SL_VALUE_STR */
    int64_t int_value;  /* SL_VALUE_INT */
    int64_t timestamp_ns; /* SL_VALUE_TIMESTAMP */
    sl_bytes binary;    /* SL_VALUE_BINARY */
    struct {
      const sl_bytes *items;
      size_t count;
    } str_array;        /* SL_VALUE_STR_ARRAY */
    struct {
      const int64_t *items;
      size_t count;
    } int_array;        /* SL_VALUE_INT_ARRAY */
  } as;
} sl_value;

static inline sl_value sl_value_null(void) {
  sl_value value = {.kind = SL_VALUE_NULL};
  return value;
}

static inline sl_value sl_value_int(int64_t number) {
  sl_value value = {.kind = SL_VALUE_INT};
  value.as.int_value = number;
  return value;
}

static inline sl_value sl_value_str(const char *data, size_t size_bytes) {
  sl_value value = {.kind = SL_VALUE_STR};
  value.as.str.data = data;
  value.as.str.size_bytes = size_bytes;
  return value;
}

static inline sl_value sl_value_binary(const void *data, size_t size_bytes) {
  sl_value value = {.kind = SL_VALUE_BINARY};
  value.as.binary.data = (const char *)data;
  value.as.binary.size_bytes = size_bytes;
  return value;
}

#ifdef __cplusplus
}
#endif

#endif /* SPANLAB_VALUE_H */
