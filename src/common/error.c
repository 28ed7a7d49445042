/* error.c: status names, error messages and diagnostic lists. */
#include "spanlab/error.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sl_status_name(sl_status status) {
  switch (status) {
    case SL_OK: return "ok";
    case SL_ERR_INVALID: return "invalid input";
    case SL_ERR_IO: return "i/o error";
    case SL_ERR_CORRUPT: return "corrupt data";
    case SL_ERR_NOMEM: return "out of memory";
    case SL_ERR_NOT_FOUND: return "not found";
    case SL_ERR_UNSUPPORTED: return "unsupported";
    case SL_ERR_NOSPACE: return "no space left on device";
    case SL_ERR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

sl_status(sl_error_set)(sl_error *err, sl_status status, const char *format, ...) { /* () : not the analyzer macro */
  assert(format != NULL);
  if (err == NULL) {
    return status;
  }
  err->status = status;
  va_list args;
  va_start(args, format);
  vsnprintf(err->message, sizeof err->message, format, args);
  va_end(args);
  return status;
}

sl_status sl_error_prefix(sl_error *err, const char *format, ...) {
  assert(format != NULL);
  if (err == NULL) {
    return SL_ERR_INTERNAL;
  }
  char prefix[SL_ERROR_MESSAGE_BYTES];
  va_list args;
  va_start(args, format);
  vsnprintf(prefix, sizeof prefix, format, args);
  va_end(args);
  char joined[2 * SL_ERROR_MESSAGE_BYTES + 2];
  snprintf(joined, sizeof joined, "%s: %s", prefix, err->message);
  memcpy(err->message, joined, sizeof err->message - 1);
  err->message[sizeof err->message - 1] = '\0';
  return err->status;
}

void sl_error_clear(sl_error *err) {
  if (err != NULL) {
    err->status = SL_OK;
    err->message[0] = '\0';
  }
}

/* Owns messages[0..count) and each string in it. */
struct sl_diag {
  char **messages;
  size_t count;
  size_t capacity;
};

sl_diag *sl_diag_new(void) { return calloc(1, sizeof(sl_diag)); }

void sl_diag_free(sl_diag *diag) {
  if (diag == NULL) {
    return;
  }
  for (size_t i = 0; i < diag->count; i++) {
    free(diag->messages[i]);
  }
  free(diag->messages);
  free(diag);
}

sl_status sl_diag_add(sl_diag *diag, const char *format, ...) {
  assert(diag != NULL && format != NULL);
  if (diag->count == diag->capacity) {
    size_t capacity = diag->capacity == 0 ? 8 : diag->capacity * 2;
    char **grown = realloc(diag->messages, capacity * sizeof(char *));
    if (grown == NULL) {
      return SL_ERR_NOMEM;
    }
    diag->messages = grown;
    diag->capacity = capacity;
  }
  va_list args;
  va_start(args, format);
  va_list copy;
  va_copy(copy, args);
  int length = vsnprintf(NULL, 0, format, copy);
  va_end(copy);
  char *message = length >= 0 ? malloc((size_t)length + 1) : NULL;
  if (message == NULL) {
    va_end(args);
    return SL_ERR_NOMEM;
  }
  vsnprintf(message, (size_t)length + 1, format, args);
  va_end(args);
  diag->messages[diag->count++] = message;
  return SL_OK;
}

size_t sl_diag_count(const sl_diag *diag) { return diag == NULL ? 0 : diag->count; }

const char *sl_diag_message(const sl_diag *diag, size_t index) {
  assert(diag != NULL && index < diag->count);
  return diag->messages[index];
}
