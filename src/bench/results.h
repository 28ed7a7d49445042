/*
 * results.h: the results.json document (schema in docs/RESULTS.md).
 *
 * A run records raw figures per benchmark, backend, metric and iteration;
 * statistics (mean, stdev, 95% CI) and comparisons are derived when the file
 * is saved.  sl_results_save writes a temporary file and renames it over
 * results.json, so the file on disk is always whole: a run interrupted between
 * two saves leaves the previous valid document (marked "complete": false).
 *
 * Ownership: sl_results owns its jansson tree and its path copy.  Not
 * thread-safe: the runner records from one thread.
 */
#ifndef SPANLAB_BENCH_RESULTS_H
#define SPANLAB_BENCH_RESULTS_H

#include <jansson.h>
#include <stdbool.h>

#include "spanlab/error.h"

enum { SL_RESULTS_SCHEMA_VERSION = 1 };

typedef struct sl_results sl_results;

/* A new document to be saved at path (e.g. OUT/results.json). */
sl_results *sl_results_new(const char *path);
void sl_results_free(sl_results *results);

/* The "parameters" and "dataset" objects, for the runner to fill. */
json_t *sl_results_parameters(sl_results *results);
json_t *sl_results_dataset(sl_results *results);

/* Fills "environment": CPU model, cores, memory, kernel, compiler, library
 * versions, git commit of the source tree (or "unknown"). */
void sl_results_capture_environment(sl_results *results);

/* Records one figure of one iteration (0-based).  unit: "spans/s", "ms", "bytes" ...
 * higher_is_better decides the winner in comparisons. */
sl_status sl_results_record(sl_results *results, const char *benchmark, const char *label,
                            const char *backend, const char *metric, const char *unit,
                            bool higher_is_better, int iteration, double value, sl_error *err);

/* Marks a benchmark unsupported by a backend, with the backend's reason. */
sl_status sl_results_unsupported(sl_results *results, const char *benchmark, const char *label,
                                 const char *backend, const char *reason, sl_error *err);

/* Free-form details of a benchmark (percentiles, index utilisation ...) for
 * one backend and iteration: the object is created on first use and owned by
 * the document. */
json_t *sl_results_details(sl_results *results, const char *benchmark, const char *backend,
                           int iteration);

/* Sections owned by other parts of the runner: "consistency", "storage",
 * "memory", "resources".  Created on first use. */
json_t *sl_results_section(sl_results *results, const char *name);

/* Replaces a top-level section with value (the document takes the reference). */
void sl_results_set_section(sl_results *results, const char *name, json_t *value);

/* Derives statistics and comparisons and writes the document atomically. */
sl_status sl_results_save(sl_results *results, bool complete, sl_error *err);

#endif
