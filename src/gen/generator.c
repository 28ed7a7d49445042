/* generator.c: profiles, the trace planner and trace making (docs/GENERATOR.md). */
#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/hash.h"
#include "common/timeutil.h"
#include "common/base64.h"
#include "gen/content.h"
#include "gen/random.h"
#include "gen/skywalking.pb-c.h"
#include "spanlab/gen.h"

enum { MAX_TRACE_SPANS = 100, STREAM_PLAN = 1, STREAM_START = 2, STREAM_TRACE = 3 };

static const uint32_t class_min[3] = {1, 6, 21};
static const uint32_t class_max[3] = {5, 20, 100};
static const double class_share[3] = {0.2, 0.6, 0.2};

sl_trace_class sl_trace_class_of(uint32_t span_count) {
  return span_count <= 5 ? SL_TRACE_SIMPLE : span_count <= 20 ? SL_TRACE_MEDIUM : SL_TRACE_COMPLEX;
}

const char *sl_trace_class_name(sl_trace_class trace_class) {
  static const char *const names[] = {"simple", "medium", "complex"};
  return names[trace_class];
}

static void tally_close(sl_trace_tally *tally) {
  if (tally->run > 0) {
    sl_trace_class trace_class = sl_trace_class_of(tally->run);
    tally->traces_by_class[trace_class]++;
    tally->spans_by_class[trace_class] += tally->run;
  }
  tally->run = 0;
}

sl_status sl_trace_tally_add(sl_trace_tally *tally, sl_bytes trace_id, sl_error *err) {
  assert(tally != NULL);
  if (tally->run > 0 && trace_id.size_bytes == tally->id_bytes &&
      (trace_id.size_bytes == 0 || memcmp(trace_id.data, tally->id, trace_id.size_bytes) == 0)) {
    tally->run++;
    return SL_OK;
  }
  tally_close(tally);
  if (trace_id.size_bytes > tally->id_capacity) {
    char *grown = realloc(tally->id, trace_id.size_bytes);
    if (grown == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory counting traces");
    }
    tally->id = grown;
    tally->id_capacity = trace_id.size_bytes;
  }
  if (trace_id.size_bytes > 0) {
    memcpy(tally->id, trace_id.data, trace_id.size_bytes);
  }
  tally->id_bytes = trace_id.size_bytes;
  tally->run = 1;
  tally->traces++;
  return SL_OK;
}

void sl_trace_tally_finish(sl_trace_tally *tally) {
  assert(tally != NULL);
  tally_close(tally);
  free(tally->id);
  tally->id = NULL;
  tally->id_bytes = tally->id_capacity = 0;
}

sl_status sl_gen_profile_init(sl_gen_profile *profile, const char *scale, sl_error *err) {
  assert(profile != NULL && scale != NULL);
  static const struct {
    const char *name;
    uint64_t spans;
    uint32_t services;
    uint32_t instances;
    int64_t range_ms;
  } scales[] = {{"small", 100000, 100, 500, 3600000LL},
                {"medium", 10000000, 1000, 5000, 86400000LL},
                {"large", 1000000000, 10000, 50000, 7 * 86400000LL}};
  memset(profile, 0, sizeof *profile);
  for (size_t i = 0; i < sizeof scales / sizeof scales[0]; i++) {
    if (strcmp(scale, scales[i].name) == 0) {
      snprintf(profile->scale, sizeof profile->scale, "%s", scale);
      profile->spans = scales[i].spans;
      profile->services = scales[i].services;
      profile->instances = scales[i].instances;
      profile->time_range_ms = scales[i].range_ms;
      profile->start_ms = 1735689600000LL; /* 2025-01-01T00:00:00Z */
      profile->seed = 42;
      profile->error_rate = 0.05;
      profile->operations = 1000;
      profile->payload_bytes = 5000; /* the seed's raw size / spans: 500 MB / 100K */
      profile->latency_mean_ms = 100;
      profile->latency_cap_ms = 30000;
      profile->cross_service_share = 0.3;
      return SL_OK;
    }
  }
  return sl_error_set(err, SL_ERR_INVALID, "unknown scale \"%s\"; expected small, medium or large",
                      scale);
}

sl_status sl_gen_profile_validate(const sl_gen_profile *profile, sl_error *err) {
  if (profile->spans == 0) {
    return sl_error_set(err, SL_ERR_INVALID, "spans must be at least 1");
  }
  if (profile->services == 0 || profile->instances < profile->services) {
    return sl_error_set(err, SL_ERR_INVALID,
                        "need at least 1 service and at least one instance per service (%u services, %u instances)",
                        profile->services, profile->instances);
  }
  if (profile->services > SL_GEN_MAX_SERVICES) {
    return sl_error_set(err, SL_ERR_INVALID, "%u services is over the generator's limit of %u", profile->services,
                        SL_GEN_MAX_SERVICES);
  }
  if (profile->time_range_ms <= 0) {
    return sl_error_set(err, SL_ERR_INVALID, "time range must be positive");
  }
  /* Every start time must be one a store takes: 1 ms after the epoch up to INT64_MAX ns (in 2262).
   * A span starts before start + range + the latency cap (a child starts inside its parent). */
  const int64_t last_ms = INT64_MAX / 1000000;
  int64_t cap_ms = profile->latency_cap_ms > 0 ? profile->latency_cap_ms : 0;
  if (profile->start_ms < 1 || profile->time_range_ms > last_ms || cap_ms > last_ms ||
      profile->start_ms > last_ms - profile->time_range_ms - cap_ms) {
    return sl_error_set(err, SL_ERR_INVALID,
                        "start times from %lld ms over a range of %lld ms (plus the %lld ms latency cap) fall outside "
                        "1..%lld ms since the epoch (1970-01-01T00:00:00.001Z to 2262-04-11, the int64 nanoseconds "
                        "the stores keep): choose a later --start or a shorter --time-range",
                        (long long)profile->start_ms, (long long)profile->time_range_ms, (long long)cap_ms,
                        (long long)last_ms);
  }
  if (!(profile->error_rate >= 0 && profile->error_rate <= 1) ||
      !(profile->cross_service_share >= 0 && profile->cross_service_share <= 1)) {
    return sl_error_set(err, SL_ERR_INVALID, "error rate and cross-service share must be in [0, 1]");
  }
  if (profile->operations < 1) {
    return sl_error_set(err, SL_ERR_INVALID, "operations must be at least 1");
  }
  if (profile->operations > SL_GEN_MAX_OPERATIONS) {
    return sl_error_set(err, SL_ERR_INVALID, "%u operations is over the generator's limit of %u",
                        profile->operations, SL_GEN_MAX_OPERATIONS);
  }
  if (!(profile->latency_mean_ms > 0) || profile->latency_cap_ms < 1) {
    return sl_error_set(err, SL_ERR_INVALID, "latency mean and cap must be positive");
  }
  if (profile->payload_bytes > SL_GEN_MAX_PAYLOAD_BYTES) {
    return sl_error_set(err, SL_ERR_INVALID, "payload bytes %u exceeds %u (16 MiB)", profile->payload_bytes,
                        SL_GEN_MAX_PAYLOAD_BYTES);
  }
  return SL_OK;
}

/* The sequential planner: trace sizes, with classes kept at their span shares. */
typedef struct planner {
  uint64_t seed;
  uint64_t spans;
  uint64_t next_trace;
  uint64_t emitted;
  uint64_t emitted_by_class[3];
} planner;

static bool plan_one(planner *state, sl_trace_plan *plan) {
  if (state->emitted >= state->spans) {
    return false;
  }
  uint64_t remaining = state->spans - state->emitted;
  uint32_t size;
  if (remaining <= MAX_TRACE_SPANS) {
    size = (uint32_t)remaining;
  } else {
    int chosen = 0;
    double best = -1e300;
    for (int c = 0; c < 3; c++) {
      double deficit = class_share[c] * (double)state->emitted - (double)state->emitted_by_class[c];
      if (deficit > best) {
        best = deficit;
        chosen = c;
      }
    }
    sl_rng rng;
    sl_rng_seed(&rng, state->seed, STREAM_PLAN, state->next_trace);
    size = (uint32_t)sl_rng_between(&rng, class_min[chosen], class_max[chosen]);
  }
  plan->trace_index = state->next_trace++;
  plan->first_span_index = state->emitted;
  plan->span_count = size;
  state->emitted += size;
  state->emitted_by_class[sl_trace_class_of(size)] += size;
  return true;
}

/* Owns the content tables and the workers' shared read-only state. */
struct sl_gen {
  sl_gen_profile profile;
  planner plan;
  uint64_t trace_count;
  sl_content content;
  sl_zipf services;
  sl_zipf entry_operations;
  sl_zipf other_operations;
  uint32_t *other_operation_ids;
  size_t other_count;
  char **service_ids;
  char **service_names;
  sl_gen_worker *sequential; /* used by sl_gen_next */
};

/* Owns an arena holding the spans' bytes until the next make or reset. */
struct sl_gen_worker {
  const sl_gen *gen;
  sl_arena *arena;
};

static char *service_name(uint32_t service, char *out, size_t out_bytes) {
  if (service < SL_NOUN_COUNT) {
    snprintf(out, out_bytes, "%s-service", sl_nouns[service]);
  } else {
    snprintf(out, out_bytes, "%s-service-%u", sl_nouns[service % SL_NOUN_COUNT],
             (unsigned)(service / SL_NOUN_COUNT));
  }
  return out;
}

sl_status sl_gen_open(const sl_gen_profile *profile, sl_gen **out, sl_error *err) {
  assert(profile != NULL && out != NULL);
  *out = NULL;
  SL_TRY(sl_gen_profile_validate(profile, err));
  sl_gen *gen = calloc(1, sizeof *gen);
  if (gen == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "generator: out of memory");
  }
  gen->profile = *profile;
  double exponent = sl_zipf_fit_exponent(profile->services, 0.2, 0.8);
  bool ok = sl_content_init(&gen->content, profile->operations) == 0 &&
            sl_zipf_init(&gen->services, profile->services, exponent) == 0;
  /* Operation names: Zipf with exponent 1 within entry and within other operations. */
  gen->other_operation_ids = ok ? calloc(profile->operations, sizeof(uint32_t)) : NULL;
  ok = ok && gen->other_operation_ids != NULL;
  for (uint32_t k = 0; ok && k < profile->operations; k++) {
    if (gen->content.operations[k].span_type != SL_SPAN_ENTRY) {
      gen->other_operation_ids[gen->other_count++] = k;
    }
  }
  if (ok && gen->other_count == 0) {
    gen->other_operation_ids[gen->other_count++] = 0;
  }
  ok = ok && sl_zipf_init(&gen->entry_operations, gen->content.entry_count, 1.0) == 0 &&
       sl_zipf_init(&gen->other_operations, gen->other_count, 1.0) == 0;
  gen->service_ids = ok ? calloc(profile->services, sizeof(char *)) : NULL;
  gen->service_names = ok ? calloc(profile->services, sizeof(char *)) : NULL;
  ok = ok && gen->service_ids != NULL && gen->service_names != NULL;
  for (uint32_t s = 0; ok && s < profile->services; s++) {
    char name[96];
    service_name(s, name, sizeof name);
    size_t length = strlen(name);
    gen->service_names[s] = strdup(name);
    gen->service_ids[s] = malloc(sl_base64_encoded_size(length) + 3);
    ok = gen->service_names[s] != NULL && gen->service_ids[s] != NULL;
    if (ok) {
      sl_base64_encode((const uint8_t *)name, length, gen->service_ids[s]);
      strcpy(gen->service_ids[s] + sl_base64_encoded_size(length), ".1");
    }
  }
  if (ok) {
    gen->sequential = sl_gen_worker_new(gen);
    ok = gen->sequential != NULL;
  }
  if (!ok) {
    sl_gen_close(gen);
    return sl_error_set(err, SL_ERR_NOMEM, "generator: out of memory building tables");
  }
  /* Pass 1: count the traces, so trace starts can be spread in trace order. */
  planner counter = {.seed = profile->seed, .spans = profile->spans};
  sl_trace_plan plan;
  while (plan_one(&counter, &plan)) {
  }
  gen->trace_count = counter.next_trace;
  gen->plan = (planner){.seed = profile->seed, .spans = profile->spans};
  *out = gen;
  return SL_OK;
}

void sl_gen_close(sl_gen *gen) {
  if (gen == NULL) {
    return;
  }
  sl_gen_worker_free(gen->sequential);
  for (uint32_t s = 0; s < gen->profile.services; s++) {
    if (gen->service_ids != NULL) {
      free(gen->service_ids[s]);
    }
    if (gen->service_names != NULL) {
      free(gen->service_names[s]);
    }
  }
  free(gen->service_ids);
  free(gen->service_names);
  free(gen->other_operation_ids);
  sl_zipf_free(&gen->services);
  sl_zipf_free(&gen->entry_operations);
  sl_zipf_free(&gen->other_operations);
  sl_content_free(&gen->content);
  free(gen);
}

uint64_t sl_gen_trace_count(const sl_gen *gen) { return gen->trace_count; }

size_t sl_gen_plan_next(sl_gen *gen, sl_trace_plan *plans, size_t max_plans) {
  size_t count = 0;
  while (count < max_plans && plan_one(&gen->plan, &plans[count])) {
    count++;
  }
  return count;
}

sl_gen_worker *sl_gen_worker_new(const sl_gen *gen) {
  sl_gen_worker *worker = calloc(1, sizeof *worker);
  if (worker == NULL) {
    return NULL;
  }
  worker->gen = gen;
  worker->arena = sl_arena_new(1 << 20);
  if (worker->arena == NULL) {
    free(worker);
    return NULL;
  }
  return worker;
}

void sl_gen_worker_free(sl_gen_worker *worker) {
  if (worker == NULL) {
    return;
  }
  sl_arena_free(worker->arena);
  free(worker);
}

void sl_gen_worker_reset(sl_gen_worker *worker) { sl_arena_reset(worker->arena); }

/* One span of a trace while it is being made. */
typedef struct span_draft {
  uint32_t service;
  uint32_t instance;
  uint32_t operation;
  int32_t parent;
  int64_t start_ms;
  int64_t latency_ms;
  bool cross_process;
  bool is_error;
} span_draft;

static uint32_t instance_count_of(const sl_gen_profile *profile, uint32_t service) {
  if (profile->services == 0) {
    return 1; /* validated away; keeps the division defined */
  }
  uint32_t base = profile->instances / profile->services;
  return base + (service < profile->instances % profile->services ? 1 : 0);
}

static sl_bytes arena_bytes(sl_arena *arena, const char *text, size_t size) {
  char *copy = sl_arena_strndup(arena, text, size);
  return (sl_bytes){.data = copy != NULL ? copy : "", .size_bytes = copy != NULL ? size : 0};
}

static sl_bytes arena_printf(sl_arena *arena, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static sl_bytes arena_printf(sl_arena *arena, const char *format, ...) {
  char buffer[256];
  va_list args;
  va_start(args, format);
  int length = vsnprintf(buffer, sizeof buffer, format, args);
  va_end(args);
  if (length < 0) {
    length = 0;
  }
  return arena_bytes(arena, buffer, (size_t)length < sizeof buffer ? (size_t)length : sizeof buffer - 1);
}

static sl_bytes instance_id(sl_arena *arena, const sl_gen *gen, uint32_t service, uint32_t instance) {
  char name[128];
  const char *service_text = gen->service_names[service];
  uint32_t host = (uint32_t)sl_hash64(&instance, sizeof instance, service);
  int length = snprintf(name, sizeof name, "%s-%08x@10.%u.%u.%u", service_text,
                        (unsigned)(host ^ instance), (host >> 8) & 255, (host >> 16) & 255,
                        instance % 250 + 2);
  size_t service_length = strlen(gen->service_ids[service]) - 2; /* without ".1" */
  char id[512];
  snprintf(id, sizeof id, "%.*s_", (int)service_length, gen->service_ids[service]);
  sl_base64_encode((const uint8_t *)name, (size_t)length, id + service_length + 1);
  size_t total = service_length + 1 + sl_base64_encoded_size((size_t)length);
  return arena_bytes(arena, id, total);
}

/* Packs the SegmentObject holding span i; returns its bytes in the arena. */
static sl_bytes pack_segment(sl_gen_worker *worker, const span_draft *spans, uint32_t i,
                             const sl_bytes *trace_id, const sl_bytes *segment_ids,
                             const sl_bytes *instance_ids, sl_rng *rng) {
  const sl_gen *gen = worker->gen;
  const span_draft *span = &spans[i];
  const sl_operation *op = &gen->content.operations[span->operation];
  double factor = exp(sl_sample_normal(rng, 0, 0.35) - 0.35 * 0.35 / 2);
  size_t target = (size_t)(gen->profile.payload_bytes * factor);
  sl_span_text text;
  sl_content_make_text(&gen->content, op, rng, span->is_error, target, worker->arena, &text);

  Skywalking__V3__KeyStringValuePair tag_values[SL_MAX_SPAN_TAGS];
  Skywalking__V3__KeyStringValuePair *tag_pointers[SL_MAX_SPAN_TAGS];
  for (size_t t = 0; t < text.tag_count; t++) {
    skywalking__v3__key_string_value_pair__init(&tag_values[t]);
    tag_values[t].key = (char *)text.tags[t].key;
    tag_values[t].value = (char *)text.tags[t].value;
    tag_pointers[t] = &tag_values[t];
  }
  Skywalking__V3__KeyStringValuePair log_values[SL_MAX_LOG_FIELDS];
  Skywalking__V3__KeyStringValuePair *log_pointers[SL_MAX_LOG_FIELDS];
  for (size_t t = 0; t < text.log_count; t++) {
    skywalking__v3__key_string_value_pair__init(&log_values[t]);
    log_values[t].key = (char *)text.log[t].key;
    log_values[t].value = (char *)text.log[t].value;
    log_pointers[t] = &log_values[t];
  }
  Skywalking__V3__Log log;
  skywalking__v3__log__init(&log);
  log.time = span->start_ms + span->latency_ms;
  log.n_data = text.log_count;
  log.data = log_pointers;
  Skywalking__V3__Log *log_list[1] = {&log};

  Skywalking__V3__SegmentReference reference;
  Skywalking__V3__SegmentReference *reference_list[1] = {&reference};
  skywalking__v3__segment_reference__init(&reference);
  if (span->cross_process) {
    const span_draft *parent = &spans[span->parent];
    reference.reftype = SKYWALKING__V3__REF_TYPE__CrossProcess;
    reference.traceid = (char *)trace_id->data;
    reference.parenttracesegmentid = (char *)segment_ids[span->parent].data;
    reference.parentspanid = span->parent;
    reference.parentservice = gen->service_names[parent->service];
    reference.parentserviceinstance = (char *)instance_ids[span->parent].data;
    reference.parentendpoint = (char *)gen->content.operations[parent->operation].name;
    reference.networkaddressusedatpeer = text.peer != NULL ? (char *)text.peer : "10.0.0.1:8080";
  }

  Skywalking__V3__SpanObject span_object;
  skywalking__v3__span_object__init(&span_object);
  span_object.spanid = (int32_t)i;
  span_object.parentspanid = span->parent;
  span_object.starttime = span->start_ms;
  span_object.endtime = span->start_ms + span->latency_ms;
  span_object.n_refs = span->cross_process ? 1 : 0;
  span_object.refs = reference_list;
  span_object.operationname = (char *)op->name;
  span_object.peer = text.peer != NULL && op->span_type == SL_SPAN_EXIT ? (char *)text.peer : "";
  span_object.spantype = (Skywalking__V3__SpanType)op->span_type;
  span_object.spanlayer = (Skywalking__V3__SpanLayer)op->layer;
  span_object.componentid = op->component_id;
  span_object.iserror = span->is_error;
  span_object.n_tags = text.tag_count;
  span_object.tags = tag_pointers;
  span_object.n_logs = text.log_count > 0 ? 1 : 0;
  span_object.logs = log_list;
  Skywalking__V3__SpanObject *span_list[1] = {&span_object};

  Skywalking__V3__SegmentObject segment;
  skywalking__v3__segment_object__init(&segment);
  segment.traceid = (char *)trace_id->data;
  segment.tracesegmentid = (char *)segment_ids[i].data;
  segment.n_spans = 1;
  segment.spans = span_list;
  segment.service = gen->service_names[span->service];
  segment.serviceinstance = (char *)instance_ids[i].data;
  size_t size = skywalking__v3__segment_object__get_packed_size(&segment);
  uint8_t *packed = sl_arena_alloc(worker->arena, size + 1);
  if (packed == NULL) {
    return (sl_bytes){.data = "", .size_bytes = 0};
  }
  skywalking__v3__segment_object__pack(&segment, packed);
  return (sl_bytes){.data = (const char *)packed, .size_bytes = size};
}

sl_status sl_gen_worker_make(sl_gen_worker *worker, const sl_trace_plan *plan, sl_span *out,
                             sl_error *err) {
  assert(worker != NULL && plan != NULL && out != NULL);
  assert(plan->span_count >= 1 && plan->span_count <= MAX_TRACE_SPANS);
  const sl_gen *gen = worker->gen;
  const sl_gen_profile *profile = &gen->profile;
  sl_rng start_rng;
  sl_rng_seed(&start_rng, profile->seed, STREAM_START, plan->trace_index);
  double position = ((double)plan->trace_index + sl_rng_uniform(&start_rng)) / (double)gen->trace_count;
  int64_t trace_start_ms = profile->start_ms + (int64_t)(position * (double)profile->time_range_ms);
  if (trace_start_ms >= profile->start_ms + profile->time_range_ms) {
    trace_start_ms = profile->start_ms + profile->time_range_ms - 1;
  }
  sl_rng rng;
  sl_rng_seed(&rng, profile->seed, STREAM_TRACE, plan->trace_index);

  uint64_t high = sl_rng_next(&rng);
  uint64_t low = sl_rng_next(&rng);
  sl_bytes trace_id = arena_printf(worker->arena, "%016llx%016llx.%u.%lld%04u",
                                   (unsigned long long)high, (unsigned long long)low,
                                   (unsigned)(high % 200 + 1), (long long)trace_start_ms,
                                   (unsigned)(plan->trace_index % 10000));
  span_draft spans[MAX_TRACE_SPANS];
  sl_bytes segment_ids[MAX_TRACE_SPANS];
  sl_bytes instance_ids[MAX_TRACE_SPANS];
  for (uint32_t i = 0; i < plan->span_count; i++) {
    span_draft *span = &spans[i];
    if (i == 0) {
      span->parent = -1;
      span->service = (uint32_t)sl_zipf_sample(&gen->services, &rng);
      span->instance = (uint32_t)sl_rng_below(&rng, instance_count_of(profile, span->service));
      span->operation = gen->content.entry_operations[sl_zipf_sample(&gen->entry_operations, &rng)];
      span->cross_process = false;
      span->start_ms = trace_start_ms;
      span->latency_ms = (int64_t)sl_sample_exponential(&rng, profile->latency_mean_ms);
      if (span->latency_ms > profile->latency_cap_ms) {
        span->latency_ms = profile->latency_cap_ms;
      }
    } else {
      span->parent = (int32_t)sl_rng_below(&rng, i);
      const span_draft *parent = &spans[span->parent];
      span->cross_process = sl_rng_chance(&rng, profile->cross_service_share);
      if (span->cross_process) {
        span->service = (uint32_t)sl_zipf_sample(&gen->services, &rng);
        span->instance = (uint32_t)sl_rng_below(&rng, instance_count_of(profile, span->service));
        span->operation =
            gen->content.entry_operations[sl_zipf_sample(&gen->entry_operations, &rng)];
      } else {
        span->service = parent->service;
        span->instance = parent->instance;
        span->operation = gen->other_operation_ids[sl_zipf_sample(&gen->other_operations, &rng)];
      }
      span->start_ms = parent->start_ms + (int64_t)(sl_rng_uniform(&rng) * (double)parent->latency_ms);
      int64_t room_ms = parent->start_ms + parent->latency_ms - span->start_ms;
      span->latency_ms = (int64_t)sl_sample_exponential(&rng, profile->latency_mean_ms);
      if (span->latency_ms > profile->latency_cap_ms) {
        span->latency_ms = profile->latency_cap_ms;
      }
      if (span->latency_ms > room_ms) {
        span->latency_ms = room_ms;
      }
    }
    span->is_error = sl_rng_chance(&rng, profile->error_rate);
    segment_ids[i] = arena_printf(worker->arena, "%016llx.%u.%u", (unsigned long long)low,
                                  (unsigned)span->service, i);
    instance_ids[i] = instance_id(worker->arena, gen, span->service, span->instance);
  }
  for (uint32_t i = 0; i < plan->span_count; i++) {
    const span_draft *span = &spans[i];
    const sl_operation *op = &gen->content.operations[span->operation];
    sl_span *row = &out[i];
    const char *service = gen->service_ids[span->service];
    row->service_id = (sl_bytes){.data = service, .size_bytes = strlen(service)};
    row->service_instance_id = instance_ids[i];
    row->trace_id = trace_id;
    row->start_time_ms = span->start_ms;
    row->latency_ms = span->latency_ms;
    row->is_error = span->is_error ? 1 : 0;
    row->span_id = arena_printf(worker->arena, "%u", i);
    row->parent_span_id = arena_printf(worker->arena, "%d", span->parent);
    row->operation_name = (sl_bytes){.data = op->name, .size_bytes = strlen(op->name)};
    row->component = (sl_bytes){.data = op->component, .size_bytes = strlen(op->component)};
    row->data_binary = pack_segment(worker, spans, i, &trace_id, segment_ids, instance_ids, &rng);
    if (row->data_binary.size_bytes == 0) {
      return sl_error_set(err, SL_ERR_NOMEM, "generator: out of memory packing span %u of trace %llu",
                          i, (unsigned long long)plan->trace_index);
    }
  }
  return SL_OK;
}

sl_status sl_gen_next(sl_gen *gen, sl_span *spans, size_t max_spans, size_t *count, sl_error *err) {
  assert(gen != NULL && spans != NULL && count != NULL);
  *count = 0;
  if (max_spans < MAX_TRACE_SPANS) {
    return sl_error_set(err, SL_ERR_INVALID, "generator batches hold at least %d spans (one whole trace)",
                        MAX_TRACE_SPANS);
  }
  sl_gen_worker_reset(gen->sequential);
  while (gen->plan.emitted < gen->plan.spans) {
    /* Peek: plan only when the next trace (at most MAX_TRACE_SPANS) fits. */
    if (max_spans - *count < MAX_TRACE_SPANS) {
      break;
    }
    sl_trace_plan plan;
    if (!plan_one(&gen->plan, &plan)) {
      break;
    }
    SL_TRY(sl_gen_worker_make(gen->sequential, &plan, spans + *count, err));
    *count += plan.span_count;
  }
  return SL_OK;
}
