/*
 * termindex.h: the inverted term index of one part, term -> CRoaring posting list of uint32 row
 * positions (docs/FORMAT.md "Term index (IDX.idx)").  Terms are byte strings of at most
 * SL_TERM_MAX_BYTES, sorted bytewise (memcmp, the shorter first on a tie); int64 values become
 * 8-byte terms with sl_term_from_int64, whose byte order is numeric order.
 *
 * Three pieces:
 *  - sl_term_builder collects (term, position) pairs of a memory part in any order and finishes
 *    into an sl_term_list, immutable and sorted.
 *  - sl_term_writer takes terms in strictly increasing order with their posting lists and produces
 *    the content bytes of an IDX.idx file (the part layer appends its footer and writes the file).
 *  - sl_term_index reads that content through pread on a file descriptor: equality lookups, ranges
 *    and in-order cursors.  It takes untrusted bytes: anything corrupt or truncated is
 *    SL_ERR_CORRUPT with "PATH: offset N: why", never a crash.
 *
 * Ownership:
 *  - The builder owns copies of the terms added; sl_term_builder_finish hands a new sl_term_list to
 *    the caller and leaves the builder empty (reusable).
 *  - An sl_term_list owns its terms and bitmaps; the sl_bytes and bitmaps it returns are valid until
 *    sl_term_list_free.  It is never modified after finish, so many threads may read it at once.
 *  - An sl_term_writer borrows its codec (zstd level 1 block framing), copies what it needs of each
 *    term and serializes each bitmap as it comes (the caller keeps ownership of the bitmaps).
 *  - An sl_term_index borrows the fd (the caller keeps it open until sl_term_index_close) and owns
 *    its directory and a copy of the path.  It is immutable after open: many threads may look up
 *    and iterate at once, each with its own sl_codec.
 *  - Bitmaps returned by lookup, range and cursor_next are new; the caller frees them with
 *    roaring_bitmap_free (which in CRoaring 0.2.66 crashes on NULL: a lookup of an absent term
 *    returns NULL).
 *  - An sl_term_cursor owns its decoded term block and scratch; it borrows the index, the codec
 *    and the stats (all must outlive it) and is used by one thread.
 *  - sl_term_stats belong to the caller (one per query); functions only add to them.  Every stats
 *    argument may be NULL.
 */
#ifndef SPANLAB_STORAGE_TERMINDEX_H
#define SPANLAB_STORAGE_TERMINDEX_H

#include <roaring/roaring.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spanlab/error.h"
#include "spanlab/value.h"
#include "storage/block.h"
#include "storage/encoding.h"

enum {
  SL_TERM_MAX_BYTES = 65535,       /* longest term, in the builder, the writer and the file */
  SL_TERM_BLOCK_MAX_TERMS = 128,   /* terms per term block of a file */
  SL_TERM_INDEX_TRAILER_BYTES = 40 /* fixed trailer at the end of the content */
};

/* int64 <-> 8-byte term: big-endian with the sign bit flipped (byte order = numeric order). */
void sl_term_from_int64(int64_t value, uint8_t out[8]);
int64_t sl_term_to_int64(const uint8_t in[8]);

/* Counters a query reports.  Functions add to them and never reset them. */
typedef struct sl_term_stats {
  uint64_t term_blocks_read;    /* term blocks read and decoded */
  uint64_t postings_read;       /* posting lists decoded */
  uint64_t postings_bytes_read; /* stored bytes of those posting lists */
  uint64_t bytes_decompressed;  /* raw bytes zstd produced (term blocks and postings) */
} sl_term_stats;

/* ---- In-memory builder and term list (memory parts) ---- */

typedef struct sl_term_builder sl_term_builder;
typedef struct sl_term_list sl_term_list;

/* NULL when out of memory. */
sl_term_builder *sl_term_builder_new(void);
void sl_term_builder_free(sl_term_builder *builder);
/* Adds a (term, position) pair, in any order; the same pair twice is kept once.  SL_ERR_INVALID for
 * a term longer than SL_TERM_MAX_BYTES, SL_ERR_NOMEM when out of memory (the builder keeps what it
 * had).  term may be NULL when term_bytes is 0 (the empty term). */
sl_status sl_term_builder_add(sl_term_builder *builder, const void *term, size_t term_bytes,
                              uint32_t position, sl_error *err);
/* Pairs the builder holds (duplicates included), for flush policies. */
size_t sl_term_builder_pair_count(const sl_term_builder *builder);
/* Sorts and groups the pairs into a new list (*out, the caller frees it); the builder is emptied
 * and may be reused.  On failure the builder is emptied too and *out is NULL. */
sl_status sl_term_builder_finish(sl_term_builder *builder, sl_term_list **out, sl_error *err);

void sl_term_list_free(sl_term_list *list);
size_t sl_term_list_count(const sl_term_list *list);
/* The index-th term (index < count), in increasing order. */
sl_bytes sl_term_list_term(const sl_term_list *list, size_t index);
/* The index-th term's postings (never empty), run-optimized: a read-only frozen view (never modify
 * it, nor use it with copy-on-write bitmaps, which would share its containers). */
const roaring_bitmap_t *sl_term_list_postings(const sl_term_list *list, size_t index);
/* Index of the first term >= term (count when none). */
size_t sl_term_list_lower_bound(const sl_term_list *list, const void *term, size_t term_bytes);
/* Bytes the list holds: terms, its arrays, the chunks of frozen bitmaps and an estimate of each
 * bitmap view. */
size_t sl_term_list_memory_bytes(const sl_term_list *list);

/* ---- File writer ---- */

typedef struct sl_term_writer sl_term_writer;

/* NULL when out of memory.  codec is borrowed. */
sl_term_writer *sl_term_writer_new(sl_codec *codec);
void sl_term_writer_free(sl_term_writer *writer);
/* Adds the next term.  SL_ERR_INVALID (and nothing is added) if the term is not above the previous
 * one, longer than SL_TERM_MAX_BYTES or its postings are empty.  The bitmap is serialized as given:
 * run_optimize it first for the smallest file.  After an SL_ERR_NOMEM the writer refuses every
 * further call. */
sl_status sl_term_writer_add(sl_term_writer *writer, const void *term, size_t term_bytes,
                             const roaring_bitmap_t *postings, sl_error *err);
/* Appends the whole content (postings, term blocks, directory, trailer) to out and reports the
 * number of terms (term_count may be NULL).  The writer then refuses further adds; free it. */
sl_status sl_term_writer_finish(sl_term_writer *writer, sl_buffer *out, uint64_t *term_count,
                                sl_error *err);

/* ---- File reader ---- */

typedef struct sl_term_index sl_term_index;
typedef struct sl_term_cursor sl_term_cursor;

/* Reads and checks the trailer and the directory of the content, bytes [0, content_bytes) of the
 * file open on fd.  path_for_errors names the file in every error (copied).  codec is used during
 * open only. */
sl_status sl_term_index_open(int fd, uint64_t content_bytes, const char *path_for_errors,
                             sl_codec *codec, sl_term_index **out, sl_error *err);
void sl_term_index_close(sl_term_index *index);
uint64_t sl_term_index_term_count(const sl_term_index *index);
/* Bytes the open index holds in memory (its directory). */
size_t sl_term_index_memory_bytes(const sl_term_index *index);

/* *out is NULL when the term is absent, else a new bitmap.  codec: the caller's (one per thread). */
sl_status sl_term_index_lookup(const sl_term_index *index, const void *term, size_t term_bytes,
                               sl_codec *codec, sl_term_stats *stats, roaring_bitmap_t **out,
                               sl_error *err);
/* Union of the postings of every term in [low, high]; a NULL bound is open.  *out is a new bitmap
 * on success (empty when no term is in range, also when low > high).  terms_visited (may be NULL)
 * gets the number of terms in range added to it. */
sl_status sl_term_index_range(const sl_term_index *index, const void *low, size_t low_bytes,
                              const void *high, size_t high_bytes, sl_codec *codec,
                              sl_term_stats *stats, roaring_bitmap_t **out, uint64_t *terms_visited,
                              sl_error *err);

/* An in-order cursor for merges and order-by-index scans, at the start (the first term ascending,
 * the last descending) until seek says otherwise. */
sl_status sl_term_cursor_open(const sl_term_index *index, sl_codec *codec, bool descending,
                              sl_term_stats *stats, sl_term_cursor **out, sl_error *err);
/* Positions the cursor at the first term >= term (ascending) or the last term <= term
 * (descending); a NULL term: the start. */
sl_status sl_term_cursor_seek(sl_term_cursor *cursor, const void *term, size_t term_bytes,
                              sl_error *err);
/* The next term: *valid false at the end.  *term is valid until the next call on the cursor;
 * *postings is a new bitmap (pass postings NULL to skip reading it).  After an error the cursor
 * stays failed: every later seek or next returns that error again. */
sl_status sl_term_cursor_next(sl_term_cursor *cursor, bool *valid, sl_bytes *term,
                              roaring_bitmap_t **postings, sl_error *err);
void sl_term_cursor_close(sl_term_cursor *cursor);

#endif
