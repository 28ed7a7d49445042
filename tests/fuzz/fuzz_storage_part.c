/* fuzz_storage_part.c: sl_part_open and every read of a part on arbitrary files.
 *
 * The part has the layout of tests/support/part_model.h (11 files: metadata.bin, meta.bin,
 * primary.bin, three column files, smeta.bin, traceID.filter, three term indexes).  Byte 0 of the
 * input picks a mode:
 *   0  files: the rest is, per file in that order, a varint length and that many bytes (missing
 *      files are empty), written as they are to a part directory;
 *   1  sealed files: the same, but the harness frames meta.bin and smeta.bin (their bytes are the
 *      raw chunk list and series list) and appends a valid footer (kind, size, content checksum)
 *      to every file, so that mutations reach the parsers behind the checksums;
 *   2  edits of a valid part (built at start from fixed-seed rows: 140 blocks in 2 chunks): the rest is a list of
 *      (file byte, varint offset, xor byte) edits; a trailing odd byte 1 reseals the footers.
 * Then sl_part_open and, when it succeeds, every chunk, block, column, series entry and term is
 * read (pm_read_all).  Every outcome must be SL_OK, SL_ERR_CORRUPT or SL_ERR_IO (SL_ERR_NOT_FOUND
 * for an absent file in mode 0), never a crash; an error names a file of the part.  Mode 2 with no
 * effective edit must read back exactly as the model says.
 *
 * SPANLAB_FUZZ_WRITE_SEEDS=DIR writes the seed corpus (the valid part in each mode) and exits:
 * tests/fuzz/corpus/fuzz_storage_part was made so. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../support/part_model.h"
#include "storage/block.h"
#include "storage/merge.h"

enum { FILE_COUNT = 11, MAX_FILE_BYTES = 1 << 20 };

static const char *const file_names[FILE_COUNT] = {"metadata.bin", "meta.bin", "primary.bin", "timestamps.bin",
                                                   "tags.tf", "blob.tf", "smeta.bin", "traceID.filter",
                                                   "few_idx.idx", "num_idx.idx", "many_idx.idx"};
static const sl_part_file_kind file_kinds[FILE_COUNT] = {
    SL_PART_FILE_METADATA, SL_PART_FILE_META, SL_PART_FILE_PRIMARY, SL_PART_FILE_COLUMNS,
    SL_PART_FILE_COLUMNS,  SL_PART_FILE_COLUMNS, SL_PART_FILE_SERIES, SL_PART_FILE_BLOOM,
    SL_PART_FILE_INDEX,    SL_PART_FILE_INDEX,   SL_PART_FILE_INDEX};

typedef struct file_set {
  uint8_t *bytes[FILE_COUNT];
  size_t sizes[FILE_COUNT];
} file_set;

static sl_part_layout layout;
static char work_dir[256];
static char part_dir[300];
static file_set seed;          /* the valid part's files */
static pm_set seed_rows;
static pm_expected seed_expected;
static sl_codec *codec;

static void check(bool condition) {
  if (!condition) {
    abort();
  }
}

static void write_file(const char *path, const uint8_t *data, size_t size) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  check(fd >= 0);
  check(size == 0 || write(fd, data, size) == (ssize_t)size);
  check(close(fd) == 0);
}

static uint8_t *read_whole(const char *path, size_t *size) {
  FILE *file = fopen(path, "rb");
  check(file != NULL);
  check(fseek(file, 0, SEEK_END) == 0);
  long length = ftell(file);
  check(length >= 0 && fseek(file, 0, SEEK_SET) == 0);
  uint8_t *data = malloc((size_t)length + 1);
  check(data != NULL && fread(data, 1, (size_t)length, file) == (size_t)length);
  fclose(file);
  *size = (size_t)length;
  return data;
}

static void put_files(const file_set *files, const bool *present) {
  for (size_t f = 0; f < FILE_COUNT; f++) {
    char path[400];
    snprintf(path, sizeof path, "%s/%s", part_dir, file_names[f]);
    if (present != NULL && !present[f]) {
      (void)unlink(path);
      continue;
    }
    write_file(path, files->bytes[f], files->sizes[f]);
  }
}

/* Opens and reads the part in part_dir; aborts on an outcome a reader must never have. */
static void open_and_read(bool files_may_be_missing, const pm_expected *expected) {
  sl_part *part = NULL;
  sl_error err;
  sl_status status = sl_part_open(&layout, part_dir, 1, &part, &err);
  if (status == SL_OK) {
    status = pm_read_all(part, &err);
    if (status == SL_OK && expected != NULL) {
      pm_checker checker;
      check(pm_check(&checker, part, expected, 1));
    }
  }
  sl_part_unref(part);
  if (status != SL_OK) {
    check(status == SL_ERR_CORRUPT || status == SL_ERR_IO || status == SL_ERR_NOMEM ||
          (files_may_be_missing && status == SL_ERR_NOT_FOUND));
    check(strstr(err.message, part_dir) != NULL);
  }
  check(expected == NULL || status == SL_OK);
}

static bool take_varint(const uint8_t *data, size_t size, size_t *offset, uint64_t *value) {
  return sl_varint_get(data, size, offset, value);
}

/* Modes 0 and 1: the input's files. */
static void split_files(const uint8_t *data, size_t size, file_set *out, bool *present) {
  size_t offset = 0;
  for (size_t f = 0; f < FILE_COUNT; f++) {
    uint64_t length = 0;
    present[f] = offset < size && take_varint(data, size, &offset, &length);
    if (!present[f]) {
      out->bytes[f] = NULL;
      out->sizes[f] = 0;
      continue;
    }
    length = length < size - offset ? length : size - offset;
    out->bytes[f] = (uint8_t *)data + offset;
    out->sizes[f] = (size_t)length;
    offset += (size_t)length;
  }
}

/* Frames the single-frame files, appends every footer; owned copies in out. */
static void seal(const file_set *in, bool frame, file_set *out) {
  for (size_t f = 0; f < FILE_COUNT; f++) {
    sl_buffer content = {0};
    if (frame && (file_kinds[f] == SL_PART_FILE_META || file_kinds[f] == SL_PART_FILE_SERIES)) {
      check(sl_block_encode(codec, in->bytes[f], in->sizes[f], &content, NULL, NULL) == SL_OK);
    } else {
      check(sl_buffer_append(&content, in->bytes[f], in->sizes[f], NULL) == SL_OK);
    }
    uint8_t footer[SL_PART_FOOTER_BYTES];
    sl_part_footer_encode(file_kinds[f], content.data, content.size, footer);
    check(sl_buffer_append(&content, footer, sizeof footer, NULL) == SL_OK);
    out->bytes[f] = content.data;
    out->sizes[f] = content.size;
  }
}

static void free_files(file_set *files) {
  for (size_t f = 0; f < FILE_COUNT; f++) {
    free(files->bytes[f]);
    files->bytes[f] = NULL;
  }
}

/* The seed's content without footers, and the raw payloads of meta.bin and smeta.bin. */
static void unsealed_seed(file_set *out) {
  sl_buffer scratch = {0};
  for (size_t f = 0; f < FILE_COUNT; f++) {
    size_t content = seed.sizes[f] - SL_PART_FOOTER_BYTES;
    const uint8_t *bytes = seed.bytes[f];
    if (file_kinds[f] == SL_PART_FILE_META || file_kinds[f] == SL_PART_FILE_SERIES) {
      size_t used = 0;
      check(sl_block_decode(codec, seed.bytes[f], content, &scratch, &bytes, &content, &used, NULL) == SL_OK);
    }
    out->bytes[f] = malloc(content + 1);
    check(out->bytes[f] != NULL);
    memcpy(out->bytes[f], bytes, content);
    out->sizes[f] = content;
  }
  sl_buffer_free(&scratch);
}

static void put_varint(sl_buffer *out, uint64_t value) {
  uint8_t bytes[SL_VARINT_MAX_BYTES];
  check(sl_buffer_append(out, bytes, sl_varint_put(bytes, value), NULL) == SL_OK);
}

static void write_seed_file(const char *dir, const char *name, const sl_buffer *content) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  write_file(path, content->data, content->size);
}

static void write_seeds(const char *dir) {
  sl_buffer out = {0};
  for (int mode = 0; mode < 2; mode++) {
    out.size = 0;
    uint8_t byte = (uint8_t)mode;
    check(sl_buffer_append(&out, &byte, 1, NULL) == SL_OK);
    file_set files = {0};
    if (mode == 1) {
      unsealed_seed(&files);
    }
    for (size_t f = 0; f < FILE_COUNT; f++) {
      const uint8_t *bytes = mode == 0 ? seed.bytes[f] : files.bytes[f];
      size_t size = mode == 0 ? seed.sizes[f] : files.sizes[f];
      put_varint(&out, size);
      check(sl_buffer_append(&out, bytes, size, NULL) == SL_OK);
    }
    free_files(&files);
    write_seed_file(dir, mode == 0 ? "files" : "sealed", &out);
  }
  /* Mode 2: no edit; one byte of metadata.bin flipped; the bloom's first word flipped and resealed. */
  static const uint8_t identity[] = {2};
  static const uint8_t flip[] = {2, 0, 20, 0x10};
  static const uint8_t resealed[] = {2, 7, 3, 0x01, 1};
  const uint8_t *edits[] = {identity, flip, resealed};
  size_t sizes[] = {sizeof identity, sizeof flip, sizeof resealed};
  const char *names[] = {"edits_none", "edits_metadata", "edits_bloom_resealed"};
  for (size_t k = 0; k < 3; k++) {
    out.size = 0;
    check(sl_buffer_append(&out, edits[k], sizes[k], NULL) == SL_OK);
    write_seed_file(dir, names[k], &out);
  }
  sl_buffer_free(&out);
}

static void remove_work_dir(void) {
  for (size_t f = 0; f < FILE_COUNT; f++) {
    char path[400];
    snprintf(path, sizeof path, "%s/%s", part_dir, file_names[f]);
    (void)unlink(path);
  }
  (void)rmdir(part_dir);
  char seed_dir[300];
  snprintf(seed_dir, sizeof seed_dir, "%s/seed", work_dir);
  (void)rmdir(seed_dir);
  (void)rmdir(work_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  codec = sl_codec_new();
  check(codec != NULL);
  const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(work_dir, sizeof work_dir, "%s/spanlab-fuzz-part-XXXXXX", base);
  check(mkdtemp(work_dir) != NULL);
  snprintf(part_dir, sizeof part_dir, "%s/part", work_dir);
  check(mkdir(part_dir, 0755) == 0);
  atexit(remove_work_dir);
  /* The valid part: 140 rows of 30 keys, 1 row a block: 140 blocks, 2 chunks. */
  pm_layout(&layout, 1, 0);
  pm_spec spec = {.seed = 5, .rows = 140, .key_count = 30, .sort_span = 20, .first_id = 1};
  pm_generate(&spec, &seed_rows);
  pm_expect(&seed_rows, 1, &seed_expected);
  sl_part *memory = NULL, *written = NULL;
  char seed_dir[300];
  snprintf(seed_dir, sizeof seed_dir, "%s/seed", work_dir);
  check(sl_part_build_memory(&layout, seed_rows.inputs, seed_rows.count, 1, 1, &memory, NULL) == SL_OK);
  check(sl_parts_merge(&memory, 1, seed_dir, 1, NULL, &written, NULL) == SL_OK);
  check(sl_part_info_of(written).chunks == 2);
  sl_part_unref(memory);
  sl_part_unref(written);
  for (size_t f = 0; f < FILE_COUNT; f++) {
    char path[400];
    snprintf(path, sizeof path, "%s/%s", seed_dir, file_names[f]);
    seed.bytes[f] = read_whole(path, &seed.sizes[f]);
    check(unlink(path) == 0);
  }
  const char *seeds = getenv("SPANLAB_FUZZ_WRITE_SEEDS");
  if (seeds != NULL) {
    write_seeds(seeds);
    exit(0);
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) {
    return 0;
  }
  uint8_t mode = data[0] % 3;
  data++;
  size--;
  if (mode == 0 || mode == 1) {
    file_set files = {0};
    bool present[FILE_COUNT];
    split_files(data, size, &files, present);
    if (mode == 0) {
      put_files(&files, present);
      open_and_read(true, NULL);
      return 0;
    }
    file_set sealed = {0};
    seal(&files, true, &sealed);
    put_files(&sealed, NULL);
    free_files(&sealed);
    open_and_read(false, NULL);
    return 0;
  }
  /* Mode 2: edits of the valid part. */
  file_set files = {0};
  for (size_t f = 0; f < FILE_COUNT; f++) {
    files.bytes[f] = malloc(seed.sizes[f]);
    check(files.bytes[f] != NULL);
    memcpy(files.bytes[f], seed.bytes[f], seed.sizes[f]);
    files.sizes[f] = seed.sizes[f];
  }
  size_t offset = 0;
  bool changed = false;
  while (offset + 1 < size) {
    size_t f = data[offset++] % FILE_COUNT;
    uint64_t at = 0;
    if (!take_varint(data, size, &offset, &at) || offset >= size) {
      break;
    }
    uint8_t mask = data[offset++];
    if (files.sizes[f] > 0 && mask != 0) {
      files.bytes[f][at % files.sizes[f]] ^= mask;
      changed = true;
    }
  }
  bool reseal = offset < size && (data[size - 1] & 1) != 0;
  if (reseal) {
    file_set content = {0};
    for (size_t f = 0; f < FILE_COUNT; f++) {
      content.bytes[f] = files.bytes[f];
      content.sizes[f] = files.sizes[f] >= SL_PART_FOOTER_BYTES ? files.sizes[f] - SL_PART_FOOTER_BYTES : 0;
    }
    file_set sealed = {0};
    seal(&content, false, &sealed);
    free_files(&files);
    files = sealed;
  }
  /* Edits that cancel out (or none) leave the valid part: it must read back exactly. */
  bool same = true;
  for (size_t f = 0; f < FILE_COUNT && same && changed; f++) {
    same = files.sizes[f] == seed.sizes[f] && memcmp(files.bytes[f], seed.bytes[f], seed.sizes[f]) == 0;
  }
  put_files(&files, NULL);
  free_files(&files);
  open_and_read(false, same ? &seed_expected : NULL);
  return 0;
}
