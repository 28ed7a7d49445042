/* termindex_bench.c: the term index of a part.
 *   build/release/bench/termindex_bench [PAIRS [DISTINCT_TERMS]]   (default 1,000,000 and 100,000)
 * Builds a term list from PAIRS (term, position) pairs (positions 0..PAIRS-1 in order, each with a
 * term drawn uniformly from DISTINCT_TERMS 14-byte strings), writes it as IDX.idx content, then
 * reads the file: lookups of present and absent terms per second, ranges and a full cursor scan.
 * Then the same over int64 terms (a latency-like tag with 5,000 values) for numeric ranges. */
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/timeutil.h"
#include "storage/block.h"
#include "storage/termindex.h"

static uint64_t next_random(uint64_t *state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *state = x;
  return x;
}

static double seconds_since(int64_t began_ns) { return (double)(sl_monotonic_ns() - began_ns) / 1e9; }

static void die(const char *what, const sl_error *err) {
  fprintf(stderr, "termindex_bench: %s: %s\n", what, err->message);
  exit(1);
}

static void free_bitmap(roaring_bitmap_t *bitmap) {
  if (bitmap != NULL) {
    roaring_bitmap_free(bitmap);
  }
}

/* Writes the list through an sl_term_writer into a temporary file; returns its fd. */
static int write_file(const sl_term_list *list, sl_codec *codec, char *path, size_t *content_bytes) {
  sl_error err;
  int64_t began = sl_monotonic_ns();
  sl_term_writer *writer = sl_term_writer_new(codec);
  for (size_t i = 0; i < sl_term_list_count(list); i++) {
    sl_bytes term = sl_term_list_term(list, i);
    if (sl_term_writer_add(writer, term.data, term.size_bytes, sl_term_list_postings(list, i), &err) != SL_OK) {
      die("write", &err);
    }
  }
  sl_buffer content = {0};
  if (sl_term_writer_finish(writer, &content, NULL, &err) != SL_OK) {
    die("finish", &err);
  }
  sl_term_writer_free(writer);
  double write_s = seconds_since(began);
  printf("  write:   %.3f s for %zu terms, %zu bytes of content (%.1f MB/s)\n", write_s,
         sl_term_list_count(list), content.size, (double)content.size / 1e6 / write_s);
  int fd = mkstemp(path);
  if (fd < 0 || write(fd, content.data, content.size) != (ssize_t)content.size) {
    fprintf(stderr, "termindex_bench: cannot write %s\n", path);
    exit(1);
  }
  *content_bytes = content.size;
  sl_buffer_free(&content);
  return fd;
}

static sl_term_list *build(const uint8_t *terms, size_t term_bytes, size_t distinct, size_t pairs,
                           uint64_t seed) {
  sl_error err;
  size_t heap_before = mallinfo2().uordblks;
  sl_term_builder *builder = sl_term_builder_new();
  uint64_t random = seed;
  int64_t began = sl_monotonic_ns();
  for (size_t i = 0; i < pairs; i++) {
    const uint8_t *term = terms + (next_random(&random) % distinct) * term_bytes;
    if (sl_term_builder_add(builder, term, term_bytes, (uint32_t)i, &err) != SL_OK) {
      die("add", &err);
    }
  }
  double add_s = seconds_since(began);
  began = sl_monotonic_ns();
  sl_term_list *list = NULL;
  if (sl_term_builder_finish(builder, &list, &err) != SL_OK) {
    die("finish", &err);
  }
  double finish_s = seconds_since(began);
  sl_term_builder_free(builder);
  size_t term_total = 0, bitmap_total = 0;
  for (size_t i = 0; i < sl_term_list_count(list); i++) {
    term_total += sl_term_list_term(list, i).size_bytes;
    bitmap_total += roaring_bitmap_portable_size_in_bytes(sl_term_list_postings(list, i));
  }
  printf("  build:   %.3f s (adds %.3f s, finish %.3f s) for %zu pairs, %zu distinct terms\n",
         add_s + finish_s, add_s, finish_s, pairs, sl_term_list_count(list));
  size_t heap_bytes = mallinfo2().uordblks - heap_before;
  printf("  memory:  %.2f MB held by the list (%.2f MB malloc'ed); terms %.2f MB + serialized bitmaps %.2f MB\n",
         (double)sl_term_list_memory_bytes(list) / 1e6, (double)heap_bytes / 1e6,
         (double)term_total / 1e6, (double)bitmap_total / 1e6);
  return list;
}

static void lookups(const sl_term_index *index, const sl_term_list *list, sl_codec *codec) {
  sl_error err;
  sl_term_stats stats = {0};
  uint64_t random = 99;
  size_t count = sl_term_list_count(list);
  size_t rounds = 0;
  uint64_t positions = 0;
  int64_t began = sl_monotonic_ns();
  while (rounds < 100000 || seconds_since(began) < 1.0) {
    sl_bytes term = sl_term_list_term(list, next_random(&random) % count);
    roaring_bitmap_t *bitmap = NULL;
    if (sl_term_index_lookup(index, term.data, term.size_bytes, codec, &stats, &bitmap, &err) != SL_OK) {
      die("lookup", &err);
    }
    positions += roaring_bitmap_get_cardinality(bitmap);
    free_bitmap(bitmap);
    rounds++;
  }
  double present_s = seconds_since(began);
  printf("  lookups: %.0f/s present (%.2f us each, %.1f positions, %.0f bytes of postings read)\n",
         (double)rounds / present_s, present_s * 1e6 / (double)rounds, (double)positions / (double)rounds,
         (double)stats.postings_bytes_read / (double)rounds);
  size_t absent = 0;
  began = sl_monotonic_ns();
  for (; absent < 100000; absent++) {
    sl_bytes term = sl_term_list_term(list, next_random(&random) % count);
    char probe[64];
    size_t size = term.size_bytes < sizeof probe - 1 ? term.size_bytes : sizeof probe - 1;
    memcpy(probe, term.data, size);
    probe[size++] = '~';
    roaring_bitmap_t *bitmap = NULL;
    if (sl_term_index_lookup(index, probe, size, codec, NULL, &bitmap, &err) != SL_OK || bitmap != NULL) {
      die("absent lookup", &err);
    }
  }
  double absent_s = seconds_since(began);
  printf("           %.0f/s absent\n", (double)absent / absent_s);
}

static void ranges(const sl_term_index *index, const sl_term_list *list, sl_codec *codec,
                   size_t width, const char *label) {
  sl_error err;
  uint64_t random = 7;
  size_t count = sl_term_list_count(list);
  size_t rounds = 0;
  uint64_t visited = 0, positions = 0;
  int64_t began = sl_monotonic_ns();
  while (rounds < 100 || seconds_since(began) < 1.0) {
    size_t first = next_random(&random) % count;
    size_t last = first + width - 1 < count ? first + width - 1 : count - 1;
    sl_bytes low = sl_term_list_term(list, first);
    sl_bytes high = sl_term_list_term(list, last);
    roaring_bitmap_t *bitmap = NULL;
    if (sl_term_index_range(index, low.data, low.size_bytes, high.data, high.size_bytes, codec, NULL,
                            &bitmap, &visited, &err) != SL_OK) {
      die("range", &err);
    }
    positions += roaring_bitmap_get_cardinality(bitmap);
    free_bitmap(bitmap);
    rounds++;
  }
  double range_s = seconds_since(began);
  printf("  ranges:  %.0f/s of %s (%.1f terms, %.0f positions each; %.1f M terms/s)\n",
         (double)rounds / range_s, label, (double)visited / (double)rounds,
         (double)positions / (double)rounds, (double)visited / range_s / 1e6);
}

static void scan(const sl_term_index *index, sl_codec *codec) {
  sl_error err;
  sl_term_cursor *cursor = NULL;
  int64_t began = sl_monotonic_ns();
  if (sl_term_cursor_open(index, codec, false, NULL, &cursor, &err) != SL_OK) {
    die("cursor", &err);
  }
  size_t terms = 0;
  for (;;) {
    bool valid = false;
    sl_bytes term;
    roaring_bitmap_t *postings = NULL;
    if (sl_term_cursor_next(cursor, &valid, &term, &postings, &err) != SL_OK) {
      die("cursor next", &err);
    }
    if (!valid) {
      break;
    }
    free_bitmap(postings);
    terms++;
  }
  sl_term_cursor_close(cursor);
  double scan_s = seconds_since(began);
  printf("  scan:    %.3f s for %zu terms with postings (%.1f M terms/s)\n", scan_s, terms,
         (double)terms / scan_s / 1e6);
}

static void run(const uint8_t *terms, size_t term_bytes, size_t distinct, size_t pairs, bool numeric) {
  sl_codec *codec = sl_codec_new();
  sl_term_list *list = build(terms, term_bytes, distinct, pairs, 42);
  char path[] = "/tmp/termindex_bench_XXXXXX";
  size_t content_bytes = 0;
  int fd = write_file(list, codec, path, &content_bytes);
  sl_error err;
  sl_term_index *index = NULL;
  int64_t began = sl_monotonic_ns();
  if (sl_term_index_open(fd, content_bytes, path, codec, &index, &err) != SL_OK) {
    die("open", &err);
  }
  printf("  open:    %.3f ms, %zu bytes of directory in memory\n", seconds_since(began) * 1e3,
         sl_term_index_memory_bytes(index));
  lookups(index, list, codec);
  ranges(index, list, codec, 10, "10 terms");
  ranges(index, list, codec, numeric ? 100 : 1000, numeric ? "100 values" : "1000 terms");
  scan(index, codec);
  sl_term_index_close(index);
  close(fd);
  unlink(path);
  sl_term_list_free(list);
  sl_codec_free(codec);
}

int main(int argc, char **argv) {
  size_t pairs = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
  size_t distinct = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000;
  enum { TERM_BYTES = 14 };
  uint8_t *terms = malloc(distinct * TERM_BYTES);
  for (size_t i = 0; i < distinct; i++) { /* i * odd multiplier mod 10^9: distinct, scattered */
    snprintf((char *)terms + i * TERM_BYTES, TERM_BYTES, "svc-%09llu",
             (unsigned long long)((i * 2654435761ull) % 1000000000ull));
    terms[i * TERM_BYTES + TERM_BYTES - 1] = (uint8_t)('a' + i % 26);
  }
  printf("string terms (%d bytes):\n", TERM_BYTES);
  run(terms, TERM_BYTES, distinct, pairs, false);
  free(terms);
  enum { INT_VALUES = 5000 };
  uint8_t *ints = malloc(INT_VALUES * 8);
  for (size_t i = 0; i < INT_VALUES; i++) {
    sl_term_from_int64((int64_t)i - 100, ints + i * 8);
  }
  printf("int64 terms (%d values, some negative):\n", INT_VALUES);
  run(ints, 8, INT_VALUES, pairs, true);
  free(ints);
  return 0;
}
