/* test_gen_generator.c: determinism across thread counts, the seed's shares on
 * a 100K-span run, and every dataBinary agreeing with its row. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/skywalking.pb-c.h"
#include "spanlab/gen.h"
#include "spanlab/spanfile.h"
#include "test_support.h"

static sl_gen_profile small_profile(uint64_t spans, uint32_t payload_bytes) {
  sl_gen_profile profile;
  assert_int_equal(sl_gen_profile_init(&profile, "small", NULL), SL_OK);
  profile.spans = spans;
  profile.payload_bytes = payload_bytes;
  return profile;
}

static void profiles_follow_the_seed(void **state) {
  (void)state;
  sl_gen_profile profile;
  assert_int_equal(sl_gen_profile_init(&profile, "medium", NULL), SL_OK);
  assert_int_equal(profile.spans, 10000000);
  assert_int_equal(profile.services, 1000);
  assert_int_equal(profile.instances, 5000);
  assert_int_equal(profile.time_range_ms, 86400000LL);
  assert_int_equal(sl_gen_profile_init(&profile, "large", NULL), SL_OK);
  assert_int_equal(profile.spans, 1000000000ULL);
  assert_int_equal(profile.time_range_ms, 7 * 86400000LL);
  assert_int_equal((uint64_t)profile.payload_bytes * profile.spans, 5000000000000ULL); /* ~5 TB */
  sl_error err;
  assert_int_equal(sl_gen_profile_init(&profile, "huge", &err), SL_ERR_INVALID);
  assert_int_equal(sl_gen_profile_init(&profile, "small", NULL), SL_OK);
  profile.instances = 10; /* fewer instances than services */
  assert_int_equal(sl_gen_profile_validate(&profile, &err), SL_ERR_INVALID);
  assert_non_null(strstr(err.message, "instance per service"));
  /* The name tables are built up front: a caller of the library is bounded as the CLI is. */
  assert_int_equal(sl_gen_profile_init(&profile, "small", NULL), SL_OK);
  profile.services = SL_GEN_MAX_SERVICES + 1;
  profile.instances = profile.services;
  assert_int_equal(sl_gen_profile_validate(&profile, &err), SL_ERR_INVALID);
  assert_non_null(strstr(err.message, "services"));
  assert_int_equal(sl_gen_profile_init(&profile, "small", NULL), SL_OK);
  profile.operations = SL_GEN_MAX_OPERATIONS + 1;
  assert_int_equal(sl_gen_profile_validate(&profile, &err), SL_ERR_INVALID);
  assert_non_null(strstr(err.message, "operations"));
}

static char *file_bytes(const char *path, size_t *size) {
  char *data = test_read_file(path, size);
  assert_non_null(data);
  return data;
}

static void files_are_identical_for_every_thread_count(void **state) {
  (void)state;
  const char *dir = test_temp_dir("gen-determinism");
  sl_gen_profile profile = small_profile(20000, 800);
  char one[4200], three[4200];
  snprintf(one, sizeof one, "%s/one.bin", dir);
  snprintf(three, sizeof three, "%s/three.bin", dir);
  sl_gen_manifest manifest_one, manifest_three;
  sl_error err;
  assert_int_equal(sl_gen_write_file(&profile, SL_SPANFILE_BIN, one, 1, NULL, NULL, &manifest_one, &err), SL_OK);
  assert_int_equal(sl_gen_write_file(&profile, SL_SPANFILE_BIN, three, 3, NULL, NULL, &manifest_three, &err), SL_OK);
  size_t size_one, size_three;
  char *bytes_one = file_bytes(one, &size_one);
  char *bytes_three = file_bytes(three, &size_three);
  assert_int_equal(size_one, size_three);
  assert_memory_equal(bytes_one, bytes_three, size_one);
  free(bytes_one);
  free(bytes_three);
  assert_int_equal(manifest_one.spans, 20000);
  assert_int_equal(manifest_one.span_checksum, manifest_three.span_checksum);

  /* The streaming API gives the same spans as the file. */
  sl_gen *gen = NULL;
  assert_int_equal(sl_gen_open(&profile, &gen, &err), SL_OK);
  assert_int_equal(sl_gen_trace_count(gen), manifest_one.traces);
  sl_span *spans = calloc(1000, sizeof(sl_span));
  uint64_t checksum = 0, count = 0;
  for (;;) {
    size_t got = 0;
    assert_int_equal(sl_gen_next(gen, spans, 1000, &got, &err), SL_OK);
    if (got == 0) {
      break;
    }
    for (size_t i = 0; i < got; i++) {
      checksum += sl_span_digest(&spans[i]);
    }
    count += got;
  }
  assert_int_equal(count, 20000);
  assert_int_equal(checksum, manifest_one.span_checksum);
  free(spans);
  sl_gen_close(gen);

  /* A different seed gives different data. */
  profile.seed = 43;
  assert_int_equal(sl_gen_write_file(&profile, SL_SPANFILE_BIN, one, 2, NULL, NULL, &manifest_one, &err), SL_OK);
  assert_true(manifest_one.span_checksum != manifest_three.span_checksum);
}

static void a_small_run_has_the_seeds_shares(void **state) {
  (void)state;
  const char *dir = test_temp_dir("gen-shares");
  sl_gen_profile profile = small_profile(100000, 1500);
  char path[4200];
  snprintf(path, sizeof path, "%s/small.bin", dir);
  sl_gen_manifest manifest;
  sl_error err;
  assert_int_equal(sl_gen_write_file(&profile, SL_SPANFILE_BIN, path, 2, NULL, NULL, &manifest, &err), SL_OK);
  sl_spanfile_stats stats;
  assert_int_equal(sl_spanfile_stats_read(path, &stats, &err), SL_OK);
  assert_int_equal(stats.spans, 100000); /* exact */
  assert_int_equal(stats.traces, manifest.traces);
  /* ~8.6 spans per trace (DESIGN.md): within 5%. */
  assert_true(fabs(100000.0 / (double)stats.traces - 8.61) < 0.43);
  const double shares[3] = {0.2, 0.6, 0.2};
  for (int c = 0; c < 3; c++) {
    assert_true(fabs((double)stats.spans_by_class[c] / 1e5 - shares[c]) < 0.01);
  }
  assert_true(fabs(stats.top20_service_trace_share - 0.8) < 0.05);
  assert_true(fabs((double)stats.error_spans / 1e5 - 0.05) < 0.005);
  assert_true(stats.distinct_operations > 500 && stats.distinct_operations <= 1000);
  assert_true(stats.operation_zipf_exponent > 0.7 && stats.operation_zipf_exponent < 1.3);
  assert_true(stats.min_start_ms >= profile.start_ms);
  assert_true(stats.max_start_ms < profile.start_ms + profile.time_range_ms);
  assert_true(stats.minute_coverage > 0.99);
  assert_true(stats.latency_ms_percentiles[4] <= profile.latency_cap_ms);
  /* The mean dataBinary follows --payload-bytes within 15%. */
  assert_true(fabs(stats.payload_bytes_mean / profile.payload_bytes - 1) < 0.15);
}

static void every_data_binary_agrees_with_its_row(void **state) {
  (void)state;
  sl_gen_profile profile = small_profile(5000, 5000);
  sl_gen *gen = NULL;
  sl_error err;
  assert_int_equal(sl_gen_open(&profile, &gen, &err), SL_OK);
  sl_span *spans = calloc(500, sizeof(sl_span));
  uint64_t total = 0;
  double payload_sum = 0;
  int with_refs = 0, with_logs = 0;
  for (;;) {
    size_t got = 0;
    assert_int_equal(sl_gen_next(gen, spans, 500, &got, &err), SL_OK);
    if (got == 0) {
      break;
    }
    for (size_t i = 0; i < got; i++) {
      const sl_span *row = &spans[i];
      Skywalking__V3__SegmentObject *segment = skywalking__v3__segment_object__unpack(
          NULL, row->data_binary.size_bytes, (const uint8_t *)row->data_binary.data);
      assert_non_null(segment);
      assert_int_equal(segment->n_spans, 1);
      const Skywalking__V3__SpanObject *span = segment->spans[0];
      assert_int_equal(strlen(segment->traceid), row->trace_id.size_bytes);
      assert_memory_equal(segment->traceid, row->trace_id.data, row->trace_id.size_bytes);
      char number[32];
      snprintf(number, sizeof number, "%d", span->spanid);
      assert_true(strlen(number) == row->span_id.size_bytes &&
                  memcmp(number, row->span_id.data, row->span_id.size_bytes) == 0);
      snprintf(number, sizeof number, "%d", span->parentspanid);
      assert_true(strlen(number) == row->parent_span_id.size_bytes &&
                  memcmp(number, row->parent_span_id.data, row->parent_span_id.size_bytes) == 0);
      assert_int_equal(span->starttime, row->start_time_ms);
      assert_int_equal(span->endtime - span->starttime, row->latency_ms);
      assert_int_equal(span->iserror ? 1 : 0, row->is_error);
      assert_int_equal(strlen(span->operationname), row->operation_name.size_bytes);
      assert_true(row->latency_ms >= 0);
      with_refs += span->n_refs > 0;
      with_logs += span->n_logs > 0;
      if (row->is_error) {
        assert_int_equal(span->n_logs, 1); /* error spans carry an exception log */
      }
      payload_sum += (double)row->data_binary.size_bytes;
      skywalking__v3__segment_object__free_unpacked(segment, NULL);
    }
    total += got;
  }
  assert_int_equal(total, 5000);
  assert_true(with_refs > 500);  /* ~30% of child spans call across processes */
  assert_true(with_logs > 100);
  assert_true(fabs(payload_sum / 5000 / 5000 - 1) < 0.1);
  free(spans);
  sl_gen_close(gen);
}

static void children_nest_inside_their_parent(void **state) {
  (void)state;
  sl_gen_profile profile = small_profile(3000, 200);
  sl_gen *gen = NULL;
  assert_int_equal(sl_gen_open(&profile, &gen, NULL), SL_OK);
  sl_span *spans = calloc(3000, sizeof(sl_span));
  size_t got = 0;
  assert_int_equal(sl_gen_next(gen, spans, 3000, &got, NULL), SL_OK);
  assert_true(got > 2900);
  size_t trace_start = 0;
  for (size_t i = 0; i < got; i++) {
    if (i > 0 && (spans[i].trace_id.size_bytes != spans[i - 1].trace_id.size_bytes ||
                  memcmp(spans[i].trace_id.data, spans[i - 1].trace_id.data,
                         spans[i].trace_id.size_bytes) != 0)) {
      trace_start = i;
    }
    int parent = atoi(spans[i].parent_span_id.data);
    if (parent < 0) {
      assert_int_equal(i, trace_start);
      continue;
    }
    const sl_span *up = &spans[trace_start + (size_t)parent];
    assert_true(spans[i].start_time_ms >= up->start_time_ms);
    assert_true(spans[i].start_time_ms + spans[i].latency_ms <= up->start_time_ms + up->latency_ms);
  }
  free(spans);
  sl_gen_close(gen);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(profiles_follow_the_seed),
      cmocka_unit_test(files_are_identical_for_every_thread_count),
      cmocka_unit_test(a_small_run_has_the_seeds_shares),
      cmocka_unit_test(every_data_binary_agrees_with_its_row),
      cmocka_unit_test(children_nest_inside_their_parent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
