/* query.c: the Trace engine's query path and scan (trace.h; docs/MODELS.md
 * "Trace model"; the semantics are the evaluator's evaluate_trace,
 * docs/QUERIES.md).
 *
 * By trace ids: for each id (sorted, de-duplicated and cut by the planner):
 * its block key and shard -> every part of that shard's trace tables in the
 * window's segments -> bloom filter -> chunk lower bound -> the blocks of the
 * key -> spans.  A trace is returned when one of its spans in the window
 * passes the row filter and the span-id set; then with all its spans in the
 * window.
 *
 * By the orderBy rule: the rule's sidx over the window's segments, the series
 * whose values match the plan's patterns, blocks overlapping the key range,
 * rows merged in key order (a heap of cursors, one per part and series; a
 * cursor holds no decoded block until its block's bound reaches the top).
 * Each trace hash met is fetched from the trace tables and judged on its
 * spans; a trace's key is the best key of its matching spans, which can only
 * be worse than the scan key where it was first met, so the scan stops once
 * it holds offset + limit accepted traces and the scan key is strictly worse
 * than the (offset + limit)-th best of them. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "query/plan.h"
#include "storage/elements.h"
#include "trace/trace_internal.h"

/* ------------------------------------------------------------------ small helpers */

static int64_t floor_div(int64_t value, int64_t divisor) {
  int64_t quotient = value / divisor;
  return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? quotient - 1 : quotient;
}

static bool has_prefix(sl_bytes key, sl_bytes prefix) {
  return key.size_bytes >= prefix.size_bytes && memcmp(key.data, prefix.data, prefix.size_bytes) == 0;
}


static sl_status corrupt_key(sl_part *part, const sl_block_meta *block, sl_error *err) {
  return sl_error_set(err, SL_ERR_CORRUPT, "part %s: a block key of %zu bytes is shorter than a trace hash",
                      sl_part_dir(part) != NULL ? sl_part_dir(part) : "(memory)", block->key.size_bytes);
}

/* A set of 64-bit trace hashes (open addressing). */
typedef struct hash_set {
  uint64_t *keys;
  uint8_t *used;
  size_t capacity;
  size_t count;
} hash_set;

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  return x ^ (x >> 33);
}

/* Adds hash; *added false when it was there.  SL_ERR_NOMEM on growth failure. */
static sl_status hash_set_add(hash_set *set, uint64_t hash, bool *added, sl_error *err) {
  if (2 * (set->count + 1) > set->capacity) {
    size_t capacity = set->capacity == 0 ? 1024 : set->capacity * 2;
    uint64_t *keys = calloc(capacity, sizeof *keys);
    uint8_t *used = calloc(capacity, 1);
    if (keys == NULL || used == NULL) {
      free(keys);
      free(used);
      return sl_error_set(err, SL_ERR_NOMEM, "query: out of memory for %zu traces", set->count);
    }
    for (size_t i = 0; i < set->capacity; i++) {
      if (set->used[i]) {
        size_t slot = mix64(set->keys[i]) & (capacity - 1);
        while (used[slot]) {
          slot = (slot + 1) & (capacity - 1);
        }
        used[slot] = 1;
        keys[slot] = set->keys[i];
      }
    }
    free(set->keys);
    free(set->used);
    set->keys = keys;
    set->used = used;
    set->capacity = capacity;
  }
  size_t slot = mix64(hash) & (set->capacity - 1);
  while (set->used[slot]) {
    if (set->keys[slot] == hash) {
      *added = false;
      return SL_OK;
    }
    slot = (slot + 1) & (set->capacity - 1);
  }
  set->used[slot] = 1;
  set->keys[slot] = hash;
  set->count++;
  *added = true;
  return SL_OK;
}

static void hash_set_free(hash_set *set) {
  free(set->keys);
  free(set->used);
  memset(set, 0, sizeof *set);
}

/* ------------------------------------------------------------------ the query's state */

typedef struct found_block {
  sl_part *part;
  const sl_block_meta *block;
} found_block;

typedef struct query_state {
  sl_trace_engine *engine;
  const sl_query *query;
  const sl_query_plan *plan;
  sl_read_context context;
  sl_tsdb_view *traces; /* kind-0 tables of the window's segments */
  sl_arena *arena;      /* the answer's */
  bool windowed;        /* the query has a time range */
  int64_t begin_ns;
  int64_t end_ns;
  bool exact_window;
  int64_t interval_ns;
  /* orderBy path */
  const sl_trace_sidx *sidx;
  const sl_tag_spec *key_tag;
  int64_t key_min;
  int64_t key_max;
  bool descending;
  /* tags decoded to judge a span, and to answer with */
  bool match_tags[SL_TRACE_MAX_TAGS];
  bool output_tags[SL_TRACE_MAX_TAGS];
  /* blocks of the trace being read */
  found_block *found;
  size_t found_count;
  size_t found_capacity;
  /* the answer's rows, in order */
  sl_query_row *rows;
  size_t row_count;
  size_t row_capacity;
  sl_query_stats stats;
} query_state;

static bool span_in_window(const query_state *state, int64_t timestamp_ns) {
  if (!state->windowed) {
    return true;
  }
  if (state->exact_window || state->interval_ns <= 0) {
    return timestamp_ns >= state->begin_ns && timestamp_ns <= state->end_ns;
  }
  int64_t start = timestamp_ns - ((timestamp_ns % state->interval_ns) + state->interval_ns) % state->interval_ns;
  return start <= state->end_ns && start + state->interval_ns > state->begin_ns;
}

static void mark_criteria_tags(query_state *state, const sl_criteria *node, int depth) {
  if (node == NULL || depth > 128) {
    return;
  }
  if (node->kind == SL_CRITERIA_CONDITION) {
    if (node->tag != NULL && node->tag->tag_index < SL_TRACE_MAX_TAGS) {
      state->match_tags[node->tag->tag_index] = true;
    }
    return;
  }
  mark_criteria_tags(state, node->left, depth + 1);
  mark_criteria_tags(state, node->right, depth + 1);
}

static sl_status add_found(query_state *state, sl_part *part, const sl_block_meta *block, sl_error *err) {
  if (state->found_count == state->found_capacity) {
    size_t capacity = state->found_capacity == 0 ? 16 : state->found_capacity * 2;
    found_block *grown = realloc(state->found, capacity * sizeof *grown);
    if (grown == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    state->found = grown;
    state->found_capacity = capacity;
  }
  state->found[state->found_count++] = (found_block){.part = part, .block = block};
  return SL_OK;
}

/* The blocks of one part whose key equals key (exact) or starts with it
 * (a trace hash): chunk lower bound, then blocks in key order. */
static sl_status part_blocks(query_state *state, sl_part *part, sl_bytes key, bool exact, size_t *added,
                             sl_error *err) {
  *added = 0;
  for (size_t chunk = sl_part_chunk_lower_bound(part, key); chunk < sl_part_chunk_count(part); chunk++) {
    const sl_chunk_info *info = sl_part_chunk(part, chunk);
    bool may_hold = sl_bytes_compare(info->first_key, key) <= 0 || (!exact && has_prefix(info->first_key, key));
    if (!may_hold) {
      return SL_OK;
    }
    const sl_block_meta *blocks = NULL;
    size_t count = 0;
    SL_TRY(sl_part_chunk_blocks(part, chunk, &state->context, &blocks, &count, err));
    for (size_t b = 0; b < count; b++) {
      bool match = exact ? sl_bytes_compare(blocks[b].key, key) == 0 : has_prefix(blocks[b].key, key);
      if (match) {
        if (blocks[b].key.size_bytes < SL_TRACE_HASH_BYTES) {
          return corrupt_key(part, &blocks[b], err);
        }
        SL_TRY(add_found(state, part, &blocks[b], err));
        (*added)++;
      } else if (sl_bytes_compare(blocks[b].key, key) > 0) {
        return SL_OK;
      }
    }
  }
  return SL_OK;
}

/* Collects into state->found the blocks of a trace (exact key) or of every
 * trace with a hash (8-byte prefix) in the shard's trace tables of the
 * window.  With use_bloom, each part's bloom filter is asked first. */
static sl_status find_trace_blocks(query_state *state, sl_bytes key, bool exact, bool use_bloom, uint32_t shard,
                                   sl_error *err) {
  state->found_count = 0;
  for (size_t t = 0; t < sl_tsdb_view_count(state->traces); t++) {
    const sl_tsdb_table_view *table = sl_tsdb_view_at(state->traces, t);
    if (table->shard != shard) {
      continue;
    }
    for (size_t p = 0; p < table->part_count; p++) {
      sl_part *part = table->parts[p];
      state->stats.parts_considered++;
      if (use_bloom) {
        atomic_fetch_add(&state->engine->bloom_lookups, 1);
        if (!sl_part_key_might_exist(part, key, &state->context)) {
          state->stats.parts_skipped++;
          continue;
        }
      }
      size_t added = 0;
      SL_TRY(part_blocks(state, part, key, exact, &added, err));
      if (added == 0 && use_bloom) {
        atomic_fetch_add(&state->engine->bloom_false_positives, 1);
      }
      state->stats.blocks_considered += added;
    }
  }
  return SL_OK;
}

static int compare_found(const void *a, const void *b) {
  const found_block *x = a, *y = b;
  return sl_bytes_compare(x->block->key, y->block->key);
}

/* ------------------------------------------------------------------ judging and answering one trace */

typedef struct trace_verdict {
  bool accepted;
  bool has_key;
  int64_t key; /* orderBy: the best key of its matching spans */
} trace_verdict;

static sl_status grow_rows(query_state *state, sl_error *err) {
  if (state->row_count < state->row_capacity) {
    return SL_OK;
  }
  size_t capacity = state->row_capacity == 0 ? 64 : state->row_capacity * 2;
  sl_query_row *grown = realloc(state->rows, capacity * sizeof *grown);
  if (grown == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "query: out of memory for %zu spans", capacity);
  }
  state->rows = grown;
  state->row_capacity = capacity;
  return SL_OK;
}

/* Does a span (its decoded tags) match the whole query?  *key: its sidx key. */
static bool span_matches(const query_state *state, const sl_value *tags, int64_t *key) {
  const sl_query_plan *plan = state->plan;
  if (state->sidx != NULL) {
    size_t series_count = sl_query_plan_series_tag_count(plan);
    sl_value series[SL_PART_MAX_SERIES_VALUES];
    for (size_t k = 0; k < series_count && k < SL_PART_MAX_SERIES_VALUES; k++) {
      series[k] = tags[sl_query_plan_series_tag(plan, k)->tag_index];
    }
    if (!sl_query_plan_series_match(plan, series)) {
      return false;
    }
  }
  if (!sl_query_plan_filter_match(plan, tags) || !sl_query_plan_span_ids_match(plan, tags)) {
    return false;
  }
  if (state->sidx != NULL) {
    const sl_value *value = &tags[state->key_tag->tag_index];
    if (value->kind == SL_VALUE_NULL) {
      return false; /* no sidx row */
    }
    *key = value->as.int_value;
    return *key >= state->key_min && *key <= state->key_max;
  }
  return true;
}

/* Judges the trace of found[first, first + count) (one key) and, with emit,
 * appends its spans in the window to the answer (removed again when the
 * trace is not accepted). */
static sl_status judge_trace(query_state *state, size_t first, size_t count, bool emit, trace_verdict *verdict,
                             sl_error *err) {
  sl_trace_engine *engine = state->engine;
  const sl_trace_schema *schema = engine->schema;
  size_t tag_count = schema->tag_count;
  memset(verdict, 0, sizeof *verdict);
  sl_bytes key = state->found[first].block->key;
  sl_bytes id = {.data = key.data + SL_TRACE_HASH_BYTES, .size_bytes = key.size_bytes - SL_TRACE_HASH_BYTES};
  sl_value id_value = sl_value_str(id.data, id.size_bytes);
  size_t rows_before = state->row_count;
  if (emit) {
    SL_TRY(sl_engine_copy_value(state->arena, &id_value, err));
  }
  sl_value tags[SL_TRACE_MAX_TAGS];
  for (size_t i = 0; i < count; i++) {
    const found_block *entry = &state->found[first + i];
    sl_part *part = entry->part;
    const sl_block_meta *block = entry->block;
    sl_read_context_reset(&state->context);
    if (state->windowed && state->exact_window &&
        (block->max_timestamp < state->begin_ns || block->min_timestamp > state->end_ns)) {
      state->stats.blocks_skipped++;
      continue;
    }
    sl_column_view timestamps, spans = {0};
    sl_column_view views[SL_TRACE_MAX_TAGS];
    SL_TRY(sl_part_read_column(part, block, engine->timestamp_column, &state->context, &timestamps, err));
    if (emit) {
      SL_TRY(sl_part_read_column(part, block, engine->span_column, &state->context, &spans, err));
    }
    bool decoded[SL_TRACE_MAX_TAGS] = {false};
    for (size_t t = 0; t < tag_count; t++) {
      int32_t column = engine->column_of_tag[t];
      if (column >= 0 && (state->match_tags[t] || (emit && state->output_tags[t]))) {
        SL_TRY(sl_part_read_column(part, block, (uint32_t)column, &state->context, &views[t], err));
        decoded[t] = true;
      }
    }
    for (uint32_t r = 0; r < block->rows; r++) {
      int64_t timestamp_ns = timestamps.ints[r];
      if (!span_in_window(state, timestamp_ns)) {
        continue;
      }
      for (size_t t = 0; t < tag_count; t++) {
        tags[t] = sl_value_null();
        if (decoded[t]) {
          SL_TRY(sl_trace_column_value(engine, t, &views[t], r, state->context.arena, &tags[t], err));
        }
      }
      tags[engine->trace_tag] = id_value;
      state->stats.rows_examined++;
      int64_t span_key = 0;
      if (span_matches(state, tags, &span_key)) {
        verdict->accepted = true;
        if (state->sidx != NULL) {
          bool better = !verdict->has_key || (state->descending ? span_key > verdict->key : span_key < verdict->key);
          if (better) {
            verdict->key = span_key;
          }
          verdict->has_key = true;
        }
      }
      if (!emit) {
        continue;
      }
      SL_TRY(grow_rows(state, err));
      sl_value *out = sl_arena_alloc(state->arena, (tag_count + 1) * sizeof *out);
      if (out == NULL) {
        return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
      }
      for (size_t t = 0; t < tag_count; t++) {
        out[t] = sl_value_null();
        if (state->output_tags[t]) {
          out[t] = tags[t];
          if (t != engine->trace_tag) {
            SL_TRY(sl_engine_copy_value(state->arena, &out[t], err));
          }
        }
      }
      sl_value payload = sl_value_binary(spans.bytes[r].data, spans.bytes[r].size_bytes);
      if (spans.is_null != NULL && spans.is_null[r]) {
        payload = sl_value_binary("", 0);
      }
      SL_TRY(sl_engine_copy_value(state->arena, &payload, err));
      state->rows[state->row_count++] =
          (sl_query_row){.timestamp_ns = timestamp_ns, .tags = out, .span = payload.as.binary};
    }
  }
  sl_read_context_reset(&state->context);
  if (!verdict->accepted) {
    state->row_count = rows_before;
  }
  return SL_OK;
}

/* ------------------------------------------------------------------ the answer's trace list */

typedef struct answer_traces {
  size_t *offsets; /* row offset of each trace, count + 1 */
  sl_value *keys;
  size_t count;
  size_t capacity;
} answer_traces;

static sl_status add_answer_trace(answer_traces *traces, size_t offset, sl_value key, sl_error *err) {
  if (traces->count + 2 > traces->capacity) {
    size_t capacity = traces->capacity < 16 ? 16 : traces->capacity * 2;
    size_t *offsets = realloc(traces->offsets, capacity * sizeof *offsets);
    if (offsets == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    traces->offsets = offsets;
    sl_value *keys = realloc(traces->keys, capacity * sizeof *keys);
    if (keys == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    traces->keys = keys;
    traces->capacity = capacity;
  }
  traces->offsets[traces->count] = offset;
  traces->keys[traces->count] = key;
  traces->count++;
  return SL_OK;
}

/* ------------------------------------------------------------------ by trace ids */

static sl_status query_by_ids(query_state *state, answer_traces *out, sl_error *err) {
  const sl_query *query = state->query;
  uint32_t limit = query->limit == 0 ? 20 : query->limit;
  size_t ids = sl_query_plan_trace_id_count(state->plan);
  uint32_t shards = state->engine->group->shard_num;
  size_t accepted = 0;
  uint8_t key_bytes[SL_PART_MAX_KEY_BYTES];
  for (size_t rank = 0; rank < ids && out->count < limit; rank++) {
    sl_bytes id = sl_query_plan_trace_id(state->plan, rank);
    if (id.size_bytes == 0 || id.size_bytes > SL_PART_MAX_KEY_BYTES - SL_TRACE_HASH_BYTES) {
      continue; /* no stored trace has such an id */
    }
    uint64_t hash = sl_trace_hash(id);
    sl_key_from_u64(hash, key_bytes);
    memcpy(key_bytes + SL_TRACE_HASH_BYTES, id.data, id.size_bytes);
    sl_bytes key = {.data = (const char *)key_bytes, .size_bytes = SL_TRACE_HASH_BYTES + id.size_bytes};
    SL_TRY(find_trace_blocks(state, key, true, true, (uint32_t)(hash % shards), err));
    if (state->found_count == 0) {
      continue;
    }
    /* Offset and limit count the traces that pass: only those past the offset are answered. */
    bool emit = accepted >= query->offset;
    size_t offset = state->row_count;
    trace_verdict verdict;
    SL_TRY(judge_trace(state, 0, state->found_count, emit, &verdict, err));
    if (!verdict.accepted) {
      continue;
    }
    accepted++;
    if (emit) {
      SL_TRY(add_answer_trace(out, offset, sl_value_int((int64_t)rank), err));
    }
  }
  return SL_OK;
}

/* ------------------------------------------------------------------ by the orderBy rule: sidx cursors */

typedef struct sidx_cursor {
  sl_part *part;
  const sl_block_meta **blocks; /* the series' blocks overlapping the key range, ascending */
  size_t block_count;
  size_t next_block;            /* blocks taken so far, in scan order */
  bool loaded;
  int64_t *keys;                /* the loaded block's rows in range, in scan order */
  uint64_t *hashes;
  size_t rows;
  size_t position;
  size_t capacity;
  int64_t bound;                /* heap key: the current row's key, or the next block's bound */
} sidx_cursor;

typedef struct cursor_heap {
  sidx_cursor **items;
  size_t count;
  size_t capacity;
  bool descending;
} cursor_heap;

static bool heap_before(const cursor_heap *heap, const sidx_cursor *a, const sidx_cursor *b) {
  return heap->descending ? a->bound > b->bound : a->bound < b->bound;
}

static sl_status heap_push(cursor_heap *heap, sidx_cursor *cursor, sl_error *err) {
  if (heap->count == heap->capacity) {
    size_t capacity = heap->capacity == 0 ? 64 : heap->capacity * 2;
    sidx_cursor **grown = realloc(heap->items, capacity * sizeof(sidx_cursor *));
    if (grown == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    heap->items = grown;
    heap->capacity = capacity;
  }
  size_t at = heap->count++;
  heap->items[at] = cursor;
  while (at > 0) {
    size_t parent = (at - 1) / 2;
    if (!heap_before(heap, heap->items[at], heap->items[parent])) {
      break;
    }
    sidx_cursor *swap = heap->items[at];
    heap->items[at] = heap->items[parent];
    heap->items[parent] = swap;
    at = parent;
  }
  return SL_OK;
}

static sidx_cursor *heap_pop(cursor_heap *heap) {
  assert(heap->count > 0);
  sidx_cursor *top = heap->items[0];
  heap->items[0] = heap->items[--heap->count];
  size_t at = 0;
  for (;;) {
    size_t left = 2 * at + 1, right = left + 1, best = at;
    if (left < heap->count && heap_before(heap, heap->items[left], heap->items[best])) {
      best = left;
    }
    if (right < heap->count && heap_before(heap, heap->items[right], heap->items[best])) {
      best = right;
    }
    if (best == at) {
      break;
    }
    sidx_cursor *swap = heap->items[at];
    heap->items[at] = heap->items[best];
    heap->items[best] = swap;
    at = best;
  }
  return top;
}

/* The block a cursor takes next, in scan order. */
static const sl_block_meta *next_block_of(const sidx_cursor *cursor, bool descending) {
  size_t index = descending ? cursor->block_count - 1 - cursor->next_block : cursor->next_block;
  return cursor->blocks[index];
}

/* Points the cursor at its next block (unloaded); false when it has none. */
static bool cursor_advance_block(sidx_cursor *cursor, bool descending) {
  cursor->loaded = false;
  if (cursor->next_block >= cursor->block_count) {
    return false;
  }
  const sl_block_meta *block = next_block_of(cursor, descending);
  cursor->bound = descending ? block->max_sort : block->min_sort;
  return true;
}

/* Decodes the cursor's next block: its keys in range and trace hashes, in scan order. */
static sl_status cursor_load(query_state *state, sidx_cursor *cursor, sl_error *err) {
  const sl_block_meta *block = next_block_of(cursor, state->descending);
  cursor->next_block++;
  sl_read_context_reset(&state->context);
  sl_column_view keys, hashes;
  SL_TRY(sl_part_read_column(cursor->part, block, state->engine->sidx_key_column, &state->context, &keys, err));
  SL_TRY(sl_part_read_column(cursor->part, block, state->engine->sidx_trace_column, &state->context, &hashes, err));
  if (cursor->capacity < block->rows) {
    int64_t *grown_keys = realloc(cursor->keys, block->rows * sizeof *grown_keys);
    if (grown_keys == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    cursor->keys = grown_keys;
    uint64_t *grown_hashes = realloc(cursor->hashes, block->rows * sizeof *grown_hashes);
    if (grown_hashes == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    cursor->hashes = grown_hashes;
    cursor->capacity = block->rows;
  }
  cursor->rows = 0;
  cursor->position = 0;
  for (uint32_t i = 0; i < block->rows; i++) {
    uint32_t r = state->descending ? block->rows - 1 - i : i;
    if ((keys.is_null != NULL && keys.is_null[r]) || (hashes.is_null != NULL && hashes.is_null[r])) {
      continue;
    }
    int64_t key = keys.ints[r];
    if (key < state->key_min || key > state->key_max) {
      continue;
    }
    if (hashes.bytes[r].size_bytes != SL_TRACE_HASH_BYTES) {
      return sl_error_set(err, SL_ERR_CORRUPT, "part %s: a sidx row refers to a trace by %zu bytes, not %d",
                          sl_part_dir(cursor->part) != NULL ? sl_part_dir(cursor->part) : "(memory)",
                          hashes.bytes[r].size_bytes, SL_TRACE_HASH_BYTES);
    }
    cursor->keys[cursor->rows] = key;
    cursor->hashes[cursor->rows] = sl_key_to_u64(hashes.bytes[r]);
    cursor->rows++;
  }
  sl_read_context_reset(&state->context);
  if (cursor->rows > 0) {
    cursor->loaded = true;
    cursor->bound = cursor->keys[0];
    return SL_OK;
  }
  (void)cursor_advance_block(cursor, state->descending);
  return SL_OK;
}

/* Do this sidx's series tags equal the plan's (so smeta values can be matched against its patterns)? */
static bool series_tags_are_plans(const query_state *state) {
  const sl_trace_sidx *sidx = state->sidx;
  if (sl_query_plan_series_tag_count(state->plan) != sidx->series_count) {
    return false;
  }
  for (size_t k = 0; k < sidx->series_count; k++) {
    if (sl_query_plan_series_tag(state->plan, k)->tag_index != sidx->series_tags[k]) {
      return false;
    }
  }
  return true;
}

typedef struct cursor_set {
  sidx_cursor **items;
  size_t count;
  size_t capacity;
} cursor_set;

static void cursor_set_free(cursor_set *set) {
  for (size_t i = 0; i < set->count; i++) {
    free(set->items[i]->blocks);
    free(set->items[i]->keys);
    free(set->items[i]->hashes);
    free(set->items[i]);
  }
  free(set->items);
  memset(set, 0, sizeof *set);
}

/* One cursor for a series of a part: its blocks overlapping the key range. */
static sl_status open_cursor(query_state *state, sl_part *part, sl_bytes series_key, cursor_set *set,
                             cursor_heap *heap, sl_error *err) {
  sidx_cursor *cursor = calloc(1, sizeof *cursor);
  if (cursor == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  if (set->count == set->capacity) {
    size_t capacity = set->capacity == 0 ? 64 : set->capacity * 2;
    sidx_cursor **grown = realloc(set->items, capacity * sizeof(sidx_cursor *));
    if (grown == NULL) {
      free(cursor);
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    set->items = grown;
    set->capacity = capacity;
  }
  set->items[set->count++] = cursor;
  cursor->part = part;
  size_t capacity = 0;
  for (size_t chunk = sl_part_chunk_lower_bound(part, series_key); chunk < sl_part_chunk_count(part); chunk++) {
    if (sl_bytes_compare(sl_part_chunk(part, chunk)->first_key, series_key) > 0) {
      break;
    }
    const sl_block_meta *blocks = NULL;
    size_t count = 0;
    SL_TRY(sl_part_chunk_blocks(part, chunk, &state->context, &blocks, &count, err));
    bool past = false;
    for (size_t b = 0; b < count && !past; b++) {
      int order = sl_bytes_compare(blocks[b].key, series_key);
      past = order > 0;
      if (order != 0) {
        continue;
      }
      state->stats.blocks_considered++;
      if (blocks[b].max_sort < state->key_min || blocks[b].min_sort > state->key_max) {
        state->stats.blocks_skipped++;
        continue;
      }
      if (cursor->block_count == capacity) {
        capacity = capacity == 0 ? 4 : capacity * 2;
        const sl_block_meta **grown = realloc(cursor->blocks, capacity * sizeof(const sl_block_meta *));
        if (grown == NULL) {
          return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
        }
        cursor->blocks = grown;
      }
      cursor->blocks[cursor->block_count++] = &blocks[b];
    }
    if (past) {
      break;
    }
  }
  if (cursor_advance_block(cursor, state->descending)) {
    SL_TRY(heap_push(heap, cursor, err));
  }
  return SL_OK;
}

/* Cursors over every matching series of every part of the rule's sidx tables in the window. */
static sl_status open_cursors(query_state *state, const sl_tsdb_view *view, cursor_set *set, cursor_heap *heap,
                              sl_error *err) {
  bool prune = series_tags_are_plans(state);
  const sl_trace_sidx *sidx = state->sidx;
  for (size_t t = 0; t < sl_tsdb_view_count(view); t++) {
    const sl_tsdb_table_view *table = sl_tsdb_view_at(view, t);
    for (size_t p = 0; p < table->part_count; p++) {
      sl_part *part = table->parts[p];
      sl_part_info info = sl_part_info_of(part);
      state->stats.parts_considered++;
      if (info.max_sort < state->key_min || info.min_sort > state->key_max) {
        state->stats.parts_skipped++;
        continue;
      }
      for (size_t s = 0; s < sl_part_series_count(part); s++) {
        const sl_series_entry *series = sl_part_series_at(part, s);
        if (prune) {
          sl_value values[SL_PART_MAX_SERIES_VALUES];
          sl_trace_series_values(series, sidx->series_count, values);
          if (!sl_query_plan_series_match(state->plan, values)) {
            continue;
          }
        }
        SL_TRY(open_cursor(state, part, series->key, set, heap, err));
      }
    }
  }
  return SL_OK;
}

/* ------------------------------------------------------------------ by the orderBy rule: the scan */

typedef struct accepted_trace {
  uint64_t hash;
  sl_bytes id;
  int64_t key;
} accepted_trace;

typedef struct accepted_list {
  accepted_trace *items;
  size_t count;
  size_t capacity;
  int64_t *best;      /* heap of the best `wanted` keys; its root is the worst of them */
  size_t best_count;
  size_t best_capacity;
  size_t wanted;
  bool descending;
  sl_arena *ids;      /* the accepted ids' bytes */
} accepted_list;

/* For DESC the root is the smallest of the best keys (a min-heap), for ASC the largest. */
static bool best_before(const accepted_list *list, int64_t a, int64_t b) { return list->descending ? a < b : a > b; }

static sl_status best_offer(accepted_list *list, int64_t key, sl_error *err) {
  if (list->best_count < list->wanted && list->best_count == list->best_capacity) {
    size_t capacity = list->best_capacity == 0 ? 64 : list->best_capacity * 2;
    int64_t *grown = realloc(list->best, capacity * sizeof *grown);
    if (grown == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    list->best = grown;
    list->best_capacity = capacity;
  }
  int64_t *heap = list->best;
  if (heap == NULL) {
    return SL_OK; /* wanted is 0: nothing to keep */
  }
  if (list->best_count < list->wanted) {
    size_t at = list->best_count++;
    heap[at] = key;
    while (at > 0 && best_before(list, heap[at], heap[(at - 1) / 2])) {
      int64_t swap = heap[at];
      heap[at] = heap[(at - 1) / 2];
      heap[(at - 1) / 2] = swap;
      at = (at - 1) / 2;
    }
    return SL_OK;
  }
  if (!best_before(list, heap[0], key)) {
    return SL_OK; /* not better than the worst kept */
  }
  heap[0] = key;
  size_t at = 0;
  for (;;) {
    size_t left = 2 * at + 1, right = left + 1, next = at;
    if (left < list->best_count && best_before(list, heap[left], heap[next])) {
      next = left;
    }
    if (right < list->best_count && best_before(list, heap[right], heap[next])) {
      next = right;
    }
    if (next == at) {
      break;
    }
    int64_t swap = heap[at];
    heap[at] = heap[next];
    heap[next] = swap;
    at = next;
  }
  return SL_OK;
}

/* Can nothing met from scan key on enter the best `wanted`?  (Strictly worse than the worst kept.) */
static bool scan_done(const accepted_list *list, int64_t scan_key) {
  if (list->best_count < list->wanted || list->wanted == 0) {
    return false;
  }
  return list->descending ? scan_key < list->best[0] : scan_key > list->best[0];
}

static sl_status accept(accepted_list *list, uint64_t hash, sl_bytes id, int64_t key, sl_error *err) {
  if (list->count == list->capacity) {
    size_t capacity = list->capacity == 0 ? 64 : list->capacity * 2;
    accepted_trace *grown = realloc(list->items, capacity * sizeof *grown);
    if (grown == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    list->items = grown;
    list->capacity = capacity;
  }
  char *copy = sl_arena_alloc(list->ids, id.size_bytes + 1);
  if (copy == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  memcpy(copy, id.data, id.size_bytes);
  list->items[list->count++] = (accepted_trace){.hash = hash, .id = {.data = copy, .size_bytes = id.size_bytes}, .key = key};
  return best_offer(list, key, err);
}

/* Fetches the traces of a hash met in the sidx and keeps those that match. */
static sl_status judge_hash(query_state *state, uint64_t hash, accepted_list *accepted, sl_error *err) {
  uint8_t prefix[SL_TRACE_HASH_BYTES];
  sl_key_from_u64(hash, prefix);
  sl_bytes key = {.data = (const char *)prefix, .size_bytes = SL_TRACE_HASH_BYTES};
  SL_TRY(find_trace_blocks(state, key, false, false, (uint32_t)(hash % state->engine->group->shard_num), err));
  if (state->found_count > 1) {
    qsort(state->found, state->found_count, sizeof *state->found, compare_found);
  }
  /* Usually one trace; distinct ids with one hash are judged apart. */
  for (size_t first = 0; first < state->found_count;) {
    size_t end = first + 1;
    while (end < state->found_count &&
           sl_bytes_compare(state->found[end].block->key, state->found[first].block->key) == 0) {
      end++;
    }
    trace_verdict verdict;
    SL_TRY(judge_trace(state, first, end - first, false, &verdict, err));
    if (verdict.accepted && verdict.has_key) {
      sl_bytes block_key = state->found[first].block->key;
      sl_bytes id = {.data = block_key.data + SL_TRACE_HASH_BYTES, .size_bytes = block_key.size_bytes - SL_TRACE_HASH_BYTES};
      SL_TRY(accept(accepted, hash, id, verdict.key, err));
    }
    first = end;
  }
  return SL_OK;
}

static int compare_accepted(const void *a, const void *b, void *opaque) {
  bool descending = *(const bool *)opaque;
  const accepted_trace *x = a, *y = b;
  int order = x->key < y->key ? -1 : x->key > y->key;
  if (order == 0) {
    order = x->hash < y->hash ? -1 : x->hash > y->hash; /* ties: any order; this one is stable across runs */
  }
  return descending ? -order : order;
}

static sl_status query_by_rule(query_state *state, answer_traces *out, sl_error *err) {
  const sl_query *query = state->query;
  sl_trace_engine *engine = state->engine;
  uint32_t limit = query->limit == 0 ? 20 : query->limit;
  size_t wanted = (size_t)query->offset + limit;
  sl_tsdb_view *view = NULL;
  int64_t begin_ms = state->windowed ? floor_div(state->begin_ns, 1000000) : INT64_MIN;
  int64_t end_ms = state->windowed ? floor_div(state->end_ns, 1000000) : INT64_MAX;
  SL_TRY(sl_tsdb_acquire(engine->db, begin_ms, end_ms, state->sidx->kind, &view, err));
  cursor_set cursors = {0};
  cursor_heap heap = {.descending = state->descending};
  hash_set seen = {0};
  accepted_list accepted = {.descending = state->descending, .wanted = wanted, .ids = sl_arena_new(16 * 1024)};
  sl_status status = accepted.ids != NULL ? SL_OK : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  if (status == SL_OK) {
    status = open_cursors(state, view, &cursors, &heap, err);
  }
  while (status == SL_OK && heap.count > 0) {
    sidx_cursor *cursor = heap_pop(&heap);
    if (!cursor->loaded) {
      status = cursor_load(state, cursor, err);
      if (status == SL_OK && (cursor->loaded || cursor->next_block < cursor->block_count)) {
        status = heap_push(&heap, cursor, err);
      }
      continue;
    }
    int64_t scan_key = cursor->keys[cursor->position];
    if (scan_done(&accepted, scan_key)) {
      break;
    }
    uint64_t hash = cursor->hashes[cursor->position];
    state->stats.sidx_rows_scanned++;
    cursor->position++;
    bool more = true;
    if (cursor->position < cursor->rows) {
      cursor->bound = cursor->keys[cursor->position];
    } else {
      more = cursor_advance_block(cursor, state->descending);
    }
    if (more) {
      status = heap_push(&heap, cursor, err);
    }
    bool added = false;
    if (status == SL_OK) {
      status = hash_set_add(&seen, hash, &added, err);
    }
    if (status == SL_OK && added) {
      status = judge_hash(state, hash, &accepted, err);
    }
  }
  if (status == SL_OK && accepted.count > 1) {
    bool descending = state->descending;
    qsort_r(accepted.items, accepted.count, sizeof *accepted.items, compare_accepted, &descending);
  }
  /* The window [offset, offset + limit) of the accepted traces, fetched again to answer. */
  uint8_t key_bytes[SL_PART_MAX_KEY_BYTES];
  for (size_t i = query->offset; status == SL_OK && i < accepted.count && out->count < limit; i++) {
    const accepted_trace *trace = &accepted.items[i];
    sl_key_from_u64(trace->hash, key_bytes);
    memcpy(key_bytes + SL_TRACE_HASH_BYTES, trace->id.data, trace->id.size_bytes);
    sl_bytes key = {.data = (const char *)key_bytes, .size_bytes = SL_TRACE_HASH_BYTES + trace->id.size_bytes};
    status = find_trace_blocks(state, key, true, false, (uint32_t)(trace->hash % engine->group->shard_num), err);
    size_t offset = state->row_count;
    trace_verdict verdict = {0};
    if (status == SL_OK && state->found_count > 0) {
      status = judge_trace(state, 0, state->found_count, true, &verdict, err);
    }
    if (status == SL_OK && !verdict.accepted) {
      status = sl_error_set(err, SL_ERR_INTERNAL, "query: trace %.*s matched, then did not", (int)trace->id.size_bytes,
                            trace->id.data);
    }
    if (status == SL_OK) {
      sl_value key_value = sl_value_int(trace->key);
      if (state->sidx->key_is_timestamp) {
        key_value.kind = SL_VALUE_TIMESTAMP;
      }
      status = add_answer_trace(out, offset, key_value, err);
    }
  }
  cursor_set_free(&cursors);
  free(heap.items);
  hash_set_free(&seen);
  free(accepted.items);
  free(accepted.best);
  sl_arena_free(accepted.ids);
  sl_tsdb_release(view);
  return status;
}

/* ------------------------------------------------------------------ the query */

static const sl_trace_sidx *sidx_of_rule(const sl_trace_engine *engine, const sl_index_rule *rule) {
  for (size_t r = 0; rule != NULL && r < engine->sidx_count; r++) {
    if (engine->sidx[r].rule == rule || strcmp(engine->sidx[r].rule->name, rule->name) == 0) {
      return &engine->sidx[r];
    }
  }
  return NULL;
}

/* Narrows the key range to the window when the key is the timestamp tag (the window is then the key range). */
static void window_key_range(query_state *state) {
  if (!state->windowed || state->sidx->key_tag != state->engine->timestamp_tag) {
    return;
  }
  int64_t low = state->begin_ns, high = state->end_ns;
  if (!state->sidx->key_is_timestamp) { /* int ms */
    low = -floor_div(-state->begin_ns, 1000000);
    high = floor_div(state->end_ns, 1000000);
  }
  state->key_min = low > state->key_min ? low : state->key_min;
  state->key_max = high < state->key_max ? high : state->key_max;
}

static sl_status run_query(query_state *state, answer_traces *traces, sl_error *err) {
  const sl_query *query = state->query;
  sl_trace_engine *engine = state->engine;
  const sl_query_plan *plan = state->plan;
  bool by_ids = sl_query_plan_trace_id_count(plan) > 0;
  if (sl_query_plan_no_series(plan) || sl_query_plan_skips_everything(plan)) {
    return SL_OK;
  }
  if (!by_ids && query->trace_id_count > 0) {
    return SL_OK; /* ids given, none kept (cut to zero) */
  }
  state->exact_window = sl_query_plan_exact_window(plan);
  if (!by_ids) {
    state->key_tag = sl_query_plan_key_tag(plan);
    state->sidx = sidx_of_rule(engine, query->order_rule);
    if (state->key_tag == NULL || state->sidx == NULL) {
      return sl_error_set(err, SL_ERR_INVALID, "trace %s: the query orders by %s, which has no secondary index here",
                          engine->schema->name, query->order_rule != NULL ? query->order_rule->name : "nothing");
    }
    sl_query_plan_key_range(plan, &state->key_min, &state->key_max);
    window_key_range(state);
    if (state->key_min > state->key_max) {
      return SL_OK;
    }
    state->descending = query->sort == SL_SORT_DESC;
    state->match_tags[state->key_tag->tag_index] = true;
    for (size_t k = 0; k < sl_query_plan_series_tag_count(plan); k++) {
      state->match_tags[sl_query_plan_series_tag(plan, k)->tag_index] = true;
    }
  }
  if (engine->schema->span_id_tag != NULL) {
    const sl_tag_spec *span_tag = sl_trace_find_tag(engine->schema, engine->schema->span_id_tag);
    if (span_tag != NULL) {
      state->match_tags[span_tag->tag_index] = true;
    }
  }
  mark_criteria_tags(state, query->criteria, 0);
  int64_t begin_ms = state->windowed ? floor_div(state->begin_ns, 1000000) : INT64_MIN;
  int64_t end_ms = state->windowed ? floor_div(state->end_ns, 1000000) : INT64_MAX;
  SL_TRY(sl_tsdb_acquire(engine->db, begin_ms, end_ms, 0, &state->traces, err));
  return by_ids ? query_by_ids(state, traces, err) : query_by_rule(state, traces, err);
}

sl_status sl_trace_engine_query(sl_trace_engine *engine, const sl_query *query, const char *const *extra_tags,
                                size_t extra_count, sl_trace_answer *answer, sl_error *err) {
  assert(engine != NULL && query != NULL && answer != NULL);
  memset(answer, 0, sizeof *answer);
  if (query->model != SL_QUERY_TRACE || query->trace != engine->schema) {
    return sl_error_set(err, SL_ERR_INVALID, "the query asks for %s %s, this store holds trace %s",
                        query->model == SL_QUERY_STREAM ? "stream" : "trace", query->name, engine->schema->name);
  }
  answer->arena = sl_arena_new(64 * 1024);
  if (answer->arena == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  query_state state = {.engine = engine, .query = query, .arena = answer->arena};
  state.windowed = query->has_time_range;
  state.begin_ns = query->has_time_range ? query->begin_ns : INT64_MIN;
  state.end_ns = query->has_time_range ? query->end_ns : INT64_MAX;
  state.interval_ns = sl_interval_ms(engine->group->segment_interval) * 1000000;
  state.key_min = INT64_MIN;
  state.key_max = INT64_MAX;
  const sl_trace_schema *schema = engine->schema;
  for (size_t i = 0; i < query->tag_projection_count; i++) {
    state.output_tags[query->tag_projection[i]->tag_index] = true;
  }
  /* Every trace of BanyanDB's answer carries its id (Trace.trace_id), and every span its span id
   * (Span.span_id), projected or not; the printer adds them as tags only when projected. */
  state.output_tags[engine->trace_tag] = true;
  const sl_tag_spec *span_id_tag = schema->span_id_tag != NULL ? sl_trace_find_tag(schema, schema->span_id_tag) : NULL;
  if (span_id_tag != NULL) {
    state.output_tags[span_id_tag->tag_index] = true;
  }
  for (size_t e = 0; e < extra_count; e++) {
    const sl_tag_spec *tag = sl_trace_find_tag(schema, extra_tags[e]);
    if (tag != NULL) {
      state.output_tags[tag->tag_index] = true;
    }
  }
  sl_query_plan *plan = NULL;
  answer_traces traces = {0};
  sl_status status = sl_read_context_init(&state.context, err);
  if (status == SL_OK) {
    status = sl_query_plan_make(query, &plan, err);
  }
  state.plan = plan;
  if (status == SL_OK) {
    status = run_query(&state, &traces, err);
  }
  if (status == SL_OK) {
    answer->result.rows = calloc(state.row_count + 1, sizeof(size_t));
    answer->result.trace_offsets = calloc(traces.count + 2, sizeof(size_t));
    answer->result.trace_keys = calloc(traces.count + 1, sizeof(sl_value));
    if (answer->result.rows == NULL || answer->result.trace_offsets == NULL || answer->result.trace_keys == NULL) {
      status = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
  }
  if (status == SL_OK) {
    for (size_t r = 0; r < state.row_count; r++) {
      answer->result.rows[r] = r;
    }
    answer->result.row_count = state.row_count;
    for (size_t t = 0; t < traces.count; t++) {
      answer->result.trace_offsets[t] = traces.offsets[t];
      answer->result.trace_keys[t] = traces.keys[t];
    }
    answer->result.trace_offsets[traces.count] = state.row_count;
    answer->result.trace_count = traces.count;
    answer->rows = state.rows;
    answer->row_count = state.row_count;
    state.rows = NULL;
  }
  state.stats.rows_returned = answer->row_count;
  state.stats.traces_returned = answer->result.trace_count;
  sl_query_stats_add_read(&state.stats, &state.context.stats);
  answer->stats = state.stats;
  free(traces.offsets);
  free(traces.keys);
  free(state.rows);
  free(state.found);
  sl_tsdb_release(state.traces);
  sl_query_plan_free(plan);
  sl_read_context_free(&state.context);
  if (status != SL_OK) {
    sl_trace_answer_free(answer);
  }
  return status;
}

void sl_trace_answer_free(sl_trace_answer *answer) {
  if (answer == NULL) {
    return;
  }
  sl_query_result_free(&answer->result);
  free(answer->rows);
  sl_arena_free(answer->arena);
  memset(answer, 0, sizeof *answer);
}

/* ------------------------------------------------------------------ scan */

sl_status sl_trace_engine_scan(sl_trace_engine *engine, sl_span_visit_fn visit, void *opaque, sl_error *err) {
  sl_tsdb_view *view = NULL;
  SL_TRY(sl_tsdb_acquire(engine->db, INT64_MIN, INT64_MAX, 0, &view, err));
  sl_read_context context;
  sl_status status = sl_read_context_init(&context, err);
  const sl_trace_schema *schema = engine->schema;
  sl_value tags[SL_TRACE_MAX_TAGS];
  for (size_t t = 0; t < sl_tsdb_view_count(view) && status == SL_OK; t++) {
    const sl_tsdb_table_view *table = sl_tsdb_view_at(view, t);
    for (size_t p = 0; p < table->part_count && status == SL_OK; p++) {
      sl_part *part = table->parts[p];
      for (size_t c = 0; c < sl_part_chunk_count(part) && status == SL_OK; c++) {
        const sl_block_meta *blocks = NULL;
        size_t count = 0;
        status = sl_part_chunk_blocks(part, c, &context, &blocks, &count, err);
        for (size_t b = 0; b < count && status == SL_OK; b++) {
          const sl_block_meta *block = &blocks[b];
          if (block->key.size_bytes < SL_TRACE_HASH_BYTES) {
            status = corrupt_key(part, block, err);
            break;
          }
          sl_value id = sl_value_str(block->key.data + SL_TRACE_HASH_BYTES, block->key.size_bytes - SL_TRACE_HASH_BYTES);
          sl_column_view views[SL_TRACE_MAX_TAGS];
          sl_column_view timestamps;
          status = sl_part_read_column(part, block, engine->timestamp_column, &context, &timestamps, err);
          for (size_t tag = 0; tag < schema->tag_count && status == SL_OK; tag++) {
            if (engine->column_of_tag[tag] >= 0) {
              status = sl_part_read_column(part, block, (uint32_t)engine->column_of_tag[tag], &context, &views[tag], err);
            }
          }
          for (uint32_t r = 0; r < block->rows && status == SL_OK; r++) {
            for (size_t tag = 0; tag < schema->tag_count && status == SL_OK; tag++) {
              if (engine->column_of_tag[tag] < 0) {
                tags[tag] = id;
              } else {
                status = sl_trace_column_value(engine, tag, &views[tag], r, context.arena, &tags[tag], err);
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
  sl_read_context_free(&context);
  sl_tsdb_release(view);
  return status;
}
