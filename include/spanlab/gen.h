/*
 * spanlab/gen.h: the deterministic SkyWalking span generator (docs/GENERATOR.md).
 *
 * A profile (small, medium, large, or custom values) and a seed define one
 * stream of spans, byte-identical on every machine and for every thread
 * count: trace t is made from a random stream seeded by (seed, t) alone, and
 * traces come out in trace order, which is also start-time order.
 *
 * Memory does not grow with the scale: the generator keeps one batch of spans
 * and tables sized by the number of services, instances and operations.
 *
 * Ownership: sl_gen owns the spans it hands out; they stay valid until the
 * next sl_gen_next call or sl_gen_close.
 */
#ifndef SPANLAB_GEN_H
#define SPANLAB_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spanlab/error.h"
#include "spanlab/span.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sl_gen_profile {
  char scale[16];            /* "small", "medium", "large" or "custom" */
  uint64_t spans;            /* exact span total */
  uint32_t services;
  uint32_t instances;        /* spread over the services, each owning at least one */
  int64_t start_ms;          /* first possible trace start, ms since the epoch */
  int64_t time_range_ms;     /* trace starts are uniform over [start, start + range) */
  uint64_t seed;
  double error_rate;         /* share of spans with isError = 1 */
  uint32_t operations;       /* distinct operation names, Zipfian */
  uint32_t payload_bytes;    /* mean dataBinary size aimed at */
  double latency_mean_ms;    /* exponential latency mean */
  int64_t latency_cap_ms;    /* no span lasts longer */
  double cross_service_share; /* share of child spans that call another service */
} sl_gen_profile;

/* Fills profile with a named scale ("small", "medium", "large"): the seed's
 * "Scale Definitions".  Start 2025-01-01T00:00:00Z, seed 42, 5% errors, 1,000
 * operations, raw size / spans = 5,000 payload bytes, latency mean 100 ms
 * capped at 30 s, 30% of child spans cross services. */
sl_status sl_gen_profile_init(sl_gen_profile *profile, const char *scale, sl_error *err);

/* The generator builds its service and operation name tables up front (about 100 bytes each; a
 * million take about a second), so a profile has at most these (the large scale has 10,000
 * services and 1,000 operations). */
#define SL_GEN_MAX_SERVICES 1000000u
#define SL_GEN_MAX_OPERATIONS 1000000u
#define SL_GEN_MAX_PAYLOAD_BYTES (16u << 20) /* --payload-bytes: the mean dataBinary size aimed at */

/* Checks a (custom) profile: every count positive and within the bounds above, rates in [0, 1], ... */
sl_status sl_gen_profile_validate(const sl_gen_profile *profile, sl_error *err);

/* Trace complexity classes (a share of spans, DESIGN.md "Generator"). */
typedef enum sl_trace_class {
  SL_TRACE_SIMPLE = 0,  /* 1-5 spans, 20% of spans */
  SL_TRACE_MEDIUM = 1,  /* 6-20 spans, 60% of spans */
  SL_TRACE_COMPLEX = 2  /* 21-100 spans, 20% of spans */
} sl_trace_class;

/* The class a trace of span_count spans belongs to. */
sl_trace_class sl_trace_class_of(uint32_t span_count);
const char *sl_trace_class_name(sl_trace_class trace_class);

/* Traces and their spans by class, counted from spans in generation order (a trace's spans come one
 * after another): zero it, add each span's trace id, then finish, which counts the last trace and
 * frees the buffer (also after an error). */
typedef struct sl_trace_tally {
  uint64_t traces; /* runs of consecutive spans with one trace id */
  uint64_t traces_by_class[3];
  uint64_t spans_by_class[3];
  char *id; /* the trace being counted (owned), id_bytes long */
  size_t id_bytes;
  size_t id_capacity;
  uint32_t run; /* its spans so far */
} sl_trace_tally;

sl_status sl_trace_tally_add(sl_trace_tally *tally, sl_bytes trace_id, sl_error *err);
void sl_trace_tally_finish(sl_trace_tally *tally);

typedef struct sl_gen sl_gen;

/* Plans the stream (one pass over the trace sizes, O(1) memory) and gets
 * ready to make spans. */
sl_status sl_gen_open(const sl_gen_profile *profile, sl_gen **out, sl_error *err);
void sl_gen_close(sl_gen *gen);

/* Number of traces the profile makes (known after open). */
uint64_t sl_gen_trace_count(const sl_gen *gen);

/* Up to max_spans next spans into spans[]; *count 0 at the end.  A batch
 * holds whole traces only, unless one trace is larger than max_spans. */
sl_status sl_gen_next(sl_gen *gen, sl_span *spans, size_t max_spans, size_t *count, sl_error *err);

/* Generates the traces [first_trace, first_trace + trace_count) into spans
 * (capacity max_spans) independently of the stream position: the building
 * block of multi-threaded generation.  One sl_gen_worker per thread. */
typedef struct sl_gen_worker sl_gen_worker;
sl_gen_worker *sl_gen_worker_new(const sl_gen *gen);
void sl_gen_worker_free(sl_gen_worker *worker);

/* A planned trace: what the sequential planner decides for trace t. */
typedef struct sl_trace_plan {
  uint64_t trace_index;
  uint64_t first_span_index;
  uint32_t span_count;
} sl_trace_plan;

/* The next plans in trace order (sequential; cheap).  *count 0 at the end. */
size_t sl_gen_plan_next(sl_gen *gen, sl_trace_plan *plans, size_t max_plans);

/* Makes the spans of one planned trace; they stay valid until the worker's
 * next call or sl_gen_worker_reset. */
sl_status sl_gen_worker_make(sl_gen_worker *worker, const sl_trace_plan *plan, sl_span *spans,
                             sl_error *err);
void sl_gen_worker_reset(sl_gen_worker *worker);

/* What a generated file holds; also written as FILE.manifest.json. */
typedef struct sl_gen_manifest {
  uint64_t spans;
  uint64_t traces;
  uint64_t traces_by_class[3];
  uint64_t spans_by_class[3];
  uint64_t file_bytes;
  uint64_t data_binary_bytes;
  uint64_t raw_bytes;       /* every tag's bytes, ints as 8 bytes */
  uint64_t span_checksum;   /* wrapping sum of sl_span_digest over all spans */
  double seconds;
} sl_gen_manifest;

/* Called now and then while writing, with spans done so far. */
typedef void (*sl_gen_progress_fn)(void *context, uint64_t spans_done, uint64_t spans_total);

/* Generates the profile's spans into path in the given format (0 NDJSON,
 * 1 binary; see spanlab/spanfile.h) with `threads` threads (the file is
 * byte-identical for every thread count), fsyncs it, and writes
 * path.manifest.json. */
sl_status sl_gen_write_file(const sl_gen_profile *profile, int format, const char *path,
                            int threads, sl_gen_progress_fn progress, void *context,
                            sl_gen_manifest *manifest, sl_error *err);

/* Writes the manifest JSON for a generated file. */
sl_status sl_gen_write_manifest(const char *manifest_path, const sl_gen_profile *profile,
                                const char *format_name, const sl_gen_manifest *manifest,
                                sl_error *err);

#ifdef __cplusplus
}
#endif

#endif /* SPANLAB_GEN_H */
