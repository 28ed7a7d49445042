/* merge.c: see merge.h. */
#include "storage/merge.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/postings.h"

#include "common/timeutil.h"

/* ------------------------------------------------------------------ policy */

void sl_merge_policy_default(sl_merge_policy *policy) {
  policy->max_parts = 15;
  policy->min_merge_multiplier = 1.7;
  policy->max_fan_out_bytes = 0;
}

typedef struct sized {
  uint64_t size;
  size_t index;
} sized;

static int compare_sized(const void *a, const void *b) {
  const sized *x = a, *y = b;
  if (x->size != y->size) {
    return x->size < y->size ? -1 : 1;
  }
  /* BanyanDB breaks ties by newer data first; the caller lists parts oldest first. */
  return x->index > y->index ? -1 : x->index < y->index;
}

size_t sl_merge_policy_choose(const sl_merge_policy *policy, const uint64_t *sizes, size_t count, size_t *chosen) {
  assert(policy->max_parts >= 2);
  if (count < 2) {
    return 0;
  }
  uint64_t max_fan_out = policy->max_fan_out_bytes > 0 ? policy->max_fan_out_bytes : UINT64_MAX;
  /* max_fan_out / multiplier, clamped: a multiplier of 1 or less would overflow the conversion
   * (undefined; on x86 it gave 0, so that nothing was ever chosen). */
  double max_input_bytes = policy->min_merge_multiplier > 0 ? (double)max_fan_out / policy->min_merge_multiplier
                                                             : (double)UINT64_MAX;
  uint64_t max_input = max_input_bytes >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)max_input_bytes;
  sized *candidates = malloc(count * sizeof *candidates);
  if (candidates == NULL) {
    return 0;
  }
  size_t n = 0;
  for (size_t i = 0; i < count; i++) {
    if (sizes[i] <= max_input) {
      candidates[n++] = (sized){.size = sizes[i] > 0 ? sizes[i] : 1, .index = i};
    }
  }
  qsort(candidates, n, sizeof *candidates, compare_sized);
  size_t max_source = policy->max_parts < n ? policy->max_parts : n;
  size_t min_source = (max_source + 1) / 2 < 2 ? 2 : (max_source + 1) / 2;
  double best = 0;
  size_t best_start = 0, best_length = 0;
  for (size_t length = min_source; length <= max_source; length++) {
    for (size_t start = 0; start + length <= n; start++) {
      const sized *window = candidates + start;
      if (window[0].size * length < window[length - 1].size) {
        continue; /* too unbalanced */
      }
      uint64_t sum = 0;
      for (size_t k = 0; k < length; k++) {
        sum += window[k].size;
      }
      if (sum > max_fan_out) {
        break;
      }
      double score = (double)sum / (double)window[length - 1].size;
      if (score < best) {
        continue;
      }
      best = score;
      best_start = start;
      best_length = length;
    }
  }
  double needed = (double)policy->max_parts / 2;
  needed = needed < policy->min_merge_multiplier ? policy->min_merge_multiplier : needed;
  size_t result = 0;
  if (best_length > 0 && best >= needed) {
    for (size_t k = 0; k < best_length; k++) {
      chosen[result++] = candidates[best_start + k].index;
    }
  }
  free(candidates);
  return result;
}

/* ------------------------------------------------------------------ merging */

typedef struct input_cursor {
  sl_part *part;
  size_t chunk;
  const sl_block_meta *blocks; /* of the current chunk */
  size_t block_count;
  size_t block;
  bool done;
  uint32_t *new_position; /* old row -> new row */
  uint64_t read_bytes;    /* stored bytes read since the input's pages were last released */
} input_cursor;

typedef struct group_block {
  size_t input;
  const sl_block_meta *meta;
} group_block;

typedef struct merge_state {
  const sl_part_layout *layout;
  input_cursor *inputs;
  size_t input_count;
  sl_part_writer *writer;
  bool file_output;
  sl_read_context context;
  sl_merge_stats stats;
  group_block *group;
  size_t group_count;
  size_t group_capacity;
  /* decoded rows of the pending blocks */
  size_t pending_rows;
  size_t pending_capacity;
  int64_t *ints[SL_PART_MAX_COLUMNS];
  sl_bytes *bytes[SL_PART_MAX_COLUMNS];
  uint8_t *nulls[SL_PART_MAX_COLUMNS];
  size_t *source_input;  /* per pending row */
  uint64_t *source_row;
  size_t *order;
  /* the pending rows gathered in order for the part writer, kept across groups (a trace group is
   * one flush_pending: allocating these per group cost two mallocs per column per trace) */
  size_t gathered_capacity;
  int64_t *gathered_ints[SL_PART_MAX_COLUMNS];
  sl_bytes *gathered_bytes[SL_PART_MAX_COLUMNS];
  uint8_t *gathered_nulls[SL_PART_MAX_COLUMNS];
  sl_bytes pending_key;
  uint8_t key_storage[SL_PART_MAX_KEY_BYTES];
} merge_state;

static sl_status cursor_load(merge_state *state, input_cursor *cursor, sl_error *err) {
  while (!cursor->done && cursor->block >= cursor->block_count) {
    if (cursor->blocks != NULL) {
      cursor->chunk++;
    }
    if (cursor->chunk >= sl_part_chunk_count(cursor->part)) {
      cursor->done = true;
      return SL_OK;
    }
    SL_TRY(sl_part_chunk_blocks(cursor->part, cursor->chunk, &state->context, &cursor->blocks, &cursor->block_count, err));
    cursor->block = 0;
  }
  return SL_OK;
}

static bool is_int(sl_column_type type) { return type == SL_COLUMN_INT64 || type == SL_COLUMN_TIMESTAMP; }

/* Grows one set of per-column arrays to capacity values: ints for int columns, bytes for the
 * others, and a null flag each (an array a failed realloc leaves stays valid and owned). */
static sl_status grow_columns(const sl_part_layout *layout, int64_t **ints, sl_bytes **bytes, uint8_t **nulls,
                              size_t capacity, sl_error *err) {
  for (uint32_t c = 0; c < layout->column_count; c++) {
    if (is_int(layout->columns[c].type)) {
      int64_t *grown = realloc(ints[c], capacity * sizeof *grown);
      if (grown == NULL) {
        return sl_error_set(err, SL_ERR_NOMEM, "merge: out of memory");
      }
      ints[c] = grown;
    } else {
      sl_bytes *grown = realloc(bytes[c], capacity * sizeof *grown);
      if (grown == NULL) {
        return sl_error_set(err, SL_ERR_NOMEM, "merge: out of memory");
      }
      bytes[c] = grown;
    }
    uint8_t *grown_nulls = realloc(nulls[c], capacity);
    if (grown_nulls == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "merge: out of memory");
    }
    nulls[c] = grown_nulls;
  }
  return SL_OK;
}

static sl_status reserve_pending(merge_state *state, size_t more, sl_error *err) {
  if (state->pending_rows + more <= state->pending_capacity) {
    return SL_OK;
  }
  size_t capacity = state->pending_capacity == 0 ? 1024 : state->pending_capacity;
  while (capacity < state->pending_rows + more) {
    capacity *= 2;
  }
  SL_TRY(grow_columns(state->layout, state->ints, state->bytes, state->nulls, capacity, err));
  size_t *inputs = realloc(state->source_input, capacity * sizeof *inputs);
  uint64_t *rows = inputs != NULL ? realloc(state->source_row, capacity * sizeof *rows) : NULL;
  size_t *order = rows != NULL ? realloc(state->order, capacity * sizeof *order) : NULL;
  if (inputs != NULL) {
    state->source_input = inputs;
  }
  if (rows != NULL) {
    state->source_row = rows;
  }
  if (order == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "merge: out of memory");
  }
  state->order = order;
  state->pending_capacity = capacity;
  return SL_OK;
}

uint64_t sl_merge_release_every_bytes = 256u << 20;
uint64_t sl_merge_uncached_from_bytes = 0;

/* Whether a merge of these inputs writes through the page cache (sl_merge_uncached_from_bytes). */
static bool output_page_cached(sl_part *const *inputs, size_t input_count) {
  uint64_t bytes = 0;
  for (size_t i = 0; i < input_count; i++) {
    sl_part_info info = sl_part_info_of(inputs[i]);
    if (info.in_memory) {
      return true;
    }
    bytes += info.size_bytes;
  }
  uint64_t threshold = sl_merge_uncached_from_bytes;
  if (threshold == 0) {
    long pages = sysconf(_SC_PHYS_PAGES);
    long page_bytes = sysconf(_SC_PAGESIZE);
    uint64_t memory = pages > 0 && page_bytes > 0 ? (uint64_t)pages * (uint64_t)page_bytes : 0;
    threshold = memory / 100 > (10u << 20) ? memory / 100 : (10u << 20);
  }
  return bytes < threshold;
}

/* Counts a block read from a file part; past sl_merge_release_every_bytes the input's mapped pages
 * leave the process (they stay in the page cache; rows still pending that point into them fault
 * back in), so that a merge of many GB does not grow the RSS by all it read (docs/MODELS.md). */
static void note_read(merge_state *state, const group_block *entry) {
  input_cursor *input = &state->inputs[entry->input];
  for (uint32_t c = 0; c < state->layout->column_count; c++) {
    input->read_bytes += entry->meta->columns[c].size;
  }
  if (input->read_bytes >= sl_merge_release_every_bytes) {
    sl_part_release_pages(input->part);
    input->read_bytes = 0;
    state->stats.page_releases++;
  }
}

/* Decodes a block's columns and appends its rows to the pending rows. */
static sl_status decode_into_pending(merge_state *state, const group_block *entry, sl_error *err) {
  const sl_block_meta *block = entry->meta;
  sl_part *part = state->inputs[entry->input].part;
  SL_TRY(reserve_pending(state, block->rows, err));
  size_t at = state->pending_rows;
  for (uint32_t c = 0; c < state->layout->column_count; c++) {
    sl_column_view view;
    SL_TRY(sl_part_read_column(part, block, c, &state->context, &view, err));
    for (uint32_t i = 0; i < block->rows; i++) {
      state->nulls[c][at + i] = view.is_null != NULL ? view.is_null[i] : 0;
      if (is_int(state->layout->columns[c].type)) {
        state->ints[c][at + i] = view.ints[i];
      } else {
        state->bytes[c][at + i] = view.bytes[i];
      }
    }
  }
  for (uint32_t i = 0; i < block->rows; i++) {
    state->source_input[at + i] = entry->input;
    state->source_row[at + i] = block->first_row + i;
  }
  state->pending_rows += block->rows;
  state->stats.blocks_rewritten++;
  note_read(state, entry);
  return SL_OK;
}

typedef struct order_context {
  const merge_state *state;
} order_context;

static int compare_pending(const void *a, const void *b, void *opaque) {
  const merge_state *state = ((const order_context *)opaque)->state;
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  const int64_t *sort = state->ints[state->layout->sort_column];
  if (sort[x] != sort[y]) {
    return sort[x] < sort[y] ? -1 : 1;
  }
  if (state->source_input[x] != state->source_input[y]) {
    return state->source_input[x] < state->source_input[y] ? -1 : 1;
  }
  return state->source_row[x] < state->source_row[y] ? -1 : state->source_row[x] > state->source_row[y];
}

static uint64_t pending_row_bytes(const merge_state *state, size_t row) {
  uint64_t bytes = 0;
  for (uint32_t c = 0; c < state->layout->column_count; c++) {
    if (state->nulls[c][row]) {
      continue;
    }
    bytes += is_int(state->layout->columns[c].type) ? 8 : state->bytes[c][row].size_bytes;
  }
  return bytes;
}

/* Makes the gather buffers hold rows values per column (an int64 or an sl_bytes, and a null flag). */
static sl_status reserve_gathered(merge_state *state, size_t rows, sl_error *err) {
  if (rows <= state->gathered_capacity) {
    return SL_OK;
  }
  size_t capacity = state->gathered_capacity == 0 ? 256 : state->gathered_capacity;
  while (capacity < rows) {
    capacity *= 2;
  }
  SL_TRY(grow_columns(state->layout, state->gathered_ints, state->gathered_bytes, state->gathered_nulls, capacity,
                      err));
  state->gathered_capacity = capacity;
  return SL_OK;
}

/* Writes the pending rows (sorted when they may interleave) as blocks. */
static sl_status flush_pending(merge_state *state, bool sort_rows, sl_error *err) {
  size_t rows = state->pending_rows;
  if (rows == 0) {
    return SL_OK;
  }
  const sl_part_layout *layout = state->layout;
  for (size_t i = 0; i < rows; i++) {
    state->order[i] = i;
  }
  if (sort_rows) {
    order_context context = {.state = state};
    qsort_r(state->order, rows, sizeof *state->order, compare_pending, &context);
  }
  /* Gather the rows in order into column views, block by block. */
  sl_status status = reserve_gathered(state, rows, err);
  int64_t *const *all_ints = state->gathered_ints;
  sl_bytes *const *all_bytes = state->gathered_bytes;
  uint8_t *const *all_nulls = state->gathered_nulls;
  for (uint32_t c = 0; status == SL_OK && c < layout->column_count; c++) {
    for (size_t i = 0; i < rows; i++) {
      size_t from = state->order[i];
      all_nulls[c][i] = state->nulls[c][from];
      if (all_ints[c] != NULL) {
        all_ints[c][i] = state->ints[c][from];
      } else {
        all_bytes[c][i] = state->bytes[c][from];
      }
    }
  }
  size_t start = 0;
  while (status == SL_OK && start < rows) {
    size_t end = start;
    uint64_t block_bytes = 0;
    while (end < rows) {
      /* As sl_part_build_memory: a row that would take the block past the byte limit starts the next. */
      uint64_t row_bytes = pending_row_bytes(state, state->order[end]) + state->pending_key.size_bytes;
      if (end > start && ((layout->max_block_rows > 0 && end - start >= layout->max_block_rows) ||
                          (layout->max_block_raw_bytes > 0 && block_bytes + row_bytes > layout->max_block_raw_bytes))) {
        break;
      }
      block_bytes += row_bytes;
      end++;
    }
    sl_column_view views[SL_PART_MAX_COLUMNS];
    for (uint32_t c = 0; c < layout->column_count; c++) {
      bool any_null = false;
      for (size_t i = start; i < end && !any_null; i++) {
        any_null = all_nulls[c][i] != 0;
      }
      views[c] = (sl_column_view){.type = layout->columns[c].type, .count = end - start,
                                  .ints = all_ints[c] != NULL ? all_ints[c] + start : NULL,
                                  .bytes = all_bytes[c] != NULL ? all_bytes[c] + start : NULL,
                                  .is_null = any_null ? all_nulls[c] + start : NULL};
    }
    uint64_t first_row = 0;
    status = sl_part_writer_add_block(state->writer, state->pending_key, views, (uint32_t)(end - start), &first_row, err);
    for (size_t i = start; status == SL_OK && i < end; i++) {
      size_t from = state->order[i];
      state->inputs[state->source_input[from]].new_position[state->source_row[from]] = (uint32_t)(first_row + (i - start));
    }
    start = end;
  }
  state->pending_rows = 0;
  sl_read_context_reset(&state->context);
  return status;
}

/* Estimated raw bytes of a block from its stored sizes and the part's ratios. */
static double block_raw_estimate(const sl_part *part, const sl_block_meta *block) {
  const sl_column_stats *stats = sl_part_column_stats(part);
  double total = 0;
  for (uint32_t c = 0; c < sl_part_layout_of(part)->column_count; c++) {
    double ratio = stats[c].stored_bytes > 0 ? (double)stats[c].raw_bytes / (double)stats[c].stored_bytes : 1;
    total += ratio * (double)block->columns[c].size;
  }
  return total;
}

static bool block_is_full(const merge_state *state, const group_block *entry) {
  const sl_part_layout *layout = state->layout;
  if (layout->max_block_rows > 0 && entry->meta->rows >= layout->max_block_rows / 2) {
    return true;
  }
  return layout->max_block_raw_bytes > 0 &&
         block_raw_estimate(state->inputs[entry->input].part, entry->meta) >= (double)layout->max_block_raw_bytes / 2;
}

/* Blocks of one key by (min sort value, input age, position): a total order, so that qsort
 * cannot swap two blocks of one input whose sort values are all equal. */
static int compare_group(const void *a, const void *b) {
  const group_block *x = a, *y = b;
  if (x->meta->min_sort != y->meta->min_sort) {
    return x->meta->min_sort < y->meta->min_sort ? -1 : 1;
  }
  if (x->input != y->input) {
    return x->input < y->input ? -1 : 1;
  }
  return x->meta->first_row < y->meta->first_row ? -1 : x->meta->first_row > y->meta->first_row;
}

/* Whether row (input, position) comes after row (other_input, other_position) of the same sort value. */
static bool after_in_age(size_t input, uint64_t position, size_t other_input, uint64_t other_position) {
  return input > other_input || (input == other_input && position > other_position);
}

static sl_status copy_block(merge_state *state, const group_block *entry, sl_error *err) {
  uint64_t first_row = 0;
  SL_TRY(sl_part_writer_copy_block(state->writer, state->inputs[entry->input].part, entry->meta, &state->context,
                                   &first_row, err));
  uint32_t *map = state->inputs[entry->input].new_position;
  for (uint32_t i = 0; i < entry->meta->rows; i++) {
    map[entry->meta->first_row + i] = (uint32_t)(first_row + i);
  }
  state->stats.blocks_copied++;
  note_read(state, entry);
  return SL_OK;
}

/* Writes the blocks of one key gathered from the inputs. */
static sl_status merge_group(merge_state *state, sl_error *err) {
  size_t count = state->group_count;
  qsort(state->group, count, sizeof *state->group, compare_group);
  bool all_files = state->file_output;
  for (size_t g = 0; g < count && all_files; g++) {
    all_files = sl_part_dir(state->inputs[state->group[g].input].part) != NULL;
  }
  if (count == 1 && all_files) {
    return copy_block(state, &state->group[0], err);
  }
  /* The blocks may be written one after the other only if every row comes after every row of the
   * blocks before it in (sort value, input age, position) order.  On equal sort values the block's
   * first row must come after the last holder of that value (a newer input, or later in the same
   * input), else the rows are interleaved by the decode path. */
  bool overlapping = false;
  int64_t max_so_far = INT64_MIN;
  size_t max_input = 0;
  uint64_t max_row = 0;
  for (size_t g = 0; g < count; g++) {
    const sl_block_meta *meta = state->group[g].meta;
    size_t input = state->group[g].input;
    if (g > 0 && (meta->min_sort < max_so_far ||
                  (meta->min_sort == max_so_far && !after_in_age(input, meta->first_row, max_input, max_row)))) {
      overlapping = true;
    }
    if (g == 0 || meta->max_sort > max_so_far ||
        (meta->max_sort == max_so_far && after_in_age(input, meta->first_row, max_input, max_row))) {
      max_so_far = meta->max_sort;
      max_input = input;
      max_row = meta->first_row;
    }
  }
  if (overlapping || state->layout->kind == SL_LAYOUT_TRACE) {
    /* A trace is one block (up to the size limit); interleaved rows are merged. */
    for (size_t g = 0; g < count; g++) {
      SL_TRY(decode_into_pending(state, &state->group[g], err));
    }
    return flush_pending(state, true, err);
  }
  double pending_bytes = 0;
  for (size_t g = 0; g < count; g++) {
    const group_block *entry = &state->group[g];
    if (all_files && block_is_full(state, entry)) {
      SL_TRY(flush_pending(state, false, err));
      pending_bytes = 0;
      SL_TRY(copy_block(state, entry, err));
      continue;
    }
    SL_TRY(decode_into_pending(state, entry, err));
    pending_bytes += block_raw_estimate(state->inputs[entry->input].part, entry->meta);
    if (state->layout->max_block_raw_bytes > 0 && pending_bytes >= (double)state->layout->max_block_raw_bytes) {
      SL_TRY(flush_pending(state, false, err));
      pending_bytes = 0;
    }
  }
  return flush_pending(state, false, err);
}

static sl_status add_to_group(merge_state *state, size_t input, const sl_block_meta *meta, sl_error *err) {
  if (state->group_count == state->group_capacity) {
    size_t capacity = state->group_capacity == 0 ? 32 : state->group_capacity * 2;
    group_block *grown = realloc(state->group, capacity * sizeof *grown);
    if (grown == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "merge: out of memory");
    }
    state->group = grown;
    state->group_capacity = capacity;
  }
  state->group[state->group_count++] = (group_block){.input = input, .meta = meta};
  return SL_OK;
}

static sl_status merge_blocks(merge_state *state, sl_error *err) {
  for (;;) {
    /* The smallest current key. */
    sl_bytes key = {0};
    bool found = false;
    for (size_t i = 0; i < state->input_count; i++) {
      input_cursor *cursor = &state->inputs[i];
      SL_TRY(cursor_load(state, cursor, err));
      if (!cursor->done && (!found || sl_bytes_compare(cursor->blocks[cursor->block].key, key) < 0)) {
        key = cursor->blocks[cursor->block].key;
        found = true;
      }
    }
    if (!found) {
      return SL_OK;
    }
    assert(key.size_bytes <= SL_PART_MAX_KEY_BYTES);
    memcpy(state->key_storage, key.data, key.size_bytes);
    state->pending_key = (sl_bytes){.data = (const char *)state->key_storage, .size_bytes = key.size_bytes};
    state->group_count = 0;
    for (size_t i = 0; i < state->input_count; i++) {
      input_cursor *cursor = &state->inputs[i];
      while (!cursor->done && sl_bytes_compare(cursor->blocks[cursor->block].key, state->pending_key) == 0) {
        SL_TRY(add_to_group(state, i, &cursor->blocks[cursor->block], err));
        cursor->block++;
        SL_TRY(cursor_load(state, cursor, err));
      }
    }
    SL_TRY(merge_group(state, err));
  }
}

static sl_status merge_series(merge_state *state, sl_error *err) {
  if (!state->layout->series_metadata) {
    return SL_OK;
  }
  size_t *next = calloc(state->input_count + 1, sizeof *next);
  if (next == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "merge: out of memory");
  }
  sl_status status = SL_OK;
  for (;;) {
    const sl_series_entry *smallest = NULL;
    for (size_t i = 0; i < state->input_count; i++) {
      sl_part *part = state->inputs[i].part;
      if (next[i] < sl_part_series_count(part)) {
        const sl_series_entry *entry = sl_part_series_at(part, next[i]);
        if (smallest == NULL || sl_bytes_compare(entry->key, smallest->key) < 0) {
          smallest = entry;
        }
      }
    }
    if (smallest == NULL) {
      break;
    }
    status = sl_part_writer_add_series(state->writer, smallest, err);
    if (status != SL_OK) {
      break;
    }
    sl_series_entry current = *smallest;
    for (size_t i = 0; i < state->input_count; i++) {
      sl_part *part = state->inputs[i].part;
      while (next[i] < sl_part_series_count(part) &&
             sl_bytes_compare(sl_part_series_at(part, next[i])->key, current.key) == 0) {
        next[i]++;
      }
    }
  }
  free(next);
  return status;
}

/* Term index i: k-way merge of the inputs' terms, postings remapped. */
static sl_status merge_index(merge_state *state, uint32_t index, sl_error *err) {
  size_t n = state->input_count;
  sl_part_term_cursor **cursors = calloc(n + 1, sizeof(sl_part_term_cursor *));
  bool *valid = calloc(n + 1, sizeof *valid);
  sl_bytes *terms = calloc(n + 1, sizeof *terms);
  roaring_bitmap_t **postings = calloc(n + 1, sizeof(roaring_bitmap_t *));
  uint32_t *positions = NULL;
  size_t positions_capacity = 0;
  /* Terms are index terms (up to SL_TERM_MAX_BYTES, what a write accepts), not block keys. */
  uint8_t *current = malloc(SL_TERM_MAX_BYTES + 1);
  sl_status status = cursors != NULL && valid != NULL && terms != NULL && postings != NULL && current != NULL
                         ? SL_OK
                         : sl_error_set(err, SL_ERR_NOMEM, "merge: out of memory");
  for (size_t i = 0; status == SL_OK && i < n; i++) {
    status = sl_part_term_cursor_open(state->inputs[i].part, index, false, &state->context, &cursors[i], err);
    if (status == SL_OK) {
      status = sl_part_term_cursor_next(cursors[i], &valid[i], &terms[i], &postings[i], err);
    }
  }
  while (status == SL_OK) {
    int smallest = -1;
    for (size_t i = 0; i < n; i++) {
      if (valid[i] && (smallest < 0 || sl_bytes_compare(terms[i], terms[smallest]) < 0)) {
        smallest = (int)i;
      }
    }
    if (smallest < 0) {
      break;
    }
    size_t term_bytes = terms[smallest].size_bytes;
    if (term_bytes > SL_TERM_MAX_BYTES) {
      status = sl_error_set(err, SL_ERR_CORRUPT, "merge: index %s of part %016llx: a term of %zu bytes, over the %d-byte limit",
                            state->layout->indexes[index].name,
                            (unsigned long long)sl_part_info_of(state->inputs[smallest].part).id, term_bytes,
                            SL_TERM_MAX_BYTES);
      break;
    }
    memcpy(current, terms[smallest].data, term_bytes);
    sl_bytes term = {.data = (const char *)current, .size_bytes = term_bytes};
    roaring_bitmap_t *merged = roaring_bitmap_create();
    if (merged == NULL) {
      status = sl_error_set(err, SL_ERR_NOMEM, "merge: out of memory");
      break;
    }
    for (size_t i = 0; status == SL_OK && i < n; i++) {
      if (!valid[i] || sl_bytes_compare(terms[i], term) != 0) {
        continue;
      }
      uint64_t count = roaring_bitmap_get_cardinality(postings[i]);
      if (count > positions_capacity) {
        uint32_t *grown = realloc(positions, (size_t)count * sizeof *grown);
        if (grown == NULL) {
          status = sl_error_set(err, SL_ERR_NOMEM, "merge: out of memory");
          break;
        }
        positions = grown;
        positions_capacity = (size_t)count;
      }
      roaring_bitmap_to_uint32_array(postings[i], positions);
      uint64_t rows = sl_part_info_of(state->inputs[i].part).rows;
      for (uint64_t k = 0; k < count; k++) {
        if (positions[k] >= rows) {
          status = sl_error_set(err, SL_ERR_CORRUPT, "merge: index %s of part %016llx lists row %u of %llu",
                                state->layout->indexes[index].name,
                                (unsigned long long)sl_part_info_of(state->inputs[i].part).id, positions[k],
                                (unsigned long long)rows);
          break;
        }
        positions[k] = state->inputs[i].new_position[positions[k]];
      }
      if (status == SL_OK) {
        roaring_bitmap_add_many(merged, (size_t)count, positions);
        sl_bitmap_free(postings[i]);
        postings[i] = NULL;
        status = sl_part_term_cursor_next(cursors[i], &valid[i], &terms[i], &postings[i], err);
      }
    }
    if (status == SL_OK) {
      roaring_bitmap_run_optimize(merged);
      status = sl_part_writer_add_term(state->writer, index, term, merged, err);
    }
    sl_bitmap_free(merged);
  }
  for (size_t i = 0; i < n; i++) {
    if (cursors != NULL) {
      sl_part_term_cursor_close(cursors[i]);
    }
    if (postings != NULL) {
      sl_bitmap_free(postings[i]);
    }
  }
  free(cursors);
  free(valid);
  free(terms);
  free(postings);
  free(positions);
  free(current);
  return status;
}

static void state_free(merge_state *state) {
  for (size_t i = 0; state->inputs != NULL && i < state->input_count; i++) {
    free(state->inputs[i].new_position);
  }
  free(state->inputs);
  for (uint32_t c = 0; c < SL_PART_MAX_COLUMNS; c++) {
    free(state->ints[c]);
    free(state->bytes[c]);
    free(state->nulls[c]);
    free(state->gathered_ints[c]);
    free(state->gathered_bytes[c]);
    free(state->gathered_nulls[c]);
  }
  free(state->source_input);
  free(state->source_row);
  free(state->order);
  free(state->group);
  sl_read_context_free(&state->context);
}

sl_status sl_parts_merge(sl_part *const *inputs, size_t input_count, const char *dir, uint64_t part_id,
                         sl_merge_stats *stats, sl_part **out, sl_error *err) {
  assert(inputs != NULL && input_count > 0 && out != NULL);
  *out = NULL;
  int64_t began = sl_monotonic_ns();
  merge_state state = {.layout = sl_part_layout_of(inputs[0]), .input_count = input_count, .file_output = dir != NULL};
  SL_TRY(sl_read_context_init(&state.context, err));
  state.inputs = calloc(input_count, sizeof *state.inputs);
  sl_status status = state.inputs != NULL ? SL_OK : sl_error_set(err, SL_ERR_NOMEM, "merge: out of memory");
  uint64_t first_sequence = UINT64_MAX, last_sequence = 0, rows = 0;
  for (size_t i = 0; status == SL_OK && i < input_count; i++) {
    sl_part_info info = sl_part_info_of(inputs[i]);
    if (sl_part_layout_of(inputs[i])->kind != state.layout->kind ||
        sl_part_layout_of(inputs[i])->column_count != state.layout->column_count) {
      status = sl_error_set(err, SL_ERR_INTERNAL, "merge: parts of different layouts");
      break;
    }
    state.inputs[i].part = inputs[i];
    state.inputs[i].new_position = malloc((size_t)(info.rows + 1) * sizeof(uint32_t));
    if (state.inputs[i].new_position == NULL) {
      status = sl_error_set(err, SL_ERR_NOMEM, "merge: out of memory for %llu rows", (unsigned long long)info.rows);
    }
    first_sequence = info.first_sequence < first_sequence ? info.first_sequence : first_sequence;
    last_sequence = info.last_sequence > last_sequence ? info.last_sequence : last_sequence;
    rows += info.rows;
    state.stats.bytes_in += info.size_bytes;
  }
  if (status == SL_OK && rows >= UINT32_MAX) {
    status = sl_error_set(err, SL_ERR_INVALID, "merge: %llu rows is over the 2^32 rows of one part", (unsigned long long)rows);
  }
  if (status == SL_OK) {
    status = sl_part_writer_open(state.layout, dir, part_id, output_page_cached(inputs, input_count), &state.writer,
                                 err);
  }
  if (status == SL_OK) {
    sl_part_writer_set_sequences(state.writer, first_sequence == UINT64_MAX ? 0 : first_sequence, last_sequence);
    status = merge_blocks(&state, err);
  }
  if (status == SL_OK && sl_part_writer_rows(state.writer) != rows) {
    status = sl_error_set(err, SL_ERR_INTERNAL, "merge: wrote %llu rows of %llu",
                          (unsigned long long)sl_part_writer_rows(state.writer), (unsigned long long)rows);
  }
  if (status == SL_OK) {
    status = merge_series(&state, err);
  }
  for (uint32_t x = 0; status == SL_OK && x < state.layout->index_count; x++) {
    status = merge_index(&state, x, err);
  }
  sl_part *merged = NULL;
  if (status == SL_OK) {
    sl_part_writer *writer = state.writer;
    state.stats.compress_ns = sl_part_writer_compress_ns(writer);
    state.writer = NULL;
    status = sl_part_writer_finish(writer, &merged, err);
  }
  if (state.writer != NULL) {
    sl_part_writer_abort(state.writer);
  }
  if (status == SL_OK) {
    state.stats.rows = rows;
    state.stats.bytes_out = sl_part_info_of(merged).size_bytes;
    state.stats.elapsed_ns = sl_monotonic_ns() - began;
    if (stats != NULL) {
      *stats = state.stats;
    }
    *out = merged;
  }
  for (size_t i = 0; i < input_count; i++) {
    sl_part_release_pages(inputs[i]);
  }
  state_free(&state);
  return status;
}
