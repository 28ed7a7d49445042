/* test_gen_spanfile.c: span files round-trip in both formats; truncated or
 * corrupt files give an error naming the file, the record and the offset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "spanlab/gen.h"
#include "spanlab/spanfile.h"
#include "test_support.h"

static char path_buffer[4200];

static const char *generate(const char *dir, const char *name, int format, uint64_t spans,
                            sl_gen_manifest *manifest) {
  sl_gen_profile profile;
  assert_int_equal(sl_gen_profile_init(&profile, "small", NULL), SL_OK);
  profile.spans = spans;
  profile.payload_bytes = 400;
  snprintf(path_buffer, sizeof path_buffer, "%s/%s", dir, name);
  sl_error err;
  assert_int_equal(sl_gen_write_file(&profile, format, path_buffer, 2, NULL, NULL, manifest, &err), SL_OK);
  return path_buffer;
}

/* Reads a whole file; returns the status of the first failure (or SL_OK) and the sum of digests. */
static sl_status read_all(const char *path, uint64_t *count, uint64_t *checksum, sl_error *err) {
  sl_spanfile_reader *reader = NULL;
  SL_TRY(sl_spanfile_open(path, &reader, err));
  *count = 0;
  *checksum = 0;
  sl_status status;
  for (;;) {
    sl_span span;
    bool end = false;
    status = sl_spanfile_next(reader, &span, &end, err);
    if (status != SL_OK || end) {
      break;
    }
    *count += 1;
    *checksum += sl_span_digest(&span);
  }
  sl_spanfile_close(reader);
  return status;
}

static void both_formats_round_trip(void **state) {
  (void)state;
  const char *dir = test_temp_dir("spanfile-roundtrip");
  sl_gen_manifest bin_manifest, ndjson_manifest;
  char bin[4200];
  snprintf(bin, sizeof bin, "%s", generate(dir, "a.bin", SL_SPANFILE_BIN, 3000, &bin_manifest));
  const char *ndjson = generate(dir, "a.ndjson", SL_SPANFILE_NDJSON, 3000, &ndjson_manifest);
  assert_int_equal(bin_manifest.span_checksum, ndjson_manifest.span_checksum);
  uint64_t count, checksum;
  sl_error err;
  assert_int_equal(read_all(bin, &count, &checksum, &err), SL_OK);
  assert_int_equal(count, 3000);
  assert_int_equal(checksum, bin_manifest.span_checksum);
  assert_int_equal(read_all(ndjson, &count, &checksum, &err), SL_OK);
  assert_int_equal(count, 3000);
  assert_int_equal(checksum, bin_manifest.span_checksum);
  /* The manifest is beside the file. */
  char manifest_path[4300];
  snprintf(manifest_path, sizeof manifest_path, "%s.manifest.json", ndjson);
  char *manifest = test_read_file(manifest_path, NULL);
  assert_non_null(manifest);
  char expected[64];
  snprintf(expected, sizeof expected, "\"span_checksum\": \"%016llx\"",
           (unsigned long long)bin_manifest.span_checksum);
  assert_non_null(strstr(manifest, expected));
  assert_non_null(strstr(manifest, "\"seed\": 42"));
  free(manifest);
}

static void truncate_file(const char *path, long size) {
  char command[4400];
  snprintf(command, sizeof command, "truncate -s %ld '%s'", size, path);
  assert_int_equal(system(command), 0);
}

static void flip_byte(const char *path, long offset) {
  FILE *file = fopen(path, "r+b");
  assert_non_null(file);
  fseek(file, offset, SEEK_SET);
  int c = fgetc(file);
  fseek(file, offset, SEEK_SET);
  fputc(c ^ 0x20, file);
  fclose(file);
}

static void damaged_binary_files_are_named_errors(void **state) {
  (void)state;
  const char *dir = test_temp_dir("spanfile-damaged");
  sl_gen_manifest manifest;
  char path[4200];
  snprintf(path, sizeof path, "%s", generate(dir, "b.bin", SL_SPANFILE_BIN, 500, &manifest));
  size_t size;
  free(test_read_file(path, &size));
  uint64_t count, checksum;
  sl_error err;

  truncate_file(path, (long)size - 10); /* cuts the trailer */
  assert_int_equal(read_all(path, &count, &checksum, &err), SL_ERR_CORRUPT);
  assert_non_null(strstr(err.message, path));
  assert_non_null(strstr(err.message, "record 501"));
  assert_non_null(strstr(err.message, "truncated trailer"));

  truncate_file(path, (long)size / 2); /* cuts a record */
  assert_int_equal(read_all(path, &count, &checksum, &err), SL_ERR_CORRUPT);
  assert_non_null(strstr(err.message, "byte offset"));
  assert_true(strstr(err.message, "truncated") != NULL);

  generate(dir, "b.bin", SL_SPANFILE_BIN, 500, &manifest);
  flip_byte(path, 16 + 8 + 20); /* inside the first record's payload */
  assert_int_equal(read_all(path, &count, &checksum, &err), SL_ERR_CORRUPT);
  assert_non_null(strstr(err.message, "record 1 at byte offset 16: record checksum mismatch"));

  generate(dir, "b.bin", SL_SPANFILE_BIN, 500, &manifest);
  flip_byte(path, 9); /* the version */
  assert_int_equal(read_all(path, &count, &checksum, &err), SL_ERR_CORRUPT);
  assert_non_null(strstr(err.message, "version"));

  generate(dir, "b.bin", SL_SPANFILE_BIN, 500, &manifest);
  flip_byte(path, 12); /* the flags: a file this build did not write (it loaded) */
  assert_int_equal(read_all(path, &count, &checksum, &err), SL_ERR_CORRUPT);
  assert_non_null(strstr(err.message, "offset 12: unknown header flags"));
}

/* Writes one binary span file holding span and reads it back; the reader's status and message. */
static sl_status read_one_span(const char *dir, const sl_span *span, sl_error *err) {
  char path[4200];
  snprintf(path, sizeof path, "%s/one.bin", dir);
  sl_byte_buffer records = {0};
  assert_int_equal(sl_spanfile_encode(SL_SPANFILE_BIN, span, 1, &records, err), SL_OK);
  sl_spanfile_writer *writer = NULL;
  assert_int_equal(sl_spanfile_writer_open(path, SL_SPANFILE_BIN, &writer, err), SL_OK);
  assert_int_equal(sl_spanfile_writer_append(writer, &records, 1, err), SL_OK);
  assert_int_equal(sl_spanfile_writer_close(writer, err), SL_OK);
  sl_byte_buffer_free(&records);
  uint64_t count, checksum;
  return read_all(path, &count, &checksum, err);
}

/* String fields of a binary file must be UTF-8 without NUL, as NDJSON's are (a query then printed the
 * span without the tag, or a trace without its id); dataBinary may hold any bytes. */
static void binary_string_fields_must_be_utf8(void **state) {
  (void)state;
  const char *dir = test_temp_dir("spanfile-utf8");
  static const char binary[] = {'\xff', '\0', 'x'};
  sl_span span = {.service_id = {"svc", 3}, .service_instance_id = {"inst", 4}, .trace_id = {"t1", 2},
                  .start_time_ms = 1735689600000, .latency_ms = 5, .span_id = {"0", 1},
                  .parent_span_id = {"-1", 2}, .operation_name = {"GET /", 5}, .component = {"http", 4},
                  .data_binary = {binary, sizeof binary}};
  sl_error err;
  assert_int_equal(read_one_span(dir, &span, &err), SL_OK);
  static const struct {
    const char *bytes;
    size_t size;
    const char *why;
  } bad[] = {
      {"op\xff", 3, "not valid UTF-8"},            /* a byte that is never UTF-8 */
      {"\xc0\x80", 2, "not valid UTF-8"},          /* an overlong NUL */
      {"\xed\xa0\x80", 3, "not valid UTF-8"},      /* a surrogate */
      {"\xe2\x82", 2, "not valid UTF-8"},          /* cut short */
      {"a\0b", 3, "a NUL byte"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    span.operation_name = (sl_bytes){bad[i].bytes, bad[i].size};
    assert_int_equal(read_one_span(dir, &span, &err), SL_ERR_CORRUPT);
    if (strstr(err.message, "record 1") == NULL || strstr(err.message, "operationName") == NULL ||
        strstr(err.message, bad[i].why) == NULL) {
      fail_msg("case %zu: %s", i, err.message);
    }
  }
  span.operation_name = (sl_bytes){"caf\xc3\xa9 \xf0\x9f\x98\x80", 10}; /* é and an emoji */
  assert_int_equal(read_one_span(dir, &span, &err), SL_OK);
}

static void bad_ndjson_lines_are_named_errors(void **state) {
  (void)state;
  const char *dir = test_temp_dir("spanfile-ndjson");
  static const char good[] =
      "{\"serviceId\":\"s\",\"serviceInstanceId\":\"i\",\"traceId\":\"t\",\"startTime\":1,\"latency\":2,"
      "\"isError\":0,\"spanId\":\"0\",\"parentSpanId\":\"-1\",\"operationName\":\"op\",\"component\":\"c\","
      "\"dataBinary\":\"AAEC\"}\n";
  static const struct {
    const char *second_line;
    const char *message;
  } cases[] = {
      {"{\"serviceId\":\"s\"}\n", "record 2 at byte offset"},
      {"not json\n", "not a JSON object"},
      {"{\"serviceId\":\"s\",\"serviceInstanceId\":\"i\",\"traceId\":\"t\",\"startTime\":\"1\",\"latency\":2,"
       "\"isError\":0,\"spanId\":\"0\",\"parentSpanId\":\"-1\",\"operationName\":\"op\",\"component\":\"c\","
       "\"dataBinary\":\"AAEC\"}\n",
       "\"startTime\" must be an integer"},
      {"{\"serviceId\":\"s\",\"serviceInstanceId\":\"i\",\"traceId\":\"t\",\"startTime\":1,\"latency\":2,"
       "\"isError\":0,\"spanId\":\"0\",\"parentSpanId\":\"-1\",\"operationName\":\"op\",\"component\":\"c\","
       "\"dataBinary\":\"AA!C\"}\n",
       "\"dataBinary\" is not valid base64 (at character 2)"},
      {"{\"serviceId\":\"s\",\"serviceInstanceId\":\"i\",\"traceId\":\"t\",\"startTime\":1,\"latency\":2,"
       "\"isError\":0,\"spanId\":\"0\",\"parentSpanId\":\"-1\",\"operationName\":\"op\",\"component\":\"c\","
       "\"dataBinary\":\"AAEC\",\"extra\":1}\n",
       "unknown key \"extra\""},
      {"{\"serviceId\":\"s\"", "no newline"},
      /* It printed the invisible mark as the character near which '{' was expected. */
      {"\xef\xbb\xbf{\"serviceId\":\"s\"}\n", "a UTF-8 byte-order mark"},
      {"\n", "an empty line"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char text[2048];
    snprintf(text, sizeof text, "%s%s", good, cases[i].second_line);
    test_write_file(dir, "c.ndjson", text);
    char path[4200];
    snprintf(path, sizeof path, "%s/c.ndjson", dir);
    uint64_t count, checksum;
    sl_error err = {0};
    assert_int_equal(read_all(path, &count, &checksum, &err), SL_ERR_CORRUPT);
    assert_int_equal(count, 1);
    if (strstr(err.message, cases[i].message) == NULL || strstr(err.message, "c.ndjson: record 2") == NULL) {
      fail_msg("case %zu: %s", i, err.message);
    }
  }
  uint64_t count, checksum;
  sl_error err;
  char missing[4200];
  snprintf(missing, sizeof missing, "%s/none.ndjson", dir);
  assert_int_equal(read_all(missing, &count, &checksum, &err), SL_ERR_NOT_FOUND);
  assert_non_null(strstr(err.message, "none.ndjson: cannot open"));
}

static void base64_round_trips(void **state) {
  (void)state;
  uint8_t data[64], decoded[64];
  char text[100];
  for (size_t size = 0; size < 20; size++) {
    for (size_t i = 0; i < size; i++) {
      data[i] = (uint8_t)(i * 37 + size);
    }
    sl_base64_encode(data, size, text);
    size_t bad = 0;
    long got = sl_base64_decode(text, sl_base64_encoded_size(size), decoded, &bad);
    assert_int_equal(got, (long)size);
    assert_memory_equal(data, decoded, size);
  }
  sl_base64_encode((const uint8_t *)"foobar", 6, text);
  assert_memory_equal(text, "Zm9vYmFy", 8);
  sl_base64_encode((const uint8_t *)"fo", 2, text);
  assert_memory_equal(text, "Zm8=", 4);
  size_t bad = 0;
  assert_int_equal(sl_base64_decode("Zm=v", 4, decoded, &bad), -1);
  assert_int_equal(sl_base64_decode("Zm9", 3, decoded, &bad), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(both_formats_round_trip),
      cmocka_unit_test(damaged_binary_files_are_named_errors),
      cmocka_unit_test(binary_string_fields_must_be_utf8),
      cmocka_unit_test(bad_ndjson_lines_are_named_errors),
      cmocka_unit_test(base64_round_trips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
