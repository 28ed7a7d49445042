/* trace.c: the Trace engine (trace.h).  Not written yet: every call says so. */
#include "trace/trace.h"

#include <stdlib.h>

static sl_status missing(sl_error *err) {
  return sl_error_set(err, SL_ERR_UNSUPPORTED, "the embedded Trace engine is not in this build yet (issue #5)");
}

sl_status sl_trace_engine_open(const sl_engine_options *options, sl_trace_engine **out, sl_error *err) {
  (void)options;
  *out = NULL;
  return missing(err);
}

sl_status sl_trace_engine_close(sl_trace_engine *engine, bool flush, sl_error *err) {
  (void)engine;
  (void)flush;
  (void)err;
  return SL_OK;
}

const sl_trace_schema *sl_trace_engine_schema(const sl_trace_engine *engine) {
  (void)engine;
  return NULL;
}

sl_status sl_trace_engine_write(sl_trace_engine *engine, const sl_element *spans, size_t count, sl_error *err) {
  (void)engine;
  (void)spans;
  (void)count;
  return missing(err);
}

sl_status sl_trace_engine_flush(sl_trace_engine *engine, sl_error *err) {
  (void)engine;
  return missing(err);
}

sl_status sl_trace_engine_compact(sl_trace_engine *engine, sl_error *err) {
  (void)engine;
  return missing(err);
}

void sl_trace_engine_drop_caches(sl_trace_engine *engine) { (void)engine; }

sl_status sl_trace_engine_query(sl_trace_engine *engine, const sl_query *query, const char *const *extra_tags,
                                size_t extra_count, sl_trace_answer *answer, sl_error *err) {
  (void)engine;
  (void)query;
  (void)extra_tags;
  (void)extra_count;
  (void)answer;
  return missing(err);
}

void sl_trace_answer_free(sl_trace_answer *answer) { (void)answer; }

sl_status sl_trace_engine_scan(sl_trace_engine *engine, sl_span_visit_fn visit, void *context, sl_error *err) {
  (void)engine;
  (void)visit;
  (void)context;
  return missing(err);
}

void sl_trace_engine_stats(sl_trace_engine *engine, sl_trace_stats *out) {
  (void)engine;
  (void)out;
}

sl_tsdb *sl_trace_engine_store(sl_trace_engine *engine) {
  (void)engine;
  return NULL;
}

char *sl_trace_engine_storage_json(sl_trace_engine *engine) {
  (void)engine;
  return NULL;
}
