/* load.c: the seed's seven loading steps, each verified after it (docs/CATALOG.md). */
#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog/catalog_internal.h"
#include "catalog/json_fields.h"
#include "common/path.h"
#include "common/timeutil.h"

enum { STEP_COUNT = 7, SUMMARY_BYTES = 2048, MAX_FILE_BYTES = 64 << 20 };

typedef enum step_kind {
  STEP_GROUPS,
  STEP_STREAMS,
  STEP_TRACES,
  STEP_RULES,
  STEP_BINDINGS
} step_kind;

typedef struct step {
  const char *message_name; /* the protojson message each object of the file is */
  const char *file_name;
  const char *step_name;
  step_kind kind;
  sl_catalog_kind catalog; /* for rules and bindings: the groups they must belong to */
} step;

static const step steps[STEP_COUNT] = {
    {"common.v1.Group", "group.json", "groups", STEP_GROUPS, SL_CATALOG_UNSPECIFIED},
    {"database.v1.Stream", "stream_schema.json", "stream schemas", STEP_STREAMS, SL_CATALOG_STREAM},
    {"database.v1.Trace", "trace_schema.json", "trace schemas", STEP_TRACES, SL_CATALOG_TRACE},
    {"database.v1.IndexRule", "stream_index_rules.json", "stream index rules", STEP_RULES, SL_CATALOG_STREAM},
    {"database.v1.IndexRule", "trace_index_rules.json", "trace index rules", STEP_RULES, SL_CATALOG_TRACE},
    {"database.v1.IndexRuleBinding", "stream_index_rule_bindings.json", "stream index rule bindings", STEP_BINDINGS,
     SL_CATALOG_STREAM},
    {"database.v1.IndexRuleBinding", "trace_index_rule_bindings.json", "trace index rule bindings", STEP_BINDINGS,
     SL_CATALOG_TRACE},
};

static const field_spec metadata_fields[] = {
    {"group", false}, {"name", true}, {"id", false}, {"create_revision", false},
    {"mod_revision", false}};
static const field_spec group_fields[] = {{"metadata", true},   {"catalog", true},
                                          {"resource_opts", true}, {"updated_at", false},
                                          {"created_at", false}, {"pipeline", false}};
static const field_spec resource_fields[] = {{"shard_num", true},      {"segment_interval", true},
                                             {"ttl", true},            {"stages", false},
                                             {"default_stages", false}, {"replicas", false}};
static const field_spec interval_fields[] = {{"unit", true}, {"num", true}};
static const field_spec stream_fields[] = {{"metadata", true}, {"tag_families", true},
                                           {"entity", true},   {"updated_at", false},
                                           {"created_at", false}};
static const field_spec family_fields[] = {{"name", true}, {"tags", true}};
static const field_spec tag_fields[] = {{"name", true}, {"type", true}};
static const field_spec entity_fields[] = {{"tag_names", true}};
static const field_spec trace_fields[] = {
    {"metadata", true},          {"tags", true},          {"trace_id_tag_name", true},
    {"timestamp_tag_name", true}, {"span_id_tag_name", false}, {"updated_at", false},
    {"created_at", false}};
static const field_spec rule_fields[] = {{"metadata", true},   {"tags", true},
                                         {"type", true},       {"analyzer", false},
                                         {"no_sort", false},   {"updated_at", false},
                                         {"created_at", false}};
static const field_spec binding_fields[] = {{"metadata", true},  {"rules", true},
                                            {"subject", true},   {"begin_at", true},
                                            {"expire_at", true}, {"updated_at", false},
                                            {"created_at", false}};
static const field_spec subject_fields[] = {{"catalog", true}, {"name", true}};

#define COUNT_OF(array) (sizeof(array) / sizeof((array)[0]))

static const enum_entry catalog_names[] = {
    {"CATALOG_UNSPECIFIED", SL_CATALOG_UNSPECIFIED}, {"CATALOG_STREAM", SL_CATALOG_STREAM},
    {"CATALOG_MEASURE", SL_CATALOG_MEASURE},         {"CATALOG_PROPERTY", SL_CATALOG_PROPERTY},
    {"CATALOG_TRACE", SL_CATALOG_TRACE}};
static const enum_entry unit_names[] = {{"UNIT_UNSPECIFIED", SL_UNIT_UNSPECIFIED},
                                        {"UNIT_HOUR", SL_UNIT_HOUR},
                                        {"UNIT_DAY", SL_UNIT_DAY}};
static const enum_entry tag_type_names[] = {
    {"TAG_TYPE_UNSPECIFIED", SL_TAG_UNSPECIFIED}, {"TAG_TYPE_STRING", SL_TAG_STRING},
    {"TAG_TYPE_INT", SL_TAG_INT},                 {"TAG_TYPE_STRING_ARRAY", SL_TAG_STRING_ARRAY},
    {"TAG_TYPE_INT_ARRAY", SL_TAG_INT_ARRAY},     {"TAG_TYPE_DATA_BINARY", SL_TAG_DATA_BINARY},
    {"TAG_TYPE_TIMESTAMP", SL_TAG_TIMESTAMP}};
static const enum_entry index_type_names[] = {{"TYPE_UNSPECIFIED", SL_INDEX_UNSPECIFIED},
                                              {"TYPE_INVERTED", SL_INDEX_INVERTED},
                                              {"TYPE_SKIPPING", SL_INDEX_SKIPPING},
                                              {"TYPE_TREE", SL_INDEX_TREE}};

typedef struct loader {
  sl_catalog *catalog;
  json_reader reader;
} loader;

static char *path_join(const char *path, const char *key, char out[JSON_PATH_BYTES]) {
  snprintf(out, JSON_PATH_BYTES, "%s", path);
  sl_json_path_key(out, JSON_PATH_BYTES, key);
  return out;
}

/* Names of rules, tags, families and subjects become file and directory names in the engines'
 * stores (sidx-RULE/, TAG.t, FAMILY.tf, IDX.idx): a name that cannot be one was accepted here and
 * failed at the first flush, after its writes were acknowledged. False (with a problem at
 * path.name) when name cannot be. */
enum { NAME_MAX_BYTES = 200 };
static bool check_file_name(loader *ld, const char *path, const char *name) {
  if (name == NULL) {
    return true;
  }
  /* (An empty name has its own problem where it is read.) */
  bool control = false;
  for (const char *c = name; *c != '\0' && !control; c++) {
    control = (unsigned char)*c < 0x20 || *c == 0x7f;
  }
  const char *why = strchr(name, '/') != NULL                           ? "contains '/'"
                    : strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ? "is \".\" or \"..\""
                    : strlen(name) > NAME_MAX_BYTES                     ? "is over 200 bytes"
                    : control                                           ? "contains a control character"
                                                                        : NULL;
  if (why != NULL) {
    /* The name as a JSON string would write it: a control character printed raw garbles the line. */
    char shown[64 * 6 + 1];
    size_t at = 0;
    for (const char *c = name; *c != '\0' && at < 64 * 6 - 6 && c - name < 64; c++) {
      unsigned char byte = (unsigned char)*c;
      at += (size_t)snprintf(shown + at, sizeof shown - at, byte < 0x20 || byte == 0x7f ? "\\u%04x" : "%c", byte);
    }
    shown[at] = '\0';
    char name_path[JSON_PATH_BYTES];
    json_problem(&ld->reader, path_join(path, "name", name_path),
                 "name \"%s\" %s: stores keep files named after it", shown, why);
    return false;
  }
  return true;
}

/* Reads metadata.{name,group}; group_required for everything but groups. */
static bool read_metadata(loader *ld, const json_t *object, const char *path, bool group_required,
                          const char **name, const char **group) {
  char metadata_path[JSON_PATH_BYTES];
  json_t *metadata = json_field(object, path, "metadata", metadata_path);
  if (metadata == NULL) {
    return false;
  }
  if (!json_check_object(&ld->reader, metadata, metadata_path, "common.v1.Metadata",
                         metadata_fields, COUNT_OF(metadata_fields))) {
    return false;
  }
  bool ok = json_get_string(&ld->reader, metadata, metadata_path, "name", true, name);
  ok = check_file_name(ld, metadata_path, ok ? *name : NULL) && ok;
  if (group != NULL) {
    if (json_field(metadata, metadata_path, "group", NULL) == NULL && group_required) {
      json_problem(&ld->reader, metadata_path, "missing required field \"group\" in common.v1.Metadata");
      ok = false;
    } else {
      ok = json_get_string(&ld->reader, metadata, metadata_path, "group", group_required, group) && ok;
    }
  }
  return ok && *name != NULL && (group == NULL || *group != NULL || !group_required);
}

static bool read_interval(loader *ld, const json_t *object, const char *path, const char *field,
                          sl_interval *out) {
  char interval_path[JSON_PATH_BYTES];
  json_t *value = json_field(object, path, field, interval_path);
  if (value == NULL) {
    return false;
  }
  if (!json_check_object(&ld->reader, value, interval_path, "common.v1.IntervalRule",
                         interval_fields, COUNT_OF(interval_fields))) {
    return false;
  }
  int unit = SL_UNIT_UNSPECIFIED;
  bool ok = json_get_enum(&ld->reader, value, interval_path, "unit", true, unit_names,
                          COUNT_OF(unit_names), &unit);
  ok = json_get_uint32(&ld->reader, value, interval_path, "num", true, &out->num) && ok;
  out->unit = (sl_interval_unit)unit;
  if (ok && unit == SL_UNIT_UNSPECIFIED) {
    char unit_path[JSON_PATH_BYTES];
    json_problem(&ld->reader, path_join(interval_path, "unit", unit_path),
                 "%s unit must be UNIT_HOUR or UNIT_DAY, not UNIT_UNSPECIFIED", field);
    ok = false;
  }
  if (ok && out->num == 0) {
    char num_path[JSON_PATH_BYTES];
    json_field(value, interval_path, "num", num_path);
    json_problem(&ld->reader, num_path, "%s must be positive: num is 0", field);
    ok = false;
  }
  return ok;
}

static const char *list_group_names(loader *ld) {
  char names[512] = "";
  size_t used = 0;
  for (size_t i = 0; i < ld->catalog->group_count && used < sizeof names; i++) {
    used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                             ld->catalog->groups[i].name);
  }
  const char *copy = sl_arena_strdup(ld->catalog->arena, used ? names : "(none)");
  return copy == NULL ? "" : copy;
}

/* The group named by an object's metadata.group, checked to be of catalog kind. */
static const sl_group *resolve_group(loader *ld, const char *path, const char *group_name,
                                     sl_catalog_kind kind, const char *what) {
  char group_path[JSON_PATH_BYTES];
  char metadata_path[JSON_PATH_BYTES];
  path_join(path_join(path, "metadata", metadata_path), "group", group_path);
  const sl_group *group = sl_catalog_find_group(ld->catalog, group_name);
  if (group == NULL) {
    json_problem(&ld->reader, group_path, "group \"%s\" does not exist (groups: %s)", group_name,
                 list_group_names(ld));
    return NULL;
  }
  if (group->catalog != kind) {
    json_problem(&ld->reader, group_path,
                 "%s belongs to group \"%s\", whose catalog is %s; a %s needs a %s group",
                 what, group_name, sl_catalog_kind_name(group->catalog), what,
                 sl_catalog_kind_name(kind));
    return NULL;
  }
  return group;
}

static void add_group(loader *ld, const json_t *item, const char *path) {
  if (!json_check_object(&ld->reader, item, path, "common.v1.Group", group_fields,
                         COUNT_OF(group_fields))) {
    return;
  }
  sl_group group = {0};
  if (!read_metadata(ld, item, path, false, &group.name, NULL)) {
    return;
  }
  int catalog = SL_CATALOG_UNSPECIFIED;
  char member_path[JSON_PATH_BYTES];
  if (json_get_enum(&ld->reader, item, path, "catalog", true, catalog_names,
                    COUNT_OF(catalog_names), &catalog) &&
      catalog != SL_CATALOG_STREAM && catalog != SL_CATALOG_TRACE &&
      json_field(item, path, "catalog", member_path) != NULL) {
    json_problem(&ld->reader, member_path,
                 "group \"%s\" has catalog %s; spanlab stores CATALOG_STREAM and CATALOG_TRACE groups",
                 group.name, sl_catalog_kind_name((sl_catalog_kind)catalog));
  }
  group.catalog = (sl_catalog_kind)catalog;
  char opts_path[JSON_PATH_BYTES];
  json_t *opts = json_field(item, path, "resource_opts", opts_path);
  if (opts != NULL && json_check_object(&ld->reader, opts, opts_path, "common.v1.ResourceOpts",
                                        resource_fields, COUNT_OF(resource_fields))) {
    if (json_get_uint32(&ld->reader, opts, opts_path, "shard_num", true, &group.shard_num) &&
        group.shard_num < 1 && json_field(opts, opts_path, "shard_num", member_path) != NULL) {
      json_problem(&ld->reader, member_path, "shard_num must be at least 1, found %u",
                   group.shard_num);
    }
    json_get_uint32(&ld->reader, opts, opts_path, "replicas", false, &group.replicas);
    bool interval_ok = read_interval(ld, opts, opts_path, "segment_interval", &group.segment_interval);
    bool ttl_ok = read_interval(ld, opts, opts_path, "ttl", &group.ttl);
    if (interval_ok && ttl_ok &&
        sl_interval_ms(group.ttl) < sl_interval_ms(group.segment_interval)) {
      json_field(opts, opts_path, "ttl", member_path);
      json_problem(&ld->reader, member_path,
                   "ttl (%u %s) is shorter than segment_interval (%u %s); a segment must fit in the ttl",
                   group.ttl.num, sl_interval_unit_name(group.ttl.unit), group.segment_interval.num,
                   sl_interval_unit_name(group.segment_interval.unit));
    }
  }
  char name_path[JSON_PATH_BYTES];
  char metadata_path[JSON_PATH_BYTES];
  path_join(path_join(path, "metadata", metadata_path), "name", name_path);
  for (size_t i = 0; i < ld->catalog->group_count; i++) {
    if (strcmp(ld->catalog->groups[i].name, group.name) == 0) {
      json_problem(&ld->reader, name_path, "duplicate group name \"%s\" (first defined at %s)",
                   group.name, ld->catalog->group_origins[i]);
      return;
    }
  }
  sl_catalog *catalog_ptr = ld->catalog;
  if (!sl_catalog_reserve((void **)&catalog_ptr->groups, &catalog_ptr->group_origins,
                          &catalog_ptr->group_capacity, catalog_ptr->group_count, sizeof(sl_group))) {
    ld->reader.out_of_memory = true;
    return;
  }
  catalog_ptr->group_origins[catalog_ptr->group_count] = json_origin(&ld->reader, path);
  catalog_ptr->groups[catalog_ptr->group_count++] = group;
}

/* Reads TagSpec objects from a JSON array into specs[first..); checks names
 * are unique among specs[0..first+count). Returns how many were read. */
static size_t read_tag_specs(loader *ld, const json_t *array, const char *array_path,
                             sl_tag_spec *specs, size_t first, uint32_t family_index,
                             const char *message_name) {
  size_t read = 0;
  for (size_t i = 0; i < json_array_size(array); i++) {
    char tag_path[JSON_PATH_BYTES];
    snprintf(tag_path, sizeof tag_path, "%s", array_path);
    sl_json_path_index(tag_path, sizeof tag_path, i);
    json_t *tag = json_array_get(array, i);
    if (!json_check_object(&ld->reader, tag, tag_path, message_name, tag_fields,
                           COUNT_OF(tag_fields))) {
      continue;
    }
    sl_tag_spec spec = {.family_index = family_index};
    int type = SL_TAG_UNSPECIFIED;
    bool ok = json_get_string(&ld->reader, tag, tag_path, "name", true, &spec.name);
    ok = check_file_name(ld, tag_path, ok ? spec.name : NULL) && ok;
    ok = json_get_enum(&ld->reader, tag, tag_path, "type", true, tag_type_names,
                       COUNT_OF(tag_type_names), &type) && ok;
    if (!ok || spec.name == NULL) {
      continue;
    }
    char member_path[JSON_PATH_BYTES];
    if (type == SL_TAG_UNSPECIFIED && json_field(tag, tag_path, "type", member_path) != NULL) {
      json_problem(&ld->reader, member_path, "tag \"%s\" has type TAG_TYPE_UNSPECIFIED; give it a type",
                   spec.name);
    }
    spec.type = (sl_tag_type)type;
    bool duplicate = false;
    for (size_t j = 0; j < first + read; j++) {
      if (strcmp(specs[j].name, spec.name) == 0) {
        json_field(tag, tag_path, "name", member_path);
        json_problem(&ld->reader, member_path, "duplicate tag name \"%s\"", spec.name);
        duplicate = true;
      }
    }
    if (duplicate) {
      continue;
    }
    spec.tag_index = (uint32_t)(first + read);
    specs[first + read] = spec;
    read++;
  }
  return read;
}

static void add_stream(loader *ld, const json_t *item, const char *path) {
  if (!json_check_object(&ld->reader, item, path, "database.v1.Stream", stream_fields,
                         COUNT_OF(stream_fields))) {
    return;
  }
  sl_stream_schema stream = {0};
  if (!read_metadata(ld, item, path, true, &stream.name, &stream.group)) {
    return;
  }
  resolve_group(ld, path, stream.group, SL_CATALOG_STREAM, "stream");
  char families_path[JSON_PATH_BYTES];
  json_t *families = json_field(item, path, "tag_families", families_path);
  if (families != NULL && !json_is_array(families)) {
    json_problem(&ld->reader, families_path, "expected an array of tag families");
    families = NULL;
  } else if (families != NULL && json_array_size(families) == 0) {
    json_problem(&ld->reader, families_path, "a stream needs at least one tag family");
  }
  size_t family_count = families == NULL ? 0 : json_array_size(families);
  size_t tag_capacity = 0;
  for (size_t f = 0; f < family_count; f++) {
    json_t *tags = json_field(json_array_get(families, f), "", "tags", NULL);
    tag_capacity += json_is_array(tags) ? json_array_size(tags) : 0;
  }
  sl_tag_family_spec *family_specs = sl_arena_alloc(ld->catalog->arena, (family_count + 1) * sizeof *family_specs);
  sl_tag_spec *tag_specs = sl_arena_alloc(ld->catalog->arena, (tag_capacity + 1) * sizeof *tag_specs);
  if (family_specs == NULL || tag_specs == NULL) {
    ld->reader.out_of_memory = true;
    return;
  }
  size_t tag_count = 0;
  size_t families_read = 0;
  for (size_t f = 0; f < family_count; f++) {
    char family_path[JSON_PATH_BYTES];
    snprintf(family_path, sizeof family_path, "%s", families_path);
    sl_json_path_index(family_path, sizeof family_path, f);
    json_t *family = json_array_get(families, f);
    if (!json_check_object(&ld->reader, family, family_path, "database.v1.TagFamilySpec",
                           family_fields, COUNT_OF(family_fields))) {
      continue;
    }
    sl_tag_family_spec spec = {0};
    json_get_string(&ld->reader, family, family_path, "name", true, &spec.name);
    (void)check_file_name(ld, family_path, spec.name);
    for (size_t g = 0; spec.name != NULL && g < families_read; g++) {
      if (strcmp(family_specs[g].name, spec.name) == 0) {
        char name_path[JSON_PATH_BYTES];
        json_problem(&ld->reader, path_join(family_path, "name", name_path),
                     "duplicate tag family name \"%s\"", spec.name);
      }
    }
    char tags_path[JSON_PATH_BYTES];
    json_t *tags = json_field(family, family_path, "tags", tags_path);
    if (tags != NULL && (!json_is_array(tags) || json_array_size(tags) == 0)) {
      json_problem(&ld->reader, tags_path, "a tag family needs a non-empty array of tags");
      tags = NULL;
    }
    if (spec.name == NULL) {
      continue;
    }
    size_t read = tags == NULL ? 0
                               : read_tag_specs(ld, tags, tags_path, tag_specs, tag_count,
                                                (uint32_t)families_read, "database.v1.TagSpec");
    spec.tags = tag_specs + tag_count;
    spec.tag_count = read;
    tag_count += read;
    family_specs[families_read++] = spec;
  }
  stream.families = family_specs;
  stream.family_count = families_read;
  stream.tags = tag_specs;
  stream.tag_count = tag_count;

  char entity_path[JSON_PATH_BYTES];
  json_t *entity = json_field(item, path, "entity", entity_path);
  if (entity != NULL && json_check_object(&ld->reader, entity, entity_path, "database.v1.Entity",
                                          entity_fields, COUNT_OF(entity_fields))) {
    json_get_string_list(&ld->reader, entity, entity_path, "tag_names", true, &stream.entity_tags,
                         &stream.entity_count);
    char names_path[JSON_PATH_BYTES];
    json_field(entity, entity_path, "tag_names", names_path);
    for (size_t i = 0; i < stream.entity_count; i++) {
      char item_path[JSON_PATH_BYTES];
      snprintf(item_path, sizeof item_path, "%s", names_path);
      sl_json_path_index(item_path, sizeof item_path, i);
      const sl_tag_spec *tag = sl_stream_find_tag(&stream, stream.entity_tags[i]);
      if (stream.entity_tags[i][0] == '\0') {
        continue;
      }
      if (tag == NULL) {
        json_problem(&ld->reader, item_path, "entity tag \"%s\" is not a tag of stream \"%s\"",
                     stream.entity_tags[i], stream.name);
      } else if (tag->type != SL_TAG_STRING && tag->type != SL_TAG_INT) {
        json_problem(&ld->reader, item_path,
                     "entity tag \"%s\" has type %s; an entity tag must be TAG_TYPE_STRING or TAG_TYPE_INT",
                     tag->name, sl_tag_type_name(tag->type));
      }
    }
  }
  if (stream.entity_tags == NULL) {
    static const char *const no_entity[] = {NULL};
    stream.entity_tags = no_entity;
  }
  char name_path[JSON_PATH_BYTES];
  char metadata_path[JSON_PATH_BYTES];
  path_join(path_join(path, "metadata", metadata_path), "name", name_path);
  for (size_t i = 0; i < ld->catalog->stream_count; i++) {
    if (strcmp(ld->catalog->streams[i].group, stream.group) == 0 &&
        strcmp(ld->catalog->streams[i].name, stream.name) == 0) {
      json_problem(&ld->reader, name_path, "duplicate stream \"%s\" in group \"%s\" (first defined at %s)",
                   stream.name, stream.group, ld->catalog->stream_origins[i]);
      return;
    }
  }
  sl_catalog *c = ld->catalog;
  if (!sl_catalog_reserve((void **)&c->streams, &c->stream_origins, &c->stream_capacity,
                          c->stream_count, sizeof(sl_stream_schema))) {
    ld->reader.out_of_memory = true;
    return;
  }
  c->stream_origins[c->stream_count] = json_origin(&ld->reader, path);
  c->streams[c->stream_count++] = stream;
}

/* Checks that a trace's named tag exists and has one of the allowed types. */
static void check_trace_tag(loader *ld, const json_t *item, const char *path,
                            const sl_trace_schema *trace, const char *field, const char *tag_name,
                            sl_tag_type allowed_a, sl_tag_type allowed_b) {
  if (tag_name == NULL || tag_name[0] == '\0') {
    return;
  }
  char member_path[JSON_PATH_BYTES];
  json_field(item, path, field, member_path);
  const sl_tag_spec *tag = sl_trace_find_tag(trace, tag_name);
  if (tag == NULL) {
    json_problem(&ld->reader, member_path, "%s \"%s\" is not a tag of trace \"%s\"", field,
                 tag_name, trace->name);
  } else if (tag->type != allowed_a && tag->type != allowed_b) {
    json_problem(&ld->reader, member_path, "%s \"%s\" has type %s; expected %s%s%s", field,
                 tag_name, sl_tag_type_name(tag->type), sl_tag_type_name(allowed_a),
                 allowed_b != allowed_a ? " or " : "",
                 allowed_b != allowed_a ? sl_tag_type_name(allowed_b) : "");
  }
}

static void add_trace(loader *ld, const json_t *item, const char *path) {
  if (!json_check_object(&ld->reader, item, path, "database.v1.Trace", trace_fields,
                         COUNT_OF(trace_fields))) {
    return;
  }
  sl_trace_schema trace = {0};
  if (!read_metadata(ld, item, path, true, &trace.name, &trace.group)) {
    return;
  }
  resolve_group(ld, path, trace.group, SL_CATALOG_TRACE, "trace");
  char tags_path[JSON_PATH_BYTES];
  json_t *tags = json_field(item, path, "tags", tags_path);
  if (tags != NULL && (!json_is_array(tags) || json_array_size(tags) == 0)) {
    json_problem(&ld->reader, tags_path, "a trace needs a non-empty array of tags");
    tags = NULL;
  }
  size_t capacity = tags == NULL ? 0 : json_array_size(tags);
  sl_tag_spec *specs = sl_arena_alloc(ld->catalog->arena, (capacity + 1) * sizeof *specs);
  if (specs == NULL) {
    ld->reader.out_of_memory = true;
    return;
  }
  trace.tags = specs;
  trace.tag_count = tags == NULL ? 0 : read_tag_specs(ld, tags, tags_path, specs, 0, 0,
                                                      "database.v1.TraceTagSpec");
  json_get_string(&ld->reader, item, path, "trace_id_tag_name", true, &trace.trace_id_tag);
  json_get_string(&ld->reader, item, path, "timestamp_tag_name", true, &trace.timestamp_tag);
  json_get_string(&ld->reader, item, path, "span_id_tag_name", false, &trace.span_id_tag);
  check_trace_tag(ld, item, path, &trace, "trace_id_tag_name", trace.trace_id_tag, SL_TAG_STRING,
                  SL_TAG_STRING);
  check_trace_tag(ld, item, path, &trace, "timestamp_tag_name", trace.timestamp_tag, SL_TAG_INT,
                  SL_TAG_TIMESTAMP);
  check_trace_tag(ld, item, path, &trace, "span_id_tag_name", trace.span_id_tag, SL_TAG_STRING,
                  SL_TAG_STRING);
  if (trace.span_id_tag != NULL && trace.span_id_tag[0] == '\0') {
    trace.span_id_tag = NULL;
  }
  if (trace.trace_id_tag == NULL) {
    trace.trace_id_tag = "";
  }
  if (trace.timestamp_tag == NULL) {
    trace.timestamp_tag = "";
  }
  char name_path[JSON_PATH_BYTES];
  char metadata_path[JSON_PATH_BYTES];
  path_join(path_join(path, "metadata", metadata_path), "name", name_path);
  for (size_t i = 0; i < ld->catalog->trace_count; i++) {
    if (strcmp(ld->catalog->traces[i].group, trace.group) == 0 &&
        strcmp(ld->catalog->traces[i].name, trace.name) == 0) {
      json_problem(&ld->reader, name_path, "duplicate trace \"%s\" in group \"%s\" (first defined at %s)",
                   trace.name, trace.group, ld->catalog->trace_origins[i]);
      return;
    }
  }
  sl_catalog *c = ld->catalog;
  if (!sl_catalog_reserve((void **)&c->traces, &c->trace_origins, &c->trace_capacity,
                          c->trace_count, sizeof(sl_trace_schema))) {
    ld->reader.out_of_memory = true;
    return;
  }
  c->trace_origins[c->trace_count] = json_origin(&ld->reader, path);
  c->traces[c->trace_count++] = trace;
}

/* The type of tag_name in any subject of group (kind); 0 when no subject has it. */
static sl_tag_type tag_type_in_group(const sl_catalog *catalog, sl_catalog_kind kind,
                                     const char *group, const char *tag_name) {
  if (kind == SL_CATALOG_STREAM) {
    for (size_t i = 0; i < catalog->stream_count; i++) {
      const sl_tag_spec *tag = strcmp(catalog->streams[i].group, group) == 0
                                   ? sl_stream_find_tag(&catalog->streams[i], tag_name)
                                   : NULL;
      if (tag != NULL) {
        return tag->type;
      }
    }
  } else {
    for (size_t i = 0; i < catalog->trace_count; i++) {
      const sl_tag_spec *tag = strcmp(catalog->traces[i].group, group) == 0
                                   ? sl_trace_find_tag(&catalog->traces[i], tag_name)
                                   : NULL;
      if (tag != NULL) {
        return tag->type;
      }
    }
  }
  return SL_TAG_UNSPECIFIED;
}

static void add_rule(loader *ld, const json_t *item, const char *path, sl_catalog_kind kind) {
  if (!json_check_object(&ld->reader, item, path, "database.v1.IndexRule", rule_fields,
                         COUNT_OF(rule_fields))) {
    return;
  }
  sl_index_rule rule = {.analyzer = ""};
  if (!read_metadata(ld, item, path, true, &rule.name, &rule.group)) {
    return;
  }
  const sl_group *group = resolve_group(ld, path, rule.group, kind, "index rule");
  int type = SL_INDEX_UNSPECIFIED;
  char member_path[JSON_PATH_BYTES];
  if (json_get_enum(&ld->reader, item, path, "type", true, index_type_names,
                    COUNT_OF(index_type_names), &type) &&
      type == SL_INDEX_UNSPECIFIED && json_field(item, path, "type", member_path) != NULL) {
    json_problem(&ld->reader, member_path,
                 "index rule \"%s\" has type TYPE_UNSPECIFIED; expected TYPE_INVERTED, TYPE_SKIPPING or TYPE_TREE",
                 rule.name);
  }
  rule.type = (sl_index_type)type;
  json_get_string(&ld->reader, item, path, "analyzer", false, &rule.analyzer);
  json_get_bool(&ld->reader, item, path, "no_sort", &rule.no_sort);
  json_get_string_list(&ld->reader, item, path, "tags", true, &rule.tags, &rule.tag_count);
  if (rule.tags == NULL) {
    static const char *const no_tags[] = {NULL};
    rule.tags = no_tags;
  }
  char tags_path[JSON_PATH_BYTES];
  json_field(item, path, "tags", tags_path);
  /* Tag checks need a subject; with none in the group (its file failed), the
   * binding step reports what is missing instead. */
  bool group_has_subject = false;
  for (size_t i = 0; kind == SL_CATALOG_STREAM && i < ld->catalog->stream_count; i++) {
    group_has_subject = group_has_subject || strcmp(ld->catalog->streams[i].group, rule.group) == 0;
  }
  for (size_t i = 0; kind == SL_CATALOG_TRACE && i < ld->catalog->trace_count; i++) {
    group_has_subject = group_has_subject || strcmp(ld->catalog->traces[i].group, rule.group) == 0;
  }
  for (size_t i = 0; group != NULL && group_has_subject && i < rule.tag_count; i++) {
    if (rule.tags[i] == NULL || rule.tags[i][0] == '\0') {
      continue;
    }
    char tag_path[JSON_PATH_BYTES];
    snprintf(tag_path, sizeof tag_path, "%s", tags_path);
    sl_json_path_index(tag_path, sizeof tag_path, i);
    sl_tag_type tag_type = tag_type_in_group(ld->catalog, kind, rule.group, rule.tags[i]);
    if (tag_type == SL_TAG_UNSPECIFIED) {
      json_problem(&ld->reader, tag_path, "index rule tag \"%s\" is not a tag of any %s in group \"%s\"",
                   rule.tags[i], kind == SL_CATALOG_STREAM ? "stream" : "trace", rule.group);
    } else if (tag_type == SL_TAG_DATA_BINARY) {
      json_problem(&ld->reader, tag_path,
                   "index rule on tag \"%s\" of type TAG_TYPE_DATA_BINARY; binary tags cannot be indexed",
                   rule.tags[i]);
    }
  }
  char name_path[JSON_PATH_BYTES];
  char metadata_path[JSON_PATH_BYTES];
  path_join(path_join(path, "metadata", metadata_path), "name", name_path);
  for (size_t i = 0; i < ld->catalog->rule_count; i++) {
    if (strcmp(ld->catalog->rules[i].group, rule.group) == 0 &&
        strcmp(ld->catalog->rules[i].name, rule.name) == 0) {
      json_problem(&ld->reader, name_path,
                   "duplicate index rule \"%s\" in group \"%s\" (first defined at %s)", rule.name,
                   rule.group, ld->catalog->rule_origins[i]);
      return;
    }
  }
  sl_catalog *c = ld->catalog;
  if (!sl_catalog_reserve((void **)&c->rules, &c->rule_origins, &c->rule_capacity, c->rule_count,
                          sizeof(sl_index_rule))) {
    ld->reader.out_of_memory = true;
    return;
  }
  c->rule_origins[c->rule_count] = json_origin(&ld->reader, path);
  c->rules[c->rule_count++] = rule;
}

/* Checks one rule named by a binding against the binding's group and subject. */
static void check_bound_rule(loader *ld, const char *rule_path, const sl_index_binding *binding,
                             const char *rule_name) {
  const sl_index_rule *rule = sl_catalog_find_rule(ld->catalog, binding->group, rule_name);
  if (rule == NULL) {
    for (size_t i = 0; i < ld->catalog->rule_count; i++) {
      if (strcmp(ld->catalog->rules[i].name, rule_name) == 0) {
        json_problem(&ld->reader, rule_path,
                     "index rule \"%s\" is in group \"%s\", not in the binding's group \"%s\"",
                     rule_name, ld->catalog->rules[i].group, binding->group);
        return;
      }
    }
    json_problem(&ld->reader, rule_path, "index rule \"%s\" does not exist in group \"%s\"",
                 rule_name, binding->group);
    return;
  }
  const sl_stream_schema *stream =
      binding->subject_catalog == SL_CATALOG_STREAM
          ? sl_catalog_find_stream(ld->catalog, binding->group, binding->subject_name)
          : NULL;
  const sl_trace_schema *trace =
      binding->subject_catalog == SL_CATALOG_TRACE
          ? sl_catalog_find_trace(ld->catalog, binding->group, binding->subject_name)
          : NULL;
  if (stream == NULL && trace == NULL) {
    return; /* the subject problem is reported once, by the caller */
  }
  for (size_t t = 0; t < rule->tag_count; t++) {
    const sl_tag_spec *tag = stream != NULL ? sl_stream_find_tag(stream, rule->tags[t])
                                            : sl_trace_find_tag(trace, rule->tags[t]);
    if (tag == NULL && rule->tags[t][0] != '\0') {
      json_problem(&ld->reader, rule_path, "index rule \"%s\" indexes tag \"%s\", which %s \"%s\" does not have",
                   rule_name, rule->tags[t], stream != NULL ? "stream" : "trace",
                   binding->subject_name);
    }
  }
  if (trace != NULL && rule->tag_count > 0) {
    const sl_tag_spec *last = sl_trace_find_tag(trace, rule->tags[rule->tag_count - 1]);
    if (last != NULL && last->type != SL_TAG_INT && last->type != SL_TAG_TIMESTAMP) {
      json_problem(&ld->reader, rule_path,
                   "trace index rule \"%s\" ends with tag \"%s\" of type %s; the last tag is the "
                   "sort key of the secondary index and must be TAG_TYPE_INT or TAG_TYPE_TIMESTAMP",
                   rule_name, last->name, sl_tag_type_name(last->type));
    }
  }
}

static void add_binding(loader *ld, const json_t *item, const char *path, sl_catalog_kind kind) {
  if (!json_check_object(&ld->reader, item, path, "database.v1.IndexRuleBinding", binding_fields,
                         COUNT_OF(binding_fields))) {
    return;
  }
  sl_index_binding binding = {0};
  if (!read_metadata(ld, item, path, true, &binding.name, &binding.group)) {
    return;
  }
  const sl_group *group = resolve_group(ld, path, binding.group, kind, "index rule binding");
  char subject_path[JSON_PATH_BYTES];
  json_t *subject = json_field(item, path, "subject", subject_path);
  int subject_catalog = SL_CATALOG_UNSPECIFIED;
  if (subject != NULL && json_check_object(&ld->reader, subject, subject_path, "database.v1.Subject",
                                           subject_fields, COUNT_OF(subject_fields))) {
    json_get_enum(&ld->reader, subject, subject_path, "catalog", true, catalog_names,
                  COUNT_OF(catalog_names), &subject_catalog);
    json_get_string(&ld->reader, subject, subject_path, "name", true, &binding.subject_name);
  }
  binding.subject_catalog = (sl_catalog_kind)subject_catalog;
  char member_path[JSON_PATH_BYTES];
  if (subject != NULL && json_field(subject, subject_path, "catalog", member_path) != NULL &&
      subject_catalog != SL_CATALOG_UNSPECIFIED && subject_catalog != (int)kind) {
    json_problem(&ld->reader, member_path,
                 "subject catalog is %s, but bindings in this file bind %s subjects",
                 sl_catalog_kind_name((sl_catalog_kind)subject_catalog), sl_catalog_kind_name(kind));
  }
  if (binding.subject_name == NULL) {
    binding.subject_name = "";
  } else if (group != NULL) {
    bool exists = kind == SL_CATALOG_STREAM
                      ? sl_catalog_find_stream(ld->catalog, binding.group, binding.subject_name) != NULL
                      : sl_catalog_find_trace(ld->catalog, binding.group, binding.subject_name) != NULL;
    if (!exists) {
      json_field(subject, subject_path, "name", member_path);
      json_problem(&ld->reader, member_path, "binding subject %s \"%s\" does not exist in group \"%s\"",
                   kind == SL_CATALOG_STREAM ? "stream" : "trace", binding.subject_name, binding.group);
    }
  }
  bool begin_ok = json_get_timestamp(&ld->reader, item, path, "begin_at", true, &binding.begin_at_ns);
  bool expire_ok = json_get_timestamp(&ld->reader, item, path, "expire_at", true, &binding.expire_at_ns);
  if (begin_ok && expire_ok && binding.begin_at_ns >= binding.expire_at_ns) {
    json_field(item, path, "expire_at", member_path);
    json_problem(&ld->reader, member_path,
                 "begin_at must be before expire_at; the binding would never be valid");
  }
  json_get_string_list(&ld->reader, item, path, "rules", true, &binding.rules, &binding.rule_count);
  if (binding.rules == NULL) {
    static const char *const no_rules[] = {NULL};
    binding.rules = no_rules;
  }
  char rules_path[JSON_PATH_BYTES];
  json_field(item, path, "rules", rules_path);
  for (size_t i = 0; group != NULL && i < binding.rule_count; i++) {
    if (binding.rules[i] == NULL || binding.rules[i][0] == '\0') {
      continue;
    }
    char rule_path[JSON_PATH_BYTES];
    snprintf(rule_path, sizeof rule_path, "%s", rules_path);
    sl_json_path_index(rule_path, sizeof rule_path, i);
    binding.subject_catalog = kind;
    check_bound_rule(ld, rule_path, &binding, binding.rules[i]);
  }
  binding.subject_catalog = kind;
  char name_path[JSON_PATH_BYTES];
  char metadata_path[JSON_PATH_BYTES];
  path_join(path_join(path, "metadata", metadata_path), "name", name_path);
  for (size_t i = 0; i < ld->catalog->binding_count; i++) {
    if (strcmp(ld->catalog->bindings[i].group, binding.group) == 0 &&
        strcmp(ld->catalog->bindings[i].name, binding.name) == 0) {
      json_problem(&ld->reader, name_path,
                   "duplicate index rule binding \"%s\" in group \"%s\" (first defined at %s)",
                   binding.name, binding.group, ld->catalog->binding_origins[i]);
      return;
    }
  }
  sl_catalog *c = ld->catalog;
  if (!sl_catalog_reserve((void **)&c->bindings, &c->binding_origins, &c->binding_capacity,
                          c->binding_count, sizeof(sl_index_binding))) {
    ld->reader.out_of_memory = true;
    return;
  }
  c->binding_origins[c->binding_count] = json_origin(&ld->reader, path);
  c->bindings[c->binding_count++] = binding;
}

static void add_item(loader *ld, const step *current, const json_t *item, const char *path) {
  switch (current->kind) {
    case STEP_GROUPS: add_group(ld, item, path); break;
    case STEP_STREAMS: add_stream(ld, item, path); break;
    case STEP_TRACES: add_trace(ld, item, path); break;
    case STEP_RULES: add_rule(ld, item, path, current->catalog); break;
    case STEP_BINDINGS: add_binding(ld, item, path, current->catalog); break;
  }
}

static size_t object_count(const sl_catalog *catalog, step_kind kind) {
  switch (kind) {
    case STEP_GROUPS: return catalog->group_count;
    case STEP_STREAMS: return catalog->stream_count;
    case STEP_TRACES: return catalog->trace_count;
    case STEP_RULES: return catalog->rule_count;
    case STEP_BINDINGS: return catalog->binding_count;
  }
  return 0;
}

static const char *interval_unit_word(sl_interval interval) {
  if (interval.unit == SL_UNIT_DAY) {
    return interval.num == 1 ? "day" : "days";
  }
  return interval.num == 1 ? "hour" : "hours";
}

/* Verification after a step: every object the step added is found again by
 * the public lookups, under its own name, as the seed's loader re-reads what
 * it created.  Writes a one-line summary of the step's objects. */
static bool verify_step(loader *ld, const step *current, size_t first, size_t last, char *summary,
                        size_t summary_bytes) {
  const sl_catalog *c = ld->catalog;
  size_t used = 0;
  bool ok = true;
  for (size_t i = first; i < last && used < summary_bytes; i++) {
    const char *separator = i == first ? "" : "; ";
    switch (current->kind) {
      case STEP_GROUPS: {
        const sl_group *group = &c->groups[i];
        ok = ok && sl_catalog_find_group(c, group->name) == group;
        used += (size_t)snprintf(summary + used, summary_bytes - used,
                                 "%s%s (%s, %u shards, segment %u %s, ttl %u %s)", separator,
                                 group->name, sl_catalog_kind_name(group->catalog), group->shard_num,
                                 group->segment_interval.num,
                                 interval_unit_word(group->segment_interval), group->ttl.num,
                                 interval_unit_word(group->ttl));
        break;
      }
      case STEP_STREAMS: {
        const sl_stream_schema *stream = &c->streams[i];
        ok = ok && sl_catalog_find_stream(c, stream->group, stream->name) == stream;
        used += (size_t)snprintf(summary + used, summary_bytes - used,
                                 "%s%s/%s (%zu tag families, %zu tags, entity of %zu tags)",
                                 separator, stream->group, stream->name, stream->family_count,
                                 stream->tag_count, stream->entity_count);
        break;
      }
      case STEP_TRACES: {
        const sl_trace_schema *trace = &c->traces[i];
        ok = ok && sl_catalog_find_trace(c, trace->group, trace->name) == trace;
        used += (size_t)snprintf(summary + used, summary_bytes - used,
                                 "%s%s/%s (%zu tags, trace id %s, timestamp %s)", separator,
                                 trace->group, trace->name, trace->tag_count, trace->trace_id_tag,
                                 trace->timestamp_tag);
        break;
      }
      case STEP_RULES: {
        const sl_index_rule *rule = &c->rules[i];
        ok = ok && sl_catalog_find_rule(c, rule->group, rule->name) == rule;
        used += (size_t)snprintf(summary + used, summary_bytes - used, "%s%s", separator,
                                 rule->name);
        break;
      }
      case STEP_BINDINGS: {
        const sl_index_binding *binding = &c->bindings[i];
        size_t bound = sl_catalog_bound_rules(c, binding->subject_catalog, binding->group,
                                              binding->subject_name, binding->begin_at_ns, NULL, 0);
        ok = ok && bound >= 1;
        used += (size_t)snprintf(summary + used, summary_bytes - used, "%s%s: %zu rules -> %s/%s",
                                 separator, binding->name, binding->rule_count, binding->group,
                                 binding->subject_name);
        break;
      }
    }
  }
  return ok;
}

/* Reads a whole file; NULL with *missing set when it does not exist. */
static char *read_text_file(const char *path, size_t *size_bytes, bool *missing, sl_error *err) {
  *missing = false;
  if (sl_path_is_special(path)) {
    sl_error_set(err, SL_ERR_IO, "not a regular file");
    return NULL;
  }
  FILE *file = fopen(path, "rb");
  if (file == NULL) {
    *missing = errno == ENOENT;
    sl_error_set(err, SL_ERR_IO, "cannot open: %s", strerror(errno));
    return NULL;
  }
  struct stat info;
  if (fstat(fileno(file), &info) != 0 || !S_ISREG(info.st_mode)) {
    fclose(file);
    sl_error_set(err, SL_ERR_IO, "not a regular file");
    return NULL;
  }
  if (info.st_size > MAX_FILE_BYTES) {
    fclose(file);
    sl_error_set(err, SL_ERR_INVALID, "file is %lld bytes; a schema file is at most %d bytes",
                 (long long)info.st_size, MAX_FILE_BYTES);
    return NULL;
  }
  char *text = malloc((size_t)info.st_size + 1);
  if (text == NULL) {
    fclose(file);
    sl_error_set(err, SL_ERR_NOMEM, "out of memory reading the file");
    return NULL;
  }
  size_t read = fread(text, 1, (size_t)info.st_size, file);
  fclose(file);
  text[read] = '\0';
  *size_bytes = read;
  return text;
}

/* Runs one step over one file: parse, add each object, verify. */
static void run_step(loader *ld, const char *dir, int step_index,
                     const sl_catalog_load_options *options) {
  const step *current = &steps[step_index];
  char file_path[4096];
  snprintf(file_path, sizeof file_path, "%s/%s", dir, current->file_name);
  size_t problems_before = sl_diag_count(ld->reader.problems);
  size_t first = object_count(ld->catalog, current->kind);
  ld->reader.file_path = file_path;
  ld->reader.positions = NULL;

  size_t size_bytes = 0;
  bool missing = false;
  sl_error err;
  char *text = read_text_file(file_path, &size_bytes, &missing, &err);
  if (text == NULL) {
    if (!missing || current->kind == STEP_GROUPS) {
      json_problem(&ld->reader, "$", "%s", missing ? "missing file; every schema set needs group.json" : err.message);
    }
    if (options != NULL && options->on_step != NULL) {
      options->on_step(options->context, step_index + 1, current->step_name, file_path, false, 0,
                       missing ? "no file, nothing to load" : err.message);
    }
    ld->reader.file_path = NULL;
    return;
  }
  sl_json_positions *positions = sl_json_positions_build(text, size_bytes);
  ld->reader.positions = positions;
  json_error_t json_error;
  json_t *root = json_loadb(text, size_bytes, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &json_error);
  if (root == NULL) {
    sl_diag_add(ld->reader.problems, "%s:%d:%d: $: malformed JSON: %s", file_path,
                json_error.line < 1 ? 1 : json_error.line,
                json_error.column < 1 ? 1 : json_error.column, json_error.text);
  } else if (json_is_object(root)) {
    add_item(ld, current, root, "$");
  } else if (json_is_array(root)) {
    for (size_t i = 0; i < json_array_size(root); i++) {
      char item_path[JSON_PATH_BYTES] = "$";
      sl_json_path_index(item_path, sizeof item_path, i);
      add_item(ld, current, json_array_get(root, i), item_path);
    }
  } else {
    json_problem(&ld->reader, "$", "expected a %s object or an array of them, found %s",
                 current->message_name, json_is_string(root) ? "a string" : "a number, boolean or null");
  }
  size_t last = object_count(ld->catalog, current->kind);
  char summary[SUMMARY_BYTES] = "";
  bool verified = verify_step(ld, current, first, last, summary, sizeof summary);
  size_t problems = sl_diag_count(ld->reader.problems) - problems_before;
  if (!verified && problems == 0) {
    json_problem(&ld->reader, "$", "verification failed: an object of this step cannot be found again by name");
    problems++;
  }
  if (options != NULL && options->on_step != NULL) {
    char line[SUMMARY_BYTES + 128];
    if (problems == 0) {
      snprintf(line, sizeof line, "%zu loaded and verified%s%s", last - first,
               last > first ? ": " : "", summary);
    } else {
      snprintf(line, sizeof line, "%zu problem%s", problems, problems == 1 ? "" : "s");
    }
    options->on_step(options->context, step_index + 1, current->step_name, file_path, true,
                     last - first, line);
  }
  json_decref(root);
  sl_json_positions_free(positions);
  ld->reader.positions = NULL;
  ld->reader.file_path = NULL;
  free(text);
}

sl_status sl_catalog_load_dir(const char *dir, const sl_catalog_load_options *options,
                              sl_catalog **out, sl_diag *problems) {
  assert(dir != NULL && out != NULL && problems != NULL);
  *out = NULL;
  sl_catalog *catalog = calloc(1, sizeof *catalog);
  sl_arena *arena = sl_arena_new(16 * 1024);
  if (catalog == NULL || arena == NULL) {
    free(catalog);
    sl_arena_free(arena);
    sl_diag_add(problems, "%s: out of memory loading the catalog", dir);
    return SL_ERR_NOMEM;
  }
  catalog->arena = arena;
  struct stat info;
  errno = 0;
  if (stat(dir, &info) != 0 || !S_ISDIR(info.st_mode)) {
    sl_diag_add(problems, "%s:1:1: $: not a directory of schema files: %s", dir,
                errno != 0 ? strerror(errno) : "not a directory");
    sl_catalog_free(catalog);
    return SL_ERR_IO;
  }
  loader ld = {.catalog = catalog,
               .reader = {.problems = problems, .arena = arena}};
  size_t problems_before = sl_diag_count(problems);
  for (int i = 0; i < STEP_COUNT; i++) {
    run_step(&ld, dir, i, options);
  }
  if (ld.reader.out_of_memory) {
    sl_diag_add(problems, "%s: out of memory loading the catalog", dir);
    sl_catalog_free(catalog);
    return SL_ERR_NOMEM;
  }
  if (sl_diag_count(problems) > problems_before) {
    sl_catalog_free(catalog);
    return SL_ERR_INVALID;
  }
  *out = catalog;
  return SL_OK;
}
