/* parse.c: BanyanDB QueryRequest protojson -> sl_query, bound to the catalog. */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/jsonpos.h"
#include "common/timeutil.h"
#include "query/query_internal.h"

enum { PATH_BYTES = 512, MAX_DEPTH = 64 };

typedef struct parser {
  const sl_catalog *catalog;
  sl_query_internal *query;
  sl_error *err;
  const sl_json_positions *positions;
} parser;

static sl_status fail(parser *p, const char *path, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static sl_status fail(parser *p, const char *path, const char *format, ...) {
  char message[800];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof message, format, args);
  va_end(args);
  int line = 1, column = 1;
  sl_json_positions_find(p->positions, path, &line, &column);
  return sl_error_set(p->err, SL_ERR_INVALID, "query %d:%d: %s: %s", line, column, path, message);
}

enum { MAX_NOTES = 32 };

static bool listed(const char *key, const char *const *names) {
  for (size_t i = 0; names != NULL && names[i] != NULL; i++) {
    if (strcmp(key, names[i]) == 0) {
      return true;
    }
  }
  return false;
}

/* Fields of a request object that spanlab does not read. BanyanDB's HTTP API (grpc-gateway's
 * default protojson options: DiscardUnknown) ignores unknown fields, so a request ignores them here
 * too, and says so: read lists the object's fields spanlab reads, unmodelled those the message has
 * that it does not (NULL: none), each in lowerCamel and snake_case. */
static void note_ignored(parser *p, const json_t *object, const char *path, const char *const *read,
                         const char *const *unmodelled) {
  if (!json_is_object(object)) {
    return;
  }
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)object, key, value) {
    (void)value;
    if (listed(key, read)) {
      continue;
    }
    bool is_known = listed(key, unmodelled);
    sl_query_internal *query = p->query;
    if (query->notes == NULL) {
      query->notes = sl_arena_alloc(query->arena, MAX_NOTES * sizeof(char *));
      query->public.notes = (const char *const *)query->notes;
    }
    if (query->notes == NULL || query->public.note_count == MAX_NOTES) {
      return;
    }
    char key_path[PATH_BYTES];
    snprintf(key_path, sizeof key_path, "%s", path);
    sl_json_path_key(key_path, sizeof key_path, key);
    int line = 1, column = 1;
    sl_json_positions_find(p->positions, key_path, &line, &column);
    char note[PATH_BYTES + 160];
    snprintf(note, sizeof note, "%d:%d: %s: %s", line, column, key_path,
             is_known ? "spanlab does not model this field; ignored"
                      : "unknown field, ignored (as BanyanDB's HTTP API ignores it)");
    query->notes[query->public.note_count++] = sl_arena_strdup(query->arena, note);
  }
}

/* lowerCamel or snake_case member; a JSON null reads as absent (proto3's JSON mapping: null is the
 * field's default, so "limit": null is limit 0 and "timeRange": null no time range). */
static json_t *member(const json_t *object, const char *camel, const char *snake, const char *path,
                      char out_path[PATH_BYTES]) {
  json_t *value = json_object_get(object, camel);
  const char *key = camel;
  if ((value == NULL || json_is_null(value)) && snake != NULL) {
    value = json_object_get(object, snake);
    key = snake;
  }
  if (json_is_null(value)) {
    return NULL;
  }
  if (value != NULL && out_path != NULL) {
    snprintf(out_path, PATH_BYTES, "%s", path);
    sl_json_path_key(out_path, PATH_BYTES, key);
  }
  return value;
}

static char *copy_string(parser *p, const char *text, size_t size) {
  return sl_arena_strndup(p->query->arena, text, size);
}

/* protojson int64: a JSON integer or a decimal string. */
static bool parse_int64(const json_t *value, int64_t *out) {
  if (json_is_integer(value)) {
    *out = json_integer_value(value);
    return true;
  }
  if (json_is_string(value)) {
    const char *text = json_string_value(value);
    char *end = NULL;
    errno = 0;
    long long number = strtoll(text, &end, 10);
    if (text[0] != '\0' && *end == '\0' && errno == 0) {
      *out = number;
      return true;
    }
  }
  return false;
}

static sl_status parse_uint32(parser *p, const json_t *object, const char *camel, const char *path,
                              uint32_t *out) {
  char member_path[PATH_BYTES];
  json_t *value = member(object, camel, NULL, path, member_path);
  if (value == NULL) {
    return SL_OK;
  }
  int64_t number = 0;
  if (!parse_int64(value, &number) || number < 0 || number > (int64_t)UINT32_MAX) {
    return fail(p, member_path, "expected an unsigned 32-bit integer");
  }
  *out = (uint32_t)number;
  return SL_OK;
}

/* model.v1.TagValue. */
static sl_status parse_tag_value(parser *p, const json_t *value, const char *path, sl_value *out) {
  if (!json_is_object(value) || json_object_size(value) != 1) {
    return fail(p, path, "expected a TagValue object with one of str, int, strArray, intArray, null, "
                         "binaryData, timestamp");
  }
  const char *kind = json_object_iter_key(json_object_iter((json_t *)value));
  json_t *body = json_object_iter_value(json_object_iter((json_t *)value));
  char body_path[PATH_BYTES];
  snprintf(body_path, sizeof body_path, "%s", path);
  sl_json_path_key(body_path, sizeof body_path, kind);
  if (strcmp(kind, "null") == 0) {
    *out = sl_value_null();
    return SL_OK;
  }
  if (strcmp(kind, "str") == 0) {
    json_t *text = json_is_object(body) ? json_object_get(body, "value") : NULL;
    if (!json_is_object(body) || (text != NULL && !json_is_string(text))) {
      return fail(p, body_path, "expected {\"value\": \"...\"}");
    }
    const char *string = text != NULL ? json_string_value(text) : "";
    size_t size = text != NULL ? json_string_length(text) : 0;
    *out = sl_value_str(copy_string(p, string, size), size);
    return SL_OK;
  }
  if (strcmp(kind, "int") == 0) {
    json_t *number = json_is_object(body) ? json_object_get(body, "value") : NULL;
    int64_t parsed = 0;
    if (!json_is_object(body) || (number != NULL && !parse_int64(number, &parsed))) {
      return fail(p, body_path, "expected {\"value\": \"<int64>\"}");
    }
    *out = sl_value_int(parsed);
    return SL_OK;
  }
  if (strcmp(kind, "timestamp") == 0) {
    int64_t ns = 0;
    sl_error time_error;
    if (!json_is_string(body) || sl_rfc3339_parse_ns(json_string_value(body), &ns, &time_error) != SL_OK) {
      return fail(p, body_path, "expected an RFC 3339 timestamp");
    }
    *out = (sl_value){.kind = SL_VALUE_TIMESTAMP, .as.timestamp_ns = ns};
    return SL_OK;
  }
  if (strcmp(kind, "strArray") == 0 || strcmp(kind, "str_array") == 0) {
    json_t *items = json_is_object(body) ? json_object_get(body, "value") : NULL;
    if (!json_is_object(body) || (items != NULL && !json_is_array(items))) {
      return fail(p, body_path, "expected {\"value\": [\"...\"]}");
    }
    size_t count = items != NULL ? json_array_size(items) : 0;
    sl_bytes *array = sl_arena_alloc(p->query->arena, (count + 1) * sizeof(sl_bytes));
    for (size_t i = 0; i < count; i++) {
      json_t *item = json_array_get(items, i);
      if (!json_is_string(item)) {
        return fail(p, body_path, "strArray item %zu is not a string", i);
      }
      array[i] = (sl_bytes){copy_string(p, json_string_value(item), json_string_length(item)),
                            json_string_length(item)};
    }
    *out = (sl_value){.kind = SL_VALUE_STR_ARRAY, .as.str_array = {array, count}};
    return SL_OK;
  }
  if (strcmp(kind, "intArray") == 0 || strcmp(kind, "int_array") == 0) {
    json_t *items = json_is_object(body) ? json_object_get(body, "value") : NULL;
    if (!json_is_object(body) || (items != NULL && !json_is_array(items))) {
      return fail(p, body_path, "expected {\"value\": [\"<int64>\"]}");
    }
    size_t count = items != NULL ? json_array_size(items) : 0;
    int64_t *array = sl_arena_alloc(p->query->arena, (count + 1) * sizeof(int64_t));
    for (size_t i = 0; i < count; i++) {
      if (!parse_int64(json_array_get(items, i), &array[i])) {
        return fail(p, body_path, "intArray item %zu is not an int64", i);
      }
    }
    *out = (sl_value){.kind = SL_VALUE_INT_ARRAY, .as.int_array = {array, count}};
    return SL_OK;
  }
  if (strcmp(kind, "binaryData") == 0 || strcmp(kind, "binary_data") == 0) {
    return fail(p, body_path, "binaryData cannot be used in a condition");
  }
  return fail(p, path, "unknown TagValue kind \"%s\"", kind);
}

static const struct {
  const char *name;
  sl_binary_op op;
} binary_ops[] = {{"BINARY_OP_EQ", SL_BINARY_OP_EQ},         {"BINARY_OP_NE", SL_BINARY_OP_NE},
                  {"BINARY_OP_LT", SL_BINARY_OP_LT},         {"BINARY_OP_GT", SL_BINARY_OP_GT},
                  {"BINARY_OP_LE", SL_BINARY_OP_LE},         {"BINARY_OP_GE", SL_BINARY_OP_GE},
                  {"BINARY_OP_HAVING", SL_BINARY_OP_HAVING}, {"BINARY_OP_NOT_HAVING", SL_BINARY_OP_NOT_HAVING},
                  {"BINARY_OP_IN", SL_BINARY_OP_IN},         {"BINARY_OP_NOT_IN", SL_BINARY_OP_NOT_IN},
                  {"BINARY_OP_MATCH", SL_BINARY_OP_MATCH}};

static const sl_tag_spec *find_tag(const sl_query_internal *query, const char *name) {
  return query->public.model == SL_QUERY_STREAM ? sl_stream_find_tag(query->public.stream, name)
                                                : sl_trace_find_tag(query->public.trace, name);
}

static bool is_array_tag(const sl_tag_spec *tag) {
  return tag->type == SL_TAG_STRING_ARRAY || tag->type == SL_TAG_INT_ARRAY;
}

/* Is the value's kind one a condition on this tag can compare with? */
static bool value_fits(const sl_tag_spec *tag, sl_binary_op op, const sl_value *value) {
  if (value->kind == SL_VALUE_NULL) {
    return true;
  }
  bool list_op = op == SL_BINARY_OP_IN || op == SL_BINARY_OP_NOT_IN;
  switch (tag->type) {
    case SL_TAG_STRING:
      return list_op ? value->kind == SL_VALUE_STR_ARRAY : value->kind == SL_VALUE_STR;
    case SL_TAG_INT:
      return list_op ? value->kind == SL_VALUE_INT_ARRAY : value->kind == SL_VALUE_INT;
    case SL_TAG_STRING_ARRAY:
      return value->kind == SL_VALUE_STR || value->kind == SL_VALUE_STR_ARRAY;
    case SL_TAG_INT_ARRAY:
      return value->kind == SL_VALUE_INT || value->kind == SL_VALUE_INT_ARRAY;
    case SL_TAG_TIMESTAMP:
      return value->kind == SL_VALUE_TIMESTAMP || value->kind == SL_VALUE_INT;
    default:
      return false;
  }
}

/* The skipping rule bound to the stream and indexing tag_name alone, or NULL. */
static const sl_index_rule *skipping_rule_for(const sl_query_internal *query, const char *tag_name) {
  for (size_t r = 0; r < query->bound_rule_count; r++) {
    const sl_index_rule *rule = query->bound_rules[r];
    if (rule->type == SL_INDEX_SKIPPING && rule->tag_count == 1 && strcmp(rule->tags[0], tag_name) == 0) {
      return rule;
    }
  }
  return NULL;
}

static sl_status parse_criteria(parser *p, const json_t *value, const char *path, int depth,
                                const sl_criteria **out);

static sl_status parse_condition(parser *p, const json_t *value, const char *path,
                                 const sl_criteria **out) {
  if (!json_is_object(value)) {
    return fail(p, path, "expected a Condition object");
  }
  sl_criteria *node = sl_arena_alloc(p->query->arena, sizeof *node);
  node->kind = SL_CRITERIA_CONDITION;
  char member_path[PATH_BYTES];
  json_t *name = member(value, "name", NULL, path, member_path);
  if (!json_is_string(name)) {
    return fail(p, path, "a condition needs a tag \"name\"");
  }
  node->tag_name = copy_string(p, json_string_value(name), json_string_length(name));
  node->tag = find_tag(p->query, node->tag_name);
  if (node->tag == NULL) {
    return fail(p, member_path, "tag \"%s\" does not exist in %s %s/%s", node->tag_name,
                p->query->public.model == SL_QUERY_STREAM ? "stream" : "trace", p->query->public.group,
                p->query->public.name);
  }
  if (node->tag->type == SL_TAG_DATA_BINARY) {
    /* BanyanDB's tag filter parses no binary value (tag_filter.go parseExpr returns
     * ErrUnsupportedConditionValue): the stream query fails, the trace sidx path drops every block. */
    return fail(p, member_path, "tag \"%s\" is %s: BanyanDB compares no condition on binary data", node->tag_name,
                sl_tag_type_name(node->tag->type));
  }
  json_t *op = member(value, "op", NULL, path, member_path);
  node->op = 0;
  for (size_t i = 0; op != NULL && i < sizeof binary_ops / sizeof binary_ops[0]; i++) {
    if ((json_is_string(op) && strcmp(json_string_value(op), binary_ops[i].name) == 0) ||
        (json_is_integer(op) && json_integer_value(op) == binary_ops[i].op)) {
      node->op = binary_ops[i].op;
    }
  }
  if (node->op == 0) {
    return fail(p, op != NULL ? member_path : path, "expected op BINARY_OP_EQ, NE, LT, GT, LE, GE, "
                                                   "HAVING, NOT_HAVING, IN, NOT_IN or MATCH");
  }
  json_t *tag_value = member(value, "value", NULL, path, member_path);
  if (tag_value == NULL) {
    return fail(p, path, "a condition needs a \"value\"");
  }
  static const char *const condition_read[] = {"name", "op", "value", NULL};
  static const char *const condition_unmodelled[] = {"matchOption", "match_option", NULL};
  note_ignored(p, value, path, condition_read, condition_unmodelled);
  SL_TRY(parse_tag_value(p, tag_value, member_path, &node->value));
  if (node->value.kind == SL_VALUE_TIMESTAMP) {
    /* BanyanDB parses every literal of the criteria into its tag filter first, which has no case
     * for TagValue_Timestamp (pkg/query/logical/tag_filter.go parseExpr). */
    return fail(p, member_path, "a timestamp value is not supported in criteria (BanyanDB's tag filter parses "
                                "str, int, their arrays and null only)");
  }
  if (!value_fits(node->tag, node->op, &node->value)) {
    return fail(p, member_path, "a value of this kind cannot be compared with tag \"%s\" of type %s by this op",
                node->tag_name, sl_tag_type_name(node->tag->type));
  }
  bool entity = sl_query_is_entity_tag(p->query, node->tag_name);
  if (p->query->public.model == SL_QUERY_STREAM && entity && node->op != SL_BINARY_OP_EQ &&
      node->op != SL_BINARY_OP_IN) {
    return fail(p, path, "operation on entity tag \"%s\" is not supported: only EQ and IN are",
                node->tag_name);
  }
  if (p->query->public.model == SL_QUERY_STREAM && entity && node->value.kind == SL_VALUE_NULL) {
    /* BanyanDB: a null is no entity value, so the condition is an unsupported entity operation. */
    return fail(p, member_path, "a null value on entity tag \"%s\" is not supported: only EQ and IN of values are",
                node->tag_name);
  }
  if ((node->op == SL_BINARY_OP_IN || node->op == SL_BINARY_OP_NOT_IN) && is_array_tag(node->tag)) {
    return fail(p, path, "IN and NOT_IN are not supported on array tag \"%s\"", node->tag_name);
  }
  /* Stream: a MATCH on a tag of a skipping rule is refused by the index filter of that rule
   * (stream/index_filter.go parseConditionToFilter: "index filter parses ... for skipping index");
   * on any other tag it is a row filter. Trace: any tag (trace/index_filter.go traceMatchFilter). */
  const sl_index_rule *skipping = node->op == SL_BINARY_OP_MATCH && p->query->public.model == SL_QUERY_STREAM
                                      ? skipping_rule_for(p->query, node->tag_name)
                                      : NULL;
  if (skipping != NULL) {
    return fail(p, path, "MATCH on tag \"%s\" is not supported by its skipping index rule %s (BanyanDB: \"index "
                         "filter parses ... for skipping index\")", node->tag_name, skipping->name);
  }
  const sl_index_rule *named = node->op == SL_BINARY_OP_MATCH ? sl_query_rule_named(p->query, node->tag_name) : NULL;
  if (named != NULL) { /* IndexRuleDefined(cond.Name) */
    node->match_analyzer = named->analyzer != NULL ? named->analyzer : "";
  }
  *out = node;
  return SL_OK;
}

static sl_status parse_expression(parser *p, const json_t *value, const char *path, int depth,
                                  const sl_criteria **out) {
  if (!json_is_object(value)) {
    return fail(p, path, "expected a LogicalExpression object");
  }
  sl_criteria *node = sl_arena_alloc(p->query->arena, sizeof *node);
  char member_path[PATH_BYTES];
  json_t *op = member(value, "op", NULL, path, member_path);
  if (json_is_string(op) && strcmp(json_string_value(op), "LOGICAL_OP_AND") == 0) {
    node->kind = SL_CRITERIA_AND;
  } else if (json_is_string(op) && strcmp(json_string_value(op), "LOGICAL_OP_OR") == 0) {
    node->kind = SL_CRITERIA_OR;
  } else if (json_is_integer(op) && (json_integer_value(op) == 1 || json_integer_value(op) == 2)) {
    node->kind = json_integer_value(op) == 1 ? SL_CRITERIA_AND : SL_CRITERIA_OR;
  } else {
    return fail(p, op != NULL ? member_path : path, "expected op LOGICAL_OP_AND or LOGICAL_OP_OR");
  }
  static const char *const expression_fields[] = {"op", "left", "right", NULL};
  note_ignored(p, value, path, expression_fields, NULL);
  json_t *left = member(value, "left", NULL, path, member_path);
  if (left != NULL) {
    SL_TRY(parse_criteria(p, left, member_path, depth + 1, &node->left));
  }
  json_t *right = member(value, "right", NULL, path, member_path);
  if (right != NULL) {
    SL_TRY(parse_criteria(p, right, member_path, depth + 1, &node->right));
  }
  if (node->left == NULL && node->right == NULL) {
    return fail(p, path, "both sides (left and right) of the logical expression are empty");
  }
  *out = node;
  return SL_OK;
}

static sl_status parse_criteria(parser *p, const json_t *value, const char *path, int depth,
                                const sl_criteria **out) {
  if (depth > MAX_DEPTH) {
    return fail(p, path, "criteria nested deeper than %d levels", MAX_DEPTH);
  }
  if (!json_is_object(value)) {
    return fail(p, path, "expected a Criteria object with \"le\" or \"condition\"");
  }
  char member_path[PATH_BYTES];
  static const char *const criteria_fields[] = {"le", "condition", NULL};
  note_ignored(p, value, path, criteria_fields, NULL);
  json_t *le = member(value, "le", NULL, path, member_path);
  if (le != NULL) {
    return parse_expression(p, le, member_path, depth, out);
  }
  json_t *condition = member(value, "condition", NULL, path, member_path);
  if (condition != NULL) {
    return parse_condition(p, condition, member_path, out);
  }
  return fail(p, path, "a Criteria needs \"le\" or \"condition\"");
}

/* The projection as BanyanDB's projectionBuilder makes it (stream_plan_tag_filter.go): families in
 * the order first named, the entries of one family merged, a tag named twice kept where first named
 * (in any family), families left without tags dropped. In place: families[0..*count); merged tag
 * lists are allocated in arena. */
static sl_status normalize_families(sl_arena *arena, sl_projection_family *families, size_t *count) {
  size_t kept = 0;
  for (size_t f = 0; f < *count; f++) {
    sl_projection_family entry = families[f];
    size_t target = kept;
    for (size_t k = 0; k < kept; k++) {
      if (strcmp(families[k].name, entry.name) == 0) {
        target = k;
      }
    }
    size_t before = target < kept ? families[target].tag_count : 0;
    const sl_tag_spec **tags = sl_arena_alloc(arena, (before + entry.tag_count + 1) * sizeof(const sl_tag_spec *));
    if (tags == NULL) {
      return SL_ERR_NOMEM;
    }
    if (before > 0) {
      memcpy(tags, families[target].tags, before * sizeof(const sl_tag_spec *));
    }
    size_t used = before;
    for (size_t i = 0; i < entry.tag_count; i++) {
      bool again = false;
      for (size_t k = 0; k < kept && !again; k++) {
        for (size_t t = 0; t < families[k].tag_count && !again; t++) {
          again = families[k].tags[t] == entry.tags[i];
        }
      }
      for (size_t t = before; t < used && !again; t++) {
        again = tags[t] == entry.tags[i];
      }
      if (!again) {
        tags[used++] = entry.tags[i];
      }
    }
    if (used == 0) {
      continue; /* a family with no tag (left) is not projected */
    }
    families[target] = (sl_projection_family){.name = entry.name, .tag_count = used, .tags = tags};
    kept += target == kept;
  }
  *count = kept;
  return SL_OK;
}

static sl_status parse_projection(parser *p, const json_t *root) {
  sl_query *query = &p->query->public;
  char member_path[PATH_BYTES];
  if (query->model == SL_QUERY_TRACE) {
    json_t *tags = member(root, "tagProjection", "tag_projection", "$", member_path);
    if (tags == NULL) {
      return SL_OK;
    }
    if (!json_is_array(tags)) {
      return fail(p, member_path, "expected an array of tag names");
    }
    size_t count = json_array_size(tags);
    const sl_tag_spec **specs = sl_arena_alloc(p->query->arena, (count + 1) * sizeof(const sl_tag_spec *));
    size_t kept = 0;
    for (size_t i = 0; specs != NULL && i < count; i++) {
      json_t *name = json_array_get(tags, i);
      char tag_path[PATH_BYTES];
      snprintf(tag_path, sizeof tag_path, "%s", member_path);
      sl_json_path_index(tag_path, sizeof tag_path, i);
      if (!json_is_string(name)) {
        return fail(p, tag_path, "expected a tag name (a string), found %s", sl_json_kind_name(name));
      }
      const sl_tag_spec *tag = find_tag(p->query, json_string_value(name));
      if (tag == NULL) {
        return fail(p, tag_path, "projected tag %s does not exist in trace %s", json_string_value(name), query->name);
      }
      /* A tag named twice is projected once, where first named (deduplicateStrings in BanyanDB's
       * trace_plan_tag_filter.go). */
      bool again = false;
      for (size_t k = 0; k < kept && !again; k++) {
        again = specs[k] == tag;
      }
      if (!again) {
        specs[kept++] = tag;
      }
    }
    query->tag_projection = specs;
    query->tag_projection_count = kept;
    return SL_OK;
  }
  json_t *projection = member(root, "projection", NULL, "$", member_path);
  if (projection == NULL) {
    /* The field is required (stream/v1/query.proto: validate.rules message.required), so BanyanDB's
     * gRPC validator refuses the request before it is planned. */
    return fail(p, "$", "a stream query needs a \"projection\" (BanyanDB: \"invalid QueryRequest.Projection: value is "
                        "required\")");
  }
  char families_path[PATH_BYTES];
  static const char *const projection_fields[] = {"tagFamilies", "tag_families", NULL};
  note_ignored(p, projection, member_path, projection_fields, NULL);
  json_t *families = member(projection, "tagFamilies", "tag_families", member_path, families_path);
  if (families == NULL) {
    return SL_OK;
  }
  if (!json_is_array(families)) {
    return fail(p, families_path, "expected an array of tag families");
  }
  size_t count = json_array_size(families);
  sl_projection_family *out = sl_arena_alloc(p->query->arena, (count + 1) * sizeof *out);
  for (size_t f = 0; f < count; f++) {
    json_t *family = json_array_get(families, f);
    char family_path[PATH_BYTES], tags_path[PATH_BYTES];
    snprintf(family_path, sizeof family_path, "%s", families_path);
    sl_json_path_index(family_path, sizeof family_path, f);
    if (!json_is_object(family)) {
      return fail(p, family_path, "expected a tag family object {\"name\", \"tags\"}");
    }
    static const char *const family_fields[] = {"name", "tags", NULL};
    note_ignored(p, family, family_path, family_fields, NULL);
    json_t *name = member(family, "name", NULL, family_path, NULL);
    json_t *tags = member(family, "tags", NULL, family_path, tags_path); /* null: the default, none */
    if (!json_is_string(name)) {
      return fail(p, family_path, "a tag family needs a \"name\" (a string)");
    }
    if (tags != NULL && !json_is_array(tags)) {
      return fail(p, tags_path, "expected an array of tag names");
    }
    out[f].name = copy_string(p, json_string_value(name), json_string_length(name));
    size_t family_index = query->stream->family_count;
    for (size_t i = 0; i < query->stream->family_count; i++) {
      if (strcmp(query->stream->families[i].name, out[f].name) == 0) {
        family_index = i;
      }
    }
    if (family_index == query->stream->family_count) {
      return fail(p, family_path, "tag family \"%s\" does not exist in stream %s", out[f].name, query->name);
    }
    size_t tag_count = tags != NULL ? json_array_size(tags) : 0;
    const sl_tag_spec **specs = sl_arena_alloc(p->query->arena, (tag_count + 1) * sizeof(const sl_tag_spec *));
    for (size_t i = 0; i < tag_count; i++) {
      json_t *tag_name = json_array_get(tags, i);
      char tag_path[PATH_BYTES];
      snprintf(tag_path, sizeof tag_path, "%s", tags_path);
      sl_json_path_index(tag_path, sizeof tag_path, i);
      if (!json_is_string(tag_name)) {
        return fail(p, tag_path, "expected a tag name (a string), found %s", sl_json_kind_name(tag_name));
      }
      const sl_tag_spec *tag = NULL;
      const sl_tag_family_spec *spec = &query->stream->families[family_index];
      for (size_t t = 0; t < spec->tag_count; t++) {
        if (strcmp(spec->tags[t].name, json_string_value(tag_name)) == 0) {
          tag = &spec->tags[t];
        }
      }
      if (tag == NULL) {
        return fail(p, tag_path, "projected tag %s does not exist in family %s", json_string_value(tag_name),
                    out[f].name);
      }
      specs[i] = tag;
    }
    out[f].tags = specs;
    out[f].tag_count = tag_count;
  }
  if (normalize_families(p->query->arena, out, &count) != SL_OK) {
    return fail(p, families_path, "out of memory");
  }
  query->families = out;
  query->family_count = count;
  return SL_OK;
}

/* BanyanDB's stream scan projects the request's tags and, when the criteria filter rows, the tags of
 * their conditions but the entity's (stream_plan_tag_filter.go); with none, the query is refused
 * (banyand/stream/query.go validateQueryInput: "tagProjection is required"). */
static bool projects_some_tag(const sl_query *query) {
  for (size_t f = 0; f < query->family_count; f++) {
    if (query->families[f].tag_count > 0) {
      return true;
    }
  }
  return false;
}

static bool filters_a_non_entity_tag(const sl_query_internal *query, const sl_criteria *node, int depth) {
  if (node == NULL || depth > MAX_DEPTH) {
    return false;
  }
  if (node->kind != SL_CRITERIA_CONDITION) {
    return filters_a_non_entity_tag(query, node->left, depth + 1) || filters_a_non_entity_tag(query, node->right, depth + 1);
  }
  return !sl_query_is_entity_tag(query, node->tag_name);
}

/* Trace ids named by EQ/IN conditions on the trace-id tag anywhere in the criteria. */
static void collect_trace_ids(parser *p, const sl_criteria *node, int depth) {
  if (node == NULL || depth > MAX_DEPTH) {
    return;
  }
  if (node->kind != SL_CRITERIA_CONDITION) {
    collect_trace_ids(p, node->left, depth + 1);
    collect_trace_ids(p, node->right, depth + 1);
    return;
  }
  sl_query *query = &p->query->public;
  if (strcmp(node->tag_name, query->trace->trace_id_tag) != 0) {
    return;
  }
  size_t adding = node->op == SL_BINARY_OP_EQ && node->value.kind == SL_VALUE_STR ? 1
                  : node->op == SL_BINARY_OP_IN && node->value.kind == SL_VALUE_STR_ARRAY
                      ? node->value.as.str_array.count
                      : 0;
  if (adding == 0) {
    return;
  }
  sl_bytes *ids = sl_arena_alloc(p->query->arena, (query->trace_id_count + adding) * sizeof(sl_bytes));
  if (query->trace_id_count > 0) {
    memcpy(ids, query->trace_ids, query->trace_id_count * sizeof(sl_bytes));
  }
  if (node->op == SL_BINARY_OP_EQ) {
    ids[query->trace_id_count] = node->value.as.str;
  } else {
    memcpy(ids + query->trace_id_count, node->value.as.str_array.items, adding * sizeof(sl_bytes));
  }
  query->trace_ids = ids;
  query->trace_id_count += adding;
}

/* With trace ids, BanyanDB filters rows through its "global index" (pkg/query/logical/tag_filter.go
 * BuildTagFilter, hasGlobalIndex = len(traceIDs) > 0): a condition on a tag sl_query_trace_ignores_tag
 * names filters nothing there (a dummy filter; a missing side too), an
 * AND or OR of two dummies is a dummy, and any other OR is refused ("global index doesn't support
 * OR"). *filters says whether node filters rows. */
static sl_status check_or_with_trace_ids(parser *p, const sl_criteria *node, const char *path, int depth,
                                         bool *filters) {
  *filters = false;
  if (node == NULL || depth > MAX_DEPTH) {
    return SL_OK;
  }
  if (node->kind == SL_CRITERIA_CONDITION) {
    *filters = !sl_query_trace_ignores_tag(p->query, node->tag_name);
    return SL_OK;
  }
  char le_path[PATH_BYTES], side_path[PATH_BYTES];
  snprintf(le_path, sizeof le_path, "%s", path);
  sl_json_path_key(le_path, sizeof le_path, "le");
  bool left = false, right = false;
  snprintf(side_path, sizeof side_path, "%s", le_path);
  sl_json_path_key(side_path, sizeof side_path, "left");
  SL_TRY(check_or_with_trace_ids(p, node->left, side_path, depth + 1, &left));
  snprintf(side_path, sizeof side_path, "%s", le_path);
  sl_json_path_key(side_path, sizeof side_path, "right");
  SL_TRY(check_or_with_trace_ids(p, node->right, side_path, depth + 1, &right));
  if (node->kind == SL_CRITERIA_OR && (left || right)) {
    return fail(p, le_path,
                "an OR that filters spans is not supported when trace ids are given (BanyanDB: \"global index "
                "doesn't support OR\"); only conditions on the trace-id tag %s, the span-id tag or the tags of "
                "the rule named like the orderBy key may be ORed",
                p->query->public.trace->trace_id_tag);
  }
  *filters = left || right;
  return SL_OK;
}

/* timeRange.begin or .end: missing (BanyanDB's CheckTimeRange: "time is empty"), not a string, not
 * RFC 3339, or outside int64 nanoseconds (timestamp.Check: "time is out of range"), each said so. */
static sl_status parse_range_time(parser *p, const json_t *value, const char *path, const char *field,
                                  int64_t *out_ns) {
  if (value == NULL) {
    return fail(p, path, "timeRange.%s is missing (BanyanDB: \"time is empty\")", field);
  }
  if (!json_is_string(value)) {
    return fail(p, path, "timeRange.%s must be an RFC 3339 timestamp (a JSON string)", field);
  }
  sl_error time_error = {0};
  if (sl_rfc3339_parse_ns(json_string_value(value), out_ns, &time_error) != SL_OK) {
    if (strstr(time_error.message, "is outside") != NULL) {
      return fail(p, path, "timeRange.%s %s (BanyanDB: \"time is out of range\")", field, time_error.message);
    }
    return fail(p, path, "timeRange.%s must be an RFC 3339 timestamp: %s", field, time_error.message);
  }
  return SL_OK;
}

sl_status sl_query_parse(const sl_catalog *catalog, sl_query_model model, const char *json,
                         size_t size_bytes, sl_query **out, sl_error *err) {
  assert(catalog != NULL && json != NULL && out != NULL);
  *out = NULL;
  sl_query_internal *internal = calloc(1, sizeof *internal);
  sl_arena *arena = sl_arena_new(8192);
  if (internal == NULL || arena == NULL) {
    free(internal);
    sl_arena_free(arena);
    return sl_error_set(err, SL_ERR_NOMEM, "query: out of memory");
  }
  internal->arena = arena;
  internal->public.model = model;
  sl_json_positions *positions = sl_json_positions_build(json, size_bytes);
  parser p = {.catalog = catalog, .query = internal, .err = err, .positions = positions};
  json_error_t json_error;
  json_t *root = json_loadb(json, size_bytes, JSON_REJECT_DUPLICATES, &json_error);
  sl_status status = SL_OK;
  if (root == NULL) {
    status = sl_error_set(err, SL_ERR_INVALID, "query %d:%d: malformed JSON: %s", json_error.line,
                          json_error.column, json_error.text);
    goto done;
  }
  char member_path[PATH_BYTES];
  json_t *groups = member(root, "groups", NULL, "$", member_path);
  if (!json_is_array(groups) || json_array_size(groups) == 0 ||
      !json_is_string(json_array_get(groups, 0))) {
    status = fail(&p, groups != NULL ? member_path : "$", "a query needs \"groups\": [\"<group>\"]");
    goto done;
  }
  if (json_array_size(groups) > 1) {
    status = fail(&p, member_path, "spanlab queries one group at a time; got %zu",
                  json_array_size(groups));
    goto done;
  }
  internal->public.group = copy_string(&p, json_string_value(json_array_get(groups, 0)),
                                       json_string_length(json_array_get(groups, 0)));
  json_t *name = member(root, "name", NULL, "$", member_path);
  if (!json_is_string(name)) {
    status = fail(&p, "$", "a query needs \"name\": the stream or trace");
    goto done;
  }
  internal->public.name = copy_string(&p, json_string_value(name), json_string_length(name));
  if (model == SL_QUERY_STREAM) {
    internal->public.stream = sl_catalog_find_stream(catalog, internal->public.group, internal->public.name);
  } else {
    internal->public.trace = sl_catalog_find_trace(catalog, internal->public.group, internal->public.name);
  }
  if (internal->public.stream == NULL && internal->public.trace == NULL) {
    status = fail(&p, member_path, "no %s %s/%s in the catalog", model == SL_QUERY_STREAM ? "stream" : "trace",
                  internal->public.group, internal->public.name);
    goto done;
  }
  internal->group = sl_catalog_find_group(catalog, internal->public.group);
  sl_query_bind_rules(internal, catalog);
  /* api/proto/banyandb/{stream,trace}/v1/query.proto QueryRequest */
  static const char *const stream_read[] = {"groups", "name", "timeRange", "time_range", "offset", "limit",
                                            "orderBy", "order_by", "criteria", "projection", NULL};
  static const char *const trace_read[] = {"groups", "name", "timeRange", "time_range", "offset", "limit",
                                           "orderBy", "order_by", "criteria", "tagProjection", "tag_projection",
                                           NULL};
  static const char *const request_unmodelled[] = {"trace", "stages", "groupModRevisions", "group_mod_revisions",
                                                    NULL};
  note_ignored(&p, root, "$", model == SL_QUERY_STREAM ? stream_read : trace_read, request_unmodelled);
  json_t *range = member(root, "timeRange", "time_range", "$", member_path);
  if (range != NULL) {
    char path[PATH_BYTES];
    static const char *const range_fields[] = {"begin", "end", NULL};
    note_ignored(&p, range, member_path, range_fields, NULL);
    json_t *begin = member(range, "begin", NULL, member_path, path);
    if ((status = parse_range_time(&p, begin, begin != NULL ? path : member_path, "begin",
                                   &internal->public.begin_ns)) != SL_OK) {
      goto done;
    }
    if (internal->public.begin_ns % 1000000 != 0) { /* BanyanDB's timestamp.Check */
      status = fail(&p, path, "timeRange.begin has a fraction finer than a millisecond (BanyanDB: \"time is not "
                              "millisecond precision\")");
      goto done;
    }
    json_t *end = member(range, "end", NULL, member_path, path);
    if ((status = parse_range_time(&p, end, end != NULL ? path : member_path, "end", &internal->public.end_ns)) !=
        SL_OK) {
      goto done;
    }
    if (internal->public.end_ns % 1000000 != 0) {
      status = fail(&p, path, "timeRange.end has a fraction finer than a millisecond (BanyanDB: \"time is not "
                              "millisecond precision\")");
      goto done;
    }
    if (internal->public.begin_ns > internal->public.end_ns) {
      status = fail(&p, member_path, "timeRange.begin is after timeRange.end");
      goto done;
    }
    internal->public.has_time_range = true;
  }
  if ((status = parse_uint32(&p, root, "offset", "$", &internal->public.offset)) != SL_OK ||
      (status = parse_uint32(&p, root, "limit", "$", &internal->public.limit)) != SL_OK) {
    goto done;
  }
  json_t *criteria = member(root, "criteria", NULL, "$", member_path);
  if (criteria != NULL && !json_is_null(criteria) &&
      (status = parse_criteria(&p, criteria, member_path, 0, &internal->public.criteria)) != SL_OK) {
    goto done;
  }
  json_t *order = member(root, "orderBy", "order_by", "$", member_path);
  if (order != NULL && !json_is_object(order)) {
    status = fail(&p, member_path, "expected an OrderBy object ({\"indexRuleName\", \"sort\"})");
    goto done;
  }
  if (order != NULL) {
    char path[PATH_BYTES];
    static const char *const order_fields[] = {"indexRuleName", "index_rule_name", "sort", NULL};
    note_ignored(&p, order, member_path, order_fields, NULL);
    json_t *rule_name = member(order, "indexRuleName", "index_rule_name", member_path, path);
    if (rule_name != NULL && !json_is_string(rule_name)) {
      status = fail(&p, path, "expected a string (an index rule name)");
      goto done;
    }
    if (json_is_string(rule_name) && json_string_length(rule_name) > 0) {
      internal->public.order_rule = sl_query_rule_named(internal, json_string_value(rule_name));
      if (internal->public.order_rule == NULL) {
        status = fail(&p, path, "index rule \"%s\" is not bound to %s/%s", json_string_value(rule_name),
                      internal->public.group, internal->public.name);
        goto done;
      }
      if (internal->public.order_rule->no_sort) { /* pkg/query/logical/plan.go ParseOrderBy */
        status = fail(&p, path, "index rule \"%s\" is marked noSort: it cannot order results (BanyanDB: \"index "
                                "does not support sorting\")",
                      json_string_value(rule_name));
        goto done;
      }
    }
    json_t *sort = member(order, "sort", NULL, member_path, path);
    if (json_is_string(sort)) {
      const char *text = json_string_value(sort);
      internal->public.sort = strcmp(text, "SORT_DESC") == 0  ? SL_SORT_DESC
                              : strcmp(text, "SORT_ASC") == 0 ? SL_SORT_ASC
                                                               : SL_SORT_UNSPECIFIED;
      if (internal->public.sort == SL_SORT_UNSPECIFIED && strcmp(text, "SORT_UNSPECIFIED") != 0) {
        status = fail(&p, path, "expected SORT_ASC, SORT_DESC or SORT_UNSPECIFIED");
        goto done;
      }
    } else if (json_is_integer(sort)) {
      /* An open enum: numbers other than 1 and 2 sort as SORT_UNSPECIFIED does (ascending), as
       * BanyanDB's `order.Sort == SORT_DESC` test does. */
      json_int_t number = json_integer_value(sort);
      internal->public.sort = number == SL_SORT_DESC ? SL_SORT_DESC : number == SL_SORT_ASC ? SL_SORT_ASC : SL_SORT_UNSPECIFIED;
    } else if (sort != NULL && !json_is_null(sort)) {
      status = fail(&p, path, "expected SORT_ASC, SORT_DESC or SORT_UNSPECIFIED (or its number)");
      goto done;
    }
  }
  if ((status = parse_projection(&p, root)) != SL_OK) {
    goto done;
  }
  if (model == SL_QUERY_STREAM && !projects_some_tag(&internal->public) &&
      !filters_a_non_entity_tag(p.query, internal->public.criteria, 0)) {
    status = fail(&p, "$", "a stream query needs a projected tag (projection.tagFamilies) or a condition on a tag "
                           "other than the entity's (BanyanDB: \"tagProjection is required\")");
    goto done;
  }
  if (model == SL_QUERY_TRACE) {
    collect_trace_ids(&p, internal->public.criteria, 0);
    if (internal->public.trace_id_count == 0 && internal->public.order_rule == NULL) {
      status = fail(&p, "$", "a trace query needs a trace-id condition (EQ or IN on %s) or an orderBy index rule",
                    internal->public.trace->trace_id_tag);
      goto done;
    }
    bool filters = false;
    if (internal->public.trace_id_count > 0 &&
        (status = check_or_with_trace_ids(&p, internal->public.criteria, "$.criteria", 0, &filters)) != SL_OK) {
      goto done;
    }
  }
done:
  json_decref(root);
  sl_json_positions_free(positions);
  if (status != SL_OK) {
    sl_query_free(&internal->public);
    return status;
  }
  *out = &internal->public;
  return SL_OK;
}

void sl_query_free(sl_query *query) {
  if (query == NULL) {
    return;
  }
  sl_query_internal *internal = (sl_query_internal *)query;
  sl_arena_free(internal->arena);
  free(internal);
}
