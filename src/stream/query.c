/* query.c: the Stream engine's query path (stream.h; docs/MODELS.md "Stream").
 *
 * time range -> segments -> tables (shards, pruned when the entity is fully
 * given) -> parts overlapping the range -> series of the part matching the
 * entity patterns -> blocks of those series overlapping the range -> rows:
 * indexed conditions through the part's term indexes (posting lists of row
 * positions), the rest by decoding the columns they name.  Matches are
 * de-duplicated by element id, ordered by time or by the orderBy rule's tag,
 * cut to [offset, offset + limit), and only then their projected tags read. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "storage/postings.h"

#include "query/plan.h"
#include "storage/elements.h"
#include "storage/series.h"
#include "stream/stream_internal.h"

void sl_stream_entity_values(const sl_stream_engine *engine, const sl_series_entry *entry, sl_value *out) {
  sl_engine_series_values(entry, engine->schema->entity_count, out);
}

sl_status sl_stream_column_value(const sl_stream_engine *engine, size_t tag, const sl_column_view *view, size_t row,
                                 sl_arena *arena, sl_value *out, sl_error *err) {
  return sl_engine_column_value(engine->schema->tags[tag].type, view, row, arena, out, err);
}

/* ------------------------------------------------------------------ posting-list algebra */

typedef struct index_result {
  roaring_bitmap_t *rows; /* NULL: every row of the part is a candidate */
  bool exact;             /* the candidates are exactly the matches */
} index_result;

static roaring_bitmap_t *all_rows(uint64_t rows) {
  roaring_bitmap_t *bitmap = roaring_bitmap_create();
  if (bitmap != NULL && rows > 0) {
    roaring_bitmap_add_range(bitmap, 0, rows);
  }
  return bitmap;
}

static bool literal_fits(const sl_tag_spec *tag, const sl_value *literal) {
  if (tag->type == SL_TAG_STRING) {
    return literal->kind == SL_VALUE_STR || literal->kind == SL_VALUE_STR_ARRAY;
  }
  if (tag->type == SL_TAG_INT) {
    return literal->kind == SL_VALUE_INT || literal->kind == SL_VALUE_INT_ARRAY;
  }
  return false;
}

static sl_bytes term_of(const sl_tag_spec *tag, const sl_value *value, uint8_t number[8]) {
  if (tag->type == SL_TAG_INT) {
    sl_term_from_int64(value->as.int_value, number);
    return (sl_bytes){.data = (const char *)number, .size_bytes = 8};
  }
  return value->as.str;
}

static sl_status lookup(sl_part *part, uint32_t index, sl_bytes term, sl_read_context *context, roaring_bitmap_t **out,
                        sl_error *err) {
  SL_TRY(sl_part_index_lookup(part, index, term, context, out, err));
  if (*out == NULL) {
    *out = roaring_bitmap_create();
  }
  return *out != NULL ? SL_OK : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
}

/* Conditions a term index answers exactly: EQ, NE, IN, NOT_IN, and ranges on
 * ints and strings (terms sort as the values compare). */
static sl_status leaf_index(const sl_stream_engine *engine, sl_part *part, const sl_criteria *leaf,
                            sl_read_context *context, index_result *out, sl_error *err) {
  out->rows = NULL;
  out->exact = false;
  const sl_tag_spec *tag = leaf->tag;
  int32_t index = engine->index_of_tag[tag->tag_index];
  if (index < 0 || !literal_fits(tag, &leaf->value)) {
    return SL_OK;
  }
  uint64_t rows = sl_part_info_of(part).rows;
  uint8_t number[8];
  roaring_bitmap_t *hits = NULL;
  bool complement = false;
  switch (leaf->op) {
    case SL_BINARY_OP_EQ:
    case SL_BINARY_OP_NE:
      if (leaf->value.kind == SL_VALUE_STR_ARRAY || leaf->value.kind == SL_VALUE_INT_ARRAY) {
        return SL_OK;
      }
      SL_TRY(lookup(part, (uint32_t)index, term_of(tag, &leaf->value, number), context, &hits, err));
      complement = leaf->op == SL_BINARY_OP_NE;
      break;
    case SL_BINARY_OP_IN:
    case SL_BINARY_OP_NOT_IN: {
      bool strings = leaf->value.kind == SL_VALUE_STR_ARRAY;
      if (!strings && leaf->value.kind != SL_VALUE_INT_ARRAY) {
        return SL_OK;
      }
      size_t count = strings ? leaf->value.as.str_array.count : leaf->value.as.int_array.count;
      hits = roaring_bitmap_create();
      if (hits == NULL) {
        return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
      }
      for (size_t i = 0; i < count; i++) {
        sl_value item = strings ? sl_value_str(leaf->value.as.str_array.items[i].data, leaf->value.as.str_array.items[i].size_bytes)
                                : sl_value_int(leaf->value.as.int_array.items[i]);
        roaring_bitmap_t *one = NULL;
        sl_status status = lookup(part, (uint32_t)index, term_of(tag, &item, number), context, &one, err);
        if (status != SL_OK) {
          sl_bitmap_free(hits);
          return status;
        }
        roaring_bitmap_or_inplace(hits, one);
        sl_bitmap_free(one);
      }
      complement = leaf->op == SL_BINARY_OP_NOT_IN;
      break;
    }
    case SL_BINARY_OP_LT:
    case SL_BINARY_OP_LE:
    case SL_BINARY_OP_GT:
    case SL_BINARY_OP_GE: {
      if (leaf->value.kind != SL_VALUE_INT && leaf->value.kind != SL_VALUE_STR) {
        return SL_OK;
      }
      bool upper = leaf->op == SL_BINARY_OP_LT || leaf->op == SL_BINARY_OP_LE;
      bool strict = leaf->op == SL_BINARY_OP_LT || leaf->op == SL_BINARY_OP_GT;
      sl_bytes bound = term_of(tag, &leaf->value, number);
      uint8_t moved[8];
      if (strict && tag->type == SL_TAG_INT) {
        int64_t v = leaf->value.as.int_value;
        if ((upper && v == INT64_MIN) || (!upper && v == INT64_MAX)) {
          out->rows = roaring_bitmap_create();
          out->exact = true;
          return out->rows != NULL ? SL_OK : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
        }
        sl_term_from_int64(upper ? v - 1 : v + 1, moved);
        bound = (sl_bytes){.data = (const char *)moved, .size_bytes = 8};
        strict = false;
      }
      SL_TRY(sl_part_index_range(part, (uint32_t)index, upper ? NULL : &bound, upper ? &bound : NULL, context, &hits, err));
      if (strict) { /* string: drop the bound itself */
        roaring_bitmap_t *same = NULL;
        sl_status status = lookup(part, (uint32_t)index, bound, context, &same, err);
        if (status != SL_OK) {
          sl_bitmap_free(hits);
          return status;
        }
        roaring_bitmap_andnot_inplace(hits, same);
        sl_bitmap_free(same);
      }
      break;
    }
    default: return SL_OK;
  }
  if (complement) {
    roaring_bitmap_t *all = all_rows(rows);
    if (all == NULL) {
      sl_bitmap_free(hits);
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    roaring_bitmap_andnot_inplace(all, hits);
    sl_bitmap_free(hits);
    hits = all;
  }
  out->rows = hits;
  out->exact = true;
  return SL_OK;
}

static sl_status node_index(const sl_stream_engine *engine, sl_part *part, const sl_filter_node *node,
                            sl_read_context *context, index_result *out, int depth, sl_error *err) {
  out->rows = NULL;
  out->exact = false;
  if (node == NULL) {
    out->exact = true;
    return SL_OK;
  }
  if (depth > 128) {
    return SL_OK;
  }
  if (node->kind == SL_CRITERIA_CONDITION) {
    return leaf_index(engine, part, node->leaf, context, out, err);
  }
  index_result left = {0}, right = {0};
  SL_TRY(node_index(engine, part, node->left, context, &left, depth + 1, err));
  sl_status status = node_index(engine, part, node->right, context, &right, depth + 1, err);
  if (status != SL_OK) {
    sl_bitmap_free(left.rows);
    return status;
  }
  if (node->kind == SL_CRITERIA_AND) {
    out->exact = left.exact && right.exact;
    if (left.rows != NULL && right.rows != NULL) {
      roaring_bitmap_and_inplace(left.rows, right.rows);
      sl_bitmap_free(right.rows);
      out->rows = left.rows;
    } else {
      out->rows = left.rows != NULL ? left.rows : right.rows;
    }
    return SL_OK;
  }
  /* OR */
  if (left.rows != NULL && right.rows != NULL) {
    roaring_bitmap_or_inplace(left.rows, right.rows);
    sl_bitmap_free(right.rows);
    out->rows = left.rows;
    out->exact = left.exact && right.exact;
    return SL_OK;
  }
  sl_bitmap_free(left.rows);
  sl_bitmap_free(right.rows);
  out->rows = NULL;
  out->exact = false;
  return SL_OK;
}

/* ------------------------------------------------------------------ collecting matches */

typedef struct candidate {
  int64_t timestamp_ns;
  sl_value key;
  uint64_t element_hash;
  uint32_t table;
  uint32_t part;
  const sl_block_meta *block;
  uint32_t row;
  const sl_series_entry *series;
} candidate;

typedef struct query_state {
  sl_stream_engine *engine;
  const sl_query *query;
  const sl_query_plan *plan;
  sl_tsdb_view *view;
  sl_read_context *reader;

  sl_arena *arena; /* the answer's */
  candidate *candidates;
  size_t count;
  size_t capacity;
  int64_t begin_ns;
  int64_t end_ns;
  bool filter_tags[SL_STREAM_MAX_TAGS];
  size_t filter_tag_list[SL_STREAM_MAX_TAGS];
  size_t filter_tag_count;
  const sl_tag_spec *order_tag;
  sl_query_stats stats;
  size_t bound;    /* 0: keep every match; else the K best (offset + limit) */
  bool descending;
  bool dropped;    /* matches were dropped by the bound */
} query_state;

static void mark_filter_tags(query_state *state, const sl_filter_node *node, int depth) {
  if (node == NULL || depth > 128) {
    return;
  }
  if (node->kind == SL_CRITERIA_CONDITION) {
    size_t tag = node->leaf->tag->tag_index;
    if (!state->filter_tags[tag]) {
      state->filter_tags[tag] = true;
      state->filter_tag_list[state->filter_tag_count++] = tag;
    }
    return;
  }
  mark_filter_tags(state, node->left, depth + 1);
  mark_filter_tags(state, node->right, depth + 1);
}

static int compare_keys(const sl_value *a, const sl_value *b) {
  bool a_null = a->kind == SL_VALUE_NULL, b_null = b->kind == SL_VALUE_NULL;
  if (a_null || b_null) {
    return a_null == b_null ? 0 : a_null ? 1 : -1;
  }
  bool a_int = a->kind == SL_VALUE_INT || a->kind == SL_VALUE_TIMESTAMP;
  bool b_int = b->kind == SL_VALUE_INT || b->kind == SL_VALUE_TIMESTAMP;
  if (a_int && b_int) {
    return a->as.int_value < b->as.int_value ? -1 : a->as.int_value > b->as.int_value;
  }
  if (!a_int && !b_int) {
    return sl_bytes_compare(a->as.str, b->as.str);
  }
  return a_int ? -1 : 1;
}

/* Answer order: by key (missing keys last whichever the direction, as the
 * evaluator orders them), then time, then place; DESC reverses all but nulls. */
static int compare_entry(const candidate *x, const candidate *y, bool descending) {
  int keys = compare_keys(&x->key, &y->key);
  if (keys != 0 && (x->key.kind == SL_VALUE_NULL || y->key.kind == SL_VALUE_NULL)) {
    return keys;
  }
  int order = keys;
  if (order == 0) {
    order = x->timestamp_ns < y->timestamp_ns ? -1 : x->timestamp_ns > y->timestamp_ns;
  }
  if (order == 0) {
    uint64_t px = x->block->first_row + x->row, py = y->block->first_row + y->row;
    order = x->table != y->table ? (x->table < y->table ? -1 : 1)
            : x->part != y->part ? (x->part < y->part ? -1 : 1)
                                 : (px < py ? -1 : px > py);
  }
  return descending ? -order : order;
}

/* With a bound K (offset + limit), the candidates are a heap of the K best so
 * far, the worst at the root; a match that cannot make the window is dropped. */
static void sift_down(candidate *heap, size_t count, size_t at, bool descending) {
  for (;;) {
    size_t worst = at, left = 2 * at + 1, right = left + 1;
    if (left < count && compare_entry(&heap[left], &heap[worst], descending) > 0) {
      worst = left;
    }
    if (right < count && compare_entry(&heap[right], &heap[worst], descending) > 0) {
      worst = right;
    }
    if (worst == at) {
      return;
    }
    candidate swap = heap[at];
    heap[at] = heap[worst];
    heap[worst] = swap;
    at = worst;
  }
}

static sl_status add_candidate(query_state *state, const candidate *entry, sl_error *err) {
  if (state->bound > 0 && state->count == state->bound) {
    state->dropped = true;
    if (compare_entry(entry, &state->candidates[0], state->descending) < 0) {
      state->candidates[0] = *entry;
      sift_down(state->candidates, state->count, 0, state->descending);
    }
    return SL_OK;
  }
  if (state->count == state->capacity) {
    size_t capacity = state->capacity == 0 ? 256 : state->capacity * 2;
    candidate *grown = realloc(state->candidates, capacity * sizeof *grown);
    if (grown == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "query: out of memory for %zu matches", capacity);
    }
    state->candidates = grown;
    state->capacity = capacity;
  }
  state->candidates[state->count++] = *entry;
  if (state->bound > 0) {
    for (size_t at = state->count - 1; at > 0;) {
      size_t parent = (at - 1) / 2;
      if (compare_entry(&state->candidates[at], &state->candidates[parent], state->descending) <= 0) {
        break;
      }
      candidate swap = state->candidates[at];
      state->candidates[at] = state->candidates[parent];
      state->candidates[parent] = swap;
      at = parent;
    }
  }
  return SL_OK;
}

/* The order key of a matching row, copied into the answer's arena when it is a string. */
static sl_status order_key(query_state *state, const sl_value *value, sl_value *key, sl_error *err) {
  *key = *value;
  if (value->kind == SL_VALUE_STR || value->kind == SL_VALUE_BINARY) {
    char *copy = sl_arena_alloc(state->arena, value->as.str.size_bytes + 1);
    if (copy == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    memcpy(copy, value->as.str.data, value->as.str.size_bytes);
    key->as.str.data = copy;
  }
  return SL_OK;
}

static sl_status scan_block(query_state *state, uint32_t table, uint32_t part_index, sl_part *part,
                            const sl_block_meta *block, const sl_series_entry *series, const sl_value *entity,
                            const index_result *candidates, sl_error *err) {
  sl_stream_engine *engine = state->engine;
  const sl_stream_schema *schema = engine->schema;
  sl_read_context *context = state->reader;
  sl_column_view timestamps, hashes;
  SL_TRY(sl_part_read_column(part, block, engine->timestamp_column, context, &timestamps, err));
  (void)hashes; /* element ids are read later, for the matches that make the window */
  sl_column_view filter_columns[SL_STREAM_MAX_TAGS];
  bool need_filter = !candidates->exact && sl_query_plan_filter(state->plan) != NULL;
  bool decoded[SL_STREAM_MAX_TAGS] = {false};
  int32_t order_column = state->order_tag != NULL ? engine->column_of_tag[state->order_tag->tag_index] : -1;
  sl_column_view order_view;
  if (order_column >= 0) {
    SL_TRY(sl_part_read_column(part, block, (uint32_t)order_column, context, &order_view, err));
  }
  sl_value tags[SL_STREAM_MAX_TAGS];
  for (size_t k = 0; k < schema->entity_count; k++) {
    tags[engine->entity_tags[k]] = entity[k];
  }
  /* With an index's rows, only those of this block are visited (the bitmap's iterator from the
   * block's first row), not every row tested against the bitmap. */
  roaring_uint32_iterator_t rows;
  if (candidates->rows != NULL) {
    roaring_init_iterator(candidates->rows, &rows);
    roaring_move_uint32_iterator_equalorlarger(&rows, (uint32_t)block->first_row);
  }
  for (uint32_t r = 0; r < block->rows; r++) {
    if (candidates->rows != NULL) {
      if (!rows.has_value || rows.current_value >= block->first_row + block->rows) {
        break;
      }
      r = (uint32_t)(rows.current_value - block->first_row);
      roaring_advance_uint32_iterator(&rows);
    }
    int64_t ts = timestamps.ints[r];
    if (ts < state->begin_ns || ts > state->end_ns) {
      continue;
    }
    state->stats.rows_examined++;
    if (need_filter) {
      for (size_t f = 0; f < state->filter_tag_count; f++) {
        size_t tag = state->filter_tag_list[f];
        int32_t column = engine->column_of_tag[tag];
        if (column < 0) {
          continue; /* entity: set above */
        }
        if (!decoded[tag]) {
          SL_TRY(sl_part_read_column(part, block, (uint32_t)column, context, &filter_columns[tag], err));
          decoded[tag] = true;
        }
        SL_TRY(sl_stream_column_value(engine, tag, &filter_columns[tag], r, context->arena, &tags[tag], err));
      }
      if (!sl_query_plan_filter_match(state->plan, tags)) {
        continue;
      }
    }
    if (state->order_tag == NULL && state->bound > 0 && state->count == state->bound &&
        (state->descending ? ts < state->candidates[0].timestamp_ns : ts > state->candidates[0].timestamp_ns)) {
      state->dropped = true; /* strictly worse than the worst kept: add_candidate would drop it */
      continue;
    }
    candidate entry = {.timestamp_ns = ts, .table = table,
                       .part = part_index, .block = block, .row = r, .series = series};
    if (state->order_tag == NULL) {
      entry.key = sl_value_int(ts);
      entry.key.kind = SL_VALUE_TIMESTAMP;
    } else if (order_column >= 0) {
      sl_value value;
      SL_TRY(sl_stream_column_value(engine, state->order_tag->tag_index, &order_view, r, context->arena, &value, err));
      SL_TRY(order_key(state, &value, &entry.key, err));
    } else {
      int32_t position = engine->entity_position[state->order_tag->tag_index];
      SL_TRY(order_key(state, position > 0 ? &entity[position - 1] : &(sl_value){0}, &entry.key, err));
    }
    SL_TRY(add_candidate(state, &entry, err));
  }
  return SL_OK;
}

/* Shards the entity patterns can live in: all when some pattern leaves a value open. */
static void allowed_shards(query_state *state, bool *allowed, uint32_t shard_count) {
  const sl_query_plan *plan = state->plan;
  size_t patterns = sl_query_plan_pattern_count(plan);
  size_t entity = sl_query_plan_series_tag_count(plan);
  bool all_given = patterns > 0;
  for (size_t p = 0; p < patterns && all_given; p++) {
    for (size_t k = 0; k < entity && all_given; k++) {
      bool any = false;
      (void)sl_query_plan_pattern_value(plan, p, k, &any);
      all_given = !any;
    }
  }
  for (uint32_t s = 0; s < shard_count; s++) {
    allowed[s] = !all_given;
  }
  if (!all_given) {
    return;
  }
  sl_buffer scratch = {0};
  for (size_t p = 0; p < patterns; p++) {
    sl_value values[SL_PART_MAX_SERIES_VALUES];
    for (size_t k = 0; k < entity; k++) {
      bool any = false;
      values[k] = sl_query_plan_pattern_value(plan, p, k, &any);
      if (values[k].kind == SL_VALUE_TIMESTAMP) {
        values[k].kind = SL_VALUE_INT;
      }
    }
    uint32_t shard = 0;
    sl_error ignored;
    if (sl_series_shard(state->engine->schema->name, values, entity, shard_count, &scratch, &shard, &ignored) == SL_OK) {
      allowed[shard] = true;
    } else {
      for (uint32_t s = 0; s < shard_count; s++) {
        allowed[s] = true;
      }
    }
  }
  sl_buffer_free(&scratch);
}

static sl_status scan_part(query_state *state, uint32_t table, uint32_t part_index, sl_part *part, sl_error *err) {
  sl_stream_engine *engine = state->engine;
  sl_part_info info = sl_part_info_of(part);
  state->stats.parts_considered++;
  if (info.max_timestamp < state->begin_ns || info.min_timestamp > state->end_ns) {
    state->stats.parts_skipped++;
    return SL_OK;
  }
  size_t series_count = sl_part_series_count(part);
  bool any_series = false;
  sl_value entity[SL_PART_MAX_SERIES_VALUES];
  /* Series of this part that the patterns select, in key order. */
  index_result candidates = {0};
  bool index_done = false;
  sl_status status = SL_OK;
  for (size_t s = 0; s < series_count && status == SL_OK; s++) {
    const sl_series_entry *series = sl_part_series_at(part, s);
    sl_stream_entity_values(engine, series, entity);
    if (!sl_query_plan_series_match(state->plan, entity)) {
      continue;
    }
    if (!index_done) {
      status = node_index(engine, part, sl_query_plan_filter(state->plan), state->reader, &candidates, 0, err);
      index_done = true;
      if (status != SL_OK) {
        break;
      }
      if (candidates.rows != NULL && roaring_bitmap_is_empty(candidates.rows)) {
        break; /* the indexes rule out every row of the part */
      }
    }
    any_series = true;
    size_t chunk = sl_part_chunk_lower_bound(part, series->key);
    bool past = false;
    for (; chunk < sl_part_chunk_count(part) && !past && status == SL_OK; chunk++) {
      const sl_block_meta *blocks = NULL;
      size_t count = 0;
      const sl_chunk_info *info_chunk = sl_part_chunk(part, chunk);
      if (sl_bytes_compare(info_chunk->first_key, series->key) > 0) {
        break;
      }
      status = sl_part_chunk_blocks(part, chunk, state->reader, &blocks, &count, err);
      for (size_t b = 0; b < count && status == SL_OK; b++) {
        int order = sl_bytes_compare(blocks[b].key, series->key);
        if (order < 0) {
          continue;
        }
        if (order > 0) {
          past = true;
          break;
        }
        state->stats.blocks_considered++;
        const sl_block_meta *block = &blocks[b];
        if (block->max_timestamp < state->begin_ns || block->min_timestamp > state->end_ns ||
            (candidates.rows != NULL &&
             roaring_bitmap_range_cardinality(candidates.rows, block->first_row, block->first_row + block->rows) == 0)) {
          state->stats.blocks_skipped++;
          continue;
        }
        status = scan_block(state, table, part_index, part, block, series, entity, &candidates, err);
        sl_read_context_reset(state->reader);
      }
    }
  }
  sl_bitmap_free(candidates.rows);
  if (!any_series) {
    state->stats.parts_skipped++;
  }
  return status;
}

/* ------------------------------------------------------------------ ordering and the answer */

typedef struct sort_context {
  const candidate *candidates;
  bool descending;
} sort_context;

static int compare_candidates(const void *a, const void *b, void *opaque) {
  const sort_context *context = opaque;
  return compare_entry(&context->candidates[*(const size_t *)a], &context->candidates[*(const size_t *)b],
                       context->descending);
}

/* The element ids of the matches, each block's column read once, as the walk needs it. */
typedef struct hash_slot {
  const sl_block_meta *block;
  const int64_t *hashes;
} hash_slot;

typedef struct hash_cache {
  hash_slot *slots;
  size_t capacity;
  size_t used;
} hash_cache;

static sl_status element_hash_of(query_state *state, hash_cache *cache, candidate *entry, sl_error *err) {
  if (cache->used * 2 >= cache->capacity) {
    size_t capacity = cache->capacity == 0 ? 64 : cache->capacity * 2;
    hash_slot *slots = calloc(capacity, sizeof *slots);
    if (slots == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < cache->capacity; i++) {
      if (cache->slots[i].block != NULL) {
        size_t slot = ((uintptr_t)cache->slots[i].block >> 4) * 0x9E3779B97F4A7C15ULL & (capacity - 1);
        while (slots[slot].block != NULL) {
          slot = (slot + 1) & (capacity - 1);
        }
        slots[slot] = cache->slots[i];
      }
    }
    free(cache->slots);
    cache->slots = slots;
    cache->capacity = capacity;
  }
  size_t slot = ((uintptr_t)entry->block >> 4) * 0x9E3779B97F4A7C15ULL & (cache->capacity - 1);
  while (cache->slots[slot].block != NULL && cache->slots[slot].block != entry->block) {
    slot = (slot + 1) & (cache->capacity - 1);
  }
  if (cache->slots[slot].block == NULL) {
    sl_part *part = sl_tsdb_view_at(state->view, entry->table)->parts[entry->part];
    sl_column_view view;
    SL_TRY(sl_part_read_column(part, entry->block, state->engine->element_column, state->reader, &view, err));
    cache->slots[slot] = (hash_slot){.block = entry->block, .hashes = view.ints};
    cache->used++;
  }
  entry->element_hash = (uint64_t)cache->slots[slot].hashes[entry->row];
  return SL_OK;
}

/* Walks the matches in answer order and keeps the first offset + limit with
 * distinct element ids (a duplicate id is returned once: the first met, as
 * BanyanDB's merge keeps it).  order[0..*kept) is the result. */
static sl_status walk_distinct(query_state *state, size_t *order, size_t wanted, size_t *kept, sl_error *err) {
  /* No more ids are kept than there are matches: a huge offset + limit (2^32) must not size the set. */
  size_t bound = wanted < state->count ? wanted : state->count;
  size_t capacity = 64;
  while (capacity < bound * 2 + 2) {
    capacity *= 2;
  }
  uint64_t *seen = calloc(capacity, sizeof *seen); /* hash, 0 = empty (hash 0 stored as flag) */
  bool zero_seen = false;
  if (seen == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  hash_cache cache = {0};
  size_t count = 0;
  sl_status status = SL_OK;
  for (size_t i = 0; i < state->count && count < wanted && status == SL_OK; i++) {
    candidate *entry = &state->candidates[order[i]];
    status = element_hash_of(state, &cache, entry, err);
    if (status != SL_OK) {
      break;
    }
    uint64_t hash = entry->element_hash;
    bool duplicate = false;
    if (hash == 0) {
      duplicate = zero_seen;
      zero_seen = true;
    } else {
      size_t slot = (size_t)(hash * 0x9E3779B97F4A7C15ULL) & (capacity - 1);
      while (seen[slot] != 0 && seen[slot] != hash) {
        slot = (slot + 1) & (capacity - 1);
      }
      duplicate = seen[slot] == hash;
      seen[slot] = hash;
    }
    if (!duplicate) {
      order[count++] = order[i];
    }
  }
  free(seen);
  free(cache.slots);
  *kept = count;
  return status;
}

typedef struct wanted_tags {
  bool tag[SL_STREAM_MAX_TAGS];
} wanted_tags;

typedef struct by_block_context {
  const candidate *candidates;
  const size_t *selected;
} by_block_context;

static int compare_by_block(const void *a, const void *b, void *opaque) {
  const by_block_context *context = opaque;
  const candidate *x = &context->candidates[context->selected[*(const size_t *)a]];
  const candidate *y = &context->candidates[context->selected[*(const size_t *)b]];
  if (x->table != y->table) {
    return x->table < y->table ? -1 : 1;
  }
  if (x->part != y->part) {
    return x->part < y->part ? -1 : 1;
  }
  if (x->block != y->block) {
    return x->block->first_row < y->block->first_row ? -1 : 1;
  }
  return x->row < y->row ? -1 : x->row > y->row;
}

/* Reads the wanted tags of the selected matches, one block at a time. */
static sl_status materialize(query_state *state, const size_t *selected, size_t count, const wanted_tags *wanted,
                             sl_stream_answer *answer, sl_error *err) {
  sl_stream_engine *engine = state->engine;
  const sl_stream_schema *schema = engine->schema;
  answer->rows = sl_arena_alloc(state->arena, (count + 1) * sizeof *answer->rows);
  sl_value *all_tags = sl_arena_alloc(state->arena, (count * schema->tag_count + 1) * sizeof(sl_value));
  size_t *order = malloc((count + 1) * sizeof *order);
  if (answer->rows == NULL || all_tags == NULL || order == NULL) {
    free(order);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  for (size_t i = 0; i < count; i++) {
    order[i] = i;
  }
  by_block_context context = {.candidates = state->candidates, .selected = selected};
  qsort_r(order, count, sizeof *order, compare_by_block, &context);
  sl_status status = SL_OK;
  const sl_block_meta *current = NULL;
  sl_column_view views[SL_STREAM_MAX_TAGS];
  for (size_t k = 0; k < count && status == SL_OK; k++) {
    size_t i = order[k];
    const candidate *entry = &state->candidates[selected[i]];
    sl_part *part = sl_tsdb_view_at(state->view, entry->table)->parts[entry->part];
    if (entry->block != current) {
      sl_read_context_reset(state->reader);
      current = entry->block;
      for (size_t t = 0; t < schema->tag_count && status == SL_OK; t++) {
        int32_t column = engine->column_of_tag[t];
        if (wanted->tag[t] && column >= 0) {
          status = sl_part_read_column(part, entry->block, (uint32_t)column, state->reader, &views[t], err);
        }
      }
    }
    sl_value *tags = all_tags + i * schema->tag_count;
    sl_value entity[SL_PART_MAX_SERIES_VALUES];
    sl_stream_entity_values(engine, entry->series, entity);
    for (size_t t = 0; t < schema->tag_count && status == SL_OK; t++) {
      tags[t] = sl_value_null();
      if (!wanted->tag[t]) {
        continue;
      }
      int32_t column = engine->column_of_tag[t];
      if (column < 0) {
        tags[t] = entity[engine->entity_position[t] - 1];
      } else {
        status = sl_stream_column_value(engine, t, &views[t], entry->row, state->arena, &tags[t], err);
      }
      if (status == SL_OK) {
        status = sl_engine_copy_value(state->arena, &tags[t], err);
      }
    }
    answer->rows[i] = (sl_query_row){.timestamp_ns = entry->timestamp_ns, .tags = tags, .has_element_hash = true,
                                     .element_hash = entry->element_hash};
  }
  free(order);
  sl_read_context_reset(state->reader);
  return status;
}

/* ------------------------------------------------------------------ ordered by an index rule */

/* What one part offers the index-ordered walk: its term cursor over the rule's index, the filter's
 * candidates from its indexes, and which of its series the entity patterns select. */
typedef struct ordered_part {
  uint32_t table;
  uint32_t part_index;
  sl_part *part;
  sl_part_term_cursor *cursor;
  bool valid;
  sl_bytes term;
  uint8_t *term_storage; /* owned copy of term (terms are up to SL_TERM_MAX_BYTES), grown as needed */
  size_t term_capacity;
  roaring_bitmap_t *postings;
  index_result candidates;
  bool *series_selected; /* per series entry */
} ordered_part;

static const sl_series_entry *series_of_key(sl_part *part, sl_bytes key, size_t *at) {
  size_t low = 0, high = sl_part_series_count(part);
  while (low < high) {
    size_t middle = low + (high - low) / 2;
    int order = sl_bytes_compare(sl_part_series_at(part, middle)->key, key);
    if (order == 0) {
      *at = middle;
      return sl_part_series_at(part, middle);
    }
    if (order < 0) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return NULL;
}

/* Grows *storage to hold size bytes (a term copy). */
static sl_status keep_term(uint8_t **storage, size_t *capacity, size_t size, sl_error *err) {
  if (size <= *capacity && *storage != NULL) {
    return SL_OK;
  }
  size_t grown = size > 64 ? size : 64;
  uint8_t *bigger = realloc(*storage, grown);
  if (bigger == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  *storage = bigger;
  *capacity = grown;
  return SL_OK;
}

static sl_status ordered_advance(ordered_part *entry, sl_error *err) {
  sl_bitmap_free(entry->postings);
  entry->postings = NULL;
  sl_bytes term = {0};
  SL_TRY(sl_part_term_cursor_next(entry->cursor, &entry->valid, &term, &entry->postings, err));
  if (entry->valid) {
    if (term.size_bytes > SL_TERM_MAX_BYTES) {
      return sl_error_set(err, SL_ERR_CORRUPT, "a term of %zu bytes, over the %d-byte limit, in part %s",
                          term.size_bytes, SL_TERM_MAX_BYTES,
                          sl_part_dir(entry->part) != NULL ? sl_part_dir(entry->part) : "(memory)");
    }
    SL_TRY(keep_term(&entry->term_storage, &entry->term_capacity, term.size_bytes, err));
    memcpy(entry->term_storage, term.data, term.size_bytes);
    entry->term = (sl_bytes){.data = (const char *)entry->term_storage, .size_bytes = term.size_bytes};
  }
  return SL_OK;
}

/* The rows of one term in one part, block by block, through scan_block. */
static sl_status ordered_rows(query_state *state, ordered_part *entry, sl_error *err) {
  roaring_bitmap_t *rows = entry->postings;
  if (entry->candidates.rows != NULL) {
    roaring_bitmap_and_inplace(rows, entry->candidates.rows);
  }
  uint64_t count = roaring_bitmap_get_cardinality(rows);
  if (count == 0) {
    return SL_OK;
  }
  uint32_t *positions = malloc((size_t)count * sizeof *positions);
  if (positions == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  roaring_bitmap_to_uint32_array(rows, positions);
  sl_status status = SL_OK;
  index_result only = {.rows = rows, .exact = entry->candidates.exact};
  sl_value entity[SL_PART_MAX_SERIES_VALUES];
  for (uint64_t i = 0; i < count && status == SL_OK;) {
    const sl_block_meta *block = NULL;
    uint32_t row_in_block = 0;
    status = sl_part_block_of_row(entry->part, positions[i], state->reader, &block, &row_in_block, err);
    if (status != SL_OK) {
      break;
    }
    uint64_t block_end = block->first_row + block->rows;
    size_t series_at = 0;
    const sl_series_entry *series = series_of_key(entry->part, block->key, &series_at);
    if (series == NULL) {
      status = sl_error_set(err, SL_ERR_CORRUPT, "part %s: a block's series is missing from smeta.bin",
                            sl_part_dir(entry->part) != NULL ? sl_part_dir(entry->part) : "(memory)");
      break;
    }
    state->stats.blocks_considered++;
    if (entry->series_selected[series_at] && block->max_timestamp >= state->begin_ns &&
        block->min_timestamp <= state->end_ns) {
      sl_stream_entity_values(state->engine, series, entity);
      status = scan_block(state, entry->table, entry->part_index, entry->part, block, series, entity, &only, err);
    } else {
      state->stats.blocks_skipped++;
    }
    while (i < count && positions[i] < block_end) {
      i++;
    }
  }
  free(positions);
  return status;
}

/* Bounds on an int order tag that the filter implies through ANDs of conditions on it (terms
 * outside them cannot match, so the walk seeks past them); ORs and other tags bound nothing. */
static void order_bounds(const sl_filter_node *node, const sl_tag_spec *tag, int64_t *low, int64_t *high, int depth) {
  if (node == NULL || depth > 64) {
    return;
  }
  if (node->kind == SL_CRITERIA_AND) {
    order_bounds(node->left, tag, low, high, depth + 1);
    order_bounds(node->right, tag, low, high, depth + 1);
    return;
  }
  if (node->kind != SL_CRITERIA_CONDITION || node->leaf->tag != tag || node->leaf->value.kind != SL_VALUE_INT) {
    return;
  }
  int64_t v = node->leaf->value.as.int_value;
  switch (node->leaf->op) {
    case SL_BINARY_OP_EQ: *low = v > *low ? v : *low; *high = v < *high ? v : *high; break;
    case SL_BINARY_OP_GE: *low = v > *low ? v : *low; break;
    case SL_BINARY_OP_GT: if (v < INT64_MAX && v + 1 > *low) *low = v + 1; break;
    case SL_BINARY_OP_LE: *high = v < *high ? v : *high; break;
    case SL_BINARY_OP_LT: if (v > INT64_MIN && v - 1 < *high) *high = v - 1; break;
    default: break;
  }
}

/* BanyanDB's query by index (banyand/stream/query_by_idx.go): the rule's terms in order across every
 * part, each term's rows checked against the window, the series and the filter, until offset + limit
 * matches are held.  Rows without the tag are not in the index: when the terms run out first, the
 * caller reads every match instead.  *complete is false then. */
static sl_status collect_by_index(query_state *state, uint32_t index, bool *complete, sl_error *err) {
  sl_stream_engine *engine = state->engine;
  *complete = false;
  bool shards[SL_TSDB_MAX_SHARDS];
  allowed_shards(state, shards, engine->group->shard_num);
  size_t capacity = 0;
  for (size_t t = 0; t < sl_tsdb_view_count(state->view); t++) {
    capacity += sl_tsdb_view_at(state->view, t)->part_count;
  }
  ordered_part *parts = calloc(capacity + 1, sizeof *parts);
  if (parts == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  size_t count = 0;
  sl_status status = SL_OK;
  bool descending = state->descending;
  int64_t low = INT64_MIN, high = INT64_MAX;
  bool int_terms = state->order_tag->type == SL_TAG_INT;
  if (int_terms) {
    order_bounds(sl_query_plan_filter(state->plan), state->order_tag, &low, &high, 0);
  }
  uint8_t low_term[8], high_term[8];
  sl_term_from_int64(low, low_term);
  sl_term_from_int64(high, high_term);
  sl_bytes low_bytes = {.data = (const char *)low_term, .size_bytes = 8};
  sl_bytes high_bytes = {.data = (const char *)high_term, .size_bytes = 8};
  if (low > high) {
    *complete = false; /* nothing can match; the plain path finds the rows without the tag (none match either) */
    free(parts);
    return SL_OK;
  }
  for (size_t t = 0; t < sl_tsdb_view_count(state->view) && status == SL_OK; t++) {
    const sl_tsdb_table_view *table = sl_tsdb_view_at(state->view, t);
    if (table->shard >= engine->group->shard_num || !shards[table->shard]) {
      continue;
    }
    for (size_t p = 0; p < table->part_count && status == SL_OK; p++) {
      sl_part *part = table->parts[p];
      sl_part_info info = sl_part_info_of(part);
      state->stats.parts_considered++;
      if (info.max_timestamp < state->begin_ns || info.min_timestamp > state->end_ns) {
        state->stats.parts_skipped++;
        continue;
      }
      ordered_part *entry = &parts[count];
      entry->table = (uint32_t)t;
      entry->part_index = (uint32_t)p;
      entry->part = part;
      size_t series_count = sl_part_series_count(part);
      entry->series_selected = calloc(series_count + 1, sizeof(bool));
      if (entry->series_selected == NULL) {
        status = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
        break;
      }
      bool any = false;
      sl_value entity[SL_PART_MAX_SERIES_VALUES];
      for (size_t s = 0; s < series_count; s++) {
        sl_stream_entity_values(engine, sl_part_series_at(part, s), entity);
        entry->series_selected[s] = sl_query_plan_series_match(state->plan, entity);
        any = any || entry->series_selected[s];
      }
      count++;
      if (!any) {
        state->stats.parts_skipped++;
        continue;
      }
      /* The filter is checked on the rows the walk reaches (few), not through posting lists of every
       * term it names; conditions on the order tag itself become bounds of the walk. */
      entry->candidates = (index_result){.rows = NULL, .exact = sl_query_plan_filter(state->plan) == NULL};
      status = sl_part_term_cursor_open(part, index, descending, state->reader, &entry->cursor, err);
      if (status == SL_OK && int_terms && (descending ? high != INT64_MAX : low != INT64_MIN)) {
        status = sl_part_term_cursor_seek(entry->cursor, descending ? &high_bytes : &low_bytes, err);
      }
      if (status == SL_OK) {
        status = ordered_advance(entry, err);
      }
    }
  }
  /* The k-way merge of the parts' terms. */
  uint8_t *current_storage = NULL; /* the term being read, copied: its parts advance past it */
  size_t current_capacity = 0;
  while (status == SL_OK) {
    int best = -1;
    for (size_t i = 0; i < count; i++) {
      if (parts[i].cursor == NULL || !parts[i].valid) {
        continue;
      }
      if (best < 0) {
        best = (int)i;
        continue;
      }
      int order = sl_bytes_compare(parts[i].term, parts[best].term);
      if (descending ? order > 0 : order < 0) {
        best = (int)i;
      }
    }
    if (best < 0) {
      break; /* every term read: rows without the tag may still be due */
    }
    if (int_terms && (descending ? sl_bytes_compare(parts[best].term, low_bytes) < 0
                                 : sl_bytes_compare(parts[best].term, high_bytes) > 0)) {
      /* past the bound: no later term matches; rows without the tag cannot match a bound either */
      *complete = true;
      break;
    }
    if (state->bound > 0 && state->count >= state->bound) {
      *complete = true; /* the window is full and every later term sorts after it */
      state->dropped = true; /* matches past the window were not read */
      break;
    }
    sl_bytes current = parts[best].term;
    status = keep_term(&current_storage, &current_capacity, current.size_bytes, err);
    if (status != SL_OK) {
      break;
    }
    memcpy(current_storage, current.data, current.size_bytes);
    current.data = (const char *)current_storage;
    for (size_t i = 0; i < count && status == SL_OK; i++) {
      if (parts[i].cursor != NULL && parts[i].valid && sl_bytes_compare(parts[i].term, current) == 0) {
        state->stats.postings_read++;
        status = ordered_rows(state, &parts[i], err);
        if (status == SL_OK) {
          status = ordered_advance(&parts[i], err);
        }
      }
    }
    sl_read_context_reset(state->reader);
  }
  for (size_t i = 0; i < count; i++) {
    sl_part_term_cursor_close(parts[i].cursor);
    sl_bitmap_free(parts[i].postings);
    sl_bitmap_free(parts[i].candidates.rows);
    free(parts[i].series_selected);
    free(parts[i].term_storage);
  }
  free(current_storage);
  free(parts);
  return status;
}

/* Every table and part of the view (shards pruned), into state->candidates. */
static sl_status collect(query_state *state, sl_error *err) {
  sl_stream_engine *engine = state->engine;
  bool shards[SL_TSDB_MAX_SHARDS];
  allowed_shards(state, shards, engine->group->shard_num);
  sl_status status = SL_OK;
  for (size_t t = 0; t < sl_tsdb_view_count(state->view) && status == SL_OK; t++) {
    const sl_tsdb_table_view *table = sl_tsdb_view_at(state->view, t);
    if (table->shard >= engine->group->shard_num || !shards[table->shard]) {
      continue;
    }
    for (size_t p = 0; p < table->part_count && status == SL_OK; p++) {
      status = scan_part(state, (uint32_t)t, (uint32_t)p, table->parts[p], err);
      sl_read_context_reset(state->reader);
    }
  }
  return status;
}

sl_status sl_stream_engine_query(sl_stream_engine *engine, const sl_query *query, const char *const *extra_tags,
                                 size_t extra_count, sl_stream_answer *answer, sl_error *err) {
  assert(engine != NULL && query != NULL && answer != NULL);
  memset(answer, 0, sizeof *answer);
  if (query->model != SL_QUERY_STREAM || query->stream != engine->schema) {
    return sl_error_set(err, SL_ERR_INVALID, "the query asks for %s %s, this store holds stream %s",
                        query->model == SL_QUERY_STREAM ? "stream" : "trace", query->name, engine->schema->name);
  }
  answer->arena = sl_arena_new(64 * 1024);
  if (answer->arena == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  query_state state = {.engine = engine, .query = query, .arena = answer->arena};
  sl_query_plan *plan = NULL;
  sl_status status = sl_context_pool_take(engine->contexts, &state.reader, err);
  if (status == SL_OK) {
    status = sl_query_plan_make(query, &plan, err);
  }
  state.plan = plan;
  state.begin_ns = query->has_time_range ? query->begin_ns : INT64_MIN;
  state.end_ns = query->has_time_range ? query->end_ns : INT64_MAX;
  if (status == SL_OK && query->order_rule != NULL) {
    state.order_tag = sl_stream_find_tag(engine->schema, query->order_rule->tags[0]);
  }
  if (status == SL_OK) {
    mark_filter_tags(&state, sl_query_plan_filter(plan), 0);
  }
  bool nothing = status == SL_OK && sl_query_plan_no_series(plan);
  if (status == SL_OK && !nothing) {
    int64_t begin_ms = state.begin_ns == INT64_MIN ? INT64_MIN : state.begin_ns / 1000000 - 1;
    int64_t end_ms = state.end_ns == INT64_MAX ? INT64_MAX : state.end_ns / 1000000 + 1;
    status = sl_tsdb_acquire(engine->db, begin_ms, end_ms, 0, &state.view, err);
  }
  uint32_t limit = query->limit == 0 ? 20 : query->limit;
  size_t wanted_count = (size_t)query->offset + limit;
  state.descending = query->sort == SL_SORT_DESC;
  state.bound = wanted_count <= SL_STREAM_MAX_BOUND ? wanted_count : 0;
  size_t *order = NULL;
  size_t first = 0, count = 0, distinct = 0;
  for (int attempt = 0; attempt < 2 && status == SL_OK; attempt++) {
    if (!nothing) {
      bool done_by_index = false;
      int32_t rule_index = state.order_tag != NULL ? engine->index_of_tag[state.order_tag->tag_index] : -1;
      if (rule_index >= 0 && state.bound > 0 && attempt == 0) {
        status = collect_by_index(&state, (uint32_t)rule_index, &done_by_index, err);
        if (status == SL_OK && !done_by_index) {
          /* the terms ran out before the window filled: read every match, rows without the tag too */
          state.count = 0;
          state.dropped = false;
        }
      }
      if (status == SL_OK && !done_by_index) {
        status = collect(&state, err);
      }
    }
    free(order);
    order = status == SL_OK ? malloc((state.count + 1) * sizeof *order) : NULL;
    if (status == SL_OK && order == NULL) {
      status = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    if (status != SL_OK) {
      break;
    }
    for (size_t i = 0; i < state.count; i++) {
      order[i] = i;
    }
    sort_context sorting = {.candidates = state.candidates, .descending = state.descending};
    qsort_r(order, state.count, sizeof *order, compare_candidates, &sorting);
    status = walk_distinct(&state, order, wanted_count, &distinct, err);
    if (status != SL_OK || distinct >= wanted_count || !state.dropped) {
      break;
    }
    /* Duplicate element ids left the bounded window short: keep every match this time. */
    state.bound = 0;
    state.count = 0;
    state.dropped = false;
  }
  if (status == SL_OK) {
    first = query->offset < distinct ? query->offset : distinct;
    count = distinct - first < limit ? distinct - first : limit;
    wanted_tags wanted = {0};
    for (size_t f = 0; f < query->family_count; f++) {
      for (size_t t = 0; t < query->families[f].tag_count; t++) {
        wanted.tag[query->families[f].tags[t]->tag_index] = true;
      }
    }
    for (size_t e = 0; e < extra_count; e++) {
      const sl_tag_spec *tag = sl_stream_find_tag(engine->schema, extra_tags[e]);
      if (tag != NULL) {
        wanted.tag[tag->tag_index] = true;
      }
    }
    if (status == SL_OK) {
      status = materialize(&state, order + first, count, &wanted, answer, err);
    }
  }
  if (status == SL_OK) {
    answer->row_count = count;
    answer->result.rows = calloc(count + 1, sizeof(size_t));
    answer->result.row_keys = calloc(count + 1, sizeof(sl_value));
    if (answer->result.rows == NULL || answer->result.row_keys == NULL) {
      status = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; status == SL_OK && i < count; i++) {
      answer->result.rows[i] = i;
      answer->result.row_keys[i] = state.candidates[order[first + i]].key;
    }
    answer->result.row_count = count;
  }
  state.stats.rows_returned = count;
  if (state.reader != NULL) {
    sl_query_stats_add_read(&state.stats, &state.reader->stats);
  }
  answer->stats = state.stats;
  free(order);
  free(state.candidates);
  sl_tsdb_release(state.view);
  sl_query_plan_free(plan);
  sl_context_pool_give(engine->contexts, state.reader);
  if (status != SL_OK) {
    sl_stream_answer_free(answer);
  }
  return status;
}

void sl_stream_answer_free(sl_stream_answer *answer) {
  if (answer == NULL) {
    return;
  }
  sl_query_result_free(&answer->result);
  sl_arena_free(answer->arena);
  memset(answer, 0, sizeof *answer);
}

/* ------------------------------------------------------------------ scan */

sl_status sl_stream_engine_scan(sl_stream_engine *engine, sl_row_visit_fn visit, void *opaque, sl_error *err) {
  sl_tsdb_view *view = NULL;
  SL_TRY(sl_tsdb_acquire(engine->db, INT64_MIN, INT64_MAX, 0, &view, err));
  sl_read_context context;
  sl_status status = sl_read_context_init(&context, err);
  const sl_stream_schema *schema = engine->schema;
  sl_value *tags = calloc(schema->tag_count + 1, sizeof *tags);
  if (status == SL_OK && tags == NULL) {
    status = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  for (size_t t = 0; t < sl_tsdb_view_count(view) && status == SL_OK; t++) {
    const sl_tsdb_table_view *table = sl_tsdb_view_at(view, t);
    for (size_t p = 0; p < table->part_count && status == SL_OK; p++) {
      sl_part *part = table->parts[p];
      size_t next_series = 0;
      for (size_t c = 0; c < sl_part_chunk_count(part) && status == SL_OK; c++) {
        const sl_block_meta *blocks = NULL;
        size_t count = 0;
        status = sl_part_chunk_blocks(part, c, &context, &blocks, &count, err);
        for (size_t b = 0; b < count && status == SL_OK; b++) {
          while (next_series < sl_part_series_count(part) &&
                 sl_bytes_compare(sl_part_series_at(part, next_series)->key, blocks[b].key) < 0) {
            next_series++;
          }
          if (next_series >= sl_part_series_count(part) ||
              sl_bytes_compare(sl_part_series_at(part, next_series)->key, blocks[b].key) != 0) {
            status = sl_error_set(err, SL_ERR_CORRUPT, "part %s: a block's series is missing from smeta.bin",
                                  sl_part_dir(part) ? sl_part_dir(part) : "(memory)");
            break;
          }
          sl_value entity[SL_PART_MAX_SERIES_VALUES];
          sl_stream_entity_values(engine, sl_part_series_at(part, next_series), entity);
          sl_column_view views[SL_STREAM_MAX_TAGS];
          sl_column_view timestamps;
          status = sl_part_read_column(part, &blocks[b], engine->timestamp_column, &context, &timestamps, err);
          for (size_t tag = 0; tag < schema->tag_count && status == SL_OK; tag++) {
            if (engine->column_of_tag[tag] >= 0) {
              status = sl_part_read_column(part, &blocks[b], (uint32_t)engine->column_of_tag[tag], &context, &views[tag], err);
            }
          }
          for (uint32_t r = 0; r < blocks[b].rows && status == SL_OK; r++) {
            for (size_t tag = 0; tag < schema->tag_count && status == SL_OK; tag++) {
              if (engine->column_of_tag[tag] < 0) {
                tags[tag] = entity[engine->entity_position[tag] - 1];
              } else {
                status = sl_stream_column_value(engine, tag, &views[tag], r, context.arena, &tags[tag], err);
              }
            }
            if (status == SL_OK) {
              status = visit(opaque, timestamps.ints[r], tags, err);
            }
          }
          sl_read_context_reset(&context);
        }
      }
    }
  }
  free(tags);
  sl_read_context_free(&context);
  sl_tsdb_release(view);
  return status;
}
