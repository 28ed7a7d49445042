/* print.c: BanyanDB QueryResponse protojson for evaluator and engine results. */
#include <assert.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "common/base64.h"
#include "common/timeutil.h"
#include "common/utf8.h"
#include "query/query_internal.h"

uint64_t sl_query_element_hash(const char *group, const char *name, sl_bytes element_id) {
  XXH64_state_t state;
  XXH64_reset(&state, 0);
  XXH64_update(&state, group, strlen(group));
  XXH64_update(&state, "|", 1);
  XXH64_update(&state, name, strlen(name));
  XXH64_update(&state, "|", 1);
  XXH64_update(&state, element_id.data, element_id.size_bytes);
  return XXH64_digest(&state);
}

void sl_query_element_id(const char *group, const char *name, sl_bytes element_id, char out[17]) {
  snprintf(out, 17, "%016llx", (unsigned long long)sl_query_element_hash(group, name, element_id));
}

static char *base64(const sl_bytes *bytes) {
  char *out = malloc(sl_base64_encoded_size(bytes->size_bytes) + 1);
  if (out != NULL) {
    sl_base64_encode((const uint8_t *)bytes->data, bytes->size_bytes, out);
    out[sl_base64_encoded_size(bytes->size_bytes)] = '\0';
  }
  return out;
}

static json_t *int64_text(int64_t value) {
  char text[32];
  snprintf(text, sizeof text, "%lld", (long long)value);
  return json_string(text);
}

/* A JSON string of bytes: as they are when they are UTF-8, else with every byte that starts no
 * well-formed sequence printed as U+FFFD (as Go's encoding/json does), never dropped (jansson
 * refuses such bytes, and the tag or id went missing from the answer without a word). */
static json_t *text_json(const char *data, size_t size) {
  json_t *text = json_stringn(data, size);
  if (text != NULL || size == 0) {
    return text != NULL ? text : json_string("");
  }
  char *clean = malloc(size * 3 + 1);
  if (clean == NULL) {
    return NULL;
  }
  size_t used = 0;
  const uint8_t *bytes = (const uint8_t *)data;
  for (size_t i = 0; i < size;) {
    size_t length = sl_utf8_sequence_bytes(bytes + i, size - i);
    if (length == 0) {
      static const char replacement[3] = {'\xef', '\xbf', '\xbd'}; /* U+FFFD */
      for (size_t k = 0; k < sizeof replacement; k++) {
        clean[used++] = replacement[k];
      }
      i++;
    } else {
      memcpy(clean + used, bytes + i, length);
      used += length;
      i += length;
    }
  }
  text = json_stringn(clean, used);
  free(clean);
  return text;
}

/* model.v1.TagValue as protojson prints it (zero values omitted). */
static json_t *tag_value_json(const sl_value *value) {
  switch (value->kind) {
    case SL_VALUE_NULL: return json_pack("{s:n}", "null");
    case SL_VALUE_STR:
      return value->as.str.size_bytes == 0
                 ? json_pack("{s:{}}", "str")
                 : json_pack("{s:{s:o}}", "str", "value", text_json(value->as.str.data, value->as.str.size_bytes));
    case SL_VALUE_INT:
      return value->as.int_value == 0 ? json_pack("{s:{}}", "int")
                                      : json_pack("{s:{s:o}}", "int", "value", int64_text(value->as.int_value));
    case SL_VALUE_TIMESTAMP: {
      char text[40];
      sl_rfc3339_format_ns(value->as.timestamp_ns, text, sizeof text);
      return json_pack("{s:s}", "timestamp", text);
    }
    case SL_VALUE_STR_ARRAY: {
      json_t *items = json_array();
      for (size_t i = 0; i < value->as.str_array.count; i++) {
        json_array_append_new(items, text_json(value->as.str_array.items[i].data,
                                                  value->as.str_array.items[i].size_bytes));
      }
      return json_pack("{s:{s:o}}", "strArray", "value", items);
    }
    case SL_VALUE_INT_ARRAY: {
      json_t *items = json_array();
      for (size_t i = 0; i < value->as.int_array.count; i++) {
        json_array_append_new(items, int64_text(value->as.int_array.items[i]));
      }
      return json_pack("{s:{s:o}}", "intArray", "value", items);
    }
    case SL_VALUE_BINARY: {
      char *text = base64(&value->as.binary);
      json_t *out = json_pack("{s:s}", "binaryData", text != NULL ? text : "");
      free(text);
      return out;
    }
  }
  return json_pack("{s:n}", "null");
}

static json_t *stream_response(const sl_query *query, const sl_query_row *rows,
                               const sl_query_result *result) {
  json_t *elements = json_array();
  for (size_t i = 0; i < result->row_count; i++) {
    const sl_query_row *row = &rows[result->rows[i]];
    char id[17];
    if (row->has_element_hash) {
      snprintf(id, sizeof id, "%016llx", (unsigned long long)row->element_hash);
    } else {
      sl_query_element_id(query->group, query->name, row->element_id, id);
    }
    json_t *families = json_array();
    for (size_t f = 0; f < query->family_count; f++) {
      json_t *tags = json_array();
      for (size_t t = 0; t < query->families[f].tag_count; t++) {
        const sl_tag_spec *tag = query->families[f].tags[t];
        json_array_append_new(tags, json_pack("{s:s, s:o}", "key", tag->name, "value",
                                              tag_value_json(&row->tags[tag->tag_index])));
      }
      json_array_append_new(families, json_pack("{s:s, s:o}", "name", query->families[f].name, "tags", tags));
    }
    char timestamp[40];
    sl_rfc3339_format_ns(row->timestamp_ns, timestamp, sizeof timestamp);
    json_t *element = json_pack("{s:s, s:s}", "elementId", id, "timestamp", timestamp);
    if (json_array_size(families) > 0) {
      json_object_set_new(element, "tagFamilies", families);
    } else {
      json_decref(families);
    }
    json_array_append_new(elements, element);
  }
  json_t *response = json_object();
  if (json_array_size(elements) > 0) {
    json_object_set_new(response, "elements", elements);
  } else {
    json_decref(elements);
  }
  return response;
}

static json_t *trace_response(const sl_query *query, const sl_query_row *rows,
                              const sl_query_result *result) {
  const sl_trace_schema *trace = query->trace;
  const sl_tag_spec *trace_tag = sl_trace_find_tag(trace, trace->trace_id_tag);
  const sl_tag_spec *span_tag = trace->span_id_tag != NULL ? sl_trace_find_tag(trace, trace->span_id_tag) : NULL;
  json_t *traces = json_array();
  for (size_t t = 0; t < result->trace_count; t++) {
    json_t *spans = json_array();
    const sl_value *trace_id = NULL;
    for (size_t i = result->trace_offsets[t]; i < result->trace_offsets[t + 1]; i++) {
      const sl_query_row *row = &rows[result->rows[i]];
      trace_id = &row->tags[trace_tag->tag_index];
      json_t *tags = json_array();
      bool projected_trace_id = false, projected_span_id = false;
      for (size_t p = 0; p < query->tag_projection_count; p++) {
        const sl_tag_spec *tag = query->tag_projection[p];
        if (tag == trace_tag) {
          projected_trace_id = true;
          continue;
        }
        if (tag == span_tag) {
          projected_span_id = true;
          continue;
        }
        json_array_append_new(tags, json_pack("{s:s, s:o}", "key", tag->name, "value",
                                              tag_value_json(&row->tags[tag->tag_index])));
      }
      if (projected_trace_id) {
        json_array_append_new(tags, json_pack("{s:s, s:o}", "key", trace_tag->name, "value",
                                              tag_value_json(&row->tags[trace_tag->tag_index])));
      }
      if (projected_span_id && span_tag != NULL) {
        json_array_append_new(tags, json_pack("{s:s, s:o}", "key", span_tag->name, "value",
                                              tag_value_json(&row->tags[span_tag->tag_index])));
      }
      json_t *span = json_object();
      if (json_array_size(tags) > 0) {
        json_object_set_new(span, "tags", tags);
      } else {
        json_decref(tags);
      }
      char *payload = base64(&row->span);
      if (payload != NULL && payload[0] != '\0') {
        json_object_set_new(span, "span", json_string(payload));
      }
      free(payload);
      if (span_tag != NULL && row->tags[span_tag->tag_index].kind == SL_VALUE_STR) {
        json_object_set_new(span, "spanId", text_json(row->tags[span_tag->tag_index].as.str.data,
                                                         row->tags[span_tag->tag_index].as.str.size_bytes));
      }
      json_array_append_new(spans, span);
    }
    json_t *entry = json_object();
    json_object_set_new(entry, "spans", spans);
    if (trace_id != NULL && trace_id->kind == SL_VALUE_STR) {
      json_object_set_new(entry, "traceId", text_json(trace_id->as.str.data, trace_id->as.str.size_bytes));
    }
    json_array_append_new(traces, entry);
  }
  json_t *response = json_object();
  if (json_array_size(traces) > 0) {
    json_object_set_new(response, "traces", traces);
  } else {
    json_decref(traces);
  }
  return response;
}

sl_status sl_query_print_response(const sl_query *query, const sl_query_row *rows,
                                  const sl_query_result *result, FILE *out, sl_error *err) {
  assert(query != NULL && result != NULL && out != NULL);
  json_t *response = query->model == SL_QUERY_STREAM ? stream_response(query, rows, result)
                                                     : trace_response(query, rows, result);
  if (response == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "printing the response: out of memory");
  }
  int rc = json_dumpf(response, out, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(response);
  fputc('\n', out);
  if (rc != 0) {
    return sl_error_set(err, SL_ERR_IO, "cannot write the response");
  }
  return SL_OK;
}
