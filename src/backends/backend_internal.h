/* backend_internal.h: the table of functions each backend kind provides. */
#ifndef SPANLAB_BACKENDS_INTERNAL_H
#define SPANLAB_BACKENDS_INTERNAL_H

#include "spanlab/backend.h"

typedef struct sl_backend_vtable {
  const char *kind;
  sl_backend_capabilities capabilities;
  sl_status (*open)(const sl_backend_options *options, void **state, sl_error *err);
  sl_status (*write)(void *state, const sl_span *spans, size_t count, sl_error *err);
  sl_status (*flush)(void *state, sl_error *err);
  sl_status (*count)(void *state, uint64_t *span_count, uint64_t *checksum, sl_error *err);
  sl_status (*query)(void *state, const struct sl_query *query, sl_backend_answer *answer, sl_error *err);
  sl_status (*drop_caches)(void *state, sl_error *err); /* may be NULL */
  sl_status (*compact)(void *state, sl_error *err); /* may be NULL */
  sl_status (*settle)(void *state, sl_error *err); /* may be NULL: no background work on files */
  sl_status (*storage_json)(void *state, char **json_out, sl_error *err); /* may be NULL */
  sl_status (*print_query)(void *state, const struct sl_query *query, FILE *out, sl_error *err); /* may be NULL */
  uint64_t (*expired_spans)(void *state); /* may be NULL: the backend keeps no TTL */
  void (*close)(void *state);
} sl_backend_vtable;

/* The files that say which store a directory holds: the engines' and the SQLite baseline's. */
#define SL_ENGINE_STORE_FILE "store.json"
#define SL_SQLITE_STORE_FILE "spans.sqlite"

extern const sl_backend_vtable sl_stream_backend;
extern const sl_backend_vtable sl_trace_backend;
extern const sl_backend_vtable sl_sqlite_backend;
extern const sl_backend_vtable sl_null_backend;

/* Owns state (through its kind's close) and a copy of the directory path. */
struct sl_backend {
  const sl_backend_vtable *vtable;
  void *state;
  char *directory;
};

/* The subject the options name: group and name resolved against the catalog. */
sl_status sl_backend_resolve_subject(const sl_backend_options *options, const char **group,
                                     const char **subject, sl_error *err);

#endif
