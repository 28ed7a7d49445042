/* content.c: operation names, components and span text (see content.h). */
#include "gen/content.h"

#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const sl_nouns[SL_NOUN_COUNT] = {
    "order",    "user",      "payment",  "inventory", "cart",         "shipment", "review",
    "product",  "account",   "invoice",  "session",   "recommendation", "coupon", "wishlist",
    "notification", "address", "category", "price",   "warehouse",    "supplier", "refund",
    "subscription", "rating", "message", "ticket",    "profile",      "device",   "token",
    "audit",    "report",    "campaign", "banner",    "store",        "vendor",   "catalog",
    "promotion", "delivery", "loyalty",  "settlement", "quote"};

typedef struct component {
  int id;
  const char *name;
} component;

/* Ids from SkyWalking's component-libraries.yml. */
static const component http_components[] = {
    {14, "SpringMVC"}, {1, "Tomcat"}, {67, "spring-webflux"}, {84, "Undertow"}};
static const component database_components[] = {
    {33, "mysql-connector-java"}, {37, "postgresql-jdbc-driver"}, {34, "ojdbc"},
    {42, "mongodb-driver"}};
static const char *const database_types[] = {"Mysql", "PostgreSQL", "ORACLE", "MongoDB"};
static const component cache_components[] = {{30, "Jedis"}, {57, "Lettuce"}, {56, "Redisson"}};
static const component mq_components[] = {
    {40, "kafka-producer"}, {38, "rocketMQ-producer"}, {52, "rabbitmq-producer"}};
static const char *const mq_systems[] = {"Kafka", "RocketMQ", "RabbitMQ"};
static const component rpc_components[] = {{3, "Dubbo"}, {23, "GRPC"}, {43, "SOFARPC"}};
static const component local_components[] = {{0, "Unknown"}, {65, "SpringAsync"}};

static const char *const http_methods[] = {"GET", "POST", "PUT", "DELETE", "GET", "GET", "PATCH"};
static const char *const http_suffixes[] = {"",        "/{id}",         "/{id}/items", "/search",
                                            "/{id}/status", "/batch", "/{id}/history", "/export"};
static const char *const cache_commands[] = {"GET", "SET", "HGETALL", "MGET", "EXPIRE", "DEL", "INCR"};
static const char *const verbs[] = {"get", "create", "update", "list", "cancel", "validate", "sync",
                                    "find", "apply", "calculate"};
static const char *const sql_verbs[] = {"executeQuery", "executeUpdate", "execute"};

#define COUNT_OF(array) (sizeof(array) / sizeof((array)[0]))

static char *arena_format(sl_arena *arena, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static char *arena_format(sl_arena *arena, const char *format, ...) {
  char buffer[512];
  va_list args;
  va_start(args, format);
  vsnprintf(buffer, sizeof buffer, format, args);
  va_end(args);
  return sl_arena_strdup(arena, buffer);
}

static void capitalized(const char *word, char *out, size_t out_bytes) {
  snprintf(out, out_bytes, "%s", word);
  out[0] = (char)toupper((unsigned char)out[0]);
}

int sl_content_init(sl_content *content, uint32_t operation_count) {
  assert(content != NULL && operation_count > 0);
  memset(content, 0, sizeof *content);
  content->arena = sl_arena_new(64 * 1024);
  content->operations = calloc(operation_count, sizeof(sl_operation));
  content->entry_operations = calloc(operation_count, sizeof(uint32_t));
  if (content->arena == NULL || content->operations == NULL || content->entry_operations == NULL) {
    sl_content_free(content);
    return -1;
  }
  /* Kinds in a fixed pattern: 3 in 10 HTTP, 3 database, 1 cache, 1 RPC, 1 MQ, 1 local. */
  static const sl_operation_kind pattern[10] = {SL_OP_HTTP, SL_OP_DATABASE, SL_OP_HTTP,
                                                SL_OP_DATABASE, SL_OP_CACHE, SL_OP_RPC,
                                                SL_OP_DATABASE, SL_OP_MQ, SL_OP_HTTP, SL_OP_LOCAL};
  for (uint32_t k = 0; k < operation_count; k++) {
    sl_operation *op = &content->operations[k];
    op->kind = pattern[k % 10];
    uint32_t index = k / 10;
    op->noun = (uint32_t)(index % SL_NOUN_COUNT);
    op->variant = (uint32_t)(index / SL_NOUN_COUNT);
    const char *noun = sl_nouns[op->noun];
    char noun_title[64];
    capitalized(noun, noun_title, sizeof noun_title);
    const component *chosen;
    switch (op->kind) {
      case SL_OP_HTTP:
        chosen = &http_components[k % COUNT_OF(http_components)];
        op->layer = SL_LAYER_HTTP;
        op->span_type = SL_SPAN_ENTRY;
        op->name = arena_format(content->arena, "%s:/api/v%u/%ss%s%s",
                                http_methods[(k / 3) % COUNT_OF(http_methods)],
                                (unsigned)(1 + op->variant / COUNT_OF(http_suffixes) % 3), noun,
                                http_suffixes[op->variant % COUNT_OF(http_suffixes)],
                                op->variant >= 3 * COUNT_OF(http_suffixes) ? "/v" : "");
        break;
      case SL_OP_DATABASE: {
        size_t db = (k / 10 + k) % COUNT_OF(database_components);
        chosen = &database_components[db];
        op->layer = SL_LAYER_DATABASE;
        op->span_type = SL_SPAN_EXIT;
        if (db == 3) {
          op->name = arena_format(content->arena, "MongoDB/%s/%s_%s", verbs[k % COUNT_OF(verbs)],
                                  noun, op->variant ? "archive" : "live");
        } else {
          op->name = arena_format(content->arena, "%s/JDBC/PreparedStatement/%s:%s_%s%u",
                                  database_types[db], sql_verbs[k % COUNT_OF(sql_verbs)], noun,
                                  k % 2 ? "detail" : "main", op->variant);
        }
        break;
      }
      case SL_OP_CACHE:
        chosen = &cache_components[k % COUNT_OF(cache_components)];
        op->layer = SL_LAYER_CACHE;
        op->span_type = SL_SPAN_EXIT;
        op->name = arena_format(content->arena, "%s/%s:%s:%u", chosen->name,
                                cache_commands[k % COUNT_OF(cache_commands)], noun, op->variant);
        break;
      case SL_OP_MQ:
        chosen = &mq_components[k % COUNT_OF(mq_components)];
        op->layer = SL_LAYER_MQ;
        op->span_type = SL_SPAN_EXIT;
        op->name = arena_format(content->arena, "%s/%s-events-%u/Producer",
                                mq_systems[k % COUNT_OF(mq_systems)], noun, op->variant);
        break;
      case SL_OP_RPC:
        chosen = &rpc_components[k % COUNT_OF(rpc_components)];
        op->layer = SL_LAYER_RPC;
        op->span_type = SL_SPAN_ENTRY;
        op->name = arena_format(content->arena, "com.example.%s.api.%sService.%s%s%s(java.lang.Long)",
                                noun, noun_title, verbs[k % COUNT_OF(verbs)], noun_title,
                                op->variant ? "V2" : "");
        break;
      case SL_OP_LOCAL:
      default:
        chosen = &local_components[k % COUNT_OF(local_components)];
        op->layer = SL_LAYER_UNKNOWN;
        op->span_type = SL_SPAN_LOCAL;
        op->name = arena_format(content->arena, "com.example.%s.%sHandler.%s%u", noun, noun_title,
                                verbs[k % COUNT_OF(verbs)], op->variant);
        break;
    }
    op->component_id = chosen->id;
    op->component = chosen->name;
    if (op->name == NULL) {
      sl_content_free(content);
      return -1;
    }
    if (op->span_type == SL_SPAN_ENTRY) {
      content->entry_operations[content->entry_count++] = k;
    }
  }
  if (content->entry_count == 0) { /* fewer than 3 operations: treat op 0 as an entry */
    content->entry_operations[content->entry_count++] = 0;
  }
  content->operation_count = operation_count;
  return 0;
}

void sl_content_free(sl_content *content) {
  if (content == NULL) {
    return;
  }
  free(content->operations);
  free(content->entry_operations);
  sl_arena_free(content->arena);
  memset(content, 0, sizeof *content);
}

void sl_text_init(sl_text *text, sl_arena *arena, size_t capacity) {
  text->arena = arena;
  text->capacity = capacity < 64 ? 64 : capacity;
  text->data = sl_arena_alloc(arena, text->capacity);
  text->size = 0;
  if (text->data == NULL) {
    text->capacity = 0;
  }
}

void sl_text_append(sl_text *text, const char *data, size_t size) {
  if (text->size + size + 1 > text->capacity) {
    size_t capacity = (text->size + size + 1) * 2;
    char *grown = sl_arena_alloc(text->arena, capacity);
    if (grown == NULL) {
      return; /* out of memory: the text stays shorter */
    }
    if (text->size > 0) {
      memcpy(grown, text->data, text->size);
    }
    text->data = grown;
    text->capacity = capacity;
  }
  memcpy(text->data + text->size, data, size);
  text->size += size;
  text->data[text->size] = '\0';
}

void sl_text_puts(sl_text *text, const char *string) { sl_text_append(text, string, strlen(string)); }

void sl_text_append_u64(sl_text *text, uint64_t value) {
  char digits[24];
  size_t length = 0;
  do {
    digits[sizeof digits - 1 - length++] = (char)('0' + value % 10);
    value /= 10;
  } while (value != 0);
  sl_text_append(text, digits + sizeof digits - length, length);
}

void sl_text_printf(sl_text *text, const char *format, ...) {
  char buffer[1024];
  va_list args;
  va_start(args, format);
  int length = vsnprintf(buffer, sizeof buffer, format, args);
  va_end(args);
  if (length > 0) {
    sl_text_append(text, buffer, (size_t)length < sizeof buffer ? (size_t)length : sizeof buffer - 1);
  }
}

/* ---- text pools ---- */

static const char *const columns[] = {
    "id", "tenant_id", "created_at", "updated_at", "status", "amount", "currency", "customer_id",
    "external_ref", "version", "deleted", "region", "channel", "priority", "owner_id", "note",
    "total_cents", "discount_cents", "tax_cents", "shipping_method", "warehouse_id", "sku",
    "quantity", "unit_price", "email", "phone", "display_name", "locale", "time_zone",
    "last_login_at", "risk_score", "source_system", "correlation_id", "expires_at", "payload_hash"};
static const char *const query_params[] = {"page", "size", "sort", "status", "from", "to", "tenant",
                                           "currency", "fields", "expand", "locale", "q", "cursor",
                                           "include_deleted", "region", "channel"};
static const char *const headers[] = {
    "accept: application/json", "accept-encoding: gzip, deflate, br", "accept-language: en-US,en;q=0.9",
    "cache-control: no-cache", "content-type: application/json; charset=UTF-8",
    "user-agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "x-forwarded-for: 10.12.44.7, 172.16.3.9", "x-request-id: 7f3c2a9e-41b2-4c1d-9a7e-2b5d8c0e6f14",
    "sw8-correlation: dGVzdA==", "x-b3-sampled: 1", "connection: keep-alive",
    "authorization: Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0In0.sig",
    "x-tenant-id: tenant-0042", "x-client-version: 4.18.2", "origin: https://shop.example.com",
    "referer: https://shop.example.com/checkout/confirm"};
static const char *const exceptions[] = {
    "java.sql.SQLTimeoutException: Statement cancelled due to timeout or client request",
    "java.net.SocketTimeoutException: Read timed out",
    "org.springframework.dao.DataIntegrityViolationException: could not execute statement; constraint [uk_external_ref]",
    "java.lang.IllegalStateException: Order is already settled",
    "redis.clients.jedis.exceptions.JedisConnectionException: Could not get a resource from the pool",
    "org.apache.kafka.common.errors.TimeoutException: Expiring 12 record(s) for events-3: 30021 ms has passed",
    "java.lang.NullPointerException: Cannot invoke \"java.lang.Long.longValue()\" because \"id\" is null",
    "io.grpc.StatusRuntimeException: UNAVAILABLE: upstream connect error or disconnect/reset before headers"};
static const char *const frames[] = {
    "at com.mysql.cj.jdbc.ClientPreparedStatement.executeInternal(ClientPreparedStatement.java:916)",
    "at com.zaxxer.hikari.pool.HikariProxyPreparedStatement.executeQuery(HikariProxyPreparedStatement.java:52)",
    "at org.springframework.jdbc.core.JdbcTemplate.query(JdbcTemplate.java:732)",
    "at org.springframework.web.servlet.FrameworkServlet.processRequest(FrameworkServlet.java:1006)",
    "at org.springframework.web.servlet.DispatcherServlet.doDispatch(DispatcherServlet.java:1072)",
    "at org.apache.catalina.core.ApplicationFilterChain.internalDoFilter(ApplicationFilterChain.java:166)",
    "at org.apache.coyote.http11.Http11Processor.service(Http11Processor.java:399)",
    "at java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1136)",
    "at java.base/java.lang.Thread.run(Thread.java:840)",
    "at io.netty.channel.AbstractChannelHandlerContext.invokeChannelRead(AbstractChannelHandlerContext.java:379)",
    "at org.apache.kafka.clients.producer.KafkaProducer.doSend(KafkaProducer.java:1050)",
    "at redis.clients.jedis.util.Pool.getResource(Pool.java:84)",
    "at org.springframework.transaction.interceptor.TransactionInterceptor.invoke(TransactionInterceptor.java:119)",
    "at org.springframework.aop.framework.CglibAopProxy$DynamicAdvisedInterceptor.intercept(CglibAopProxy.java:708)"};

static const char *pick(sl_rng *rng, const char *const *items, size_t count) {
  return items[sl_rng_below(rng, count)];
}

/* Estimated encoded size of the text made so far: keys, values and framing. */
static size_t estimate(const sl_span_text *out, size_t extra) {
  size_t total = 180; /* ids, names, times and framing outside the tags */
  for (size_t i = 0; i < out->tag_count; i++) {
    total += strlen(out->tags[i].key) + strlen(out->tags[i].value) + 8;
  }
  for (size_t i = 0; i < out->log_count; i++) {
    total += strlen(out->log[i].key) + strlen(out->log[i].value) + 8;
  }
  return total + extra;
}

static void add_tag(sl_span_text *out, const char *key, const char *value) {
  if (out->tag_count < SL_MAX_SPAN_TAGS && value != NULL) {
    out->tags[out->tag_count++] = (sl_tag_text){key, value};
  }
}

static void make_sql(const sl_operation *op, sl_rng *rng, size_t budget, sl_text *sql) {
  const char *noun = sl_nouns[op->noun];
  bool update = sl_rng_chance(rng, 0.3);
  if (update) {
    sl_text_printf(sql, "UPDATE %s_main SET ", noun);
    size_t n = 0;
    while (sql->size + 40 < budget || n < 2) {
      if (n++ != 0) {
        sl_text_append(sql, ", ", 2);
      }
      sl_text_puts(sql, pick(rng, columns, COUNT_OF(columns)));
      sl_text_append(sql, " = ?", 4);
      if (n > 400) {
        break;
      }
    }
    sl_text_printf(sql, " WHERE id = ? AND tenant_id = ? AND version = ?");
    return;
  }
  sl_text_puts(sql, "SELECT ");
  size_t n = 0;
  while (sql->size + 120 < budget || n < 3) {
    const char *column = pick(rng, columns, COUNT_OF(columns));
    const char *alias = n % 3 ? "d" : "m";
    if (n != 0) {
      sl_text_append(sql, ", ", 2);
    }
    sl_text_puts(sql, alias);
    sl_text_append(sql, ".", 1);
    sl_text_puts(sql, column);
    sl_text_append(sql, " AS ", 4);
    sl_text_puts(sql, alias);
    sl_text_append(sql, "_", 1);
    sl_text_puts(sql, column);
    if (++n > 600) {
      break;
    }
  }
  sl_text_printf(sql,
                 " FROM %s_main m LEFT JOIN %s_detail d ON d.%s_id = m.id WHERE m.tenant_id = ? "
                 "AND m.status IN (?, ?, ?) AND m.created_at >= ? ORDER BY m.created_at DESC LIMIT %d",
                 noun, noun, noun, (int)sl_rng_between(rng, 10, 500));
}

/* A `name=value, ...` argument list grown until the span reaches its target size. */
static void add_arguments(sl_span_text *out, const char *key, sl_rng *rng, size_t target_bytes,
                          sl_arena *arena) {
  sl_text arguments;
  sl_text_init(&arguments, arena, 256);
  add_tag(out, key, "");
  size_t argument_tag = out->tag_count - 1;
  size_t base = estimate(out, 0);
  for (size_t n = 0; base + arguments.size < target_bytes && n < 4000; n++) {
    if (n != 0) {
      sl_text_append(&arguments, ", ", 2);
    }
    sl_text_puts(&arguments, pick(rng, columns, COUNT_OF(columns)));
    sl_text_append(&arguments, "=", 1);
    sl_text_append_u64(&arguments, sl_rng_below(rng, 1000000));
  }
  out->tags[argument_tag].value = arguments.data;
}

void sl_content_make_text(const sl_content *content, const sl_operation *op, sl_rng *rng,
                          int is_error, size_t target_bytes, sl_arena *arena, sl_span_text *out) {
  (void)content;
  memset(out, 0, sizeof *out);
  const char *noun = sl_nouns[op->noun];
  /* Error logs first, so the growable tag fills what is left. */
  if (is_error) {
    const char *exception = pick(rng, exceptions, COUNT_OF(exceptions));
    sl_text stack;
    sl_text_init(&stack, arena, 1024);
    sl_text_printf(&stack, "%s\n", exception);
    size_t frame_count = (size_t)sl_rng_between(rng, 8, 24);
    for (size_t i = 0; i < frame_count; i++) {
      sl_text_append(&stack, "\t", 1);
      sl_text_puts(&stack, pick(rng, frames, COUNT_OF(frames)));
      sl_text_append(&stack, "\n", 1);
    }
    char kind[160];
    snprintf(kind, sizeof kind, "%.*s", (int)strcspn(exception, ":"), exception);
    out->log[out->log_count++] = (sl_tag_text){"event", "error"};
    out->log[out->log_count++] = (sl_tag_text){"error.kind", sl_arena_strdup(arena, kind)};
    const char *colon = strchr(exception, ':');
    out->log[out->log_count++] =
        (sl_tag_text){"message", sl_arena_strdup(arena, colon != NULL ? colon + 2 : exception)};
    out->log[out->log_count++] = (sl_tag_text){"stack", stack.data};
  }
  size_t host = sl_rng_below(rng, 64);
  switch (op->kind) {
    case SL_OP_HTTP: {
      add_tag(out, "http.method", sl_arena_strndup(arena, op->name, strcspn(op->name, ":")));
      int status = is_error ? (sl_rng_chance(rng, 0.7) ? 500 : 503)
                            : (sl_rng_chance(rng, 0.9) ? 200 : 201);
      char status_text[8];
      snprintf(status_text, sizeof status_text, "%d", status);
      add_tag(out, "status_code", sl_arena_strdup(arena, status_text));
      out->peer = sl_arena_strdup(arena, "10.0.0.1:8080");
      sl_text url;
      sl_text_init(&url, arena, 256);
      sl_text_printf(&url, "https://api-%zu.shop.example.com/api/v1/%ss/%llu?", host, noun,
                     (unsigned long long)sl_rng_below(rng, 100000000));
      sl_text headers_text;
      sl_text_init(&headers_text, arena, 512);
      add_tag(out, "url", "");
      add_tag(out, "http.headers", "");
      size_t url_tag = out->tag_count - 2;
      size_t params = 0;
      size_t base = estimate(out, 0);
      while (base + url.size + headers_text.size < target_bytes && params < 2000) {
        if (params % 3 == 2) {
          sl_text_puts(&headers_text, pick(rng, headers, COUNT_OF(headers)));
          sl_text_append(&headers_text, "\n", 1);
        } else {
          if (params != 0) {
            sl_text_append(&url, "&", 1);
          }
          sl_text_puts(&url, pick(rng, query_params, COUNT_OF(query_params)));
          sl_text_append(&url, "=", 1);
          sl_text_append_u64(&url, sl_rng_below(rng, 1000000));
        }
        params++;
      }
      out->tags[url_tag].value = url.data;
      out->tags[url_tag + 1].value = headers_text.data;
      break;
    }
    case SL_OP_DATABASE: {
      const char *type = strchr(op->name, '/') != NULL ? op->name : "Mysql";
      add_tag(out, "db.type", strncmp(type, "MongoDB", 7) == 0 ? "MongoDB" : "sql");
      char instance[96];
      snprintf(instance, sizeof instance, "%s_db_%zu", noun, host % 4);
      add_tag(out, "db.instance", sl_arena_strdup(arena, instance));
      char peer[64];
      snprintf(peer, sizeof peer, "db-%s-%zu.internal:3306", noun, host % 4);
      out->peer = sl_arena_strdup(arena, peer);
      size_t used = estimate(out, 0);
      sl_text sql;
      sl_text_init(&sql, arena, 512);
      make_sql(op, rng, target_bytes > used + 64 ? target_bytes - used - 64 : 64, &sql);
      add_tag(out, "db.statement", sql.data);
      char parameters[128];
      snprintf(parameters, sizeof parameters, "[%llu, 'tenant-%04llu', 'ACTIVE', 'PENDING', '2025-01-01']",
               (unsigned long long)sl_rng_below(rng, 10000000), (unsigned long long)sl_rng_below(rng, 1000));
      add_tag(out, "db.sql.parameters", sl_arena_strdup(arena, parameters));
      break;
    }
    case SL_OP_CACHE: {
      add_tag(out, "cache.type", "Redis");
      const char *command = strchr(op->name, '/') + 1;
      add_tag(out, "cache.cmd", sl_arena_strndup(arena, command, strcspn(command, ":")));
      add_tag(out, "cache.op", strncmp(command, "GET", 3) == 0 || strncmp(command, "MGET", 4) == 0 ||
                                       strncmp(command, "HGETALL", 7) == 0
                                   ? "read"
                                   : "write");
      out->peer = sl_arena_strdup(arena, "redis-cluster.internal:6379");
      sl_text keys;
      sl_text_init(&keys, arena, 256);
      add_tag(out, "cache.key", "");
      size_t key_tag = out->tag_count - 1;
      size_t n = 0;
      size_t base = estimate(out, 0);
      while ((base + keys.size < target_bytes || n == 0) && n < 4000) {
        if (n != 0) {
          sl_text_append(&keys, " ", 1);
        }
        sl_text_puts(&keys, noun);
        sl_text_puts(&keys, n % 2 ? ":detail:" : ":summary:");
        sl_text_append_u64(&keys, sl_rng_below(rng, 100000000));
        n++;
      }
      out->tags[key_tag].value = keys.data;
      break;
    }
    case SL_OP_MQ: {
      char topic[96];
      snprintf(topic, sizeof topic, "%s-events-%u", noun, op->variant);
      add_tag(out, "mq.topic", sl_arena_strdup(arena, topic));
      add_tag(out, "mq.broker", "kafka-0.kafka.internal:9092;kafka-1.kafka.internal:9092");
      out->peer = sl_arena_strdup(arena, "kafka-0.kafka.internal:9092");
      sl_text body;
      sl_text_init(&body, arena, 512);
      sl_text_printf(&body, "{\"type\":\"%s.changed\",\"id\":%llu,\"fields\":{", noun,
                     (unsigned long long)sl_rng_below(rng, 100000000));
      add_tag(out, "mq.message", "");
      size_t body_tag = out->tag_count - 1;
      size_t n = 0;
      size_t base = estimate(out, 0);
      while (base + body.size < target_bytes && n < 4000) {
        sl_text_append(&body, n ? ",\"" : "\"", n ? 2 : 1);
        sl_text_puts(&body, pick(rng, columns, COUNT_OF(columns)));
        sl_text_append(&body, "\":", 2);
        sl_text_append_u64(&body, sl_rng_below(rng, 1000000));
        n++;
      }
      sl_text_puts(&body, "}}");
      out->tags[body_tag].value = body.data;
      break;
    }
    case SL_OP_RPC: {
      char url[160];
      snprintf(url, sizeof url, "dubbo://10.0.%zu.%zu:20880/com.example.%s.api", host / 8, host % 8, noun);
      add_tag(out, "url", sl_arena_strdup(arena, url));
      add_arguments(out, "rpc.arguments", rng, target_bytes, arena);
      break;
    }
    case SL_OP_LOCAL:
    default: {
      char thread[64];
      snprintf(thread, sizeof thread, "http-nio-8080-exec-%zu", host % 200);
      add_tag(out, "thread.name", sl_arena_strdup(arena, thread));
      add_arguments(out, "method.arguments", rng, target_bytes, arena);
      break;
    }
  }
}
