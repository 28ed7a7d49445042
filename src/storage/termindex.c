/* termindex.c: see termindex.h and docs/FORMAT.md "Term index (IDX.idx)". */
#include "storage/termindex.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/hash.h"
#include "storage/fileio.h"
#include "storage/postings.h"

enum {
  FORMAT_VERSION = 1,
  BLOCK_CLOSE_RAW_BYTES = 16 << 10,  /* a term block closes once its raw bytes reach this */
  RANGE_READ_MAX_BYTES = 1 << 20,    /* one pread of a range covers at most this much postings */
  BLOCK_FLAG_ZSTD = 1,               /* block.c's flags bit: the payload is compressed */
  BLOCK_FRAME_MAX_BYTES = 1 + 2 * SL_VARINT_MAX_BYTES + 4,
  BUILDER_MIN_SLOTS = 1024,
  FROZEN_ALIGN_BYTES = 32,           /* roaring_bitmap_frozen_view needs this alignment */
  FROZEN_CHUNK_BYTES = 256 << 10     /* term lists keep frozen bitmaps in chunks up to this size */
};

static const uint8_t TRAILER_MAGIC[4] = {'S', 'L', 'T', 'I'};

/* ---- Small helpers ---- */

void sl_term_from_int64(int64_t value, uint8_t out[8]) {
  uint64_t flipped = (uint64_t)value ^ (1ull << 63);
  for (int i = 0; i < 8; i++) {
    out[i] = (uint8_t)(flipped >> (56 - 8 * i));
  }
}

int64_t sl_term_to_int64(const uint8_t in[8]) {
  uint64_t flipped = 0;
  for (int i = 0; i < 8; i++) {
    flipped = flipped << 8 | in[i];
  }
  return (int64_t)(flipped ^ (1ull << 63));
}

/* Bytewise order, the shorter first on a tie. */
static int compare_terms(const uint8_t *a, size_t a_bytes, const uint8_t *b, size_t b_bytes) {
  size_t common = a_bytes < b_bytes ? a_bytes : b_bytes;
  int order = common == 0 ? 0 : memcmp(a, b, common);
  if (order != 0) {
    return order;
  }
  return (a_bytes > b_bytes) - (a_bytes < b_bytes);
}

static void put_u32(uint8_t *out, uint32_t value) {
  for (int i = 0; i < 4; i++) {
    out[i] = (uint8_t)(value >> (8 * i));
  }
}

static void put_u64(uint8_t *out, uint64_t value) {
  for (int i = 0; i < 8; i++) {
    out[i] = (uint8_t)(value >> (8 * i));
  }
}

static uint32_t get_u32(const uint8_t *in) {
  return (uint32_t)in[0] | (uint32_t)in[1] << 8 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 24;
}

static uint64_t get_u64(const uint8_t *in) {
  return (uint64_t)get_u32(in) | (uint64_t)get_u32(in + 4) << 32;
}

/* sl_varint_get with a fast path for one-byte values (most lengths in a term block). */
static inline bool get_varint(const uint8_t *data, size_t size, size_t *offset, uint64_t *value) {
  if (*offset < size && data[*offset] < 0x80) {
    *value = data[(*offset)++];
    return true;
  }
  return sl_varint_get(data, size, offset, value);
}

static sl_status put_varint(sl_buffer *out, uint64_t value, sl_error *err) {
  SL_TRY(sl_buffer_reserve(out, SL_VARINT_MAX_BYTES, err));
  out->size += sl_varint_put(out->data + out->size, value);
  return SL_OK;
}

/* roaring_bitmap_free of CRoaring 0.2.66 does not accept NULL. */
static void free_bitmap(roaring_bitmap_t *bitmap) {
  if (bitmap != NULL) {
    roaring_bitmap_free(bitmap);
  }
}

/* What roaring_bitmap_frozen_view allocates: the bitmap, a pointer and a container struct per
 * container (the keys, typecodes and payloads stay in the frozen bytes). */
static size_t frozen_view_bytes(const roaring_bitmap_t *bitmap) {
  roaring_statistics_t stats;
  roaring_bitmap_statistics(bitmap, &stats);
  return sizeof(roaring_bitmap_t) + (size_t)stats.n_containers * (sizeof(void *) + 16);
}

/* ---- Builder ---- */

/* Owns every array.  Distinct terms are interned in first-seen order: term id i is
 * term_bytes[term_starts[i], term_starts[i + 1]).  pairs hold (id << 32 | position). */
struct sl_term_builder {
  sl_buffer term_bytes;
  uint64_t *term_starts; /* term_capacity + 1 */
  uint64_t *term_hashes; /* term_capacity */
  size_t term_count;
  size_t term_capacity;
  uint32_t *slots; /* open addressing: term id + 1, 0 = empty; slot_count a power of two */
  size_t slot_count;
  uint64_t *pairs;
  size_t pair_count;
  size_t pair_capacity;
};

/* Owns terms (sorted, concatenated), term_starts (count + 1), every bitmap and the chunks.  Each
 * bitmap is a frozen view (one allocation) of its frozen serialization in a chunk: CRoaring
 * allocates every container of an ordinary bitmap twice, which for the sparse posting lists of a
 * memory part costs twice the memory. */
struct sl_term_list {
  size_t count;
  uint8_t *term_bytes;
  uint64_t *term_starts;
  const roaring_bitmap_t **postings;
  char **chunks;           /* 32-byte aligned (frozen_view requires it) */
  size_t chunk_count;
  size_t chunk_capacity;   /* entries of chunks */
  size_t chunk_used_bytes; /* of the last chunk */
  size_t chunk_bytes;      /* size of the last chunk */
  size_t memory_bytes;
};

sl_term_builder *sl_term_builder_new(void) { return calloc(1, sizeof(sl_term_builder)); }

static void builder_release(sl_term_builder *builder) {
  sl_buffer_free(&builder->term_bytes);
  free(builder->term_starts);
  free(builder->term_hashes);
  free(builder->slots);
  free(builder->pairs);
  memset(builder, 0, sizeof *builder);
}

void sl_term_builder_free(sl_term_builder *builder) {
  if (builder == NULL) {
    return;
  }
  builder_release(builder);
  free(builder);
}

size_t sl_term_builder_pair_count(const sl_term_builder *builder) {
  assert(builder != NULL);
  return builder->pair_count;
}

static sl_status builder_nomem(sl_error *err, const char *what) {
  return sl_error_set(err, SL_ERR_NOMEM, "term builder: out of memory growing its %s", what);
}

static sl_status grow_slots(sl_term_builder *builder, sl_error *err) {
  size_t slot_count = builder->slot_count == 0 ? BUILDER_MIN_SLOTS : builder->slot_count * 2;
  uint32_t *slots = calloc(slot_count, sizeof *slots);
  if (slots == NULL) {
    return builder_nomem(err, "hash table");
  }
  size_t mask = slot_count - 1;
  for (size_t id = 0; id < builder->term_count; id++) {
    size_t slot = (size_t)builder->term_hashes[id] & mask;
    while (slots[slot] != 0) {
      slot = (slot + 1) & mask;
    }
    slots[slot] = (uint32_t)(id + 1);
  }
  free(builder->slots);
  builder->slots = slots;
  builder->slot_count = slot_count;
  return SL_OK;
}

static sl_status grow_terms(sl_term_builder *builder, sl_error *err) {
  size_t capacity = builder->term_capacity == 0 ? 256 : builder->term_capacity * 2;
  uint64_t *starts = realloc(builder->term_starts, (capacity + 1) * sizeof *starts);
  if (starts == NULL) {
    return builder_nomem(err, "term array");
  }
  builder->term_starts = starts;
  uint64_t *hashes = realloc(builder->term_hashes, capacity * sizeof *hashes);
  if (hashes == NULL) {
    return builder_nomem(err, "term array");
  }
  builder->term_hashes = hashes;
  builder->term_capacity = capacity;
  if (builder->term_count == 0) {
    builder->term_starts[0] = 0;
  }
  return SL_OK;
}

/* Finds the term's id, interning it when new. */
static sl_status intern_term(sl_term_builder *builder, const uint8_t *term, size_t term_bytes,
                             uint32_t *id_out, sl_error *err) {
  uint64_t hash = sl_hash64(term, term_bytes, 0);
  if (builder->slot_count == 0) {
    SL_TRY(grow_slots(builder, err));
  }
  size_t mask = builder->slot_count - 1;
  size_t slot = (size_t)hash & mask;
  for (size_t probes = 0; builder->slots[slot] != 0; probes++) {
    assert(probes < builder->slot_count);
    uint32_t id = builder->slots[slot] - 1;
    uint64_t start = builder->term_starts[id];
    if (builder->term_hashes[id] == hash && builder->term_starts[id + 1] - start == term_bytes &&
        (term_bytes == 0 || memcmp(builder->term_bytes.data + start, term, term_bytes) == 0)) {
      *id_out = id;
      return SL_OK;
    }
    slot = (slot + 1) & mask;
  }
  if (builder->term_count >= UINT32_MAX - 1) {
    return sl_error_set(err, SL_ERR_INVALID, "term builder: more than %u distinct terms",
                        UINT32_MAX - 2);
  }
  if (builder->term_count == builder->term_capacity) {
    SL_TRY(grow_terms(builder, err));
  }
  SL_TRY(sl_buffer_reserve(&builder->term_bytes, term_bytes + 1, err)); /* never NULL */
  SL_TRY(sl_buffer_append(&builder->term_bytes, term, term_bytes, err));
  size_t id = builder->term_count;
  builder->term_hashes[id] = hash;
  builder->term_starts[id + 1] = builder->term_bytes.size;
  builder->term_count++;
  if (builder->term_count * 2 > builder->slot_count) {
    sl_status status = grow_slots(builder, err); /* rehashes the new term too */
    if (status != SL_OK) {
      builder->term_count--;
      builder->term_bytes.size = builder->term_starts[id];
      return status;
    }
  } else {
    builder->slots[slot] = (uint32_t)(id + 1);
  }
  *id_out = (uint32_t)id;
  return SL_OK;
}

sl_status sl_term_builder_add(sl_term_builder *builder, const void *term, size_t term_bytes,
                              uint32_t position, sl_error *err) {
  assert(builder != NULL);
  assert(term != NULL || term_bytes == 0);
  if (term_bytes > SL_TERM_MAX_BYTES) {
    return sl_error_set(err, SL_ERR_INVALID, "a term of %zu bytes is longer than the %d-byte limit",
                        term_bytes, SL_TERM_MAX_BYTES);
  }
  if (builder->pair_count == builder->pair_capacity) {
    size_t capacity = builder->pair_capacity == 0 ? 1024 : builder->pair_capacity * 2;
    uint64_t *pairs = realloc(builder->pairs, capacity * sizeof *pairs);
    if (pairs == NULL) {
      return builder_nomem(err, "pair array");
    }
    builder->pairs = pairs;
    builder->pair_capacity = capacity;
  }
  static const uint8_t empty[1] = {0};
  uint32_t id = 0;
  SL_TRY(intern_term(builder, term_bytes == 0 ? empty : term, term_bytes, &id, err));
  builder->pairs[builder->pair_count++] = (uint64_t)id << 32 | position;
  return SL_OK;
}

/* LSD radix sort by bytes, skipping the bytes every key shares.  temp holds count keys. */
static void radix_sort(uint64_t *keys, uint64_t *temp, size_t count) {
  if (count < 2) {
    return;
  }
  size_t histogram[8][256];
  memset(histogram, 0, sizeof histogram);
  for (size_t i = 0; i < count; i++) {
    for (int digit = 0; digit < 8; digit++) {
      histogram[digit][(keys[i] >> (8 * digit)) & 0xff]++;
    }
  }
  uint64_t *from = keys;
  uint64_t *to = temp;
  for (int digit = 0; digit < 8; digit++) {
    size_t *counts = histogram[digit];
    if (counts[(from[0] >> (8 * digit)) & 0xff] == count) {
      continue;
    }
    size_t total = 0;
    for (int value = 0; value < 256; value++) {
      size_t here = counts[value];
      counts[value] = total;
      total += here;
    }
    for (size_t i = 0; i < count; i++) {
      to[counts[(from[i] >> (8 * digit)) & 0xff]++] = from[i];
    }
    uint64_t *swap = from;
    from = to;
    to = swap;
  }
  if (from != keys) {
    memcpy(keys, from, count * sizeof *keys);
  }
}

typedef struct sort_entry {
  uint64_t prefix; /* the first 8 bytes, big-endian, zero-padded */
  const uint8_t *data;
  uint32_t size_bytes;
  uint32_t id;
} sort_entry;

static int compare_sort_entries(const void *a_ptr, const void *b_ptr) {
  const sort_entry *a = a_ptr;
  const sort_entry *b = b_ptr;
  if (a->prefix != b->prefix) {
    return a->prefix < b->prefix ? -1 : 1;
  }
  return compare_terms(a->data, a->size_bytes, b->data, b->size_bytes);
}

void sl_term_list_free(sl_term_list *list) {
  if (list == NULL) {
    return;
  }
  if (list->postings != NULL) {
    for (size_t i = 0; i < list->count; i++) {
      if (list->postings[i] != NULL) {
        roaring_bitmap_free(list->postings[i]);
      }
    }
  }
  for (size_t c = 0; c < list->chunk_count; c++) {
    free(list->chunks[c]);
  }
  free(list->chunks);
  free(list->postings);
  free(list->term_starts);
  free(list->term_bytes);
  free(list);
}

/* Copies the interned terms in sorted order into list and fills rank[id]. */
static sl_status sort_terms(const sl_term_builder *builder, sl_term_list *list, uint32_t *rank,
                            sl_error *err) {
  size_t count = builder->term_count;
  sort_entry *entries = malloc((count == 0 ? 1 : count) * sizeof *entries);
  if (entries == NULL) {
    return builder_nomem(err, "sort array");
  }
  for (size_t id = 0; id < count; id++) {
    const uint8_t *data = builder->term_bytes.data + builder->term_starts[id];
    uint32_t size_bytes = (uint32_t)(builder->term_starts[id + 1] - builder->term_starts[id]);
    uint64_t prefix = 0;
    for (uint32_t b = 0; b < 8; b++) {
      prefix = prefix << 8 | (b < size_bytes ? data[b] : 0);
    }
    entries[id] = (sort_entry){.prefix = prefix, .data = data, .size_bytes = size_bytes, .id = (uint32_t)id};
  }
  qsort(entries, count, sizeof *entries, compare_sort_entries);
  uint64_t offset = 0;
  list->term_starts[0] = 0;
  for (size_t r = 0; r < count; r++) {
    assert(r == 0 || compare_sort_entries(&entries[r - 1], &entries[r]) < 0);
    if (entries[r].size_bytes > 0) {
      memcpy(list->term_bytes + offset, entries[r].data, entries[r].size_bytes);
    }
    offset += entries[r].size_bytes;
    list->term_starts[r + 1] = offset;
    rank[entries[r].id] = (uint32_t)r;
  }
  assert(offset == builder->term_bytes.size);
  free(entries);
  return SL_OK;
}

/* size_bytes of 32-byte aligned memory in the list's chunks (a new chunk when the last is full). */
static char *chunk_alloc(sl_term_list *list, size_t size_bytes) {
  size_t rounded = (size_bytes + FROZEN_ALIGN_BYTES - 1) / FROZEN_ALIGN_BYTES * FROZEN_ALIGN_BYTES;
  if (list->chunk_count > 0 && list->chunk_bytes - list->chunk_used_bytes >= rounded) {
    char *at = list->chunks[list->chunk_count - 1] + list->chunk_used_bytes;
    list->chunk_used_bytes += rounded;
    return at;
  }
  if (list->chunk_count == list->chunk_capacity) {
    size_t capacity = list->chunk_capacity == 0 ? 16 : list->chunk_capacity * 2;
    char **chunks = realloc(list->chunks, capacity * sizeof *chunks);
    if (chunks == NULL) {
      return NULL;
    }
    list->chunks = chunks;
    list->chunk_capacity = capacity;
  }
  /* Chunks double from 4 KiB up to FROZEN_CHUNK_BYTES, so that small lists stay small. */
  size_t chunk_bytes = list->chunk_count >= 6 ? FROZEN_CHUNK_BYTES : (size_t)4096 << list->chunk_count;
  chunk_bytes = rounded > chunk_bytes ? rounded : chunk_bytes;
  char *chunk = aligned_alloc(FROZEN_ALIGN_BYTES, chunk_bytes);
  if (chunk == NULL) {
    return NULL;
  }
  list->chunks[list->chunk_count++] = chunk;
  list->chunk_bytes = chunk_bytes;
  list->chunk_used_bytes = rounded;
  list->memory_bytes += chunk_bytes;
  return chunk;
}

/* A frozen, run-optimized copy of the sorted positions, in the list's chunks. */
static sl_status freeze_postings(sl_term_list *list, const uint32_t *positions, size_t count,
                                 const roaring_bitmap_t **out, sl_error *err) {
  roaring_bitmap_t *bitmap = roaring_bitmap_of_ptr(count, positions);
  if (bitmap == NULL) {
    return builder_nomem(err, "posting lists");
  }
  roaring_bitmap_run_optimize(bitmap);
  size_t frozen_bytes = roaring_bitmap_frozen_size_in_bytes(bitmap);
  char *frozen = chunk_alloc(list, frozen_bytes);
  if (frozen == NULL) {
    roaring_bitmap_free(bitmap);
    return builder_nomem(err, "posting lists");
  }
  roaring_bitmap_frozen_serialize(bitmap, frozen);
  list->memory_bytes += frozen_view_bytes(bitmap);
  roaring_bitmap_free(bitmap);
  *out = roaring_bitmap_frozen_view(frozen, frozen_bytes);
  if (*out == NULL) { /* the bytes were just written and aligned: only malloc can fail */
    return builder_nomem(err, "posting lists");
  }
  assert(roaring_bitmap_get_cardinality(*out) == count);
  return SL_OK;
}

/* Builds one bitmap per term from pairs sorted by (rank, position). scratch holds pair_count
 * uint32 values. */
static sl_status build_postings(const uint64_t *pairs, size_t pair_count, uint32_t *scratch,
                                sl_term_list *list, sl_error *err) {
  size_t term = 0;
  size_t i = 0;
  while (i < pair_count) {
    uint32_t rank = (uint32_t)(pairs[i] >> 32);
    assert(rank == term); /* every interned term has at least one pair */
    size_t unique = 0;
    for (; i < pair_count && (uint32_t)(pairs[i] >> 32) == rank; i++) {
      uint32_t position = (uint32_t)pairs[i];
      if (unique == 0 || scratch[unique - 1] != position) {
        scratch[unique++] = position;
      }
    }
    SL_TRY(freeze_postings(list, scratch, unique, &list->postings[term++], err));
  }
  assert(term == list->count);
  return SL_OK;
}

static sl_status finish_into(sl_term_builder *builder, sl_term_list *list, sl_error *err) {
  size_t count = builder->term_count;
  size_t pointer_bytes = sizeof(const roaring_bitmap_t *);
  list->count = count;
  list->memory_bytes += sizeof *list + builder->term_bytes.size +
                        (count + 1) * (sizeof(uint64_t) + pointer_bytes);
  list->term_bytes = malloc(builder->term_bytes.size + 1);
  list->term_starts = malloc((count + 1) * sizeof(uint64_t));
  list->postings = calloc(count + 1, pointer_bytes);
  uint32_t *rank = malloc((count + 1) * sizeof *rank);
  uint64_t *temp = malloc((builder->pair_count + 1) * sizeof *temp);
  if (list->term_bytes == NULL || list->term_starts == NULL || list->postings == NULL ||
      rank == NULL || temp == NULL) {
    free(rank);
    free(temp);
    return builder_nomem(err, "term list");
  }
  sl_status status = sort_terms(builder, list, rank, err);
  if (status == SL_OK) {
    for (size_t i = 0; i < builder->pair_count; i++) {
      uint32_t id = (uint32_t)(builder->pairs[i] >> 32);
      builder->pairs[i] = (uint64_t)rank[id] << 32 | (uint32_t)builder->pairs[i];
    }
    radix_sort(builder->pairs, temp, builder->pair_count);
    status = build_postings(builder->pairs, builder->pair_count, (uint32_t *)temp, list, err);
  }
  free(rank);
  free(temp);
  return status;
}

sl_status sl_term_builder_finish(sl_term_builder *builder, sl_term_list **out, sl_error *err) {
  assert(builder != NULL && out != NULL);
  assert(builder->term_count <= builder->pair_count);
  *out = NULL;
  sl_term_list *list = calloc(1, sizeof *list);
  sl_status status = list == NULL ? builder_nomem(err, "term list") : finish_into(builder, list, err);
  builder_release(builder);
  if (status != SL_OK) {
    sl_term_list_free(list);
    return status;
  }
  *out = list;
  return SL_OK;
}

size_t sl_term_list_count(const sl_term_list *list) {
  assert(list != NULL);
  return list->count;
}

sl_bytes sl_term_list_term(const sl_term_list *list, size_t index) {
  assert(list != NULL && index < list->count);
  uint64_t start = list->term_starts[index];
  sl_bytes term = {(const char *)list->term_bytes + start,
                   (size_t)(list->term_starts[index + 1] - start)};
  return term;
}

const roaring_bitmap_t *sl_term_list_postings(const sl_term_list *list, size_t index) {
  assert(list != NULL && index < list->count);
  return list->postings[index];
}

size_t sl_term_list_lower_bound(const sl_term_list *list, const void *term, size_t term_bytes) {
  assert(list != NULL && (term != NULL || term_bytes == 0));
  size_t low = 0;
  size_t high = list->count;
  while (low < high) {
    size_t middle = low + (high - low) / 2;
    uint64_t start = list->term_starts[middle];
    if (compare_terms(list->term_bytes + start, (size_t)(list->term_starts[middle + 1] - start),
                      term, term_bytes) < 0) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return low;
}

size_t sl_term_list_memory_bytes(const sl_term_list *list) {
  assert(list != NULL);
  return list->memory_bytes;
}

/* ---- Writer ---- */

/* Owns every buffer; borrows codec. */
struct sl_term_writer {
  sl_codec *codec;
  sl_buffer postings;      /* postings blocks, as the terms come */
  sl_buffer term_blocks;   /* closed term blocks, framed */
  sl_buffer directory;     /* raw directory entries */
  sl_buffer block_raw;     /* the open term block's entries (its count is written at close) */
  sl_buffer first_term;    /* the open term block's first term */
  sl_buffer previous_term; /* the last term added */
  sl_buffer scratch;       /* one posting list or one term block before framing */
  uint32_t block_terms;    /* terms in the open term block */
  uint64_t block_postings_bytes;
  uint64_t term_count;
  uint64_t block_count;
  bool failed;
  bool finished;
};

sl_term_writer *sl_term_writer_new(sl_codec *codec) {
  assert(codec != NULL);
  sl_term_writer *writer = calloc(1, sizeof *writer);
  if (writer != NULL) {
    writer->codec = codec;
  }
  return writer;
}

void sl_term_writer_free(sl_term_writer *writer) {
  if (writer == NULL) {
    return;
  }
  sl_buffer_free(&writer->postings);
  sl_buffer_free(&writer->term_blocks);
  sl_buffer_free(&writer->directory);
  sl_buffer_free(&writer->block_raw);
  sl_buffer_free(&writer->first_term);
  sl_buffer_free(&writer->previous_term);
  sl_buffer_free(&writer->scratch);
  free(writer);
}

static sl_status close_term_block(sl_term_writer *writer, sl_error *err) {
  assert(writer->block_terms >= 1 && writer->block_terms <= SL_TERM_BLOCK_MAX_TERMS);
  assert(writer->block_postings_bytes >= writer->block_terms);
  writer->scratch.size = 0;
  SL_TRY(put_varint(&writer->scratch, writer->block_terms, err));
  SL_TRY(sl_buffer_append(&writer->scratch, writer->block_raw.data, writer->block_raw.size, err));
  size_t before = writer->term_blocks.size;
  SL_TRY(sl_block_encode(writer->codec, writer->scratch.data, writer->scratch.size,
                         &writer->term_blocks, NULL, err));
  size_t stored = writer->term_blocks.size - before;
  sl_buffer *directory = &writer->directory;
  SL_TRY(put_varint(directory, writer->first_term.size, err));
  SL_TRY(sl_buffer_append(directory, writer->first_term.data, writer->first_term.size, err));
  SL_TRY(put_varint(directory, stored, err));
  SL_TRY(put_varint(directory, writer->block_terms, err));
  SL_TRY(put_varint(directory, writer->block_postings_bytes, err));
  writer->block_count++;
  writer->block_terms = 0;
  writer->block_postings_bytes = 0;
  writer->block_raw.size = 0;
  return SL_OK;
}

static size_t shared_prefix(const uint8_t *a, size_t a_bytes, const uint8_t *b, size_t b_bytes) {
  size_t limit = a_bytes < b_bytes ? a_bytes : b_bytes;
  size_t shared = 0;
  while (shared < limit && a[shared] == b[shared]) {
    shared++;
  }
  return shared;
}

/* Appends the term and its postings; any failure leaves the writer unusable. */
static sl_status append_term(sl_term_writer *writer, const uint8_t *term, size_t term_bytes,
                             const roaring_bitmap_t *postings, sl_error *err) {
  writer->scratch.size = 0;
  SL_TRY(sl_postings_encode(postings, &writer->scratch, err));
  size_t before = writer->postings.size;
  SL_TRY(sl_block_encode(writer->codec, writer->scratch.data, writer->scratch.size,
                         &writer->postings, NULL, err));
  uint64_t stored = writer->postings.size - before;
  size_t shared = writer->block_terms == 0
                      ? 0
                      : shared_prefix(writer->previous_term.data, writer->previous_term.size, term,
                                      term_bytes);
  SL_TRY(put_varint(&writer->block_raw, shared, err));
  SL_TRY(put_varint(&writer->block_raw, term_bytes - shared, err));
  SL_TRY(sl_buffer_append(&writer->block_raw, term + shared, term_bytes - shared, err));
  SL_TRY(put_varint(&writer->block_raw, stored, err));
  if (writer->block_terms == 0) {
    writer->first_term.size = 0;
    SL_TRY(sl_buffer_append(&writer->first_term, term, term_bytes, err));
  }
  writer->previous_term.size = 0;
  SL_TRY(sl_buffer_append(&writer->previous_term, term, term_bytes, err));
  writer->block_terms++;
  writer->block_postings_bytes += stored;
  writer->term_count++;
  if (writer->block_terms == SL_TERM_BLOCK_MAX_TERMS || writer->block_raw.size >= BLOCK_CLOSE_RAW_BYTES) {
    SL_TRY(close_term_block(writer, err));
  }
  return SL_OK;
}

sl_status sl_term_writer_add(sl_term_writer *writer, const void *term, size_t term_bytes,
                             const roaring_bitmap_t *postings, sl_error *err) {
  assert(writer != NULL);
  assert(term != NULL || term_bytes == 0);
  if (writer->failed || writer->finished) {
    return sl_error_set(err, SL_ERR_INVALID, "term writer: %s",
                        writer->failed ? "an earlier add failed" : "already finished");
  }
  if (term_bytes > SL_TERM_MAX_BYTES) {
    return sl_error_set(err, SL_ERR_INVALID, "term writer: a term of %zu bytes is longer than the %d-byte limit",
                        term_bytes, SL_TERM_MAX_BYTES);
  }
  if (postings == NULL || roaring_bitmap_is_empty(postings)) {
    return sl_error_set(err, SL_ERR_INVALID, "term writer: term %llu has no postings",
                        (unsigned long long)writer->term_count);
  }
  static const uint8_t empty[1] = {0};
  const uint8_t *bytes = term_bytes == 0 ? empty : term;
  if (writer->term_count > 0 &&
      compare_terms(bytes, term_bytes, writer->previous_term.data, writer->previous_term.size) <= 0) {
    return sl_error_set(err, SL_ERR_INVALID, "term writer: term %llu is not above the previous term (terms must strictly increase)",
                        (unsigned long long)writer->term_count);
  }
  sl_status status = append_term(writer, bytes, term_bytes, postings, err);
  writer->failed = status != SL_OK;
  return status;
}

static sl_status append_trailer(const sl_term_writer *writer, uint64_t term_blocks_offset,
                                uint64_t directory_offset, sl_buffer *out, sl_error *err) {
  assert(writer->block_count <= UINT32_MAX);
  assert(writer->term_count <= writer->block_count * SL_TERM_BLOCK_MAX_TERMS);
  uint8_t trailer[SL_TERM_INDEX_TRAILER_BYTES];
  put_u64(trailer, writer->term_count);
  put_u64(trailer + 8, term_blocks_offset);
  put_u64(trailer + 16, directory_offset);
  put_u32(trailer + 24, (uint32_t)writer->block_count);
  put_u32(trailer + 28, FORMAT_VERSION);
  memcpy(trailer + 32, TRAILER_MAGIC, sizeof TRAILER_MAGIC);
  put_u32(trailer + 36, XXH32(trailer, 36, 0));
  return sl_buffer_append(out, trailer, sizeof trailer, err);
}

static sl_status finish_content(sl_term_writer *writer, sl_buffer *out, sl_error *err) {
  if (writer->block_terms > 0) {
    SL_TRY(close_term_block(writer, err));
  }
  if (writer->block_count >= UINT32_MAX) {
    return sl_error_set(err, SL_ERR_INVALID, "term writer: %llu term blocks exceed the format's limit",
                        (unsigned long long)writer->block_count);
  }
  size_t start = out->size;
  if (start == 0) { /* hand the postings over instead of copying them */
    sl_buffer_free(out);
    *out = writer->postings;
    memset(&writer->postings, 0, sizeof writer->postings);
  } else {
    SL_TRY(sl_buffer_append(out, writer->postings.data, writer->postings.size, err));
  }
  uint64_t term_blocks_offset = out->size - start;
  SL_TRY(sl_buffer_append(out, writer->term_blocks.data, writer->term_blocks.size, err));
  uint64_t directory_offset = out->size - start;
  SL_TRY(sl_block_encode(writer->codec, writer->directory.data, writer->directory.size, out, NULL, err));
  return append_trailer(writer, term_blocks_offset, directory_offset, out, err);
}

sl_status sl_term_writer_finish(sl_term_writer *writer, sl_buffer *out, uint64_t *term_count,
                                sl_error *err) {
  assert(writer != NULL && out != NULL);
  if (writer->failed || writer->finished) {
    return sl_error_set(err, SL_ERR_INVALID, "term writer: %s",
                        writer->failed ? "an earlier add failed" : "already finished");
  }
  writer->finished = true;
  sl_status status = finish_content(writer, out, err);
  writer->failed = status != SL_OK;
  if (status == SL_OK && term_count != NULL) {
    *term_count = writer->term_count;
  }
  return status;
}

/* ---- Reader ---- */

/* One term block of the directory.  Entry block_count is a sentinel holding the regions' ends. */
typedef struct directory_entry {
  uint64_t block_offset;     /* file offset of the term block */
  uint64_t postings_offset;  /* file offset of its first term's postings block */
  uint64_t first_term_start; /* into the index's first_terms */
  uint32_t first_term_bytes;
  uint32_t term_count;
} directory_entry;

/* Owns entries, first_terms and path; borrows fd. */
struct sl_term_index {
  int fd;
  uint64_t content_bytes;
  char *path;
  uint64_t term_count;
  size_t block_count;
  directory_entry *entries;
  uint8_t *first_terms;
  size_t first_terms_bytes;
};

/* One decoded term block: term i is terms[term_starts[i], term_starts[i + 1]), its postings block
 * the file bytes [postings_starts[i], postings_starts[i + 1]).  Owns its buffers. */
typedef struct decoded_block {
  size_t block; /* which term block, SIZE_MAX when none */
  uint32_t count;
  uint32_t term_starts[SL_TERM_BLOCK_MAX_TERMS + 1];
  uint64_t postings_starts[SL_TERM_BLOCK_MAX_TERMS + 1];
  sl_buffer terms;
  sl_buffer file_bytes; /* bytes read from the file */
  sl_buffer scratch;    /* decompressed bytes */
} decoded_block;

static void decoded_block_init(decoded_block *block) {
  memset(block, 0, sizeof *block);
  block->block = SIZE_MAX;
}

static void decoded_block_free(decoded_block *block) {
  sl_buffer_free(&block->terms);
  sl_buffer_free(&block->file_bytes);
  sl_buffer_free(&block->scratch);
}

static sl_status corrupt(const char *path, sl_error *err, uint64_t offset, const char *format, ...)
    __attribute__((format(printf, 4, 5)));

/* "PATH: offset N: why". */
static sl_status corrupt(const char *path, sl_error *err, uint64_t offset, const char *format, ...) {
  char why[SL_ERROR_MESSAGE_BYTES];
  va_list args;
  va_start(args, format);
  vsnprintf(why, sizeof why, format, args);
  va_end(args);
  return sl_error_set(err, SL_ERR_CORRUPT, "%s: offset %llu: %s", path, (unsigned long long)offset, why);
}

/* Reads size bytes at offset into out (grown as needed). */
static sl_status read_exact(int fd, const char *path, uint64_t offset, size_t size, sl_buffer *out,
                            sl_error *err) {
  out->size = 0;
  SL_TRY(sl_buffer_reserve(out, size, err));
  size_t done = 0;
  for (size_t attempts = 0; done < size; attempts++) {
    assert(attempts <= size);
    ssize_t got = pread(fd, out->data + done, size - done, (off_t)(offset + done));
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0) {
      return sl_fileio_errno_error(err, errno, "pread", path);
    }
    if (got == 0) {
      return corrupt(path, err, offset + done, "the file ends %zu bytes early", size - done);
    }
    done += (size_t)got;
  }
  out->size = size;
  return SL_OK;
}

/* Decodes the block framing data[0, size), which must be used exactly; offset and what name it in
 * errors. */
static sl_status decode_frame(const char *path, sl_codec *codec, const uint8_t *data, size_t size,
                              uint64_t offset, const char *what, size_t number, sl_buffer *scratch,
                              sl_term_stats *stats, const uint8_t **raw, size_t *raw_size,
                              sl_error *err) {
  size_t used = 0;
  sl_status status = sl_block_decode(codec, data, size, scratch, raw, raw_size, &used, err);
  if (status == SL_ERR_CORRUPT) {
    if (err != NULL) {
      sl_error_prefix(err, "%s: offset %llu: %s %zu", path, (unsigned long long)offset, what, number);
    }
    return status;
  }
  SL_TRY(status);
  if (used != size) {
    return corrupt(path, err, offset, "%s %zu: its block uses %zu of its %zu bytes", what, number,
                   used, size);
  }
  if (stats != NULL && (data[0] & BLOCK_FLAG_ZSTD) != 0) {
    stats->bytes_decompressed += *raw_size;
  }
  return SL_OK;
}

static const uint8_t *first_term(const sl_term_index *index, size_t block) {
  return index->first_terms + index->entries[block].first_term_start;
}

/* The first block whose first term is above term (0..block_count). */
static size_t blocks_upper_bound(const sl_term_index *index, const uint8_t *term, size_t term_bytes) {
  size_t low = 0;
  size_t high = index->block_count;
  while (low < high) {
    size_t middle = low + (high - low) / 2;
    if (compare_terms(first_term(index, middle), index->entries[middle].first_term_bytes, term,
                      term_bytes) <= 0) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return low;
}

typedef struct trailer_fields {
  uint64_t term_count;
  uint64_t term_blocks_offset;
  uint64_t directory_offset;
  uint32_t block_count;
} trailer_fields;

static sl_status read_trailer(int fd, const char *path, uint64_t content_bytes, sl_buffer *bytes,
                              trailer_fields *out, sl_error *err) {
  struct stat info;
  if (fstat(fd, &info) != 0) {
    return sl_fileio_errno_error(err, errno, "fstat", path);
  }
  if ((uint64_t)info.st_size < content_bytes) {
    return corrupt(path, err, (uint64_t)info.st_size, "the file ends before its %llu bytes of term index",
                   (unsigned long long)content_bytes);
  }
  if (content_bytes < SL_TERM_INDEX_TRAILER_BYTES) {
    return corrupt(path, err, 0, "%llu bytes cannot hold the %d-byte term index trailer",
                   (unsigned long long)content_bytes, SL_TERM_INDEX_TRAILER_BYTES);
  }
  uint64_t at = content_bytes - SL_TERM_INDEX_TRAILER_BYTES;
  SL_TRY(read_exact(fd, path, at, SL_TERM_INDEX_TRAILER_BYTES, bytes, err));
  const uint8_t *trailer = bytes->data;
  if (XXH32(trailer, 36, 0) != get_u32(trailer + 36)) {
    return corrupt(path, err, at + 36, "term index trailer checksum mismatch");
  }
  if (memcmp(trailer + 32, TRAILER_MAGIC, sizeof TRAILER_MAGIC) != 0) {
    return corrupt(path, err, at + 32, "not a term index (bad magic)");
  }
  if (get_u32(trailer + 28) != FORMAT_VERSION) {
    return corrupt(path, err, at + 28, "term index version %u, this build reads %d",
                   get_u32(trailer + 28), FORMAT_VERSION);
  }
  out->term_count = get_u64(trailer);
  out->term_blocks_offset = get_u64(trailer + 8);
  out->directory_offset = get_u64(trailer + 16);
  out->block_count = get_u32(trailer + 24);
  if (out->term_blocks_offset > out->directory_offset || out->directory_offset > at) {
    return corrupt(path, err, at + 8, "term blocks at %llu and directory at %llu do not fit before the trailer at %llu",
                   (unsigned long long)out->term_blocks_offset,
                   (unsigned long long)out->directory_offset, (unsigned long long)at);
  }
  if ((out->term_count == 0) != (out->block_count == 0) || out->block_count > out->term_count ||
      out->term_count > (uint64_t)out->block_count * SL_TERM_BLOCK_MAX_TERMS) {
    return corrupt(path, err, at, "%llu terms cannot fill %u term blocks",
                   (unsigned long long)out->term_count, out->block_count);
  }
  if (at - out->directory_offset > (uint64_t)SL_BLOCK_MAX_RAW_BYTES + BLOCK_FRAME_MAX_BYTES) {
    return corrupt(path, err, out->directory_offset, "a directory of %llu bytes is too large",
                   (unsigned long long)(at - out->directory_offset));
  }
  return SL_OK;
}

/* Parses the directory's raw bytes into index->entries (allocated here). */
static sl_status parse_directory(sl_term_index *index, const trailer_fields *trailer,
                                 const uint8_t *raw, size_t raw_size, sl_error *err) {
  const char *path = index->path;
  uint64_t at = trailer->directory_offset;
  size_t blocks = trailer->block_count;
  if (blocks > raw_size / 4) {
    return corrupt(path, err, at, "a directory of %zu bytes cannot hold %zu entries", raw_size, blocks);
  }
  index->entries = calloc(blocks + 1, sizeof *index->entries);
  index->first_terms = malloc(raw_size + 1);
  if (index->entries == NULL || index->first_terms == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "%s: out of memory for a directory of %zu term blocks", path, blocks);
  }
  size_t offset = 0;
  uint64_t block_offset = trailer->term_blocks_offset;
  uint64_t postings_offset = 0;
  uint64_t terms = 0;
  size_t first_terms_bytes = 0;
  for (size_t k = 0; k < blocks; k++) {
    size_t entry_at = offset;
    uint64_t term_bytes = 0, stored = 0, count = 0, postings_bytes = 0;
    if (!sl_varint_get(raw, raw_size, &offset, &term_bytes) || term_bytes > SL_TERM_MAX_BYTES ||
        term_bytes > raw_size - offset) {
      return corrupt(path, err, at, "directory byte %zu: entry %zu: bad first-term length", entry_at, k);
    }
    const uint8_t *term = raw + offset;
    if (k > 0 && compare_terms(first_term(index, k - 1), index->entries[k - 1].first_term_bytes, term,
                               (size_t)term_bytes) >= 0) {
      return corrupt(path, err, at, "directory byte %zu: entry %zu: first term not above the previous block's",
                     offset, k);
    }
    memcpy(index->first_terms + first_terms_bytes, term, (size_t)term_bytes);
    offset += (size_t)term_bytes;
    size_t sizes_at = offset;
    if (!sl_varint_get(raw, raw_size, &offset, &stored) || stored == 0 ||
        stored > trailer->directory_offset - block_offset ||
        !sl_varint_get(raw, raw_size, &offset, &count) || count == 0 || count > SL_TERM_BLOCK_MAX_TERMS ||
        !sl_varint_get(raw, raw_size, &offset, &postings_bytes) || postings_bytes < count ||
        postings_bytes > trailer->term_blocks_offset - postings_offset) {
      return corrupt(path, err, at, "directory byte %zu: entry %zu: bad block size, term count or postings size",
                     sizes_at, k);
    }
    index->entries[k] = (directory_entry){.block_offset = block_offset,
                                          .postings_offset = postings_offset,
                                          .first_term_start = first_terms_bytes,
                                          .first_term_bytes = (uint32_t)term_bytes,
                                          .term_count = (uint32_t)count};
    first_terms_bytes += (size_t)term_bytes;
    block_offset += stored;
    postings_offset += postings_bytes;
    terms += count;
  }
  if (offset != raw_size) {
    return corrupt(path, err, at, "directory byte %zu: %zu bytes after the last entry", offset, raw_size - offset);
  }
  if (block_offset != trailer->directory_offset || postings_offset != trailer->term_blocks_offset ||
      terms != trailer->term_count) {
    return corrupt(path, err, at, "directory: blocks end at %llu, postings at %llu, %llu terms; the trailer says %llu, %llu, %llu",
                   (unsigned long long)block_offset, (unsigned long long)postings_offset,
                   (unsigned long long)terms, (unsigned long long)trailer->directory_offset,
                   (unsigned long long)trailer->term_blocks_offset,
                   (unsigned long long)trailer->term_count);
  }
  index->entries[blocks] = (directory_entry){.block_offset = block_offset,
                                             .postings_offset = postings_offset,
                                             .first_term_start = first_terms_bytes};
  index->block_count = blocks;
  index->term_count = terms;
  index->first_terms_bytes = first_terms_bytes;
  return SL_OK;
}

sl_status sl_term_index_open(int fd, uint64_t content_bytes, const char *path_for_errors,
                             sl_codec *codec, sl_term_index **out, sl_error *err) {
  assert(fd >= 0 && path_for_errors != NULL && codec != NULL && out != NULL);
  *out = NULL;
  sl_term_index *index = calloc(1, sizeof *index);
  size_t path_bytes = strlen(path_for_errors) + 1;
  char *path = malloc(path_bytes);
  if (index == NULL || path == NULL) {
    free(index);
    free(path);
    return sl_error_set(err, SL_ERR_NOMEM, "%s: out of memory opening the term index", path_for_errors);
  }
  memcpy(path, path_for_errors, path_bytes);
  index->fd = fd;
  index->content_bytes = content_bytes;
  index->path = path;
  sl_buffer bytes = {0};
  sl_buffer scratch = {0};
  trailer_fields trailer = {0};
  sl_status status = read_trailer(fd, path, content_bytes, &bytes, &trailer, err);
  if (status == SL_OK) {
    uint64_t size = content_bytes - SL_TERM_INDEX_TRAILER_BYTES - trailer.directory_offset;
    status = read_exact(fd, path, trailer.directory_offset, (size_t)size, &bytes, err);
  }
  const uint8_t *raw = NULL;
  size_t raw_size = 0;
  if (status == SL_OK) {
    status = decode_frame(path, codec, bytes.data, bytes.size, trailer.directory_offset, "directory",
                          0, &scratch, NULL, &raw, &raw_size, err);
  }
  if (status == SL_OK) {
    status = parse_directory(index, &trailer, raw, raw_size, err);
  }
  sl_buffer_free(&bytes);
  sl_buffer_free(&scratch);
  if (status != SL_OK) {
    sl_term_index_close(index);
    return status;
  }
  *out = index;
  return SL_OK;
}

void sl_term_index_close(sl_term_index *index) {
  if (index == NULL) {
    return;
  }
  free(index->entries);
  free(index->first_terms);
  free(index->path);
  free(index);
}

uint64_t sl_term_index_term_count(const sl_term_index *index) {
  assert(index != NULL);
  return index->term_count;
}

size_t sl_term_index_memory_bytes(const sl_term_index *index) {
  assert(index != NULL);
  return sizeof *index + strlen(index->path) + 1 + (index->block_count + 1) * sizeof *index->entries +
         index->first_terms_bytes;
}

/* Parses a term block's raw bytes into block (checked against the directory). */
static sl_status parse_term_block(const sl_term_index *index, size_t k, const uint8_t *raw,
                                  size_t raw_size, decoded_block *block, sl_error *err) {
  const directory_entry *entry = &index->entries[k];
  const directory_entry *next = &index->entries[k + 1];
  const char *path = index->path;
  uint64_t at = entry->block_offset;
  size_t offset = 0;
  uint64_t count = 0;
  if (!sl_varint_get(raw, raw_size, &offset, &count) || count != entry->term_count) {
    return corrupt(path, err, at, "term block %zu byte 0: term count does not match the directory's %u",
                   k, entry->term_count);
  }
  sl_buffer *terms = &block->terms;
  terms->size = 0;
  uint64_t postings = entry->postings_offset;
  for (uint32_t i = 0; i < count; i++) {
    size_t term_at = offset;
    uint64_t shared = 0, suffix = 0;
    size_t previous_bytes = i == 0 ? 0 : terms->size - block->term_starts[i - 1];
    block->term_starts[i] = (uint32_t)terms->size;
    if (!get_varint(raw, raw_size, &offset, &shared) || shared > previous_bytes ||
        !get_varint(raw, raw_size, &offset, &suffix) || suffix > raw_size - offset ||
        shared + suffix > SL_TERM_MAX_BYTES) {
      return corrupt(path, err, at, "term block %zu byte %zu: term %u: bad shared or suffix length",
                     k, term_at, i);
    }
    SL_TRY(sl_buffer_reserve(terms, (size_t)(shared + suffix) + 1, err)); /* never NULL */
    uint8_t *term = terms->data + terms->size;
    const uint8_t *previous = i == 0 ? NULL : terms->data + block->term_starts[i - 1];
    /* shared is the longest common prefix, so the term is above the previous one exactly when it
     * has a suffix that extends the previous term or starts above the previous term's next byte. */
    if (i > 0 && (suffix == 0 || (shared < previous_bytes && raw[offset] <= previous[shared]))) {
      return corrupt(path, err, at, "term block %zu byte %zu: term %u is not above the previous term "
                     "(or its shared prefix is not the longest)", k, term_at, i);
    }
    if (shared > 0) {
      memcpy(term, previous, (size_t)shared);
    }
    if (suffix > 0) {
      memcpy(term + shared, raw + offset, (size_t)suffix);
    }
    offset += (size_t)suffix;
    size_t term_bytes = (size_t)(shared + suffix);
    terms->size += term_bytes;
    if (i == 0 && compare_terms(term, term_bytes, first_term(index, k), entry->first_term_bytes) != 0) {
      return corrupt(path, err, at, "term block %zu byte %zu: term 0 is not the directory's first term",
                     k, term_at);
    }
    size_t size_at = offset;
    uint64_t stored = 0;
    if (!get_varint(raw, raw_size, &offset, &stored) || stored == 0 ||
        stored > next->postings_offset - postings) {
      return corrupt(path, err, at, "term block %zu byte %zu: term %u: bad postings size", k, size_at, i);
    }
    block->postings_starts[i] = postings;
    postings += stored;
  }
  block->term_starts[count] = (uint32_t)terms->size;
  block->postings_starts[count] = postings;
  if (offset != raw_size || postings != next->postings_offset) {
    return corrupt(path, err, at, "term block %zu byte %zu: %s", k, offset,
                   offset != raw_size ? "bytes after the last term" : "postings sizes do not add up to the directory's");
  }
  if (k + 1 < index->block_count &&
      compare_terms(terms->data + block->term_starts[count - 1],
                    terms->size - block->term_starts[count - 1], first_term(index, k + 1),
                    index->entries[k + 1].first_term_bytes) >= 0) {
    return corrupt(path, err, at, "term block %zu: its last term is not below the next block's first", k);
  }
  block->count = (uint32_t)count;
  return SL_OK;
}

static sl_status load_term_block(const sl_term_index *index, sl_codec *codec, size_t k,
                                 sl_term_stats *stats, decoded_block *block, sl_error *err) {
  assert(k < index->block_count);
  if (block->block == k) {
    return SL_OK;
  }
  block->block = SIZE_MAX;
  uint64_t at = index->entries[k].block_offset;
  size_t size = (size_t)(index->entries[k + 1].block_offset - at);
  SL_TRY(read_exact(index->fd, index->path, at, size, &block->file_bytes, err));
  const uint8_t *raw = NULL;
  size_t raw_size = 0;
  SL_TRY(decode_frame(index->path, codec, block->file_bytes.data, size, at, "term block", k,
                      &block->scratch, stats, &raw, &raw_size, err));
  SL_TRY(parse_term_block(index, k, raw, raw_size, block, err));
  if (stats != NULL) {
    stats->term_blocks_read++;
  }
  block->block = k;
  return SL_OK;
}

static const uint8_t *block_term(const decoded_block *block, uint32_t i, size_t *term_bytes) {
  assert(i < block->count);
  *term_bytes = block->term_starts[i + 1] - block->term_starts[i];
  return block->terms.data + block->term_starts[i];
}

/* The first term of the block >= term (strict false) or > term (strict true). */
static uint32_t block_bound(const decoded_block *block, const uint8_t *term, size_t term_bytes,
                            bool strict) {
  uint32_t low = 0;
  uint32_t high = block->count;
  while (low < high) {
    uint32_t middle = low + (high - low) / 2;
    size_t middle_bytes = 0;
    const uint8_t *middle_term = block_term(block, middle, &middle_bytes);
    int order = compare_terms(middle_term, middle_bytes, term, term_bytes);
    if (order < 0 || (strict && order == 0)) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return low;
}

/* Decodes the postings block data[0, size) at file offset at. */
static sl_status decode_postings(const sl_term_index *index, sl_codec *codec, const uint8_t *data,
                                 size_t size, uint64_t at, size_t number, sl_buffer *scratch,
                                 sl_term_stats *stats, roaring_bitmap_t **out, sl_error *err) {
  const uint8_t *raw = NULL;
  size_t raw_size = 0;
  SL_TRY(decode_frame(index->path, codec, data, size, at, "posting list of term", number, scratch,
                      stats, &raw, &raw_size, err));
  size_t offset = 0;
  roaring_bitmap_t *bitmap = NULL;
  sl_status status = sl_postings_decode(raw, raw_size, &offset, &bitmap, err);
  if (status == SL_ERR_CORRUPT) {
    if (err != NULL) {
      sl_error_prefix(err, "%s: offset %llu: term %zu", index->path, (unsigned long long)at, number);
    }
    return status;
  }
  SL_TRY(status);
  if (offset != raw_size || roaring_bitmap_is_empty(bitmap)) {
    roaring_bitmap_free(bitmap);
    return corrupt(index->path, err, at, "posting list of term %zu: %s", number,
                   offset != raw_size ? "bytes after the bitmap" : "empty");
  }
  if (stats != NULL) {
    stats->postings_read++;
    stats->postings_bytes_read += size;
  }
  *out = bitmap;
  return SL_OK;
}

/* Reads and decodes the postings of the block's term i. */
static sl_status read_postings(const sl_term_index *index, sl_codec *codec, decoded_block *block,
                               uint32_t i, sl_term_stats *stats, roaring_bitmap_t **out,
                               sl_error *err) {
  uint64_t at = block->postings_starts[i];
  size_t size = (size_t)(block->postings_starts[i + 1] - at);
  SL_TRY(read_exact(index->fd, index->path, at, size, &block->file_bytes, err));
  /* The term block's raw bytes may have pointed into file_bytes: the block stays decoded (its
   * terms are in their own buffer). */
  return decode_postings(index, codec, block->file_bytes.data, size, at, i, &block->scratch, stats,
                         out, err);
}

sl_status sl_term_index_lookup(const sl_term_index *index, const void *term, size_t term_bytes,
                               sl_codec *codec, sl_term_stats *stats, roaring_bitmap_t **out,
                               sl_error *err) {
  assert(index != NULL && codec != NULL && out != NULL);
  assert(term != NULL || term_bytes == 0);
  *out = NULL;
  static const uint8_t empty[1] = {0};
  const uint8_t *bytes = term_bytes == 0 ? empty : term;
  size_t after = blocks_upper_bound(index, bytes, term_bytes);
  if (after == 0 || term_bytes > SL_TERM_MAX_BYTES) {
    return SL_OK;
  }
  decoded_block *block = malloc(sizeof *block);
  if (block == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "%s: out of memory for a term lookup", index->path);
  }
  decoded_block_init(block);
  sl_status status = load_term_block(index, codec, after - 1, stats, block, err);
  if (status == SL_OK) {
    uint32_t i = block_bound(block, bytes, term_bytes, false);
    if (i < block->count) {
      size_t found_bytes = 0;
      const uint8_t *found = block_term(block, i, &found_bytes);
      if (compare_terms(found, found_bytes, bytes, term_bytes) == 0) {
        status = read_postings(index, codec, block, i, stats, out, err);
      }
    }
  }
  decoded_block_free(block);
  free(block);
  return status;
}

/* ORs the postings of block terms [from, to) into result, reading up to RANGE_READ_MAX_BYTES of
 * consecutive postings blocks with each pread. */
static sl_status union_postings(const sl_term_index *index, sl_codec *codec, decoded_block *block,
                                uint32_t from, uint32_t to, sl_term_stats *stats,
                                roaring_bitmap_t *result, sl_error *err) {
  uint32_t i = from;
  while (i < to) {
    uint32_t end = i + 1;
    while (end < to && block->postings_starts[end + 1] - block->postings_starts[i] <= RANGE_READ_MAX_BYTES) {
      end++;
    }
    uint64_t at = block->postings_starts[i];
    SL_TRY(read_exact(index->fd, index->path, at, (size_t)(block->postings_starts[end] - at),
                      &block->file_bytes, err));
    for (uint32_t t = i; t < end; t++) {
      roaring_bitmap_t *bitmap = NULL;
      uint64_t start = block->postings_starts[t];
      SL_TRY(decode_postings(index, codec, block->file_bytes.data + (start - at),
                             (size_t)(block->postings_starts[t + 1] - start), start, t,
                             &block->scratch, stats, &bitmap, err));
      roaring_bitmap_lazy_or_inplace(result, bitmap, false);
      roaring_bitmap_free(bitmap);
    }
    i = end;
  }
  return SL_OK;
}

static sl_status range_into(const sl_term_index *index, const uint8_t *low, size_t low_bytes,
                            const uint8_t *high, size_t high_bytes, sl_codec *codec,
                            sl_term_stats *stats, roaring_bitmap_t *result, uint64_t *visited,
                            decoded_block *block, sl_error *err) {
  size_t k = 0;
  if (low != NULL) {
    size_t after = blocks_upper_bound(index, low, low_bytes);
    k = after == 0 ? 0 : after - 1;
  }
  for (; k < index->block_count; k++) {
    if (high != NULL && compare_terms(first_term(index, k), index->entries[k].first_term_bytes, high,
                                      high_bytes) > 0) {
      break;
    }
    SL_TRY(load_term_block(index, codec, k, stats, block, err));
    uint32_t from = low == NULL ? 0 : block_bound(block, low, low_bytes, false);
    uint32_t to = high == NULL ? block->count : block_bound(block, high, high_bytes, true);
    if (from < to) {
      SL_TRY(union_postings(index, codec, block, from, to, stats, result, err));
      *visited += to - from;
    }
    if (to < block->count) {
      break; /* the rest is above high */
    }
  }
  return SL_OK;
}

sl_status sl_term_index_range(const sl_term_index *index, const void *low, size_t low_bytes,
                              const void *high, size_t high_bytes, sl_codec *codec,
                              sl_term_stats *stats, roaring_bitmap_t **out, uint64_t *terms_visited,
                              sl_error *err) {
  assert(index != NULL && codec != NULL && out != NULL);
  assert(low != NULL || low_bytes == 0);
  assert(high != NULL || high_bytes == 0);
  *out = NULL;
  roaring_bitmap_t *result = roaring_bitmap_create();
  decoded_block *block = malloc(sizeof *block);
  if (result == NULL || block == NULL) {
    free_bitmap(result);
    free(block);
    return sl_error_set(err, SL_ERR_NOMEM, "%s: out of memory for a term range", index->path);
  }
  decoded_block_init(block);
  uint64_t visited = 0;
  sl_status status = SL_OK;
  if (low == NULL || high == NULL || compare_terms(low, low_bytes, high, high_bytes) <= 0) {
    status = range_into(index, low, low_bytes, high, high_bytes, codec, stats, result, &visited,
                        block, err);
  }
  decoded_block_free(block);
  free(block);
  if (status != SL_OK) {
    roaring_bitmap_free(result);
    return status;
  }
  roaring_bitmap_repair_after_lazy(result);
  if (terms_visited != NULL) {
    *terms_visited += visited;
  }
  *out = result;
  return SL_OK;
}

/* ---- Cursor ---- */

/* Owns decoded; borrows index, codec and stats.  (block, position) is the next term to return. */
struct sl_term_cursor {
  const sl_term_index *index;
  sl_codec *codec;
  sl_term_stats *stats;
  bool descending;
  bool at_end;
  size_t block;
  uint32_t position;
  decoded_block decoded;
  sl_status failed; /* SL_OK until an error, then that error for good */
  sl_error failure;
};

static void cursor_start(sl_term_cursor *cursor) {
  const sl_term_index *index = cursor->index;
  cursor->at_end = index->block_count == 0;
  if (cursor->at_end) {
    return;
  }
  cursor->block = cursor->descending ? index->block_count - 1 : 0;
  cursor->position = cursor->descending ? index->entries[cursor->block].term_count - 1 : 0;
}

sl_status sl_term_cursor_open(const sl_term_index *index, sl_codec *codec, bool descending,
                              sl_term_stats *stats, sl_term_cursor **out, sl_error *err) {
  assert(index != NULL && codec != NULL && out != NULL);
  sl_term_cursor *cursor = calloc(1, sizeof *cursor);
  *out = cursor;
  if (cursor == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "%s: out of memory for a term cursor", index->path);
  }
  cursor->index = index;
  cursor->codec = codec;
  cursor->stats = stats;
  cursor->descending = descending;
  decoded_block_init(&cursor->decoded);
  cursor_start(cursor);
  return SL_OK;
}

void sl_term_cursor_close(sl_term_cursor *cursor) {
  if (cursor == NULL) {
    return;
  }
  decoded_block_free(&cursor->decoded);
  free(cursor);
}

/* Remembers the error so later calls repeat it. */
static sl_status cursor_fail(sl_term_cursor *cursor, sl_status status, const sl_error *err) {
  assert(status != SL_OK);
  cursor->failed = status;
  cursor->at_end = true;
  cursor->decoded.block = SIZE_MAX;
  if (err != NULL) {
    cursor->failure = *err;
  } else {
    sl_error_set(&cursor->failure, status, "%s: term cursor failed", cursor->index->path);
  }
  return status;
}

static sl_status cursor_repeat_failure(const sl_term_cursor *cursor, sl_error *err) {
  if (err != NULL) {
    *err = cursor->failure;
  }
  return cursor->failed;
}

static sl_status cursor_seek_term(sl_term_cursor *cursor, const uint8_t *term, size_t term_bytes,
                                  sl_error *err) {
  const sl_term_index *index = cursor->index;
  size_t after = blocks_upper_bound(index, term, term_bytes);
  if (cursor->descending) {
    cursor->at_end = after == 0;
    if (cursor->at_end) {
      return SL_OK;
    }
    cursor->block = after - 1;
    SL_TRY(load_term_block(index, cursor->codec, cursor->block, cursor->stats, &cursor->decoded, err));
    uint32_t above = block_bound(&cursor->decoded, term, term_bytes, true);
    assert(above >= 1); /* the block's first term is <= term */
    cursor->position = above - 1;
    return SL_OK;
  }
  cursor->block = after == 0 ? 0 : after - 1;
  cursor->at_end = index->block_count == 0;
  if (cursor->at_end) {
    return SL_OK;
  }
  SL_TRY(load_term_block(index, cursor->codec, cursor->block, cursor->stats, &cursor->decoded, err));
  cursor->position = block_bound(&cursor->decoded, term, term_bytes, false);
  if (cursor->position == cursor->decoded.count) {
    cursor->block++;
    cursor->position = 0;
    cursor->at_end = cursor->block == index->block_count;
  }
  return SL_OK;
}

sl_status sl_term_cursor_seek(sl_term_cursor *cursor, const void *term, size_t term_bytes,
                              sl_error *err) {
  assert(cursor != NULL);
  if (cursor->failed != SL_OK) {
    return cursor_repeat_failure(cursor, err);
  }
  if (term == NULL) {
    cursor_start(cursor);
    return SL_OK;
  }
  sl_status status = cursor_seek_term(cursor, term, term_bytes, err);
  return status == SL_OK ? SL_OK : cursor_fail(cursor, status, err);
}

static void cursor_advance(sl_term_cursor *cursor) {
  const sl_term_index *index = cursor->index;
  if (!cursor->descending) {
    cursor->position++;
    if (cursor->position == index->entries[cursor->block].term_count) {
      cursor->block++;
      cursor->position = 0;
      cursor->at_end = cursor->block == index->block_count;
    }
  } else if (cursor->position > 0) {
    cursor->position--;
  } else if (cursor->block == 0) {
    cursor->at_end = true;
  } else {
    cursor->block--;
    cursor->position = index->entries[cursor->block].term_count - 1;
  }
}

sl_status sl_term_cursor_next(sl_term_cursor *cursor, bool *valid, sl_bytes *term,
                              roaring_bitmap_t **postings, sl_error *err) {
  assert(cursor != NULL && valid != NULL && term != NULL);
  *valid = false;
  if (postings != NULL) {
    *postings = NULL;
  }
  if (cursor->failed != SL_OK) {
    return cursor_repeat_failure(cursor, err);
  }
  if (cursor->at_end) {
    return SL_OK;
  }
  sl_status status = load_term_block(cursor->index, cursor->codec, cursor->block, cursor->stats,
                                     &cursor->decoded, err);
  if (status == SL_OK && postings != NULL) {
    status = read_postings(cursor->index, cursor->codec, &cursor->decoded, cursor->position,
                           cursor->stats, postings, err);
  }
  if (status != SL_OK) {
    return cursor_fail(cursor, status, err);
  }
  size_t term_bytes = 0;
  const uint8_t *bytes = block_term(&cursor->decoded, cursor->position, &term_bytes);
  term->data = (const char *)bytes;
  term->size_bytes = term_bytes;
  *valid = true;
  cursor_advance(cursor);
  return SL_OK;
}
