/* trace.c: the Trace engine's store, layouts and write path (trace.h;
 * docs/MODELS.md "Trace model", docs/FORMAT.md "Parts").
 *
 * One store (tsdb.h): table kind 0 holds spans, one trace per block (key = 8
 * bytes big-endian XXH64 of the trace id, then the id); kinds 1..R are one
 * secondary index (sidx) per bound rule: rows (series of the rule's leading
 * tags, key = its last tag, the trace's 8-byte hash).  A span and its sidx
 * rows go to the shard of its trace (XXH64(trace id) mod shards, BanyanDB's
 * TraceShardID) and to the day segment of its timestamp tag; one write batch
 * is one WAL record, visible atomically in every table. */
#include "trace/trace.h"

#include <assert.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "storage/fileio.h"
#include "storage/series.h"
#include "trace/trace_internal.h"

uint64_t sl_trace_hash(sl_bytes trace_id) { return sl_hash64(trace_id.data, trace_id.size_bytes, 0); }

/* A value with the kind its tag type stores (timestamps given as ints become
 * timestamps, strings of a binary tag become binary). */
static sl_value canonical(sl_tag_type type, sl_value value) {
  if (value.kind == SL_VALUE_INT && type == SL_TAG_TIMESTAMP) {
    value.kind = SL_VALUE_TIMESTAMP;
  } else if (value.kind == SL_VALUE_STR && type == SL_TAG_DATA_BINARY) {
    value.kind = SL_VALUE_BINARY;
  }
  if ((value.kind == SL_VALUE_STR || value.kind == SL_VALUE_BINARY) && value.as.str.data == NULL) {
    value.as.str.data = "";
  }
  return value;
}

sl_status sl_trace_column_value(const sl_trace_engine *engine, size_t tag, const sl_column_view *view, size_t row,
                                sl_arena *arena, sl_value *out, sl_error *err) {
  return sl_engine_column_value(engine->schema->tags[tag].type, view, row, arena, out, err);
}

void sl_trace_series_values(const sl_series_entry *entry, size_t count, sl_value *out) {
  sl_engine_series_values(entry, count, out);
}

/* ------------------------------------------------------------------ layouts */

static sl_status find_tag(const sl_trace_engine *engine, const char *name, const char *what, uint32_t *out,
                          sl_error *err) {
  const sl_tag_spec *tag = name != NULL ? sl_trace_find_tag(engine->schema, name) : NULL;
  if (tag == NULL) {
    return sl_error_set(err, SL_ERR_INVALID, "trace %s: %s %s is not one of its tags", engine->schema->name, what,
                        name != NULL ? name : "(none)");
  }
  *out = tag->tag_index;
  return SL_OK;
}

static sl_status bind_rules(sl_trace_engine *engine, sl_error *err) {
  const sl_index_rule *rules[SL_TRACE_MAX_RULES + 1];
  size_t count = sl_engine_bound_rules(engine->catalog, SL_CATALOG_TRACE, engine->schema->group, engine->schema->name,
                                       rules, SL_TRACE_MAX_RULES + 1);
  if (count > SL_TRACE_MAX_RULES) {
    return sl_error_set(err, SL_ERR_UNSUPPORTED, "trace %s: more than %d bound index rules", engine->schema->name,
                        SL_TRACE_MAX_RULES);
  }
  for (size_t r = 0; r < count; r++) {
    const sl_index_rule *rule = rules[r];
    sl_trace_sidx *sidx = &engine->sidx[engine->sidx_count];
    if (rule->tag_count == 0 || rule->tag_count - 1 > SL_PART_MAX_SERIES_VALUES) {
      return sl_error_set(err, SL_ERR_UNSUPPORTED, "trace %s: index rule %s has %zu tags (1 to %d)",
                          engine->schema->name, rule->name, rule->tag_count, SL_PART_MAX_SERIES_VALUES + 1);
    }
    sidx->rule = rule;
    sidx->kind = (uint32_t)engine->sidx_count + 1;
    SL_TRY(find_tag(engine, rule->tags[rule->tag_count - 1], "the key tag of its index rule", &sidx->key_tag, err));
    sl_tag_type key_type = engine->schema->tags[sidx->key_tag].type;
    if (key_type != SL_TAG_INT && key_type != SL_TAG_TIMESTAMP) {
      /* BanyanDB rejects every write to such a rule ("unsupported tag value type"). */
      return sl_error_set(err, SL_ERR_INVALID,
                          "trace %s: index rule %s orders by %s, a %s tag; a sidx key must be an int or a timestamp",
                          engine->schema->name, rule->name, engine->schema->tags[sidx->key_tag].name,
                          sl_tag_type_name(key_type));
    }
    sidx->key_is_timestamp = key_type == SL_TAG_TIMESTAMP;
    sidx->series_count = rule->tag_count - 1;
    for (size_t t = 0; t < sidx->series_count; t++) {
      SL_TRY(find_tag(engine, rule->tags[t], "a tag of an index rule", &sidx->series_tags[t], err));
      sl_tag_type type = engine->schema->tags[sidx->series_tags[t]].type;
      if (type == SL_TAG_STRING_ARRAY || type == SL_TAG_INT_ARRAY) {
        return sl_error_set(err, SL_ERR_UNSUPPORTED, "trace %s: index rule %s: series tag %s is an array",
                            engine->schema->name, rule->name, rule->tags[t]);
      }
    }
    engine->sidx_count++;
  }
  return SL_OK;
}

static sl_status build_layouts(sl_trace_engine *engine, sl_error *err) {
  const sl_trace_schema *schema = engine->schema;
  if (schema->tag_count > SL_TRACE_MAX_TAGS) {
    return sl_error_set(err, SL_ERR_UNSUPPORTED, "trace %s: more than %d tags", schema->name, SL_TRACE_MAX_TAGS);
  }
  SL_TRY(find_tag(engine, schema->trace_id_tag, "trace_id_tag_name", &engine->trace_tag, err));
  SL_TRY(find_tag(engine, schema->timestamp_tag, "timestamp_tag_name", &engine->timestamp_tag, err));
  if (schema->tags[engine->trace_tag].type != SL_TAG_STRING) {
    return sl_error_set(err, SL_ERR_INVALID, "trace %s: trace id tag %s is not a string tag", schema->name,
                        schema->trace_id_tag);
  }
  sl_tag_type timestamp_type = schema->tags[engine->timestamp_tag].type;
  if (timestamp_type != SL_TAG_INT && timestamp_type != SL_TAG_TIMESTAMP) {
    return sl_error_set(err, SL_ERR_INVALID, "trace %s: timestamp tag %s is neither an int nor a timestamp tag",
                        schema->name, schema->timestamp_tag);
  }
  engine->timestamp_in_ns = timestamp_type == SL_TAG_TIMESTAMP;

  sl_part_layout *layout = &engine->trace_layout;
  memset(layout, 0, sizeof *layout);
  layout->kind = SL_LAYOUT_TRACE;
  uint32_t spans = sl_layout_add_file(layout, "spans.bin");
  engine->timestamp_column = sl_layout_add_column(layout, "timestamp", SL_COLUMN_TIMESTAMP, spans);
  engine->span_column = sl_layout_add_column(layout, "span", SL_COLUMN_BINARY, spans);
  layout->sort_column = engine->timestamp_column;
  layout->timestamp_column = (int32_t)engine->timestamp_column;
  layout->key_bloom = true;
  layout->max_block_raw_bytes = SL_TRACE_MAX_SPAN_BYTES;
  for (size_t t = 0; t < schema->tag_count; t++) {
    engine->column_of_tag[t] = -1;
    if (t == engine->trace_tag) {
      continue; /* the block key holds it */
    }
    char file[SL_PART_NAME_BYTES];
    snprintf(file, sizeof file, "%.80s.t", schema->tags[t].name);
    for (uint32_t f = 0; f < layout->file_count; f++) {
      if (strcmp(layout->file_names[f], file) == 0) {
        return sl_error_set(err, SL_ERR_UNSUPPORTED, "trace %s: two tags share the file name %s", schema->name, file);
      }
    }
    uint32_t file_index = sl_layout_add_file(layout, file);
    engine->column_of_tag[t] =
        (int32_t)sl_layout_add_column(layout, schema->tags[t].name, sl_engine_column_type(schema->tags[t].type), file_index);
  }
  SL_TRY(sl_layout_validate(layout, err));

  sl_part_layout *sidx = &engine->sidx_layout;
  memset(sidx, 0, sizeof *sidx);
  sidx->kind = SL_LAYOUT_SIDX;
  uint32_t keys = sl_layout_add_file(sidx, "keys.bin");
  uint32_t data = sl_layout_add_file(sidx, "data.bin");
  engine->sidx_key_column = sl_layout_add_column(sidx, "key", SL_COLUMN_INT64, keys);
  engine->sidx_trace_column = sl_layout_add_column(sidx, "trace", SL_COLUMN_STRING, data);
  sidx->sort_column = engine->sidx_key_column;
  sidx->timestamp_column = -1;
  sidx->series_metadata = true;
  sidx->max_block_rows = SL_SIDX_MAX_BLOCK_ROWS;
  sidx->max_block_raw_bytes = SL_SIDX_MAX_BLOCK_BYTES;
  return sl_layout_validate(sidx, err);
}

static char *describe(const sl_trace_engine *engine) {
  const sl_trace_schema *schema = engine->schema;
  json_t *tags = json_array();
  for (size_t t = 0; t < schema->tag_count; t++) {
    json_array_append_new(tags, json_pack("{s:s, s:s}", "name", schema->tags[t].name, "type",
                                          sl_tag_type_name(schema->tags[t].type)));
  }
  json_t *rules = json_array();
  for (size_t r = 0; r < engine->sidx_count; r++) {
    const sl_index_rule *rule = engine->sidx[r].rule;
    json_t *rule_tags = json_array();
    for (size_t t = 0; t < rule->tag_count; t++) {
      json_array_append_new(rule_tags, json_string(rule->tags[t]));
    }
    json_array_append_new(rules, json_pack("{s:s, s:o}", "name", rule->name, "tags", rule_tags));
  }
  json_t *root = json_pack("{s:i, s:s, s:s, s:s, s:i, s:I, s:I, s:s, s:s, s:o, s:o}", "format_version", 1, "model",
                           "trace", "group", schema->group, "subject", schema->name, "shard_num",
                           (int)engine->group->shard_num, "segment_interval_ms",
                           (json_int_t)sl_interval_ms(engine->group->segment_interval), "ttl_ms",
                           (json_int_t)sl_interval_ms(engine->group->ttl), "trace_id_tag", schema->trace_id_tag,
                           "timestamp_tag", schema->timestamp_tag, "tags", tags, "sidx", rules);
  char *text = root != NULL ? json_dumps(root, JSON_PRESERVE_ORDER) : NULL;
  json_decref(root);
  return text;
}

/* ------------------------------------------------------------------ checking a batch */

/* The span's timestamp tag in ns (validated by check_spans). */
static int64_t span_timestamp_ns(const sl_trace_engine *engine, const sl_element *span) {
  const sl_value *value = &span->values[engine->timestamp_tag];
  return engine->timestamp_in_ns ? value->as.timestamp_ns : value->as.int_value * 1000000;
}

static sl_status check_spans(const sl_trace_engine *engine, const sl_element *spans, size_t count, sl_error *err) {
  const sl_trace_schema *schema = engine->schema;
  for (size_t e = 0; e < count; e++) {
    const sl_element *span = &spans[e];
    for (size_t t = 0; t < schema->tag_count; t++) {
      if (!sl_engine_value_fits(schema->tags[t].type, span->values[t].kind)) {
        return sl_error_set(err, SL_ERR_INVALID, "span %zu: tag %s is %s, %s wants %s", e + 1, schema->tags[t].name,
                            sl_engine_kind_name(span->values[t].kind), schema->name, sl_tag_type_name(schema->tags[t].type));
      }
    }
    const sl_value *id = &span->values[engine->trace_tag];
    if (id->kind != SL_VALUE_STR || id->as.str.size_bytes == 0) {
      return sl_error_set(err, SL_ERR_INVALID, "span %zu: tag %s (the trace id) is %s; the trace model needs a non-empty string",
                          e + 1, schema->trace_id_tag, id->kind == SL_VALUE_STR ? "empty" : sl_engine_kind_name(id->kind));
    }
    if (id->as.str.size_bytes > SL_PART_MAX_KEY_BYTES - SL_TRACE_HASH_BYTES) {
      return sl_error_set(err, SL_ERR_INVALID, "span %zu: tag %s (the trace id) is %zu bytes, at most %d are stored",
                          e + 1, schema->trace_id_tag, id->as.str.size_bytes, SL_PART_MAX_KEY_BYTES - SL_TRACE_HASH_BYTES);
    }
    const sl_value *stamp = &span->values[engine->timestamp_tag];
    if (stamp->kind == SL_VALUE_NULL) {
      return sl_error_set(err, SL_ERR_INVALID, "span %zu: tag %s (the timestamp) is null", e + 1, schema->timestamp_tag);
    }
    int64_t raw = stamp->as.int_value;
    if (!engine->timestamp_in_ns && (raw > INT64_MAX / 1000000 || raw <= 0)) {
      return sl_error_set(err, SL_ERR_INVALID, "span %zu: tag %s (the timestamp) is %lld ms, %s", e + 1,
                          schema->timestamp_tag, (long long)raw, raw <= 0 ? "not positive" : "out of range");
    }
    int64_t ns = span_timestamp_ns(engine, span);
    if (ns <= 0 || ns % 1000000 != 0) {
      return sl_error_set(err, SL_ERR_INVALID,
                          "span %zu: tag %s (the timestamp) is %lld ns, %s (BanyanDB takes positive whole milliseconds)",
                          e + 1, schema->timestamp_tag, (long long)ns, ns <= 0 ? "not positive" : "not in whole milliseconds");
    }
  }
  return SL_OK;
}

/* ------------------------------------------------------------------ routing a batch into memory parts */

typedef struct routed_span {
  int64_t segment_start_ms;
  uint32_t shard;
  size_t span;
  uint64_t hash;
} routed_span;

static int compare_routed(const void *a, const void *b) {
  const routed_span *x = a, *y = b;
  if (x->segment_start_ms != y->segment_start_ms) {
    return x->segment_start_ms < y->segment_start_ms ? -1 : 1;
  }
  if (x->shard != y->shard) {
    return x->shard < y->shard ? -1 : 1;
  }
  return x->span < y->span ? -1 : x->span > y->span;
}

/* Scratch of one routing: rows of one (segment, shard) group for every table kind. */
typedef struct route_scratch {
  sl_arena *arena;
  sl_buffer buffer;
  sl_row_input *rows;
  sl_value *values;
  sl_bytes *series_values;
} route_scratch;

static sl_status arena_bytes(sl_arena *arena, const void *data, size_t size, sl_bytes *out, sl_error *err) {
  char *copy = sl_arena_alloc(arena, size + 1);
  if (copy == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  if (size > 0) {
    memcpy(copy, data, size);
  }
  *out = (sl_bytes){.data = copy, .size_bytes = size};
  return SL_OK;
}

/* The kind-0 row of a span. */
static sl_status trace_row(const sl_trace_engine *engine, const sl_element *span, const routed_span *routed,
                           route_scratch *scratch, sl_value *row_values, sl_row_input *row, sl_error *err) {
  const sl_trace_schema *schema = engine->schema;
  sl_bytes id = span->values[engine->trace_tag].as.str;
  char *key = sl_arena_alloc(scratch->arena, SL_TRACE_HASH_BYTES + id.size_bytes);
  if (key == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  sl_key_from_u64(routed->hash, (uint8_t *)key);
  memcpy(key + SL_TRACE_HASH_BYTES, id.data, id.size_bytes);
  row_values[engine->timestamp_column] = sl_value_int(span_timestamp_ns(engine, span));
  row_values[engine->span_column] = sl_value_binary(span->data.data != NULL ? span->data.data : "", span->data.size_bytes);
  for (size_t t = 0; t < schema->tag_count; t++) {
    int32_t column = engine->column_of_tag[t];
    if (column < 0) {
      continue;
    }
    sl_value value = canonical(schema->tags[t].type, span->values[t]);
    if (value.kind == SL_VALUE_STR_ARRAY || value.kind == SL_VALUE_INT_ARRAY) {
      scratch->buffer.size = 0;
      SL_TRY(sl_array_encode(&value, &scratch->buffer, err));
      sl_bytes copy = {0};
      SL_TRY(arena_bytes(scratch->arena, scratch->buffer.data, scratch->buffer.size, &copy, err));
      value = sl_value_binary(copy.data, copy.size_bytes);
    } else if (value.kind == SL_VALUE_TIMESTAMP) {
      value.kind = SL_VALUE_INT;
    }
    row_values[column] = value;
  }
  *row = (sl_row_input){.key = {.data = key, .size_bytes = SL_TRACE_HASH_BYTES + id.size_bytes}, .values = row_values};
  return SL_OK;
}

/* The sidx row of a span for one rule; *made false when its key tag is null. */
static sl_status sidx_row(const sl_trace_engine *engine, const sl_trace_sidx *sidx, const sl_element *span,
                          sl_bytes trace_hash, route_scratch *scratch, sl_value *row_values, sl_bytes *series_values,
                          sl_row_input *row, bool *made, sl_error *err) {
  const sl_trace_schema *schema = engine->schema;
  *made = false;
  sl_value key = canonical(schema->tags[sidx->key_tag].type, span->values[sidx->key_tag]);
  if (key.kind == SL_VALUE_NULL) {
    return SL_OK; /* not in this index, as BanyanDB has no key to sort it by */
  }
  sl_value series[SL_PART_MAX_SERIES_VALUES];
  for (size_t k = 0; k < sidx->series_count; k++) {
    uint32_t tag = sidx->series_tags[k];
    series[k] = canonical(schema->tags[tag].type, span->values[tag]);
    uint8_t number[8];
    uint8_t kind = 0;
    sl_bytes bytes = sl_series_value_bytes(&series[k], number, &kind);
    char *copy = sl_arena_alloc(scratch->arena, bytes.size_bytes + 1);
    if (copy == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    copy[0] = (char)kind;
    memcpy(copy + 1, bytes.data, bytes.size_bytes);
    series_values[k] = (sl_bytes){.data = copy, .size_bytes = bytes.size_bytes + 1};
  }
  uint64_t series_id = 0;
  SL_TRY(sl_series_id(schema->name, series, sidx->series_count, &scratch->buffer, &series_id, err));
  char *series_key = sl_arena_alloc(scratch->arena, 8);
  if (series_key == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  sl_key_from_u64(series_id, (uint8_t *)series_key);
  row_values[engine->sidx_key_column] = sl_value_int(key.as.int_value); /* ints as is, timestamps in ns */
  row_values[engine->sidx_trace_column] = sl_value_str(trace_hash.data, trace_hash.size_bytes);
  *row = (sl_row_input){.key = {.data = series_key, .size_bytes = 8},
                        .values = row_values,
                        .series_values = series_values,
                        .series_value_count = (uint32_t)sidx->series_count};
  *made = true;
  return SL_OK;
}

/* Builds the memory parts of one (segment, shard) group: the trace table's and each sidx's. */
static sl_status route_group(sl_trace_engine *engine, const sl_element *spans, const routed_span *group, size_t count,
                             route_scratch *scratch, sl_tsdb_target *targets, size_t *built, sl_error *err) {
  size_t columns = engine->trace_layout.column_count;
  for (size_t i = 0; i < count; i++) {
    SL_TRY(trace_row(engine, &spans[group[i].span], &group[i], scratch, scratch->values + i * columns,
                     &scratch->rows[i], err));
  }
  sl_part *part = NULL;
  SL_TRY(sl_part_build_memory(&engine->trace_layout, scratch->rows, count, sl_tsdb_next_part_id(engine->db), 0, &part,
                              err));
  targets[(*built)++] = (sl_tsdb_target){.segment_start_ms = group[0].segment_start_ms, .shard = group[0].shard,
                                         .kind = 0, .part = part};
  for (size_t r = 0; r < engine->sidx_count; r++) {
    const sl_trace_sidx *sidx = &engine->sidx[r];
    size_t rows = 0;
    for (size_t i = 0; i < count; i++) {
      /* The 8 hash bytes are the first bytes of the trace row's key. */
      sl_bytes hash = {.data = scratch->rows[i].key.data, .size_bytes = SL_TRACE_HASH_BYTES};
      bool made = false;
      sl_row_input *row = &scratch->rows[count + rows];
      SL_TRY(sidx_row(engine, sidx, &spans[group[i].span], hash, scratch, scratch->values + (count * columns) + rows * 2,
                      scratch->series_values + rows * SL_PART_MAX_SERIES_VALUES, row, &made, err));
      rows += made;
    }
    if (rows == 0) {
      continue;
    }
    SL_TRY(sl_part_build_memory(&engine->sidx_layout, scratch->rows + count, rows, sl_tsdb_next_part_id(engine->db), 0,
                                &part, err));
    targets[(*built)++] = (sl_tsdb_target){.segment_start_ms = group[0].segment_start_ms, .shard = group[0].shard,
                                           .kind = sidx->kind, .part = part};
  }
  return SL_OK;
}

/* One memory part per (segment, shard, table kind) of the batch; spans of
 * expired segments are dropped and counted. */
static sl_status route(sl_trace_engine *engine, const sl_element *spans, size_t count, sl_tsdb_target **targets_out,
                       size_t *target_count, sl_error *err) {
  *targets_out = NULL;
  *target_count = 0;
  size_t columns = engine->trace_layout.column_count;
  routed_span *routed = malloc((count + 1) * sizeof *routed);
  route_scratch scratch = {.arena = sl_arena_new(64 * 1024)};
  scratch.rows = malloc((2 * count + 1) * sizeof *scratch.rows);
  scratch.values = malloc((count * (columns + 2) + 1) * sizeof *scratch.values);
  scratch.series_values = malloc((count * SL_PART_MAX_SERIES_VALUES + 1) * sizeof *scratch.series_values);
  size_t kinds = 1 + engine->sidx_count;
  sl_tsdb_target *targets = calloc(count * kinds + 1, sizeof *targets);
  sl_status status = routed != NULL && scratch.arena != NULL && scratch.rows != NULL && scratch.values != NULL &&
                             scratch.series_values != NULL && targets != NULL
                         ? SL_OK
                         : sl_error_set(err, SL_ERR_NOMEM, "out of memory routing %zu spans", count);
  size_t kept = 0;
  uint64_t expired = 0;
  uint32_t shards = engine->group->shard_num;
  for (size_t e = 0; e < count && status == SL_OK; e++) {
    uint64_t hash = sl_trace_hash(spans[e].values[engine->trace_tag].as.str);
    int64_t segment = sl_tsdb_segment_start(engine->db, span_timestamp_ns(engine, &spans[e]) / 1000000);
    if (sl_tsdb_segment_expired(engine->db, segment)) {
      expired++;
      continue;
    }
    routed[kept++] = (routed_span){.segment_start_ms = segment, .shard = (uint32_t)(hash % shards), .span = e, .hash = hash};
  }
  if (status == SL_OK && kept > 0) {
    qsort(routed, kept, sizeof *routed, compare_routed);
  }
  size_t built = 0;
  for (size_t start = 0; start < kept && status == SL_OK;) {
    size_t end = start;
    while (end < kept && routed[end].segment_start_ms == routed[start].segment_start_ms &&
           routed[end].shard == routed[start].shard) {
      end++;
    }
    status = route_group(engine, spans, routed + start, end - start, &scratch, targets, &built, err);
    start = end;
  }
  if (status != SL_OK) {
    for (size_t t = 0; targets != NULL && t < built; t++) {
      sl_part_unref(targets[t].part);
    }
    free(targets);
    targets = NULL;
    built = 0;
  } else {
    sl_tsdb_note_expired_rows(engine->db, expired);
    atomic_fetch_add(&engine->spans_expired, expired);
  }
  free(routed);
  free(scratch.rows);
  free(scratch.values);
  free(scratch.series_values);
  sl_buffer_free(&scratch.buffer);
  sl_arena_free(scratch.arena);
  *targets_out = targets;
  *target_count = built;
  return status;
}

static sl_status replay(void *context, sl_tsdb *db, uint64_t sequence, const uint8_t *payload, size_t size,
                        sl_tsdb_target **targets, size_t *count, sl_error *err) {
  sl_trace_engine *engine = context;
  /* Called from inside sl_tsdb_open, before it hands the store back: routing needs it now. */
  engine->db = db;
  sl_arena *arena = sl_arena_new(64 * 1024);
  if (arena == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  sl_element *spans = NULL;
  size_t span_count = 0;
  sl_status status = sl_elements_decode(payload, size, engine->schema->tag_count, arena, &spans, &span_count, err);
  if (status == SL_OK) {
    status = check_spans(engine, spans, span_count, err);
  }
  if (status == SL_OK) {
    status = route(engine, spans, span_count, targets, count, err);
  }
  if (status != SL_OK) {
    sl_error_prefix(err, "WAL record %llu", (unsigned long long)sequence);
  }
  sl_arena_free(arena);
  return status;
}

/* ------------------------------------------------------------------ the engine */

static sl_status resolve(const sl_engine_options *options, const sl_trace_schema **out, sl_error *err) {
  const sl_catalog *catalog = options->catalog;
  for (size_t i = 0; i < sl_catalog_trace_count(catalog); i++) {
    const sl_trace_schema *schema = sl_catalog_trace_at(catalog, i);
    if ((options->group == NULL || strcmp(options->group, schema->group) == 0) &&
        (options->name == NULL || strcmp(options->name, schema->name) == 0)) {
      *out = schema;
      return SL_OK;
    }
  }
  return sl_error_set(err, SL_ERR_NOT_FOUND, "the catalog has no trace%s%s%s%s", options->group ? " in group " : "",
                      options->group ? options->group : "", options->name ? " named " : "",
                      options->name ? options->name : "");
}

/* What open does before it touches the disk: the trace, its group, its part layouts (the engine's
 * limits) and its bound rules. */
static sl_status prepare(const sl_engine_options *options, sl_trace_engine *engine, sl_error *err) {
  engine->catalog = options->catalog;
  SL_TRY(resolve(options, &engine->schema, err));
  SL_TRY(sl_engine_find_group(options->catalog, "trace", engine->schema->name, engine->schema->group, &engine->group,
                              err));
  SL_TRY(build_layouts(engine, err));
  return bind_rules(engine, err);
}

sl_status sl_trace_engine_check(const sl_engine_options *options, sl_error *err) {
  assert(options != NULL && options->catalog != NULL);
  sl_trace_engine *engine = calloc(1, sizeof *engine);
  if (engine == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  sl_status status = prepare(options, engine, err);
  free(engine);
  return status;
}

sl_status sl_trace_engine_open(const sl_engine_options *options, sl_trace_engine **out, sl_error *err) {
  assert(options != NULL && options->catalog != NULL && out != NULL);
  *out = NULL;
  if (options->directory == NULL) {
    return sl_error_set(err, SL_ERR_INVALID, "trace engine: a data directory is required");
  }
  sl_trace_engine *engine = calloc(1, sizeof *engine);
  if (engine == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  sl_status status = prepare(options, engine, err);
  if (status == SL_OK) {
    status = sl_fileio_ensure_dir(options->directory, err);
  }
  if (status == SL_OK) {
    char *description = describe(engine);
    status = description != NULL ? sl_engine_store_meta(options->directory, description, err)
                                 : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    free(description);
  }
  if (status == SL_OK) {
    sl_tsdb_options store;
    sl_tsdb_options_default(&store);
    store.directory = options->directory;
    store.shard_count = engine->group->shard_num;
    store.segment_interval_ms = sl_interval_ms(engine->group->segment_interval);
    store.ttl_ms = sl_interval_ms(engine->group->ttl);
    store.retention_clock = options->retention_clock;
    store.kind_count = (uint32_t)(1 + engine->sidx_count);
    store.layouts[0] = engine->trace_layout;
    for (size_t r = 0; r < engine->sidx_count; r++) {
      store.layouts[r + 1] = engine->sidx_layout;
      snprintf(store.kind_dirs[r + 1], sizeof store.kind_dirs[r + 1], "sidx-%.80s", engine->sidx[r].rule->name);
    }
    store.wal_enabled = options->wal_enabled;
    store.sync_mode = options->sync_mode;
    store.sync_interval_ms = options->sync_interval_ms;
    store.memory_bytes_limit = options->memory_bytes_limit;
    store.flush_interval_ms = options->flush_interval_ms;
    store.background = options->background;
    store.replay = replay;
    store.replay_context = engine;
    status = sl_tsdb_open(&store, &engine->db, err);
  }
  if (status != SL_OK) {
    free(engine);
    return status;
  }
  *out = engine;
  return SL_OK;
}

sl_status sl_trace_engine_close(sl_trace_engine *engine, bool flush, sl_error *err) {
  if (engine == NULL) {
    return SL_OK;
  }
  sl_status status = sl_tsdb_close(engine->db, flush, err);
  free(engine);
  return status;
}

const sl_trace_schema *sl_trace_engine_schema(const sl_trace_engine *engine) { return engine->schema; }
sl_tsdb *sl_trace_engine_store(sl_trace_engine *engine) { return engine->db; }

/* A batch being written: its memory parts are built while its WAL record is written. */
typedef struct write_batch {
  sl_trace_engine *engine;
  const sl_element *spans;
  size_t count;
  uint64_t raw_bytes;
} write_batch;

static sl_status build_batch(void *context, sl_tsdb_target **targets, size_t *target_count, sl_error *err) {
  write_batch *batch = context;
  SL_TRY(route(batch->engine, batch->spans, batch->count, targets, target_count, err));
  for (size_t t = 0; t < *target_count; t++) {
    if ((*targets)[t].kind == 0) {
      batch->raw_bytes += sl_part_info_of((*targets)[t].part).raw_bytes;
    }
  }
  return SL_OK;
}

sl_status sl_trace_engine_write(sl_trace_engine *engine, const sl_element *spans, size_t count, sl_error *err) {
  assert(engine != NULL && (spans != NULL || count == 0));
  if (count == 0) {
    return SL_OK;
  }
  SL_TRY(check_spans(engine, spans, count, err));
  /* The WAL record: framing and short values encoded, long values written from the spans. */
  sl_elements_gather payload = {0};
  sl_status status = sl_tsdb_logged(engine->db)
                         ? sl_elements_encode_gather(spans, count, engine->schema->tag_count, &payload, err)
                         : SL_OK;
  write_batch batch = {.engine = engine, .spans = spans, .count = count};
  if (status == SL_OK) {
    status = sl_tsdb_writev(engine->db, payload.pieces, payload.count, build_batch, &batch, err);
  }
  sl_elements_gather_free(&payload);
  if (status == SL_OK) {
    atomic_fetch_add(&engine->spans_written, count);
    atomic_fetch_add(&engine->raw_bytes_written, batch.raw_bytes);
  }
  return status;
}

/* As the Stream engine's: file parts, and a WAL holding nothing they cover. */
sl_status sl_trace_engine_flush(sl_trace_engine *engine, sl_error *err) { return sl_tsdb_checkpoint(engine->db, err); }
sl_status sl_trace_engine_settle(sl_trace_engine *engine, sl_error *err) { return sl_tsdb_settle(engine->db, err); }

/* The final merge: one part per table, then a checkpoint (the WAL emptied, merged-away parts deleted). */
sl_status sl_trace_engine_compact(sl_trace_engine *engine, sl_error *err) {
  SL_TRY(sl_tsdb_flush(engine->db, err));
  SL_TRY(sl_tsdb_merge_all(engine->db, true, err));
  return sl_tsdb_checkpoint(engine->db, err);
}

void sl_trace_engine_drop_caches(sl_trace_engine *engine) { sl_tsdb_drop_caches(engine->db); }

void sl_trace_engine_stats(sl_trace_engine *engine, sl_trace_stats *out) {
  memset(out, 0, sizeof *out);
  sl_tsdb_stats_get(engine->db, &out->store);
  out->spans_written = atomic_load(&engine->spans_written);
  out->spans_expired = atomic_load(&engine->spans_expired);
  out->raw_bytes_written = atomic_load(&engine->raw_bytes_written);
  out->bloom_lookups = atomic_load(&engine->bloom_lookups);
  out->bloom_false_positives = atomic_load(&engine->bloom_false_positives);
  out->sidx_count = engine->sidx_count;
  for (size_t r = 0; r < engine->sidx_count; r++) {
    snprintf(out->sidx_names[r], sizeof out->sidx_names[r], "%s", engine->sidx[r].rule->name);
    sl_tsdb_view *view = NULL;
    sl_error ignored;
    if (sl_tsdb_acquire(engine->db, INT64_MIN, INT64_MAX, engine->sidx[r].kind, &view, &ignored) != SL_OK) {
      continue;
    }
    for (size_t t = 0; t < sl_tsdb_view_count(view); t++) {
      const sl_tsdb_table_view *table = sl_tsdb_view_at(view, t);
      for (size_t p = 0; p < table->part_count; p++) {
        sl_part_info info = sl_part_info_of(table->parts[p]);
        out->sidx_rows[r] += info.rows;
        out->sidx_bytes[r] += info.in_memory ? 0 : info.size_bytes;
      }
    }
    sl_tsdb_release(view);
  }
}

char *sl_trace_engine_storage_json(sl_trace_engine *engine) {
  /* Columns of the sidx kinds are named "sidx-RULE/COLUMN". */
  const char *kind_names[SL_TSDB_MAX_KINDS] = {"trace"};
  char names[SL_TSDB_MAX_KINDS][SL_PART_NAME_BYTES];
  for (size_t r = 0; r < engine->sidx_count; r++) {
    snprintf(names[r + 1], sizeof names[r + 1], "sidx-%.80s", engine->sidx[r].rule->name);
    kind_names[r + 1] = names[r + 1];
  }
  json_t *root = sl_tsdb_storage_json(engine->db, kind_names);
  if (root == NULL) {
    return NULL;
  }
  sl_engine_annotate_tag_types(root, engine->schema->tags, engine->schema->tag_count);
  uint64_t spans = atomic_load(&engine->spans_written);
  json_t *sidx = json_array();
  sl_trace_stats stats;
  sl_trace_engine_stats(engine, &stats);
  for (size_t r = 0; r < stats.sidx_count; r++) {
    json_array_append_new(sidx, json_pack("{s:s, s:I, s:I}", "rule", stats.sidx_names[r], "rows",
                                          (json_int_t)stats.sidx_rows[r], "file_bytes", (json_int_t)stats.sidx_bytes[r]));
  }
  json_object_set_new(root, "model", json_string("trace"));
  json_object_set_new(root, "trace_id_in_block_key", json_string(engine->schema->trace_id_tag));
  json_object_set_new(root, "sidx", sidx);
  json_object_set_new(root, "spans_written", json_integer((json_int_t)spans));
  json_object_set_new(root, "raw_bytes_written", json_integer((json_int_t)atomic_load(&engine->raw_bytes_written)));
  char *text = json_dumps(root, JSON_PRESERVE_ORDER | JSON_COMPACT);
  json_decref(root);
  return text;
}
