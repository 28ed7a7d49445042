/* cmd_query.c: `spanlab query`: a BanyanDB QueryRequest against a store,
 * printing BanyanDB's QueryResponse. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "common/path.h"
#include "spanlab/backend.h"
#include "spanlab/catalog.h"
#include "spanlab/query.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: spanlab query --model stream|trace --data DIR [--schemas DIR] QUERY.json\n\n"
          "Runs a BanyanDB QueryRequest (protojson: stream.v1 or trace.v1 QueryRequest; '-' reads standard\n"
          "input) against the store in DIR, written by `spanlab load`, and prints BanyanDB's QueryResponse\n"
          "as JSON. A bad query (malformed JSON, unknown tag, a value of the wrong type, ordering by a rule\n"
          "not bound to the subject, ...) is reported as FILE:LINE:COL: JSON.PATH: what is wrong.\n"
          "  --schemas DIR   schema set (default: the shipped schemas/stream-vs-trace)\n");
}

static char *read_all(FILE *in, size_t *size_out) {
  size_t capacity = 4096, size = 0;
  char *text = malloc(capacity);
  while (text != NULL) {
    size_t got = fread(text + size, 1, capacity - size - 1, in);
    size += got;
    if (got == 0) {
      break;
    }
    if (capacity - size <= 1) {
      if (capacity > (64u << 20)) {
        free(text);
        errno = EFBIG;
        return NULL;
      }
      capacity *= 2;
      char *grown = realloc(text, capacity);
      if (grown == NULL) {
        free(text);
        return NULL;
      }
      text = grown;
    }
  }
  if (text != NULL) {
    text[size] = '\0';
    *size_out = size;
  }
  return text;
}

int cmd_query(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    usage(stdout);
    return CLI_EXIT_OK;
  }
  const char *model = NULL, *data = NULL, *file = NULL, *schemas = cli_default_schema_dir();
  for (int i = 1; i < argc; i++) {
    bool has_value = i + 1 < argc;
    if (strcmp(argv[i], "--model") == 0 && has_value) {
      model = argv[++i];
    } else if (strcmp(argv[i], "--data") == 0 && has_value) {
      data = argv[++i];
    } else if (strcmp(argv[i], "--schemas") == 0 && has_value) {
      schemas = argv[++i];
    } else if ((argv[i][0] != '-' || strcmp(argv[i], "-") == 0) && file == NULL) {
      file = argv[i];
    } else {
      fprintf(stderr, "spanlab query: unknown option, extra argument or missing value: %s (see --help)\n", argv[i]);
      return CLI_EXIT_USAGE;
    }
  }
  if (model == NULL || data == NULL || file == NULL) {
    fprintf(stderr, "spanlab query: --model, --data and a QUERY.json file are required (see --help)\n");
    return CLI_EXIT_USAGE;
  }
  bool stream = strcmp(model, "stream") == 0;
  if (!stream && strcmp(model, "trace") != 0) {
    fprintf(stderr, "spanlab query: --model is stream or trace (the embedded engines), not \"%s\"\n", model);
    return CLI_EXIT_USAGE;
  }
  char meta[4200];
  snprintf(meta, sizeof meta, "%s/store.json", data);
  struct stat info;
  if (stat(meta, &info) != 0) {
    if (sl_backend_holds_sqlite_store(data)) {
      fprintf(stderr, "spanlab query: %s holds the SQLite baseline's store; query answers from the embedded engines' "
                      "stores (load the spans with --model stream or trace into another --data)\n", data);
    } else {
      fprintf(stderr, "spanlab query: %s holds no store (no %s); write one with spanlab load --model %s --data %s ...\n",
              data, meta, model, data);
    }
    return CLI_EXIT_FAILED;
  }
  if (strcmp(file, "-") != 0 && sl_path_is_special(file)) {
    fprintf(stderr, "spanlab query: %s: not a regular file\n", file);
    return CLI_EXIT_FAILED;
  }
  FILE *in = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
  if (in == NULL) {
    fprintf(stderr, "spanlab query: cannot open %s: %s\n", file, strerror(errno));
    return CLI_EXIT_FAILED;
  }
  size_t size = 0;
  char *text = read_all(in, &size);
  if (in != stdin) {
    fclose(in);
  }
  if (text == NULL) {
    fprintf(stderr, "spanlab query: cannot read %s: %s\n", file, strerror(errno));
    return CLI_EXIT_FAILED;
  }
  sl_catalog *catalog = cli_load_catalog("query", schemas);
  if (catalog == NULL) {
    free(text);
    return CLI_EXIT_FAILED;
  }
  sl_error err;
  sl_query *query = NULL;
  int exit_code = CLI_EXIT_OK;
  if (sl_query_parse(catalog, stream ? SL_QUERY_STREAM : SL_QUERY_TRACE, text, size, &query, &err) != SL_OK) {
    /* "query LINE:COL: ..." -> "FILE:LINE:COL: ..." */
    const char *message = strncmp(err.message, "query ", 6) == 0 ? err.message + 6 : err.message;
    fprintf(stderr, "%s:%s\n", strcmp(file, "-") == 0 ? "<stdin>" : file, message);
    exit_code = CLI_EXIT_FAILED;
  }
  for (size_t i = 0; exit_code == CLI_EXIT_OK && i < query->note_count; i++) {
    fprintf(stderr, "%s:%s\n", strcmp(file, "-") == 0 ? "<stdin>" : file, query->notes[i]);
  }
  sl_backend *backend = NULL;
  if (exit_code == CLI_EXIT_OK) {
    sl_backend_options options = {.catalog = catalog, .directory = data,
                                  .shape = stream ? SL_SHAPE_STREAM : SL_SHAPE_TRACE,
                                  .group = query->group, .subject = query->name};
    if (sl_backend_open(model, &options, &backend, &err) != SL_OK) {
      fprintf(stderr, "spanlab query: %s\n", err.message);
      exit_code = CLI_EXIT_FAILED;
    }
  }
  if (exit_code == CLI_EXIT_OK && sl_backend_print_query(backend, query, stdout, &err) != SL_OK) {
    fprintf(stderr, "spanlab query: %s\n", err.message);
    exit_code = CLI_EXIT_FAILED;
  }
  sl_backend_close(backend);
  sl_query_free(query);
  sl_catalog_free(catalog);
  free(text);
  return exit_code;
}
