/* fuzz_catalog_load.c: the schema loader on arbitrary schema files.
 * The input is split at lines "--8<--" into up to seven files, in the order
 * of the seven steps, written to a private directory and loaded.  Whatever
 * the bytes, loading must return a status (never crash, hang or leak), and a
 * failed load must have reported at least one problem. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/jsonpos.h"
#include "spanlab/catalog.h"

static const char *const file_names[7] = {
    "group.json",           "stream_schema.json",           "trace_schema.json",
    "stream_index_rules.json", "trace_index_rules.json", "stream_index_rule_bindings.json",
    "trace_index_rule_bindings.json"};

static char work_dir[256];

static void write_chunk(int index, const uint8_t *data, size_t size) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", work_dir, file_names[index]);
  FILE *file = fopen(path, "wb");
  if (file == NULL) {
    abort();
  }
  if (size > 0 && fwrite(data, 1, size, file) != size) {
    abort();
  }
  fclose(file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (work_dir[0] == '\0') {
    snprintf(work_dir, sizeof work_dir, "/dev/shm/spanlab-fuzz-catalog-%d", (int)getpid());
    char command[512];
    snprintf(command, sizeof command, "mkdir -p %s", work_dir);
    if (system(command) != 0) {
      abort();
    }
  }
  for (int i = 0; i < 7; i++) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", work_dir, file_names[i]);
    unlink(path);
  }
  static const char separator[] = "\n--8<--\n";
  const size_t separator_bytes = sizeof separator - 1;
  size_t start = 0;
  int chunk = 0;
  for (size_t i = 0; i + separator_bytes <= size && chunk < 6; i++) {
    if (memcmp(data + i, separator, separator_bytes) == 0) {
      write_chunk(chunk++, data + start, i - start);
      start = i + separator_bytes;
      i = start - 1;
    }
  }
  write_chunk(chunk, data + start, size - start);

  /* The position index alone, on the whole input. */
  sl_json_positions *positions = sl_json_positions_build((const char *)data, size);
  if (positions != NULL) {
    int line, column;
    sl_json_positions_find(positions, "$[0].metadata.name", &line, &column);
    sl_json_positions_find_key(positions, "$.tags[1].type", &line, &column);
    if (line < 1 || column < 1) {
      abort();
    }
    sl_json_positions_free(positions);
  }

  sl_diag *problems = sl_diag_new();
  sl_catalog *catalog = NULL;
  sl_status status = sl_catalog_load_dir(work_dir, NULL, &catalog, problems);
  if ((status == SL_OK) != (catalog != NULL) || (status != SL_OK && sl_diag_count(problems) == 0)) {
    abort();
  }
  if (catalog != NULL) {
    /* A catalog that loaded answers every lookup consistently. */
    for (size_t i = 0; i < sl_catalog_stream_count(catalog); i++) {
      const sl_stream_schema *stream = sl_catalog_stream_at(catalog, i);
      if (sl_catalog_find_stream(catalog, stream->group, stream->name) != stream) {
        abort();
      }
    }
  }
  sl_catalog_free(catalog);
  sl_diag_free(problems);
  return 0;
}
