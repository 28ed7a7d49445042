/*
 * jsonpos.h: where each value of a JSON text stands (line and column), by
 * JSON path.  jansson parses values but forgets positions after parsing, so
 * the schema and query checkers use this index to say FILE:LINE:COL for a
 * problem they find in a parsed value (docs/DEPENDENCIES.md says why it is
 * hand-written).
 *
 * Paths: "$" is the root; ".key" for an object member whose key is a plain
 * identifier, "[\"key\"]" otherwise; "[N]" for an array element, e.g.
 * $[0].resourceOpts.shardNum.  Keys are spelled as they stand in the text.
 * Lines and columns count from 1; columns count bytes.
 *
 * The index owns copies of its paths; it does not keep the text.
 */
#ifndef SPANLAB_COMMON_JSONPOS_H
#define SPANLAB_COMMON_JSONPOS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sl_json_positions sl_json_positions;

/* Indexes text[0..size_bytes).  Never fails on bad JSON: it indexes what it
 * can read.  Returns NULL only when out of memory. */
sl_json_positions *sl_json_positions_build(const char *text, size_t size_bytes);
void sl_json_positions_free(sl_json_positions *positions);

/* Position of the value at path.  When path is absent, the nearest ancestor
 * that is present answers (a missing field is reported at its object), and
 * the function returns false. */
bool sl_json_positions_find(const sl_json_positions *positions, const char *path, int *line,
                            int *column);

/* Like sl_json_positions_find, but for an object member the position of its
 * key (where an unknown or repeated field is best shown). */
bool sl_json_positions_find_key(const sl_json_positions *positions, const char *path, int *line,
                                int *column);

/* Appends one path step to path (capacity path_bytes): a member key or an index. */
void sl_json_path_key(char *path, size_t path_bytes, const char *key);
void sl_json_path_index(char *path, size_t path_bytes, size_t index);

/* What a parsed value is, for "expected ..., found ..." messages: "an object", "an array", "a
 * string", "an integer", "a number with a fraction", "a boolean" or "null". */
struct json_t;
const char *sl_json_kind_name(const struct json_t *value);

#endif
