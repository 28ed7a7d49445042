/* engine.c: see engine.h. */
#include "storage/engine.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/timeutil.h"
#include "storage/fileio.h"
#include "storage/series.h"

void sl_engine_options_default(sl_engine_options *options) {
  memset(options, 0, sizeof *options);
  options->wal_enabled = true;
  options->sync_mode = SL_WAL_SYNC_BATCH;
  options->sync_interval_ms = 100;
  options->memory_bytes_limit = 64ULL << 20;
  options->flush_interval_ms = 1000;
  options->retention_clock = SL_RETENTION_DATA;
  options->background = true;
}

void sl_query_stats_add_read(sl_query_stats *stats, const sl_read_stats *read) {
  stats->blocks_read += read->blocks_read;
  stats->bytes_read += read->bytes_read;
  stats->bytes_decompressed += read->bytes_decompressed;
  stats->postings_read += read->postings_read;
  stats->cache_hits += read->chunk_cache_hits;
  stats->cache_misses += read->chunks_loaded;
  stats->bloom_checks += read->bloom_checks;
  stats->bloom_negatives += read->bloom_negatives;
}

/* The first difference between two JSON values, as a path. */
static bool differ(const json_t *a, const json_t *b, char *path, size_t path_bytes) {
  if (json_typeof(a) != json_typeof(b)) {
    return true;
  }
  if (json_is_object(a)) {
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)a, key, value) {
      json_t *other = json_object_get(b, key);
      size_t used = strlen(path);
      snprintf(path + used, path_bytes - used, ".%s", key);
      if (other == NULL || differ(value, other, path, path_bytes)) {
        return true;
      }
      path[used] = '\0';
    }
    return json_object_size(a) != json_object_size(b);
  }
  if (json_is_array(a)) {
    if (json_array_size(a) != json_array_size(b)) {
      return true;
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
      size_t used = strlen(path);
      snprintf(path + used, path_bytes - used, "[%zu]", i);
      if (differ(json_array_get(a, i), json_array_get(b, i), path, path_bytes)) {
        return true;
      }
      path[used] = '\0';
    }
    return false;
  }
  return !json_equal((json_t *)a, (json_t *)b);
}

enum { STORE_META_MAX_BYTES = 1 << 20 };

const char *sl_engine_store_files_held(const char *directory) {
  static const char *const kinds[] = {"wal/", "a store snapshot (*.snp)", "a segment (seg-*)"};
  DIR *handle = opendir(directory);
  const char *held = NULL;
  for (struct dirent *entry = handle != NULL ? readdir(handle) : NULL; entry != NULL && held == NULL;
       entry = readdir(handle)) {
    size_t length = strlen(entry->d_name);
    if (strcmp(entry->d_name, "wal") == 0) {
      held = kinds[0];
    } else if (length > 4 && strcmp(entry->d_name + length - 4, ".snp") == 0) {
      held = kinds[1];
    } else if (strncmp(entry->d_name, "seg-", 4) == 0) {
      held = kinds[2];
    }
  }
  if (handle != NULL) {
    closedir(handle);
  }
  return held;
}

sl_status sl_engine_read_store_meta(const char *path, json_t **out, sl_error *err) {
  *out = NULL;
  uint8_t *data = NULL;
  size_t size_bytes = 0;
  SL_TRY(sl_fileio_read_file(path, STORE_META_MAX_BYTES, &data, &size_bytes, err)); /* a FIFO is refused */
  json_error_t parse_error;
  *out = json_loadb((const char *)data, size_bytes, 0, &parse_error);
  free(data);
  if (*out == NULL) {
    return sl_error_set(err, SL_ERR_CORRUPT, "%s:%d:%d: %s", path, parse_error.line, parse_error.column,
                        parse_error.text);
  }
  return SL_OK;
}

sl_status sl_engine_store_meta(const char *directory, const char *description, sl_error *err) {
  char path[4096];
  if (!sl_fileio_path(path, sizeof path, "%s/store.json", directory)) {
    return sl_error_set(err, SL_ERR_INVALID, "store directory path too long: %s", directory);
  }
  json_error_t parse_error;
  json_t *wanted = json_loads(description, 0, &parse_error);
  if (wanted == NULL) {
    return sl_error_set(err, SL_ERR_INTERNAL, "store.json description: %s", parse_error.text);
  }
  struct stat info;
  sl_status status = SL_OK;
  int stat_result = stat(path, &info);
  if (stat_result != 0 && errno != ENOENT) {
    json_decref(wanted);
    return sl_fileio_errno_error(err, errno, "stat", path);
  }
  if (stat_result != 0) {
    /* store.json is written before anything else of a store, so files of a store without it mean
     * it was deleted: writing one of this model would label a store of the other model. */
    const char *held = sl_engine_store_files_held(directory);
    if (held != NULL) {
      json_decref(wanted);
      return sl_error_set(err, SL_ERR_CORRUPT,
                          "%s holds a store's files (%s) but no store.json, which says its model, group and subject "
                          "(was it deleted?); put it back, or use a new --data directory",
                          directory, held);
    }
    char *text = json_dumps(wanted, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    status = text != NULL ? sl_fileio_write_file_atomic(path, text, strlen(text), err)
                          : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    free(text);
    json_decref(wanted);
    return status;
  }
  json_t *found = NULL;
  status = sl_engine_read_store_meta(path, &found, err);
  if (status != SL_OK) {
    json_decref(wanted);
    return status;
  }
  char where[512] = "";
  const char *wanted_model = json_string_value(json_object_get(wanted, "model"));
  const char *found_model = json_string_value(json_object_get(found, "model"));
  if (wanted_model != NULL && found_model != NULL && strcmp(wanted_model, found_model) != 0) {
    status = sl_error_set(err, SL_ERR_INVALID, "%s holds a %s store, not a %s one: open it with --model %s", directory,
                          found_model, wanted_model, found_model);
  } else if (differ(wanted, found, where, sizeof where)) {
    status = sl_error_set(err, SL_ERR_INVALID,
                          "%s: this store was created for another schema or model: %s differs from what the catalog "
                          "says now; use a new --data directory, or the catalog and model it was created with",
                          path, where[0] ? where + 1 : "(top level)");
  }
  json_decref(found);
  json_decref(wanted);
  return status;
}

sl_status sl_engine_find_group(const sl_catalog *catalog, const char *model, const char *subject, const char *group,
                               const sl_group **out, sl_error *err) {
  const sl_group *found = sl_catalog_find_group(catalog, group);
  *out = found;
  if (found == NULL || found->shard_num == 0 || sl_interval_ms(found->segment_interval) <= 0) {
    return sl_error_set(err, SL_ERR_INVALID, "%s %s: group %s needs shards and a segment interval", model, subject,
                        group);
  }
  if (found->shard_num > SL_TSDB_MAX_SHARDS) {
    return sl_error_set(err, SL_ERR_UNSUPPORTED, "%s %s: group %s has %u shards, at most %d", model, subject, group,
                        found->shard_num, SL_TSDB_MAX_SHARDS);
  }
  return SL_OK;
}

size_t sl_engine_bound_rules(const sl_catalog *catalog, sl_catalog_kind kind, const char *group, const char *name,
                             const sl_index_rule **rules, size_t max_rules) {
  size_t count = sl_catalog_bound_rules(catalog, kind, group, name, sl_wall_clock_ns(), rules, max_rules);
  for (size_t b = 0; count == 0 && b < sl_catalog_binding_count(catalog); b++) {
    const sl_index_binding *binding = sl_catalog_binding_at(catalog, b);
    if (binding->subject_catalog == kind && strcmp(binding->group, group) == 0 &&
        strcmp(binding->subject_name, name) == 0) {
      count = sl_catalog_bound_rules(catalog, kind, group, name, binding->begin_at_ns, rules, max_rules);
    }
  }
  return count < max_rules ? count : max_rules;
}

sl_column_type sl_engine_column_type(sl_tag_type type) {
  switch (type) {
    case SL_TAG_INT:
    case SL_TAG_TIMESTAMP: return SL_COLUMN_INT64;
    case SL_TAG_STRING: return SL_COLUMN_STRING;
    default: return SL_COLUMN_BINARY;
  }
}

bool sl_engine_value_fits(sl_tag_type type, sl_value_kind kind) {
  if (kind == SL_VALUE_NULL) {
    return true;
  }
  switch (type) {
    case SL_TAG_STRING: return kind == SL_VALUE_STR;
    case SL_TAG_INT: return kind == SL_VALUE_INT;
    case SL_TAG_TIMESTAMP: return kind == SL_VALUE_TIMESTAMP || kind == SL_VALUE_INT;
    case SL_TAG_DATA_BINARY: return kind == SL_VALUE_BINARY || kind == SL_VALUE_STR;
    case SL_TAG_STRING_ARRAY: return kind == SL_VALUE_STR_ARRAY;
    case SL_TAG_INT_ARRAY: return kind == SL_VALUE_INT_ARRAY;
    default: return false;
  }
}

const char *sl_engine_kind_name(sl_value_kind kind) {
  switch (kind) {
    case SL_VALUE_NULL: return "null";
    case SL_VALUE_STR: return "a string";
    case SL_VALUE_INT: return "an int";
    case SL_VALUE_STR_ARRAY: return "a string array";
    case SL_VALUE_INT_ARRAY: return "an int array";
    case SL_VALUE_BINARY: return "binary data";
    case SL_VALUE_TIMESTAMP: return "a timestamp";
  }
  return "?";
}

sl_status sl_engine_column_value(sl_tag_type type, const sl_column_view *view, size_t row, sl_arena *arena,
                                 sl_value *out, sl_error *err) {
  if (view->is_null != NULL && view->is_null[row]) {
    *out = sl_value_null();
    return SL_OK;
  }
  switch (type) {
    case SL_TAG_INT: *out = sl_value_int(view->ints[row]); return SL_OK;
    case SL_TAG_TIMESTAMP:
      *out = sl_value_int(view->ints[row]);
      out->kind = SL_VALUE_TIMESTAMP;
      return SL_OK;
    case SL_TAG_STRING: *out = sl_value_str(view->bytes[row].data, view->bytes[row].size_bytes); return SL_OK;
    case SL_TAG_DATA_BINARY: *out = sl_value_binary(view->bytes[row].data, view->bytes[row].size_bytes); return SL_OK;
    case SL_TAG_STRING_ARRAY: return sl_array_decode(view->bytes[row], SL_VALUE_STR_ARRAY, arena, out, err);
    case SL_TAG_INT_ARRAY: return sl_array_decode(view->bytes[row], SL_VALUE_INT_ARRAY, arena, out, err);
    default: *out = sl_value_null(); return SL_OK;
  }
}

sl_status sl_engine_copy_value(sl_arena *arena, sl_value *value, sl_error *err) {
  if (value->kind == SL_VALUE_STR || value->kind == SL_VALUE_BINARY) {
    if (value->as.str.size_bytes == 0) {
      value->as.str.data = "";
      return SL_OK;
    }
    char *copy = sl_arena_alloc_uninit(arena, value->as.str.size_bytes);
    if (copy == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    memcpy(copy, value->as.str.data, value->as.str.size_bytes);
    value->as.str.data = copy;
  } else if (value->kind == SL_VALUE_STR_ARRAY) {
    sl_bytes *items = sl_arena_alloc(arena, (value->as.str_array.count + 1) * sizeof *items);
    if (items == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < value->as.str_array.count; i++) {
      sl_value item = sl_value_str(value->as.str_array.items[i].data, value->as.str_array.items[i].size_bytes);
      SL_TRY(sl_engine_copy_value(arena, &item, err));
      items[i] = item.as.str;
    }
    value->as.str_array.items = items;
  } else if (value->kind == SL_VALUE_INT_ARRAY) {
    int64_t *items = sl_arena_alloc(arena, (value->as.int_array.count + 1) * sizeof *items);
    if (items == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    if (value->as.int_array.count > 0) {
      memcpy(items, value->as.int_array.items, value->as.int_array.count * sizeof *items);
    }
    value->as.int_array.items = items;
  }
  return SL_OK;
}

void sl_engine_series_values(const sl_series_entry *entry, size_t count, sl_value *out) {
  for (size_t k = 0; k < count; k++) {
    if (k >= entry->value_count || entry->values[k].size_bytes == 0) {
      out[k] = sl_value_null();
      continue;
    }
    sl_bytes stored = entry->values[k];
    sl_bytes bytes = {.data = stored.data + 1, .size_bytes = stored.size_bytes - 1};
    out[k] = sl_series_value_from(bytes, (uint8_t)stored.data[0]);
  }
}

void sl_engine_annotate_tag_types(json_t *storage_json, const sl_tag_spec *tags, size_t tag_count) {
  json_t *by_tag = json_object_get(storage_json, "by_tag");
  for (size_t t = 0; t < tag_count; t++) {
    json_t *entry = json_object_get(by_tag, tags[t].name);
    if (entry != NULL) {
      json_object_set_new(entry, "tag_type", json_string(sl_tag_type_name(tags[t].type)));
    }
  }
}
