/*
 * merge.h: merging parts into one (flushes of memory parts, merges of file
 * parts, compaction of many small memory parts), and the size-tiered merge
 * policy (docs/FORMAT.md "Part names and merges", docs/MODELS.md).
 *
 * Inputs are borrowed (the caller holds references); the output is a new part
 * the caller owns.  Every input row appears once in the output; rows of one
 * key keep their (sort value, input age, position) order.
 */
#ifndef SPANLAB_STORAGE_MERGE_H
#define SPANLAB_STORAGE_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "spanlab/error.h"
#include "storage/part.h"

typedef struct sl_merge_stats {
  uint64_t rows;
  uint64_t blocks_copied;     /* copied without decoding */
  uint64_t blocks_rewritten;  /* decoded, merged and encoded again */
  uint64_t bytes_in;          /* sizes of the inputs */
  uint64_t bytes_out;         /* size of the output */
  int64_t elapsed_ns;
  uint64_t compress_ns;       /* of which zstd */
  uint64_t page_releases;     /* times an input's mapped pages were released while it was read */
} sl_merge_stats;

/* An input's mapped pages leave the process each time this many of its stored bytes have been read
 * (default 256 MiB; they stay in the page cache). A variable so that tests can lower it. */
extern uint64_t sl_merge_release_every_bytes;

/* A merge of file parts whose inputs hold at least this many bytes writes its part with O_DIRECT,
 * out of the page cache (BanyanDB's protector.ShouldCache: 1% of the memory, at least 10 MB); a
 * flush (any input in memory) and smaller merges write through the page cache, so that what was
 * just written is read from memory. 0 (the default) means 1% of the physical memory, at least
 * 10 MB. A variable so that tests can lower it. */
extern uint64_t sl_merge_uncached_from_bytes;

/* Merges inputs (oldest first) into a new part: a file part in dir (which must
 * not exist yet), or a memory part when dir is NULL.  stats may be NULL. */
sl_status sl_parts_merge(sl_part *const *inputs, size_t input_count, const char *dir, uint64_t part_id,
                         sl_merge_stats *stats, sl_part **out, sl_error *err);

/* BanyanDB's size-tiered policy (banyand/stream/merger_policy.go): */
typedef struct sl_merge_policy {
  uint32_t max_parts;          /* 15 */
  double min_merge_multiplier; /* 1.7 */
  uint64_t max_fan_out_bytes;  /* largest output; 0 = unlimited */
} sl_merge_policy;

void sl_merge_policy_default(sl_merge_policy *policy);

/* Chooses parts to merge among candidates of the given sizes: writes their
 * indexes into chosen (room for max_parts) and returns how many, 0 for none.
 * Candidates are sorted by size; windows of ceil(max/2)..max parts are scored
 * by sum / largest; the best window is merged when its score reaches
 * max(max_parts / 2, min_merge_multiplier). */
size_t sl_merge_policy_choose(const sl_merge_policy *policy, const uint64_t *sizes, size_t count, size_t *chosen);

#endif
