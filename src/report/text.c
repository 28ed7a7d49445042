/* text.c: a growable text buffer, number formatting for people, atomic file writes. */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

static bool reserve(report_text *text, size_t more_bytes) {
  if (text->out_of_memory) {
    return false;
  }
  size_t needed = text->length + more_bytes + 1;
  if (needed <= text->capacity) {
    return true;
  }
  size_t capacity = text->capacity ? text->capacity : 4096;
  while (capacity < needed) {
    capacity *= 2;
  }
  char *grown = realloc(text->data, capacity);
  if (grown == NULL) {
    text->out_of_memory = true;
    return false;
  }
  text->data = grown;
  text->capacity = capacity;
  return true;
}

void report_text_append(report_text *text, const char *bytes, size_t size_bytes) {
  assert(text != NULL && (bytes != NULL || size_bytes == 0));
  if (!reserve(text, size_bytes)) {
    return;
  }
  if (size_bytes > 0) {
    memcpy(text->data + text->length, bytes, size_bytes);
  }
  text->length += size_bytes;
  text->data[text->length] = '\0';
}

void report_text_printf(report_text *text, const char *format, ...) {
  assert(text != NULL && format != NULL);
  va_list args;
  va_start(args, format);
  va_list again;
  va_copy(again, args);
  int needed = vsnprintf(NULL, 0, format, args);
  va_end(args);
  if (needed > 0 && reserve(text, (size_t)needed)) {
    vsnprintf(text->data + text->length, (size_t)needed + 1, format, again);
    text->length += (size_t)needed;
  }
  va_end(again);
}

void report_text_free(report_text *text) {
  if (text == NULL) {
    return;
  }
  free(text->data);
  *text = (report_text){0};
}

sl_status report_text_save(const report_text *text, const char *dir, const char *name, sl_error *err) {
  assert(text != NULL && dir != NULL && name != NULL);
  if (text->out_of_memory) {
    return sl_error_set(err, SL_ERR_NOMEM, "report: out of memory building %s", name);
  }
  char path[4200], temporary[4300];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  snprintf(temporary, sizeof temporary, "%s.tmp", path);
  FILE *file = fopen(temporary, "wb");
  if (file == NULL) {
    return sl_error_set(err, errno == ENOSPC ? SL_ERR_NOSPACE : SL_ERR_IO, "cannot write %s: %s", temporary,
                        strerror(errno));
  }
  size_t written = text->length ? fwrite(text->data, 1, text->length, file) : 0;
  int write_errno = errno;
  if (fclose(file) != 0 || written != text->length) {
    int code = written != text->length ? write_errno : errno;
    remove(temporary);
    return sl_error_set(err, code == ENOSPC ? SL_ERR_NOSPACE : SL_ERR_IO, "cannot write %s: %s", temporary,
                        strerror(code));
  }
  if (rename(temporary, path) != 0) {
    int code = errno;
    remove(temporary);
    return sl_error_set(err, SL_ERR_IO, "cannot rename %s to %s: %s", temporary, path, strerror(code));
  }
  return SL_OK;
}

/* An integer with thousands separators: 81234.5 -> "81,235". */
static void with_separators(double value, char *out, size_t out_bytes) {
  char digits[64];
  snprintf(digits, sizeof digits, "%.0f", fabs(value));
  size_t length = strlen(digits);
  char grouped[96];
  size_t g = 0;
  if (value < 0 && strcmp(digits, "0") != 0) {
    grouped[g++] = '-';
  }
  for (size_t i = 0; i < length && g + 2 < sizeof grouped; i++) {
    if (i > 0 && (length - i) % 3 == 0) {
      grouped[g++] = ',';
    }
    grouped[g++] = digits[i];
  }
  grouped[g] = '\0';
  snprintf(out, out_bytes, "%s", grouped);
}

const char *report_format_number(double value, char *out, size_t out_bytes) {
  assert(out != NULL && out_bytes > 0);
  if (!isfinite(value)) {
    snprintf(out, out_bytes, "%s", isnan(value) ? "n/a" : value > 0 ? "inf" : "-inf");
  } else if (fabs(value) >= 999.5) {
    with_separators(value, out, out_bytes);
  } else if (value == 0) {
    snprintf(out, out_bytes, "0");
  } else {
    snprintf(out, out_bytes, "%.4g", value);
  }
  return out;
}

const char *report_format_exact(double value, char *out, size_t out_bytes) {
  assert(out != NULL && out_bytes > 0);
  snprintf(out, out_bytes, "%.6g", value);
  return out;
}

const char *report_format_value(double value, const char *unit, char *out, size_t out_bytes) {
  assert(out != NULL && out_bytes > 0);
  char number[64];
  if (unit != NULL && strcmp(unit, "bytes") == 0) {
    static const char *const names[] = {"B", "KB", "MB", "GB", "TB"};
    double scaled = value;
    size_t step = 0;
    while (fabs(scaled) >= 1000 && step + 1 < sizeof names / sizeof names[0]) {
      scaled /= 1000;
      step++;
    }
    snprintf(out, out_bytes, "%s %s", report_format_number(scaled, number, sizeof number), names[step]);
  } else if (unit != NULL && strcmp(unit, "ratio") == 0) {
    snprintf(out, out_bytes, "%s%%", report_format_number(value * 100, number, sizeof number));
  } else if (unit != NULL && unit[0] != '\0') {
    snprintf(out, out_bytes, "%s %s", report_format_number(value, number, sizeof number), unit);
  } else {
    report_format_number(value, out, out_bytes);
  }
  return out;
}

const char *report_format_interval(const report_figure *figure, char *out, size_t out_bytes) {
  assert(figure != NULL && out != NULL);
  if (!figure->has_ci) {
    snprintf(out, out_bytes, "n < 2");
    return out;
  }
  char low[64], high[64];
  snprintf(out, out_bytes, "[%s, %s]", report_format_number(figure->ci_low, low, sizeof low),
           report_format_number(figure->ci_high, high, sizeof high));
  return out;
}
