/* cmd_inspect.c: `spanlab inspect`: the storage breakdown of an existing store. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "storage/engine.h"
#include "spanlab/backend.h"
#include "spanlab/catalog.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: spanlab inspect --data DIR [--schemas DIR] [--json]\n\n"
          "Prints how a store written by `spanlab load` or `spanlab bench` uses its disk: raw, encoded and\n"
          "stored bytes per tag and per data type with compression ratios, bytes by file kind (data, index,\n"
          "bloom, metadata, snapshots, WAL), the index share, rows and bytes per shard with the skew\n"
          "(max / mean), parts per table, and (trace model) rows and bytes per secondary index.\n"
          "Records a crash left only in the write-ahead log are flushed into parts first.\n"
          "  --schemas DIR   the schema set the store was created with (default: the shipped one)\n"
          "  --json          the same figures as JSON (the shape of results.json's storage section)\n");
}

static double number(json_t *object, const char *key) { return json_number_value(json_object_get(object, key)); }

static void print_mb(const char *label, double bytes, double total) {
  printf("  %-12s %12.3f MB  %5.1f%%\n", label, bytes / 1e6, total > 0 ? 100.0 * bytes / total : 0);
}

static void print_human(const char *data, json_t *root) {
  printf("store %s (%s model): %.0f rows in %.0f parts; %.3f MB stored (WAL apart)\n", data,
         json_string_value(json_object_get(root, "model")) ? json_string_value(json_object_get(root, "model")) : "?",
         number(root, "rows"), number(root, "parts"), number(root, "stored_bytes") / 1e6);
  printf("\nby tag          %14s %14s %14s %8s %8s\n", "raw MB", "encoded MB", "stored MB", "ratio", "stored%");
  const char *key;
  json_t *entry;
  json_object_foreach(json_object_get(root, "by_tag"), key, entry) {
    printf("  %-22s %12.3f %14.3f %14.3f %8.2f %7.1f%%\n", key, number(entry, "raw_bytes") / 1e6,
           number(entry, "encoded_bytes") / 1e6, number(entry, "stored_bytes") / 1e6, number(entry, "compression_ratio"),
           100.0 * number(entry, "stored_share_of_raw"));
  }
  printf("\nby data type\n");
  json_object_foreach(json_object_get(root, "by_type"), key, entry) {
    printf("  %-22s %12.3f %14.3f %14.3f %8.2f %7.1f%%\n", key, number(entry, "raw_bytes") / 1e6,
           number(entry, "encoded_bytes") / 1e6, number(entry, "stored_bytes") / 1e6, number(entry, "compression_ratio"),
           100.0 * number(entry, "stored_share_of_raw"));
  }
  json_t *kinds = json_object_get(root, "by_file_kind");
  double total = 0;
  json_object_foreach(kinds, key, entry) {
    if (strcmp(key, "wal") != 0) {
      total += json_number_value(entry);
    }
  }
  printf("\nby file kind (shares of the store without the WAL)\n");
  json_object_foreach(kinds, key, entry) {
    print_mb(key, json_number_value(entry), strcmp(key, "wal") == 0 ? 0 : total);
  }
  printf("  index share (index + bloom): %.1f%%\n", 100.0 * number(root, "index_share"));
  json_t *indexes = json_object_get(root, "by_index_kind");
  if (json_object_size(indexes) > 0) {
    printf("\nsecondary indexes\n");
    json_object_foreach(indexes, key, entry) {
      double rows = number(entry, "rows");
      printf("  %-22s %12.0f rows %12.3f MB %8.2f bytes/row\n", key, rows, number(entry, "bytes") / 1e6,
             rows > 0 ? number(entry, "bytes") / rows : 0);
    }
  }
  printf("\nshards (skew max/mean %.3f)\n", number(root, "shard_skew"));
  size_t i;
  json_array_foreach(json_object_get(root, "shards"), i, entry) {
    printf("  shard %-4.0f %12.0f rows %12.3f MB\n", number(entry, "shard"), number(entry, "rows"), number(entry, "bytes") / 1e6);
  }
  printf("\ntables\n");
  json_array_foreach(json_object_get(root, "tables"), i, entry) {
    printf("  %s/shard-%.0f %-24s %4.0f parts %12.0f rows %12.3f MB\n", json_string_value(json_object_get(entry, "segment")),
           number(entry, "shard"), json_string_value(json_object_get(entry, "kind")), number(entry, "parts"),
           number(entry, "rows"), number(entry, "bytes") / 1e6);
  }
}

int cmd_inspect(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    usage(stdout);
    return CLI_EXIT_OK;
  }
  const char *data = NULL, *schemas = cli_default_schema_dir();
  bool as_json = false;
  for (int i = 1; i < argc; i++) {
    bool has_value = i + 1 < argc;
    if (strcmp(argv[i], "--data") == 0 && has_value) {
      data = argv[++i];
    } else if (strcmp(argv[i], "--schemas") == 0 && has_value) {
      schemas = argv[++i];
    } else if (strcmp(argv[i], "--json") == 0) {
      as_json = true;
    } else {
      fprintf(stderr, "spanlab inspect: unknown option or missing value: %s (see --help)\n", argv[i]);
      return CLI_EXIT_USAGE;
    }
  }
  if (data == NULL) {
    fprintf(stderr, "spanlab inspect: --data DIR is required (see --help)\n");
    return CLI_EXIT_USAGE;
  }
  char path[4200];
  snprintf(path, sizeof path, "%s/store.json", data);
  struct stat info;
  if (stat(path, &info) != 0) {
    const char *held = NULL;
    if (stat(data, &info) != 0) {
      fprintf(stderr, "spanlab inspect: %s: %s\n", data, strerror(errno));
    } else if (sl_backend_holds_sqlite_store(data)) {
      fprintf(stderr, "spanlab inspect: %s holds the SQLite baseline's store; inspect breaks down the embedded "
                      "engines' stores (bench's storage label breaks SQLite down from its dbstat table)\n", data);
    } else if ((held = sl_engine_store_files_held(data)) != NULL) {
      fprintf(stderr, "spanlab inspect: %s holds a store's files (%s) but no store.json, which says its model, group "
                      "and subject (was it deleted?); put it back to inspect the store\n",
              data, held);
    } else {
      fprintf(stderr, "spanlab inspect: %s holds no store.json: not a store of the embedded engines\n", data);
    }
    return CLI_EXIT_FAILED;
  }
  json_t *meta = NULL;
  sl_error read_error;
  if (sl_engine_read_store_meta(path, &meta, &read_error) != SL_OK) { /* a FIFO, an I/O error, bad JSON */
    fprintf(stderr, "spanlab inspect: %s holds no readable store.json (%s); is it a store of the embedded engines?\n",
            data, read_error.message);
    return CLI_EXIT_FAILED;
  }
  const char *model = json_string_value(json_object_get(meta, "model"));
  if (model == NULL || (strcmp(model, "stream") != 0 && strcmp(model, "trace") != 0)) {
    fprintf(stderr, "spanlab inspect: %s: \"model\" is not stream or trace\n", path);
    json_decref(meta);
    return CLI_EXIT_FAILED;
  }
  sl_catalog *catalog = cli_load_catalog("inspect", schemas);
  if (catalog == NULL) {
    json_decref(meta);
    return CLI_EXIT_FAILED;
  }
  sl_backend_options options = {.catalog = catalog, .directory = data,
                                .shape = strcmp(model, "trace") == 0 ? SL_SHAPE_TRACE : SL_SHAPE_STREAM,
                                .group = json_string_value(json_object_get(meta, "group")),
                                .subject = json_string_value(json_object_get(meta, "subject"))};
  sl_backend *backend = NULL;
  sl_error err;
  int exit_code = CLI_EXIT_OK;
  char *text = NULL;
  /* Records a crash left only in the WAL are replayed into memory parts when the store opens; they
   * are flushed before the breakdown, which counts parts (it said 0 rows, and the next run the
   * store's true count, since closing flushes them anyway). */
  if (sl_backend_open(model, &options, &backend, &err) != SL_OK || sl_backend_flush(backend, &err) != SL_OK ||
      sl_backend_storage_json(backend, &text, &err) != SL_OK) {
    fprintf(stderr, "spanlab inspect: %s\n", err.message);
    exit_code = CLI_EXIT_FAILED;
  }
  if (text != NULL) {
    json_t *root = json_loads(text, 0, NULL);
    if (as_json) {
      printf("%s\n", text);
    } else if (root != NULL) {
      print_human(data, root);
    }
    json_decref(root);
    free(text);
  }
  sl_backend_close(backend);
  sl_catalog_free(catalog);
  json_decref(meta);
  return exit_code;
}
