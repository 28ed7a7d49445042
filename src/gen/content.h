/* content.h: what a generated span says: operation names, components
 * consistent with the span's layer (SkyWalking's component-libraries.yml ids),
 * and the realistic tag and log text of its SegmentObject.
 *
 * sl_content owns the operation table.  Text is written into a caller's
 * sl_text buffer, which borrows its memory from an arena. */
#ifndef SPANLAB_GEN_CONTENT_H
#define SPANLAB_GEN_CONTENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "gen/random.h"

typedef enum sl_operation_kind {
  SL_OP_HTTP = 0,  /* an HTTP endpoint served (Entry, layer Http) */
  SL_OP_DATABASE,  /* a SQL or document query (Exit, layer Database) */
  SL_OP_CACHE,     /* a Redis command (Exit, layer Cache) */
  SL_OP_MQ,        /* a message produced (Exit, layer MQ) */
  SL_OP_RPC,       /* an RPC method served (Entry, layer RPCFramework) */
  SL_OP_LOCAL      /* an in-process method (Local, layer Unknown) */
} sl_operation_kind;

/* SkyWalking's SpanLayer and SpanType values. */
enum { SL_LAYER_UNKNOWN = 0, SL_LAYER_DATABASE = 1, SL_LAYER_RPC = 2, SL_LAYER_HTTP = 3,
       SL_LAYER_MQ = 4, SL_LAYER_CACHE = 5 };
enum { SL_SPAN_ENTRY = 0, SL_SPAN_EXIT = 1, SL_SPAN_LOCAL = 2 };

typedef struct sl_operation {
  const char *name;
  sl_operation_kind kind;
  int layer;
  int span_type;
  int component_id;       /* component-libraries.yml id */
  const char *component;  /* its name, the row's component tag */
  uint32_t noun;          /* index of the business noun the operation is about */
  uint32_t variant;       /* picks method, table, command ... */
} sl_operation;

typedef struct sl_content {
  sl_operation *operations;
  size_t operation_count;
  size_t entry_count;      /* operations that start a segment (HTTP or RPC) */
  uint32_t *entry_operations;
  sl_arena *arena;
} sl_content;

int sl_content_init(sl_content *content, uint32_t operation_count);
void sl_content_free(sl_content *content);

/* A text being built in an arena-backed buffer. */
typedef struct sl_text {
  char *data;
  size_t size;
  size_t capacity;
  sl_arena *arena;
} sl_text;

void sl_text_init(sl_text *text, sl_arena *arena, size_t capacity);
void sl_text_append(sl_text *text, const char *data, size_t size);
void sl_text_puts(sl_text *text, const char *string);
void sl_text_append_u64(sl_text *text, uint64_t value);
void sl_text_printf(sl_text *text, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* One tag of a span's SegmentObject. */
typedef struct sl_tag_text {
  const char *key;
  const char *value;
} sl_tag_text;

enum { SL_MAX_SPAN_TAGS = 12, SL_MAX_LOG_FIELDS = 5 };

/* The tags and (for errors) log fields of one span, sized so the span's
 * encoded SegmentObject comes near target_bytes. */
typedef struct sl_span_text {
  sl_tag_text tags[SL_MAX_SPAN_TAGS];
  size_t tag_count;
  sl_tag_text log[SL_MAX_LOG_FIELDS];
  size_t log_count;
  const char *peer;
} sl_span_text;

void sl_content_make_text(const sl_content *content, const sl_operation *operation, sl_rng *rng,
                          int is_error, size_t target_bytes, sl_arena *arena, sl_span_text *out);

/* "service-17", "service-17-instance-3" style names are made by the generator. */
enum { SL_NOUN_COUNT = 40 };
extern const char *const sl_nouns[SL_NOUN_COUNT];

#endif
