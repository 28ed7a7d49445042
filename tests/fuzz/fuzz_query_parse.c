/* fuzz_query_parse.c: QueryRequest JSON of both models against the shipped
 * schemas and BanyanDB's test schemas; what parses is evaluated over a few
 * rows and printed.  No input may crash, hang or leak. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spanlab/query.h"

static sl_catalog *catalogs[3];

static void load_catalogs(void) {
  static const char *const dirs[3] = {SPANLAB_FUZZ_SOURCE_DIR "/schemas/stream-vs-trace",
                                      SPANLAB_FUZZ_SOURCE_DIR "/tests/data/banyandb-cases/schemas/stream",
                                      SPANLAB_FUZZ_SOURCE_DIR "/tests/data/banyandb-cases/schemas/trace"};
  for (int i = 0; i < 3; i++) {
    sl_diag *problems = sl_diag_new();
    if (sl_catalog_load_dir(dirs[i], NULL, &catalogs[i], problems) != SL_OK) {
      abort();
    }
    sl_diag_free(problems);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (catalogs[0] == NULL) {
    load_catalogs();
  }
  for (int c = 0; c < 3; c++) {
    for (int model = 0; model < 2; model++) {
      sl_query *query = NULL;
      sl_error err;
      if (sl_query_parse(catalogs[c], (sl_query_model)model, (const char *)data, size, &query, &err) != SL_OK) {
        if (query != NULL || err.message[0] == '\0') {
          abort(); /* a failure always explains itself and returns nothing */
        }
        continue;
      }
      /* Rows of nulls: every tag absent. */
      size_t tag_count = model == SL_QUERY_STREAM ? query->stream->tag_count : query->trace->tag_count;
      sl_value *tags = calloc(tag_count + 1, sizeof(sl_value));
      sl_query_row rows[2] = {{.timestamp_ns = 1735689600000000000LL, .tags = tags},
                              {.timestamp_ns = 1735689601000000000LL, .tags = tags}};
      sl_query_result result;
      if (sl_query_evaluate(query, rows, 2, NULL, &result, &err) == SL_OK) {
        FILE *sink = fopen("/dev/null", "w");
        if (sink != NULL) {
          sl_query_print_response(query, rows, &result, sink, &err);
          fclose(sink);
        }
        sl_query_result_free(&result);
      }
      free(tags);
      sl_query_free(query);
    }
  }
  return 0;
}
