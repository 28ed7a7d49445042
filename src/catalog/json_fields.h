/* json_fields.h: reading protojson objects with problems reported by place.
 *
 * A json_reader reports each problem as "FILE:LINE:COL: JSON.PATH: message"
 * into a diag, using a position index of the file's text.  Field names match
 * in snake_case or lowerCamel (protojson accepts both); enums by name or
 * number; uint32 as a number or a decimal string; timestamps as RFC 3339.
 * The reader owns nothing: file path, positions and diag belong to the caller.
 */
#ifndef SPANLAB_CATALOG_JSON_FIELDS_H
#define SPANLAB_CATALOG_JSON_FIELDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/jsonpos.h"
#include "spanlab/error.h"

enum { JSON_PATH_BYTES = 512 };

typedef struct json_reader {
  const char *file_path;
  const sl_json_positions *positions;
  sl_diag *problems;
  sl_arena *arena;
  size_t problem_count; /* problems this reader added */
  bool out_of_memory;
} json_reader;

typedef struct field_spec {
  const char *name; /* snake_case, as in the .proto */
  bool required;
} field_spec;

typedef struct enum_entry {
  const char *name;
  int value;
} enum_entry;

void json_problem(json_reader *reader, const char *path, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* The same, placed at the key of the member at path (unknown or repeated fields). */
void json_problem_at_key(json_reader *reader, const char *path, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* "FILE:LINE:COL" of path, copied into the arena (for "first defined at"). */
const char *json_origin(json_reader *reader, const char *path);

/* Checks that value is an object with only known fields and every required
 * one; reports each problem.  Returns false if value is not an object. */
bool json_check_object(json_reader *reader, const json_t *value, const char *path,
                       const char *message_name, const field_spec *fields, size_t field_count);

/* The member of object named field (snake_case) in either spelling, or NULL;
 * writes the member's path into member_path when found. */
json_t *json_field(const json_t *object, const char *path, const char *field,
                   char member_path[JSON_PATH_BYTES]);

/* Typed getters: each returns false (and reports) when the member is present
 * but wrong, or absent and required; absent and optional leaves *out as it was. */
bool json_get_string(json_reader *reader, const json_t *object, const char *path,
                     const char *field, bool required, const char **out);
bool json_get_uint32(json_reader *reader, const json_t *object, const char *path,
                     const char *field, bool required, uint32_t *out);
bool json_get_bool(json_reader *reader, const json_t *object, const char *path,
                   const char *field, bool *out);
bool json_get_enum(json_reader *reader, const json_t *object, const char *path,
                   const char *field, bool required, const enum_entry *entries,
                   size_t entry_count, int *out);
bool json_get_timestamp(json_reader *reader, const json_t *object, const char *path,
                        const char *field, bool required, int64_t *out_ns);
/* A list of non-empty strings, copied into the arena; duplicates reported. */
bool json_get_string_list(json_reader *reader, const json_t *object, const char *path,
                          const char *field, bool required, const char *const **out,
                          size_t *out_count);

#endif
