/* backend.c: backend registry and the calls every kind shares. */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "backends/backend_internal.h"

#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack */
#include <xxhash.h>

static const sl_backend_vtable *const registry[] = {&sl_stream_backend, &sl_trace_backend, &sl_sqlite_backend,
                                                    &sl_null_backend};
static const char *const kind_names[] = {"stream", "trace", "sqlite", "null", NULL};

const char *const *sl_backend_kinds(void) { return kind_names; }

sl_status sl_backend_resolve_subject(const sl_backend_options *options, const char **group,
                                     const char **subject, sl_error *err) {
  assert(options != NULL && options->catalog != NULL);
  const sl_catalog *catalog = options->catalog;
  bool stream = options->shape == SL_SHAPE_STREAM;
  size_t count = stream ? sl_catalog_stream_count(catalog) : sl_catalog_trace_count(catalog);
  for (size_t i = 0; i < count; i++) {
    const char *candidate_group = stream ? sl_catalog_stream_at(catalog, i)->group
                                         : sl_catalog_trace_at(catalog, i)->group;
    const char *candidate_name = stream ? sl_catalog_stream_at(catalog, i)->name
                                        : sl_catalog_trace_at(catalog, i)->name;
    if ((options->group == NULL || strcmp(options->group, candidate_group) == 0) &&
        (options->subject == NULL || strcmp(options->subject, candidate_name) == 0)) {
      *group = candidate_group;
      *subject = candidate_name;
      return SL_OK;
    }
  }
  return sl_error_set(err, SL_ERR_NOT_FOUND, "the catalog has no %s%s%s%s%s",
                      stream ? "stream" : "trace", options->group ? " in group " : "",
                      options->group ? options->group : "", options->subject ? " named " : "",
                      options->subject ? options->subject : "");
}

static sl_status make_directory(const char *path, sl_error *err) {
  char partial[4096];
  size_t length = strlen(path);
  if (length == 0 || length >= sizeof partial) {
    return sl_error_set(err, SL_ERR_INVALID, "store directory \"%s\" is empty or too long", path);
  }
  memcpy(partial, path, length + 1);
  for (size_t i = 1; i <= length; i++) {
    if (partial[i] == '/' || partial[i] == '\0') {
      char saved = partial[i];
      partial[i] = '\0';
      if (mkdir(partial, 0755) != 0 && errno != EEXIST) {
        return sl_error_set(err, errno == ENOSPC ? SL_ERR_NOSPACE : SL_ERR_IO,
                            "cannot create directory %s: %s", partial, strerror(errno));
      }
      partial[i] = saved;
    }
  }
  return SL_OK;
}

sl_status sl_backend_open(const char *kind, const sl_backend_options *options, sl_backend **out,
                          sl_error *err) {
  assert(kind != NULL && options != NULL && out != NULL);
  *out = NULL;
  if (options->catalog == NULL || options->directory == NULL) {
    return sl_error_set(err, SL_ERR_INVALID, "backend %s: a catalog and a directory are required", kind);
  }
  const sl_backend_vtable *vtable = NULL;
  for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++) {
    if (strcmp(registry[i]->kind, kind) == 0) {
      vtable = registry[i];
    }
  }
  if (vtable == NULL) {
    return sl_error_set(err, SL_ERR_INVALID, "unknown backend \"%s\"; this build has: stream, trace, sqlite, null", kind);
  }
  /* A directory holds one store: the engines' (store.json) or SQLite's (spans.sqlite); opening one
   * as the other built a second store beside it. */
  if (strcmp(kind, "null") != 0) {
    bool sqlite = strcmp(kind, "sqlite") == 0;
    const char *foreign = sqlite ? SL_ENGINE_STORE_FILE : SL_SQLITE_STORE_FILE;
    char path[4200];
    struct stat info;
    snprintf(path, sizeof path, "%s/%s", options->directory, foreign);
    if (stat(path, &info) == 0) {
      return sl_error_set(err, SL_ERR_INVALID, "%s: the directory holds %s store (%s), not a %s store", options->directory,
                          sqlite ? "an embedded engine's (stream or trace)" : "the sqlite baseline's", foreign, kind);
    }
  }
  SL_TRY(make_directory(options->directory, err));
  sl_backend *backend = calloc(1, sizeof *backend);
  char *directory = strdup(options->directory);
  if (backend == NULL || directory == NULL) {
    free(backend);
    free(directory);
    return sl_error_set(err, SL_ERR_NOMEM, "backend %s: out of memory", kind);
  }
  backend->vtable = vtable;
  backend->directory = directory;
  sl_status status = vtable->open(options, &backend->state, err);
  if (status != SL_OK) {
    free(backend->directory);
    free(backend);
    return status;
  }
  *out = backend;
  return SL_OK;
}

const char *sl_backend_kind(const sl_backend *backend) { return backend->vtable->kind; }

sl_backend_capabilities sl_backend_capabilities_of(const sl_backend *backend) {
  return backend->vtable->capabilities;
}

sl_status sl_backend_write(sl_backend *backend, const sl_span *spans, size_t count, sl_error *err) {
  assert(backend != NULL && (spans != NULL || count == 0));
  return backend->vtable->write(backend->state, spans, count, err);
}

sl_status sl_backend_flush(sl_backend *backend, sl_error *err) {
  assert(backend != NULL);
  return backend->vtable->flush(backend->state, err);
}

sl_status sl_backend_compact(sl_backend *backend, sl_error *err) {
  assert(backend != NULL);
  if (backend->vtable->compact == NULL) {
    return sl_error_set(err, SL_ERR_UNSUPPORTED, "backend %s has no compaction step", backend->vtable->kind);
  }
  return backend->vtable->compact(backend->state, err);
}

sl_status sl_backend_storage_json(sl_backend *backend, char **json_out, sl_error *err) {
  assert(backend != NULL && json_out != NULL);
  *json_out = NULL;
  if (backend->vtable->storage_json == NULL) {
    return sl_error_set(err, SL_ERR_UNSUPPORTED, "backend %s does not break its storage down", backend->vtable->kind);
  }
  return backend->vtable->storage_json(backend->state, json_out, err);
}

sl_status sl_backend_count(sl_backend *backend, uint64_t *span_count, uint64_t *checksum,
                           sl_error *err) {
  assert(backend != NULL && span_count != NULL && checksum != NULL);
  return backend->vtable->count(backend->state, span_count, checksum, err);
}

uint64_t sl_span_key(sl_bytes trace_id, sl_bytes span_id) {
  XXH64_state_t state;
  XXH64_reset(&state, 0);
  XXH64_update(&state, trace_id.data, trace_id.size_bytes);
  XXH64_update(&state, "", 1);
  XXH64_update(&state, span_id.data, span_id.size_bytes);
  return XXH64_digest(&state);
}

void sl_backend_answer_free(sl_backend_answer *answer) {
  if (answer != NULL) {
    free(answer->span_keys);
    answer->span_keys = NULL;
    answer->span_count = 0;
  }
}

sl_status sl_backend_query(sl_backend *backend, const struct sl_query *query, sl_backend_answer *answer,
                           sl_error *err) {
  assert(backend != NULL && query != NULL && answer != NULL);
  answer->span_keys = NULL;
  answer->span_count = 0;
  if (backend->vtable->query == NULL) {
    return sl_error_set(err, SL_ERR_UNSUPPORTED, "backend %s answers no queries", backend->vtable->kind);
  }
  return backend->vtable->query(backend->state, query, answer, err);
}

sl_status sl_backend_print_query(sl_backend *backend, const struct sl_query *query, FILE *out, sl_error *err) {
  assert(backend != NULL && query != NULL && out != NULL);
  if (backend->vtable->print_query == NULL) {
    return sl_error_set(err, SL_ERR_UNSUPPORTED, "backend %s does not print BanyanDB responses (use --model stream or trace)",
                        backend->vtable->kind);
  }
  return backend->vtable->print_query(backend->state, query, out, err);
}

sl_status sl_backend_drop_caches(sl_backend *backend, sl_error *err) {
  assert(backend != NULL);
  if (backend->vtable->drop_caches == NULL) {
    return sl_error_set(err, SL_ERR_UNSUPPORTED, "backend %s cannot drop its caches", backend->vtable->kind);
  }
  return backend->vtable->drop_caches(backend->state, err);
}

static uint64_t directory_bytes(const char *path, int depth) {
  DIR *dir = opendir(path);
  if (dir == NULL || depth > 32) {
    if (dir != NULL) {
      closedir(dir);
    }
    return 0;
  }
  uint64_t total = 0;
  for (struct dirent *entry = readdir(dir); entry != NULL; entry = readdir(dir)) {
    if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) {
      continue;
    }
    char child[4096];
    snprintf(child, sizeof child, "%s/%s", path, entry->d_name);
    struct stat info;
    if (lstat(child, &info) != 0) {
      continue;
    }
    if (S_ISDIR(info.st_mode)) {
      total += directory_bytes(child, depth + 1);
    } else if (S_ISREG(info.st_mode)) {
      total += (uint64_t)info.st_size;
    }
  }
  closedir(dir);
  return total;
}

bool sl_backend_holds_sqlite_store(const char *directory) {
  char path[4200];
  struct stat info;
  snprintf(path, sizeof path, "%s/" SL_SQLITE_STORE_FILE, directory);
  return stat(path, &info) == 0;
}

uint64_t sl_backend_expired_spans(const sl_backend *backend) {
  return backend->vtable->expired_spans != NULL ? backend->vtable->expired_spans(backend->state) : 0;
}

sl_status sl_backend_settle(sl_backend *backend, sl_error *err) {
  assert(backend != NULL);
  return backend->vtable->settle != NULL ? backend->vtable->settle(backend->state, err) : SL_OK;
}

uint64_t sl_backend_disk_bytes(const sl_backend *backend) {
  return directory_bytes(backend->directory, 0);
}

void sl_backend_close(sl_backend *backend) {
  if (backend == NULL) {
    return;
  }
  backend->vtable->close(backend->state);
  free(backend->directory);
  free(backend);
}
