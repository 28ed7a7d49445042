/* report.c: sl_report_write (spanlab/report.h). */
#include "spanlab/report.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report/report_internal.h"

static sl_status make_directory(const char *path, sl_error *err) {
  char partial[4096];
  if (snprintf(partial, sizeof partial, "%s", path) >= (int)sizeof partial) {
    return sl_error_set(err, SL_ERR_INVALID, "report: output directory path too long: %s", path);
  }
  for (char *slash = partial + 1; *slash != '\0'; slash++) {
    if (*slash == '/') {
      *slash = '\0';
      mkdir(partial, 0755);
      *slash = '/';
    }
  }
  if (mkdir(partial, 0755) != 0 && errno != EEXIST) {
    return sl_error_set(err, errno == ENOSPC ? SL_ERR_NOSPACE : SL_ERR_IO, "cannot create %s: %s", path,
                        strerror(errno));
  }
  struct stat info;
  if (stat(partial, &info) != 0 || !S_ISDIR(info.st_mode)) {
    return sl_error_set(err, SL_ERR_IO, "%s: not a directory", path);
  }
  return SL_OK;
}

/* The run with the most spans; among equals the latest started, then the last given. */
static size_t pick_primary(const report_set *set) {
  size_t primary = 0;
  for (size_t r = 1; r < set->count; r++) {
    const report_run *run = &set->runs[r], *best = &set->runs[primary];
    if (run->spans > best->spans || (run->spans == best->spans && strcmp(run->started_at, best->started_at) >= 0)) {
      primary = r;
    }
  }
  return primary;
}

sl_status sl_report_write(const char *const *results_paths, size_t count, const char *out_dir, sl_error *err) {
  if (results_paths == NULL || count == 0 || out_dir == NULL) {
    return sl_error_set(err, SL_ERR_INVALID, "report: needs at least one results.json and an output directory");
  }
  if (count > SL_REPORT_MAX_RUNS) {
    return sl_error_set(err, SL_ERR_INVALID, "report: %zu results files; at most %d in one report", count,
                        SL_REPORT_MAX_RUNS);
  }
  report_set set = {.runs = calloc(count, sizeof(report_run)), .count = 0};
  if (set.runs == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "report: out of memory");
  }
  sl_status status = SL_OK;
  for (size_t i = 0; i < count && status == SL_OK; i++) {
    assert(results_paths[i] != NULL);
    status = report_run_load(&set.runs[i], results_paths[i], (int)i + 1, err);
    set.count = i + 1;
  }
  if (status == SL_OK) {
    set.primary = pick_primary(&set);
    status = make_directory(out_dir, err);
  }
  if (status == SL_OK) {
    status = report_write_summary(&set, out_dir, err);
  }
  if (status == SL_OK) {
    status = report_write_detailed(&set, out_dir, err);
  }
  if (status == SL_OK) {
    status = report_write_config_guide(&set, out_dir, err);
  }
  if (status == SL_OK) {
    status = report_write_html(&set, out_dir, err);
  }
  for (size_t i = 0; i < set.count; i++) {
    report_run_free(&set.runs[i]);
  }
  free(set.runs);
  return status;
}
