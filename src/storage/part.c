/* part.c: see part.h and docs/FORMAT.md "Parts". */
#include "storage/part.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/postings.h"
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "common/timeutil.h"
#include "storage/bloom.h"
#include "storage/fileio.h"

enum {
  METADATA_VERSION = 1,
  WRITE_BUFFER_BYTES = 1 << 20,
  DIRECT_ALIGN_BYTES = 4096, /* O_DIRECT writes of part files: offsets, sizes and memory aligned to this */
  WRITE_BUFFERS_KEPT = 32,
  SMALL_FILE_MAX_BYTES = 1 << 30,
  FIXED_FILE_KINDS = 8
};

static const char footer_magic[8] = {'S', 'L', 'P', 'A', 'R', 'T', 'F', '1'};

/* ------------------------------------------------------------------ helpers */

int sl_bytes_compare(sl_bytes a, sl_bytes b) {
  size_t common = a.size_bytes < b.size_bytes ? a.size_bytes : b.size_bytes;
  int order = common > 0 ? memcmp(a.data, b.data, common) : 0;
  if (order != 0) {
    return order;
  }
  return a.size_bytes < b.size_bytes ? -1 : a.size_bytes > b.size_bytes;
}

void sl_key_from_u64(uint64_t value, uint8_t out[8]) {
  for (int i = 0; i < 8; i++) {
    out[i] = (uint8_t)(value >> (56 - 8 * i));
  }
}

uint64_t sl_key_to_u64(sl_bytes key) {
  uint64_t value = 0;
  for (size_t i = 0; i < 8 && i < key.size_bytes; i++) {
    value = value << 8 | (uint8_t)key.data[i];
  }
  return value;
}

static void put_u32le(uint8_t *out, uint32_t value) {
  for (int i = 0; i < 4; i++) {
    out[i] = (uint8_t)(value >> (8 * i));
  }
}

static void put_u64le(uint8_t *out, uint64_t value) {
  for (int i = 0; i < 8; i++) {
    out[i] = (uint8_t)(value >> (8 * i));
  }
}

static uint32_t get_u32le(const uint8_t *in) {
  return (uint32_t)in[0] | (uint32_t)in[1] << 8 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 24;
}

static uint64_t get_u64le(const uint8_t *in) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; i--) {
    value = value << 8 | in[i];
  }
  return value;
}

static sl_status put_varint(sl_buffer *out, uint64_t value, sl_error *err) {
  uint8_t bytes[SL_VARINT_MAX_BYTES];
  return sl_buffer_append(out, bytes, sl_varint_put(bytes, value), err);
}

static sl_status put_zigzag(sl_buffer *out, int64_t value, sl_error *err) {
  return put_varint(out, sl_zigzag_encode(value), err);
}

static sl_status put_bytes(sl_buffer *out, const void *data, size_t size, sl_error *err) {
  SL_TRY(put_varint(out, size, err));
  return sl_buffer_append(out, data, size, err);
}

/* A bounded reader of untrusted bytes: the first failure sticks. */
typedef struct reader {
  const uint8_t *data;
  size_t size;
  size_t offset;
  const char *path;
  uint64_t base; /* offset of data[0] in the file, for messages */
  const char *what;
  sl_error *err;
  sl_status status;
} reader;

static bool reader_fail(reader *r, const char *why) {
  if (r->status == SL_OK) {
    r->status = sl_error_set(r->err, SL_ERR_CORRUPT, "%s: offset %llu: %s: %s", r->path,
                             (unsigned long long)(r->base + r->offset), r->what, why);
  }
  return false;
}

static bool read_varint(reader *r, uint64_t *value) {
  if (r->status != SL_OK) {
    return false;
  }
  if (!sl_varint_get(r->data, r->size, &r->offset, value)) {
    return reader_fail(r, "bad or truncated varint");
  }
  return true;
}

static bool read_u32_bounded(reader *r, uint32_t *value, uint64_t max) {
  uint64_t wide = 0;
  if (!read_varint(r, &wide)) {
    return false;
  }
  if (wide > max) {
    return reader_fail(r, "value out of range");
  }
  *value = (uint32_t)wide;
  return true;
}

static bool read_zigzag(reader *r, int64_t *value) {
  uint64_t raw = 0;
  if (!read_varint(r, &raw)) {
    return false;
  }
  *value = sl_zigzag_decode(raw);
  return true;
}

static bool read_bytes(reader *r, sl_bytes *out, size_t max) {
  uint64_t length = 0;
  if (!read_varint(r, &length)) {
    return false;
  }
  if (length > r->size - r->offset || length > max) {
    return reader_fail(r, "length past the end");
  }
  out->data = (const char *)r->data + r->offset;
  out->size_bytes = (size_t)length;
  r->offset += (size_t)length;
  return true;
}

static bool read_fixed(reader *r, void *out, size_t size) {
  if (r->status != SL_OK) {
    return false;
  }
  if (size > r->size - r->offset) {
    return reader_fail(r, "truncated");
  }
  memcpy(out, r->data + r->offset, size);
  r->offset += size;
  return true;
}

static sl_bytes arena_copy_bytes(sl_arena *arena, sl_bytes in, bool *ok) {
  sl_bytes out = {.data = "", .size_bytes = in.size_bytes};
  if (in.size_bytes > 0) {
    char *copy = sl_arena_alloc_uninit(arena, in.size_bytes);
    if (copy == NULL) {
      *ok = false;
      return (sl_bytes){0};
    }
    memcpy(copy, in.data, in.size_bytes);
    out.data = copy;
  }
  return out;
}

/* ------------------------------------------------------------------ layout */

static bool name_is_safe(const char *name) {
  size_t length = strlen(name);
  if (length == 0 || length >= SL_PART_NAME_BYTES - 8 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
    return false;
  }
  for (size_t i = 0; i < length; i++) {
    if (name[i] == '/' || (unsigned char)name[i] < 0x20) {
      return false;
    }
  }
  return true;
}

uint32_t sl_layout_add_file(sl_part_layout *layout, const char *name) {
  assert(layout->file_count < SL_PART_MAX_FILES);
  snprintf(layout->file_names[layout->file_count], SL_PART_NAME_BYTES, "%s", name);
  return layout->file_count++;
}

uint32_t sl_layout_add_column(sl_part_layout *layout, const char *name, sl_column_type type, uint32_t file) {
  assert(layout->column_count < SL_PART_MAX_COLUMNS && file < layout->file_count);
  sl_column_spec *column = &layout->columns[layout->column_count];
  sl_fileio_path(column->name, sizeof column->name, "%s", name);
  column->type = type;
  column->file = file;
  return layout->column_count++;
}

uint32_t sl_layout_add_index(sl_part_layout *layout, const char *name, uint32_t column) {
  assert(layout->index_count < SL_PART_MAX_INDEXES && column < layout->column_count);
  snprintf(layout->indexes[layout->index_count].name, SL_PART_NAME_BYTES, "%s", name);
  layout->indexes[layout->index_count].column = column;
  return layout->index_count++;
}

sl_status sl_layout_validate(const sl_part_layout *layout, sl_error *err) {
  if (layout->column_count == 0 || layout->column_count > SL_PART_MAX_COLUMNS ||
      layout->file_count > SL_PART_MAX_FILES || layout->index_count > SL_PART_MAX_INDEXES) {
    return sl_error_set(err, SL_ERR_INVALID, "part layout: bad column, file or index count");
  }
  if (layout->sort_column >= layout->column_count ||
      (layout->columns[layout->sort_column].type != SL_COLUMN_INT64 &&
       layout->columns[layout->sort_column].type != SL_COLUMN_TIMESTAMP)) {
    return sl_error_set(err, SL_ERR_INVALID, "part layout: the sort column must be an int64 or timestamp column");
  }
  if (layout->timestamp_column >= (int32_t)layout->column_count) {
    return sl_error_set(err, SL_ERR_INVALID, "part layout: bad timestamp column");
  }
  for (uint32_t f = 0; f < layout->file_count; f++) {
    if (!name_is_safe(layout->file_names[f])) {
      return sl_error_set(err, SL_ERR_INVALID, "part layout: file name \"%s\" is not usable", layout->file_names[f]);
    }
    for (uint32_t g = 0; g < f; g++) {
      if (strcmp(layout->file_names[f], layout->file_names[g]) == 0) {
        return sl_error_set(err, SL_ERR_INVALID, "part layout: file \"%s\" twice", layout->file_names[f]);
      }
    }
  }
  for (uint32_t i = 0; i < layout->index_count; i++) {
    if (!name_is_safe(layout->indexes[i].name) || layout->indexes[i].column >= layout->column_count) {
      return sl_error_set(err, SL_ERR_INVALID, "part layout: index \"%s\" is not usable", layout->indexes[i].name);
    }
  }
  return SL_OK;
}

static bool is_int_column(sl_column_type type) { return type == SL_COLUMN_INT64 || type == SL_COLUMN_TIMESTAMP; }

size_t sl_column_value_raw_bytes(sl_column_type type, const sl_value *value) {
  if (value == NULL || value->kind == SL_VALUE_NULL) {
    return 0;
  }
  return is_int_column(type) ? 8 : value->as.str.size_bytes;
}

/* ------------------------------------------------------------------ footer */

void sl_part_footer_encode(sl_part_file_kind kind, const uint8_t *content, uint64_t content_bytes,
                           uint8_t out[SL_PART_FOOTER_BYTES]) {
  memcpy(out, footer_magic, 8);
  put_u32le(out + 8, (uint32_t)kind);
  put_u32le(out + 12, 0);
  put_u64le(out + 16, content_bytes);
  put_u64le(out + 24, content != NULL ? XXH64(content, (size_t)content_bytes, 0) : 0);
  put_u64le(out + 32, XXH64(out, 32, 0));
}

static void footer_from_hash(sl_part_file_kind kind, uint64_t content_bytes, uint64_t content_hash,
                             uint8_t out[SL_PART_FOOTER_BYTES]) {
  memcpy(out, footer_magic, 8);
  put_u32le(out + 8, (uint32_t)kind);
  put_u32le(out + 12, 0);
  put_u64le(out + 16, content_bytes);
  put_u64le(out + 24, content_hash);
  put_u64le(out + 32, XXH64(out, 32, 0));
}

sl_status sl_part_footer_check(const uint8_t footer[SL_PART_FOOTER_BYTES], uint64_t file_bytes,
                               sl_part_file_kind kind, const uint8_t *content, const char *path,
                               uint64_t *content_bytes, sl_error *err) {
  uint64_t footer_offset = file_bytes >= SL_PART_FOOTER_BYTES ? file_bytes - SL_PART_FOOTER_BYTES : 0;
  if (file_bytes < SL_PART_FOOTER_BYTES) {
    return sl_error_set(err, SL_ERR_CORRUPT, "%s: offset 0: the file has %llu bytes, too short for its %d-byte footer",
                        path, (unsigned long long)file_bytes, SL_PART_FOOTER_BYTES);
  }
  if (memcmp(footer, footer_magic, 8) != 0) {
    return sl_error_set(err, SL_ERR_CORRUPT, "%s: offset %llu: footer magic is not SLPARTF1 (truncated or not a part file)",
                        path, (unsigned long long)footer_offset);
  }
  if (get_u64le(footer + 32) != XXH64(footer, 32, 0)) {
    return sl_error_set(err, SL_ERR_CORRUPT, "%s: offset %llu: footer checksum mismatch", path,
                        (unsigned long long)(footer_offset + 32));
  }
  if (get_u32le(footer + 8) != (uint32_t)kind) {
    return sl_error_set(err, SL_ERR_CORRUPT, "%s: offset %llu: file kind %u, expected %u", path,
                        (unsigned long long)(footer_offset + 8), get_u32le(footer + 8), (unsigned)kind);
  }
  uint64_t declared = get_u64le(footer + 16);
  if (declared != footer_offset) {
    return sl_error_set(err, SL_ERR_CORRUPT, "%s: offset %llu: footer says %llu content bytes, the file has %llu",
                        path, (unsigned long long)(footer_offset + 16), (unsigned long long)declared,
                        (unsigned long long)footer_offset);
  }
  if (content != NULL && XXH64(content, (size_t)declared, 0) != get_u64le(footer + 24)) {
    return sl_error_set(err, SL_ERR_CORRUPT, "%s: offset 0: content checksum mismatch over %llu bytes", path,
                        (unsigned long long)declared);
  }
  if (content_bytes != NULL) {
    *content_bytes = declared;
  }
  return SL_OK;
}

/* ------------------------------------------------------------------ read context */

sl_status sl_read_context_init(sl_read_context *context, sl_error *err) {
  memset(context, 0, sizeof *context);
  context->codec = sl_codec_new();
  context->arena = sl_arena_new(64 * 1024);
  if (context->codec == NULL || context->arena == NULL) {
    sl_read_context_free(context);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory creating a read context");
  }
  return SL_OK;
}

void sl_read_context_reset(sl_read_context *context) {
  if (context->arena != NULL) {
    sl_arena_reset(context->arena);
  }
}

void sl_read_context_free(sl_read_context *context) {
  if (context == NULL) {
    return;
  }
  sl_codec_free(context->codec);
  sl_arena_free(context->arena);
  sl_buffer_free(&context->scratch);
  sl_buffer_free(&context->scratch2);
  memset(context, 0, sizeof *context);
}

enum { POOL_KEEP = 16 };

struct sl_context_pool {
  pthread_mutex_t lock;
  sl_read_context *free_list[POOL_KEEP];
  size_t count;
};

sl_context_pool *sl_context_pool_new(void) {
  sl_context_pool *pool = calloc(1, sizeof *pool);
  if (pool != NULL && pthread_mutex_init(&pool->lock, NULL) != 0) {
    free(pool);
    return NULL;
  }
  return pool;
}

void sl_context_pool_free(sl_context_pool *pool) {
  if (pool == NULL) {
    return;
  }
  for (size_t i = 0; i < pool->count; i++) {
    sl_read_context_free(pool->free_list[i]);
    free(pool->free_list[i]);
  }
  pthread_mutex_destroy(&pool->lock);
  free(pool);
}

sl_status sl_context_pool_take(sl_context_pool *pool, sl_read_context **out, sl_error *err) {
  pthread_mutex_lock(&pool->lock);
  sl_read_context *context = pool->count > 0 ? pool->free_list[--pool->count] : NULL;
  pthread_mutex_unlock(&pool->lock);
  if (context == NULL) {
    context = malloc(sizeof *context);
    if (context == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    sl_status status = sl_read_context_init(context, err);
    if (status != SL_OK) {
      free(context);
      return status;
    }
  }
  *out = context;
  return SL_OK;
}

void sl_context_pool_give(sl_context_pool *pool, sl_read_context *context) {
  if (context == NULL) {
    return;
  }
  sl_read_context_reset(context);
  memset(&context->stats, 0, sizeof context->stats);
  pthread_mutex_lock(&pool->lock);
  bool kept = pool->count < POOL_KEEP;
  if (kept) {
    pool->free_list[pool->count++] = context;
  }
  pthread_mutex_unlock(&pool->lock);
  if (!kept) {
    sl_read_context_free(context);
    free(context);
  }
}

/* ------------------------------------------------------------------ the part */

typedef struct loaded_chunk {
  sl_block_meta *blocks;
  size_t count;
  struct loaded_chunk *next_retired; /* dropped from the cache, freed with the part */
} loaded_chunk;

typedef struct part_index {
  sl_term_list *list;   /* memory parts */
  int fd;               /* file parts */
  sl_term_index *file;
  uint64_t bytes;
  uint64_t terms;
} part_index;

struct sl_part {
  atomic_int ref_count;
  atomic_bool obsolete;
  sl_part_layout layout;
  sl_part_info info;
  sl_column_stats column_stats[SL_PART_MAX_COLUMNS];
  sl_arena *arena; /* keys, chunk infos, series, loaded chunks */
  char *dir;
  pthread_mutex_t lock; /* chunk loading */
  size_t chunk_count;
  sl_chunk_info *chunks;
  _Atomic(loaded_chunk *) *loaded;
  loaded_chunk *retired; /* chunks dropped by sl_part_drop_caches: readers may still hold them */
  /* memory parts */
  size_t block_count;
  sl_block_meta *blocks;
  sl_column_ref *refs;
  int64_t *ints[SL_PART_MAX_COLUMNS];
  sl_bytes *bytes[SL_PART_MAX_COLUMNS];
  uint8_t *nulls[SL_PART_MAX_COLUMNS];
  /* file parts */
  int column_fds[SL_PART_MAX_FILES];
  uint64_t column_file_bytes[SL_PART_MAX_FILES];
  uint64_t column_content_bytes[SL_PART_MAX_FILES];
  const uint8_t *column_maps[SL_PART_MAX_FILES]; /* whole files, read-only */
  int primary_fd;
  uint64_t primary_content_bytes;
  const uint8_t *primary_map;
  uint64_t fixed_bytes[FIXED_FILE_KINDS];
  /* both */
  size_t series_count;
  sl_series_entry *series;
  bool has_bloom;
  sl_bloom bloom;
  part_index indexes[SL_PART_MAX_INDEXES];
};

static sl_part *part_new(const sl_part_layout *layout, uint64_t id) {
  sl_part *part = calloc(1, sizeof *part);
  if (part == NULL) {
    return NULL;
  }
  part->arena = sl_arena_new(64 * 1024);
  if (part->arena == NULL || pthread_mutex_init(&part->lock, NULL) != 0) {
    sl_arena_free(part->arena);
    free(part);
    return NULL;
  }
  atomic_init(&part->ref_count, 1);
  atomic_init(&part->obsolete, false);
  part->layout = *layout;
  part->info.id = id;
  part->info.created_ns = sl_monotonic_ns();
  part->primary_fd = -1;
  for (size_t f = 0; f < SL_PART_MAX_FILES; f++) {
    part->column_fds[f] = -1;
  }
  for (size_t i = 0; i < SL_PART_MAX_INDEXES; i++) {
    part->indexes[i].fd = -1;
  }
  return part;
}


static void part_free(sl_part *part) {
  if (part == NULL) {
    return;
  }
  for (size_t c = 0; part->loaded != NULL && part->dir != NULL && c < part->chunk_count; c++) {
    free(atomic_load(&part->loaded[c]));
  }
  free((void *)part->loaded);
  while (part->retired != NULL) {
    loaded_chunk *next = part->retired->next_retired;
    free(part->retired);
    part->retired = next;
  }
  for (uint32_t c = 0; c < SL_PART_MAX_COLUMNS; c++) {
    free(part->ints[c]);
    free(part->bytes[c]);
    free(part->nulls[c]);
  }
  free(part->blocks);
  free(part->refs);
  for (uint32_t f = 0; f < SL_PART_MAX_FILES; f++) {
    if (part->column_maps[f] != NULL) {
      munmap((void *)part->column_maps[f], (size_t)part->column_file_bytes[f]);
    }
    if (part->column_fds[f] >= 0) {
      close(part->column_fds[f]);
    }
  }
  if (part->primary_map != NULL) {
    munmap((void *)part->primary_map, (size_t)part->fixed_bytes[SL_PART_FILE_PRIMARY]);
  }
  if (part->primary_fd >= 0) {
    close(part->primary_fd);
  }
  for (uint32_t i = 0; i < SL_PART_MAX_INDEXES; i++) {
    sl_term_list_free(part->indexes[i].list);
    sl_term_index_close(part->indexes[i].file);
    if (part->indexes[i].fd >= 0) {
      close(part->indexes[i].fd);
    }
  }
  if (part->has_bloom) {
    sl_bloom_free(&part->bloom);
  }
  if (part->dir != NULL && atomic_load(&part->obsolete)) {
    sl_fileio_remove_tree(part->dir);
  }
  free(part->dir);
  pthread_mutex_destroy(&part->lock);
  sl_arena_free(part->arena);
  free(part);
}

void sl_part_ref(sl_part *part) {
  int before = atomic_fetch_add(&part->ref_count, 1);
  assert(before > 0);
  (void)before;
}

void sl_part_unref(sl_part *part) {
  if (part == NULL) {
    return;
  }
  int before = atomic_fetch_sub(&part->ref_count, 1);
  assert(before > 0);
  if (before == 1) {
    part_free(part);
  }
}

void sl_part_mark_obsolete(sl_part *part) { atomic_store(&part->obsolete, true); }

void sl_part_release_pages(sl_part *part) {
  for (uint32_t f = 0; f < part->layout.file_count; f++) {
    if (part->column_maps[f] != NULL) {
      (void)madvise((void *)part->column_maps[f], (size_t)part->column_file_bytes[f], MADV_DONTNEED);
    }
  }
  if (part->primary_map != NULL) {
    (void)madvise((void *)part->primary_map, (size_t)part->fixed_bytes[SL_PART_FILE_PRIMARY], MADV_DONTNEED);
  }
}

const sl_part_layout *sl_part_layout_of(const sl_part *part) { return &part->layout; }
sl_part_info sl_part_info_of(const sl_part *part) { return part->info; }

void sl_part_set_memory_sequences(sl_part *part, uint64_t first_sequence, uint64_t last_sequence) {
  assert(part != NULL && part->info.in_memory && first_sequence <= last_sequence);
  part->info.first_sequence = first_sequence;
  part->info.last_sequence = last_sequence;
}
const char *sl_part_dir(const sl_part *part) { return part->dir; }
const sl_column_stats *sl_part_column_stats(const sl_part *part) { return part->column_stats; }
size_t sl_part_chunk_count(const sl_part *part) { return part->chunk_count; }

const sl_chunk_info *sl_part_chunk(const sl_part *part, size_t chunk) {
  assert(chunk < part->chunk_count);
  return &part->chunks[chunk];
}

uint64_t sl_part_file_bytes(const sl_part *part, sl_part_file_kind kind, uint32_t layout_file) {
  if (kind == SL_PART_FILE_COLUMNS) {
    return layout_file < part->layout.file_count ? part->column_file_bytes[layout_file] : 0;
  }
  if (kind == SL_PART_FILE_INDEX) {
    return layout_file < part->layout.index_count ? part->indexes[layout_file].bytes : 0;
  }
  return (unsigned)kind < FIXED_FILE_KINDS ? part->fixed_bytes[kind] : 0;
}

size_t sl_part_series_count(const sl_part *part) { return part->series_count; }

const sl_series_entry *sl_part_series_at(const sl_part *part, size_t index) {
  assert(index < part->series_count);
  return &part->series[index];
}

bool sl_part_key_might_exist(const sl_part *part, sl_bytes key, sl_read_context *context) {
  if (!part->has_bloom) {
    return true;
  }
  bool maybe = sl_bloom_might_contain(&part->bloom, key.data, key.size_bytes);
  if (context != NULL) {
    context->stats.bloom_checks++;
    context->stats.bloom_negatives += !maybe;
  }
  return maybe;
}

size_t sl_part_chunk_lower_bound(const sl_part *part, sl_bytes key) {
  size_t low = 0, high = part->chunk_count;
  while (low < high) {
    size_t middle = low + (high - low) / 2;
    if (sl_bytes_compare(part->chunks[middle].last_key, key) < 0) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return low;
}

/* ---- chunk loading (file parts) ---- */

static sl_status pread_exact(int fd, uint64_t offset, size_t size, sl_buffer *into, const char *path,
                             sl_read_stats *stats, sl_error *err) {
  into->size = 0;
  SL_TRY(sl_buffer_reserve(into, size + 1, err));
  size_t done = 0;
  while (done < size) {
    ssize_t got = pread(fd, into->data + done, size - done, (off_t)(offset + done));
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0) {
      return sl_fileio_errno_error(err, errno, "read", path);
    }
    if (got == 0) {
      return sl_error_set(err, SL_ERR_CORRUPT, "%s: offset %llu: file ends %zu bytes early", path,
                          (unsigned long long)(offset + done), size - done);
    }
    done += (size_t)got;
  }
  into->size = size;
  if (stats != NULL) {
    stats->bytes_read += size;
  }
  return SL_OK;
}

static void path_of(const sl_part *part, const char *file, char *out, size_t out_bytes) {
  sl_fileio_path(out, out_bytes, "%s/%s", part->dir != NULL ? part->dir : "(memory)", file);
}

static sl_status decode_chunk(sl_part *part, size_t chunk_index, const uint8_t *raw, size_t raw_size,
                              loaded_chunk **out, sl_error *err) {
  const sl_chunk_info *chunk = &part->chunks[chunk_index];
  uint32_t columns = part->layout.column_count;
  size_t count = chunk->block_count;
  /* One allocation: the chunk, its blocks, their column refs, a copy of the raw bytes (keys point into it). */
  size_t bytes = sizeof(loaded_chunk) + count * sizeof(sl_block_meta) + count * columns * sizeof(sl_column_ref) + raw_size;
  loaded_chunk *loaded = malloc(bytes);
  if (loaded == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory loading a chunk of %zu blocks", count);
  }
  loaded->blocks = (sl_block_meta *)(loaded + 1);
  sl_column_ref *refs = (sl_column_ref *)(loaded->blocks + count);
  uint8_t *copy = (uint8_t *)(refs + count * columns);
  memcpy(copy, raw, raw_size);
  loaded->count = count;
  loaded->next_retired = NULL;
  char path[4096];
  path_of(part, "primary.bin", path, sizeof path);
  reader r = {.data = copy, .size = raw_size, .path = path, .base = chunk->offset, .what = "block metadata", .err = err};
  uint64_t row = chunk->first_row;
  sl_bytes previous = {0};
  for (size_t b = 0; b < count && r.status == SL_OK; b++) {
    sl_block_meta *block = &loaded->blocks[b];
    memset(block, 0, sizeof *block);
    block->columns = refs + b * columns;
    uint64_t first_row = 0;
    read_bytes(&r, &block->key, SL_PART_MAX_KEY_BYTES);
    read_u32_bounded(&r, &block->rows, UINT32_MAX);
    read_varint(&r, &first_row);
    read_zigzag(&r, &block->min_sort);
    read_zigzag(&r, &block->max_sort);
    read_zigzag(&r, &block->min_timestamp);
    read_zigzag(&r, &block->max_timestamp);
    for (uint32_t c = 0; c < columns && r.status == SL_OK; c++) {
      sl_column_ref *ref = &refs[b * columns + c];
      memset(ref, 0, sizeof *ref);
      read_varint(&r, &ref->offset);
      read_varint(&r, &ref->size);
      read_u32_bounded(&r, &ref->null_count, block->rows);
      if (is_int_column(part->layout.columns[c].type)) {
        read_zigzag(&r, &ref->min);
        read_zigzag(&r, &ref->max);
      }
      uint64_t limit = part->column_content_bytes[part->layout.columns[c].file];
      if (r.status == SL_OK && (ref->offset > limit || ref->size > limit - ref->offset)) {
        reader_fail(&r, "a column block lies past the end of its file");
      }
    }
    if (r.status != SL_OK) {
      break;
    }
    if (block->rows == 0 || first_row != row || block->min_sort > block->max_sort ||
        (b > 0 && sl_bytes_compare(previous, block->key) > 0)) {
      reader_fail(&r, "blocks out of order or inconsistent row counts");
      break;
    }
    block->first_row = first_row;
    row += block->rows;
    previous = block->key;
  }
  if (r.status == SL_OK && (r.offset != raw_size || row != chunk->first_row + chunk->row_count)) {
    reader_fail(&r, "the chunk's blocks do not add up to its rows");
  }
  if (r.status != SL_OK) {
    free(loaded);
    return r.status;
  }
  *out = loaded;
  return SL_OK;
}

sl_status sl_part_chunk_blocks(sl_part *part, size_t chunk, sl_read_context *context,
                               const sl_block_meta **blocks, size_t *count, sl_error *err) {
  assert(chunk < part->chunk_count);
  if (part->dir == NULL) {
    size_t first = part->chunks[chunk].first_block;
    *blocks = part->blocks + first;
    *count = part->chunks[chunk].block_count;
    return SL_OK;
  }
  loaded_chunk *loaded = atomic_load_explicit(&part->loaded[chunk], memory_order_acquire);
  if (loaded != NULL) {
    context->stats.chunk_cache_hits++;
    *blocks = loaded->blocks;
    *count = loaded->count;
    return SL_OK;
  }
  pthread_mutex_lock(&part->lock);
  loaded = atomic_load_explicit(&part->loaded[chunk], memory_order_acquire);
  sl_status status = SL_OK;
  if (loaded == NULL) {
    char path[4096];
    path_of(part, "primary.bin", path, sizeof path);
    const sl_chunk_info *info = &part->chunks[chunk];
    const uint8_t *frame = part->primary_map + info->offset;
    context->stats.bytes_read += info->size;
    const uint8_t *raw = NULL;
    size_t raw_size = 0, used = 0;
    if (status == SL_OK) {
      status = sl_block_decode(context->codec, frame, (size_t)info->size, &context->scratch2, &raw,
                               &raw_size, &used, err);
      if (status != SL_OK) {
        sl_error_prefix(err, "%s: chunk at offset %llu", path, (unsigned long long)info->offset);
      } else if (used != info->size) {
        status = sl_error_set(err, SL_ERR_CORRUPT, "%s: offset %llu: chunk frame is %zu bytes, meta.bin says %llu", path,
                              (unsigned long long)info->offset, used, (unsigned long long)info->size);
      }
    }
    if (status == SL_OK) {
      context->stats.bytes_decompressed += raw_size;
      status = decode_chunk(part, chunk, raw, raw_size, &loaded, err);
    }
    if (status == SL_OK) {
      context->stats.chunks_loaded++;
      atomic_store_explicit(&part->loaded[chunk], loaded, memory_order_release);
    }
  } else {
    context->stats.chunk_cache_hits++;
  }
  pthread_mutex_unlock(&part->lock);
  if (status == SL_OK) {
    *blocks = loaded->blocks;
    *count = loaded->count;
  }
  return status;
}

sl_status sl_part_block_of_row(sl_part *part, uint64_t row, sl_read_context *context,
                               const sl_block_meta **block, uint32_t *row_in_block, sl_error *err) {
  if (row >= part->info.rows) {
    return sl_error_set(err, SL_ERR_CORRUPT, "part %016llx: row %llu is past its %llu rows", (unsigned long long)part->info.id,
                        (unsigned long long)row, (unsigned long long)part->info.rows);
  }
  size_t low = 0, high = part->chunk_count;
  while (high - low > 1) {
    size_t middle = low + (high - low) / 2;
    if (part->chunks[middle].first_row <= row) {
      low = middle;
    } else {
      high = middle;
    }
  }
  const sl_block_meta *blocks = NULL;
  size_t count = 0;
  SL_TRY(sl_part_chunk_blocks(part, low, context, &blocks, &count, err));
  size_t first = 0, last = count;
  while (last - first > 1) {
    size_t middle = first + (last - first) / 2;
    if (blocks[middle].first_row <= row) {
      first = middle;
    } else {
      last = middle;
    }
  }
  assert(count > 0 && blocks[first].first_row <= row && row < blocks[first].first_row + blocks[first].rows);
  *block = &blocks[first];
  *row_in_block = (uint32_t)(row - blocks[first].first_row);
  return SL_OK;
}

/* ---- column reads ---- */

sl_status sl_part_read_column_raw(sl_part *part, const sl_block_meta *block, uint32_t column,
                                  sl_read_context *context, const uint8_t **data, sl_error *err) {
  assert(part->dir != NULL && column < part->layout.column_count);
  const sl_column_ref *ref = &block->columns[column];
  uint32_t file = part->layout.columns[column].file;
  (void)err;
  *data = part->column_maps[file] + ref->offset;
  context->stats.bytes_read += ref->size;
  return SL_OK;
}

static sl_status decode_values(sl_column_type type, const uint8_t *data, size_t size, size_t count, int64_t *ints,
                               sl_bytes *bytes, sl_error *err) {
  switch (type) {
    case SL_COLUMN_INT64: return sl_decode_int64s(data, size, count, ints, err);
    case SL_COLUMN_TIMESTAMP: return sl_decode_timestamps(data, size, count, ints, err);
    case SL_COLUMN_STRING:
    case SL_COLUMN_BINARY: return sl_decode_strings(data, size, count, bytes, err);
  }
  return sl_error_set(err, SL_ERR_INTERNAL, "unknown column type %d", (int)type);
}

sl_status sl_part_read_column(sl_part *part, const sl_block_meta *block, uint32_t column,
                              sl_read_context *context, sl_column_view *out, sl_error *err) {
  assert(column < part->layout.column_count);
  sl_column_type type = part->layout.columns[column].type;
  memset(out, 0, sizeof *out);
  out->type = type;
  out->count = block->rows;
  if (part->dir == NULL) {
    uint64_t first = block->first_row;
    out->ints = part->ints[column] != NULL ? part->ints[column] + first : NULL;
    out->bytes = part->bytes[column] != NULL ? part->bytes[column] + first : NULL;
    out->is_null = block->columns[column].null_count > 0 ? part->nulls[column] + first : NULL;
    context->stats.blocks_read++; /* read, not decoded: index utilisation counts it as file parts' */
    return SL_OK;
  }
  uint32_t file = part->layout.columns[column].file;
  char path[4096];
  path_of(part, part->layout.file_names[file], path, sizeof path);
  const sl_column_ref *ref = &block->columns[column];
  const uint8_t *frame = part->column_maps[file] + ref->offset;
  context->stats.bytes_read += ref->size;
  const uint8_t *raw = NULL;
  size_t raw_size = 0, used = 0;
  sl_status status = sl_block_decode(context->codec, frame, (size_t)ref->size, &context->scratch2,
                                     &raw, &raw_size, &used, err);
  if (status == SL_OK && used != ref->size) {
    status = sl_error_set(err, SL_ERR_CORRUPT, "block frame is %zu bytes, its metadata says %llu", used,
                          (unsigned long long)ref->size);
  }
  if (status != SL_OK) {
    return sl_error_prefix(err, "%s: column %s of block at offset %llu", path, part->layout.columns[column].name,
                           (unsigned long long)ref->offset);
  }
  context->stats.blocks_read++;
  context->stats.bytes_decompressed += raw_size;
  size_t rows = block->rows;
  size_t nulls = ref->null_count;
  const uint8_t *bitmap = NULL;
  if (nulls > 0) {
    size_t bitmap_bytes = (rows + 7) / 8;
    if (raw_size < bitmap_bytes) {
      return sl_error_set(err, SL_ERR_CORRUPT, "%s: block at offset %llu: column %s: null bitmap truncated", path,
                          (unsigned long long)ref->offset, part->layout.columns[column].name);
    }
    bitmap = raw;
    raw += bitmap_bytes;
    raw_size -= bitmap_bytes;
  }
  size_t present = rows - nulls;
  int64_t *ints = is_int_column(type) ? sl_arena_alloc_uninit(context->arena, (rows + 1) * sizeof(int64_t)) : NULL;
  sl_bytes *bytes = !is_int_column(type) ? sl_arena_alloc_uninit(context->arena, (rows + 1) * sizeof(sl_bytes)) : NULL;
  /* Strings point into the decoded bytes: into the file map when stored raw, else into the
   * decompression buffer, which the next read reuses: keep a copy of those in the arena. */
  bool decompressed = raw_size > 0 && context->scratch2.data != NULL && raw >= context->scratch2.data &&
                      raw < context->scratch2.data + context->scratch2.capacity; /* no arithmetic on NULL (UB) */
  uint8_t *keep = !is_int_column(type) && decompressed ? sl_arena_alloc_uninit(context->arena, raw_size) : NULL;
  uint8_t *flags = nulls > 0 ? sl_arena_alloc(context->arena, rows) : NULL;
  if ((ints == NULL && bytes == NULL) || (!is_int_column(type) && decompressed && keep == NULL) ||
      (nulls > 0 && flags == NULL)) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory decoding a column of %zu rows", rows);
  }
  if (keep != NULL) {
    memcpy(keep, raw, raw_size);
    raw = keep;
  }
  status = decode_values(type, raw, raw_size, present, ints, bytes, err);
  if (status != SL_OK) {
    return sl_error_prefix(err, "%s: block at offset %llu: column %s", path, (unsigned long long)ref->offset,
                           part->layout.columns[column].name);
  }
  if (nulls > 0) {
    size_t seen = 0;
    for (size_t i = 0; i < rows; i++) {
      flags[i] = (uint8_t)((bitmap[i / 8] >> (i % 8)) & 1);
      seen += flags[i];
    }
    if (seen != nulls) {
      return sl_error_set(err, SL_ERR_CORRUPT, "%s: block at offset %llu: column %s: %zu nulls in the bitmap, %zu expected",
                          path, (unsigned long long)ref->offset, part->layout.columns[column].name, seen, nulls);
    }
    /* Spread the present values to their rows, from the back. */
    size_t next = present;
    for (size_t i = rows; i-- > 0;) {
      if (flags[i]) {
        if (ints != NULL) {
          ints[i] = 0;
        } else {
          bytes[i] = (sl_bytes){0};
        }
      } else {
        next--;
        if (ints != NULL) {
          ints[i] = ints[next];
        } else {
          bytes[i] = bytes[next];
        }
      }
    }
  }
  out->ints = ints;
  out->bytes = bytes;
  out->is_null = flags;
  return SL_OK;
}

/* ---- term indexes ---- */

uint64_t sl_part_index_terms(const sl_part *part, uint32_t index) {
  assert(index < part->layout.index_count);
  return part->indexes[index].terms;
}

uint64_t sl_part_index_bytes(const sl_part *part, uint32_t index) {
  assert(index < part->layout.index_count);
  return part->indexes[index].bytes;
}

sl_status sl_part_index_lookup(sl_part *part, uint32_t index, sl_bytes term, sl_read_context *context,
                               roaring_bitmap_t **out, sl_error *err) {
  assert(index < part->layout.index_count);
  *out = NULL;
  const part_index *entry = &part->indexes[index];
  context->stats.postings_read++;
  if (entry->list != NULL) {
    size_t at = sl_term_list_lower_bound(entry->list, term.data, term.size_bytes);
    if (at < sl_term_list_count(entry->list) && sl_bytes_compare(sl_term_list_term(entry->list, at), term) == 0) {
      *out = roaring_bitmap_copy(sl_term_list_postings(entry->list, at));
      if (*out == NULL) {
        return sl_error_set(err, SL_ERR_NOMEM, "out of memory copying a posting list");
      }
    }
    return SL_OK;
  }
  if (entry->file == NULL) {
    return SL_OK;
  }
  sl_term_stats stats = {0};
  sl_status status = sl_term_index_lookup(entry->file, term.data, term.size_bytes, context->codec, &stats, out, err);
  context->stats.bytes_decompressed += stats.bytes_decompressed;
  context->stats.bytes_read += stats.postings_bytes_read;
  return status;
}

sl_status sl_part_index_range(sl_part *part, uint32_t index, const sl_bytes *low, const sl_bytes *high,
                              sl_read_context *context, roaring_bitmap_t **out, sl_error *err) {
  assert(index < part->layout.index_count);
  const part_index *entry = &part->indexes[index];
  context->stats.postings_read++;
  if (entry->list != NULL) {
    *out = roaring_bitmap_create();
    if (*out == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    size_t count = sl_term_list_count(entry->list);
    size_t at = low != NULL ? sl_term_list_lower_bound(entry->list, low->data, low->size_bytes) : 0;
    for (; at < count; at++) {
      if (high != NULL && sl_bytes_compare(sl_term_list_term(entry->list, at), *high) > 0) {
        break;
      }
      roaring_bitmap_or_inplace(*out, sl_term_list_postings(entry->list, at));
    }
    return SL_OK;
  }
  if (entry->file == NULL) {
    *out = roaring_bitmap_create();
    return *out != NULL ? SL_OK : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  sl_term_stats stats = {0};
  sl_status status = sl_term_index_range(entry->file, low ? low->data : NULL, low ? low->size_bytes : 0,
                                         high ? high->data : NULL, high ? high->size_bytes : 0, context->codec, &stats, out,
                                         NULL, err);
  context->stats.bytes_decompressed += stats.bytes_decompressed;
  context->stats.bytes_read += stats.postings_bytes_read;
  return status;
}

struct sl_part_term_cursor {
  sl_part *part;
  const sl_term_list *list;
  bool descending;
  size_t position; /* memory: next index (ascending) or one past it (descending) */
  sl_term_cursor *file;
};

sl_status sl_part_term_cursor_open(sl_part *part, uint32_t index, bool descending, sl_read_context *context,
                                   sl_part_term_cursor **out, sl_error *err) {
  assert(index < part->layout.index_count);
  sl_part_term_cursor *cursor = calloc(1, sizeof *cursor);
  if (cursor == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  cursor->part = part;
  cursor->descending = descending;
  const part_index *entry = &part->indexes[index];
  if (entry->list != NULL) {
    cursor->list = entry->list;
    cursor->position = descending ? sl_term_list_count(entry->list) : 0;
  } else if (entry->file != NULL) {
    sl_status status = sl_term_cursor_open(entry->file, context->codec, descending, NULL, &cursor->file, err);
    if (status != SL_OK) {
      free(cursor);
      return status;
    }
  }
  *out = cursor;
  return SL_OK;
}

sl_status sl_part_term_cursor_seek(sl_part_term_cursor *cursor, const sl_bytes *term, sl_error *err) {
  if (cursor->list != NULL) {
    size_t count = sl_term_list_count(cursor->list);
    if (term == NULL) {
      cursor->position = cursor->descending ? count : 0;
      return SL_OK;
    }
    size_t at = sl_term_list_lower_bound(cursor->list, term->data, term->size_bytes);
    if (cursor->descending) {
      /* last term <= term: one past it is the first term > term */
      if (at < count && sl_bytes_compare(sl_term_list_term(cursor->list, at), *term) == 0) {
        at++;
      }
    }
    cursor->position = at;
    return SL_OK;
  }
  if (cursor->file == NULL) {
    return SL_OK;
  }
  return sl_term_cursor_seek(cursor->file, term ? term->data : NULL, term ? term->size_bytes : 0, err);
}

sl_status sl_part_term_cursor_next(sl_part_term_cursor *cursor, bool *valid, sl_bytes *term,
                                   roaring_bitmap_t **postings, sl_error *err) {
  *valid = false;
  if (postings != NULL) {
    *postings = NULL;
  }
  if (cursor->list != NULL) {
    size_t count = sl_term_list_count(cursor->list);
    size_t at;
    if (cursor->descending) {
      if (cursor->position == 0) {
        return SL_OK;
      }
      at = --cursor->position;
    } else {
      if (cursor->position >= count) {
        return SL_OK;
      }
      at = cursor->position++;
    }
    *valid = true;
    *term = sl_term_list_term(cursor->list, at);
    if (postings != NULL) {
      *postings = roaring_bitmap_copy(sl_term_list_postings(cursor->list, at));
      if (*postings == NULL) {
        return sl_error_set(err, SL_ERR_NOMEM, "out of memory copying a posting list");
      }
    }
    return SL_OK;
  }
  if (cursor->file == NULL) {
    return SL_OK;
  }
  return sl_term_cursor_next(cursor->file, valid, term, postings, err);
}

void sl_part_term_cursor_close(sl_part_term_cursor *cursor) {
  if (cursor != NULL) {
    sl_term_cursor_close(cursor->file);
    free(cursor);
  }
}

void sl_part_drop_caches(sl_part *part) {
  if (part->dir == NULL) {
    return;
  }
  pthread_mutex_lock(&part->lock);
  for (size_t c = 0; c < part->chunk_count; c++) {
    loaded_chunk *dropped = atomic_exchange(&part->loaded[c], NULL);
    if (dropped != NULL) {
      dropped->next_retired = part->retired;
      part->retired = dropped;
    }
  }
  pthread_mutex_unlock(&part->lock);
  for (uint32_t f = 0; f < part->layout.file_count; f++) {
    if (part->column_maps[f] != NULL) {
      (void)madvise((void *)part->column_maps[f], (size_t)part->column_file_bytes[f], MADV_DONTNEED);
    }
    if (part->column_fds[f] >= 0) {
      (void)posix_fadvise(part->column_fds[f], 0, 0, POSIX_FADV_DONTNEED);
    }
  }
  if (part->primary_map != NULL) {
    (void)madvise((void *)part->primary_map, (size_t)part->fixed_bytes[SL_PART_FILE_PRIMARY], MADV_DONTNEED);
  }
  if (part->primary_fd >= 0) {
    (void)posix_fadvise(part->primary_fd, 0, 0, POSIX_FADV_DONTNEED);
  }
  for (uint32_t i = 0; i < part->layout.index_count; i++) {
    if (part->indexes[i].fd >= 0) {
      (void)posix_fadvise(part->indexes[i].fd, 0, 0, POSIX_FADV_DONTNEED);
    }
  }
}

/* ------------------------------------------------------------------ opening a file part */

static sl_status open_checked(sl_part *part, const char *file, sl_part_file_kind kind, int *fd_out,
                              uint64_t *file_bytes, uint64_t *content_bytes, sl_error *err) {
  char path[4096];
  path_of(part, file, path, sizeof path);
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO opens at once, and is refused */
  if (fd < 0) {
    return sl_fileio_errno_error(err, errno, "open", path);
  }
  struct stat info;
  if (fstat(fd, &info) != 0) {
    sl_status status = sl_fileio_errno_error(err, errno, "stat", path);
    close(fd);
    return status;
  }
  if (!S_ISREG(info.st_mode)) {
    close(fd);
    return sl_error_set(err, SL_ERR_CORRUPT, "%s: not a regular file", path);
  }
  uint8_t footer[SL_PART_FOOTER_BYTES] = {0};
  sl_buffer buffer = {0};
  sl_status status = SL_OK;
  if ((uint64_t)info.st_size >= SL_PART_FOOTER_BYTES) {
    status = pread_exact(fd, (uint64_t)info.st_size - SL_PART_FOOTER_BYTES, SL_PART_FOOTER_BYTES, &buffer, path, NULL, err);
    if (status == SL_OK) {
      memcpy(footer, buffer.data, SL_PART_FOOTER_BYTES);
    }
  }
  sl_buffer_free(&buffer);
  if (status == SL_OK) {
    status = sl_part_footer_check(footer, (uint64_t)info.st_size, kind, NULL, path, content_bytes, err);
  }
  if (status != SL_OK) {
    close(fd);
    return status;
  }
  *fd_out = fd;
  *file_bytes = (uint64_t)info.st_size;
  return SL_OK;
}

static sl_status map_file(int fd, uint64_t size, const char *path, const uint8_t **out, sl_error *err) {
  *out = NULL;
  if (size == 0) {
    return SL_OK;
  }
  void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    return sl_fileio_errno_error(err, errno, "map", path);
  }
  *out = map;
  return SL_OK;
}

/* Reads a whole small file and checks its footer and content checksum. */
static sl_status read_small(sl_part *part, const char *file, sl_part_file_kind kind, uint8_t **data,
                            size_t *content_bytes, sl_error *err) {
  char path[4096];
  path_of(part, file, path, sizeof path);
  size_t size = 0;
  SL_TRY(sl_fileio_read_file(path, SMALL_FILE_MAX_BYTES, data, &size, err));
  uint64_t content = 0;
  sl_status status = SL_ERR_CORRUPT;
  if (size >= SL_PART_FOOTER_BYTES) {
    status = sl_part_footer_check(*data + size - SL_PART_FOOTER_BYTES, size, kind, *data, path, &content, err);
  } else {
    uint8_t empty[SL_PART_FOOTER_BYTES] = {0};
    status = sl_part_footer_check(empty, size, kind, NULL, path, &content, err);
  }
  if (status != SL_OK) {
    free(*data);
    *data = NULL;
    return status;
  }
  part->fixed_bytes[kind] += size;
  *content_bytes = (size_t)content;
  return SL_OK;
}

static sl_status parse_metadata(sl_part *part, const uint8_t *data, size_t size, sl_error *err) {
  char path[4096];
  path_of(part, "metadata.bin", path, sizeof path);
  reader r = {.data = data, .size = size, .path = path, .what = "part metadata", .err = err};
  uint8_t fixed[8] = {0};
  if (!read_fixed(&r, fixed, 8)) {
    return r.status;
  }
  if (get_u32le(fixed) != METADATA_VERSION) {
    r.offset = 0;
    reader_fail(&r, "unknown format version");
    return r.status;
  }
  if (get_u32le(fixed + 4) != (uint32_t)part->layout.kind) {
    r.offset = 4;
    reader_fail(&r, "the part was written for another model");
    return r.status;
  }
  sl_part_info *info = &part->info;
  uint64_t chunks = 0;
  read_varint(&r, &info->rows);
  read_varint(&r, &info->blocks);
  read_varint(&r, &chunks);
  read_zigzag(&r, &info->min_sort);
  read_zigzag(&r, &info->max_sort);
  read_zigzag(&r, &info->min_timestamp);
  read_zigzag(&r, &info->max_timestamp);
  read_varint(&r, &info->first_sequence);
  read_varint(&r, &info->last_sequence);
  info->chunks = chunks;
  uint32_t columns = 0;
  read_u32_bounded(&r, &columns, SL_PART_MAX_COLUMNS);
  if (r.status == SL_OK && columns != part->layout.column_count) {
    reader_fail(&r, "the part's columns differ from the store's layout");
  }
  for (uint32_t c = 0; c < columns && r.status == SL_OK; c++) {
    sl_bytes name = {.data = "", .size_bytes = 0};
    uint8_t type = 0;
    uint32_t file = 0;
    read_bytes(&r, &name, SL_PART_NAME_BYTES);
    read_fixed(&r, &type, 1);
    read_u32_bounded(&r, &file, SL_PART_MAX_FILES);
    read_varint(&r, &part->column_stats[c].raw_bytes);
    read_varint(&r, &part->column_stats[c].encoded_bytes);
    read_varint(&r, &part->column_stats[c].stored_bytes);
    const sl_column_spec *spec = &part->layout.columns[c];
    if (r.status == SL_OK && (name.size_bytes != strlen(spec->name) || memcmp(name.data, spec->name, name.size_bytes) != 0 ||
                              type != (uint8_t)spec->type || file != spec->file)) {
      reader_fail(&r, "a column differs from the store's layout");
    }
    info->raw_bytes += part->column_stats[c].raw_bytes;
  }
  uint32_t files = 0;
  read_u32_bounded(&r, &files, SL_PART_MAX_FILES);
  if (r.status == SL_OK && files != part->layout.file_count) {
    reader_fail(&r, "the part's files differ from the store's layout");
  }
  for (uint32_t f = 0; f < files && r.status == SL_OK; f++) {
    sl_bytes name = {.data = "", .size_bytes = 0};
    uint64_t bytes = 0;
    read_bytes(&r, &name, SL_PART_NAME_BYTES);
    read_varint(&r, &bytes);
    if (r.status == SL_OK && (name.size_bytes != strlen(part->layout.file_names[f]) ||
                              (name.size_bytes > 0 && memcmp(name.data, part->layout.file_names[f], name.size_bytes) != 0))) {
      reader_fail(&r, "a file name differs from the store's layout");
    }
    part->column_file_bytes[f] = bytes;
  }
  uint32_t indexes = 0;
  read_u32_bounded(&r, &indexes, SL_PART_MAX_INDEXES);
  if (r.status == SL_OK && indexes != part->layout.index_count) {
    reader_fail(&r, "the part's term indexes differ from the store's layout");
  }
  for (uint32_t i = 0; i < indexes && r.status == SL_OK; i++) {
    sl_bytes name = {.data = "", .size_bytes = 0};
    uint32_t column = 0;
    read_bytes(&r, &name, SL_PART_NAME_BYTES);
    read_u32_bounded(&r, &column, SL_PART_MAX_COLUMNS);
    read_varint(&r, &part->indexes[i].terms);
    if (r.status == SL_OK && (name.size_bytes != strlen(part->layout.indexes[i].name) ||
                              (name.size_bytes > 0 && memcmp(name.data, part->layout.indexes[i].name, name.size_bytes) != 0) ||
                              column != part->layout.indexes[i].column)) {
      reader_fail(&r, "a term index differs from the store's layout");
    }
  }
  if (r.status == SL_OK && r.offset != size) {
    reader_fail(&r, "trailing bytes");
  }
  if (r.status == SL_OK && (info->rows == 0 || info->blocks == 0 || chunks == 0 || info->blocks < chunks ||
                            info->rows < info->blocks || info->min_sort > info->max_sort)) {
    r.offset = 8;
    reader_fail(&r, "inconsistent counts");
  }
  return r.status;
}

static sl_status parse_meta(sl_part *part, sl_read_context *context, const uint8_t *data, size_t size, sl_error *err) {
  char path[4096];
  path_of(part, "meta.bin", path, sizeof path);
  const uint8_t *raw = NULL;
  size_t raw_size = 0, used = 0;
  sl_status status = sl_block_decode(context->codec, data, size, &context->scratch2, &raw, &raw_size, &used, err);
  if (status != SL_OK) {
    return sl_error_prefix(err, "%s", path);
  }
  if (used != size) {
    return sl_error_set(err, SL_ERR_CORRUPT, "%s: offset %zu: trailing bytes after the chunk list", path, used);
  }
  uint8_t *copy = sl_arena_alloc(part->arena, raw_size + 1);
  if (copy == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  memcpy(copy, raw, raw_size);
  reader r = {.data = copy, .size = raw_size, .path = path, .what = "chunk list", .err = err};
  uint64_t count = 0;
  read_varint(&r, &count);
  if (r.status == SL_OK && count != part->info.chunks) {
    reader_fail(&r, "chunk count differs from metadata.bin");
  }
  if (r.status != SL_OK) {
    return r.status;
  }
  part->chunks = sl_arena_alloc(part->arena, (count + 1) * sizeof(sl_chunk_info));
  part->loaded = calloc(count + 1, sizeof(*part->loaded));
  if (part->chunks == NULL || part->loaded == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  part->chunk_count = (size_t)count;
  uint64_t block = 0, row = 0;
  for (uint64_t c = 0; c < count && r.status == SL_OK; c++) {
    sl_chunk_info *chunk = &part->chunks[c];
    read_bytes(&r, &chunk->first_key, SL_PART_MAX_KEY_BYTES);
    read_bytes(&r, &chunk->last_key, SL_PART_MAX_KEY_BYTES);
    read_varint(&r, &chunk->first_block);
    read_u32_bounded(&r, &chunk->block_count, SL_PART_CHUNK_BLOCKS);
    read_varint(&r, &chunk->first_row);
    read_varint(&r, &chunk->row_count);
    read_zigzag(&r, &chunk->min_sort);
    read_zigzag(&r, &chunk->max_sort);
    read_zigzag(&r, &chunk->min_timestamp);
    read_zigzag(&r, &chunk->max_timestamp);
    read_varint(&r, &chunk->offset);
    read_varint(&r, &chunk->size);
    if (r.status != SL_OK) {
      break;
    }
    if (chunk->first_block != block || chunk->first_row != row || chunk->block_count == 0 ||
        chunk->row_count < chunk->block_count || chunk->offset > part->primary_content_bytes ||
        chunk->size > part->primary_content_bytes - chunk->offset ||
        sl_bytes_compare(chunk->first_key, chunk->last_key) > 0 ||
        (c > 0 && sl_bytes_compare(part->chunks[c - 1].last_key, chunk->first_key) > 0)) {
      reader_fail(&r, "chunks out of order, overlapping or past the end of primary.bin");
      break;
    }
    block += chunk->block_count;
    row += chunk->row_count;
  }
  if (r.status == SL_OK && (r.offset != raw_size || block != part->info.blocks || row != part->info.rows)) {
    reader_fail(&r, "the chunks do not add up to the part's blocks and rows");
  }
  return r.status;
}

static sl_status parse_series(sl_part *part, sl_read_context *context, const uint8_t *data, size_t size,
                              sl_error *err) {
  char path[4096];
  path_of(part, "smeta.bin", path, sizeof path);
  const uint8_t *raw = NULL;
  size_t raw_size = 0, used = 0;
  sl_status status = sl_block_decode(context->codec, data, size, &context->scratch2, &raw, &raw_size, &used, err);
  if (status != SL_OK) {
    return sl_error_prefix(err, "%s", path);
  }
  uint8_t *copy = sl_arena_alloc(part->arena, raw_size + 1);
  if (copy == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  memcpy(copy, raw, raw_size);
  reader r = {.data = copy, .size = raw_size, .path = path, .what = "series metadata", .err = err};
  uint64_t count = 0;
  read_varint(&r, &count);
  if (r.status == SL_OK && count > part->info.blocks) {
    reader_fail(&r, "more series than blocks");
  }
  if (r.status != SL_OK) {
    return r.status;
  }
  part->series = sl_arena_alloc(part->arena, (count + 1) * sizeof(sl_series_entry));
  if (part->series == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  for (uint64_t s = 0; s < count && r.status == SL_OK; s++) {
    sl_series_entry *entry = &part->series[s];
    read_bytes(&r, &entry->key, SL_PART_MAX_KEY_BYTES);
    read_u32_bounded(&r, &entry->value_count, SL_PART_MAX_SERIES_VALUES);
    sl_bytes *values = sl_arena_alloc(part->arena, (entry->value_count + 1) * sizeof(sl_bytes));
    if (values == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    for (uint32_t v = 0; v < entry->value_count && r.status == SL_OK; v++) {
      /* No bound of its own: the writer takes entity and leading tag values of any length (a
       * serviceId of 1 MiB and more), and a smaller bound here failed every flush of such a span
       * after it was acknowledged; the block's raw bytes bound it. */
      read_bytes(&r, &values[v], SL_BLOCK_MAX_RAW_BYTES);
    }
    entry->values = values;
    if (r.status == SL_OK && s > 0 && sl_bytes_compare(part->series[s - 1].key, entry->key) >= 0) {
      reader_fail(&r, "series out of order");
    }
  }
  if (r.status == SL_OK && r.offset != raw_size) {
    reader_fail(&r, "trailing bytes");
  }
  part->series_count = (size_t)count;
  return r.status;
}

sl_status sl_part_open(const sl_part_layout *layout, const char *dir, uint64_t part_id, sl_part **out,
                       sl_error *err) {
  assert(layout != NULL && dir != NULL && out != NULL);
  *out = NULL;
  sl_part *part = part_new(layout, part_id);
  sl_read_context context;
  if (part == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory opening part %s", dir);
  }
  part->dir = strdup(dir);
  sl_status status = part->dir != NULL ? sl_read_context_init(&context, err)
                                       : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  if (status != SL_OK) {
    part_free(part);
    return status;
  }
  uint8_t *data = NULL;
  size_t size = 0;
  status = read_small(part, "metadata.bin", SL_PART_FILE_METADATA, &data, &size, err);
  if (status == SL_OK) {
    status = parse_metadata(part, data, size, err);
  }
  free(data);
  data = NULL;
  uint64_t ignored = 0;
  if (status == SL_OK) {
    status = open_checked(part, "primary.bin", SL_PART_FILE_PRIMARY, &part->primary_fd,
                          &part->fixed_bytes[SL_PART_FILE_PRIMARY], &part->primary_content_bytes, err);
  }
  if (status == SL_OK) {
    status = map_file(part->primary_fd, part->fixed_bytes[SL_PART_FILE_PRIMARY], dir, &part->primary_map, err);
  }
  for (uint32_t f = 0; status == SL_OK && f < layout->file_count; f++) {
    uint64_t declared = part->column_file_bytes[f];
    status = open_checked(part, layout->file_names[f], SL_PART_FILE_COLUMNS, &part->column_fds[f],
                          &part->column_file_bytes[f], &part->column_content_bytes[f], err);
    if (status == SL_OK) {
      status = map_file(part->column_fds[f], part->column_file_bytes[f], dir, &part->column_maps[f], err);
    }
    if (status == SL_OK && declared != part->column_file_bytes[f]) {
      char path[4096];
      path_of(part, layout->file_names[f], path, sizeof path);
      status = sl_error_set(err, SL_ERR_CORRUPT, "%s: offset 0: the file has %llu bytes, metadata.bin says %llu", path,
                            (unsigned long long)part->column_file_bytes[f], (unsigned long long)declared);
    }
  }
  if (status == SL_OK) {
    status = read_small(part, "meta.bin", SL_PART_FILE_META, &data, &size, err);
    if (status == SL_OK) {
      status = parse_meta(part, &context, data, size, err);
    }
    free(data);
    data = NULL;
  }
  if (status == SL_OK && layout->series_metadata) {
    status = read_small(part, "smeta.bin", SL_PART_FILE_SERIES, &data, &size, err);
    if (status == SL_OK) {
      status = parse_series(part, &context, data, size, err);
    }
    free(data);
    data = NULL;
  }
  if (status == SL_OK && layout->key_bloom) {
    status = read_small(part, "traceID.filter", SL_PART_FILE_BLOOM, &data, &size, err);
    if (status == SL_OK) {
      status = sl_bloom_decode(data, size, &part->bloom, err);
      if (status != SL_OK) {
        char path[4096];
        path_of(part, "traceID.filter", path, sizeof path);
        sl_error_prefix(err, "%s", path);
      }
      part->has_bloom = status == SL_OK;
    }
    free(data);
    data = NULL;
  }
  for (uint32_t i = 0; status == SL_OK && i < layout->index_count; i++) {
    char file[SL_PART_NAME_BYTES + 8];
    sl_fileio_path(file, sizeof file, "%s.idx", layout->indexes[i].name);
    uint64_t content = 0;
    status = open_checked(part, file, SL_PART_FILE_INDEX, &part->indexes[i].fd, &part->indexes[i].bytes, &content, err);
    if (status == SL_OK) {
      char path[4096];
      path_of(part, file, path, sizeof path);
      status = sl_term_index_open(part->indexes[i].fd, content, path, context.codec, &part->indexes[i].file, err);
    }
    if (status == SL_OK && sl_term_index_term_count(part->indexes[i].file) != part->indexes[i].terms) {
      char path[4096];
      path_of(part, file, path, sizeof path);
      status = sl_error_set(err, SL_ERR_CORRUPT, "%s: offset 0: %llu terms, metadata.bin says %llu", path,
                            (unsigned long long)sl_term_index_term_count(part->indexes[i].file),
                            (unsigned long long)part->indexes[i].terms);
    }
  }
  (void)ignored;
  sl_read_context_free(&context);
  if (status != SL_OK) {
    part_free(part);
    return status;
  }
  uint64_t total = 0;
  for (size_t k = 0; k < FIXED_FILE_KINDS; k++) {
    total += part->fixed_bytes[k];
  }
  for (uint32_t f = 0; f < layout->file_count; f++) {
    total += part->column_file_bytes[f];
  }
  for (uint32_t i = 0; i < layout->index_count; i++) {
    total += part->indexes[i].bytes;
  }
  part->info.size_bytes = total;
  part->info.in_memory = false;
  *out = part;
  return SL_OK;
}

/* ------------------------------------------------------------------ writing */

typedef struct out_file {
  int fd;
  char path[4096];
  uint8_t *buffer; /* WRITE_BUFFER_BYTES, aligned to DIRECT_ALIGN_BYTES */
  size_t used;
  bool direct;
  uint64_t flushed;
  XXH64_state_t hash;
  bool open;
} out_file;

typedef struct mem_column {
  int64_t *ints;
  sl_bytes *bytes;
  uint8_t *nulls;
  bool any_null;
} mem_column;

struct sl_part_writer {
  sl_part_layout layout;
  bool memory;
  bool page_cached; /* written through the page cache (else O_DIRECT where the file system takes it) */
  char *dir;
  uint64_t part_id;
  sl_codec *codec;
  sl_arena *arena;
  out_file *files; /* file writers: one per layout file (a memory writer has none: a writer per batch stays small) */
  out_file primary;
  /* blocks and chunks */
  sl_buffer chunk_raw;
  sl_chunk_info pending;
  uint32_t pending_blocks;
  sl_chunk_info *chunks;
  size_t chunk_count;
  size_t chunk_capacity;
  uint64_t rows;
  uint64_t blocks;
  int64_t min_sort, max_sort, min_timestamp, max_timestamp;
  uint64_t first_sequence, last_sequence;
  sl_column_stats stats[SL_PART_MAX_COLUMNS];
  sl_buffer last_key;
  bool have_key;
  int64_t last_key_max_sort;
  /* bloom keys: XXH64 is recomputed by the bloom; keep the keys' bytes */
  sl_buffer bloom_keys; /* varint length + bytes, distinct keys in order */
  uint64_t bloom_key_count;
  /* series */
  sl_buffer series_raw;
  uint64_t series_count;
  sl_buffer last_series;
  bool have_series;
  sl_series_entry *mem_series;
  size_t mem_series_capacity;
  /* term indexes */
  sl_term_writer *term_writers[SL_PART_MAX_INDEXES];
  sl_term_builder *term_builders[SL_PART_MAX_INDEXES];
  sl_buffer last_term[SL_PART_MAX_INDEXES];
  bool have_term[SL_PART_MAX_INDEXES];
  uint64_t term_counts[SL_PART_MAX_INDEXES];
  /* memory parts */
  mem_column columns[SL_PART_MAX_COLUMNS];
  size_t row_capacity;
  sl_block_meta *mem_blocks;
  sl_column_ref *mem_refs;
  size_t block_capacity;
  sl_buffer encode_scratch;
  sl_buffer frame_scratch;
  uint64_t compress_ns;
};

/* Part files' write buffers, WRITE_BUFFER_BYTES each and aligned for O_DIRECT, are kept for the
 * next files (up to WRITE_BUFFERS_KEPT): a buffer allocated per file had its pages faulted in anew
 * for every part, which on this project's virtual machines cost as much as the writes. */
static pthread_mutex_t write_buffers_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *write_buffers_kept[WRITE_BUFFERS_KEPT];
static size_t write_buffers_kept_count;

static uint8_t *write_buffer_take(void) {
  uint8_t *buffer = NULL;
  pthread_mutex_lock(&write_buffers_lock);
  if (write_buffers_kept_count > 0) {
    buffer = write_buffers_kept[--write_buffers_kept_count];
  }
  pthread_mutex_unlock(&write_buffers_lock);
  if (buffer == NULL && posix_memalign((void **)&buffer, DIRECT_ALIGN_BYTES, WRITE_BUFFER_BYTES) != 0) {
    buffer = NULL;
  }
  return buffer;
}

static void write_buffer_give(uint8_t *buffer) {
  if (buffer == NULL) {
    return;
  }
  pthread_mutex_lock(&write_buffers_lock);
  bool kept = write_buffers_kept_count < WRITE_BUFFERS_KEPT;
  if (kept) {
    write_buffers_kept[write_buffers_kept_count++] = buffer;
  }
  pthread_mutex_unlock(&write_buffers_lock);
  if (!kept) {
    free(buffer);
  }
}

/* With direct (a part that is not to stay in the page cache), the file is written with O_DIRECT
 * where the file system takes it, else buffered (docs/FORMAT.md "Direct writes of part files"). */
static sl_status out_file_open(out_file *file, const char *dir, const char *name, bool direct, sl_error *err) {
  sl_fileio_path(file->path, sizeof file->path, "%s/%s", dir, name);
  file->used = 0;
  file->flushed = 0;
  file->buffer = write_buffer_take();
  if (file->buffer == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory for %s's write buffer", file->path);
  }
  file->fd = open(file->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (file->fd < 0) {
    write_buffer_give(file->buffer);
    file->buffer = NULL;
    return sl_fileio_errno_error(err, errno, "create", file->path);
  }
  file->direct = direct && sl_fileio_direct_support(file->fd, DIRECT_ALIGN_BYTES) != SL_FILEIO_DIRECT_NO &&
                 sl_fileio_set_direct(file->fd, true);
  XXH64_reset(&file->hash, 0);
  file->open = true;
  return SL_OK;
}

/* Asks the kernel to start writing size_bytes at offset to the disk now (it returns at once), so that
 * the fsync at the part's end finds most of the file written. Advisory: a failure is the fsync's. */
static void start_writeback(const out_file *file, uint64_t offset, uint64_t size_bytes) {
#ifdef SYNC_FILE_RANGE_WRITE
  int started = sync_file_range(file->fd, (off_t)offset, (off_t)size_bytes, SYNC_FILE_RANGE_WRITE);
  (void)started;
#else
  (void)file, (void)offset, (void)size_bytes;
#endif
}

/* Writes the buffer's whole DIRECT_ALIGN_BYTES units (all of it when final), keeping the rest. */
static sl_status out_file_flush(out_file *file, bool final, sl_error *err) {
  size_t size = file->used;
  size_t write_bytes = size;
  if (file->direct) {
    size_t whole = size / DIRECT_ALIGN_BYTES * DIRECT_ALIGN_BYTES;
    if (final && whole < size) {
      assert(whole + DIRECT_ALIGN_BYTES <= WRITE_BUFFER_BYTES); /* a full buffer is written at once */
      memset(file->buffer + size, 0, DIRECT_ALIGN_BYTES - (size - whole));
      whole += DIRECT_ALIGN_BYTES;
    }
    write_bytes = whole;
  }
  if (write_bytes == 0) {
    return SL_OK;
  }
  SL_TRY(sl_fileio_pwrite_all_direct(file->fd, file->buffer, write_bytes, file->flushed, &file->direct, file->path,
                                     err));
  if (!file->direct) {
    start_writeback(file, file->flushed, write_bytes);
  }
  if (write_bytes > size) { /* the padded tail: the file ends at its content */
    if (ftruncate(file->fd, (off_t)(file->flushed + size)) != 0) {
      return sl_fileio_errno_error(err, errno, "truncate", file->path);
    }
    write_bytes = size;
  }
  file->flushed += write_bytes;
  memmove(file->buffer, file->buffer + write_bytes, size - write_bytes);
  file->used = size - write_bytes;
  return SL_OK;
}

static sl_status out_file_append(out_file *file, const void *data, size_t size, sl_error *err) {
  const uint8_t *from = data;
  while (size > 0) {
    size_t room = WRITE_BUFFER_BYTES - file->used;
    size_t take = size < room ? size : room;
    memcpy(file->buffer + file->used, from, take);
    file->used += take;
    from += take;
    size -= take;
    if (file->used == WRITE_BUFFER_BYTES) {
      SL_TRY(out_file_flush(file, false, err));
    }
  }
  return SL_OK;
}

static sl_status out_file_write(out_file *file, const void *data, size_t size, sl_error *err) {
  XXH64_update(&file->hash, data, size);
  return out_file_append(file, data, size, err);
}

static uint64_t out_file_offset(const out_file *file) { return file->flushed + file->used; }

/* Writes the footer and the rest of the buffer; the file stays open for the part's fsyncs. */
static sl_status out_file_seal(out_file *file, sl_part_file_kind kind, sl_error *err) {
  uint64_t content = out_file_offset(file);
  uint8_t footer[SL_PART_FOOTER_BYTES];
  footer_from_hash(kind, content, XXH64_digest(&file->hash), footer);
  SL_TRY(out_file_append(file, footer, sizeof footer, err));
  return out_file_flush(file, true, err);
}

static void out_file_close(out_file *file) {
  if (file->open && file->fd >= 0) {
    close(file->fd);
  }
  file->open = false;
  write_buffer_give(file->buffer);
  file->buffer = NULL;
}

/* The small files of a part being finished, sealed and waiting for the part's fsyncs. */
enum { SMALL_FILES_MAX = SL_PART_MAX_INDEXES + 4 }; /* meta, smeta, filter, indexes, metadata */
typedef struct small_files {
  out_file files[SMALL_FILES_MAX];
  size_t count;
} small_files;

/* A whole small file at once, sealed into smalls (synced with the part's other files). */
static sl_status write_small(const sl_part_writer *writer, const char *name, sl_part_file_kind kind, const sl_buffer *content,
                             small_files *smalls, sl_error *err) {
  assert(smalls->count < SMALL_FILES_MAX);
  out_file *file = &smalls->files[smalls->count];
  SL_TRY(out_file_open(file, writer->dir, name, !writer->page_cached, err));
  smalls->count++;
  sl_status status = out_file_write(file, content->data, content->size, err);
  return status == SL_OK ? out_file_seal(file, kind, err) : status;
}

static sl_status writer_open(const sl_part_layout *layout, const char *dir, uint64_t part_id, size_t arena_block_bytes,
                             bool page_cached, sl_part_writer **out, sl_error *err);

sl_status sl_part_writer_open(const sl_part_layout *layout, const char *dir, uint64_t part_id, bool page_cached,
                              sl_part_writer **out, sl_error *err) {
  return writer_open(layout, dir, part_id, dir == NULL ? 256 * 1024 : 16 * 1024, page_cached, out, err);
}

/* arena_block_bytes: the arena's block size; a memory part keeps its writer's arena, and counts
 * it in its size, so a small batch must not get a large one. */
static sl_status writer_open(const sl_part_layout *layout, const char *dir, uint64_t part_id, size_t arena_block_bytes,
                             bool page_cached, sl_part_writer **out, sl_error *err) {
  assert(layout != NULL && out != NULL);
  *out = NULL;
  SL_TRY(sl_layout_validate(layout, err));
  sl_part_writer *writer = calloc(1, sizeof *writer);
  if (writer == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  writer->layout = *layout;
  writer->memory = dir == NULL;
  writer->page_cached = page_cached;
  writer->part_id = part_id;
  writer->codec = writer->memory ? NULL : sl_codec_new(); /* memory parts compress nothing */
  writer->arena = sl_arena_new(arena_block_bytes);
  writer->min_sort = writer->min_timestamp = INT64_MAX;
  writer->max_sort = writer->max_timestamp = INT64_MIN;
  writer->files = writer->memory ? NULL : calloc(layout->file_count + 1, sizeof *writer->files);
  for (uint32_t f = 0; writer->files != NULL && f < layout->file_count; f++) {
    writer->files[f].fd = -1;
  }
  writer->primary.fd = -1;
  sl_status status = (writer->codec != NULL || writer->memory) && (writer->files != NULL || writer->memory) &&
                             writer->arena != NULL
                         ? SL_OK
                         : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  if (status == SL_OK && !writer->memory) {
    writer->dir = strdup(dir);
    if (writer->dir == NULL) {
      status = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    } else if (mkdir(dir, 0755) != 0) {
      status = sl_fileio_errno_error(err, errno, "create part directory", dir);
      free(writer->dir);
      writer->dir = NULL;
    }
    for (uint32_t f = 0; status == SL_OK && f < layout->file_count; f++) {
      status = out_file_open(&writer->files[f], dir, layout->file_names[f], !page_cached, err);
    }
    if (status == SL_OK) {
      status = out_file_open(&writer->primary, dir, "primary.bin", !page_cached, err);
    }
  }
  for (uint32_t i = 0; status == SL_OK && i < layout->index_count; i++) {
    if (writer->memory) {
      writer->term_builders[i] = sl_term_builder_new();
    } else {
      writer->term_writers[i] = sl_term_writer_new(writer->codec);
    }
    if (writer->term_builders[i] == NULL && writer->term_writers[i] == NULL) {
      status = sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
  }
  if (status != SL_OK) {
    sl_part_writer_abort(writer);
    return status;
  }
  *out = writer;
  return SL_OK;
}

void sl_part_writer_set_sequences(sl_part_writer *writer, uint64_t first_sequence, uint64_t last_sequence) {
  writer->first_sequence = first_sequence;
  writer->last_sequence = last_sequence;
}

uint64_t sl_part_writer_rows(const sl_part_writer *writer) { return writer->rows; }
uint64_t sl_part_writer_compress_ns(const sl_part_writer *writer) { return writer->compress_ns; }

static sl_status flush_chunk(sl_part_writer *writer, sl_error *err) {
  if (writer->pending_blocks == 0) {
    return SL_OK;
  }
  if (writer->chunk_count == writer->chunk_capacity) {
    size_t capacity = writer->chunk_capacity == 0 ? 16 : writer->chunk_capacity * 2;
    sl_chunk_info *grown = realloc(writer->chunks, capacity * sizeof *grown);
    if (grown == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    writer->chunks = grown;
    writer->chunk_capacity = capacity;
  }
  sl_chunk_info *chunk = &writer->pending;
  chunk->block_count = writer->pending_blocks;
  bool ok = true;
  sl_bytes last = {.data = (const char *)writer->last_key.data, .size_bytes = writer->last_key.size};
  chunk->last_key = arena_copy_bytes(writer->arena, last, &ok);
  if (!ok) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  if (!writer->memory) {
    writer->frame_scratch.size = 0;
    SL_TRY(sl_block_encode(writer->codec, writer->chunk_raw.data, writer->chunk_raw.size, &writer->frame_scratch, NULL, err));
    chunk->offset = out_file_offset(&writer->primary);
    chunk->size = writer->frame_scratch.size;
    SL_TRY(out_file_write(&writer->primary, writer->frame_scratch.data, writer->frame_scratch.size, err));
  }
  writer->chunks[writer->chunk_count++] = *chunk;
  writer->chunk_raw.size = 0;
  writer->pending_blocks = 0;
  memset(&writer->pending, 0, sizeof writer->pending);
  return SL_OK;
}

/* Records block metadata (and the chunk bookkeeping) for a block just written. */
static sl_status note_block(sl_part_writer *writer, sl_bytes key, const sl_block_meta *block, sl_error *err) {
  uint32_t columns = writer->layout.column_count;
  if (writer->pending_blocks == 0) {
    bool ok = true;
    writer->pending.first_key = arena_copy_bytes(writer->arena, key, &ok);
    if (!ok) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    writer->pending.first_block = writer->blocks;
    writer->pending.first_row = block->first_row;
    writer->pending.min_sort = writer->pending.min_timestamp = INT64_MAX;
    writer->pending.max_sort = writer->pending.max_timestamp = INT64_MIN;
  }
  sl_chunk_info *chunk = &writer->pending;
  chunk->row_count += block->rows;
  chunk->min_sort = block->min_sort < chunk->min_sort ? block->min_sort : chunk->min_sort;
  chunk->max_sort = block->max_sort > chunk->max_sort ? block->max_sort : chunk->max_sort;
  chunk->min_timestamp = block->min_timestamp < chunk->min_timestamp ? block->min_timestamp : chunk->min_timestamp;
  chunk->max_timestamp = block->max_timestamp > chunk->max_timestamp ? block->max_timestamp : chunk->max_timestamp;
  writer->min_sort = block->min_sort < writer->min_sort ? block->min_sort : writer->min_sort;
  writer->max_sort = block->max_sort > writer->max_sort ? block->max_sort : writer->max_sort;
  writer->min_timestamp = block->min_timestamp < writer->min_timestamp ? block->min_timestamp : writer->min_timestamp;
  writer->max_timestamp = block->max_timestamp > writer->max_timestamp ? block->max_timestamp : writer->max_timestamp;
  if (!writer->memory) {
    sl_buffer *raw = &writer->chunk_raw;
    SL_TRY(put_bytes(raw, key.data, key.size_bytes, err));
    SL_TRY(put_varint(raw, block->rows, err));
    SL_TRY(put_varint(raw, block->first_row, err));
    SL_TRY(put_zigzag(raw, block->min_sort, err));
    SL_TRY(put_zigzag(raw, block->max_sort, err));
    SL_TRY(put_zigzag(raw, block->min_timestamp, err));
    SL_TRY(put_zigzag(raw, block->max_timestamp, err));
    for (uint32_t c = 0; c < columns; c++) {
      const sl_column_ref *ref = &block->columns[c];
      SL_TRY(put_varint(raw, ref->offset, err));
      SL_TRY(put_varint(raw, ref->size, err));
      SL_TRY(put_varint(raw, ref->null_count, err));
      if (is_int_column(writer->layout.columns[c].type)) {
        SL_TRY(put_zigzag(raw, ref->min, err));
        SL_TRY(put_zigzag(raw, ref->max, err));
      }
    }
  } else {
    if (writer->blocks == writer->block_capacity) {
      size_t capacity = writer->block_capacity == 0 ? 64 : writer->block_capacity * 2;
      sl_block_meta *blocks = realloc(writer->mem_blocks, capacity * sizeof *blocks);
      if (blocks == NULL) {
        return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
      }
      writer->mem_blocks = blocks;
      sl_column_ref *refs = realloc(writer->mem_refs, capacity * columns * sizeof *refs);
      if (refs == NULL) {
        return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
      }
      writer->mem_refs = refs;
      writer->block_capacity = capacity;
    }
    sl_block_meta *copy = &writer->mem_blocks[writer->blocks];
    *copy = *block;
    bool ok = true;
    copy->key = arena_copy_bytes(writer->arena, key, &ok);
    if (!ok) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    memcpy(&writer->mem_refs[writer->blocks * columns], block->columns, columns * sizeof(sl_column_ref));
    copy->columns = NULL; /* fixed up at finish */
  }
  /* Distinct keys for the bloom. */
  bool new_key = !writer->have_key || writer->last_key.size != key.size_bytes ||
                 (key.size_bytes > 0 && memcmp(writer->last_key.data, key.data, key.size_bytes) != 0);
  if (new_key && writer->layout.key_bloom) {
    SL_TRY(put_bytes(&writer->bloom_keys, key.data, key.size_bytes, err));
    writer->bloom_key_count++;
  }
  writer->last_key.size = 0;
  SL_TRY(sl_buffer_append(&writer->last_key, key.data, key.size_bytes, err));
  writer->have_key = true;
  writer->last_key_max_sort = block->max_sort;
  writer->blocks++;
  writer->rows += block->rows;
  writer->pending_blocks++;
  if (writer->pending_blocks == SL_PART_CHUNK_BLOCKS) {
    SL_TRY(flush_chunk(writer, err));
  }
  return SL_OK;
}

static sl_status check_key_order(sl_part_writer *writer, sl_bytes key, int64_t min_sort, sl_error *err) {
  if (key.size_bytes > SL_PART_MAX_KEY_BYTES) {
    return sl_error_set(err, SL_ERR_INVALID, "a block key of %zu bytes is over the %d-byte limit", key.size_bytes,
                        SL_PART_MAX_KEY_BYTES);
  }
  if (!writer->have_key) {
    return SL_OK;
  }
  sl_bytes last = {.data = (const char *)writer->last_key.data, .size_bytes = writer->last_key.size};
  int order = sl_bytes_compare(last, key);
  if (order > 0 || (order == 0 && min_sort < writer->last_key_max_sort && writer->layout.kind != SL_LAYOUT_TRACE)) {
    return sl_error_set(err, SL_ERR_INTERNAL, "part writer: blocks out of order");
  }
  return SL_OK;
}

static sl_status mem_reserve_rows(sl_part_writer *writer, size_t more, sl_error *err) {
  if (writer->rows + more <= writer->row_capacity) {
    return SL_OK;
  }
  size_t capacity = writer->row_capacity == 0 ? (more > 16 ? more : 16) : writer->row_capacity;
  while (capacity < writer->rows + more) {
    capacity *= 2;
  }
  for (uint32_t c = 0; c < writer->layout.column_count; c++) {
    mem_column *column = &writer->columns[c];
    if (is_int_column(writer->layout.columns[c].type)) {
      int64_t *grown = realloc(column->ints, capacity * sizeof *grown);
      if (grown == NULL) {
        return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
      }
      column->ints = grown;
    } else {
      sl_bytes *grown = realloc(column->bytes, capacity * sizeof *grown);
      if (grown == NULL) {
        return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
      }
      column->bytes = grown;
    }
    uint8_t *nulls = realloc(column->nulls, capacity);
    if (nulls == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    column->nulls = nulls;
  }
  writer->row_capacity = capacity;
  return SL_OK;
}

/* Encodes one column of a block (nulls bitmap + non-null values) into writer->encode_scratch. */
static sl_status encode_column(sl_part_writer *writer, uint32_t c, const sl_column_view *view, uint32_t rows,
                               sl_column_ref *ref, sl_error *err) {
  sl_column_type type = writer->layout.columns[c].type;
  sl_buffer *out = &writer->encode_scratch;
  out->size = 0;
  uint32_t nulls = 0;
  for (uint32_t i = 0; view->is_null != NULL && i < rows; i++) {
    nulls += view->is_null[i] != 0;
  }
  ref->null_count = nulls;
  ref->min = INT64_MAX;
  ref->max = INT64_MIN;
  size_t present = rows - nulls;
  int64_t *ints = NULL;
  sl_bytes *bytes = NULL;
  const int64_t *int_values = view->ints;
  const sl_bytes *byte_values = view->bytes;
  if (nulls > 0) {
    size_t bitmap_bytes = (rows + 7) / 8;
    SL_TRY(sl_buffer_reserve(out, bitmap_bytes, err));
    memset(out->data, 0, bitmap_bytes);
    for (uint32_t i = 0; i < rows; i++) {
      if (view->is_null[i]) {
        out->data[i / 8] |= (uint8_t)(1u << (i % 8));
      }
    }
    out->size = bitmap_bytes;
    if (is_int_column(type)) {
      ints = malloc((present + 1) * sizeof *ints);
    } else {
      bytes = malloc((present + 1) * sizeof *bytes);
    }
    if (ints == NULL && bytes == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    size_t k = 0;
    for (uint32_t i = 0; i < rows; i++) {
      if (!view->is_null[i]) {
        if (ints != NULL) {
          ints[k++] = view->ints[i];
        } else {
          bytes[k++] = view->bytes[i];
        }
      }
    }
    int_values = ints;
    byte_values = bytes;
  }
  size_t raw_bytes = 0;
  if (is_int_column(type)) {
    for (size_t i = 0; i < present; i++) {
      ref->min = int_values[i] < ref->min ? int_values[i] : ref->min;
      ref->max = int_values[i] > ref->max ? int_values[i] : ref->max;
    }
    raw_bytes = present * 8;
  } else {
    for (size_t i = 0; i < present; i++) {
      raw_bytes += byte_values[i].size_bytes;
    }
  }
  if (present == 0) {
    ref->min = ref->max = 0;
  }
  sl_status status;
  switch (type) {
    case SL_COLUMN_INT64: status = sl_encode_int64s(int_values, present, out, err); break;
    case SL_COLUMN_TIMESTAMP: status = sl_encode_timestamps(int_values, present, out, err); break;
    case SL_COLUMN_STRING: status = sl_encode_strings(byte_values, present, true, out, err); break;
    default: status = sl_encode_strings(byte_values, present, false, out, err); break;
  }
  free(ints);
  free(bytes);
  writer->stats[c].raw_bytes += raw_bytes;
  writer->stats[c].encoded_bytes += out->size;
  return status;
}

sl_status sl_part_writer_add_block(sl_part_writer *writer, sl_bytes key, const sl_column_view *columns,
                                   uint32_t rows, uint64_t *first_row, sl_error *err) {
  assert(writer != NULL && columns != NULL && rows > 0);
  const sl_part_layout *layout = &writer->layout;
  const sl_column_view *sort = &columns[layout->sort_column];
  int64_t min_sort = INT64_MAX, max_sort = INT64_MIN;
  for (uint32_t i = 0; i < rows; i++) {
    int64_t value = sort->ints[i];
    min_sort = value < min_sort ? value : min_sort;
    max_sort = value > max_sort ? value : max_sort;
  }
  SL_TRY(check_key_order(writer, key, min_sort, err));
  sl_column_ref refs[SL_PART_MAX_COLUMNS];
  sl_block_meta block = {.key = key, .rows = rows, .first_row = writer->rows, .min_sort = min_sort, .max_sort = max_sort,
                         .min_timestamp = min_sort, .max_timestamp = max_sort, .columns = refs};
  if (writer->memory) {
    SL_TRY(mem_reserve_rows(writer, rows, err));
  }
  for (uint32_t c = 0; c < layout->column_count; c++) {
    const sl_column_view *view = &columns[c];
    sl_column_ref *ref = &refs[c];
    if (!writer->memory) {
      SL_TRY(encode_column(writer, c, view, rows, ref, err));
      uint32_t file = layout->columns[c].file;
      writer->frame_scratch.size = 0;
      sl_block_stats stats = {0};
      SL_TRY(sl_block_encode(writer->codec, writer->encode_scratch.data, writer->encode_scratch.size,
                             &writer->frame_scratch, &stats, err));
      ref->offset = out_file_offset(&writer->files[file]);
      ref->size = writer->frame_scratch.size;
      writer->stats[c].stored_bytes += writer->frame_scratch.size;
      writer->compress_ns += stats.compress_ns;
      SL_TRY(out_file_write(&writer->files[file], writer->frame_scratch.data, writer->frame_scratch.size, err));
      continue;
    }
    /* Memory: copy the values into the part's arrays and arena. */
    mem_column *column = &writer->columns[c];
    bool ok = true;
    uint32_t nulls = 0;
    ref->min = INT64_MAX;
    ref->max = INT64_MIN;
    ref->offset = ref->size = 0;
    uint64_t raw_bytes = 0;
    for (uint32_t i = 0; i < rows; i++) {
      bool is_null = view->is_null != NULL && view->is_null[i];
      column->nulls[writer->rows + i] = is_null;
      nulls += is_null;
      if (is_int_column(layout->columns[c].type)) {
        int64_t value = is_null ? 0 : view->ints[i];
        column->ints[writer->rows + i] = value;
        if (!is_null) {
          ref->min = value < ref->min ? value : ref->min;
          ref->max = value > ref->max ? value : ref->max;
          raw_bytes += 8;
        }
      } else {
        column->bytes[writer->rows + i] = is_null ? (sl_bytes){0} : arena_copy_bytes(writer->arena, view->bytes[i], &ok);
        raw_bytes += is_null ? 0 : view->bytes[i].size_bytes;
      }
    }
    if (!ok) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    if (nulls == rows) {
      ref->min = ref->max = 0;
    }
    ref->null_count = nulls;
    column->any_null = column->any_null || nulls > 0;
    writer->stats[c].raw_bytes += raw_bytes;
    writer->stats[c].encoded_bytes += raw_bytes;
    writer->stats[c].stored_bytes += raw_bytes;
  }
  if (layout->timestamp_column >= 0) {
    block.min_timestamp = refs[layout->timestamp_column].min;
    block.max_timestamp = refs[layout->timestamp_column].max;
  }
  if (first_row != NULL) {
    *first_row = block.first_row;
  }
  return note_block(writer, key, &block, err);
}

sl_status sl_part_writer_copy_block(sl_part_writer *writer, sl_part *source, const sl_block_meta *block,
                                    sl_read_context *context, uint64_t *first_row, sl_error *err) {
  assert(!writer->memory && source->dir != NULL);
  SL_TRY(check_key_order(writer, block->key, block->min_sort, err));
  sl_column_ref refs[SL_PART_MAX_COLUMNS];
  sl_block_meta copy = *block;
  copy.first_row = writer->rows;
  copy.columns = refs;
  for (uint32_t c = 0; c < writer->layout.column_count; c++) {
    const uint8_t *data = NULL;
    SL_TRY(sl_part_read_column_raw(source, block, c, context, &data, err));
    refs[c] = block->columns[c];
    uint32_t file = writer->layout.columns[c].file;
    refs[c].offset = out_file_offset(&writer->files[file]);
    SL_TRY(out_file_write(&writer->files[file], data, (size_t)block->columns[c].size, err));
    /* Apportion the source's per-column figures by the block's share of its stored bytes. */
    const sl_column_stats *from = &source->column_stats[c];
    double share = from->stored_bytes > 0 ? (double)block->columns[c].size / (double)from->stored_bytes : 0;
    writer->stats[c].raw_bytes += (uint64_t)((double)from->raw_bytes * share + 0.5);
    writer->stats[c].encoded_bytes += (uint64_t)((double)from->encoded_bytes * share + 0.5);
    writer->stats[c].stored_bytes += block->columns[c].size;
  }
  if (first_row != NULL) {
    *first_row = copy.first_row;
  }
  return note_block(writer, block->key, &copy, err);
}

sl_status sl_part_writer_add_series(sl_part_writer *writer, const sl_series_entry *entry, sl_error *err) {
  if (!writer->layout.series_metadata) {
    return SL_OK;
  }
  if (writer->have_series) {
    sl_bytes last = {.data = (const char *)writer->last_series.data, .size_bytes = writer->last_series.size};
    int order = sl_bytes_compare(last, entry->key);
    if (order == 0) {
      return SL_OK;
    }
    if (order > 0) {
      return sl_error_set(err, SL_ERR_INTERNAL, "part writer: series out of order");
    }
  }
  if (entry->value_count > SL_PART_MAX_SERIES_VALUES) {
    return sl_error_set(err, SL_ERR_INVALID, "a series with %u values is over the limit of %d", entry->value_count,
                        SL_PART_MAX_SERIES_VALUES);
  }
  writer->last_series.size = 0;
  SL_TRY(sl_buffer_append(&writer->last_series, entry->key.data, entry->key.size_bytes, err));
  writer->have_series = true;
  if (writer->memory) {
    if (writer->series_count == writer->mem_series_capacity) {
      size_t capacity = writer->mem_series_capacity == 0 ? 16 : writer->mem_series_capacity * 2;
      sl_series_entry *grown = realloc(writer->mem_series, capacity * sizeof *grown);
      if (grown == NULL) {
        return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
      }
      writer->mem_series = grown;
      writer->mem_series_capacity = capacity;
    }
    bool ok = true;
    sl_series_entry *copy = &writer->mem_series[writer->series_count];
    copy->key = arena_copy_bytes(writer->arena, entry->key, &ok);
    copy->value_count = entry->value_count;
    sl_bytes *values = sl_arena_alloc(writer->arena, (entry->value_count + 1) * sizeof(sl_bytes));
    for (uint32_t v = 0; values != NULL && v < entry->value_count; v++) {
      values[v] = arena_copy_bytes(writer->arena, entry->values[v], &ok);
    }
    if (!ok || values == NULL) {
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    copy->values = values;
  } else {
    sl_buffer *raw = &writer->series_raw;
    SL_TRY(put_bytes(raw, entry->key.data, entry->key.size_bytes, err));
    SL_TRY(put_varint(raw, entry->value_count, err));
    for (uint32_t v = 0; v < entry->value_count; v++) {
      SL_TRY(put_bytes(raw, entry->values[v].data, entry->values[v].size_bytes, err));
    }
  }
  writer->series_count++;
  return SL_OK;
}

sl_status sl_part_writer_add_term(sl_part_writer *writer, uint32_t index, sl_bytes term,
                                  const roaring_bitmap_t *postings, sl_error *err) {
  assert(index < writer->layout.index_count && postings != NULL);
  if (roaring_bitmap_is_empty(postings)) {
    return SL_OK;
  }
  if (writer->have_term[index]) {
    sl_bytes last = {.data = (const char *)writer->last_term[index].data, .size_bytes = writer->last_term[index].size};
    if (sl_bytes_compare(last, term) >= 0) {
      return sl_error_set(err, SL_ERR_INTERNAL, "part writer: terms of index %s out of order", writer->layout.indexes[index].name);
    }
  }
  writer->last_term[index].size = 0;
  SL_TRY(sl_buffer_append(&writer->last_term[index], term.data, term.size_bytes, err));
  writer->have_term[index] = true;
  writer->term_counts[index]++;
  if (!writer->memory) {
    return sl_term_writer_add(writer->term_writers[index], term.data, term.size_bytes, postings, err);
  }
  uint64_t count = roaring_bitmap_get_cardinality(postings);
  uint32_t *positions = malloc((size_t)(count + 1) * sizeof *positions);
  if (positions == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  roaring_bitmap_to_uint32_array(postings, positions);
  sl_status status = SL_OK;
  for (uint64_t i = 0; i < count && status == SL_OK; i++) {
    status = sl_term_builder_add(writer->term_builders[index], term.data, term.size_bytes, positions[i], err);
  }
  free(positions);
  return status;
}

/* Closes every file of a file writer (none for a memory writer). */
static void close_files(sl_part_writer *writer) {
  for (uint32_t f = 0; writer->files != NULL && f < writer->layout.file_count; f++) {
    out_file_close(&writer->files[f]);
  }
  out_file_close(&writer->primary);
}

static void writer_free(sl_part_writer *writer) {
  close_files(writer);
  free(writer->files);
  for (uint32_t i = 0; i < SL_PART_MAX_INDEXES; i++) {
    sl_term_writer_free(writer->term_writers[i]);
    sl_term_builder_free(writer->term_builders[i]);
    sl_buffer_free(&writer->last_term[i]);
  }
  for (uint32_t c = 0; c < SL_PART_MAX_COLUMNS; c++) {
    free(writer->columns[c].ints);
    free(writer->columns[c].bytes);
    free(writer->columns[c].nulls);
  }
  free(writer->mem_blocks);
  free(writer->mem_refs);
  free(writer->mem_series);
  free(writer->chunks);
  sl_buffer_free(&writer->chunk_raw);
  sl_buffer_free(&writer->last_key);
  sl_buffer_free(&writer->bloom_keys);
  sl_buffer_free(&writer->series_raw);
  sl_buffer_free(&writer->last_series);
  sl_buffer_free(&writer->encode_scratch);
  sl_buffer_free(&writer->frame_scratch);
  sl_codec_free(writer->codec);
  sl_arena_free(writer->arena);
  free(writer->dir);
  free(writer);
}

void sl_part_writer_abort(sl_part_writer *writer) {
  if (writer == NULL) {
    return;
  }
  close_files(writer);
  if (writer->dir != NULL) {
    sl_fileio_remove_tree(writer->dir);
  }
  writer_free(writer);
}

/* The memory writer hands its arrays to a new part. */
static sl_status finish_memory(sl_part_writer *writer, sl_part **out, sl_error *err) {
  sl_part *part = part_new(&writer->layout, writer->part_id);
  if (part == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  uint32_t columns = writer->layout.column_count;
  sl_status status = SL_OK;
  /* The part takes the writer's arena (keys, values) and arrays. */
  sl_arena_free(part->arena);
  part->arena = writer->arena;
  writer->arena = NULL;
  part->blocks = writer->mem_blocks;
  part->refs = writer->mem_refs;
  writer->mem_blocks = NULL;
  writer->mem_refs = NULL;
  part->block_count = writer->blocks;
  for (size_t b = 0; b < part->block_count; b++) {
    part->blocks[b].columns = part->refs + b * columns;
  }
  uint64_t bytes = sl_arena_reserved_bytes(part->arena) + writer->blocks * (sizeof(sl_block_meta) + columns * sizeof(sl_column_ref));
  for (uint32_t c = 0; c < columns; c++) {
    part->ints[c] = writer->columns[c].ints;
    part->bytes[c] = writer->columns[c].bytes;
    part->nulls[c] = writer->columns[c].nulls;
    writer->columns[c].ints = NULL;
    writer->columns[c].bytes = NULL;
    writer->columns[c].nulls = NULL;
    bytes += writer->row_capacity * (is_int_column(writer->layout.columns[c].type) ? 8 : sizeof(sl_bytes)) + writer->row_capacity;
  }
  part->chunks = writer->chunks;
  writer->chunks = NULL;
  part->chunk_count = writer->chunk_count;
  /* Chunk infos live in part memory owned by... the writer's malloc'ed array: keep it alive in the arena. */
  sl_chunk_info *chunks = sl_arena_alloc(part->arena, (part->chunk_count + 1) * sizeof(sl_chunk_info));
  if (chunks == NULL) {
    free(part->chunks);
    part->chunks = NULL;
    part_free(part);
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  memcpy(chunks, part->chunks, part->chunk_count * sizeof(sl_chunk_info));
  free(part->chunks);
  part->chunks = chunks;
  part->series = writer->mem_series;
  part->series_count = writer->series_count;
  if (part->series != NULL) {
    sl_series_entry *series = sl_arena_alloc(part->arena, (part->series_count + 1) * sizeof(sl_series_entry));
    if (series == NULL) {
      free(writer->mem_series);
      writer->mem_series = NULL;
      part->series = NULL;
      part_free(part);
      return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    memcpy(series, writer->mem_series, part->series_count * sizeof(sl_series_entry));
    part->series = series;
  }
  for (uint32_t i = 0; status == SL_OK && i < writer->layout.index_count; i++) {
    status = sl_term_builder_finish(writer->term_builders[i], &part->indexes[i].list, err);
    if (status == SL_OK) {
      part->indexes[i].terms = sl_term_list_count(part->indexes[i].list);
      bytes += sl_term_list_memory_bytes(part->indexes[i].list);
    }
  }
  if (status == SL_OK && writer->layout.key_bloom) {
    status = sl_bloom_init(&part->bloom, writer->bloom_key_count, err);
    part->has_bloom = status == SL_OK;
    reader r = {.data = writer->bloom_keys.data, .size = writer->bloom_keys.size, .path = "(memory)", .what = "keys", .err = err};
    for (uint64_t k = 0; status == SL_OK && k < writer->bloom_key_count; k++) {
      sl_bytes key = {0};
      read_bytes(&r, &key, SL_PART_MAX_KEY_BYTES);
      status = r.status;
      if (status == SL_OK) {
        sl_bloom_add(&part->bloom, key.data, key.size_bytes);
      }
    }
  }
  if (status != SL_OK) {
    part_free(part);
    return status;
  }
  memcpy(part->column_stats, writer->stats, sizeof writer->stats);
  sl_part_info *info = &part->info;
  info->in_memory = true;
  info->rows = writer->rows;
  info->blocks = writer->blocks;
  info->chunks = part->chunk_count;
  info->min_sort = writer->min_sort;
  info->max_sort = writer->max_sort;
  info->min_timestamp = writer->min_timestamp;
  info->max_timestamp = writer->max_timestamp;
  info->first_sequence = writer->first_sequence;
  info->last_sequence = writer->last_sequence;
  info->size_bytes = bytes;
  for (uint32_t c = 0; c < columns; c++) {
    info->raw_bytes += writer->stats[c].raw_bytes;
  }
  *out = part;
  return SL_OK;
}

/* Writes the part's remaining files, then makes them all durable: each file's writeback starts as it
 * is written and the fsyncs come last, so the disk writes them together instead of one fsync's wait
 * after another (a part has 20-odd files). The directory is renamed into place only afterwards. */
static sl_status finish_files(sl_part_writer *writer, sl_error *err) {
  const sl_part_layout *layout = &writer->layout;
  sl_buffer content = {0};
  sl_buffer frame = {0};
  small_files *smalls = calloc(1, sizeof *smalls);
  sl_status status = smalls != NULL ? SL_OK : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  uint64_t file_sizes[SL_PART_MAX_FILES] = {0};
  for (uint32_t f = 0; status == SL_OK && f < layout->file_count; f++) {
    file_sizes[f] = out_file_offset(&writer->files[f]) + SL_PART_FOOTER_BYTES;
    status = out_file_seal(&writer->files[f], SL_PART_FILE_COLUMNS, err);
  }
  if (status == SL_OK) {
    status = out_file_seal(&writer->primary, SL_PART_FILE_PRIMARY, err);
  }
  /* meta.bin: the chunk list. */
  if (status == SL_OK) {
    status = put_varint(&content, writer->chunk_count, err);
  }
  for (size_t c = 0; status == SL_OK && c < writer->chunk_count; c++) {
    const sl_chunk_info *chunk = &writer->chunks[c];
    status = put_bytes(&content, chunk->first_key.data, chunk->first_key.size_bytes, err);
    status = status == SL_OK ? put_bytes(&content, chunk->last_key.data, chunk->last_key.size_bytes, err) : status;
    status = status == SL_OK ? put_varint(&content, chunk->first_block, err) : status;
    status = status == SL_OK ? put_varint(&content, chunk->block_count, err) : status;
    status = status == SL_OK ? put_varint(&content, chunk->first_row, err) : status;
    status = status == SL_OK ? put_varint(&content, chunk->row_count, err) : status;
    status = status == SL_OK ? put_zigzag(&content, chunk->min_sort, err) : status;
    status = status == SL_OK ? put_zigzag(&content, chunk->max_sort, err) : status;
    status = status == SL_OK ? put_zigzag(&content, chunk->min_timestamp, err) : status;
    status = status == SL_OK ? put_zigzag(&content, chunk->max_timestamp, err) : status;
    status = status == SL_OK ? put_varint(&content, chunk->offset, err) : status;
    status = status == SL_OK ? put_varint(&content, chunk->size, err) : status;
  }
  if (status == SL_OK) {
    status = sl_block_encode(writer->codec, content.data, content.size, &frame, NULL, err);
  }
  if (status == SL_OK) {
    status = write_small(writer, "meta.bin", SL_PART_FILE_META, &frame, smalls, err);
  }
  /* smeta.bin */
  if (status == SL_OK && layout->series_metadata) {
    content.size = 0;
    frame.size = 0;
    status = put_varint(&content, writer->series_count, err);
    status = status == SL_OK ? sl_buffer_append(&content, writer->series_raw.data, writer->series_raw.size, err) : status;
    status = status == SL_OK ? sl_block_encode(writer->codec, content.data, content.size, &frame, NULL, err) : status;
    status = status == SL_OK ? write_small(writer, "smeta.bin", SL_PART_FILE_SERIES, &frame, smalls, err) : status;
  }
  /* traceID.filter */
  if (status == SL_OK && layout->key_bloom) {
    sl_bloom bloom;
    status = sl_bloom_init(&bloom, writer->bloom_key_count, err);
    if (status == SL_OK) {
      reader r = {.data = writer->bloom_keys.data, .size = writer->bloom_keys.size, .path = writer->dir, .what = "keys", .err = err};
      for (uint64_t k = 0; status == SL_OK && k < writer->bloom_key_count; k++) {
        sl_bytes key = {0};
        read_bytes(&r, &key, SL_PART_MAX_KEY_BYTES);
        status = r.status;
        if (status == SL_OK) {
          sl_bloom_add(&bloom, key.data, key.size_bytes);
        }
      }
      content.size = 0;
      status = status == SL_OK ? sl_bloom_encode(&bloom, &content, err) : status;
      status = status == SL_OK ? write_small(writer, "traceID.filter", SL_PART_FILE_BLOOM, &content, smalls, err) : status;
      sl_bloom_free(&bloom);
    }
  }
  /* term indexes */
  for (uint32_t i = 0; status == SL_OK && i < layout->index_count; i++) {
    content.size = 0;
    uint64_t terms = 0;
    status = sl_term_writer_finish(writer->term_writers[i], &content, &terms, err);
    if (status == SL_OK && terms != writer->term_counts[i]) {
      status = sl_error_set(err, SL_ERR_INTERNAL, "term writer counted %llu terms, the part %llu", (unsigned long long)terms,
                            (unsigned long long)writer->term_counts[i]);
    }
    char name[SL_PART_NAME_BYTES + 8];
    sl_fileio_path(name, sizeof name, "%s.idx", layout->indexes[i].name);
    status = status == SL_OK ? write_small(writer, name, SL_PART_FILE_INDEX, &content, smalls, err) : status;
  }
  /* metadata.bin last: a part directory without it is incomplete. */
  if (status == SL_OK) {
    content.size = 0;
    uint8_t fixed[8];
    put_u32le(fixed, METADATA_VERSION);
    put_u32le(fixed + 4, (uint32_t)layout->kind);
    status = sl_buffer_append(&content, fixed, 8, err);
    status = status == SL_OK ? put_varint(&content, writer->rows, err) : status;
    status = status == SL_OK ? put_varint(&content, writer->blocks, err) : status;
    status = status == SL_OK ? put_varint(&content, writer->chunk_count, err) : status;
    status = status == SL_OK ? put_zigzag(&content, writer->min_sort, err) : status;
    status = status == SL_OK ? put_zigzag(&content, writer->max_sort, err) : status;
    status = status == SL_OK ? put_zigzag(&content, writer->min_timestamp, err) : status;
    status = status == SL_OK ? put_zigzag(&content, writer->max_timestamp, err) : status;
    status = status == SL_OK ? put_varint(&content, writer->first_sequence, err) : status;
    status = status == SL_OK ? put_varint(&content, writer->last_sequence, err) : status;
    status = status == SL_OK ? put_varint(&content, layout->column_count, err) : status;
    for (uint32_t c = 0; status == SL_OK && c < layout->column_count; c++) {
      uint8_t type = (uint8_t)layout->columns[c].type;
      status = put_bytes(&content, layout->columns[c].name, strlen(layout->columns[c].name), err);
      status = status == SL_OK ? sl_buffer_append(&content, &type, 1, err) : status;
      status = status == SL_OK ? put_varint(&content, layout->columns[c].file, err) : status;
      status = status == SL_OK ? put_varint(&content, writer->stats[c].raw_bytes, err) : status;
      status = status == SL_OK ? put_varint(&content, writer->stats[c].encoded_bytes, err) : status;
      status = status == SL_OK ? put_varint(&content, writer->stats[c].stored_bytes, err) : status;
    }
    status = status == SL_OK ? put_varint(&content, layout->file_count, err) : status;
    for (uint32_t f = 0; status == SL_OK && f < layout->file_count; f++) {
      status = put_bytes(&content, layout->file_names[f], strlen(layout->file_names[f]), err);
      status = status == SL_OK ? put_varint(&content, file_sizes[f], err) : status;
    }
    status = status == SL_OK ? put_varint(&content, layout->index_count, err) : status;
    for (uint32_t i = 0; status == SL_OK && i < layout->index_count; i++) {
      status = put_bytes(&content, layout->indexes[i].name, strlen(layout->indexes[i].name), err);
      status = status == SL_OK ? put_varint(&content, layout->indexes[i].column, err) : status;
      status = status == SL_OK ? put_varint(&content, writer->term_counts[i], err) : status;
    }
    status = status == SL_OK ? write_small(writer, "metadata.bin", SL_PART_FILE_METADATA, &content, smalls, err) : status;
  }
  /* All of the part's files and its directory at once, then closed (the writer's are closed by
   * close_files): nothing is renamed or named until every one of them is durable, so the order
   * among them does not matter, and one round of fsyncs waits for the disk once, not twice. */
  if (status == SL_OK) {
    int fds[SL_PART_MAX_FILES + 2 + SMALL_FILES_MAX];
    const char *paths[SL_PART_MAX_FILES + 2 + SMALL_FILES_MAX];
    size_t count = 0;
    for (size_t i = 0; i < layout->file_count + 1 + smalls->count; i++) {
      const out_file *file = i < layout->file_count    ? &writer->files[i]
                             : i == layout->file_count ? &writer->primary
                                                       : &smalls->files[i - layout->file_count - 1];
      fds[count] = file->fd;
      paths[count++] = file->path;
    }
    int dir_fd = open(writer->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) {
      status = sl_fileio_errno_error(err, errno, "open directory", writer->dir);
    } else {
      fds[count] = dir_fd;
      paths[count++] = writer->dir;
      status = sl_fileio_fsync_all(fds, paths, count, err);
      close(dir_fd);
    }
  }
  for (size_t i = 0; smalls != NULL && i < smalls->count; i++) {
    out_file_close(&smalls->files[i]);
  }
  free(smalls);
  sl_buffer_free(&content);
  sl_buffer_free(&frame);
  return status;
}

sl_status sl_part_writer_finish(sl_part_writer *writer, sl_part **out, sl_error *err) {
  assert(writer != NULL && out != NULL);
  *out = NULL;
  if (writer->rows == 0) {
    sl_part_writer_abort(writer);
    return sl_error_set(err, SL_ERR_INTERNAL, "part writer: a part needs at least one row");
  }
  sl_status status = flush_chunk(writer, err);
  if (status == SL_OK && writer->memory) {
    status = finish_memory(writer, out, err);
    writer_free(writer);
    return status;
  }
  if (status == SL_OK) {
    status = finish_files(writer, err);
  }
  if (status != SL_OK) {
    sl_part_writer_abort(writer);
    return status;
  }
  sl_part_layout layout = writer->layout;
  char *dir = strdup(writer->dir);
  uint64_t id = writer->part_id;
  writer_free(writer);
  if (dir == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  }
  status = sl_part_open(&layout, dir, id, out, err);
  free(dir);
  return status;
}

/* ------------------------------------------------------------------ memory parts from rows */

typedef struct sort_context {
  const sl_row_input *rows;
  uint32_t sort_column;
} sort_context;

static int compare_rows(const void *a, const void *b, void *opaque) {
  const sort_context *context = opaque;
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  const sl_row_input *left = &context->rows[x], *right = &context->rows[y];
  int order = sl_bytes_compare(left->key, right->key);
  if (order != 0) {
    return order;
  }
  const sl_value *lv = &left->values[context->sort_column], *rv = &right->values[context->sort_column];
  int64_t l = lv->kind == SL_VALUE_NULL ? INT64_MIN : lv->as.int_value;
  int64_t r = rv->kind == SL_VALUE_NULL ? INT64_MIN : rv->as.int_value;
  if (l != r) {
    return l < r ? -1 : 1;
  }
  return x < y ? -1 : x > y;
}

static uint64_t row_raw_bytes(const sl_part_layout *layout, const sl_row_input *row) {
  uint64_t bytes = row->key.size_bytes;
  for (uint32_t c = 0; c < layout->column_count; c++) {
    bytes += sl_column_value_raw_bytes(layout->columns[c].type, &row->values[c]);
  }
  return bytes;
}

static sl_value value_of(const sl_row_input *row, uint32_t column) { return row->values[column]; }

sl_status sl_part_build_memory(const sl_part_layout *layout, const sl_row_input *rows, size_t row_count,
                               uint64_t part_id, uint64_t sequence, sl_part **out, sl_error *err) {
  assert(layout != NULL && out != NULL && (rows != NULL || row_count == 0));
  *out = NULL;
  if (row_count == 0) {
    return sl_error_set(err, SL_ERR_INTERNAL, "a memory part needs at least one row");
  }
  if (row_count > UINT32_MAX / 2) {
    return sl_error_set(err, SL_ERR_INVALID, "a batch of %zu rows is over the limit", row_count);
  }
  if (layout->column_count == 0) {
    return sl_error_set(err, SL_ERR_INTERNAL, "a part layout without columns");
  }
  for (size_t i = 0; i < row_count; i++) {
    for (uint32_t c = 0; c < layout->column_count; c++) {
      sl_value_kind kind = rows[i].values[c].kind;
      bool int_column = is_int_column(layout->columns[c].type);
      bool fits = kind == SL_VALUE_NULL || (int_column ? (kind == SL_VALUE_INT || kind == SL_VALUE_TIMESTAMP)
                                                       : (kind == SL_VALUE_STR || kind == SL_VALUE_BINARY));
      if (!fits || (c == layout->sort_column && kind == SL_VALUE_NULL)) {
        return sl_error_set(err, SL_ERR_INVALID, "row %zu: column %s: a value of the wrong kind", i, layout->columns[c].name);
      }
    }
  }
  size_t *order = malloc((row_count + 1) * sizeof *order);
  int64_t *ints = malloc((row_count + 1) * sizeof *ints * layout->column_count);
  sl_bytes *bytes = malloc((row_count + 1) * sizeof *bytes * layout->column_count);
  uint8_t *nulls = malloc((row_count + 1) * layout->column_count);
  sl_part_writer *writer = NULL;
  /* The part keeps the writer's arena (keys, strings, series values) and row arrays: size both
   * for this batch, not for a large one (a 256 KiB arena and 256-row arrays made every memory part
   * of a small batch count ~300 KiB against memory_bytes_limit, so small batches flushed on almost
   * every write). */
  uint64_t copied_bytes = 0;
  for (size_t i = 0; i < row_count; i++) {
    copied_bytes += row_raw_bytes(layout, &rows[i]) + 16 * layout->column_count;
    for (uint32_t v = 0; layout->series_metadata && v < rows[i].series_value_count; v++) {
      copied_bytes += rows[i].series_values[v].size_bytes + 16;
    }
  }
  size_t arena_block_bytes = copied_bytes < 4096 ? 4096 : copied_bytes > 256 * 1024 ? 256 * 1024 : (size_t)copied_bytes;
  sl_status status = order != NULL && ints != NULL && bytes != NULL && nulls != NULL
                         ? writer_open(layout, NULL, part_id, arena_block_bytes, true, &writer, err)
                         : sl_error_set(err, SL_ERR_NOMEM, "out of memory");
  if (status == SL_OK) {
    status = mem_reserve_rows(writer, row_count, err);
  }
  if (status == SL_OK) {
    for (size_t i = 0; i < row_count; i++) {
      order[i] = i;
    }
    sort_context context = {.rows = rows, .sort_column = layout->sort_column};
    qsort_r(order, row_count, sizeof *order, compare_rows, &context);
    sl_part_writer_set_sequences(writer, sequence, sequence);
  }
  /* Cut blocks: one key each, within the row and byte limits. */
  size_t start = 0;
  while (status == SL_OK && start < row_count) {
    size_t end = start;
    uint64_t block_bytes = 0;
    const sl_row_input *first = &rows[order[start]];
    while (end < row_count) {
      const sl_row_input *row = &rows[order[end]];
      if (sl_bytes_compare(row->key, first->key) != 0) {
        break;
      }
      /* A row that would take the block past the byte limit starts the next one (a single row
       * over the limit gets a block of its own). */
      uint64_t row_bytes = row_raw_bytes(layout, row);
      if (end > start && ((layout->max_block_rows > 0 && end - start >= layout->max_block_rows) ||
                          (layout->max_block_raw_bytes > 0 && block_bytes + row_bytes > layout->max_block_raw_bytes))) {
        break;
      }
      block_bytes += row_bytes;
      end++;
    }
    size_t count = end - start;
    sl_column_view views[SL_PART_MAX_COLUMNS];
    for (uint32_t c = 0; c < layout->column_count; c++) {
      int64_t *column_ints = ints + (size_t)c * (row_count + 1);
      sl_bytes *column_bytes = bytes + (size_t)c * (row_count + 1);
      uint8_t *column_nulls = nulls + (size_t)c * (row_count + 1);
      bool any_null = false;
      for (size_t i = 0; i < count; i++) {
        sl_value value = value_of(&rows[order[start + i]], c);
        column_nulls[i] = value.kind == SL_VALUE_NULL;
        any_null = any_null || column_nulls[i];
        column_ints[i] = value.kind == SL_VALUE_INT || value.kind == SL_VALUE_TIMESTAMP ? value.as.int_value : 0;
        column_bytes[i] = value.kind == SL_VALUE_STR || value.kind == SL_VALUE_BINARY ? value.as.str : (sl_bytes){0};
      }
      views[c] = (sl_column_view){.type = layout->columns[c].type, .count = count, .ints = column_ints,
                                  .bytes = column_bytes, .is_null = any_null ? column_nulls : NULL};
    }
    uint64_t first_row = 0;
    status = sl_part_writer_add_block(writer, first->key, views, (uint32_t)count, &first_row, err);
    if (status == SL_OK && layout->series_metadata) {
      sl_series_entry entry = {.key = first->key, .value_count = first->series_value_count, .values = first->series_values};
      status = sl_part_writer_add_series(writer, &entry, err);
    }
    /* Terms of this block's rows. */
    for (uint32_t x = 0; status == SL_OK && x < layout->index_count; x++) {
      uint32_t column = layout->indexes[x].column;
      for (size_t i = 0; status == SL_OK && i < count; i++) {
        sl_value value = value_of(&rows[order[start + i]], column);
        if (value.kind == SL_VALUE_NULL) {
          continue;
        }
        uint8_t number[8];
        sl_bytes term = value.as.str;
        if (is_int_column(layout->columns[column].type)) {
          sl_term_from_int64(value.as.int_value, number);
          term = (sl_bytes){.data = (const char *)number, .size_bytes = 8};
        }
        status = sl_term_builder_add(writer->term_builders[x], term.data, term.size_bytes, (uint32_t)(first_row + i), err);
      }
    }
    start = end;
  }
  free(order);
  free(ints);
  free(bytes);
  free(nulls);
  if (status != SL_OK) {
    sl_part_writer_abort(writer);
    return status;
  }
  return sl_part_writer_finish(writer, out, err);
}
