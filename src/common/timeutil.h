/* timeutil.h: RFC 3339 timestamps and clocks.  Times are int64 nanoseconds or
 * milliseconds since the Unix epoch, UTC; the unit is in every name. */
#ifndef SPANLAB_COMMON_TIMEUTIL_H
#define SPANLAB_COMMON_TIMEUTIL_H

#include <stdint.h>

#include "spanlab/error.h"

/* Parses "2024-01-01T00:00:00Z", "2024-01-01T00:00:00.123456789+08:00", ...
 * (RFC 3339: 'T' or 't' or ' ' separator, 'Z'/'z' or a numeric offset, up to 9
 * fraction digits) into nanoseconds since the epoch.  Anything within int64 nanoseconds
 * (1677-09-21T00:12:43.145224192Z .. 2262-04-11T23:47:16.854775807Z) fits. */
sl_status sl_rfc3339_parse_ns(const char *text, int64_t *out_unix_ns, sl_error *err);

/* Writes "YYYY-MM-DDTHH:MM:SS[.fff...]Z" into out (at least 40 bytes): the fraction
 * has 3, 6 or 9 digits, as few as hold the value, and is absent when zero. */
void sl_rfc3339_format_ns(int64_t unix_ns, char *out, int out_bytes);

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t sl_days_from_civil(int64_t year, unsigned month, unsigned day);
void sl_civil_from_days(int64_t days, int64_t *year, unsigned *month, unsigned *day);

int64_t sl_monotonic_ns(void);
int64_t sl_wall_clock_ns(void);

#endif
