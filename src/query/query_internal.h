/* query_internal.h: what the parser, evaluator and printer share. */
#ifndef SPANLAB_QUERY_INTERNAL_H
#define SPANLAB_QUERY_INTERNAL_H

#include "common/arena.h"
#include "spanlab/query.h"

enum { SL_QUERY_MAX_RULES = 64, SL_QUERY_MAX_SERIES_TAGS = 16 };

/* Owns the arena holding every node, string and array of the query. */
typedef struct sl_query_internal {
  sl_query public; /* first: an sl_query* is an sl_query_internal* */
  sl_arena *arena;
  const sl_group *group;
  const sl_index_rule *bound_rules[SL_QUERY_MAX_RULES];
  size_t bound_rule_count;
  /* Stream: the entity tags.  Trace: the series tags, i.e. the first bound
   * rule's tags without its last (BanyanDB's sidx series). */
  const sl_tag_spec *series_tags[SL_QUERY_MAX_SERIES_TAGS];
  size_t series_count;
  const char **notes; /* public.notes, in the arena */
} sl_query_internal;

/* Fills bound_rules and series_tags from the catalog. */
void sl_query_bind_rules(sl_query_internal *query, const sl_catalog *catalog);
bool sl_query_is_entity_tag(const sl_query_internal *query, const char *tag_name);
/* The bound rule of that name (BanyanDB's IndexRuleDefined), NULL when none is. */
const sl_index_rule *sl_query_rule_named(const sl_query_internal *query, const char *name);
/* Trace: whether BanyanDB's row filter leaves out conditions on tag whatever the series: the
 * trace-id and span-id tags, and the tags of the rule named like the orderBy rule's last tag. */
bool sl_query_trace_ignores_tag(const sl_query_internal *query, const char *tag);

/* Total order of two tag values of one kind (ints numerically, strings bytewise). */
int sl_query_compare_values(const sl_value *a, const sl_value *b);

#endif
