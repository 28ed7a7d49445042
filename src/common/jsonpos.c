/* jsonpos.c: a tolerant JSON scanner that records the position of every value. */
#include "common/jsonpos.h"

#include <assert.h>
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PATH_BYTES = 1024, MAX_DEPTH = 256 };

typedef struct position_entry {
  char *path;
  int line;
  int column;
  int key_line; /* the member's key, for object members; else the value's place */
  int key_column;
} position_entry;

/* Owns entries[0..count) and each entry's path. */
struct sl_json_positions {
  position_entry *entries;
  size_t count;
  size_t capacity;
  bool out_of_memory;
};

typedef struct scanner {
  int key_line; /* where the key of the member being scanned starts, or 0 */
  int key_column;
  const char *text;
  size_t size_bytes;
  size_t offset;
  int line;
  int column;
  sl_json_positions *positions;
} scanner;

static int peek(const scanner *scan) {
  return scan->offset < scan->size_bytes ? (unsigned char)scan->text[scan->offset] : -1;
}

static void advance(scanner *scan) {
  if (scan->offset >= scan->size_bytes) {
    return;
  }
  if (scan->text[scan->offset] == '\n') {
    scan->line++;
    scan->column = 1;
  } else {
    scan->column++;
  }
  scan->offset++;
}

static void skip_space(scanner *scan) {
  while (peek(scan) == ' ' || peek(scan) == '\t' || peek(scan) == '\n' || peek(scan) == '\r') {
    advance(scan);
  }
}

static void record(scanner *scan, const char *path) {
  sl_json_positions *positions = scan->positions;
  if (positions->out_of_memory) {
    return;
  }
  if (positions->count == positions->capacity) {
    size_t capacity = positions->capacity == 0 ? 64 : positions->capacity * 2;
    position_entry *grown = realloc(positions->entries, capacity * sizeof *grown);
    if (grown == NULL) {
      positions->out_of_memory = true;
      return;
    }
    positions->entries = grown;
    positions->capacity = capacity;
  }
  char *copy = strdup(path);
  if (copy == NULL) {
    positions->out_of_memory = true;
    return;
  }
  bool has_key = scan->key_line > 0;
  positions->entries[positions->count++] =
      (position_entry){.path = copy,
                       .line = scan->line,
                       .column = scan->column,
                       .key_line = has_key ? scan->key_line : scan->line,
                       .key_column = has_key ? scan->key_column : scan->column};
  scan->key_line = 0;
}

/* Reads a string token's content (escapes kept as written; enough for keys). */
static void scan_string(scanner *scan, char *out, size_t out_bytes) {
  assert(peek(scan) == '"');
  advance(scan);
  size_t length = 0;
  while (peek(scan) != -1 && peek(scan) != '"') {
    int c = peek(scan);
    if (c == '\\') {
      advance(scan);
      c = peek(scan);
      if (c == -1) {
        break;
      }
    }
    if (out != NULL && length + 1 < out_bytes) {
      out[length++] = (char)c;
    }
    advance(scan);
  }
  if (out != NULL) {
    out[length] = '\0';
  }
  advance(scan); /* closing quote */
}

static void scan_value(scanner *scan, char *path, int depth);

static void scan_object(scanner *scan, char *path, int depth) {
  advance(scan); /* { */
  size_t path_length = strlen(path);
  for (size_t members = 0; members < scan->size_bytes; members++) {
    skip_space(scan);
    if (peek(scan) == '}' || peek(scan) == -1) {
      break;
    }
    if (peek(scan) != '"') {
      return; /* not JSON: stop indexing this object */
    }
    char key[256];
    int key_line = scan->line;
    int key_column = scan->column;
    scan_string(scan, key, sizeof key);
    skip_space(scan);
    if (peek(scan) != ':') {
      return;
    }
    advance(scan);
    skip_space(scan);
    sl_json_path_key(path, PATH_BYTES, key);
    scan->key_line = key_line;
    scan->key_column = key_column;
    scan_value(scan, path, depth + 1);
    path[path_length] = '\0';
    skip_space(scan);
    if (peek(scan) == ',') {
      advance(scan);
    }
  }
  advance(scan); /* } */
}

static void scan_array(scanner *scan, char *path, int depth) {
  advance(scan); /* [ */
  size_t path_length = strlen(path);
  for (size_t index = 0; index < scan->size_bytes; index++) {
    skip_space(scan);
    if (peek(scan) == ']' || peek(scan) == -1) {
      break;
    }
    sl_json_path_index(path, PATH_BYTES, index);
    size_t before = scan->offset;
    scan_value(scan, path, depth + 1);
    path[path_length] = '\0';
    skip_space(scan);
    if (peek(scan) == ',') {
      advance(scan);
    } else if (scan->offset == before) {
      return; /* no progress: not JSON */
    }
  }
  advance(scan); /* ] */
}

static void scan_value(scanner *scan, char *path, int depth) {
  skip_space(scan);
  if (depth > MAX_DEPTH || peek(scan) == -1) {
    return;
  }
  record(scan, path);
  int c = peek(scan);
  if (c == '{') {
    scan_object(scan, path, depth);
  } else if (c == '[') {
    scan_array(scan, path, depth);
  } else if (c == '"') {
    scan_string(scan, NULL, 0);
  } else {
    while (peek(scan) != -1 && (isalnum(peek(scan)) || strchr("+-.", peek(scan)) != NULL)) {
      advance(scan);
    }
  }
}

sl_json_positions *sl_json_positions_build(const char *text, size_t size_bytes) {
  assert(text != NULL || size_bytes == 0);
  sl_json_positions *positions = calloc(1, sizeof *positions);
  if (positions == NULL) {
    return NULL;
  }
  scanner scan = {.text = text, .size_bytes = size_bytes, .line = 1, .column = 1,
                  .positions = positions};
  char path[PATH_BYTES] = "$";
  scan_value(&scan, path, 0);
  if (positions->out_of_memory) {
    sl_json_positions_free(positions);
    return NULL;
  }
  return positions;
}

void sl_json_positions_free(sl_json_positions *positions) {
  if (positions == NULL) {
    return;
  }
  for (size_t i = 0; i < positions->count; i++) {
    free(positions->entries[i].path);
  }
  free(positions->entries);
  free(positions);
}

static const position_entry *find_exact(const sl_json_positions *positions, const char *path) {
  for (size_t i = 0; i < positions->count; i++) {
    if (strcmp(positions->entries[i].path, path) == 0) {
      return &positions->entries[i];
    }
  }
  return NULL;
}

/* Cuts the last step off path; false when path is the root. */
static bool parent_path(char *path) {
  size_t length = strlen(path);
  if (length <= 1) {
    return false;
  }
  char last = path[length - 1];
  if (last == ']') {
    /* [N] or ["key"]: find the matching '[' outside quotes. */
    bool quoted = length >= 2 && path[length - 2] == '"';
    for (size_t i = length - 1; i > 0; i--) {
      if (path[i] == '[' && (!quoted || path[i + 1] == '"')) {
        path[i] = '\0';
        return true;
      }
    }
    return false;
  }
  for (size_t i = length - 1; i > 0; i--) {
    if (path[i] == '.') {
      path[i] = '\0';
      return true;
    }
  }
  return false;
}

static bool find_position(const sl_json_positions *positions, const char *path, bool key,
                          int *line, int *column) {
  assert(path != NULL && line != NULL && column != NULL);
  *line = 1;
  *column = 1;
  if (positions == NULL) {
    return false;
  }
  char current[PATH_BYTES];
  snprintf(current, sizeof current, "%s", path);
  bool exact = true;
  for (int steps = 0; steps < MAX_DEPTH; steps++) {
    const position_entry *entry = find_exact(positions, current);
    if (entry != NULL) {
      *line = key && exact ? entry->key_line : entry->line;
      *column = key && exact ? entry->key_column : entry->column;
      return exact;
    }
    exact = false;
    if (!parent_path(current)) {
      return false;
    }
  }
  return false;
}

bool sl_json_positions_find(const sl_json_positions *positions, const char *path, int *line,
                            int *column) {
  return find_position(positions, path, false, line, column);
}

bool sl_json_positions_find_key(const sl_json_positions *positions, const char *path, int *line,
                                int *column) {
  return find_position(positions, path, true, line, column);
}

static bool is_identifier(const char *key) {
  if (!isalpha((unsigned char)key[0]) && key[0] != '_') {
    return false;
  }
  for (const char *c = key; *c != '\0'; c++) {
    if (!isalnum((unsigned char)*c) && *c != '_') {
      return false;
    }
  }
  return true;
}

void sl_json_path_key(char *path, size_t path_bytes, const char *key) {
  size_t length = strlen(path);
  if (length >= path_bytes) {
    return;
  }
  if (is_identifier(key)) {
    snprintf(path + length, path_bytes - length, ".%s", key);
  } else {
    snprintf(path + length, path_bytes - length, "[\"%s\"]", key);
  }
}

void sl_json_path_index(char *path, size_t path_bytes, size_t index) {
  size_t length = strlen(path);
  if (length >= path_bytes) {
    return;
  }
  snprintf(path + length, path_bytes - length, "[%zu]", index);
}

const char *sl_json_kind_name(const json_t *value) {
  switch (json_typeof(value)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
  }
  return "a value";
}
