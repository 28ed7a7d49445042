/*
 * spanlab/spanfile.h: span files, NDJSON or the framed binary format of
 * docs/FORMAT.md ("Span files").
 *
 * NDJSON: one object per line whose keys are exactly the seed's tag names
 * (serviceId ... dataBinary), dataBinary in base64, ints as JSON numbers.
 * Binary: a header, one checksummed record per span, a trailer with the span
 * count; several times faster to read.
 *
 * A reader detects the format from the first bytes.  Its errors name the file,
 * the record number (1-based) and the byte offset.  Spans it returns borrow
 * the reader's memory until the next call.  A writer owns its FILE.
 */
#ifndef SPANLAB_SPANFILE_H
#define SPANLAB_SPANFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "spanlab/error.h"
#include "spanlab/span.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sl_spanfile_format { SL_SPANFILE_NDJSON = 0, SL_SPANFILE_BIN = 1 } sl_spanfile_format;

/* A growable byte buffer (owns data). */
typedef struct sl_byte_buffer {
  uint8_t *data;
  size_t size;
  size_t capacity;
} sl_byte_buffer;

void sl_byte_buffer_free(sl_byte_buffer *buffer);

/* Appends the encoding of spans[0..count) to out (the records only). */
sl_status sl_spanfile_encode(sl_spanfile_format format, const sl_span *spans, size_t count,
                             sl_byte_buffer *out, sl_error *err);

typedef struct sl_spanfile_writer sl_spanfile_writer;

sl_status sl_spanfile_writer_open(const char *path, sl_spanfile_format format,
                                  sl_spanfile_writer **out, sl_error *err);
/* Writes encoded records (from sl_spanfile_encode) holding span_count spans. */
sl_status sl_spanfile_writer_append(sl_spanfile_writer *writer, const sl_byte_buffer *records,
                                    uint64_t span_count, sl_error *err);
/* Writes the trailer, flushes and fsyncs, closes.  The writer is freed even on error. */
sl_status sl_spanfile_writer_close(sl_spanfile_writer *writer, sl_error *err);
uint64_t sl_spanfile_writer_bytes(const sl_spanfile_writer *writer);

typedef struct sl_spanfile_reader sl_spanfile_reader;

/* Opens a span file, its format told by its first bytes.  Refused: a path that is not a regular
 * file, an empty file, a binary header cut short or of another version (SL_ERR_INVALID or
 * SL_ERR_CORRUPT, the message naming the file and the offset). */
sl_status sl_spanfile_open(const char *path, sl_spanfile_reader **out, sl_error *err);
/* The next span; *end true (and span untouched) after the last one. */
sl_status sl_spanfile_next(sl_spanfile_reader *reader, sl_span *span, bool *end, sl_error *err);
sl_spanfile_format sl_spanfile_reader_format(const sl_spanfile_reader *reader);
uint64_t sl_spanfile_reader_records(const sl_spanfile_reader *reader);
void sl_spanfile_close(sl_spanfile_reader *reader);

/* What `spanlab generate --stats` reports of a span file. */
typedef struct sl_spanfile_stats {
  uint64_t spans;
  uint64_t traces;            /* runs of consecutive spans with one trace id */
  uint64_t traces_by_class[3];
  uint64_t spans_by_class[3];
  uint64_t services;          /* distinct root services */
  double top20_service_trace_share; /* traces whose root is on the top 20% of services */
  uint64_t error_spans;
  uint64_t distinct_operations;
  double top_operation_shares[10];  /* share of spans of the 10 most frequent operations */
  double operation_zipf_exponent;   /* least-squares slope of log frequency on log rank */
  int64_t latency_ms_percentiles[5]; /* p50, p90, p99, p999, max */
  double latency_ms_mean;
  int64_t payload_bytes_percentiles[5];
  double payload_bytes_mean;
  int64_t min_start_ms;
  int64_t max_start_ms;
  double minute_coverage;     /* share of minutes in [min, max] with at least one trace start */
} sl_spanfile_stats;

/* Reads a whole span file and fills stats (memory bounded by distinct
 * services, operations and minutes). */
sl_status sl_spanfile_stats_read(const char *path, sl_spanfile_stats *stats, sl_error *err);
/* Prints stats as a person reads them. */
void sl_spanfile_stats_print(const sl_spanfile_stats *stats, FILE *out);

/* "ndjson" / "bin" and back; false for an unknown name. */
const char *sl_spanfile_format_name(sl_spanfile_format format);
bool sl_spanfile_format_parse(const char *name, sl_spanfile_format *format);

#ifdef __cplusplus
}
#endif

#endif /* SPANLAB_SPANFILE_H */
