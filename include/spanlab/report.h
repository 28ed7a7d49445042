/*
 * spanlab/report.h: reports built from results.json files (docs/REPORTS.md).
 *
 * sl_report_write reads one or more results.json documents (schema in
 * docs/RESULTS.md) and writes into out_dir:
 *   summary.md        who wins what and by how much, a recommendation per use
 *                     case, the seed's success criteria (pass/fail);
 *   detailed.md       every figure with mean, stdev, 95% CI and n;
 *   config-guide.md   the configurations measured and what each parameter moved;
 *   report.html       one self-contained page with interactive charts (uPlot
 *                     inlined; opens offline).
 * With several files it also shows how each figure grows with scale and flags
 * regressions between runs of the same scale.
 *
 * The output depends only on the files' contents and the paths as given (no
 * clock, no host name), so the same input gives the same bytes.
 *
 * Ownership: the caller keeps results_paths and out_dir; nothing is retained
 * after the call.  err (may be NULL) gets a message naming the file and the
 * place (LINE:COL and JSON path) of a bad input.
 */
#ifndef SPANLAB_REPORT_H
#define SPANLAB_REPORT_H

#include <stddef.h>

#include "spanlab/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Upper bound on results files in one report. */
enum { SL_REPORT_MAX_RUNS = 64 };

/* Writes the four report files into out_dir (created when missing; existing
 * report files are replaced atomically).  count >= 1. */
sl_status sl_report_write(const char *const *results_paths, size_t count, const char *out_dir,
                          sl_error *err);

#ifdef __cplusplus
}
#endif

#endif /* SPANLAB_REPORT_H */
