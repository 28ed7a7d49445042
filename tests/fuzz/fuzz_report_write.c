/* fuzz_report_write.c: the report on an arbitrary results file.  The loader
 * checks what the reports read; anything it accepts must be reported without
 * a crash, a hang or a leak (odd benchmark names, empty series, NaN-free but
 * extreme numbers ...), and a refused file must come with a message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spanlab/report.h"

static char work_dir[256];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (work_dir[0] == '\0') {
    snprintf(work_dir, sizeof work_dir, "/dev/shm/spanlab-fuzz-report-%d", (int)getpid());
    char command[512];
    snprintf(command, sizeof command, "mkdir -p %s/out", work_dir);
    if (system(command) != 0) {
      abort();
    }
  }
  char path[512], out[512];
  snprintf(path, sizeof path, "%s/results.json", work_dir);
  snprintf(out, sizeof out, "%s/out", work_dir);
  FILE *file = fopen(path, "wb");
  if (file == NULL || (size > 0 && fwrite(data, 1, size, file) != size)) {
    abort();
  }
  fclose(file);
  const char *paths[] = {path, path}; /* twice: the same scale, so regressions run too */
  sl_error err;
  sl_status status = sl_report_write(paths, 1 + (size & 1), out, &err);
  if (status != SL_OK && err.message[0] == '\0') {
    abort();
  }
  return 0;
}
