/* json_fields.c: see json_fields.h. */
#include "catalog/json_fields.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"

__attribute__((format(printf, 4, 0))) static void add_problem(json_reader *reader,
                                                               const char *path, bool at_key,
                                                               const char *format, va_list args) {
  assert(reader != NULL && path != NULL && format != NULL);
  char message[1024];
  vsnprintf(message, sizeof message, format, args);
  int line = 1;
  int column = 1;
  if (at_key) {
    sl_json_positions_find_key(reader->positions, path, &line, &column);
  } else {
    sl_json_positions_find(reader->positions, path, &line, &column);
  }
  if (sl_diag_add(reader->problems, "%s:%d:%d: %s: %s", reader->file_path, line, column, path,
                  message) != SL_OK) {
    reader->out_of_memory = true;
  }
  reader->problem_count++;
}

void json_problem(json_reader *reader, const char *path, const char *format, ...) {
  va_list args;
  va_start(args, format);
  add_problem(reader, path, false, format, args);
  va_end(args);
}

void json_problem_at_key(json_reader *reader, const char *path, const char *format, ...) {
  va_list args;
  va_start(args, format);
  add_problem(reader, path, true, format, args);
  va_end(args);
}

const char *json_origin(json_reader *reader, const char *path) {
  int line = 1;
  int column = 1;
  sl_json_positions_find(reader->positions, path, &line, &column);
  char origin[1024];
  snprintf(origin, sizeof origin, "%s:%d:%d", reader->file_path, line, column);
  const char *copy = sl_arena_strdup(reader->arena, origin);
  if (copy == NULL) {
    reader->out_of_memory = true;
    return "?";
  }
  return copy;
}

/* lowerCamel -> snake_case ("shardNum" -> "shard_num"); snake stays snake. */
static void to_snake_case(const char *key, char *out, size_t out_bytes) {
  size_t length = 0;
  for (const char *c = key; *c != '\0' && length + 2 < out_bytes; c++) {
    if (isupper((unsigned char)*c)) {
      if (length > 0) {
        out[length++] = '_';
      }
      out[length++] = (char)tolower((unsigned char)*c);
    } else {
      out[length++] = *c;
    }
  }
  out[length] = '\0';
}

static void child_path(const char *path, const char *key, char out[JSON_PATH_BYTES]) {
  snprintf(out, JSON_PATH_BYTES, "%s", path);
  sl_json_path_key(out, JSON_PATH_BYTES, key);
}

json_t *json_field(const json_t *object, const char *path, const char *field,
                   char member_path[JSON_PATH_BYTES]) {
  if (!json_is_object(object)) {
    return NULL;
  }
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)object, key, value) {
    char snake[256];
    to_snake_case(key, snake, sizeof snake);
    if (strcmp(snake, field) == 0) {
      if (member_path != NULL) {
        child_path(path, key, member_path);
      }
      return value;
    }
  }
  return NULL;
}

bool json_check_object(json_reader *reader, const json_t *value, const char *path,
                       const char *message_name, const field_spec *fields, size_t field_count) {
  assert(fields != NULL || field_count == 0);
  if (!json_is_object(value)) {
    json_problem(reader, path, "expected a %s object, found %s", message_name,
                 sl_json_kind_name(value));
    return false;
  }
  bool seen[32] = {false};
  assert(field_count <= sizeof seen / sizeof seen[0]);
  const char *key;
  json_t *member;
  json_object_foreach((json_t *)value, key, member) {
    char snake[256];
    to_snake_case(key, snake, sizeof snake);
    char member_path[JSON_PATH_BYTES];
    child_path(path, key, member_path);
    size_t found = field_count;
    for (size_t i = 0; i < field_count; i++) {
      if (strcmp(snake, fields[i].name) == 0) {
        found = i;
        break;
      }
    }
    if (found == field_count) {
      char expected[512] = "";
      size_t used = 0;
      for (size_t i = 0; i < field_count && used < sizeof expected; i++) {
        used += (size_t)snprintf(expected + used, sizeof expected - used, "%s%s", i ? ", " : "",
                                 fields[i].name);
      }
      json_problem_at_key(reader, member_path, "unknown field \"%s\" in %s; expected one of: %s", key,
                   message_name, expected);
    } else if (seen[found]) {
      json_problem_at_key(reader, member_path,
                          "field \"%s\" given twice (snake_case and lowerCamel spell the same field)",
                   fields[found].name);
    } else {
      seen[found] = true;
    }
  }
  for (size_t i = 0; i < field_count; i++) {
    if (fields[i].required && !seen[i]) {
      json_problem(reader, path, "missing required field \"%s\" in %s", fields[i].name,
                   message_name);
    }
  }
  return true;
}

static bool absent(json_reader *reader, const char *path, const char *field, bool required) {
  if (required) {
    (void)reader;
    (void)path;
    (void)field;
    /* json_check_object already reported the missing field. */
    return false;
  }
  return true;
}

bool json_get_string(json_reader *reader, const json_t *object, const char *path,
                     const char *field, bool required, const char **out) {
  char member_path[JSON_PATH_BYTES];
  json_t *value = json_field(object, path, field, member_path);
  if (value == NULL) {
    return absent(reader, path, field, required);
  }
  if (!json_is_string(value)) {
    json_problem(reader, member_path, "expected a string, found %s", sl_json_kind_name(value));
    return false;
  }
  if (required && json_string_length(value) == 0) {
    json_problem(reader, member_path, "\"%s\" must not be empty", field);
    return false;
  }
  const char *copy = sl_arena_strndup(reader->arena, json_string_value(value), json_string_length(value));
  if (copy == NULL) {
    reader->out_of_memory = true;
    return false;
  }
  *out = copy;
  return true;
}

bool json_get_uint32(json_reader *reader, const json_t *object, const char *path,
                     const char *field, bool required, uint32_t *out) {
  char member_path[JSON_PATH_BYTES];
  json_t *value = json_field(object, path, field, member_path);
  if (value == NULL) {
    return absent(reader, path, field, required);
  }
  long long number;
  if (json_is_integer(value)) {
    number = json_integer_value(value);
  } else if (json_is_string(value)) {
    const char *text = json_string_value(value);
    char *end = NULL;
    errno = 0;
    number = strtoll(text, &end, 10);
    /* protojson reads the string as a JSON number: no sign but '-', no spaces (strtoll takes both). */
    bool number_text = (text[0] >= '0' && text[0] <= '9') || (text[0] == '-' && text[1] >= '0' && text[1] <= '9');
    if (!number_text || *end != '\0' || errno != 0) {
      json_problem(reader, member_path, "expected an unsigned 32-bit integer, found \"%s\"", text);
      return false;
    }
  } else {
    json_problem(reader, member_path, "expected an unsigned 32-bit integer, found %s",
                 sl_json_kind_name(value));
    return false;
  }
  if (number < 0 || number > (long long)UINT32_MAX) {
    json_problem(reader, member_path, "%lld is out of range for uint32 (0..4294967295)", number);
    return false;
  }
  *out = (uint32_t)number;
  return true;
}

bool json_get_bool(json_reader *reader, const json_t *object, const char *path,
                   const char *field, bool *out) {
  char member_path[JSON_PATH_BYTES];
  json_t *value = json_field(object, path, field, member_path);
  if (value == NULL) {
    return true;
  }
  if (!json_is_boolean(value)) {
    json_problem(reader, member_path, "expected true or false, found %s", sl_json_kind_name(value));
    return false;
  }
  *out = json_is_true(value);
  return true;
}

bool json_get_enum(json_reader *reader, const json_t *object, const char *path,
                   const char *field, bool required, const enum_entry *entries,
                   size_t entry_count, int *out) {
  char member_path[JSON_PATH_BYTES];
  json_t *value = json_field(object, path, field, member_path);
  if (value == NULL) {
    return absent(reader, path, field, required);
  }
  char expected[512] = "";
  size_t used = 0;
  for (size_t i = 0; i < entry_count && used < sizeof expected; i++) {
    used += (size_t)snprintf(expected + used, sizeof expected - used, "%s%s", i ? ", " : "",
                             entries[i].name);
  }
  if (json_is_string(value)) {
    for (size_t i = 0; i < entry_count; i++) {
      if (strcmp(json_string_value(value), entries[i].name) == 0) {
        *out = entries[i].value;
        return true;
      }
    }
    json_problem(reader, member_path, "unknown %s value \"%s\"; expected one of: %s", field,
                 json_string_value(value), expected);
    return false;
  }
  if (json_is_integer(value)) {
    for (size_t i = 0; i < entry_count; i++) {
      if (json_integer_value(value) == entries[i].value) {
        *out = entries[i].value;
        return true;
      }
    }
    json_problem(reader, member_path, "unknown %s value %lld; expected one of: %s", field,
                 (long long)json_integer_value(value), expected);
    return false;
  }
  json_problem(reader, member_path, "expected an enum name (one of: %s), found %s", expected,
               sl_json_kind_name(value));
  return false;
}

bool json_get_timestamp(json_reader *reader, const json_t *object, const char *path,
                        const char *field, bool required, int64_t *out_ns) {
  char member_path[JSON_PATH_BYTES];
  json_t *value = json_field(object, path, field, member_path);
  if (value == NULL) {
    return absent(reader, path, field, required);
  }
  if (!json_is_string(value)) {
    json_problem(reader, member_path,
                 "expected an RFC 3339 timestamp string such as \"2024-01-01T00:00:00Z\", found %s",
                 sl_json_kind_name(value));
    return false;
  }
  sl_error err;
  if (sl_rfc3339_parse_ns(json_string_value(value), out_ns, &err) != SL_OK) {
    json_problem(reader, member_path, "%s", err.message);
    return false;
  }
  return true;
}

bool json_get_string_list(json_reader *reader, const json_t *object, const char *path,
                          const char *field, bool required, const char *const **out,
                          size_t *out_count) {
  char member_path[JSON_PATH_BYTES];
  json_t *value = json_field(object, path, field, member_path);
  if (value == NULL) {
    return absent(reader, path, field, required);
  }
  if (!json_is_array(value)) {
    json_problem(reader, member_path, "expected an array of strings, found %s",
                 sl_json_kind_name(value));
    return false;
  }
  size_t count = json_array_size(value);
  if (count == 0 && required) {
    json_problem(reader, member_path, "\"%s\" must list at least one name", field);
    return false;
  }
  const char **items = sl_arena_alloc(reader->arena, (count + 1) * sizeof(char *));
  if (items == NULL) {
    reader->out_of_memory = true;
    return false;
  }
  bool ok = true;
  for (size_t i = 0; i < count; i++) {
    char item_path[JSON_PATH_BYTES];
    snprintf(item_path, sizeof item_path, "%s", member_path);
    sl_json_path_index(item_path, sizeof item_path, i);
    json_t *item = json_array_get(value, i);
    if (!json_is_string(item) || json_string_length(item) == 0) {
      json_problem(reader, item_path, "expected a non-empty string, found %s",
                   json_is_string(item) ? "\"\"" : sl_json_kind_name(item));
      ok = false;
      items[i] = "";
      continue;
    }
    items[i] = sl_arena_strdup(reader->arena, json_string_value(item));
    if (items[i] == NULL) {
      reader->out_of_memory = true;
      items[i] = "";
      ok = false;
      continue;
    }
    for (size_t j = 0; j < i; j++) {
      if (strcmp(items[j], items[i]) == 0) {
        json_problem(reader, item_path, "\"%s\" is listed twice in \"%s\"", items[i], field);
        ok = false;
      }
    }
  }
  *out = items;
  *out_count = count;
  return ok;
}
