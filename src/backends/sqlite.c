/* sqlite.c: the SQLite baseline, tuned as a competent user would tune it
 * (DESIGN.md "Benchmarks"): one table of spans shaped like the model's subject,
 * WAL journal, an index per bound index rule plus the lookups the model has
 * built in (stream: the entity; trace: the trace id), ANALYZE after loading,
 * batches written in one transaction through a prepared statement. */
#include <assert.h>
#include <fcntl.h>
#include <unistd.h>
#include <pthread.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backends/backend_internal.h"
#include "common/timeutil.h"
#include "query/plan.h"
#include "spanlab/query.h"

/* Owns the connection and the prepared insert; mutex serialises every call. */
typedef struct sqlite_state {
  sl_model_shape shape;
  int64_t segment_ms; /* the subject's group segment interval (trace windows read whole segments) */
  sqlite3 *db;
  sqlite3_stmt *insert;
  pthread_mutex_t mutex;
  char path[4096];
} sqlite_state;

static sl_status sqlite_error(sqlite3 *db, const char *path, const char *doing, sl_error *err) {
  int code = db != NULL ? sqlite3_extended_errcode(db) : SQLITE_ERROR;
  sl_status status = (code & 0xff) == SQLITE_FULL ? SL_ERR_NOSPACE
                     : (code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB
                         ? SL_ERR_CORRUPT
                         : SL_ERR_IO;
  return sl_error_set(err, status, "sqlite %s: %s: %s", path, doing,
                      db != NULL ? sqlite3_errmsg(db) : "cannot open");
}

static sl_status exec(sqlite_state *state, const char *sql, sl_error *err) {
  char *message = NULL;
  if (sqlite3_exec(state->db, sql, NULL, NULL, &message) != SQLITE_OK) {
    sl_status status = sqlite_error(state->db, state->path, sql, err);
    sqlite3_free(message);
    return status;
  }
  return SL_OK;
}

/* The column of the span table holding the subject's tag, or -1. */
static int span_column(const char *tag_name) {
  for (int i = 0; i < SL_SPAN_TAG_COUNT; i++) {
    if (strcmp(sl_span_tag_names[i], tag_name) == 0) {
      return i;
    }
  }
  return -1;
}

static sl_status create_indexes(sqlite_state *state, const sl_backend_options *options,
                                const char *group, const char *subject, sl_error *err) {
  bool stream = options->shape == SL_SHAPE_STREAM;
  if (stream) {
    /* BanyanDB resolves the entity to a series and scans it in time order. */
    SL_TRY(exec(state, "CREATE INDEX IF NOT EXISTS entity_time ON spans(serviceId, "
                       "serviceInstanceId, startTime)", err));
    /* Its parts are sorted by time with min/max timestamps per block, so a time
     * window prunes without reading everything: SQLite's equivalent is an index. */
    SL_TRY(exec(state, "CREATE INDEX IF NOT EXISTS time ON spans(startTime)", err));
  } else {
    /* The trace model's primary lookup: trace id. */
    SL_TRY(exec(state, "CREATE INDEX IF NOT EXISTS trace_id ON spans(traceId)", err));
  }
  const sl_index_rule *rules[64];
  size_t bound = sl_catalog_bound_rules(options->catalog, stream ? SL_CATALOG_STREAM : SL_CATALOG_TRACE,
                                        group, subject, sl_wall_clock_ns(), rules, 64);
  for (size_t r = 0; r < bound && r < 64; r++) {
    char sql[2048];
    int used = snprintf(sql, sizeof sql, "CREATE INDEX IF NOT EXISTS \"rule_%s\" ON spans(", rules[r]->name);
    for (size_t t = 0; t < rules[r]->tag_count && used < (int)sizeof sql; t++) {
      if (span_column(rules[r]->tags[t]) < 0) {
        return sl_error_set(err, SL_ERR_UNSUPPORTED,
                            "sqlite baseline: index rule %s names tag %s, which is not a span field",
                            rules[r]->name, rules[r]->tags[t]);
      }
      used += snprintf(sql + used, sizeof sql - (size_t)used, "%s\"%s\"", t ? ", " : "",
                       rules[r]->tags[t]);
    }
    if (used >= (int)sizeof sql - 2) {
      return sl_error_set(err, SL_ERR_INVALID, "index rule %s has too many tags", rules[r]->name);
    }
    snprintf(sql + used, sizeof sql - (size_t)used, ")");
    SL_TRY(exec(state, sql, err));
  }
  return SL_OK;
}

static sl_status sqlite_open(const sl_backend_options *options, void **out, sl_error *err) {
  const char *group = NULL;
  const char *subject = NULL;
  SL_TRY(sl_backend_resolve_subject(options, &group, &subject, err));
  sqlite_state *state = calloc(1, sizeof *state);
  if (state == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "sqlite baseline: out of memory");
  }
  snprintf(state->path, sizeof state->path, "%s/" SL_SQLITE_STORE_FILE, options->directory);
  state->shape = options->shape;
  const sl_group *group_info = sl_catalog_find_group(options->catalog, group);
  state->segment_ms = group_info != NULL ? sl_interval_ms(group_info->segment_interval) : 86400000;
  pthread_mutex_init(&state->mutex, NULL);
  sl_status status = SL_OK;
  if (sqlite3_open_v2(state->path, &state->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
      SQLITE_OK) {
    status = sqlite_error(state->db, state->path, "open", err);
    goto fail;
  }
  /* By sl_sync_mode: NONE, BATCH, INTERVAL, OFF (SQLite keeps its WAL journal: as NONE). */
  static const char *const synchronous[] = {"PRAGMA synchronous=OFF", "PRAGMA synchronous=FULL",
                                            "PRAGMA synchronous=NORMAL", "PRAGMA synchronous=OFF"};
  if ((status = exec(state, "PRAGMA journal_mode=WAL", err)) != SL_OK ||
      (status = exec(state, synchronous[options->sync_mode], err)) != SL_OK ||
      (status = exec(state, "PRAGMA cache_size=-65536", err)) != SL_OK ||
      (status = exec(state,
                     "CREATE TABLE IF NOT EXISTS spans (serviceId TEXT, serviceInstanceId TEXT, "
                     "traceId TEXT, startTime INTEGER, latency INTEGER, isError INTEGER, spanId TEXT, "
                     "parentSpanId TEXT, operationName TEXT, component TEXT, dataBinary BLOB)",
                     err)) != SL_OK ||
      (status = create_indexes(state, options, group, subject, err)) != SL_OK) {
    goto fail;
  }
  if (sqlite3_prepare_v2(state->db, "INSERT INTO spans VALUES (?,?,?,?,?,?,?,?,?,?,?)", -1,
                         &state->insert, NULL) != SQLITE_OK) {
    status = sqlite_error(state->db, state->path, "prepare insert", err);
    goto fail;
  }
  *out = state;
  return SL_OK;
fail:
  sqlite3_close(state->db);
  pthread_mutex_destroy(&state->mutex);
  free(state);
  return status;
}

static sl_status insert_span(sqlite_state *state, const sl_span *span, sl_error *err) {
  sqlite3_stmt *insert = state->insert;
  for (int i = 0; i < SL_SPAN_TAG_COUNT; i++) {
    sl_value value = sl_span_tag_value(span, (size_t)i);
    int rc;
    switch (value.kind) {
      case SL_VALUE_STR:
        rc = sqlite3_bind_text(insert, i + 1, value.as.str.data, (int)value.as.str.size_bytes,
                               SQLITE_STATIC);
        break;
      case SL_VALUE_INT: rc = sqlite3_bind_int64(insert, i + 1, value.as.int_value); break;
      case SL_VALUE_BINARY:
        rc = sqlite3_bind_blob(insert, i + 1, value.as.binary.data,
                               (int)value.as.binary.size_bytes, SQLITE_STATIC);
        break;
      default: rc = sqlite3_bind_null(insert, i + 1); break;
    }
    if (rc != SQLITE_OK) {
      return sqlite_error(state->db, state->path, "bind", err);
    }
  }
  int rc = sqlite3_step(insert);
  sqlite3_reset(insert);
  if (rc != SQLITE_DONE) {
    return sqlite_error(state->db, state->path, "insert", err);
  }
  return SL_OK;
}

static sl_status sqlite_write(void *opaque, const sl_span *spans, size_t count, sl_error *err) {
  sqlite_state *state = opaque;
  pthread_mutex_lock(&state->mutex);
  sl_status status = exec(state, "BEGIN IMMEDIATE", err);
  for (size_t i = 0; status == SL_OK && i < count; i++) {
    status = insert_span(state, &spans[i], err);
  }
  if (status == SL_OK) {
    status = exec(state, "COMMIT", err);
  }
  if (status != SL_OK && !sqlite3_get_autocommit(state->db)) {
    sl_error ignored;
    exec(state, "ROLLBACK", &ignored);
  }
  pthread_mutex_unlock(&state->mutex);
  return status;
}

static sl_status sqlite_flush(void *opaque, sl_error *err) {
  sqlite_state *state = opaque;
  pthread_mutex_lock(&state->mutex);
  sl_status status = exec(state, "ANALYZE", err);
  if (status == SL_OK) {
    status = exec(state, "PRAGMA wal_checkpoint(TRUNCATE)", err);
  }
  pthread_mutex_unlock(&state->mutex);
  return status;
}

static sl_bytes column_bytes(sqlite3_stmt *statement, int column) {
  sl_bytes bytes = {.data = sqlite3_column_blob(statement, column),
                    .size_bytes = (size_t)sqlite3_column_bytes(statement, column)};
  if (bytes.data == NULL) {
    bytes.data = "";
  }
  return bytes;
}

static sl_status sqlite_count(void *opaque, uint64_t *span_count, uint64_t *checksum, sl_error *err) {
  sqlite_state *state = opaque;
  pthread_mutex_lock(&state->mutex);
  sqlite3_stmt *select = NULL;
  sl_status status = SL_OK;
  if (sqlite3_prepare_v2(state->db, "SELECT * FROM spans", -1, &select, NULL) != SQLITE_OK) {
    status = sqlite_error(state->db, state->path, "prepare count", err);
  }
  *span_count = 0;
  *checksum = 0;
  int rc = SQLITE_DONE;
  while (status == SL_OK && (rc = sqlite3_step(select)) == SQLITE_ROW) {
    sl_span span = {
        .service_id = column_bytes(select, 0),
        .service_instance_id = column_bytes(select, 1),
        .trace_id = column_bytes(select, 2),
        .start_time_ms = sqlite3_column_int64(select, 3),
        .latency_ms = sqlite3_column_int64(select, 4),
        .is_error = sqlite3_column_int64(select, 5),
        .span_id = column_bytes(select, 6),
        .parent_span_id = column_bytes(select, 7),
        .operation_name = column_bytes(select, 8),
        .component = column_bytes(select, 9),
        .data_binary = column_bytes(select, 10),
    };
    *span_count += 1;
    *checksum += sl_span_digest(&span);
  }
  if (status == SL_OK && rc != SQLITE_DONE) {
    status = sqlite_error(state->db, state->path, "count", err);
  }
  sqlite3_finalize(select);
  pthread_mutex_unlock(&state->mutex);
  return status;
}

/* ---- queries: the QueryRequest as SQL, with plain boolean semantics (the
 * benchmark's queries are those where BanyanDB's planner and plain logic agree;
 * the runner checks every answer against the oracle). ---- */

typedef struct sql_text {
  char text[16384];
  size_t used;
  sl_value params[256];
  size_t param_count;
  bool overflow;
} sql_text;

static void sql_append(sql_text *sql, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void sql_append(sql_text *sql, const char *format, ...) {
  va_list args;
  va_start(args, format);
  int written = vsnprintf(sql->text + sql->used, sizeof sql->text - sql->used, format, args);
  va_end(args);
  if (written < 0 || (size_t)written >= sizeof sql->text - sql->used) {
    sql->overflow = true;
    return;
  }
  sql->used += (size_t)written;
}

static void sql_param(sql_text *sql, sl_value value) {
  if (sql->param_count == sizeof sql->params / sizeof sql->params[0]) {
    sql->overflow = true;
    return;
  }
  sql->params[sql->param_count++] = value;
  sql_append(sql, "?");
}

static sl_status sql_criteria(sql_text *sql, const sl_criteria *node, int depth, sl_error *err) {
  if (depth > 64) {
    return sl_error_set(err, SL_ERR_UNSUPPORTED, "sqlite baseline: criteria deeper than 64 levels");
  }
  if (node->kind != SL_CRITERIA_CONDITION) {
    if (node->left == NULL || node->right == NULL) {
      return sql_criteria(sql, node->left != NULL ? node->left : node->right, depth + 1, err);
    }
    sql_append(sql, "(");
    SL_TRY(sql_criteria(sql, node->left, depth + 1, err));
    sql_append(sql, node->kind == SL_CRITERIA_AND ? " AND " : " OR ");
    SL_TRY(sql_criteria(sql, node->right, depth + 1, err));
    sql_append(sql, ")");
    return SL_OK;
  }
  if (span_column(node->tag_name) < 0) {
    return sl_error_set(err, SL_ERR_UNSUPPORTED, "sqlite baseline: tag %s is not a span field", node->tag_name);
  }
  static const char *const comparisons[] = {"", " = ", " != ", " < ", " > ", " <= ", " >= "};
  if (node->value.kind == SL_VALUE_NULL) {
    sql_append(sql, "0"); /* nothing equals null */
    return SL_OK;
  }
  switch (node->op) {
    case SL_BINARY_OP_EQ:
    case SL_BINARY_OP_NE:
    case SL_BINARY_OP_LT:
    case SL_BINARY_OP_GT:
    case SL_BINARY_OP_LE:
    case SL_BINARY_OP_GE:
      sql_append(sql, "\"%s\"%s", node->tag_name, comparisons[node->op]);
      sql_param(sql, node->value);
      return SL_OK;
    case SL_BINARY_OP_IN:
    case SL_BINARY_OP_NOT_IN: {
      size_t count = node->value.kind == SL_VALUE_STR_ARRAY ? node->value.as.str_array.count
                                                            : node->value.as.int_array.count;
      if (count == 0) {
        sql_append(sql, node->op == SL_BINARY_OP_IN ? "0" : "1");
        return SL_OK;
      }
      sql_append(sql, "\"%s\" %s (", node->tag_name, node->op == SL_BINARY_OP_IN ? "IN" : "NOT IN");
      for (size_t i = 0; i < count; i++) {
        if (i > 0) {
          sql_append(sql, ", ");
        }
        sql_param(sql, node->value.kind == SL_VALUE_STR_ARRAY
                           ? sl_value_str(node->value.as.str_array.items[i].data,
                                          node->value.as.str_array.items[i].size_bytes)
                           : sl_value_int(node->value.as.int_array.items[i]));
      }
      sql_append(sql, ")");
      return SL_OK;
    }
    default:
      return sl_error_set(err, SL_ERR_UNSUPPORTED,
                          "sqlite baseline: HAVING, NOT_HAVING and MATCH have no SQL translation here");
  }
}

static sl_status trace_query(sqlite_state *state, const struct sl_query *query, sl_backend_answer *answer,
                             sl_error *err);

static sl_status stream_query(sqlite_state *state, const struct sl_query *query, sl_backend_answer *answer,
                              sl_error *err) {
  sql_text *sql = calloc(1, sizeof *sql);
  if (sql == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "sqlite baseline: out of memory");
  }
  sql_append(sql, "SELECT traceId, spanId FROM spans WHERE 1");
  if (query->has_time_range) {
    /* Element timestamps are startTime milliseconds; the range is inclusive. */
    int64_t begin_ms = query->begin_ns / 1000000 + (query->begin_ns % 1000000 > 0 ? 1 : 0);
    int64_t end_ms = query->end_ns / 1000000 - (query->end_ns % 1000000 < 0 ? 1 : 0);
    sql_append(sql, " AND startTime BETWEEN %lld AND %lld", (long long)begin_ms, (long long)end_ms);
  }
  sl_status status = SL_OK;
  if (query->criteria != NULL) {
    sql_append(sql, " AND ");
    status = sql_criteria(sql, query->criteria, 0, err);
  }
  const char *direction = query->sort == SL_SORT_DESC ? "DESC" : "ASC";
  const char *key = query->order_rule != NULL ? query->order_rule->tags[0] : "startTime";
  /* Missing keys last, as the oracle: DESC puts NULLs last by itself. */
  sql_append(sql, " ORDER BY \"%s\" %s%s, startTime %s, rowid %s LIMIT %u OFFSET %u", key, direction,
             query->sort == SL_SORT_DESC ? "" : " NULLS LAST", direction, direction,
             query->limit == 0 ? 20 : query->limit, query->offset);
  if (status == SL_OK && sql->overflow) {
    status = sl_error_set(err, SL_ERR_UNSUPPORTED, "sqlite baseline: query too large to translate");
  }
  pthread_mutex_lock(&state->mutex);
  sqlite3_stmt *statement = NULL;
  if (status == SL_OK && sqlite3_prepare_v2(state->db, sql->text, -1, &statement, NULL) != SQLITE_OK) {
    status = sqlite_error(state->db, state->path, "prepare query", err);
  }
  for (size_t i = 0; status == SL_OK && i < sql->param_count; i++) {
    const sl_value *value = &sql->params[i];
    int rc = value->kind == SL_VALUE_STR
                 ? sqlite3_bind_text(statement, (int)i + 1, value->as.str.data, (int)value->as.str.size_bytes,
                                     SQLITE_STATIC)
                 : sqlite3_bind_int64(statement, (int)i + 1, value->as.int_value);
    if (rc != SQLITE_OK) {
      status = sqlite_error(state->db, state->path, "bind query", err);
    }
  }
  size_t capacity = 0;
  int rc = SQLITE_DONE;
  while (status == SL_OK && (rc = sqlite3_step(statement)) == SQLITE_ROW) {
    if (answer->span_count == capacity) {
      capacity = capacity == 0 ? 64 : capacity * 2;
      uint64_t *grown = realloc(answer->span_keys, capacity * sizeof(uint64_t));
      if (grown == NULL) {
        status = sl_error_set(err, SL_ERR_NOMEM, "sqlite baseline: out of memory");
        break;
      }
      answer->span_keys = grown;
    }
    answer->span_keys[answer->span_count++] = sl_span_key(column_bytes(statement, 0), column_bytes(statement, 1));
  }
  if (status == SL_OK && rc != SQLITE_DONE) {
    status = sqlite_error(state->db, state->path, "query", err);
  }
  sqlite3_finalize(statement);
  pthread_mutex_unlock(&state->mutex);
  free(sql);
  if (status != SL_OK) {
    sl_backend_answer_free(answer);
  }
  return status;
}

/* Fault injection for the runner's consistency test (tests/cli/test_bench.sh):
 * SPANLAB_INJECT_WRONG_ANSWER=reverse reverses every answer, any other value
 * drops its last span. */
static void inject_wrong_answer(sl_backend_answer *answer) {
  const char *fault = getenv("SPANLAB_INJECT_WRONG_ANSWER");
  if (fault == NULL || answer->span_count == 0) {
    return;
  }
  if (strcmp(fault, "reverse") != 0) {
    answer->span_count--;
    return;
  }
  for (size_t i = 0, j = answer->span_count - 1; i < j; i++, j--) {
    uint64_t swapped = answer->span_keys[i];
    answer->span_keys[i] = answer->span_keys[j];
    answer->span_keys[j] = swapped;
  }
}

static sl_status sqlite_query(void *opaque, const struct sl_query *query, sl_backend_answer *answer,
                              sl_error *err) {
  sqlite_state *state = opaque;
  sl_status status = query->model == SL_QUERY_STREAM ? stream_query(state, query, answer, err)
                                                     : trace_query(state, query, answer, err);
  if (status == SL_OK) {
    inject_wrong_answer(answer);
  }
  return status;
}

/* ---- trace-model queries: whole traces, BanyanDB's trace semantics for the
 * shapes the benchmark asks (docs/QUERIES.md): trace ids EQ/IN, or an orderBy
 * rule with EQ/IN on series tags and ranges on the rule's key.  Other shapes
 * are SL_ERR_UNSUPPORTED rather than answered differently. ---- */

typedef struct trace_plan {
  const sl_criteria *leaves[64];
  size_t leaf_count;
  bool supported;
} trace_plan;

static void collect_and_leaves(const sl_criteria *node, trace_plan *plan, int depth) {
  if (node == NULL || !plan->supported) {
    return;
  }
  if (depth > 32 || (node->kind == SL_CRITERIA_OR)) {
    plan->supported = false;
    return;
  }
  if (node->kind == SL_CRITERIA_AND) {
    collect_and_leaves(node->left, plan, depth + 1);
    collect_and_leaves(node->right, plan, depth + 1);
    return;
  }
  if (plan->leaf_count == 64) {
    plan->supported = false;
    return;
  }
  plan->leaves[plan->leaf_count++] = node;
}

static bool is_series_tag(const struct sl_query *query, const char *tag) {
  const sl_index_rule *rule = query->order_rule;
  for (size_t t = 0; rule != NULL && t + 1 < rule->tag_count; t++) {
    if (strcmp(rule->tags[t], tag) == 0) {
      return true;
    }
  }
  return false;
}

static sl_status run_keys(sqlite_state *state, sqlite3_stmt *statement, sl_backend_answer *answer, sl_error *err) {
  size_t capacity = answer->span_count;
  int rc;
  while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
    if (answer->span_count == capacity) {
      capacity = capacity == 0 ? 64 : capacity * 2;
      uint64_t *grown = realloc(answer->span_keys, capacity * sizeof(uint64_t));
      if (grown == NULL) {
        return sl_error_set(err, SL_ERR_NOMEM, "sqlite baseline: out of memory");
      }
      answer->span_keys = grown;
    }
    answer->span_keys[answer->span_count++] = sl_span_key(column_bytes(statement, 0), column_bytes(statement, 1));
  }
  return rc == SQLITE_DONE ? SL_OK : sqlite_error(state->db, state->path, "trace query", err);
}

static int compare_ids(const void *a, const void *b) {
  const sl_bytes *x = a, *y = b;
  size_t common = x->size_bytes < y->size_bytes ? x->size_bytes : y->size_bytes;
  int order = common ? memcmp(x->data, y->data, common) : 0;
  return order != 0 ? order : (x->size_bytes < y->size_bytes ? -1 : x->size_bytes > y->size_bytes);
}

static sl_status trace_query(sqlite_state *state, const struct sl_query *query, sl_backend_answer *answer,
                             sl_error *err) {
  /* Where BanyanDB's sidx path reads no block, the answer is nothing, whatever SQL would say: its
   * block skip filter (an int EQ) and a row filter that names the orderBy key tag, which the
   * rule's sidx rows lack (docs/QUERIES.md). These rules are BanyanDB's planning, not the query's
   * meaning, so the baseline takes them from the shared planner rather than restating them. */
  sl_query_plan *banyandb_plan = NULL;
  SL_TRY(sl_query_plan_make(query, &banyandb_plan, err));
  bool nothing = sl_query_plan_skips_everything(banyandb_plan);
  sl_query_plan_free(banyandb_plan);
  if (nothing) {
    return SL_OK;
  }
  trace_plan plan = {.supported = true};
  collect_and_leaves(query->criteria, &plan, 0);
  const char *key = query->trace_id_count == 0 && query->order_rule != NULL
                        ? query->order_rule->tags[query->order_rule->tag_count - 1]
                        : NULL;
  bool exact = key == NULL || strcmp(key, query->trace->timestamp_tag) == 0;
  int64_t begin_ms = INT64_MIN, end_ms = INT64_MAX;
  if (query->has_time_range) {
    begin_ms = query->begin_ns / 1000000 + (query->begin_ns % 1000000 > 0 ? 1 : 0);
    end_ms = query->end_ns / 1000000;
    if (!exact && state->segment_ms > 0) { /* whole segments: day-aligned reads */
      begin_ms = query->begin_ns / 1000000 / state->segment_ms * state->segment_ms;
      end_ms = query->end_ns / 1000000 / state->segment_ms * state->segment_ms + state->segment_ms - 1;
    }
  }
  sql_text *filter = calloc(1, sizeof *filter);
  if (filter == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "sqlite baseline: out of memory");
  }
  sql_append(filter, "startTime BETWEEN %lld AND %lld", (long long)begin_ms, (long long)end_ms);
  for (size_t i = 0; plan.supported && i < plan.leaf_count; i++) {
    const sl_criteria *leaf = plan.leaves[i];
    bool trace_id = strcmp(leaf->tag_name, query->trace->trace_id_tag) == 0;
    bool series = is_series_tag(query, leaf->tag_name);
    bool on_key = key != NULL && strcmp(leaf->tag_name, key) == 0 && leaf->value.kind == SL_VALUE_INT;
    if (trace_id && query->trace_id_count > 0) {
      continue; /* read directly */
    }
    if ((series && (leaf->op == SL_BINARY_OP_EQ || leaf->op == SL_BINARY_OP_IN)) ||
        (on_key && leaf->op >= SL_BINARY_OP_LT && leaf->op <= SL_BINARY_OP_GE)) {
      /* An EQ on the key bounds no sidx range in BanyanDB and, as an int EQ, skips every block: not
       * a shape where plain SQL agrees. */
      sql_append(filter, " AND ");
      sl_status status = sql_criteria(filter, leaf, 0, err);
      if (status != SL_OK) {
        free(filter);
        return status;
      }
      continue;
    }
    plan.supported = false;
  }
  if (!plan.supported || filter->overflow || (key == NULL && query->trace_id_count == 0)) {
    free(filter);
    return sl_error_set(err, SL_ERR_UNSUPPORTED,
                        "sqlite baseline: this trace-model query shape has no SQL translation here");
  }
  uint32_t limit = query->limit == 0 ? 20 : query->limit;
  sl_status status = SL_OK;
  pthread_mutex_lock(&state->mutex);
  /* The ordered list of trace ids to return. */
  sl_bytes *ids = NULL;
  size_t id_count = 0;
  sqlite3_stmt *statement = NULL;
  char sql[20000];
  if (query->trace_id_count > 0) {
    ids = calloc(query->trace_id_count + 1, sizeof(sl_bytes));
    if (ids == NULL) {
      status = sl_error_set(err, SL_ERR_NOMEM, "sqlite baseline: out of memory");
    } else {
      memcpy(ids, query->trace_ids, query->trace_id_count * sizeof(sl_bytes));
      qsort(ids, query->trace_id_count, sizeof(sl_bytes), compare_ids);
      /* Cut to offset + limit with the duplicates, then de-duplicate, as BanyanDB (docs/QUERIES.md). */
      size_t cut = (size_t)query->offset + limit;
      size_t listed = query->trace_id_count < cut ? query->trace_id_count : cut;
      for (size_t i = 0; i < listed; i++) {
        if (id_count == 0 || compare_ids(&ids[id_count - 1], &ids[i]) != 0) {
          ids[id_count++] = ids[i];
        }
      }
    }
  } else {
    const char *aggregate = query->sort == SL_SORT_DESC ? "MAX" : "MIN";
    const char *direction = query->sort == SL_SORT_DESC ? "DESC" : "ASC";
    snprintf(sql, sizeof sql,
             "SELECT traceId FROM spans WHERE %s AND \"%s\" IS NOT NULL GROUP BY traceId "
             "ORDER BY %s(\"%s\") %s, MIN(rowid) %s LIMIT %u OFFSET %u",
             filter->text, key, aggregate, key, direction, direction, limit, query->offset);
    if (sqlite3_prepare_v2(state->db, sql, -1, &statement, NULL) != SQLITE_OK) {
      status = sqlite_error(state->db, state->path, "prepare trace query", err);
    }
    for (size_t i = 0; status == SL_OK && i < filter->param_count; i++) {
      const sl_value *value = &filter->params[i];
      if ((value->kind == SL_VALUE_STR
               ? sqlite3_bind_text(statement, (int)i + 1, value->as.str.data, (int)value->as.str.size_bytes, SQLITE_STATIC)
               : sqlite3_bind_int64(statement, (int)i + 1, value->as.int_value)) != SQLITE_OK) {
        status = sqlite_error(state->db, state->path, "bind trace query", err);
      }
    }
    size_t capacity = 0;
    int rc = SQLITE_DONE;
    while (status == SL_OK && (rc = sqlite3_step(statement)) == SQLITE_ROW) {
      if (id_count == capacity) {
        capacity = capacity == 0 ? 32 : capacity * 2;
        sl_bytes *grown = realloc(ids, capacity * sizeof(sl_bytes));
        if (grown == NULL) {
          status = sl_error_set(err, SL_ERR_NOMEM, "sqlite baseline: out of memory");
          break;
        }
        ids = grown;
      }
      sl_bytes id = column_bytes(statement, 0);
      char *copy = malloc(id.size_bytes + 1);
      if (copy == NULL) {
        status = sl_error_set(err, SL_ERR_NOMEM, "sqlite baseline: out of memory");
        break;
      }
      memcpy(copy, id.data, id.size_bytes);
      ids[id_count++] = (sl_bytes){.data = copy, .size_bytes = id.size_bytes};
    }
    if (status == SL_OK && rc != SQLITE_DONE) {
      status = sqlite_error(state->db, state->path, "trace query", err);
    }
    sqlite3_finalize(statement);
    statement = NULL;
  }
  /* Trace ids: offset counts traces (the ids were cut to offset + limit). */
  size_t first = query->trace_id_count > 0 ? query->offset : 0;
  snprintf(sql, sizeof sql, "SELECT traceId, spanId FROM spans WHERE traceId = ?1 AND startTime BETWEEN %lld AND %lld ORDER BY rowid",
           (long long)begin_ms, (long long)end_ms);
  if (status == SL_OK && sqlite3_prepare_v2(state->db, sql, -1, &statement, NULL) != SQLITE_OK) {
    status = sqlite_error(state->db, state->path, "prepare trace fetch", err);
  }
  size_t traces_returned = 0;
  for (size_t t = 0; status == SL_OK && t < id_count; t++) {
    sqlite3_reset(statement);
    sqlite3_bind_text(statement, 1, ids[t].data, (int)ids[t].size_bytes, SQLITE_STATIC);
    size_t before = answer->span_count;
    status = run_keys(state, statement, answer, err);
    if (status == SL_OK && answer->span_count > before) {
      /* A listed id with no span in the window is no trace. */
      if (query->trace_id_count > 0 && traces_returned < first) {
        answer->span_count = before; /* skipped by offset */
      }
      traces_returned++;
      if (query->trace_id_count > 0 && traces_returned > first + limit) {
        answer->span_count = before;
        break;
      }
    }
  }
  sqlite3_finalize(statement);
  pthread_mutex_unlock(&state->mutex);
  if (query->trace_id_count == 0) {
    for (size_t t = 0; t < id_count; t++) {
      free((void *)ids[t].data);
    }
  }
  free(ids);
  free(filter);
  if (status != SL_OK) {
    sl_backend_answer_free(answer);
  }
  return status;
}

/* Cold reads: empty the connection's page cache and advise the database and
 * WAL files out of the OS page cache. */
static sl_status sqlite_drop_caches(void *opaque, sl_error *err) {
  sqlite_state *state = opaque;
  pthread_mutex_lock(&state->mutex);
  sl_status status = exec(state, "PRAGMA shrink_memory", err);
  pthread_mutex_unlock(&state->mutex);
  static const char *const suffixes[] = {"", "-wal", "-shm"};
  for (size_t i = 0; status == SL_OK && i < 3; i++) {
    char path[4200];
    snprintf(path, sizeof path, "%s%s", state->path, suffixes[i]);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
      continue; /* -wal and -shm may not exist */
    }
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
  }
  return status;
}

static void sqlite_close(void *opaque) {
  sqlite_state *state = opaque;
  if (state == NULL) {
    return;
  }
  sqlite3_finalize(state->insert);
  sqlite3_close(state->db);
  pthread_mutex_destroy(&state->mutex);
  free(state);
}

/* Pages per table and index (SQLite's dbstat), the WAL file beside. */
static sl_status sqlite_storage_json(void *opaque, char **json_out, sl_error *err) {
  sqlite_state *state = opaque;
  pthread_mutex_lock(&state->mutex);
  sqlite3_stmt *statement = NULL;
  sl_status status = SL_OK;
  if (sqlite3_prepare_v2(state->db,
                         "SELECT s.name, m.type, sum(s.pgsize) FROM dbstat s LEFT JOIN sqlite_schema m ON m.name = s.name "
                         "GROUP BY s.name",
                         -1, &statement, NULL) != SQLITE_OK) {
    status = sl_error_set(err, SL_ERR_UNSUPPORTED, "sqlite: no dbstat table in this SQLite build: %s",
                          sqlite3_errmsg(state->db));
  }
  json_t *indexes = json_object();
  double data = 0, index = 0, metadata = 0;
  while (status == SL_OK && sqlite3_step(statement) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(statement, 0);
    const char *type = (const char *)sqlite3_column_text(statement, 1);
    double bytes = (double)sqlite3_column_int64(statement, 2);
    if (type != NULL && strcmp(type, "index") == 0) {
      index += bytes;
      json_object_set_new(indexes, name != NULL ? name : "?", json_pack("{s:f}", "bytes", bytes));
    } else if (type != NULL && strcmp(type, "table") == 0 && name != NULL && strncmp(name, "sqlite_", 7) != 0) {
      data += bytes;
    } else {
      metadata += bytes;
    }
  }
  sqlite3_finalize(statement);
  pthread_mutex_unlock(&state->mutex);
  if (status != SL_OK) {
    json_decref(indexes);
    return status;
  }
  char wal_path[4200];
  snprintf(wal_path, sizeof wal_path, "%s-wal", state->path);
  struct stat info;
  double wal = stat(wal_path, &info) == 0 ? (double)info.st_size : 0;
  json_t *root = json_pack("{s:s, s:{s:f, s:f, s:f, s:f}, s:o, s:f, s:f}", "model", "sqlite", "by_file_kind", "data", data,
                           "index", index, "metadata", metadata, "wal", wal, "by_index_kind", indexes, "stored_bytes",
                           data + index + metadata, "index_share", data + index + metadata > 0 ? index / (data + index + metadata) : 0.0);
  *json_out = root != NULL ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(root);
  return *json_out != NULL ? SL_OK : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
}

static sl_status sqlite_compact(void *opaque, sl_error *err) {
  sqlite_state *state = opaque;
  pthread_mutex_lock(&state->mutex);
  sl_status status = exec(state, "PRAGMA wal_checkpoint(TRUNCATE)", err);
  if (status == SL_OK) {
    status = exec(state, "VACUUM", err);
  }
  if (status == SL_OK) {
    status = exec(state, "PRAGMA wal_checkpoint(TRUNCATE)", err);
  }
  pthread_mutex_unlock(&state->mutex);
  return status;
}

const sl_backend_vtable sl_sqlite_backend = {
    .kind = "sqlite",
    .capabilities = {.concurrent_writes = true, .trace_queries = false, .stream_queries = true},
    .open = sqlite_open,
    .write = sqlite_write,
    .flush = sqlite_flush,
    .count = sqlite_count,
    .compact = sqlite_compact,
    .storage_json = sqlite_storage_json,
    .query = sqlite_query,
    .drop_caches = sqlite_drop_caches,
    .close = sqlite_close,
};
