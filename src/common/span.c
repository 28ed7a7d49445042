/* span.c: the seed's span tags by name and index. */
#include "spanlab/span.h"

#include <assert.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack */
#include <xxhash.h>

const char *const sl_span_tag_names[SL_SPAN_TAG_COUNT] = {
    "serviceId", "serviceInstanceId", "traceId",       "startTime", "latency",   "isError",
    "spanId",    "parentSpanId",      "operationName", "component", "dataBinary"};

sl_value sl_span_tag_value(const sl_span *span, size_t tag_index) {
  assert(span != NULL && tag_index < SL_SPAN_TAG_COUNT);
  switch (tag_index) {
    case 0: return sl_value_str(span->service_id.data, span->service_id.size_bytes);
    case 1: return sl_value_str(span->service_instance_id.data, span->service_instance_id.size_bytes);
    case 2: return sl_value_str(span->trace_id.data, span->trace_id.size_bytes);
    case 3: return sl_value_int(span->start_time_ms);
    case 4: return sl_value_int(span->latency_ms);
    case 5: return sl_value_int(span->is_error);
    case 6: return sl_value_str(span->span_id.data, span->span_id.size_bytes);
    case 7: return sl_value_str(span->parent_span_id.data, span->parent_span_id.size_bytes);
    case 8: return sl_value_str(span->operation_name.data, span->operation_name.size_bytes);
    case 9: return sl_value_str(span->component.data, span->component.size_bytes);
    default: return sl_value_binary(span->data_binary.data, span->data_binary.size_bytes);
  }
}

static void digest_u64(XXH64_state_t *state, uint64_t value) {
  unsigned char bytes[8];
  for (int i = 0; i < 8; i++) {
    bytes[i] = (unsigned char)(value >> (8 * i));
  }
  XXH64_update(state, bytes, sizeof bytes);
}

uint64_t sl_span_digest(const sl_span *span) {
  assert(span != NULL);
  XXH64_state_t state;
  XXH64_reset(&state, 0);
  for (size_t i = 0; i < SL_SPAN_TAG_COUNT; i++) {
    sl_value value = sl_span_tag_value(span, i);
    if (value.kind == SL_VALUE_INT) {
      digest_u64(&state, (uint64_t)value.as.int_value);
    } else {
      const sl_bytes *bytes = value.kind == SL_VALUE_STR ? &value.as.str : &value.as.binary;
      digest_u64(&state, bytes->size_bytes);
      if (bytes->size_bytes > 0) {
        XXH64_update(&state, bytes->data, bytes->size_bytes);
      }
    }
  }
  return XXH64_digest(&state);
}
