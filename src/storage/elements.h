/*
 * elements.h: a write batch as the WAL records it (docs/FORMAT.md "WAL
 * payload of a write batch"), shared by the Stream and Trace engines.
 *
 * An element is a timestamp, one opaque byte string (stream: the element id;
 * trace: the span payload) and the subject's tag values in flat schema order.
 * Decoding reads untrusted bytes (a WAL record): every length is bounded by
 * the bytes left, and errors name the offset.  Decoded strings and arrays live
 * in the arena the caller passes.
 */
#ifndef SPANLAB_STORAGE_ELEMENTS_H
#define SPANLAB_STORAGE_ELEMENTS_H

#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "spanlab/error.h"
#include "spanlab/value.h"
#include "storage/encoding.h"

enum { SL_ELEMENTS_MAGIC = 0x53454c31u /* "SEL1" */, SL_ELEMENTS_MAX_VALUES = 256 };

typedef struct sl_element {
  int64_t timestamp_ns;
  sl_bytes data;         /* stream: element id; trace: span payload (may be empty) */
  const sl_value *values; /* value_count values */
} sl_element;

/* Appends the batch to out. */
sl_status sl_elements_encode(const sl_element *elements, size_t count, size_t value_count, sl_buffer *out,
                             sl_error *err);
/* The same bytes as sl_elements_encode, as pieces to write one after the other (sl_wal_submitv)
 * instead of one buffer: the framing and short values are encoded into scratch, and every element
 * data, string or binary value of SL_ELEMENTS_GATHER_MIN_BYTES or more is a piece of its own that
 * points into the element, so the elements must outlive the pieces. out starts zeroed; free it
 * with sl_elements_gather_free. */
enum { SL_ELEMENTS_GATHER_MIN_BYTES = 512 };
struct iovec;
struct sl_elements_piece;
typedef struct sl_elements_gather {
  struct iovec *pieces; /* out: count pieces */
  size_t count;
  sl_buffer scratch;    /* owned: the bytes pieces not borrowed point into */
  struct sl_elements_piece *raw; /* internal */
  size_t raw_count;
  size_t raw_capacity;
} sl_elements_gather;
sl_status sl_elements_encode_gather(const sl_element *elements, size_t count, size_t value_count,
                                    sl_elements_gather *out, sl_error *err);
void sl_elements_gather_free(sl_elements_gather *gather);

/* Decodes a batch of elements with value_count values each. */
sl_status sl_elements_decode(const uint8_t *data, size_t size, size_t value_count, sl_arena *arena,
                             sl_element **out, size_t *count_out, sl_error *err);

/* Array values stored as binary (docs/FORMAT.md "Parts", column types). */
sl_status sl_array_encode(const sl_value *value, sl_buffer *out, sl_error *err);
sl_status sl_array_decode(sl_bytes stored, sl_value_kind kind, sl_arena *arena, sl_value *out, sl_error *err);

#endif
