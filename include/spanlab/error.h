/*
 * spanlab/error.h: status codes and error messages shared by every module.
 *
 * Every function that can fail returns an sl_status and, when it fails, fills
 * the caller's sl_error with one message a person can act on: what went wrong,
 * where (file, line, column, byte offset or JSON path) and why.  The caller
 * owns the sl_error; functions never allocate for it.
 *
 * sl_diag collects many messages (a schema or query check reports every
 * problem in one run, not only the first).  It owns its strings.
 */
#ifndef SPANLAB_ERROR_H
#define SPANLAB_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sl_status {
  SL_OK = 0,
  SL_ERR_INVALID,     /* bad input: schema, query, span file, argument */
  SL_ERR_IO,          /* the operating system refused a read, write, open ... */
  SL_ERR_CORRUPT,     /* stored bytes fail a checksum or do not decode */
  SL_ERR_NOMEM,       /* an allocation failed */
  SL_ERR_NOT_FOUND,   /* a named thing does not exist */
  SL_ERR_UNSUPPORTED, /* valid, but this backend or build cannot do it */
  SL_ERR_NOSPACE,     /* the disk is full */
  SL_ERR_INTERNAL     /* an invariant broke: a bug in spanlab */
} sl_status;

enum { SL_ERROR_MESSAGE_BYTES = 1024 };

typedef struct sl_error {
  sl_status status;
  char message[SL_ERROR_MESSAGE_BYTES];
} sl_error;

/* Short lower-case name of a status ("invalid input", "corrupt data", ...). */
const char *sl_status_name(sl_status status);

/* Fills err (may be NULL) and returns status, so callers can write
 * `return sl_error_set(err, SL_ERR_IO, "%s: %s", path, strerror(errno));` */
sl_status sl_error_set(sl_error *err, sl_status status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
#ifdef __clang_analyzer__
/* clang-tidy's analyzer cannot see across files that sl_error_set returns its
 * status argument; without this it follows `ok ? SL_OK : sl_error_set(...)`
 * down impossible paths (a failed allocation "returning" SL_OK). */
#define sl_error_set(err, status, ...) (sl_error_set((err), (status), __VA_ARGS__), (status))
#endif

/* Prepends "prefix: " to an error that is already set, keeping its status. */
sl_status sl_error_prefix(sl_error *err, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Clears err to SL_OK with an empty message. */
void sl_error_clear(sl_error *err);

/* Evaluates expr once; returns its status from the enclosing function if not SL_OK. */
#define SL_TRY(expr)                       \
  do {                                     \
    sl_status sl_try_status_ = (expr);     \
    if (sl_try_status_ != SL_OK) {         \
      return sl_try_status_;               \
    }                                      \
  } while (0)

/* A list of problems, each a full message. */
typedef struct sl_diag sl_diag;

sl_diag *sl_diag_new(void);
void sl_diag_free(sl_diag *diag);
/* Adds one message; returns SL_ERR_NOMEM only if it could not be stored. */
sl_status sl_diag_add(sl_diag *diag, const char *format, ...) __attribute__((format(printf, 2, 3)));
size_t sl_diag_count(const sl_diag *diag);
/* The i-th message, valid until the diag is freed. */
const char *sl_diag_message(const sl_diag *diag, size_t index);

#ifdef __cplusplus
}
#endif

#endif /* SPANLAB_ERROR_H */
