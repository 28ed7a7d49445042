/*
 * spanlab/span.h: one SkyWalking span as the generator makes it and span files
 * hold it (DESIGN.md, "A span").  The tag names of the seed's schemas are the
 * field names below in lowerCamel (serviceId, serviceInstanceId, ...).
 *
 * Strings and dataBinary are borrowed: whoever hands out an sl_span (the
 * generator, a span-file reader) says how long they stay valid.
 */
#ifndef SPANLAB_SPAN_H
#define SPANLAB_SPAN_H

#include <stddef.h>
#include <stdint.h>

#include "spanlab/value.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sl_span {
  sl_bytes service_id;          /* serviceId */
  sl_bytes service_instance_id; /* serviceInstanceId */
  sl_bytes trace_id;            /* traceId */
  int64_t start_time_ms;        /* startTime: ms since the epoch, also the element timestamp */
  int64_t latency_ms;           /* latency = endTime - startTime */
  int64_t is_error;             /* isError: 0 or 1 */
  sl_bytes span_id;             /* spanId */
  sl_bytes parent_span_id;      /* parentSpanId: "-1" for a root */
  sl_bytes operation_name;      /* operationName */
  sl_bytes component;           /* component */
  sl_bytes data_binary;         /* dataBinary: a skywalking.v3.SegmentObject */
} sl_span;

/* The seed's tag names, in the order of the fields above. */
enum { SL_SPAN_TAG_COUNT = 11 };
extern const char *const sl_span_tag_names[SL_SPAN_TAG_COUNT];

/* The value of the i-th tag (order of sl_span_tag_names) of a span. */
sl_value sl_span_tag_value(const sl_span *span, size_t tag_index);

/* XXH64 of the span's canonical encoding: the 11 fields in the order above,
 * each string or bytes field as its length (uint64, little-endian) then its
 * bytes, each int field as int64 little-endian.  Independent of any file or
 * store format, so a manifest's checksum (the wrapping sum of the digests of
 * all spans, order-independent) can be checked against any store. */
uint64_t sl_span_digest(const sl_span *span);

#ifdef __cplusplus
}
#endif

#endif /* SPANLAB_SPAN_H */
