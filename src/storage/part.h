/*
 * part.h: immutable, sorted, columnar parts shared by the Stream and Trace
 * engines and the trace model's secondary indexes (docs/FORMAT.md "Parts").
 *
 * A part holds rows sorted by (block key, sort value, write order), cut into
 * blocks of one key each.  It lives in memory (a memory part: one write batch,
 * or several merged) or in a directory (a file part).  Both answer the same
 * reading calls, so queries and merges never care which kind they read.
 *
 * The layout (columns, their types and files, term indexes, key bloom) is
 * fixed by the engine and copied into each part.
 *
 * Ownership and threads:
 *   - A part is reference counted.  sl_part_ref / sl_part_unref; the last
 *     unref frees it, and removes its directory if sl_part_mark_obsolete was
 *     called.  Everything a part hands out (block metadata, series entries,
 *     term lists) stays valid while the caller holds a reference.
 *   - A part is immutable once built or opened and may be read by many
 *     threads at once; each thread brings its own sl_read_context (codec,
 *     scratch memory, statistics).
 *   - Column views returned by sl_part_read_column point into the part
 *     (memory parts) or into the read context's arena (file parts): valid
 *     until sl_read_context_reset.
 */
#ifndef SPANLAB_STORAGE_PART_H
#define SPANLAB_STORAGE_PART_H

#include <roaring/roaring.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "spanlab/error.h"
#include "spanlab/value.h"
#include "storage/block.h"
#include "storage/encoding.h"
#include "storage/termindex.h"

enum {
  SL_PART_MAX_COLUMNS = 48,
  SL_PART_MAX_FILES = 48,
  SL_PART_MAX_INDEXES = 32,
  SL_PART_MAX_SERIES_VALUES = 16,
  SL_PART_NAME_BYTES = 96,
  SL_PART_CHUNK_BLOCKS = 128,
  SL_PART_MAX_KEY_BYTES = 4096,
  SL_PART_FOOTER_BYTES = 40
};

typedef enum sl_column_type {
  SL_COLUMN_INT64 = 1,
  SL_COLUMN_TIMESTAMP = 2,
  SL_COLUMN_STRING = 3,
  SL_COLUMN_BINARY = 4
} sl_column_type;

typedef enum sl_layout_kind { SL_LAYOUT_STREAM = 1, SL_LAYOUT_TRACE = 2, SL_LAYOUT_SIDX = 3 } sl_layout_kind;

typedef enum sl_part_file_kind {
  SL_PART_FILE_METADATA = 1,
  SL_PART_FILE_META = 2,
  SL_PART_FILE_PRIMARY = 3,
  SL_PART_FILE_COLUMNS = 4,
  SL_PART_FILE_INDEX = 5,
  SL_PART_FILE_BLOOM = 6,
  SL_PART_FILE_SERIES = 7
} sl_part_file_kind;

typedef struct sl_column_spec {
  char name[SL_PART_NAME_BYTES];
  sl_column_type type;
  uint32_t file; /* index into the layout's file names */
} sl_column_spec;

typedef struct sl_index_spec {
  char name[SL_PART_NAME_BYTES]; /* file IDX.idx */
  uint32_t column;
} sl_index_spec;

typedef struct sl_part_layout {
  sl_layout_kind kind;
  uint32_t column_count;
  sl_column_spec columns[SL_PART_MAX_COLUMNS];
  uint32_t file_count;
  char file_names[SL_PART_MAX_FILES][SL_PART_NAME_BYTES];
  uint32_t index_count;
  sl_index_spec indexes[SL_PART_MAX_INDEXES];
  uint32_t sort_column;      /* an int64/timestamp column: rows of a key are ordered by it */
  int32_t timestamp_column;  /* the element timestamp for min/max time, or -1 (use the sort value) */
  bool key_bloom;            /* traceID.filter over block keys */
  bool series_metadata;      /* smeta.bin: values per key */
  uint32_t max_block_rows;   /* 0: no limit */
  uint64_t max_block_raw_bytes;
} sl_part_layout;

/* Appends a column / file / index to a layout; returns its index. Asserts on overflow. */
uint32_t sl_layout_add_file(sl_part_layout *layout, const char *name);
uint32_t sl_layout_add_column(sl_part_layout *layout, const char *name, sl_column_type type, uint32_t file);
uint32_t sl_layout_add_index(sl_part_layout *layout, const char *name, uint32_t column);
/* Checks names (file-name safe, unique) and counts. */
sl_status sl_layout_validate(const sl_part_layout *layout, sl_error *err);

/* ---- rows handed to a memory-part build ---- */

typedef struct sl_row_input {
  sl_bytes key;
  const sl_value *values;       /* layout->column_count values: INT (int64/timestamp), STR or BINARY
                                   (string/binary columns), or NULL */
  const sl_bytes *series_values; /* layout->series_metadata: the key's values (may repeat per row) */
  uint32_t series_value_count;
} sl_row_input;

/* ---- what a part holds ---- */

typedef struct sl_column_ref {
  uint64_t offset;     /* file parts: in the column's file */
  uint64_t size;       /* stored bytes of the block frame */
  uint32_t null_count;
  int64_t min;         /* int64/timestamp columns: of the non-null values */
  int64_t max;
} sl_column_ref;

typedef struct sl_block_meta {
  sl_bytes key;
  uint32_t rows;
  uint64_t first_row;
  int64_t min_sort;
  int64_t max_sort;
  int64_t min_timestamp;
  int64_t max_timestamp;
  const sl_column_ref *columns; /* layout->column_count */
} sl_block_meta;

typedef struct sl_chunk_info {
  sl_bytes first_key;
  sl_bytes last_key;
  uint64_t first_block;
  uint32_t block_count;
  uint64_t first_row;
  uint64_t row_count;
  int64_t min_sort;
  int64_t max_sort;
  int64_t min_timestamp;
  int64_t max_timestamp;
  uint64_t offset; /* in primary.bin */
  uint64_t size;
} sl_chunk_info;

typedef struct sl_series_entry {
  sl_bytes key;
  uint32_t value_count;
  const sl_bytes *values;
} sl_series_entry;

typedef struct sl_column_stats {
  uint64_t raw_bytes;     /* values as handed in */
  uint64_t encoded_bytes; /* after column encoding */
  uint64_t stored_bytes;  /* after framing and zstd */
} sl_column_stats;

typedef struct sl_part_info {
  uint64_t id;
  bool in_memory;
  uint64_t rows;
  uint64_t blocks;
  uint64_t chunks;
  int64_t min_sort;
  int64_t max_sort;
  int64_t min_timestamp;
  int64_t max_timestamp;
  uint64_t first_sequence; /* WAL sequences of its rows */
  uint64_t last_sequence;
  uint64_t size_bytes;     /* file parts: bytes on disk; memory parts: bytes held */
  uint64_t raw_bytes;      /* sum of the columns' raw bytes */
  int64_t created_ns;      /* monotonic clock */
} sl_part_info;

/* Per-thread reading state and the query statistics it counts. */
typedef struct sl_read_stats {
  uint64_t blocks_read;       /* column blocks read: decoded from a file part or taken from a memory part */
  uint64_t blocks_skipped;    /* maintained by callers (engines) */
  uint64_t chunks_loaded;     /* primary chunks read from primary.bin */
  uint64_t chunk_cache_hits;
  uint64_t bytes_read;        /* from files */
  uint64_t bytes_decompressed;
  uint64_t postings_read;     /* posting lists read */
  uint64_t rows_examined;     /* maintained by callers */
  uint64_t bloom_checks;
  uint64_t bloom_negatives;
} sl_read_stats;

typedef struct sl_read_context {
  sl_codec *codec;
  sl_arena *arena;      /* decoded columns; reset by the caller */
  sl_buffer scratch;    /* raw reads */
  sl_buffer scratch2;   /* decompression */
  sl_read_stats stats;
} sl_read_context;

sl_status sl_read_context_init(sl_read_context *context, sl_error *err);
void sl_read_context_reset(sl_read_context *context); /* frees decoded columns */
void sl_read_context_free(sl_read_context *context);

/* A pool of read contexts, so that each query does not create zstd contexts
 * anew.  Thread-safe.  Owns the contexts it holds; a taken context is the
 * taker's until given back (its arena reset and its statistics zeroed). */
typedef struct sl_context_pool sl_context_pool;
sl_context_pool *sl_context_pool_new(void);
void sl_context_pool_free(sl_context_pool *pool);
sl_status sl_context_pool_take(sl_context_pool *pool, sl_read_context **out, sl_error *err);
void sl_context_pool_give(sl_context_pool *pool, sl_read_context *context);

typedef struct sl_part sl_part;

/* A decoded column of one block. */
typedef struct sl_column_view {
  sl_column_type type;
  size_t count;
  const int64_t *ints;      /* int64/timestamp (0 where null) */
  const sl_bytes *bytes;    /* string/binary ({NULL,0} where null) */
  const uint8_t *is_null;   /* NULL when the block has no null; else one byte per row, 1 = null */
} sl_column_view;

/* Builds a memory part from rows in any order (sorted here, stably: rows of
 * equal key and sort value keep their input order).  Copies every value.
 * sequence: the WAL record the rows come from (0 if none). */
sl_status sl_part_build_memory(const sl_part_layout *layout, const sl_row_input *rows, size_t row_count,
                               uint64_t part_id, uint64_t sequence, sl_part **out, sl_error *err);

/* Opens the part directory dir (written by sl_part_writer): checks every
 * file's footer and the small files' checksums, reads metadata, meta, series
 * metadata, bloom and the term directories.  The layout must match the one
 * the part was written with (column names and types), else SL_ERR_CORRUPT. */
sl_status sl_part_open(const sl_part_layout *layout, const char *dir, uint64_t part_id, sl_part **out,
                       sl_error *err);

void sl_part_ref(sl_part *part);
void sl_part_unref(sl_part *part);
/* The last unref removes the part's directory (a merged-away file part). */
void sl_part_mark_obsolete(sl_part *part);
/* Unmaps the pages of the part's files from this process (they stay in the
 * page cache): after a merge read them, so the merge's reads do not count as
 * this process's memory. */
void sl_part_release_pages(sl_part *part);

const sl_part_layout *sl_part_layout_of(const sl_part *part);
sl_part_info sl_part_info_of(const sl_part *part);
/* A memory part takes the WAL sequence of its batch once the batch is logged (it is built while
 * the record is written, so before the sequence is known); flushes and merges carry the range into
 * the file parts' metadata.bin. Only before the part is shared. */
void sl_part_set_memory_sequences(sl_part *part, uint64_t first_sequence, uint64_t last_sequence);
const char *sl_part_dir(const sl_part *part); /* NULL for memory parts */
const sl_column_stats *sl_part_column_stats(const sl_part *part); /* layout->column_count */
/* Bytes of each file (file parts; 0 for memory parts), index by layout file, then the fixed files. */
uint64_t sl_part_file_bytes(const sl_part *part, sl_part_file_kind kind, uint32_t layout_file);

/* Chunks (groups of up to SL_PART_CHUNK_BLOCKS blocks) and their blocks. */
size_t sl_part_chunk_count(const sl_part *part);
const sl_chunk_info *sl_part_chunk(const sl_part *part, size_t chunk);
/* The blocks of a chunk (file parts: read once, then cached by the part). */
sl_status sl_part_chunk_blocks(sl_part *part, size_t chunk, sl_read_context *context,
                               const sl_block_meta **blocks, size_t *count, sl_error *err);
/* The block holding row position row: *block and the row's index within it. */
sl_status sl_part_block_of_row(sl_part *part, uint64_t row, sl_read_context *context,
                               const sl_block_meta **block, uint32_t *row_in_block, sl_error *err);
/* The first chunk whose last key >= key (chunk count when none). */
size_t sl_part_chunk_lower_bound(const sl_part *part, sl_bytes key);

/* Decodes one column of one block. */
sl_status sl_part_read_column(sl_part *part, const sl_block_meta *block, uint32_t column,
                              sl_read_context *context, sl_column_view *out, sl_error *err);
/* The stored frame of one column of one block (file parts), for raw copies
 * in merges: *data valid until the next read on context. */
sl_status sl_part_read_column_raw(sl_part *part, const sl_block_meta *block, uint32_t column,
                                  sl_read_context *context, const uint8_t **data, sl_error *err);

/* Series metadata (layout->series_metadata): entries sorted by key. */
size_t sl_part_series_count(const sl_part *part);
const sl_series_entry *sl_part_series_at(const sl_part *part, size_t index);

/* The key bloom (layout->key_bloom): false when the key is surely absent. */
bool sl_part_key_might_exist(const sl_part *part, sl_bytes key, sl_read_context *context);

/* Term index i of the layout: postings of one term (NULL when absent; caller frees). */
sl_status sl_part_index_lookup(sl_part *part, uint32_t index, sl_bytes term, sl_read_context *context,
                               roaring_bitmap_t **out, sl_error *err);
/* Union of postings of terms in [low, high]; NULL bound: open.  Never NULL on success. */
sl_status sl_part_index_range(sl_part *part, uint32_t index, const sl_bytes *low, const sl_bytes *high,
                              sl_read_context *context, roaring_bitmap_t **out, sl_error *err);
/* Distinct terms of index i. */
uint64_t sl_part_index_terms(const sl_part *part, uint32_t index);
uint64_t sl_part_index_bytes(const sl_part *part, uint32_t index);

/* In-order term iteration over one index of one part (memory or file). */
typedef struct sl_part_term_cursor sl_part_term_cursor;
sl_status sl_part_term_cursor_open(sl_part *part, uint32_t index, bool descending, sl_read_context *context,
                                   sl_part_term_cursor **out, sl_error *err);
sl_status sl_part_term_cursor_seek(sl_part_term_cursor *cursor, const sl_bytes *term, sl_error *err);
/* *postings (may be NULL to skip): a new bitmap the caller frees. */
sl_status sl_part_term_cursor_next(sl_part_term_cursor *cursor, bool *valid, sl_bytes *term,
                                   roaring_bitmap_t **postings, sl_error *err);
void sl_part_term_cursor_close(sl_part_term_cursor *cursor);

/* Drops cached chunks and advises the part's files out of the page cache. */
void sl_part_drop_caches(sl_part *part);

/* ---- writing parts (flushes and merges) ---- */

typedef struct sl_part_writer sl_part_writer;

/* A writer into a new part directory dir (created; must not exist), or, with
 * dir NULL, into a new memory part. page_cached false: the files are written with O_DIRECT where
 * the file system takes it (they do not stay in the page cache), as BanyanDB drops a large merged
 * part from it; true: through the page cache. */
sl_status sl_part_writer_open(const sl_part_layout *layout, const char *dir, uint64_t part_id, bool page_cached,
                              sl_part_writer **out, sl_error *err);
/* Adds one block: keys strictly increasing across calls, except that one key
 * may continue over several blocks with non-decreasing sort values.  columns
 * has layout->column_count views of rows values each.  Returns the position
 * of the block's first row. */
sl_status sl_part_writer_add_block(sl_part_writer *writer, sl_bytes key, const sl_column_view *columns,
                                   uint32_t rows, uint64_t *first_row, sl_error *err);
/* Copies a block of a file part without decoding (file writers only). */
sl_status sl_part_writer_copy_block(sl_part_writer *writer, sl_part *source, const sl_block_meta *block,
                                    sl_read_context *context, uint64_t *first_row, sl_error *err);
/* Series metadata of a key (keys in increasing order; duplicates ignored). */
sl_status sl_part_writer_add_series(sl_part_writer *writer, const sl_series_entry *entry, sl_error *err);
/* Term index i: terms strictly increasing, postings of new row positions. */
sl_status sl_part_writer_add_term(sl_part_writer *writer, uint32_t index, sl_bytes term,
                                  const roaring_bitmap_t *postings, sl_error *err);
void sl_part_writer_set_sequences(sl_part_writer *writer, uint64_t first_sequence, uint64_t last_sequence);
/* Raw bytes the column values had before encoding, when copying blocks (kept from the source). */
uint64_t sl_part_writer_rows(const sl_part_writer *writer);
/* Time spent in zstd so far (file writers). */
uint64_t sl_part_writer_compress_ns(const sl_part_writer *writer);
/* Writes everything, fsyncs every file and the directory; *out is the new part
 * (opened).  The writer is freed in every case. */
sl_status sl_part_writer_finish(sl_part_writer *writer, sl_part **out, sl_error *err);
void sl_part_writer_abort(sl_part_writer *writer); /* removes what was written */

/* Writes the footer of a part file's content into out (SL_PART_FOOTER_BYTES). */
void sl_part_footer_encode(sl_part_file_kind kind, const uint8_t *content, uint64_t content_bytes,
                           uint8_t out[SL_PART_FOOTER_BYTES]);
/* Checks a footer against the file size; content checksum only when content given. */
sl_status sl_part_footer_check(const uint8_t footer[SL_PART_FOOTER_BYTES], uint64_t file_bytes,
                               sl_part_file_kind kind, const uint8_t *content, const char *path,
                               uint64_t *content_bytes, sl_error *err);

/* Value helpers shared by engines. */
size_t sl_column_value_raw_bytes(sl_column_type type, const sl_value *value);
/* Bytes of a block key for a series id: 8 bytes big-endian. */
void sl_key_from_u64(uint64_t value, uint8_t out[8]);
uint64_t sl_key_to_u64(sl_bytes key);
int sl_bytes_compare(sl_bytes a, sl_bytes b);

#endif
