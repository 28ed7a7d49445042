/* eval.c: the reference evaluator, BanyanDB's stream and trace semantics by
 * brute force (docs/QUERIES.md).  Clarity over speed: it is the oracle. */
#include <assert.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/timeutil.h"
#include "query/plan.h"
#include "query/query_internal.h"

void sl_query_bind_rules(sl_query_internal *query, const sl_catalog *catalog) {
  sl_query *q = &query->public;
  sl_catalog_kind kind = q->model == SL_QUERY_STREAM ? SL_CATALOG_STREAM : SL_CATALOG_TRACE;
  query->bound_rule_count = sl_catalog_bound_rules(catalog, kind, q->group, q->name, sl_wall_clock_ns(),
                                                   query->bound_rules, SL_QUERY_MAX_RULES);
  if (query->bound_rule_count == 0) {
    /* No binding valid today: take every binding's rules, whatever its window. */
    for (size_t b = 0; b < sl_catalog_binding_count(catalog); b++) {
      const sl_index_binding *binding = sl_catalog_binding_at(catalog, b);
      if (binding->subject_catalog == kind && strcmp(binding->group, q->group) == 0 &&
          strcmp(binding->subject_name, q->name) == 0) {
        query->bound_rule_count = sl_catalog_bound_rules(catalog, kind, q->group, q->name,
                                                         binding->begin_at_ns, query->bound_rules,
                                                         SL_QUERY_MAX_RULES);
        break;
      }
    }
  }
  if (query->bound_rule_count > SL_QUERY_MAX_RULES) {
    query->bound_rule_count = SL_QUERY_MAX_RULES;
  }
  query->series_count = 0;
  if (q->model == SL_QUERY_STREAM) {
    for (size_t i = 0; i < q->stream->entity_count && i < SL_QUERY_MAX_SERIES_TAGS; i++) {
      query->series_tags[query->series_count++] = sl_stream_find_tag(q->stream, q->stream->entity_tags[i]);
    }
  } else if (query->bound_rule_count > 0) {
    const sl_index_rule *first = query->bound_rules[0];
    for (size_t i = 0; i + 1 < first->tag_count && i < SL_QUERY_MAX_SERIES_TAGS; i++) {
      const sl_tag_spec *tag = sl_trace_find_tag(q->trace, first->tags[i]);
      if (tag != NULL) {
        query->series_tags[query->series_count++] = tag;
      }
    }
  }
}

static int series_index(const sl_query_internal *query, const char *tag_name) {
  for (size_t i = 0; i < query->series_count; i++) {
    if (strcmp(query->series_tags[i]->name, tag_name) == 0) {
      return (int)i;
    }
  }
  return -1;
}

bool sl_query_is_entity_tag(const sl_query_internal *query, const char *tag_name) {
  return series_index(query, tag_name) >= 0;
}

static int compare_bytes(const sl_bytes *a, const sl_bytes *b) {
  size_t common = a->size_bytes < b->size_bytes ? a->size_bytes : b->size_bytes;
  int order = common ? memcmp(a->data, b->data, common) : 0;
  if (order != 0) {
    return order;
  }
  return a->size_bytes < b->size_bytes ? -1 : a->size_bytes > b->size_bytes;
}

static int64_t as_int(const sl_value *value) {
  return value->kind == SL_VALUE_TIMESTAMP ? value->as.timestamp_ns : value->as.int_value;
}

static bool is_array(const sl_value *value) {
  return value->kind == SL_VALUE_STR_ARRAY || value->kind == SL_VALUE_INT_ARRAY;
}

static sl_value list_item(const sl_value *list, size_t i) {
  return list->kind == SL_VALUE_STR_ARRAY
             ? sl_value_str(list->as.str_array.items[i].data, list->as.str_array.items[i].size_bytes)
             : sl_value_int(list->as.int_array.items[i]);
}

static size_t list_count(const sl_value *list) {
  return list->kind == SL_VALUE_STR_ARRAY ? list->as.str_array.count
         : list->kind == SL_VALUE_INT_ARRAY ? list->as.int_array.count
                                            : 0;
}

int sl_query_compare_values(const sl_value *a, const sl_value *b) {
  bool a_int = a->kind == SL_VALUE_INT || a->kind == SL_VALUE_TIMESTAMP;
  bool b_int = b->kind == SL_VALUE_INT || b->kind == SL_VALUE_TIMESTAMP;
  if (a_int && b_int) {
    int64_t x = as_int(a), y = as_int(b);
    return x < y ? -1 : x > y;
  }
  if (a->kind == SL_VALUE_STR && b->kind == SL_VALUE_STR) {
    return compare_bytes(&a->as.str, &b->as.str);
  }
  if (a->kind == b->kind && is_array(a)) { /* element by element: equal only if equal in order */
    size_t a_count = list_count(a), b_count = list_count(b);
    for (size_t i = 0; i < a_count && i < b_count; i++) {
      sl_value x = list_item(a, i), y = list_item(b, i);
      int order = sl_query_compare_values(&x, &y);
      if (order != 0) {
        return order;
      }
    }
    return a_count < b_count ? -1 : a_count > b_count;
  }
  return a->kind < b->kind ? -1 : a->kind > b->kind; /* different kinds never equal */
}

/* ---- series patterns (logical.ParseEntities) ---- */

/* A pattern: one value per series tag, kind NULL-with-flag meaning "any". */
typedef struct pattern {
  sl_value values[SL_QUERY_MAX_SERIES_TAGS];
  bool any[SL_QUERY_MAX_SERIES_TAGS];
} pattern;

/* A list of patterns; `none` is BanyanDB's nil (no series). */
typedef struct pattern_list {
  pattern *items;
  size_t count;
  bool none;
} pattern_list;

typedef struct eval_context {
  const sl_query_internal *query;
  bool trace_ids_given;
  bool ok;
  bool keep_order_tags; /* plan the trace skipping filter: conditions on the orderBy tags stay */
} eval_context;

static pattern_list list_any(const eval_context *context) {
  pattern_list list = {.items = calloc(1, sizeof(pattern)), .count = 1};
  if (list.items == NULL) {
    list.none = true;
    list.count = 0;
    return list;
  }
  for (size_t i = 0; i < context->query->series_count; i++) {
    list.items[0].any[i] = true;
  }
  return list;
}

static bool all_any(const eval_context *context, const pattern_list *list) {
  for (size_t p = 0; p < list->count; p++) {
    for (size_t i = 0; i < context->query->series_count; i++) {
      if (!list->items[p].any[i]) {
        return false;
      }
    }
  }
  return true; /* vacuously for none / empty, as BanyanDB's anyEntity */
}

static void list_free(pattern_list *list) {
  free(list->items);
  list->items = NULL;
  list->count = 0;
}

/* Takes ownership of *left and *right (left empty after the call). */
static pattern_list take(pattern_list *list) {
  pattern_list moved = *list;
  *list = (pattern_list){0};
  return moved;
}

static pattern_list merge_patterns(const eval_context *context, sl_criteria_kind op,
                                   pattern_list *left_in, pattern_list *right_in) {
  pattern_list left = take(left_in);
  pattern_list right = take(right_in);
  size_t count = context->query->series_count;
  bool left_any = all_any(context, &left);
  bool right_any = all_any(context, &right);
  if (op == SL_CRITERIA_AND) {
    if (left_any && !right_any) {
      list_free(&left);
      return right;
    }
    if (!left_any && right_any) {
      list_free(&right);
      return left;
    }
  } else {
    if (left_any) {
      list_free(&right);
      return left;
    }
    if (right_any) {
      list_free(&left);
      return right;
    }
  }
  pattern_list merged = {.items = calloc(left.count + right.count + 1, sizeof(pattern)),
                         .count = left.count + right.count};
  if (merged.items == NULL) {
    list_free(&left);
    list_free(&right);
    return (pattern_list){.none = true};
  }
  if (left.count > 0) {
    memcpy(merged.items, left.items, left.count * sizeof(pattern));
  }
  if (right.count > 0) {
    memcpy(merged.items + left.count, right.items, right.count * sizeof(pattern));
  }
  list_free(&left);
  list_free(&right);
  pattern result;
  for (size_t i = 0; i < count; i++) {
    bool entry_any = true;
    sl_value entry = sl_value_null();
    for (size_t j = 0; j < merged.count; j++) {
      const pattern *item = &merged.items[j];
      if (op == SL_CRITERIA_AND) {
        if (item->any[i]) {
          continue;
        }
        if (entry_any) {
          entry_any = false;
          entry = item->values[i];
        } else if (sl_query_compare_values(&entry, &item->values[i]) != 0) {
          list_free(&merged);
          return (pattern_list){.none = true};
        }
      } else {
        if (entry_any) {
          entry_any = item->any[i];
          entry = item->values[i];
        } else if (item->any[i] || sl_query_compare_values(&entry, &item->values[i]) != 0) {
          return merged; /* OR of different patterns: all of them */
        }
      }
    }
    result.any[i] = entry_any;
    result.values[i] = entry;
  }
  merged.items[0] = result;
  merged.count = 1;
  return merged;
}

const sl_index_rule *sl_query_rule_named(const sl_query_internal *query, const char *name) {
  for (size_t i = 0; i < query->bound_rule_count; i++) {
    if (strcmp(query->bound_rules[i]->name, name) == 0) {
      return query->bound_rules[i];
    }
  }
  return NULL;
}

static bool is_id_tag(const sl_query *q, const char *tag) {
  return strcmp(tag, q->trace->trace_id_tag) == 0 || (q->trace->span_id_tag != NULL && strcmp(tag, q->trace->span_id_tag) == 0);
}

/* A tag of the bound rule *named* like the orderBy rule's last tag (trace_plan_tag_filter.go:
 * s.IndexRuleDefined(uis.orderByTag) looks a rule up by name). */
static bool on_order_skip_rule(const sl_query_internal *query, const char *tag) {
  const sl_query *q = &query->public;
  if (q->order_rule == NULL || q->order_rule->tag_count == 0) {
    return false;
  }
  const sl_index_rule *rule = sl_query_rule_named(query, q->order_rule->tags[q->order_rule->tag_count - 1]);
  for (size_t t = 0; rule != NULL && t < rule->tag_count; t++) {
    if (strcmp(rule->tags[t], tag) == 0) {
      return true;
    }
  }
  return false;
}

bool sl_query_trace_ignores_tag(const sl_query_internal *query, const char *tag) {
  return is_id_tag(&query->public, tag) || on_order_skip_rule(query, tag);
}

/* Does a condition leaf stay in the row filter?  (BanyanDB drops some.) */
static bool leaf_filters(const eval_context *context, const sl_criteria *leaf) {
  const sl_query_internal *query = context->query;
  const sl_query *q = &query->public;
  int series = series_index(query, leaf->tag_name);
  if (q->model == SL_QUERY_STREAM) {
    return !(series >= 0 && (leaf->op == SL_BINARY_OP_EQ || leaf->op == SL_BINARY_OP_IN));
  }
  if (is_id_tag(q, leaf->tag_name)) {
    return false; /* span ids: see span_id_filter */
  }
  if (!context->keep_order_tags && on_order_skip_rule(query, leaf->tag_name)) {
    return false;
  }
  return !(series >= 0 && !context->trace_ids_given);
}

/* A filter node after BanyanDB's planning: leaves dropped where it drops them. */
typedef sl_filter_node filter_node;

typedef struct planned {
  const filter_node *filter; /* NULL: no condition */
  pattern_list patterns;
} planned;

static filter_node *new_node(sl_arena *arena) { return sl_arena_alloc(arena, sizeof(filter_node)); }

static planned plan(eval_context *context, sl_arena *arena, const sl_criteria *node, int depth) {
  planned out = {0};
  if (node == NULL || depth > 128) {
    out.patterns = list_any(context);
    return out;
  }
  if (node->kind == SL_CRITERIA_CONDITION) {
    const sl_query_internal *query = context->query;
    int series = series_index(query, node->tag_name);
    bool selects_series = series >= 0 && !(query->public.model == SL_QUERY_TRACE && context->trace_ids_given) &&
                          (node->op == SL_BINARY_OP_EQ || node->op == SL_BINARY_OP_IN);
    if (selects_series) {
      if (node->op == SL_BINARY_OP_EQ) {
        out.patterns = list_any(context);
        if (out.patterns.count == 1) {
          out.patterns.items[0].any[series] = false;
          out.patterns.items[0].values[series] = node->value;
        }
      } else {
        bool strings = node->value.kind == SL_VALUE_STR_ARRAY;
        size_t count = strings ? node->value.as.str_array.count : node->value.as.int_array.count;
        /* IN [] gives an empty (not nil) list: BanyanDB reads it as any series. */
        out.patterns.items = count > 0 ? calloc(count, sizeof(pattern)) : NULL;
        out.patterns.count = out.patterns.items != NULL ? count : 0;
        for (size_t v = 0; out.patterns.items != NULL && v < count; v++) {
          for (size_t i = 0; i < query->series_count; i++) {
            out.patterns.items[v].any[i] = true;
          }
          out.patterns.items[v].any[series] = false;
          out.patterns.items[v].values[series] =
              strings ? sl_value_str(node->value.as.str_array.items[v].data,
                                     node->value.as.str_array.items[v].size_bytes)
                      : sl_value_int(node->value.as.int_array.items[v]);
        }
      }
      return out;
    }
    out.patterns = list_any(context);
    if (leaf_filters(context, node)) {
      filter_node *leaf = new_node(arena);
      leaf->kind = SL_CRITERIA_CONDITION;
      leaf->leaf = node;
      out.filter = leaf;
    }
    return out;
  }
  if (node->left == NULL) {
    return plan(context, arena, node->right, depth + 1);
  }
  if (node->right == NULL) {
    return plan(context, arena, node->left, depth + 1);
  }
  planned left = plan(context, arena, node->left, depth + 1);
  planned right = plan(context, arena, node->right, depth + 1);
  out.patterns = merge_patterns(context, node->kind, &left.patterns, &right.patterns);
  list_free(&left.patterns); /* already taken by the merge; frees nothing */
  list_free(&right.patterns);
  /* A contradiction (out.patterns.none) empties the series of this subtree, not its row filter:
   * BanyanDB builds the row filter apart from the series (logical.BuildTagFilter, where an entity
   * condition is the dummy filter that AND and OR drop), so the other conditions still filter rows. */
  if (left.filter == NULL) {
    out.filter = right.filter;
  } else if (right.filter == NULL) {
    out.filter = left.filter;
  } else {
    filter_node *both = new_node(arena);
    both->kind = node->kind;
    both->left = left.filter;
    both->right = right.filter;
    out.filter = both;
  }
  /* The analyzer loses track of the lists moved into out.patterns by merge_patterns. */
  return out; // NOLINT(clang-analyzer-unix.Malloc)
}

/* ---- row predicates ---- */

static bool value_equals(const sl_value *row_value, const sl_value *literal) {
  if (row_value->kind == SL_VALUE_NULL || literal->kind == SL_VALUE_NULL) {
    return false;
  }
  return sl_query_compare_values(row_value, literal) == 0;
}

static bool array_contains(const sl_value *array, const sl_value *item) {
  if (array->kind == SL_VALUE_STR_ARRAY && item->kind == SL_VALUE_STR) {
    for (size_t i = 0; i < array->as.str_array.count; i++) {
      if (compare_bytes(&array->as.str_array.items[i], &item->as.str) == 0) {
        return true;
      }
    }
  }
  if (array->kind == SL_VALUE_INT_ARRAY && item->kind == SL_VALUE_INT) {
    for (size_t i = 0; i < array->as.int_array.count; i++) {
      if (array->as.int_array.items[i] == item->as.int_value) {
        return true;
      }
    }
  }
  return false;
}

/* The i-th item of a list literal as a value. */
/* BanyanDB's analyzers as its MATCH row filter applies them (pkg/index/analyzer): "url", runs of
 * letters and digits as they are; "simple", runs of letters, lower-cased; "standard", runs of
 * letters and digits, lower-cased (bleve's Unicode word rules and English stop words are not
 * modelled); "keyword", the whole value. Bytes from 0x80 count as letters (UTF-8 text). */
typedef struct analyzer_rules {
  bool digits; /* digits belong to tokens */
  bool lower;  /* tokens are lower-cased */
  bool whole;  /* the whole value is one token */
} analyzer_rules;

static bool token_byte(const analyzer_rules *rules, unsigned char c) {
  return c >= 0x80 || isalpha(c) || (rules->digits && isdigit(c));
}

/* The next token of text from *at: its start and length, false when there is none. */
static bool next_token(const analyzer_rules *rules, const sl_bytes *text, size_t *at, size_t *start, size_t *length) {
  if (rules->whole) {
    if (*at > 0) {
      return false;
    }
    *at = text->size_bytes + 1;
    *start = 0;
    *length = text->size_bytes;
    return true;
  }
  size_t i = *at;
  while (i < text->size_bytes && !token_byte(rules, (unsigned char)text->data[i])) i++;
  *start = i;
  while (i < text->size_bytes && token_byte(rules, (unsigned char)text->data[i])) i++;
  *length = i - *start;
  *at = i;
  return *length > 0;
}

static bool same_token(const analyzer_rules *rules, const char *a, const char *b, size_t length) {
  return rules->lower ? strncasecmp(a, b, length) == 0 : memcmp(a, b, length) == 0;
}

/* MATCH: every token of the query is among the value's (strArrLiteral.Contains). Without an
 * analyzer BanyanDB compares two string literals by identity, which never holds. */
static bool tokens_match(const char *analyzer, const sl_bytes *text, const sl_bytes *query) {
  const char *name = analyzer != NULL ? analyzer : "";
  analyzer_rules rules;
  if (strcmp(name, "url") == 0) {
    rules = (analyzer_rules){.digits = true};
  } else if (strcmp(name, "simple") == 0) {
    rules = (analyzer_rules){.lower = true};
  } else if (strcmp(name, "standard") == 0) {
    rules = (analyzer_rules){.digits = true, .lower = true};
  } else if (strcmp(name, "keyword") == 0) {
    rules = (analyzer_rules){.whole = true};
  } else {
    return false; /* none, or one BanyanDB does not know */
  }
  size_t q = 0, q_start = 0, q_length = 0;
  while (next_token(&rules, query, &q, &q_start, &q_length)) {
    bool found = false;
    size_t t = 0, t_start = 0, t_length = 0;
    while (!found && next_token(&rules, text, &t, &t_start, &t_length)) {
      found = t_length == q_length && same_token(&rules, text->data + t_start, query->data + q_start, q_length);
    }
    if (!found) {
      return false;
    }
  }
  return true;
}

static bool leaf_value_true(const sl_criteria *leaf, const sl_value *value) {
  const sl_value *literal = &leaf->value;
  switch (leaf->op) {
    case SL_BINARY_OP_EQ: return value_equals(value, literal);
    case SL_BINARY_OP_NE: return !value_equals(value, literal);
    case SL_BINARY_OP_LT:
    case SL_BINARY_OP_GT:
    case SL_BINARY_OP_LE:
    case SL_BINARY_OP_GE: {
      if (value->kind == SL_VALUE_NULL || literal->kind == SL_VALUE_NULL) {
        return false;
      }
      int order = sl_query_compare_values(value, literal);
      if (is_array(value) || is_array(literal)) {
        /* Arrays compare only when equal, as 0 (BanyanDB's strArrLiteral/intArrLiteral Compare). */
        return order == 0 && (leaf->op == SL_BINARY_OP_LE || leaf->op == SL_BINARY_OP_GE);
      }
      return leaf->op == SL_BINARY_OP_LT   ? order < 0
             : leaf->op == SL_BINARY_OP_GT ? order > 0
             : leaf->op == SL_BINARY_OP_LE ? order <= 0
                                           : order >= 0;
    }
    case SL_BINARY_OP_IN:
    case SL_BINARY_OP_NOT_IN: {
      bool found = false;
      for (size_t i = 0; i < list_count(literal) && !found; i++) {
        sl_value item = list_item(literal, i);
        found = value_equals(value, &item);
      }
      return leaf->op == SL_BINARY_OP_IN ? found : !found;
    }
    case SL_BINARY_OP_HAVING:
    case SL_BINARY_OP_NOT_HAVING: {
      bool all = value->kind != SL_VALUE_NULL;
      if (literal->kind == SL_VALUE_STR || literal->kind == SL_VALUE_INT) {
        all = all && array_contains(value, literal);
      } else {
        for (size_t i = 0; i < list_count(literal) && all; i++) {
          sl_value item = list_item(literal, i);
          all = array_contains(value, &item);
        }
      }
      return leaf->op == SL_BINARY_OP_HAVING ? all : !all;
    }
    case SL_BINARY_OP_MATCH:
      return value->kind == SL_VALUE_STR && literal->kind == SL_VALUE_STR &&
             tokens_match(leaf->match_analyzer, &value->as.str, &literal->as.str);
  }
  return false;
}

static bool leaf_true(const eval_context *context, const sl_criteria *leaf, const sl_query_row *row) {
  (void)context;
  return leaf_value_true(leaf, &row->tags[leaf->tag->tag_index]);
}

static bool filter_true(const eval_context *context, const filter_node *node, const sl_query_row *row) {
  if (node == NULL) {
    return true;
  }
  if (node->kind == SL_CRITERIA_CONDITION) {
    return leaf_true(context, node->leaf, row);
  }
  bool left = filter_true(context, node->left, row);
  if (node->kind == SL_CRITERIA_AND) {
    return left && filter_true(context, node->right, row);
  }
  return left || filter_true(context, node->right, row);
}

/* BanyanDB's trace block skip filter (sidx path only): an EQ with an int or
 * null literal looks its decimal text up among 8-byte values and skips every
 * block; AND and OR skip only when both sides skip. */
static bool skips_every_block(const filter_node *node) {
  if (node == NULL) {
    return false;
  }
  if (node->kind == SL_CRITERIA_CONDITION) {
    return node->leaf->op == SL_BINARY_OP_EQ &&
           (node->leaf->value.kind == SL_VALUE_INT || node->leaf->value.kind == SL_VALUE_NULL);
  }
  return skips_every_block(node->left) && skips_every_block(node->right);
}

/* BanyanDB skips sidx blocks with the filter buildTraceFilter makes, which keeps every condition
 * but the series' (index_filter.go buildFilterFromCondition), also those on the orderBy tags the
 * row filter leaves out: orderBy duration with duration = 500 reads no block. */
static bool skips_all_blocks(const eval_context *context, sl_arena *arena) {
  eval_context keep = *context;
  keep.keep_order_tags = true;
  planned skipping = plan(&keep, arena, context->query->public.criteria, 0);
  bool all = skips_every_block(skipping.filter);
  list_free(&skipping.patterns);
  return all;
}

/* Whether a leaf of the row filter names tag. */
static bool filter_names_tag(const filter_node *node, const char *tag) {
  if (node == NULL) {
    return false;
  }
  if (node->kind == SL_CRITERIA_CONDITION) {
    return strcmp(node->leaf->tag_name, tag) == 0;
  }
  return filter_names_tag(node->left, tag) || filter_names_tag(node->right, tag);
}

static bool series_match(const eval_context *context, const pattern_list *patterns,
                         const sl_query_row *row) {
  if (patterns->none) {
    return false;
  }
  for (size_t p = 0; p < patterns->count; p++) {
    bool match = true;
    for (size_t i = 0; i < context->query->series_count && match; i++) {
      if (!patterns->items[p].any[i]) {
        match = value_equals(&row->tags[context->query->series_tags[i]->tag_index],
                             &patterns->items[p].values[i]);
      }
    }
    if (match) {
      return true;
    }
  }
  return false;
}

/* ---- a bytes -> entry index table (open addressing) ---- */

typedef struct byte_index {
  size_t *slots; /* entry index + 1; 0 is empty */
  size_t capacity;
} byte_index;

static bool byte_index_init(byte_index *index, size_t expected) {
  size_t capacity = 16;
  while (capacity < expected * 2 + 1) {
    capacity *= 2;
  }
  index->slots = calloc(capacity, sizeof(size_t));
  index->capacity = capacity;
  return index->slots != NULL;
}

/* The slot for key: empty, or holding the entry whose key equals it;
 * key_of(context, entry) gives an entry's key. */
static size_t *byte_index_slot(const byte_index *index, const sl_bytes *key,
                               sl_bytes (*key_of)(const void *context, size_t entry), const void *context) {
  size_t mask = index->capacity - 1;
  size_t slot = sl_hash64(key->data, key->size_bytes, 0) & mask;
  for (;;) {
    size_t *at = &index->slots[slot];
    if (*at == 0) {
      return at;
    }
    sl_bytes other = key_of(context, *at - 1);
    if (compare_bytes(&other, key) == 0) {
      return at;
    }
    slot = (slot + 1) & mask;
  }
}

/* ---- ordering ---- */

typedef struct sort_entry {
  size_t row;
  sl_value key;
  int64_t timestamp_ns;
} sort_entry;

static int compare_entries(const void *a, const void *b, void *context) {
  sl_sort sort_direction = *(const sl_sort *)context;
  const sort_entry *x = a;
  const sort_entry *y = b;
  int order;
  bool x_null = x->key.kind == SL_VALUE_NULL, y_null = y->key.kind == SL_VALUE_NULL;
  if (x_null || y_null) {
    order = x_null == y_null ? 0 : x_null ? 1 : -1; /* missing keys last */
    if (order != 0) {
      return order;
    }
  } else {
    order = sl_query_compare_values(&x->key, &y->key);
  }
  if (order == 0) {
    order = x->timestamp_ns < y->timestamp_ns ? -1 : x->timestamp_ns > y->timestamp_ns;
  }
  if (order == 0) {
    order = x->row < y->row ? -1 : x->row > y->row;
  }
  return sort_direction == SL_SORT_DESC ? -order : order;
}

static bool in_time_range(const sl_query *query, const sl_query_row *row) {
  return !query->has_time_range || (row->timestamp_ns >= query->begin_ns && row->timestamp_ns <= query->end_ns);
}

void sl_query_result_free(sl_query_result *result) {
  if (result == NULL) {
    return;
  }
  free(result->rows);
  free(result->row_keys);
  free(result->trace_offsets);
  free(result->trace_keys);
  memset(result, 0, sizeof *result);
}

/* Rows older than the retention cutoff are gone: a segment [start, start +
 * interval) is dropped when its end is at or before now - ttl. */
typedef struct retention {
  bool enabled;
  int64_t cutoff_ns;
  int64_t interval_ns;
} retention;

static bool row_kept(const retention *policy, const sl_query_row *row) {
  if (!policy->enabled || policy->interval_ns <= 0) {
    return true;
  }
  int64_t start = row->timestamp_ns - ((row->timestamp_ns % policy->interval_ns) + policy->interval_ns) % policy->interval_ns;
  return start + policy->interval_ns > policy->cutoff_ns;
}

typedef struct element_context {
  const sl_query_row *rows;
  const sort_entry *entries;
} element_context;

static sl_bytes element_key(const void *context, size_t entry) {
  const element_context *lookup = context;
  return lookup->rows[lookup->entries[entry].row].element_id;
}

static sl_status evaluate_stream(eval_context *context, const planned *planned_query, const retention *policy,
                                 bool unlimited, const sl_query_row *rows, size_t row_count,
                                 sl_query_result *result, sl_error *err) {
  const sl_query *q = &context->query->public;
  sort_entry *entries = calloc(row_count + 1, sizeof *entries);
  if (entries == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "evaluator: out of memory");
  }
  byte_index ids;
  if (!byte_index_init(&ids, row_count)) {
    free(entries);
    return sl_error_set(err, SL_ERR_NOMEM, "evaluator: out of memory");
  }
  size_t matched = 0;
  for (size_t r = 0; r < row_count; r++) {
    const sl_query_row *row = &rows[r];
    if (!row_kept(policy, row) || !in_time_range(q, row) || !series_match(context, &planned_query->patterns, row) ||
        !filter_true(context, planned_query->filter, row)) {
      continue;
    }
    /* Duplicate element ids: the later write wins. */
    element_context lookup = {.rows = rows, .entries = entries};
    size_t *slot = byte_index_slot(&ids, &row->element_id, element_key, &lookup);
    if (*slot != 0) {
      entries[*slot - 1].row = r;
      continue;
    }
    *slot = matched + 1;
    entries[matched].row = r;
    entries[matched].timestamp_ns = row->timestamp_ns;
    matched++;
  }
  for (size_t m = 0; m < matched; m++) {
    const sl_query_row *row = &rows[entries[m].row];
    entries[m].timestamp_ns = row->timestamp_ns;
    if (q->order_rule != NULL) {
      const sl_tag_spec *tag = sl_stream_find_tag(q->stream, q->order_rule->tags[0]);
      entries[m].key = tag != NULL ? row->tags[tag->tag_index] : sl_value_null();
    } else {
      entries[m].key = sl_value_int(row->timestamp_ns);
    }
  }
  sl_sort direction = q->sort;
  qsort_r(entries, matched, sizeof *entries, compare_entries, &direction);
  uint32_t limit = q->limit == 0 ? 20 : q->limit;
  size_t first = q->offset < matched ? q->offset : matched;
  size_t count = matched - first < limit ? matched - first : limit;
  if (unlimited) {
    first = 0;
    count = matched;
  }
  result->rows = calloc(count + 1, sizeof(size_t));
  result->row_keys = calloc(count + 1, sizeof(sl_value));
  if (result->rows == NULL || result->row_keys == NULL) {
    free(entries);
    free(ids.slots);
    sl_query_result_free(result);
    return sl_error_set(err, SL_ERR_NOMEM, "evaluator: out of memory");
  }
  for (size_t i = 0; i < count; i++) {
    const sort_entry *entry = &entries[first + i];
    result->rows[i] = entry->row;
    result->row_keys[i] = q->order_rule != NULL
                              ? entry->key
                              : (sl_value){.kind = SL_VALUE_TIMESTAMP, .as.timestamp_ns = entry->timestamp_ns};
  }
  result->row_count = count;
  free(entries);
  free(ids.slots);
  return SL_OK;
}


/* BanyanDB pulls the ids of every EQ/IN condition on the span-id tag out of the tree, whatever AND
 * or OR joins them, into one list ANDed with the row filter: a span matches when its id is any of
 * them (buildSpanIDFilter, matchSpanID). */
typedef struct span_id_set {
  const sl_query *query;
  const sl_criteria *root;
  bool any;           /* the criteria hold at least one such condition */
  size_t tag_index;   /* the span-id tag's index in a row */
} span_id_set;

static bool is_span_id_condition(const sl_query *q, const sl_criteria *node) {
  return node->kind == SL_CRITERIA_CONDITION && strcmp(node->tag_name, q->trace->span_id_tag) == 0 &&
         (node->op == SL_BINARY_OP_EQ || node->op == SL_BINARY_OP_IN);
}

static bool holds_span_id_condition(const sl_query *q, const sl_criteria *node, int depth) {
  if (node == NULL || depth > 128) {
    return false;
  }
  if (node->kind != SL_CRITERIA_CONDITION) {
    return holds_span_id_condition(q, node->left, depth + 1) || holds_span_id_condition(q, node->right, depth + 1);
  }
  return is_span_id_condition(q, node);
}

static void collect_span_ids(const sl_query *q, const sl_criteria *node, span_id_set *set, int depth) {
  set->query = q;
  set->root = node;
  const sl_tag_spec *tag = q->trace->span_id_tag != NULL ? sl_trace_find_tag(q->trace, q->trace->span_id_tag) : NULL;
  set->any = tag != NULL && holds_span_id_condition(q, node, depth);
  set->tag_index = tag != NULL ? tag->tag_index : 0;
}

static bool span_id_listed(const sl_query *q, const sl_criteria *node, const sl_value *value, int depth) {
  if (node == NULL || depth > 128) {
    return false;
  }
  if (node->kind != SL_CRITERIA_CONDITION) {
    return span_id_listed(q, node->left, value, depth + 1) || span_id_listed(q, node->right, value, depth + 1);
  }
  if (!is_span_id_condition(q, node)) {
    return false;
  }
  if (node->op == SL_BINARY_OP_EQ) {
    return value_equals(value, &node->value);
  }
  for (size_t k = 0; k < list_count(&node->value); k++) {
    sl_value item = list_item(&node->value, k);
    if (value_equals(value, &item)) {
      return true;
    }
  }
  return false;
}

static bool span_ids_match(const span_id_set *set, const sl_query_row *row) {
  return !set->any || span_id_listed(set->query, set->root, &row->tags[set->tag_index], 0);
}

/* (1) Conditions on the orderBy rule's key tag bound the sidx scan: AND
 * narrows [min, max], OR widens it. */
typedef struct key_range {
  bool bounded;
  int64_t min;
  int64_t max;
} key_range;

static key_range range_of(const sl_query *q, const char *key_tag, const sl_criteria *node, int depth) {
  key_range all = {.bounded = false, .min = INT64_MIN, .max = INT64_MAX};
  if (node == NULL || depth > 128) {
    return all;
  }
  if (node->kind == SL_CRITERIA_CONDITION) {
    if (strcmp(node->tag_name, key_tag) != 0 ||
        (node->value.kind != SL_VALUE_INT && node->value.kind != SL_VALUE_TIMESTAMP)) {
      return all;
    }
    int64_t v = as_int(&node->value);
    switch (node->op) {
      case SL_BINARY_OP_GT: return (key_range){true, v == INT64_MAX ? v : v + 1, INT64_MAX};
      case SL_BINARY_OP_GE: return (key_range){true, v, INT64_MAX};
      case SL_BINARY_OP_LT: return (key_range){true, INT64_MIN, v == INT64_MIN ? v : v - 1};
      case SL_BINARY_OP_LE: return (key_range){true, INT64_MIN, v};
      default: return all; /* EQ and the rest bound nothing (extractBoundsFromCondition) */
    }
  }
  (void)q;
  key_range left = range_of(q, key_tag, node->left, depth + 1);
  key_range right = range_of(q, key_tag, node->right, depth + 1);
  if (node->left == NULL) {
    return right;
  }
  if (node->right == NULL) {
    return left;
  }
  if (node->kind == SL_CRITERIA_AND) {
    if (!left.bounded) return right;
    if (!right.bounded) return left;
    return (key_range){true, left.min > right.min ? left.min : right.min,
                       left.max < right.max ? left.max : right.max};
  }
  if (!left.bounded || !right.bounded) {
    return all; /* OR with an unbounded side bounds nothing */
  }
  return (key_range){true, left.min < right.min ? left.min : right.min,
                     left.max > right.max ? left.max : right.max};
}

/* The sidx key range of a trace query ordered by key_tag: from the conditions on it, except when
 * the key is the timestamp tag, whose range is the window (trace_plan_tag_filter.go: "if
 * uis.orderByTag == uis.timestampTagName { minVal, maxVal = the time range }"), which in_window
 * applies. */
static sl_status key_range_of(const sl_query *q, const sl_tag_spec *key_tag, key_range *out, sl_error *err) {
  *out = (key_range){.bounded = false, .min = INT64_MIN, .max = INT64_MAX};
  if (key_tag == NULL || strcmp(key_tag->name, q->trace->timestamp_tag) == 0) {
    return SL_OK;
  }
  *out = range_of(q, key_tag->name, q->criteria, 0);
  if (out->bounded && out->min > out->max) {
    return sl_error_set(err, SL_ERR_INVALID, "conditions on %s give an empty key range [%lld, %lld]", key_tag->name,
                        (long long)out->min, (long long)out->max);
  }
  return SL_OK;
}

static sl_bytes trace_id_of(const sl_tag_spec *trace_tag, const sl_query_row *row) {
  const sl_value *value = &row->tags[trace_tag->tag_index];
  return value->kind == SL_VALUE_STR ? value->as.str : (sl_bytes){.data = "", .size_bytes = 0};
}

typedef struct trace_context {
  const sl_query_row *rows;
  const sort_entry *traces;
  const sl_tag_spec *trace_tag;
} trace_context;

static sl_bytes trace_key(const void *context, size_t entry) {
  const trace_context *lookup = context;
  return trace_id_of(lookup->trace_tag, &lookup->rows[lookup->traces[entry].row]);
}

/* Is the row inside the query's window: exactly, or (day-segment reads)
 * inside a segment that overlaps it? */
static bool in_window(const sl_query *q, const sl_query_row *row, bool exact, int64_t interval_ns) {
  if (!q->has_time_range || exact || interval_ns <= 0) {
    return in_time_range(q, row);
  }
  int64_t start = row->timestamp_ns - ((row->timestamp_ns % interval_ns) + interval_ns) % interval_ns;
  return start <= q->end_ns && start + interval_ns > q->begin_ns;
}

static int compare_trace_ids(const void *a, const void *b) {
  return compare_bytes((const sl_bytes *)a, (const sl_bytes *)b);
}

/* The plan (sl_query_plan_make) holds BanyanDB's planning of the trace query: the evaluator reads
 * the same key range, window, span-id list, trace ids and block skip as the engines do. */
struct sl_query_plan {
  eval_context context;
  sl_arena *arena;
  planned planned;
  span_id_set span_ids;
  const sl_tag_spec *key_tag;
  key_range keys;
  bool exact_window;
  bool nothing;
  sl_bytes *trace_ids;
  size_t trace_id_count;
};

static sl_status evaluate_trace(const sl_query_plan *plan, const retention *policy, bool unlimited,
                                const sl_query_row *rows, size_t row_count, sl_query_result *result, sl_error *err) {
  const eval_context *context = &plan->context;
  const planned *planned_query = &plan->planned;
  const sl_query_internal *internal = context->query;
  const sl_query *q = &internal->public;
  const sl_tag_spec *trace_tag = sl_trace_find_tag(q->trace, q->trace->trace_id_tag);
  bool by_ids = q->trace_id_count > 0;
  const sl_tag_spec *key_tag = plan->key_tag;
  bool exact_window = plan->exact_window;
  int64_t interval_ns = internal->group != NULL ? sl_interval_ms(internal->group->segment_interval) * 1000000 : 0;
  key_range keys = plan->keys;
  const span_id_set *span_ids = &plan->span_ids;
  uint32_t limit = q->limit == 0 ? 20 : q->limit;
  const sl_bytes *ids = plan->trace_ids;
  size_t id_count = plan->trace_id_count;
  bool nothing = plan->nothing;
  sort_entry *traces = calloc(row_count + 1, sizeof *traces);
  byte_index trace_index = {0};
  if (traces == NULL || !byte_index_init(&trace_index, row_count)) {
    free(traces);
    return sl_error_set(err, SL_ERR_NOMEM, "evaluator: out of memory");
  }
  size_t trace_count = 0;
  for (size_t r = 0; r < row_count && !nothing; r++) {
    const sl_query_row *row = &rows[r];
    if (!row_kept(policy, row) || !in_window(q, row, exact_window, interval_ns)) {
      continue;
    }
    size_t id_rank = 0;
    if (by_ids) {
      bool listed = false;
      for (; id_rank < id_count && !listed; id_rank++) {
        sl_value id = sl_value_str(ids[id_rank].data, ids[id_rank].size_bytes);
        listed = value_equals(&row->tags[trace_tag->tag_index], &id);
      }
      if (!listed) {
        continue;
      }
      id_rank--;
    } else if (!series_match(context, &planned_query->patterns, row)) {
      continue;
    }
    if (!filter_true(context, planned_query->filter, row) || !span_ids_match(span_ids, row)) {
      continue;
    }
    sl_value key = sl_value_int((int64_t)id_rank);
    if (key_tag != NULL) {
      key = row->tags[key_tag->tag_index];
      if (key.kind == SL_VALUE_NULL) {
        continue; /* a span without the key is not in the sidx */
      }
      int64_t k = as_int(&key);
      if (k < keys.min || k > keys.max) {
        continue;
      }
    }
    sl_bytes id = trace_id_of(trace_tag, row);
    trace_context lookup = {.rows = rows, .traces = traces, .trace_tag = trace_tag};
    size_t *slot = byte_index_slot(&trace_index, &id, trace_key, &lookup);
    if (*slot == 0) {
      *slot = trace_count + 1;
      traces[trace_count++] = (sort_entry){.row = r, .key = key, .timestamp_ns = 0};
      continue;
    }
    size_t t = *slot - 1;
    /* DESC orders by the largest key met, ASC by the smallest. */
    int order = sl_query_compare_values(&key, &traces[t].key);
    if (key_tag != NULL && ((q->sort == SL_SORT_DESC && order > 0) || (q->sort != SL_SORT_DESC && order < 0))) {
      traces[t].key = key;
    }
  }
  sl_sort direction = by_ids ? SL_SORT_ASC : q->sort;
  qsort_r(traces, trace_count, sizeof *traces, compare_entries, &direction);
  size_t first = q->offset < trace_count ? q->offset : trace_count;
  size_t count = trace_count - first < limit ? trace_count - first : limit;
  if (unlimited) {
    first = 0;
    count = trace_count;
  }
  result->trace_offsets = calloc(count + 2, sizeof(size_t));
  result->trace_keys = calloc(count + 1, sizeof(sl_value));
  result->rows = calloc(row_count + 1, sizeof(size_t));
  if (result->trace_offsets == NULL || result->trace_keys == NULL || result->rows == NULL) {
    free(traces);
    free(trace_index.slots);
    sl_query_result_free(result);
    return sl_error_set(err, SL_ERR_NOMEM, "evaluator: out of memory");
  }
  /* Spans of the returned traces, in one pass: count per trace, then place. */
  size_t *per_trace = calloc(count + 1, sizeof(size_t));
  if (per_trace == NULL) {
    free(traces);
    free(trace_index.slots);
    sl_query_result_free(result);
    return sl_error_set(err, SL_ERR_NOMEM, "evaluator: out of memory");
  }
  /* The index maps ids to positions before sorting; rebuild it for the output. */
  memset(trace_index.slots, 0, trace_index.capacity * sizeof(size_t));
  trace_context output = {.rows = rows, .traces = traces + first, .trace_tag = trace_tag};
  for (size_t t = 0; t < count; t++) {
    sl_bytes id = trace_id_of(trace_tag, &rows[traces[first + t].row]);
    *byte_index_slot(&trace_index, &id, trace_key, &output) = t + 1;
    result->trace_keys[t] = traces[first + t].key;
  }
  for (int pass = 0; pass < 2; pass++) {
    size_t used = 0;
    for (size_t t = 0; pass == 1 && t < count; t++) {
      result->trace_offsets[t] = used;
      used += per_trace[t];
      per_trace[t] = result->trace_offsets[t];
    }
    for (size_t r = 0; r < row_count && count > 0; r++) {
      if (!row_kept(policy, &rows[r]) || !in_window(q, &rows[r], exact_window, interval_ns)) {
        continue;
      }
      sl_bytes id = trace_id_of(trace_tag, &rows[r]);
      size_t slot = *byte_index_slot(&trace_index, &id, trace_key, &output);
      if (slot == 0) {
        continue;
      }
      if (pass == 0) {
        per_trace[slot - 1]++;
      } else {
        result->rows[per_trace[slot - 1]++] = r;
      }
    }
    if (pass == 1) {
      result->trace_offsets[count] = used;
    }
  }
  size_t used = result->trace_offsets[count];
  free(per_trace);
  result->trace_count = count;
  result->row_count = used;
  free(traces);
  free(trace_index.slots);
  return SL_OK;
}

/* A stream query whose criteria, taken whole, select no series (a contradiction, or IN [] alone) is
 * refused before any data is read (banyand/stream/query.go validateQueryInput: "timeRange and series
 * are required"); below the top an empty list reads as any series. */
static sl_status check_stream_series(const sl_query *query, const planned *planned_query, sl_error *err) {
  if (query->model == SL_QUERY_STREAM && (planned_query->patterns.none || planned_query->patterns.count == 0)) {
    return sl_error_set(err, SL_ERR_INVALID,
                        "query: the criteria select no series of %s/%s (their entity conditions contradict each "
                        "other or list no value; BanyanDB: \"timeRange and series are required\")",
                        query->group, query->name);
  }
  return SL_OK;
}

sl_status sl_query_evaluate(const sl_query *query, const sl_query_row *rows, size_t row_count,
                            const sl_query_options *options, sl_query_result *result, sl_error *err) {
  assert(query != NULL && result != NULL && (rows != NULL || row_count == 0));
  memset(result, 0, sizeof *result);
  const sl_query_internal *internal = (const sl_query_internal *)query;
  retention policy = {0};
  if (options != NULL && options->ttl_retention && internal->group != NULL) {
    policy.enabled = true;
    policy.interval_ns = sl_interval_ms(internal->group->segment_interval) * 1000000;
    policy.cutoff_ns = options->now_ns - sl_interval_ms(internal->group->ttl) * 1000000;
  }
  bool unlimited = options != NULL && options->unlimited;
  if (query->model == SL_QUERY_TRACE) {
    sl_query_plan *trace_plan = NULL;
    sl_status status = sl_query_plan_make(query, &trace_plan, err);
    if (status == SL_OK) {
      status = evaluate_trace(trace_plan, &policy, unlimited, rows, row_count, result, err);
    }
    sl_query_plan_free(trace_plan);
    return status;
  }
  eval_context context = {.query = internal, .trace_ids_given = false, .ok = true};
  sl_arena *arena = sl_arena_new(4096);
  if (arena == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "evaluator: out of memory");
  }
  planned planned_query = plan(&context, arena, query->criteria, 0);
  sl_status status = check_stream_series(query, &planned_query, err);
  if (status == SL_OK) {
    status = evaluate_stream(&context, &planned_query, &policy, unlimited, rows, row_count, result, err);
  }
  list_free(&planned_query.patterns);
  sl_arena_free(arena);
  return status;
}

/* ---- the plan, for the engines (plan.h) ---- */

sl_status sl_query_plan_make(const sl_query *query, sl_query_plan **out, sl_error *err) {
  assert(query != NULL && out != NULL);
  *out = NULL;
  sl_query_plan *p = calloc(1, sizeof *p);
  if (p == NULL || (p->arena = sl_arena_new(4096)) == NULL) {
    free(p);
    return sl_error_set(err, SL_ERR_NOMEM, "planner: out of memory");
  }
  const sl_query_internal *internal = (const sl_query_internal *)query;
  p->context = (eval_context){.query = internal, .trace_ids_given = query->trace_id_count > 0, .ok = true};
  p->planned = plan(&p->context, p->arena, query->criteria, 0);
  sl_status refused = check_stream_series(query, &p->planned, err);
  if (refused != SL_OK) {
    sl_query_plan_free(p);
    return refused;
  }
  p->keys = (key_range){.bounded = false, .min = INT64_MIN, .max = INT64_MAX};
  if (query->model == SL_QUERY_TRACE) {
    bool by_ids = query->trace_id_count > 0;
    p->key_tag = !by_ids && query->order_rule != NULL
                     ? sl_trace_find_tag(query->trace, query->order_rule->tags[query->order_rule->tag_count - 1])
                     : NULL;
    p->exact_window = by_ids || (p->key_tag != NULL && strcmp(p->key_tag->name, query->trace->timestamp_tag) == 0);
    sl_status keyed = key_range_of(query, p->key_tag, &p->keys, err);
    if (keyed != SL_OK) {
      sl_query_plan_free(p);
      return keyed;
    }
    collect_span_ids(query, query->criteria, &p->span_ids, 0);
    /* The sidx rows of a rule hold every span tag but the trace id, the span id and the rule's own
     * tags (write_standalone.go processIndexRules), so a row filter that still names the key tag
     * (no rule is named like it) fails on every row with "tag value is nil" (tag_filter.go
     * tagExpr), through AND, OR and NOT alike, and sidx drops every block (processWithFilter). */
    p->nothing = !by_ids && (skips_all_blocks(&p->context, p->arena) ||
                             (p->key_tag != NULL && filter_names_tag(p->planned.filter, p->key_tag->name)));
    if (by_ids) {
      p->trace_ids = sl_arena_alloc(p->arena, (query->trace_id_count + 1) * sizeof(sl_bytes));
      if (p->trace_ids == NULL) {
        sl_query_plan_free(p);
        return sl_error_set(err, SL_ERR_NOMEM, "planner: out of memory");
      }
      memcpy(p->trace_ids, query->trace_ids, query->trace_id_count * sizeof(sl_bytes));
      qsort(p->trace_ids, query->trace_id_count, sizeof(sl_bytes), compare_trace_ids);
      /* Cut to offset + limit first, duplicates and all, then de-duplicate: BanyanDB's static batch
       * source takes traceIDs[:maxTraceSize] of the sorted list (streaming_pipeline.go). */
      size_t cut = (size_t)query->offset + (query->limit == 0 ? 20 : query->limit);
      size_t listed = query->trace_id_count < cut ? query->trace_id_count : cut;
      for (size_t i = 0; i < listed; i++) {
        if (p->trace_id_count == 0 || compare_bytes(&p->trace_ids[p->trace_id_count - 1], &p->trace_ids[i]) != 0) {
          p->trace_ids[p->trace_id_count++] = p->trace_ids[i];
        }
      }
    }
  }
  *out = p;
  return SL_OK;
}

void sl_query_plan_free(sl_query_plan *plan) {
  if (plan == NULL) {
    return;
  }
  list_free(&plan->planned.patterns);
  sl_arena_free(plan->arena);
  free(plan);
}

size_t sl_query_plan_series_tag_count(const sl_query_plan *plan) { return plan->context.query->series_count; }

const sl_tag_spec *sl_query_plan_series_tag(const sl_query_plan *plan, size_t index) {
  assert(index < plan->context.query->series_count);
  return plan->context.query->series_tags[index];
}

bool sl_query_plan_no_series(const sl_query_plan *plan) { return plan->planned.patterns.none; }
size_t sl_query_plan_pattern_count(const sl_query_plan *plan) { return plan->planned.patterns.count; }

sl_value sl_query_plan_pattern_value(const sl_query_plan *plan, size_t index, size_t tag, bool *any) {
  assert(index < plan->planned.patterns.count && tag < plan->context.query->series_count);
  *any = plan->planned.patterns.items[index].any[tag];
  return plan->planned.patterns.items[index].values[tag];
}

bool sl_query_plan_series_match(const sl_query_plan *plan, const sl_value *series_values) {
  const pattern_list *patterns = &plan->planned.patterns;
  if (patterns->none) {
    return false;
  }
  for (size_t p = 0; p < patterns->count; p++) {
    bool match = true;
    for (size_t i = 0; i < plan->context.query->series_count && match; i++) {
      if (!patterns->items[p].any[i]) {
        match = value_equals(&series_values[i], &patterns->items[p].values[i]);
      }
    }
    if (match) {
      return true;
    }
  }
  return false;
}

const sl_filter_node *sl_query_plan_filter(const sl_query_plan *plan) { return plan->planned.filter; }

bool sl_query_plan_filter_match(const sl_query_plan *plan, const sl_value *tags) {
  sl_query_row row = {.tags = tags};
  return filter_true(&plan->context, plan->planned.filter, &row);
}

bool sl_query_leaf_match(const sl_criteria *leaf, const sl_value *value) {
  return leaf_value_true(leaf, value);
}

const sl_tag_spec *sl_query_plan_key_tag(const sl_query_plan *plan) { return plan->key_tag; }

void sl_query_plan_key_range(const sl_query_plan *plan, int64_t *min, int64_t *max) {
  *min = plan->keys.min;
  *max = plan->keys.max;
}

bool sl_query_plan_exact_window(const sl_query_plan *plan) { return plan->exact_window; }

bool sl_query_plan_span_ids_match(const sl_query_plan *plan, const sl_value *tags) {
  sl_query_row row = {.tags = tags};
  return span_ids_match(&plan->span_ids, &row);
}

bool sl_query_plan_skips_everything(const sl_query_plan *plan) { return plan->nothing; }
size_t sl_query_plan_trace_id_count(const sl_query_plan *plan) { return plan->trace_id_count; }

sl_bytes sl_query_plan_trace_id(const sl_query_plan *plan, size_t index) {
  assert(index < plan->trace_id_count);
  return plan->trace_ids[index];
}
