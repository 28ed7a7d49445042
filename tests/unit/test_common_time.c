/* test_common_time.c: RFC 3339 parsing and formatting. */
#include <string.h>

#include "common/timeutil.h"
#include "test_support.h"

static void parses_utc_and_offsets(void **state) {
  (void)state;
  int64_t ns = 0;
  sl_error err;
  assert_int_equal(sl_rfc3339_parse_ns("1970-01-01T00:00:00Z", &ns, &err), SL_OK);
  assert_int_equal(ns, 0);
  assert_int_equal(sl_rfc3339_parse_ns("2024-01-01T00:00:00Z", &ns, &err), SL_OK);
  assert_int_equal(ns, 1704067200LL * 1000000000LL);
  assert_int_equal(sl_rfc3339_parse_ns("2024-01-01T08:00:00+08:00", &ns, &err), SL_OK);
  assert_int_equal(ns, 1704067200LL * 1000000000LL);
  assert_int_equal(sl_rfc3339_parse_ns("2021-04-15T01:30:15.01Z", &ns, &err), SL_OK);
  assert_int_equal(ns, 1618450215010000000LL);
  assert_int_equal(sl_rfc3339_parse_ns("1969-12-31T23:59:59.5Z", &ns, &err), SL_OK);
  assert_int_equal(ns, -500000000LL);
}

static void rejects_bad_text_with_reason(void **state) {
  (void)state;
  int64_t ns = 0;
  sl_error err;
  const char *bad[] = {"2024-01-01",          "2024-13-01T00:00:00Z", "2023-02-29T00:00:00Z",
                       "2024-01-01T00:00:00", "2024-01-01T00:00:00Zx", "2024-01-01T25:00:00Z",
                       "2024-01-01T00:00:00.Z", "",                    "3000-01-01T00:00:00Z",
                       /* a leap second: Go's time.Parse (protojson's) refuses second 60 */
                       "2016-12-31T23:59:60Z"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(sl_rfc3339_parse_ns(bad[i], &ns, &err), SL_ERR_INVALID);
    assert_non_null(strstr(err.message, "RFC 3339") != NULL || strstr(err.message, "range") != NULL
                        ? err.message
                        : NULL);
  }
  assert_int_equal(sl_rfc3339_parse_ns("2024-02-29T00:00:00Z", &ns, &err), SL_OK);
}

static void formats_round_trip(void **state) {
  (void)state;
  const int64_t samples[] = {0, 1, 1000, 1000000, 1618450215010000000LL, -500000000LL,
                             1704067200123456789LL, 4102444800000000000LL};
  for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
    char text[40];
    sl_rfc3339_format_ns(samples[i], text, sizeof text);
    int64_t back = 0;
    sl_error err;
    assert_int_equal(sl_rfc3339_parse_ns(text, &back, &err), SL_OK);
    assert_int_equal(back, samples[i]);
  }
  char text[40];
  sl_rfc3339_format_ns(1618450215010000000LL, text, sizeof text);
  assert_string_equal(text, "2021-04-15T01:30:15.010Z");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parses_utc_and_offsets),
      cmocka_unit_test(rejects_bad_text_with_reason),
      cmocka_unit_test(formats_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
