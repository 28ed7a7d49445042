/* timeutil.c: RFC 3339 parsing and formatting without the C library's time zone state. */
#include "common/timeutil.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Howard Hinnant's days_from_civil, valid over the whole int64 range we use. */
int64_t sl_days_from_civil(int64_t year, unsigned month, unsigned day) {
  assert(month >= 1 && month <= 12 && day >= 1 && day <= 31);
  year -= month <= 2;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t year_of_era = year - era * 400;
  const int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

void sl_civil_from_days(int64_t days, int64_t *year, unsigned *month, unsigned *day) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t day_of_era = days - era * 146097;
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t mp = (5 * day_of_year + 2) / 153;
  *day = (unsigned)(day_of_year - (153 * mp + 2) / 5 + 1);
  *month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
  *year = year_of_era + era * 400 + (*month <= 2);
}

static int read_digits(const char **cursor, int count, int *out) {
  int value = 0;
  for (int i = 0; i < count; i++) {
    if (!isdigit((unsigned char)(*cursor)[i])) {
      return 0;
    }
    value = value * 10 + ((*cursor)[i] - '0');
  }
  *cursor += count;
  *out = value;
  return 1;
}

static int is_leap(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

sl_status sl_rfc3339_parse_ns(const char *text, int64_t *out_unix_ns, sl_error *err) {
  assert(text != NULL && out_unix_ns != NULL);
  const char *cursor = text;
  int year, month, day, hour, minute, second;
  static const char *const expected = "expected an RFC 3339 timestamp such as 2024-01-01T00:00:00Z";
  if (!read_digits(&cursor, 4, &year) || *cursor++ != '-' || !read_digits(&cursor, 2, &month) ||
      *cursor++ != '-' || !read_digits(&cursor, 2, &day)) {
    return sl_error_set(err, SL_ERR_INVALID, "\"%s\" has no valid date; %s", text, expected);
  }
  if (*cursor != 'T' && *cursor != 't' && *cursor != ' ') {
    return sl_error_set(err, SL_ERR_INVALID, "\"%s\" has no 'T' between date and time; %s", text,
                        expected);
  }
  cursor++;
  if (!read_digits(&cursor, 2, &hour) || *cursor++ != ':' || !read_digits(&cursor, 2, &minute) ||
      *cursor++ != ':' || !read_digits(&cursor, 2, &second)) {
    return sl_error_set(err, SL_ERR_INVALID, "\"%s\" has no valid time of day; %s", text, expected);
  }
  static const int days_in_month[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 ||
      day < 1 || day > days_in_month[month - 1] + (month == 2 && is_leap(year)) || hour > 23 ||
      minute > 59 || second > 59) { /* no leap second: Go's RFC 3339 parser (protojson's) refuses 60 */
    return sl_error_set(err, SL_ERR_INVALID, "\"%s\" is not a real date and time; %s", text,
                        expected);
  }
  int64_t fraction_ns = 0;
  if (*cursor == '.') {
    cursor++;
    int digits = 0;
    while (isdigit((unsigned char)*cursor)) {
      if (digits < 9) {
        fraction_ns = fraction_ns * 10 + (*cursor - '0');
      }
      digits++;
      cursor++;
    }
    if (digits == 0) {
      return sl_error_set(err, SL_ERR_INVALID, "\"%s\" has a '.' with no fraction digits; %s",
                          text, expected);
    }
    for (int i = digits; i < 9; i++) {
      fraction_ns *= 10;
    }
  }
  int64_t offset_seconds = 0;
  if (*cursor == 'Z' || *cursor == 'z') {
    cursor++;
  } else if (*cursor == '+' || *cursor == '-') {
    int sign = *cursor == '-' ? -1 : 1;
    cursor++;
    int offset_hours, offset_minutes;
    if (!read_digits(&cursor, 2, &offset_hours) || *cursor++ != ':' ||
        !read_digits(&cursor, 2, &offset_minutes) || offset_hours > 23 || offset_minutes > 59) {
      return sl_error_set(err, SL_ERR_INVALID, "\"%s\" has a bad UTC offset; %s", text, expected);
    }
    offset_seconds = sign * (offset_hours * 3600 + offset_minutes * 60);
  } else {
    return sl_error_set(err, SL_ERR_INVALID, "\"%s\" has no time zone ('Z' or +hh:mm); %s", text,
                        expected);
  }
  if (*cursor != '\0') {
    return sl_error_set(err, SL_ERR_INVALID, "\"%s\" has trailing characters; %s", text, expected);
  }
  int64_t seconds = sl_days_from_civil(year, (unsigned)month, (unsigned)day) * 86400 + hour * 3600 +
                    minute * 60 + second - offset_seconds;
  __int128 total_ns = (__int128)seconds * 1000000000 + fraction_ns;
  if (total_ns < INT64_MIN || total_ns > INT64_MAX) {
    return sl_error_set(err, SL_ERR_INVALID,
                        "\"%s\" is outside 1677-09-21..2262-04-11, the range of int64 nanoseconds",
                        text);
  }
  *out_unix_ns = (int64_t)total_ns;
  return SL_OK;
}

void sl_rfc3339_format_ns(int64_t unix_ns, char *out, int out_bytes) {
  assert(out != NULL && out_bytes >= 40);
  int64_t seconds = unix_ns / 1000000000LL;
  int64_t fraction_ns = unix_ns % 1000000000LL;
  if (fraction_ns < 0) {
    fraction_ns += 1000000000LL;
    seconds -= 1;
  }
  int64_t days = seconds / 86400;
  int64_t second_of_day = seconds % 86400;
  if (second_of_day < 0) {
    second_of_day += 86400;
    days -= 1;
  }
  int64_t year;
  unsigned month, day;
  sl_civil_from_days(days, &year, &month, &day);
  int written = snprintf(out, (size_t)out_bytes, "%04lld-%02u-%02uT%02d:%02d:%02d", (long long)year,
                         month, day, (int)(second_of_day / 3600), (int)(second_of_day / 60 % 60),
                         (int)(second_of_day % 60));
  if (fraction_ns != 0) {
    if (fraction_ns % 1000000 == 0) {
      written += snprintf(out + written, (size_t)(out_bytes - written), ".%03lld",
                          (long long)(fraction_ns / 1000000));
    } else if (fraction_ns % 1000 == 0) {
      written += snprintf(out + written, (size_t)(out_bytes - written), ".%06lld",
                          (long long)(fraction_ns / 1000));
    } else {
      written += snprintf(out + written, (size_t)(out_bytes - written), ".%09lld",
                          (long long)fraction_ns);
    }
  }
  snprintf(out + written, (size_t)(out_bytes - written), "Z");
}

int64_t sl_monotonic_ns(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
}

int64_t sl_wall_clock_ns(void) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
}
