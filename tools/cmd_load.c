/* cmd_load.c: `spanlab load`: a span file (NDJSON or binary) into a store. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "common/path.h"
#include "common/progress.h"
#include "common/timeutil.h"
#include "spanlab/backend.h"
#include "spanlab/catalog.h"
#include "spanlab/spanfile.h"

enum { BATCH_SPANS = 1000, BATCH_BYTES = 64 << 20 };

static void usage(FILE *out) {
  fprintf(out,
          "usage: spanlab load --model stream|trace|sqlite --data DIR --input SPANS [--sync none|batch|interval]\n\n"
          "Loads a span file (NDJSON or binary, detected from its first bytes) into the store in DIR,\n"
          "creating it from the catalog if absent, in batches of %d spans (or %d MiB). When SPANS.manifest.json\n"
          "is beside the file, the store's span count and checksum are compared with it (a manifest\n"
          "that is there but cannot be read is an error). A damaged\n"
          "file loads up to its first bad record, which the error names (record, byte offset, why)\n"
          "with the number of spans the store then holds.\n"
          "Models: stream and trace are the embedded engines; sqlite is the baseline, shaped like the\n"
          "stream model. A store holds one model: reopen it with the same --model and schema set.\n"
          "  --schemas DIR   schema set (default: the shipped schemas/stream-vs-trace)\n"
          "  --quiet         no progress\n",
          BATCH_SPANS, BATCH_BYTES >> 20);
}

/* Reads "spans" and "span_checksum" from the manifest beside input: *found false when there is
 * none; an error when one is there but cannot be read or lacks the two fields (a damaged manifest
 * used to turn the check off without a word). */
static sl_status read_manifest(const char *input, bool *found, uint64_t *spans, uint64_t *checksum, sl_error *err) {
  char path[4200];
  snprintf(path, sizeof path, "%s.manifest.json", input);
  *found = false;
  struct stat info;
  if (stat(path, &info) != 0 && errno == ENOENT) {
    return SL_OK;
  }
  if (sl_path_is_special(path)) { /* a FIFO would block the load for good */
    return sl_error_set(err, SL_ERR_INVALID, "%s: not a regular file (move it away to load without the check)", path);
  }
  json_error_t error;
  json_t *manifest = json_load_file(path, 0, &error);
  if (manifest == NULL) {
    return sl_error_set(err, SL_ERR_INVALID, "%s:%d:%d: the manifest cannot be read: %s (move it away to load "
                        "without the check)", path, error.line, error.column, error.text);
  }
  json_t *count = json_object_get(manifest, "spans");
  json_t *sum = json_object_get(manifest, "span_checksum");
  const char *text = json_is_string(sum) ? json_string_value(sum) : NULL;
  char *end = NULL;
  uint64_t parsed = text != NULL ? strtoull(text, &end, 16) : 0;
  bool ok = json_is_integer(count) && json_integer_value(count) >= 0 && text != NULL && text[0] != '\0' &&
            end != NULL && *end == '\0' && strlen(text) <= 16;
  if (ok) {
    *spans = (uint64_t)json_integer_value(count);
    *checksum = parsed;
    *found = true;
  }
  json_decref(manifest);
  return ok ? SL_OK
            : sl_error_set(err, SL_ERR_INVALID, "%s: the manifest needs \"spans\" (a count) and \"span_checksum\" (16 "
                           "hex digits) (move it away to load without the check)", path);
}

int cmd_load(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    usage(stdout);
    return CLI_EXIT_OK;
  }
  const char *model = NULL, *data = NULL, *input = NULL, *schemas = cli_default_schema_dir();
  sl_sync_mode sync = SL_SYNC_BATCH;
  bool quiet = false;
  for (int i = 1; i < argc; i++) {
    bool has_value = i + 1 < argc;
    if (strcmp(argv[i], "--model") == 0 && has_value) {
      model = argv[++i];
    } else if (strcmp(argv[i], "--data") == 0 && has_value) {
      data = argv[++i];
    } else if (strcmp(argv[i], "--input") == 0 && has_value) {
      input = argv[++i];
    } else if (strcmp(argv[i], "--schemas") == 0 && has_value) {
      schemas = argv[++i];
    } else if (strcmp(argv[i], "--quiet") == 0) {
      quiet = true;
    } else if (strcmp(argv[i], "--sync") == 0 && has_value) {
      const char *mode = argv[++i];
      if (strcmp(mode, "none") == 0) sync = SL_SYNC_NONE;
      else if (strcmp(mode, "batch") == 0) sync = SL_SYNC_BATCH;
      else if (strcmp(mode, "interval") == 0) sync = SL_SYNC_INTERVAL;
      else {
        fprintf(stderr, "spanlab load: --sync expects none, batch or interval, not \"%s\"\n", mode);
        return CLI_EXIT_USAGE;
      }
    } else {
      fprintf(stderr, "spanlab load: unknown option or missing value: %s (see --help)\n", argv[i]);
      return CLI_EXIT_USAGE;
    }
  }
  if (model == NULL || data == NULL || input == NULL) {
    fprintf(stderr, "spanlab load: --model, --data and --input are required (see --help)\n");
    return CLI_EXIT_USAGE;
  }
  sl_catalog *catalog = cli_load_catalog("load", schemas);
  if (catalog == NULL) {
    return CLI_EXIT_FAILED;
  }
  sl_error err;
  sl_spanfile_reader *reader = NULL;
  if (sl_spanfile_open(input, &reader, &err) != SL_OK) {
    fprintf(stderr, "spanlab load: %s\n", err.message);
    sl_catalog_free(catalog);
    return CLI_EXIT_FAILED;
  }
  uint64_t expected_spans = 0, expected_checksum = 0;
  bool have_manifest = false;
  if (read_manifest(input, &have_manifest, &expected_spans, &expected_checksum, &err) != SL_OK) {
    fprintf(stderr, "spanlab load: %s\n", err.message);
    sl_spanfile_close(reader);
    sl_catalog_free(catalog);
    return CLI_EXIT_FAILED;
  }
  sl_backend_options options = {.catalog = catalog, .directory = data,
                                .shape = strcmp(model, "trace") == 0 ? SL_SHAPE_TRACE : SL_SHAPE_STREAM,
                                .sync_mode = sync, .sync_interval_ms = 1000};
  struct stat existing;
  char meta[4200];
  snprintf(meta, sizeof meta, "%s/store.json", data);
  bool had_store = stat(meta, &existing) == 0 || stat(data, &existing) == 0;
  sl_backend *backend = NULL;
  if (sl_backend_open(model, &options, &backend, &err) != SL_OK) {
    fprintf(stderr, "spanlab load: %s\n", err.message);
    sl_spanfile_close(reader);
    sl_catalog_free(catalog);
    return CLI_EXIT_FAILED;
  }
  /* A store that already holds spans: the manifest is compared with what this load added (the
   * checksum is a wrapping sum, so differences add up). */
  uint64_t before_spans = 0, before_checksum = 0;
  if (have_manifest && had_store && sl_backend_count(backend, &before_spans, &before_checksum, &err) != SL_OK) {
    fprintf(stderr, "spanlab load: %s\n", err.message);
    sl_backend_close(backend);
    sl_spanfile_close(reader);
    sl_catalog_free(catalog);
    return CLI_EXIT_FAILED;
  }
  struct stat info;
  uint64_t file_bytes = stat(input, &info) == 0 ? (uint64_t)info.st_size : 0;
  uint64_t expired_before = sl_backend_expired_spans(backend);
  sl_progress progress;
  sl_progress_start(&progress, "load", "spans", have_manifest ? expected_spans : 0, !quiet);
  /* Each span borrows the reader's buffer until the next read, so a batch is
   * written one span at a time into a copy arena: simplest is batches of one
   * record's worth copied into owned memory. */
  sl_span *batch = calloc(BATCH_SPANS, sizeof(sl_span));
  char **owned = calloc(BATCH_SPANS, sizeof(char *));
  uint64_t loaded = 0;
  int64_t started_ns = sl_monotonic_ns();
  sl_status status = batch != NULL && owned != NULL ? SL_OK : sl_error_set(&err, SL_ERR_NOMEM, "out of memory");
  bool end = false;
  while (status == SL_OK && !end) {
    size_t count = 0;
    size_t batch_bytes = 0;
    /* A batch ends at BATCH_SPANS spans or BATCH_BYTES of span bytes, whichever comes first: 1,000
     * spans of 300 KB are over the WAL's 256 MiB record limit. */
    while (count < BATCH_SPANS && batch_bytes < BATCH_BYTES) {
      sl_span span;
      status = sl_spanfile_next(reader, &span, &end, &err);
      if (status != SL_OK || end) {
        break;
      }
      /* Copy the span's bytes: the reader reuses its buffer. */
      sl_bytes *fields[] = {&span.service_id, &span.service_instance_id, &span.trace_id, &span.span_id,
                            &span.parent_span_id, &span.operation_name, &span.component, &span.data_binary};
      size_t total = 0;
      for (size_t f = 0; f < 8; f++) total += fields[f]->size_bytes;
      batch_bytes += total;
      free(owned[count]);
      owned[count] = malloc(total + 1);
      if (owned[count] == NULL) {
        status = sl_error_set(&err, SL_ERR_NOMEM, "out of memory copying span %llu", (unsigned long long)loaded + count + 1);
        break;
      }
      size_t at = 0;
      for (size_t f = 0; f < 8; f++) {
        if (fields[f]->size_bytes > 0) {
          memcpy(owned[count] + at, fields[f]->data, fields[f]->size_bytes);
        }
        fields[f]->data = owned[count] + at;
        at += fields[f]->size_bytes;
      }
      batch[count++] = span;
    }
    /* The spans read before a bad record are written too (the error then says how many the store
     * holds): a damaged file loads up to its first bad record, not up to the last full batch. */
    sl_status read_status = status;
    sl_error read_err = err;
    if (count > 0) {
      status = sl_backend_write(backend, batch, count, &err);
      if (status == SL_ERR_INVALID) {
        /* The store refused a span, and with it the batch: the spans before it are written one at a
         * time, so the file loads up to the refused record, which the error names. */
        size_t good = 0;
        sl_error refused = err;
        while (good < count && sl_backend_write(backend, &batch[good], 1, &refused) == SL_OK) {
          good++;
        }
        loaded += good;
        if (good < count) {
          read_status = SL_ERR_INVALID;
          sl_error_set(&read_err, SL_ERR_INVALID, "%s: record %llu: %s", input, (unsigned long long)loaded + 1,
                       refused.message);
        } /* else the batch as a whole was refused (too large a record), its spans one by one were not */
        status = SL_OK;
        sl_progress_update(&progress, loaded);
      } else if (status == SL_OK) {
        loaded += count;
        sl_progress_update(&progress, loaded);
      }
    }
    if (status == SL_OK && read_status != SL_OK) {
      status = sl_backend_flush(backend, &err);
      if (status == SL_OK) {
        status = read_status;
        err = read_err;
      }
    }
  }
  if (status == SL_OK) {
    status = sl_backend_flush(backend, &err);
  }
  sl_progress_finish(&progress);
  double seconds = (double)(sl_monotonic_ns() - started_ns) / 1e9;
  if (status == SL_OK) {
    /* The store's size below is what it keeps. A failed removal of the WAL files the load's
     * checkpoint gave up puts none of its spans at risk (they are in the store's parts by then):
     * said, not failed, as `spanlab bench` says it. */
    sl_error settle_err;
    if (sl_backend_settle(backend, &settle_err) != SL_OK) {
      fprintf(stderr, "spanlab load: warning: %s\n", settle_err.message);
    }
  }
  int exit_code = CLI_EXIT_OK;
  if (status != SL_OK) {
    fprintf(stderr, "spanlab load: %s (%llu spans were loaded and acknowledged before it)\n", err.message,
            (unsigned long long)loaded);
    exit_code = CLI_EXIT_FAILED;
  } else {
    printf("%s: %llu spans from %s (%s) in %.2f s, %.0f spans/s, %.1f MB/s; store %.1f MB\n", data,
           (unsigned long long)loaded, input, sl_spanfile_format_name(sl_spanfile_reader_format(reader)), seconds,
           (double)loaded / (seconds > 0 ? seconds : 1), (double)file_bytes / 1e6 / (seconds > 0 ? seconds : 1),
           (double)sl_backend_disk_bytes(backend) / 1e6);
    uint64_t expired = sl_backend_expired_spans(backend) - expired_before;
    if (expired > 0) {
      printf("%llu spans went with the TTL: their day segment was past it when written, or passed it as newer "
             "spans came (docs/MODELS.md \"TTL\")\n",
             (unsigned long long)expired);
    }
    if (have_manifest) {
      uint64_t stored = 0, checksum = 0;
      if (sl_backend_count(backend, &stored, &checksum, &err) != SL_OK) {
        fprintf(stderr, "spanlab load: %s\n", err.message);
        exit_code = CLI_EXIT_FAILED;
      } else if (expired > 0) {
        /* Spans that went with the TTL (this file's, or earlier ones that newer spans expired) left
         * the store: its count is compared with them counted back in; their checksum is not known. */
        if (stored + expired != before_spans + expected_spans) {
          fprintf(stderr,
                  "spanlab load: the store holds %llu spans, held %llu before, and %llu went with the TTL: %llu "
                  "are not accounted for by the manifest's %llu\n",
                  (unsigned long long)stored, (unsigned long long)before_spans, (unsigned long long)expired,
                  (unsigned long long)(before_spans + expected_spans - (stored + expired)), (unsigned long long)expected_spans);
          exit_code = CLI_EXIT_FAILED;
        } else {
          printf("the spans loaded match the manifest by count: %llu spans, with the %llu that went with the TTL (no "
                 "checksum: the spans that went are not in the store to be summed)\n",
                 (unsigned long long)expected_spans, (unsigned long long)expired);
        }
      } else if (stored - before_spans != expected_spans || checksum - before_checksum != expected_checksum) {
        fprintf(stderr,
                "spanlab load: the store holds %llu spans (checksum %016llx) and held %llu (%016llx) before; the "
                "manifest says %llu spans (%016llx) were added\n",
                (unsigned long long)stored, (unsigned long long)checksum, (unsigned long long)before_spans,
                (unsigned long long)before_checksum, (unsigned long long)expected_spans,
                (unsigned long long)expected_checksum);
        exit_code = CLI_EXIT_FAILED;
      } else {
        printf("the spans loaded match the manifest: %llu spans, checksum %016llx%s\n", (unsigned long long)expected_spans,
               (unsigned long long)expected_checksum, before_spans > 0 ? " (added to those already stored)" : "");
      }
    }
  }
  for (size_t i = 0; owned != NULL && i < BATCH_SPANS; i++) {
    free(owned[i]);
  }
  free(owned);
  free(batch);
  sl_backend_close(backend);
  sl_spanfile_close(reader);
  sl_catalog_free(catalog);
  return exit_code;
}
