/* stream.c: the Stream engine's store, layout and write path (stream.h). */
#include "stream/stream.h"

#include <assert.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"
#include "query/query_internal.h"
#include "storage/series.h"
#include "storage/termindex.h"
#include "stream/stream_internal.h"

static sl_status build_layout(sl_stream_engine *engine, sl_error *err) {
  const sl_stream_schema *schema = engine->schema;
  sl_part_layout *layout = &engine->layout;
  memset(layout, 0, sizeof *layout);
  layout->kind = SL_LAYOUT_STREAM;
  uint32_t timestamps = sl_layout_add_file(layout, "timestamps.bin");
  engine->timestamp_column = sl_layout_add_column(layout, "timestamp", SL_COLUMN_TIMESTAMP, timestamps);
  engine->element_column = sl_layout_add_column(layout, "elementId", SL_COLUMN_INT64, timestamps);
  layout->sort_column = engine->timestamp_column;
  layout->timestamp_column = (int32_t)engine->timestamp_column;
  layout->series_metadata = true;
  layout->max_block_raw_bytes = SL_STREAM_MAX_BLOCK_BYTES;
  uint32_t family_files[SL_PART_MAX_FILES];
  for (size_t f = 0; f < schema->family_count; f++) {
    char name[SL_PART_NAME_BYTES];
    snprintf(name, sizeof name, "%.80s.tf", schema->families[f].name);
    if (layout->file_count >= SL_PART_MAX_FILES) {
      return sl_error_set(err, SL_ERR_UNSUPPORTED, "stream %s: more than %d tag families", schema->name, SL_PART_MAX_FILES - 1);
    }
    family_files[f] = sl_layout_add_file(layout, name);
  }
  if (schema->tag_count > SL_STREAM_MAX_TAGS || schema->entity_count > SL_PART_MAX_SERIES_VALUES) {
    return sl_error_set(err, SL_ERR_UNSUPPORTED, "stream %s: more than %d tags or %d entity tags", schema->name,
                        SL_STREAM_MAX_TAGS, SL_PART_MAX_SERIES_VALUES);
  }
  for (size_t t = 0; t < schema->tag_count; t++) {
    engine->column_of_tag[t] = -1;
    engine->index_of_tag[t] = -1;
  }
  for (size_t e = 0; e < schema->entity_count; e++) {
    const sl_tag_spec *tag = sl_stream_find_tag(schema, schema->entity_tags[e]);
    assert(tag != NULL);
    engine->entity_tags[e] = tag->tag_index;
    engine->entity_position[tag->tag_index] = (int32_t)e + 1;
  }
  for (size_t t = 0; t < schema->tag_count; t++) {
    const sl_tag_spec *tag = &schema->tags[t];
    if (engine->entity_position[t] > 0) {
      continue; /* entity tags live in the series metadata, as BanyanDB drops them from parts */
    }
    if (layout->column_count >= SL_PART_MAX_COLUMNS) {
      return sl_error_set(err, SL_ERR_UNSUPPORTED, "stream %s: more than %d tags", schema->name, SL_PART_MAX_COLUMNS - 2);
    }
    engine->column_of_tag[t] = (int32_t)sl_layout_add_column(layout, tag->name, sl_engine_column_type(tag->type),
                                                             family_files[tag->family_index]);
  }
  /* One term index per bound inverted rule on a stored, scalar tag. */
  for (size_t r = 0; r < engine->rule_count; r++) {
    const sl_index_rule *rule = engine->rules[r];
    if (rule->type != SL_INDEX_INVERTED || rule->tag_count != 1) {
      continue;
    }
    const sl_tag_spec *tag = sl_stream_find_tag(schema, rule->tags[0]);
    if (tag == NULL || engine->column_of_tag[tag->tag_index] < 0 || engine->index_of_tag[tag->tag_index] >= 0 ||
        tag->type == SL_TAG_STRING_ARRAY || tag->type == SL_TAG_INT_ARRAY || tag->type == SL_TAG_DATA_BINARY ||
        layout->index_count >= SL_PART_MAX_INDEXES) {
      continue;
    }
    engine->index_of_tag[tag->tag_index] =
        (int32_t)sl_layout_add_index(layout, rule->name, (uint32_t)engine->column_of_tag[tag->tag_index]);
  }
  return sl_layout_validate(layout, err);
}

static char *describe(const sl_stream_engine *engine) {
  const sl_stream_schema *schema = engine->schema;
  json_t *tags = json_array();
  for (size_t t = 0; t < schema->tag_count; t++) {
    json_array_append_new(tags, json_pack("{s:s, s:s, s:s}", "family", schema->families[schema->tags[t].family_index].name,
                                          "name", schema->tags[t].name, "type", sl_tag_type_name(schema->tags[t].type)));
  }
  json_t *entity = json_array();
  for (size_t e = 0; e < schema->entity_count; e++) {
    json_array_append_new(entity, json_string(schema->entity_tags[e]));
  }
  json_t *indexes = json_array();
  for (uint32_t i = 0; i < engine->layout.index_count; i++) {
    json_array_append_new(indexes, json_string(engine->layout.indexes[i].name));
  }
  json_t *root = json_pack("{s:i, s:s, s:s, s:s, s:i, s:I, s:I, s:o, s:o, s:o}", "format_version", 1, "model", "stream",
                           "group", schema->group, "subject", schema->name, "shard_num", (int)engine->group->shard_num,
                           "segment_interval_ms", (json_int_t)sl_interval_ms(engine->group->segment_interval), "ttl_ms",
                           (json_int_t)sl_interval_ms(engine->group->ttl), "entity", entity, "tags", tags,
                           "indexes", indexes);
  char *text = root != NULL ? json_dumps(root, JSON_PRESERVE_ORDER) : NULL;
  json_decref(root);
  return text;
}

/* ---- routing a batch into memory parts ---- */

typedef struct routed_row {
  int64_t segment_start_ms;
  uint32_t shard;
  size_t element;
  uint64_t series;
} routed_row;

static int compare_routed(const void *a, const void *b) {
  const routed_row *x = a, *y = b;
  if (x->segment_start_ms != y->segment_start_ms) {
    return x->segment_start_ms < y->segment_start_ms ? -1 : 1;
  }
  if (x->shard != y->shard) {
    return x->shard < y->shard ? -1 : 1;
  }
  return x->element < y->element ? -1 : x->element > y->element;
}

sl_status sl_stream_check_elements(const sl_stream_engine *engine, const sl_element *elements, size_t count,
                                   sl_error *err) {
  const sl_stream_schema *schema = engine->schema;
  for (size_t e = 0; e < count; e++) {
    const sl_element *element = &elements[e];
    if (element->timestamp_ns <= 0 || element->timestamp_ns % 1000000 != 0) {
      return sl_error_set(err, SL_ERR_INVALID,
                          "element %zu: timestamp %lld ns is %s (BanyanDB takes positive whole milliseconds)", e + 1,
                          (long long)element->timestamp_ns, element->timestamp_ns <= 0 ? "not positive" : "not in whole milliseconds");
    }
    for (size_t t = 0; t < schema->tag_count; t++) {
      if (!sl_engine_value_fits(schema->tags[t].type, element->values[t].kind)) {
        return sl_error_set(err, SL_ERR_INVALID, "element %zu: tag %s is %s, %s wants %s", e + 1, schema->tags[t].name,
                            sl_engine_kind_name(element->values[t].kind), schema->name, sl_tag_type_name(schema->tags[t].type));
      }
      /* Checked here, before the batch is logged: a term the index build refuses would leave a WAL
       * record no open can replay. */
      if (engine->index_of_tag[t] >= 0 && element->values[t].kind == SL_VALUE_STR &&
          element->values[t].as.str.size_bytes > SL_TERM_MAX_BYTES) {
        return sl_error_set(err, SL_ERR_INVALID, "element %zu: tag %s is %zu bytes; an indexed tag holds at most %d",
                            e + 1, schema->tags[t].name, element->values[t].as.str.size_bytes, SL_TERM_MAX_BYTES);
      }
    }
  }
  return SL_OK;
}

/* Builds one memory part per (segment, shard) of the batch.  Rows of expired
 * segments are dropped and counted. */
sl_status sl_stream_route(sl_stream_engine *engine, const sl_element *elements, size_t count,
                          sl_tsdb_target **targets_out, size_t *target_count, sl_error *err) {
  *targets_out = NULL;
  *target_count = 0;
  const sl_stream_schema *schema = engine->schema;
  size_t columns = engine->layout.column_count;
  size_t entity_count = schema->entity_count;
  routed_row *routed = malloc((count + 1) * sizeof *routed);
  sl_arena *arena = sl_arena_new(64 * 1024);
  sl_buffer scratch = {0};
  sl_status status = routed != NULL && arena != NULL ? SL_OK : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  size_t kept = 0;
  uint64_t expired = 0;
  for (size_t e = 0; e < count && status == SL_OK; e++) {
    sl_value entity[SL_PART_MAX_SERIES_VALUES];
    for (size_t k = 0; k < entity_count; k++) {
      entity[k] = elements[e].values[engine->entity_tags[k]];
      if (entity[k].kind == SL_VALUE_TIMESTAMP) {
        entity[k].kind = SL_VALUE_INT;
      }
    }
    uint64_t series = 0;
    uint32_t shard = 0;
    status = sl_series_id(schema->name, entity, entity_count, &scratch, &series, err);
    if (status == SL_OK) {
      status = sl_series_shard(schema->name, entity, entity_count, engine->group->shard_num, &scratch, &shard, err);
    }
    int64_t segment = sl_tsdb_segment_start(engine->db, elements[e].timestamp_ns / 1000000);
    if (status == SL_OK && sl_tsdb_segment_expired(engine->db, segment)) {
      expired++;
      continue;
    }
    routed[kept++] = (routed_row){.segment_start_ms = segment, .shard = shard, .element = e, .series = series};
  }
  if (status == SL_OK && kept > 0) {
    qsort(routed, kept, sizeof *routed, compare_routed);
  }
  sl_row_input *rows = status == SL_OK ? malloc((kept + 1) * sizeof *rows) : NULL;
  sl_value *values = status == SL_OK ? malloc((kept * columns + 1) * sizeof *values) : NULL;
  uint8_t *keys = status == SL_OK ? malloc(kept * 8 + 1) : NULL;
  sl_bytes *series_values = status == SL_OK ? malloc((kept * entity_count + 1) * sizeof *series_values) : NULL;
  sl_tsdb_target *targets = status == SL_OK ? calloc(kept + 1, sizeof *targets) : NULL;
  if (status == SL_OK && (rows == NULL || values == NULL || keys == NULL || series_values == NULL || targets == NULL)) {
    status = sl_error_set(err, SL_ERR_NOMEM, "out of memory routing %zu elements", count);
  }
  for (size_t r = 0; r < kept && status == SL_OK; r++) {
    const sl_element *element = &elements[routed[r].element];
    sl_value *row_values = values + r * columns;
    row_values[engine->timestamp_column] = sl_value_int(element->timestamp_ns);
    row_values[engine->element_column] =
        sl_value_int((int64_t)sl_query_element_hash(schema->group, schema->name, element->data));
    for (size_t t = 0; t < schema->tag_count && status == SL_OK; t++) {
      int32_t column = engine->column_of_tag[t];
      if (column < 0) {
        continue;
      }
      sl_value value = element->values[t];
      if (value.kind == SL_VALUE_STR_ARRAY || value.kind == SL_VALUE_INT_ARRAY) {
        sl_buffer encoded = {0};
        status = sl_array_encode(&value, &encoded, err);
        char *copy = status == SL_OK ? sl_arena_alloc(arena, encoded.size + 1) : NULL;
        if (status == SL_OK && copy == NULL) {
          status = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
        }
        if (status == SL_OK) {
          memcpy(copy, encoded.data, encoded.size);
          value = sl_value_binary(copy, encoded.size);
        }
        sl_buffer_free(&encoded);
      } else if (value.kind == SL_VALUE_TIMESTAMP) {
        value.kind = SL_VALUE_INT;
      } else if (value.kind == SL_VALUE_STR && schema->tags[t].type == SL_TAG_DATA_BINARY) {
        value.kind = SL_VALUE_BINARY;
      }
      row_values[column] = value;
    }
    sl_key_from_u64(routed[r].series, keys + r * 8);
    sl_bytes *entity_bytes = series_values + r * entity_count;
    for (size_t k = 0; k < entity_count && status == SL_OK; k++) {
      /* kind byte, then the value's bytes (series.h) */
      uint8_t number[8];
      uint8_t kind = 0;
      sl_value entity = element->values[engine->entity_tags[k]];
      sl_bytes bytes = sl_series_value_bytes(&entity, number, &kind);
      char *copy = sl_arena_alloc(arena, bytes.size_bytes + 1);
      if (copy == NULL) {
        status = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
        break;
      }
      copy[0] = (char)kind;
      memcpy(copy + 1, bytes.data, bytes.size_bytes);
      entity_bytes[k] = (sl_bytes){.data = copy, .size_bytes = bytes.size_bytes + 1};
    }
    rows[r] = (sl_row_input){.key = {.data = (const char *)keys + r * 8, .size_bytes = 8},
                             .values = row_values,
                             .series_values = entity_bytes,
                             .series_value_count = (uint32_t)entity_count};
  }
  size_t built = 0;
  for (size_t start = 0; start < kept && status == SL_OK;) {
    size_t end = start;
    while (end < kept && routed[end].segment_start_ms == routed[start].segment_start_ms &&
           routed[end].shard == routed[start].shard) {
      end++;
    }
    sl_part *part = NULL;
    status = sl_part_build_memory(&engine->layout, rows + start, end - start, sl_tsdb_next_part_id(engine->db), 0, &part, err);
    if (status == SL_OK) {
      targets[built++] = (sl_tsdb_target){.segment_start_ms = routed[start].segment_start_ms,
                                          .shard = routed[start].shard, .kind = 0, .part = part};
    }
    start = end;
  }
  if (status != SL_OK) {
    for (size_t t = 0; targets != NULL && t < built; t++) {
      sl_part_unref(targets[t].part);
    }
    free(targets);
    targets = NULL;
    built = 0;
  }
  if (status == SL_OK) {
    sl_tsdb_note_expired_rows(engine->db, expired);
    atomic_fetch_add(&engine->elements_expired, expired);
  }
  free(routed);
  free(rows);
  free(values);
  free(keys);
  free(series_values);
  sl_buffer_free(&scratch);
  sl_arena_free(arena);
  *targets_out = targets;
  *target_count = built;
  return status;
}

static sl_status replay(void *context, sl_tsdb *db, uint64_t sequence, const uint8_t *payload, size_t size,
                        sl_tsdb_target **targets, size_t *count, sl_error *err) {
  sl_stream_engine *engine = context;
  /* Called from inside sl_tsdb_open, before it hands the store back: routing needs it now. */
  engine->db = db;
  sl_arena *arena = sl_arena_new(64 * 1024);
  if (arena == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  sl_element *elements = NULL;
  size_t element_count = 0;
  sl_status status = sl_elements_decode(payload, size, engine->schema->tag_count, arena, &elements, &element_count, err);
  if (status == SL_OK) {
    status = sl_stream_check_elements(engine, elements, element_count, err);
  }
  if (status == SL_OK) {
    status = sl_stream_route(engine, elements, element_count, targets, count, err);
  }
  if (status != SL_OK) {
    sl_error_prefix(err, "WAL record %llu", (unsigned long long)sequence);
  }
  sl_arena_free(arena);
  return status;
}

static sl_status resolve(const sl_engine_options *options, const sl_stream_schema **out, sl_error *err) {
  const sl_catalog *catalog = options->catalog;
  for (size_t i = 0; i < sl_catalog_stream_count(catalog); i++) {
    const sl_stream_schema *schema = sl_catalog_stream_at(catalog, i);
    if ((options->group == NULL || strcmp(options->group, schema->group) == 0) &&
        (options->name == NULL || strcmp(options->name, schema->name) == 0)) {
      *out = schema;
      return SL_OK;
    }
  }
  return sl_error_set(err, SL_ERR_NOT_FOUND, "the catalog has no stream%s%s%s%s", options->group ? " in group " : "",
                      options->group ? options->group : "", options->name ? " named " : "",
                      options->name ? options->name : "");
}

/* What open does before it touches the disk: the stream, its group, its rules and its part layout
 * (the engine's limits: tag families, stored tags, entity tags). */
static sl_status prepare(const sl_engine_options *options, sl_stream_engine *engine, sl_error *err) {
  engine->catalog = options->catalog;
  SL_TRY(resolve(options, &engine->schema, err));
  SL_TRY(sl_engine_find_group(options->catalog, "stream", engine->schema->name, engine->schema->group, &engine->group,
                              err));
  engine->rule_count = sl_engine_bound_rules(options->catalog, SL_CATALOG_STREAM, engine->schema->group,
                                             engine->schema->name, engine->rules, SL_STREAM_MAX_RULES);
  return build_layout(engine, err);
}

sl_status sl_stream_engine_check(const sl_engine_options *options, sl_error *err) {
  assert(options != NULL && options->catalog != NULL);
  sl_stream_engine *engine = calloc(1, sizeof *engine);
  if (engine == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  sl_status status = prepare(options, engine, err);
  free(engine);
  return status;
}

sl_status sl_stream_engine_open(const sl_engine_options *options, sl_stream_engine **out, sl_error *err) {
  assert(options != NULL && options->catalog != NULL && out != NULL);
  *out = NULL;
  if (options->directory == NULL) {
    return sl_error_set(err, SL_ERR_INVALID, "stream engine: a data directory is required");
  }
  sl_stream_engine *engine = calloc(1, sizeof *engine);
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
    store.kind_count = 1;
    store.layouts[0] = engine->layout;
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
  if (status == SL_OK && (engine->contexts = sl_context_pool_new()) == NULL) {
    status = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_error ignored;
    sl_tsdb_close(engine->db, false, &ignored);
  }
  if (status != SL_OK) {
    free(engine);
    return status;
  }
  *out = engine;
  return SL_OK;
}

sl_status sl_stream_engine_close(sl_stream_engine *engine, bool flush, sl_error *err) {
  if (engine == NULL) {
    return SL_OK;
  }
  sl_status status = sl_tsdb_close(engine->db, flush, err);
  sl_context_pool_free(engine->contexts);
  free(engine);
  return status;
}

const sl_stream_schema *sl_stream_engine_schema(const sl_stream_engine *engine) { return engine->schema; }
sl_tsdb *sl_stream_engine_store(sl_stream_engine *engine) { return engine->db; }

/* A batch being written: its memory parts are built while its WAL record is written. */
typedef struct write_batch {
  sl_stream_engine *engine;
  const sl_element *elements;
  size_t count;
  uint64_t raw_bytes;
} write_batch;

static sl_status build_batch(void *context, sl_tsdb_target **targets, size_t *target_count, sl_error *err) {
  write_batch *batch = context;
  SL_TRY(sl_stream_route(batch->engine, batch->elements, batch->count, targets, target_count, err));
  for (size_t t = 0; t < *target_count; t++) {
    batch->raw_bytes += sl_part_info_of((*targets)[t].part).raw_bytes;
  }
  return SL_OK;
}

sl_status sl_stream_engine_write(sl_stream_engine *engine, const sl_element *elements, size_t count, sl_error *err) {
  assert(engine != NULL && engine->db != NULL && (elements != NULL || count == 0));
  if (count == 0) {
    return SL_OK;
  }
  int64_t began = sl_monotonic_ns();
  SL_TRY(sl_stream_check_elements(engine, elements, count, err));
  /* The WAL record: framing and short values encoded, long values written from the elements. */
  sl_elements_gather payload = {0};
  sl_status status = sl_tsdb_logged(engine->db)
                         ? sl_elements_encode_gather(elements, count, engine->schema->tag_count, &payload, err)
                         : SL_OK;
  int64_t encoded = sl_monotonic_ns();
  write_batch batch = {.engine = engine, .elements = elements, .count = count};
  if (status == SL_OK) {
    status = sl_tsdb_writev(engine->db, payload.pieces, payload.count, build_batch, &batch, err);
  }
  sl_elements_gather_free(&payload);
  if (status == SL_OK) {
    atomic_fetch_add(&engine->elements_written, count);
    atomic_fetch_add(&engine->raw_bytes_written, batch.raw_bytes);
    atomic_fetch_add(&engine->encode_ns, (uint64_t)(encoded - began));
  }
  return status;
}

/* Everything written goes to file parts, and the WAL keeps nothing they cover (as SQLite's
 * checkpoint after a load): the store's on-disk size is then its data. */
sl_status sl_stream_engine_flush(sl_stream_engine *engine, sl_error *err) { return sl_tsdb_checkpoint(engine->db, err); }
sl_status sl_stream_engine_settle(sl_stream_engine *engine, sl_error *err) { return sl_tsdb_settle(engine->db, err); }

sl_status sl_stream_engine_compact(sl_stream_engine *engine, sl_error *err) {
  SL_TRY(sl_tsdb_flush(engine->db, err));
  SL_TRY(sl_tsdb_merge_all(engine->db, true, err));
  return sl_tsdb_checkpoint(engine->db, err);
}

void sl_stream_engine_drop_caches(sl_stream_engine *engine) { sl_tsdb_drop_caches(engine->db); }

void sl_stream_engine_stats(sl_stream_engine *engine, sl_engine_stats *out) {
  memset(out, 0, sizeof *out);
  sl_tsdb_stats_get(engine->db, &out->store);
  out->elements_written = atomic_load(&engine->elements_written);
  out->elements_expired = atomic_load(&engine->elements_expired);
  out->raw_bytes_written = atomic_load(&engine->raw_bytes_written);
  out->encode_ns = atomic_load(&engine->encode_ns);
}

char *sl_stream_engine_storage_json(sl_stream_engine *engine) {
  json_t *root = sl_tsdb_storage_json(engine->db, NULL);
  if (root == NULL) {
    return NULL;
  }
  /* Tag types beside the column figures; the entity lives in the series metadata. */
  sl_engine_annotate_tag_types(root, engine->schema->tags, engine->schema->tag_count);
  json_t *entity = json_array();
  for (size_t e = 0; e < engine->schema->entity_count; e++) {
    json_array_append_new(entity, json_string(engine->schema->entity_tags[e]));
  }
  json_object_set_new(root, "model", json_string("stream"));
  json_object_set_new(root, "entity_in_series_metadata", entity);
  json_object_set_new(root, "elements_written", json_integer((json_int_t)atomic_load(&engine->elements_written)));
  json_object_set_new(root, "raw_bytes_written", json_integer((json_int_t)atomic_load(&engine->raw_bytes_written)));
  /* The store gives build, log and stall; the WAL payload is encoded here, before the store's write. */
  json_t *write_seconds = json_object_get(root, "write_seconds");
  if (write_seconds != NULL) {
    json_object_set_new(write_seconds, "encode", json_real((double)atomic_load(&engine->encode_ns) / 1e9));
  }
  char *text = json_dumps(root, JSON_PRESERVE_ORDER | JSON_COMPACT);
  json_decref(root);
  return text;
}
