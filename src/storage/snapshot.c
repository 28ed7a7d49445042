/* snapshot.c: snapshot files (docs/FORMAT.md "Snapshot files"). */
#include "storage/snapshot.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/hash.h"
#include "storage/fileio.h"

static const uint8_t snapshot_magic[8] = {'S', 'L', 'S', 'N', 'A', 'P', 'S', 'H'};

enum {
  SNAPSHOT_VERSION = 1,
  CHECKSUM_BYTES = 8,
  PATH_BYTES = 4096,
  FILE_NAME_LENGTH = 20, /* 16 hex + ".snp" */
  MAX_SNAPSHOT_FILES = 100000
};

static void put_u16(uint8_t *out, uint16_t value) {
  out[0] = (uint8_t)value;
  out[1] = (uint8_t)(value >> 8);
}

static void put_u32(uint8_t *out, uint32_t value) {
  put_u16(out, (uint16_t)value);
  put_u16(out + 2, (uint16_t)(value >> 16));
}

static void put_u64(uint8_t *out, uint64_t value) {
  put_u32(out, (uint32_t)value);
  put_u32(out + 4, (uint32_t)(value >> 32));
}

static uint16_t get_u16(const uint8_t *bytes) {
  return (uint16_t)(bytes[0] | bytes[1] << 8);
}

static uint32_t get_u32(const uint8_t *bytes) {
  return (uint32_t)get_u16(bytes) | (uint32_t)get_u16(bytes + 2) << 16;
}

static uint64_t get_u64(const uint8_t *bytes) {
  return (uint64_t)get_u32(bytes) | (uint64_t)get_u32(bytes + 4) << 32;
}

void sl_snapshot_free(sl_snapshot *snapshot) {
  if (snapshot == NULL) {
    return;
  }
  for (size_t i = 0; i < snapshot->part_count; i++) {
    free(snapshot->parts[i].name);
  }
  free(snapshot->parts);
  memset(snapshot, 0, sizeof *snapshot);
}

sl_status sl_snapshot_add_part(sl_snapshot *snapshot, const char *name, uint64_t size_bytes,
                               sl_error *err) {
  assert(snapshot != NULL && name != NULL);
  if (snapshot->part_count >= SL_SNAPSHOT_MAX_PARTS) {
    return sl_error_set(err, SL_ERR_INVALID, "snapshot: more than %d parts", SL_SNAPSHOT_MAX_PARTS);
  }
  sl_snapshot_part *grown =
      realloc(snapshot->parts, (snapshot->part_count + 1) * sizeof *snapshot->parts);
  if (grown == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "snapshot: out of memory adding part %s", name);
  }
  snapshot->parts = grown;
  char *copy = strdup(name);
  if (copy == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "snapshot: out of memory adding part %s", name);
  }
  snapshot->parts[snapshot->part_count].name = copy;
  snapshot->parts[snapshot->part_count].size_bytes = size_bytes;
  snapshot->part_count++;
  return SL_OK;
}

void sl_snapshot_file_name(uint64_t epoch, char *out, size_t out_bytes) {
  assert(out != NULL && out_bytes > FILE_NAME_LENGTH);
  snprintf(out, out_bytes, "%016llx.snp", (unsigned long long)epoch);
}

/* NULL if the name is acceptable, else why not. */
static const char *name_defect(const char *name, size_t length) {
  if (length == 0 || length > SL_SNAPSHOT_MAX_NAME_BYTES) {
    return "part name must be 1 to 255 bytes";
  }
  if (memchr(name, '/', length) != NULL || memchr(name, '\0', length) != NULL) {
    return "part name holds '/' or a NUL byte";
  }
  if ((length == 1 && name[0] == '.') || (length == 2 && name[0] == '.' && name[1] == '.')) {
    return "part name is \".\" or \"..\"";
  }
  return NULL;
}

static int compare_part_names(const void *left, const void *right) {
  const sl_snapshot_part *const *a = left;
  const sl_snapshot_part *const *b = right;
  return strcmp((*a)->name, (*b)->name);
}

/* The name of a part listed twice, or NULL. */
static sl_status find_duplicate(const sl_snapshot *snapshot, const char **duplicate_out,
                                sl_error *err) {
  *duplicate_out = NULL;
  if (snapshot->part_count < 2) {
    return SL_OK;
  }
  const sl_snapshot_part **sorted = malloc(snapshot->part_count * sizeof(const sl_snapshot_part *));
  if (sorted == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "snapshot: out of memory checking part names");
  }
  for (size_t i = 0; i < snapshot->part_count; i++) {
    sorted[i] = &snapshot->parts[i];
  }
  qsort(sorted, snapshot->part_count, sizeof(const sl_snapshot_part *), compare_part_names);
  for (size_t i = 1; i < snapshot->part_count; i++) {
    if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0) {
      *duplicate_out = sorted[i]->name;
      break;
    }
  }
  free(sorted);
  return SL_OK;
}

sl_status sl_snapshot_encode(const sl_snapshot *snapshot, uint8_t **data_out, size_t *size_out,
                             sl_error *err) {
  assert(snapshot != NULL && data_out != NULL && size_out != NULL);
  assert(snapshot->parts != NULL || snapshot->part_count == 0);
  *data_out = NULL;
  *size_out = 0;
  if ((snapshot->flags & ~(uint32_t)SL_SNAPSHOT_WAL_IN_USE) != 0) {
    return sl_error_set(err, SL_ERR_INVALID, "snapshot: unknown flags %#x", snapshot->flags);
  }
  if (snapshot->part_count > SL_SNAPSHOT_MAX_PARTS) {
    return sl_error_set(err, SL_ERR_INVALID, "snapshot: %zu parts, at most %d", snapshot->part_count,
                        SL_SNAPSHOT_MAX_PARTS);
  }
  size_t size_bytes = SL_SNAPSHOT_HEADER_BYTES + CHECKSUM_BYTES;
  for (size_t i = 0; i < snapshot->part_count; i++) {
    const char *name = snapshot->parts[i].name;
    const char *why = name_defect(name, strlen(name));
    if (why != NULL) {
      return sl_error_set(err, SL_ERR_INVALID, "snapshot: part %zu \"%s\": %s", i, name, why);
    }
    size_bytes += 2 + strlen(name) + 8;
  }
  const char *duplicate = NULL;
  SL_TRY(find_duplicate(snapshot, &duplicate, err));
  if (duplicate != NULL) {
    return sl_error_set(err, SL_ERR_INVALID, "snapshot: part \"%s\" listed twice", duplicate);
  }
  uint8_t *data = malloc(size_bytes);
  if (data == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "snapshot: out of memory encoding %zu bytes", size_bytes);
  }
  memcpy(data, snapshot_magic, sizeof snapshot_magic);
  put_u32(data + 8, SNAPSHOT_VERSION);
  put_u32(data + 12, snapshot->flags);
  put_u64(data + 16, snapshot->epoch);
  put_u64(data + 24, snapshot->wal_sequence);
  put_u64(data + 32, (uint64_t)snapshot->created_unix_ms);
  put_u32(data + 40, (uint32_t)snapshot->part_count);
  put_u32(data + 44, 0);
  size_t offset = SL_SNAPSHOT_HEADER_BYTES;
  for (size_t i = 0; i < snapshot->part_count; i++) {
    size_t length = strlen(snapshot->parts[i].name);
    put_u16(data + offset, (uint16_t)length);
    memcpy(data + offset + 2, snapshot->parts[i].name, length);
    put_u64(data + offset + 2 + length, snapshot->parts[i].size_bytes);
    offset += 2 + length + 8;
  }
  put_u64(data + offset, sl_hash64(data, offset, 0));
  assert(offset + CHECKSUM_BYTES == size_bytes);
  *data_out = data;
  *size_out = size_bytes;
  return SL_OK;
}

static sl_status corrupt_at(sl_error *err, const char *name, size_t offset, const char *why) {
  return sl_error_set(err, SL_ERR_CORRUPT, "snapshot %s: offset %zu: %s", name, offset, why);
}

static sl_status decode_header(const uint8_t *data, size_t size_bytes, const char *name,
                               sl_snapshot *out, uint32_t *part_count_out, sl_error *err) {
  char why[160];
  if (size_bytes < SL_SNAPSHOT_HEADER_BYTES + CHECKSUM_BYTES) {
    snprintf(why, sizeof why, "file cut short: %zu bytes, a snapshot takes at least %d", size_bytes,
             SL_SNAPSHOT_HEADER_BYTES + CHECKSUM_BYTES);
    return corrupt_at(err, name, size_bytes, why);
  }
  if (size_bytes > SL_SNAPSHOT_MAX_FILE_BYTES) {
    return corrupt_at(err, name, 0, "file larger than 64 MiB");
  }
  if (memcmp(data, snapshot_magic, sizeof snapshot_magic) != 0) {
    return corrupt_at(err, name, 0, "bad magic (not a spanlab snapshot)");
  }
  uint32_t version = get_u32(data + 8);
  if (version != SNAPSHOT_VERSION) {
    snprintf(why, sizeof why, "unsupported version %u (this build reads %d)", version,
             SNAPSHOT_VERSION);
    return corrupt_at(err, name, 8, why);
  }
  if ((get_u32(data + 12) & ~(uint32_t)SL_SNAPSHOT_WAL_IN_USE) != 0) {
    return corrupt_at(err, name, 12, "unknown flags");
  }
  uint32_t part_count = get_u32(data + 40);
  if (part_count > SL_SNAPSHOT_MAX_PARTS) {
    snprintf(why, sizeof why, "part count %u over the limit of %d", part_count,
             SL_SNAPSHOT_MAX_PARTS);
    return corrupt_at(err, name, 40, why);
  }
  if (get_u32(data + 44) != 0) {
    return corrupt_at(err, name, 44, "reserved field is not 0");
  }
  out->flags = get_u32(data + 12);
  out->epoch = get_u64(data + 16);
  out->wal_sequence = get_u64(data + 24);
  out->created_unix_ms = (int64_t)get_u64(data + 32);
  *part_count_out = part_count;
  return SL_OK;
}

static sl_status decode_parts(const uint8_t *data, size_t body_end, const char *name,
                              uint32_t part_count, sl_snapshot *out, sl_error *err) {
  char why[200];
  size_t offset = SL_SNAPSHOT_HEADER_BYTES;
  for (uint32_t i = 0; i < part_count; i++) {
    if (body_end - offset < 2) {
      snprintf(why, sizeof why, "part %u of %u: entry runs past the end of the file", i + 1,
               part_count);
      return corrupt_at(err, name, offset, why);
    }
    size_t length = get_u16(data + offset);
    if (body_end - offset - 2 < length + 8) {
      snprintf(why, sizeof why, "part %u of %u: entry runs past the end of the file", i + 1,
               part_count);
      return corrupt_at(err, name, offset, why);
    }
    const char *defect = name_defect((const char *)data + offset + 2, length);
    if (defect != NULL) {
      snprintf(why, sizeof why, "part %u of %u: %s", i + 1, part_count, defect);
      return corrupt_at(err, name, offset, why);
    }
    char part_name[SL_SNAPSHOT_MAX_NAME_BYTES + 1];
    memcpy(part_name, data + offset + 2, length);
    part_name[length] = '\0';
    SL_TRY(sl_snapshot_add_part(out, part_name, get_u64(data + offset + 2 + length), err));
    offset += 2 + length + 8;
  }
  if (offset != body_end) {
    snprintf(why, sizeof why, "%zu bytes after the last of %u parts, before the checksum",
             body_end - offset, part_count);
    return corrupt_at(err, name, offset, why);
  }
  return SL_OK;
}

static sl_status decode_checked(const uint8_t *data, size_t size_bytes, const char *name,
                                sl_snapshot *out, sl_error *err) {
  uint32_t part_count = 0;
  SL_TRY(decode_header(data, size_bytes, name, out, &part_count, err));
  size_t body_end = size_bytes - CHECKSUM_BYTES;
  /* Each entry takes at least 11 bytes: refuse an impossible count before allocating. */
  if ((uint64_t)part_count * 11 > body_end - SL_SNAPSHOT_HEADER_BYTES) {
    char why[160];
    snprintf(why, sizeof why, "part count %u cannot fit in a %zu-byte file", part_count, size_bytes);
    return corrupt_at(err, name, 40, why);
  }
  SL_TRY(decode_parts(data, body_end, name, part_count, out, err));
  uint64_t stored = get_u64(data + body_end);
  uint64_t computed = sl_hash64(data, body_end, 0);
  if (stored != computed) {
    char why[160];
    snprintf(why, sizeof why, "checksum mismatch (stored %016llx, computed %016llx)",
             (unsigned long long)stored, (unsigned long long)computed);
    return corrupt_at(err, name, body_end, why);
  }
  const char *duplicate = NULL;
  SL_TRY(find_duplicate(out, &duplicate, err));
  if (duplicate != NULL) {
    char why[300];
    snprintf(why, sizeof why, "part \"%s\" listed twice", duplicate);
    return corrupt_at(err, name, SL_SNAPSHOT_HEADER_BYTES, why);
  }
  return SL_OK;
}

sl_status sl_snapshot_decode(const uint8_t *data, size_t size_bytes, const char *name,
                             sl_snapshot *out, sl_error *err) {
  assert(data != NULL || size_bytes == 0);
  assert(name != NULL && out != NULL);
  memset(out, 0, sizeof *out);
  sl_status status = decode_checked(data, size_bytes, name, out, err);
  if (status != SL_OK) {
    sl_snapshot_free(out);
  }
  return status;
}

/* Epoch of a file named EPOCH.snp (16 lower-case hex digits). */
static bool parse_file_name(const char *name, uint64_t *epoch_out) {
  if (strlen(name) != FILE_NAME_LENGTH || strcmp(name + 16, ".snp") != 0) {
    return false;
  }
  uint64_t value = 0;
  for (int i = 0; i < 16; i++) {
    char c = name[i];
    int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) {
      return false;
    }
    value = value << 4 | (uint64_t)digit;
  }
  *epoch_out = value;
  return true;
}

sl_status sl_snapshot_read_file(const char *path, sl_snapshot *out, sl_error *err) {
  assert(path != NULL && out != NULL);
  memset(out, 0, sizeof *out);
  uint8_t *data = NULL;
  size_t size_bytes = 0;
  SL_TRY(sl_fileio_read_file(path, SL_SNAPSHOT_MAX_FILE_BYTES, &data, &size_bytes, err));
  sl_status status = sl_snapshot_decode(data, size_bytes, path, out, err);
  free(data);
  const char *slash = strrchr(path, '/');
  uint64_t name_epoch = 0;
  if (status == SL_OK && parse_file_name(slash != NULL ? slash + 1 : path, &name_epoch) &&
      name_epoch != out->epoch) {
    status = sl_error_set(err, SL_ERR_CORRUPT,
                          "snapshot %s: offset 16: epoch %llu does not match the file name", path,
                          (unsigned long long)out->epoch);
    sl_snapshot_free(out);
  }
  return status;
}

/* ---- Directories of snapshots ---- */

typedef struct epoch_list {
  uint64_t *epochs; /* sorted newest first, owned */
  size_t count;
  bool has_temporary; /* a leftover EPOCH.snp.tmp exists */
} epoch_list;

static int compare_descending(const void *left, const void *right) {
  uint64_t a = *(const uint64_t *)left;
  uint64_t b = *(const uint64_t *)right;
  return a > b ? -1 : a < b ? 1 : 0;
}

static bool is_temporary_name(const char *name) {
  size_t length = strlen(name);
  return length > 8 && strcmp(name + length - 8, ".snp.tmp") == 0;
}

static sl_status list_epochs(const char *dir, epoch_list *list, sl_error *err) {
  memset(list, 0, sizeof *list);
  DIR *handle = opendir(dir);
  if (handle == NULL) {
    return errno == ENOENT ? SL_OK : sl_fileio_errno_error(err, errno, "open directory", dir);
  }
  size_t capacity = 0;
  sl_status status = SL_OK;
  struct dirent *entry;
  while (status == SL_OK && (entry = readdir(handle)) != NULL) {
    uint64_t epoch = 0;
    if (is_temporary_name(entry->d_name)) {
      list->has_temporary = true;
      continue;
    }
    if (!parse_file_name(entry->d_name, &epoch)) {
      continue;
    }
    if (list->count == capacity) {
      capacity = capacity == 0 ? 8 : capacity * 2;
      uint64_t *grown = capacity <= MAX_SNAPSHOT_FILES
                            ? realloc(list->epochs, capacity * sizeof *grown) : NULL;
      if (grown == NULL) {
        status = sl_error_set(err, SL_ERR_NOMEM, "%s: too many snapshot files", dir);
        break;
      }
      list->epochs = grown;
    }
    list->epochs[list->count++] = epoch;
  }
  closedir(handle);
  if (status != SL_OK) {
    free(list->epochs);
    memset(list, 0, sizeof *list);
    return status;
  }
  if (list->count > 0) {
    qsort(list->epochs, list->count, sizeof *list->epochs, compare_descending);
  }
  return SL_OK;
}

static void snapshot_path(const char *dir, uint64_t epoch, char *out, size_t out_bytes) {
  char name[32];
  sl_snapshot_file_name(epoch, name, sizeof name);
  int length = snprintf(out, out_bytes, "%s/%s", dir, name);
  assert(length > 0 && (size_t)length < out_bytes); /* callers check the directory length */
  (void)length;
}

static bool snapshot_file_valid(const char *path) {
  sl_snapshot snapshot;
  sl_error ignored;
  bool valid = sl_snapshot_read_file(path, &snapshot, &ignored) == SL_OK;
  sl_snapshot_free(&snapshot);
  return valid;
}

static sl_status remove_temporary_files(const char *dir, sl_error *err) {
  DIR *handle = opendir(dir);
  if (handle == NULL) {
    return sl_fileio_errno_error(err, errno, "open directory", dir);
  }
  sl_status status = SL_OK;
  struct dirent *entry;
  char path[PATH_BYTES];
  while ((entry = readdir(handle)) != NULL) {
    if (is_temporary_name(entry->d_name)) {
      snprintf(path, sizeof path, "%s/%s", dir, entry->d_name);
      if (unlink(path) != 0 && errno != ENOENT && status == SL_OK) {
        status = sl_fileio_errno_error(err, errno, "remove", path);
      }
    }
  }
  closedir(handle);
  return status;
}

/* Keeps the newest snapshot and keep_count - 1 older valid ones; removes the others. */
static sl_status prune(const char *dir, uint32_t keep_count, sl_error *err) {
  epoch_list list;
  SL_TRY(list_epochs(dir, &list, err));
  sl_status status = list.has_temporary ? remove_temporary_files(dir, err) : SL_OK;
  bool removed = list.has_temporary;
  uint32_t kept = 0;
  char path[PATH_BYTES];
  for (size_t i = 0; status == SL_OK && i < list.count; i++) {
    snapshot_path(dir, list.epochs[i], path, sizeof path);
    if (i == 0 || (kept < keep_count && snapshot_file_valid(path))) {
      kept++;
      continue;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
      status = sl_fileio_errno_error(err, errno, "remove old snapshot", path);
    }
    removed = true;
  }
  free(list.epochs);
  if (status == SL_OK && removed) {
    status = sl_fileio_fsync_dir(dir, err);
  }
  return status;
}

sl_status sl_snapshot_write(const char *dir, const sl_snapshot *snapshot, uint32_t keep_count,
                            sl_error *err) {
  assert(dir != NULL && snapshot != NULL);
  if (strlen(dir) + FILE_NAME_LENGTH + 8 >= PATH_BYTES) {
    return sl_error_set(err, SL_ERR_INVALID, "snapshot directory path too long: %s", dir);
  }
  keep_count = keep_count == 0 ? SL_SNAPSHOT_DEFAULT_KEEP : keep_count;
  epoch_list list;
  SL_TRY(list_epochs(dir, &list, err));
  uint64_t newest = list.count > 0 ? list.epochs[0] : 0;
  bool stale = list.count > 0 && newest >= snapshot->epoch;
  free(list.epochs);
  if (stale) {
    return sl_error_set(err, SL_ERR_INVALID,
                        "snapshot %s: epoch %llu is not above the newest existing epoch %llu", dir,
                        (unsigned long long)snapshot->epoch, (unsigned long long)newest);
  }
  uint8_t *data = NULL;
  size_t size_bytes = 0;
  SL_TRY(sl_snapshot_encode(snapshot, &data, &size_bytes, err));
  char path[PATH_BYTES];
  snapshot_path(dir, snapshot->epoch, path, sizeof path);
  sl_status status = sl_fileio_write_file_atomic(path, data, size_bytes, err);
  free(data);
  SL_TRY(status);
  return prune(dir, keep_count, err);
}

/* Tries the snapshots newest first; fills result. */
static sl_status load_from_list(const char *dir, const epoch_list *list, bool allow_fallback,
                                sl_snapshot *out, sl_snapshot_load_result *result, sl_error *err) {
  char path[PATH_BYTES];
  sl_error first_error;
  sl_error_clear(&first_error);
  for (size_t i = 0; i < list->count; i++) {
    snapshot_path(dir, list->epochs[i], path, sizeof path);
    sl_snapshot candidate;
    sl_error candidate_error;
    sl_error_clear(&candidate_error);
    if (sl_snapshot_read_file(path, &candidate, &candidate_error) != SL_OK) {
      if (candidate_error.status == SL_ERR_NOMEM) {
        if (err != NULL) {
          *err = candidate_error;
        }
        return SL_ERR_NOMEM;
      }
      if (result->found) {
        continue; /* an older bad snapshot does not matter once a newer one loaded */
      }
      if (result->corrupt_skipped == 0) {
        first_error = candidate_error;
      }
      result->corrupt_skipped++;
      if (!allow_fallback) {
        break;
      }
      continue;
    }
    if (!result->found) {
      *out = candidate;
      result->found = true;
      result->oldest_kept_wal_sequence = candidate.wal_sequence;
    } else {
      if (candidate.wal_sequence < result->oldest_kept_wal_sequence) {
        result->oldest_kept_wal_sequence = candidate.wal_sequence;
      }
      sl_snapshot_free(&candidate);
    }
  }
  if (result->corrupt_skipped > 0 && (!allow_fallback || !result->found)) {
    sl_snapshot_free(out);
    result->found = false;
    if (err != NULL) {
      *err = first_error;
    }
    return first_error.status;
  }
  if (result->corrupt_skipped > 0) {
    snprintf(result->warning, sizeof result->warning,
             "%u newer snapshot(s) skipped as corrupt, loaded epoch %llu instead; first: %.900s",
             result->corrupt_skipped, (unsigned long long)out->epoch, first_error.message);
  }
  return SL_OK;
}

sl_status sl_snapshot_load_latest(const char *dir, bool allow_fallback, sl_snapshot *out,
                                  sl_snapshot_load_result *result, sl_error *err) {
  assert(dir != NULL && out != NULL && result != NULL);
  memset(out, 0, sizeof *out);
  memset(result, 0, sizeof *result);
  if (strlen(dir) + FILE_NAME_LENGTH + 8 >= PATH_BYTES) {
    return sl_error_set(err, SL_ERR_INVALID, "snapshot directory path too long: %s", dir);
  }
  epoch_list list;
  SL_TRY(list_epochs(dir, &list, err));
  result->newest_epoch_seen = list.count > 0 ? list.epochs[0] : 0;
  sl_status status = load_from_list(dir, &list, allow_fallback, out, result, err);
  free(list.epochs);
  return status;
}
