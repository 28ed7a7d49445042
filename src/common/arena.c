/* arena.c: see arena.h. */
#include "common/arena.h"

#include <assert.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct arena_block {
  struct arena_block *next;
  size_t capacity_bytes;
  size_t used_bytes;
  alignas(max_align_t) unsigned char data[];
} arena_block;

/* Owns the chain of blocks starting at head. */
struct sl_arena {
  arena_block *head;
  size_t block_size_bytes;
  size_t reserved_bytes;
};

sl_arena *sl_arena_new(size_t block_size_bytes) {
  sl_arena *arena = calloc(1, sizeof *arena);
  if (arena != NULL) {
    arena->block_size_bytes = block_size_bytes < 256 ? 256 : block_size_bytes;
  }
  return arena;
}

void sl_arena_free(sl_arena *arena) {
  if (arena == NULL) {
    return;
  }
  arena_block *block = arena->head;
  while (block != NULL) {
    arena_block *next = block->next;
    free(block);
    block = next;
  }
  free(arena);
}

void *sl_arena_alloc_uninit(sl_arena *arena, size_t size_bytes) {
  assert(arena != NULL);
  const size_t align = alignof(max_align_t);
  size_t rounded = (size_bytes + align - 1) & ~(align - 1);
  if (rounded < size_bytes) {
    return NULL; /* overflow */
  }
  arena_block *block = arena->head;
  if (block == NULL || block->capacity_bytes - block->used_bytes < rounded) {
    size_t capacity = rounded > arena->block_size_bytes ? rounded : arena->block_size_bytes;
    block = malloc(sizeof(arena_block) + capacity);
    if (block == NULL) {
      return NULL;
    }
    block->capacity_bytes = capacity;
    block->used_bytes = 0;
    block->next = arena->head;
    arena->head = block;
    arena->reserved_bytes += sizeof(arena_block) + capacity;
  }
  void *memory = block->data + block->used_bytes;
  block->used_bytes += rounded;
  assert(block->used_bytes <= block->capacity_bytes);
  return memory;
}

void *sl_arena_alloc(sl_arena *arena, size_t size_bytes) {
  void *memory = sl_arena_alloc_uninit(arena, size_bytes);
  if (memory != NULL) {
    memset(memory, 0, size_bytes);
  }
  return memory;
}

char *sl_arena_strndup(sl_arena *arena, const char *text, size_t size_bytes) {
  assert(text != NULL || size_bytes == 0);
  char *copy = sl_arena_alloc_uninit(arena, size_bytes + 1);
  if (copy != NULL) {
    if (size_bytes > 0) {
      memcpy(copy, text, size_bytes);
    }
    copy[size_bytes] = '\0';
  }
  return copy;
}

char *sl_arena_strdup(sl_arena *arena, const char *text) {
  return sl_arena_strndup(arena, text, strlen(text));
}

void sl_arena_reset(sl_arena *arena) {
  assert(arena != NULL);
  arena_block *keep = arena->head;
  if (keep == NULL) {
    return;
  }
  arena_block *block = keep->next;
  while (block != NULL) {
    arena_block *next = block->next;
    arena->reserved_bytes -= sizeof(arena_block) + block->capacity_bytes;
    free(block);
    block = next;
  }
  keep->next = NULL;
  keep->used_bytes = 0;
}

size_t sl_arena_reserved_bytes(const sl_arena *arena) { return arena->reserved_bytes; }
