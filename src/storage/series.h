/*
 * series.h: BanyanDB's series identity (pkg/pb/v1/series.go, value.go) and
 * shard routing (pkg/partition), shared by the Stream engine (entity) and the
 * trace model's secondary indexes (a rule's leading tags).
 *
 * Marshaled series: the subject, escaped, then '|'; per entity value its
 * value-type byte (0 null, 1 str, 2 int64, 4 binary, 7 timestamp), the value
 * escaped ('|' and '\' get a '\' before them), then '|'.  Ints are 8 bytes
 * big-endian of the zigzag value.  Series id = XXH64 (seed 0) of it.
 * Shard key (stream): the subject and the values' raw bytes, concatenated
 * (ints as 8 bytes big-endian with the sign bit flipped); shard = XXH64 % n.
 */
#ifndef SPANLAB_STORAGE_SERIES_H
#define SPANLAB_STORAGE_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "spanlab/error.h"
#include "spanlab/value.h"
#include "storage/encoding.h"

/* Appends the marshaled series to out (cleared first). */
sl_status sl_series_marshal(const char *subject, const sl_value *values, size_t count, sl_buffer *out, sl_error *err);
/* The series id of values (marshals into scratch). */
sl_status sl_series_id(const char *subject, const sl_value *values, size_t count, sl_buffer *scratch, uint64_t *id_out,
                       sl_error *err);
/* BanyanDB's stream shard of an entity. */
sl_status sl_series_shard(const char *subject, const sl_value *values, size_t count, uint32_t shard_count,
                          sl_buffer *scratch, uint32_t *shard_out, sl_error *err);
/* A value's bytes as the series metadata keeps them (strings and binary as is, ints 8 bytes big-endian
 * sign-flipped, null empty), with its kind byte in *kind. */
sl_bytes sl_series_value_bytes(const sl_value *value, uint8_t scratch[8], uint8_t *kind);
/* Back: a value from stored bytes and kind (strings point into bytes). */
sl_value sl_series_value_from(sl_bytes bytes, uint8_t kind);

#endif
