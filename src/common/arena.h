/* arena.h: a bump allocator for memory that lives and dies together (a loaded
 * catalog, one query, one flush).  The arena owns every block it hands out;
 * sl_arena_free releases them all at once.  Not thread-safe. */
#ifndef SPANLAB_COMMON_ARENA_H
#define SPANLAB_COMMON_ARENA_H

#include <stddef.h>

typedef struct sl_arena sl_arena;

sl_arena *sl_arena_new(size_t block_size_bytes);
void sl_arena_free(sl_arena *arena);

/* size_bytes of zeroed memory aligned for any type; NULL when out of memory. */
void *sl_arena_alloc(sl_arena *arena, size_t size_bytes);
/* The same without zeroing, for memory the caller fills at once (copies). */
void *sl_arena_alloc_uninit(sl_arena *arena, size_t size_bytes);
/* A NUL-terminated copy of size_bytes bytes of text. */
char *sl_arena_strndup(sl_arena *arena, const char *text, size_t size_bytes);
char *sl_arena_strdup(sl_arena *arena, const char *text);

/* Releases every allocation at once, keeping one block for reuse. */
void sl_arena_reset(sl_arena *arena);

/* Bytes obtained from malloc so far, for memory statistics. */
size_t sl_arena_reserved_bytes(const sl_arena *arena);

#endif
