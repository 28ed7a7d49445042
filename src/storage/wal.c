/* wal.c: write-ahead log (docs/FORMAT.md "Write-ahead log"). */
#include "storage/wal.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/hash.h"
#include "common/timeutil.h"
#include "storage/fileio.h"

static const uint8_t segment_magic[8] = {'S', 'L', 'W', 'A', 'L', 'S', 'E', 'G'};

enum {
  SEGMENT_VERSION = 1,
  RECORD_HEADER_BYTES = 16,
  CHECKSUM_BYTES = 8,
  PATH_BYTES = 4096,
  SEGMENT_NAME_LENGTH = 23, /* "seg" + 16 hex + ".wal" */
  MAX_GROUP_BYTES = 4 << 20,
  MIN_SEGMENT_SIZE_BYTES = 4096,
  DEFAULT_INTERVAL_MS = 100,
  MAX_SEGMENTS = 1 << 20,
  DIRECT_BLOCK_BYTES = 4096,     /* O_DIRECT writes: offsets, sizes and memory aligned to this */
  DIRECT_CHUNK_BYTES = 2 << 20,  /* O_DIRECT writes: each of the two staging chunks a group is copied through */
  HASH_SLICE_BYTES = 64 << 10    /* O_DIRECT writes: bytes copied, then hashed while still in cache */
};
static const uint64_t default_segment_size_bytes = 64ull << 20;
/* A segment holds at most one record over its limit; anything bigger is not a segment of ours. */
static const uint64_t max_segment_file_bytes = (64ull << 30);

/* ---- Little-endian helpers ---- */

static void put_u32(uint8_t *out, uint32_t value) {
  for (int i = 0; i < 4; i++) {
    out[i] = (uint8_t)(value >> (8 * i));
  }
}

static void put_u64(uint8_t *out, uint64_t value) {
  put_u32(out, (uint32_t)value);
  put_u32(out + 4, (uint32_t)(value >> 32));
}

static uint32_t get_u32(const uint8_t *bytes) {
  return (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 |
         (uint32_t)bytes[3] << 24;
}

static uint64_t get_u64(const uint8_t *bytes) {
  return (uint64_t)get_u32(bytes) | (uint64_t)get_u32(bytes + 4) << 32;
}

/* ---- Encoding ---- */

void sl_wal_encode_segment_header(uint64_t first_sequence, uint64_t previous_sequence,
                                  uint8_t out[SL_WAL_SEGMENT_HEADER_BYTES]) {
  assert(first_sequence > 0);
  assert(previous_sequence < first_sequence);
  memcpy(out, segment_magic, sizeof segment_magic);
  put_u32(out + 8, SEGMENT_VERSION);
  put_u32(out + 12, 0);
  put_u64(out + 16, first_sequence);
  put_u64(out + 24, previous_sequence);
  put_u64(out + 32, sl_hash64(out, 32, 0));
}

void sl_wal_encode_record(uint64_t sequence, const void *payload, size_t size_bytes, uint8_t *out) {
  assert(size_bytes <= SL_WAL_MAX_PAYLOAD_BYTES);
  assert(payload != NULL || size_bytes == 0);
  put_u32(out, (uint32_t)size_bytes);
  put_u32(out + 4, 0);
  put_u64(out + 8, sequence);
  if (size_bytes > 0) {
    memcpy(out + RECORD_HEADER_BYTES, payload, size_bytes);
  }
  uint64_t checksum = sl_hash64(out, RECORD_HEADER_BYTES + size_bytes, 0);
  put_u64(out + RECORD_HEADER_BYTES + size_bytes, checksum);
}

/* ---- Decoding ---- */

/* Why the record at offset is bad (NULL if it is intact). Checks only framing and checksum. */
static const char *record_defect(const uint8_t *data, size_t size_bytes, size_t offset,
                                 char *why, size_t why_bytes) {
  size_t remaining = size_bytes - offset;
  if (remaining < SL_WAL_RECORD_OVERHEAD_BYTES) {
    snprintf(why, why_bytes, "record cut short: %zu bytes left, a record takes at least %d",
             remaining, SL_WAL_RECORD_OVERHEAD_BYTES);
    return why;
  }
  uint32_t length = get_u32(data + offset);
  if (length > SL_WAL_MAX_PAYLOAD_BYTES) {
    snprintf(why, why_bytes, "payload length %u over the limit of %d bytes", length,
             SL_WAL_MAX_PAYLOAD_BYTES);
    return why;
  }
  if ((size_t)length + SL_WAL_RECORD_OVERHEAD_BYTES > remaining) {
    snprintf(why, why_bytes, "record of %u payload bytes runs past the end of the file (%zu left)",
             length, remaining);
    return why;
  }
  uint64_t stored = get_u64(data + offset + RECORD_HEADER_BYTES + length);
  uint64_t computed = sl_hash64(data + offset, RECORD_HEADER_BYTES + (size_t)length, 0);
  if (stored != computed) {
    snprintf(why, why_bytes, "record checksum mismatch (stored %016llx, computed %016llx)",
             (unsigned long long)stored, (unsigned long long)computed);
    return why;
  }
  return NULL;
}

/* Offset of the first intact record (flags 0) starting at or after from and numbered at least
 * first_sequence, or size_bytes if none. Intact records numbered below it are the file's earlier
 * life (a recycled segment) and do not count. */
static size_t find_intact_record(const uint8_t *data, size_t size_bytes, size_t from,
                                 uint64_t first_sequence) {
  char why[160];
  for (size_t offset = from; offset + SL_WAL_RECORD_OVERHEAD_BYTES <= size_bytes; offset++) {
    uint32_t length = get_u32(data + offset);
    if (length > SL_WAL_MAX_PAYLOAD_BYTES || get_u32(data + offset + 4) != 0 ||
        (size_t)length + SL_WAL_RECORD_OVERHEAD_BYTES > size_bytes - offset ||
        get_u64(data + offset + 8) < first_sequence) {
      continue;
    }
    if (record_defect(data, size_bytes, offset, why, sizeof why) == NULL) {
      return offset;
    }
  }
  return size_bytes;
}

static sl_status corrupt_at(sl_error *err, const char *name, size_t offset, const char *why) {
  return sl_error_set(err, SL_ERR_CORRUPT, "WAL segment %s: offset %zu: %s", name, offset, why);
}

/* A bad spot at offset: a torn tail when the segment is the last and nothing intact follows. */
static sl_status bad_spot(const uint8_t *data, size_t size_bytes, const char *name,
                          bool is_last_segment, size_t offset, const char *why,
                          sl_wal_segment_info *info, sl_error *err) {
  if (!is_last_segment) {
    return corrupt_at(err, name, offset, why);
  }
  size_t intact = find_intact_record(data, size_bytes, offset + 1, info->first_sequence);
  if (intact < size_bytes) {
    char message[400];
    snprintf(message, sizeof message, "%s, and an intact record follows at offset %zu", why,
             intact);
    return corrupt_at(err, name, offset, message);
  }
  info->torn_tail = true;
  info->valid_end_offset = offset;
  return SL_OK;
}

static sl_status decode_header(const uint8_t *data, size_t size_bytes, const char *name,
                               bool is_last_segment, sl_wal_segment_info *info, sl_error *err) {
  char why[160];
  if (size_bytes < SL_WAL_SEGMENT_HEADER_BYTES) {
    snprintf(why, sizeof why, "segment header cut short: %zu of %d bytes", size_bytes,
             SL_WAL_SEGMENT_HEADER_BYTES);
    return bad_spot(data, size_bytes, name, is_last_segment, 0, why, info, err);
  }
  if (memcmp(data, segment_magic, sizeof segment_magic) != 0 ||
      get_u64(data + 32) != sl_hash64(data, 32, 0)) {
    snprintf(why, sizeof why, "segment header has a bad magic or checksum");
    return bad_spot(data, size_bytes, name, is_last_segment, 0, why, info, err);
  }
  uint32_t version = get_u32(data + 8);
  if (version != SEGMENT_VERSION) {
    snprintf(why, sizeof why, "unsupported segment version %u (this build reads %d)", version,
             SEGMENT_VERSION);
    return corrupt_at(err, name, 8, why);
  }
  if (get_u32(data + 12) != 0) {
    return corrupt_at(err, name, 12, "unknown segment flags");
  }
  uint64_t first_sequence = get_u64(data + 16);
  uint64_t previous_sequence = get_u64(data + 24);
  if (first_sequence == 0 || previous_sequence >= first_sequence) {
    snprintf(why, sizeof why, "first sequence %llu must be above previous sequence %llu and 0",
             (unsigned long long)first_sequence, (unsigned long long)previous_sequence);
    return corrupt_at(err, name, 16, why);
  }
  info->header_valid = true;
  info->first_sequence = first_sequence;
  info->previous_sequence = previous_sequence;
  info->last_sequence = first_sequence - 1;
  info->valid_end_offset = SL_WAL_SEGMENT_HEADER_BYTES;
  return SL_OK;
}

sl_status sl_wal_segment_decode(const uint8_t *data, size_t size_bytes, const char *name,
                                bool is_last_segment, uint64_t after_sequence,
                                sl_wal_record_fn callback, void *context,
                                sl_wal_segment_info *info, sl_error *err) {
  assert(data != NULL || size_bytes == 0);
  assert(name != NULL && info != NULL);
  memset(info, 0, sizeof *info);
  SL_TRY(decode_header(data, size_bytes, name, is_last_segment, info, err));
  if (!info->header_valid) {
    return SL_OK; /* torn header of the last segment */
  }
  uint64_t expected_sequence = info->first_sequence;
  size_t offset = SL_WAL_SEGMENT_HEADER_BYTES;
  char why[200];
  while (offset < size_bytes) {
    if (record_defect(data, size_bytes, offset, why, sizeof why) != NULL) {
      SL_TRY(bad_spot(data, size_bytes, name, is_last_segment, offset, why, info, err));
      assert(info->torn_tail);
      return SL_OK;
    }
    uint32_t length = get_u32(data + offset);
    uint64_t sequence = get_u64(data + offset + 8);
    if (get_u32(data + offset + 4) != 0) {
      return corrupt_at(err, name, offset + 4, "unknown record flags");
    }
    if (sequence < info->first_sequence) {
      /* A record of the file's earlier life: the segment was recycled and its records end here. */
      snprintf(why, sizeof why, "record sequence %llu is below the segment's first %llu (left from the file's earlier use)",
               (unsigned long long)sequence, (unsigned long long)info->first_sequence);
      SL_TRY(bad_spot(data, size_bytes, name, is_last_segment, offset, why, info, err));
      assert(info->torn_tail);
      return SL_OK;
    }
    if (sequence != expected_sequence) {
      snprintf(why, sizeof why, "record sequence %llu, expected %llu",
               (unsigned long long)sequence, (unsigned long long)expected_sequence);
      return corrupt_at(err, name, offset + 8, why);
    }
    if (callback != NULL && sequence > after_sequence) {
      SL_TRY(callback(context, sequence, data + offset + RECORD_HEADER_BYTES, length, err));
    }
    info->record_count++;
    info->last_sequence = sequence;
    expected_sequence++;
    offset += (size_t)length + SL_WAL_RECORD_OVERHEAD_BYTES;
    info->valid_end_offset = offset;
  }
  assert(offset == size_bytes);
  return SL_OK;
}

/* ---- Segment files in a directory ---- */

typedef struct segment_list {
  uint64_t *first_sequences; /* sorted ascending, owned */
  size_t count;
  size_t capacity;
} segment_list;

static void segment_list_free(segment_list *list) {
  free(list->first_sequences);
  memset(list, 0, sizeof *list);
}

static bool segment_list_push(segment_list *list, uint64_t first_sequence) {
  if (list->count == list->capacity) {
    size_t capacity = list->capacity == 0 ? 16 : list->capacity * 2;
    uint64_t *grown = realloc(list->first_sequences, capacity * sizeof *grown);
    if (grown == NULL) {
      return false;
    }
    list->first_sequences = grown;
    list->capacity = capacity;
  }
  list->first_sequences[list->count++] = first_sequence;
  return true;
}

/* prefix + 16 hex digits + ".wal" -> the number (above 0). */
static bool parse_numbered_name(const char *name, const char *prefix, uint64_t *number_out) {
  size_t prefix_length = strlen(prefix);
  if (strlen(name) != prefix_length + 20 || strncmp(name, prefix, prefix_length) != 0 ||
      strcmp(name + prefix_length + 16, ".wal") != 0) {
    return false;
  }
  uint64_t value = 0;
  for (size_t i = prefix_length; i < prefix_length + 16; i++) {
    char c = name[i];
    int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) {
      return false;
    }
    value = value << 4 | (uint64_t)digit;
  }
  *number_out = value;
  return value > 0;
}

/* dir/prefix + 16 hex digits + ".wal" (parse_numbered_name's inverse). */
static void numbered_path(const char *dir, const char *prefix, uint64_t number, char *out, size_t out_bytes) {
  int length = snprintf(out, out_bytes, "%s/%s%016llx.wal", dir, prefix, (unsigned long long)number);
  assert(length > 0 && (size_t)length < out_bytes); /* sl_wal_open checked the directory length */
  if (length < 0 || (size_t)length >= out_bytes) {
    out[0] = '\0'; /* unreachable after sl_wal_open's check; keeps release builds honest */
  }
}

static void segment_path(const char *dir, uint64_t first_sequence, char *out, size_t out_bytes) {
  numbered_path(dir, "seg", first_sequence, out, out_bytes);
}

/* A recycled segment waiting for reuse, named by the first sequence it had. */
static void pool_path(const char *dir, uint64_t id, char *out, size_t out_bytes) {
  numbered_path(dir, "free", id, out, out_bytes);
}

static int compare_u64(const void *left, const void *right) {
  uint64_t a = *(const uint64_t *)left;
  uint64_t b = *(const uint64_t *)right;
  return a < b ? -1 : a > b ? 1 : 0;
}

/* Lists the files of dir named prefix + 16 hex + ".wal" by number; a missing directory gives an
 * empty list. */
static sl_status list_numbered(const char *dir, const char *prefix, segment_list *list, sl_error *err) {
  memset(list, 0, sizeof *list);
  DIR *handle = opendir(dir);
  if (handle == NULL) {
    return errno == ENOENT ? SL_OK : sl_fileio_errno_error(err, errno, "open WAL directory", dir);
  }
  sl_status status = SL_OK;
  struct dirent *entry;
  while ((entry = readdir(handle)) != NULL) {
    uint64_t first_sequence;
    if (!parse_numbered_name(entry->d_name, prefix, &first_sequence)) {
      continue;
    }
    if (list->count >= MAX_SEGMENTS || !segment_list_push(list, first_sequence)) {
      status = sl_error_set(err, SL_ERR_NOMEM, "WAL %s: too many segment files", dir);
      break;
    }
  }
  closedir(handle);
  if (status != SL_OK) {
    segment_list_free(list);
    return status;
  }
  if (list->count > 0) {
    qsort(list->first_sequences, list->count, sizeof *list->first_sequences, compare_u64);
  }
  return SL_OK;
}

static sl_status list_segments(const char *dir, segment_list *list, sl_error *err) {
  return list_numbered(dir, "seg", list, err);
}

/* Reads and decodes one segment file; checks that the name matches the header. */
static sl_status read_segment(const char *path, uint64_t name_sequence, bool is_last_segment,
                              uint64_t after_sequence, sl_wal_record_fn callback, void *context,
                              sl_wal_segment_info *info, uint64_t *file_bytes_out, sl_error *err) {
  uint8_t *data = NULL;
  size_t size_bytes = 0;
  SL_TRY(sl_fileio_read_file(path, max_segment_file_bytes, &data, &size_bytes, err));
  sl_status status = sl_wal_segment_decode(data, size_bytes, path, is_last_segment,
                                           after_sequence, callback, context, info, err);
  free(data);
  if (status == SL_OK && info->header_valid && info->first_sequence != name_sequence) {
    status = sl_error_set(err, SL_ERR_CORRUPT,
                          "WAL segment %s: offset 16: header says first sequence %llu, the name %llu",
                          path, (unsigned long long)info->first_sequence,
                          (unsigned long long)name_sequence);
  }
  if (file_bytes_out != NULL) {
    *file_bytes_out = size_bytes;
  }
  return status;
}

static sl_status truncate_file(const char *path, uint64_t size_bytes, sl_error *err) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return sl_fileio_errno_error(err, errno, "open", path);
  }
  sl_status status = SL_OK;
  if (ftruncate(fd, (off_t)size_bytes) != 0) {
    status = sl_fileio_errno_error(err, errno, "truncate", path);
  } else {
    status = sl_fileio_fdatasync(fd, path, err);
  }
  close(fd);
  return status;
}

/* ---- Replay ---- */

typedef struct replay_state {
  sl_wal_record_fn callback;
  void *context;
  uint64_t records;
  uint64_t previous_sequence;
} replay_state;

static sl_status replay_one(void *context, uint64_t sequence, const uint8_t *payload,
                            size_t size_bytes, sl_error *err) {
  replay_state *state = context;
  assert(sequence > state->previous_sequence);
  state->previous_sequence = sequence;
  state->records++;
  return state->callback(state->context, sequence, payload, size_bytes, err);
}

/* Index of the first segment that can hold a record above after_sequence. */
static size_t first_needed_segment(const segment_list *list, uint64_t after_sequence) {
  size_t index = 0;
  for (size_t i = 0; i < list->count; i++) {
    if (list->first_sequences[i] <= after_sequence || list->first_sequences[i] - 1 == after_sequence) {
      index = i;
    }
  }
  return index;
}

static sl_status check_chain(const char *path, const sl_wal_segment_info *info, bool is_first,
                             uint64_t chain_end, uint64_t after_sequence, sl_error *err) {
  if (!info->header_valid) {
    return SL_OK;
  }
  if (is_first && after_sequence < info->previous_sequence) {
    return sl_error_set(err, SL_ERR_CORRUPT,
                        "WAL segment %s: offset 24: records %llu..%llu are needed but no longer in "
                        "the WAL (it starts after %llu)",
                        path, (unsigned long long)after_sequence + 1,
                        (unsigned long long)info->previous_sequence,
                        (unsigned long long)info->previous_sequence);
  }
  if (!is_first && info->previous_sequence != chain_end) {
    return sl_error_set(err, SL_ERR_CORRUPT,
                        "WAL segment %s: offset 24: previous sequence %llu, but the segment before "
                        "ends at %llu (a segment is missing)",
                        path, (unsigned long long)info->previous_sequence,
                        (unsigned long long)chain_end);
  }
  return SL_OK;
}

/* Pass 1: validates segments first..last, truncating a torn tail of the last one. */
static sl_status validate_segments(const char *dir, const segment_list *list, size_t first,
                                   uint64_t after_sequence, sl_wal_replay_result *result,
                                   sl_error *err) {
  uint64_t chain_end = 0;
  char path[PATH_BYTES];
  for (size_t i = first; i < list->count; i++) {
    bool is_last = i + 1 == list->count;
    segment_path(dir, list->first_sequences[i], path, sizeof path);
    sl_wal_segment_info info;
    uint64_t file_bytes = 0;
    SL_TRY(read_segment(path, list->first_sequences[i], is_last, after_sequence, NULL, NULL, &info,
                        &file_bytes, err));
    SL_TRY(check_chain(path, &info, i == first, chain_end, after_sequence, err));
    if (info.header_valid) {
      chain_end = info.last_sequence;
      result->last_sequence = info.record_count > 0 ? info.last_sequence : result->last_sequence;
    }
    result->header_torn = is_last && !info.header_valid;
    if (info.torn_tail) {
      SL_TRY(truncate_file(path, info.valid_end_offset, err));
      result->torn_bytes_truncated += file_bytes - info.valid_end_offset;
    }
    result->segments_read++;
  }
  return SL_OK;
}

sl_status sl_wal_replay(const char *dir, uint64_t after_sequence, sl_wal_record_fn callback,
                        void *context, sl_wal_replay_result *result, sl_error *err) {
  assert(dir != NULL);
  assert(callback != NULL);
  sl_wal_replay_result local;
  if (result == NULL) {
    result = &local;
  }
  memset(result, 0, sizeof *result);
  segment_list list;
  SL_TRY(list_segments(dir, &list, err));
  result->segments_found = list.count;
  size_t first = first_needed_segment(&list, after_sequence);
  sl_status status = validate_segments(dir, &list, first, after_sequence, result, err);
  replay_state state = {callback, context, 0, after_sequence};
  char path[PATH_BYTES];
  for (size_t i = first; status == SL_OK && i < list.count; i++) {
    segment_path(dir, list.first_sequences[i], path, sizeof path);
    sl_wal_segment_info info;
    status = read_segment(path, list.first_sequences[i], i + 1 == list.count, after_sequence,
                          replay_one, &state, &info, NULL, err);
  }
  result->records_replayed = state.records;
  segment_list_free(&list);
  return status;
}

/* ---- The open WAL ---- */

/* One queued append; lives on the appender's stack until done. */
typedef struct wal_request {
  const struct iovec *pieces; /* the payload: pieces[0..piece_count) joined, size_bytes in all */
  size_t piece_count;
  size_t size_bytes;
  struct iovec single;        /* pieces for a payload given whole */
  uint64_t sequence;
  sl_status status;
  sl_error *err; /* the appender's, may be NULL; written by the leader before done is set */
  bool done;
  struct wal_request *next;
} wal_request;

/* The thread that writes staging chunks behind the leader (docs/FORMAT.md "Direct I/O"): the leader
 * fills one chunk while it writes the other. At most one chunk is handed over at a time and chunks
 * are handed over in file order, so writes reach the file in order, as one write's would. */
typedef struct chunk_writer {
  pthread_mutex_t mutex;
  pthread_cond_t changed; /* a chunk handed over, written, or stop */
  pthread_t thread;
  bool started;           /* without the thread the leader writes each chunk itself */
  bool stopping;
  bool pending;           /* the chunk handed over is not written yet */
  int fd;
  const char *path;
  const uint8_t *data;
  size_t size_bytes;
  uint64_t offset;
  sl_status status;       /* of the chunks written since the leader last asked */
  sl_error error;
} chunk_writer;

struct sl_wal {
  char dir[PATH_BYTES];
  sl_wal_options options;
  pthread_mutex_t mutex;
  pthread_cond_t changed;        /* a group finished or the file owner left */
  pthread_cond_t interval_wake;  /* the interval thread's timer and stop signal */
  pthread_cond_t work;           /* wakes the writer thread: a record queued, the file free, stop */
  /* Under mutex. */
  wal_request *queue_head;
  wal_request *queue_tail;
  uint64_t next_sequence;
  uint64_t written_sequence;     /* last acknowledged sequence */
  uint64_t synced_sequence;      /* last sequence known durable */
  pthread_t interval_thread;
  pthread_t writer_thread;
  pthread_t remover_thread;
  /* Recycled segments given up by sl_wal_release_recycled, deleted by the remover thread. */
  segment_list doomed;
  pthread_cond_t removal;        /* doomed grew, the remover finished a round, or stop */
  int segment_fd;                /* changed by the owner under mutex (read by the interval thread) */
  sl_status removal_status;      /* the remover's first failure since sl_wal_settle last reported one */
  bool io_busy;                  /* one thread owns the fields marked "owner" below */
  bool failed;                   /* sticky failure: every append is refused */
  bool stopping;
  bool interval_thread_started;
  bool writer_thread_started;
  bool remover_started;
  bool remover_busy;             /* the remover holds a round of files taken from doomed */
  sl_error failure;
  sl_error removal_error;        /* with removal_status */
  sl_wal_stats stats;
  /* Owner only. */
  char segment_path[PATH_BYTES];
  uint64_t segment_end_offset;
  uint64_t segment_file_bytes;   /* the file's size: above the end in a recycled segment */
  uint64_t segment_record_count;
  segment_list segments;
  segment_list pool;             /* recycled segments (free*.wal), reused by rotation */
  uint8_t *encode_buffer;
  size_t encode_capacity;
  /* Direct I/O (options.direct_io, where the file system takes it): the segment's descriptor has
   * O_DIRECT and groups go through direct_chunk; direct_tail holds the segment's bytes from its end
   * rounded down to a block to its end, which the next group writes again in front of its own. */
  bool segment_direct;
  uint8_t *direct_chunk;         /* two chunks of DIRECT_CHUNK_BYTES, block-aligned */
  uint8_t *direct_tail;          /* DIRECT_BLOCK_BYTES, block-aligned */
  chunk_writer chunks;           /* writes one chunk while the leader fills the other */
  sl_wal_stats timing;           /* the group being written: its *_ns, added to stats after it */
};

void sl_wal_options_default(sl_wal_options *options) {
  assert(options != NULL);
  memset(options, 0, sizeof *options);
  options->sync_mode = SL_WAL_SYNC_BATCH;
  options->interval_ms = DEFAULT_INTERVAL_MS;
  options->segment_size_bytes = default_segment_size_bytes;
  options->min_next_sequence = 1;
  options->direct_io = true;
}

const char *sl_wal_sync_mode_name(sl_wal_sync_mode mode) {
  switch (mode) {
    case SL_WAL_SYNC_NONE: return "none";
    case SL_WAL_SYNC_BATCH: return "batch";
    case SL_WAL_SYNC_INTERVAL: return "interval";
  }
  return "unknown";
}

sl_status sl_wal_sync_mode_parse(const char *name, sl_wal_sync_mode *mode_out, sl_error *err) {
  assert(name != NULL && mode_out != NULL);
  static const sl_wal_sync_mode modes[] = {SL_WAL_SYNC_NONE, SL_WAL_SYNC_BATCH,
                                           SL_WAL_SYNC_INTERVAL};
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    if (strcmp(name, sl_wal_sync_mode_name(modes[i])) == 0) {
      *mode_out = modes[i];
      return SL_OK;
    }
  }
  return sl_error_set(err, SL_ERR_INVALID,
                      "WAL sync mode \"%s\": expected none, batch or interval", name);
}

static sl_status check_options(const sl_wal_options *options, sl_error *err) {
  if (options->sync_mode != SL_WAL_SYNC_NONE && options->sync_mode != SL_WAL_SYNC_BATCH &&
      options->sync_mode != SL_WAL_SYNC_INTERVAL) {
    return sl_error_set(err, SL_ERR_INVALID, "WAL options: unknown sync mode %d",
                        (int)options->sync_mode);
  }
  if (options->sync_mode == SL_WAL_SYNC_INTERVAL &&
      (options->interval_ms == 0 || options->interval_ms > 3600 * 1000)) {
    return sl_error_set(err, SL_ERR_INVALID,
                        "WAL options: interval_ms %u must be between 1 and 3600000",
                        options->interval_ms);
  }
  if (options->segment_size_bytes < MIN_SEGMENT_SIZE_BYTES ||
      options->segment_size_bytes > max_segment_file_bytes / 2) {
    return sl_error_set(err, SL_ERR_INVALID,
                        "WAL options: segment_size_bytes %llu must be between %d and %llu",
                        (unsigned long long)options->segment_size_bytes, MIN_SEGMENT_SIZE_BYTES,
                        (unsigned long long)(max_segment_file_bytes / 2));
  }
  return SL_OK;
}

static void lock(sl_wal *wal) {
  int result = pthread_mutex_lock(&wal->mutex);
  assert(result == 0);
  (void)result;
}

static void unlock(sl_wal *wal) {
  int result = pthread_mutex_unlock(&wal->mutex);
  assert(result == 0);
  (void)result;
}

/* With the mutex held: waits until no thread owns the file, then owns it. */
static void acquire_io(sl_wal *wal) {
  while (wal->io_busy) {
    pthread_cond_wait(&wal->changed, &wal->mutex);
  }
  wal->io_busy = true;
}

/* With the mutex held. */
static void release_io(sl_wal *wal) {
  assert(wal->io_busy);
  wal->io_busy = false;
  pthread_cond_broadcast(&wal->changed);
  if (wal->queue_head != NULL) {
    pthread_cond_signal(&wal->work);
  }
}

/* With the mutex held. */
static void fail_sticky(sl_wal *wal, const sl_error *cause) {
  if (!wal->failed) {
    wal->failed = true;
    wal->failure = *cause;
    sl_error_prefix(&wal->failure, "WAL %s refuses appends after an earlier failure", wal->dir);
  }
}

/* ---- Direct I/O (docs/FORMAT.md "Direct I/O") ---- */

/* Keeps the first failure of the chunks written since the leader last asked. Under writer->mutex,
 * or by the leader alone when there is no thread. */
static void keep_first_failure(chunk_writer *writer, sl_status status, const sl_error *error) {
  if (status != SL_OK && writer->status == SL_OK) {
    writer->status = status;
    writer->error = *error;
  }
}

static void *chunk_writer_main(void *argument) {
  pthread_setname_np(pthread_self(), "wal-io");
  chunk_writer *writer = argument;
  pthread_mutex_lock(&writer->mutex);
  for (;;) {
    while (!writer->pending && !writer->stopping) {
      pthread_cond_wait(&writer->changed, &writer->mutex);
    }
    if (!writer->pending) {
      break; /* stopping, and nothing left to write */
    }
    int fd = writer->fd;
    const char *path = writer->path;
    const uint8_t *data = writer->data;
    size_t size_bytes = writer->size_bytes;
    uint64_t offset = writer->offset;
    pthread_mutex_unlock(&writer->mutex);
    sl_error error;
    sl_error_clear(&error);
    sl_status status = sl_fileio_pwrite_all(fd, data, size_bytes, offset, path, &error);
    pthread_mutex_lock(&writer->mutex);
    keep_first_failure(writer, status, &error);
    writer->pending = false;
    pthread_cond_broadcast(&writer->changed);
  }
  pthread_mutex_unlock(&writer->mutex);
  return NULL;
}

static void start_chunk_writer(sl_wal *wal) {
  chunk_writer *writer = &wal->chunks;
  writer->started = pthread_create(&writer->thread, NULL, chunk_writer_main, writer) == 0;
}

static void stop_chunk_writer(sl_wal *wal) {
  chunk_writer *writer = &wal->chunks;
  if (!writer->started) {
    return;
  }
  pthread_mutex_lock(&writer->mutex);
  writer->stopping = true;
  pthread_cond_broadcast(&writer->changed);
  pthread_mutex_unlock(&writer->mutex);
  pthread_join(writer->thread, NULL);
  writer->started = false;
}

/* Has size_bytes of data written at offset of the segment appended to, by the chunk writer (the
 * leader goes on) or, without one, here. Owner; nothing may be pending (finish_chunk first). */
static void hand_over_chunk(sl_wal *wal, const uint8_t *data, size_t size_bytes, uint64_t offset) {
  chunk_writer *writer = &wal->chunks;
  if (!writer->started) {
    sl_error error;
    sl_error_clear(&error);
    int64_t began = sl_monotonic_ns();
    sl_status status = sl_fileio_pwrite_all(wal->segment_fd, data, size_bytes, offset, wal->segment_path, &error);
    wal->timing.write_ns += (uint64_t)(sl_monotonic_ns() - began);
    keep_first_failure(writer, status, &error);
    return;
  }
  pthread_mutex_lock(&writer->mutex);
  assert(!writer->pending);
  writer->fd = wal->segment_fd;
  writer->path = wal->segment_path;
  writer->data = data;
  writer->size_bytes = size_bytes;
  writer->offset = offset;
  writer->pending = true;
  pthread_cond_broadcast(&writer->changed);
  pthread_mutex_unlock(&writer->mutex);
}

/* Waits until the chunk handed over last is written; the first failure of the chunks written since
 * the last call (then cleared). Owner. */
static sl_status finish_chunk(sl_wal *wal, sl_error *err) {
  chunk_writer *writer = &wal->chunks;
  int64_t began = sl_monotonic_ns();
  pthread_mutex_lock(&writer->mutex);
  while (writer->pending) {
    pthread_cond_wait(&writer->changed, &writer->mutex);
  }
  wal->timing.write_ns += (uint64_t)(sl_monotonic_ns() - began);
  sl_status status = writer->status;
  if (status != SL_OK && err != NULL) {
    *err = writer->error;
  }
  writer->status = SL_OK;
  pthread_mutex_unlock(&writer->mutex);
  return status;
}

/* Called whenever a segment becomes the one appended to (its descriptor, path and end set): turns
 * O_DIRECT on for it when options.direct_io asks and the file system takes it, loading the bytes of
 * its last partial block. When the file system does not say (before Linux 6.1), a direct write of
 * that block (the segment's own bytes, then zeros past its end) is the test. On any failure the
 * segment is written buffered. Owner (or open). */
static void direct_begin_segment(sl_wal *wal) {
  wal->segment_direct = false;
  int fd = wal->segment_fd;
  sl_fileio_direct support =
      fd >= 0 && wal->options.direct_io ? sl_fileio_direct_support(fd, DIRECT_BLOCK_BYTES) : SL_FILEIO_DIRECT_NO;
  if (support == SL_FILEIO_DIRECT_NO) {
    return;
  }
  if (wal->direct_chunk == NULL) {
    void *chunk = NULL;
    void *tail = NULL;
    if (posix_memalign(&chunk, DIRECT_BLOCK_BYTES, 2 * DIRECT_CHUNK_BYTES) != 0 ||
        posix_memalign(&tail, DIRECT_BLOCK_BYTES, DIRECT_BLOCK_BYTES) != 0) {
      free(chunk);
      return; /* buffered: slower, not wrong */
    }
    wal->direct_chunk = chunk;
    wal->direct_tail = tail;
    start_chunk_writer(wal); /* without it the leader writes each chunk itself: slower, not wrong */
  }
  size_t tail_bytes = (size_t)(wal->segment_end_offset % DIRECT_BLOCK_BYTES);
  uint64_t block_offset = wal->segment_end_offset - tail_bytes;
  memset(wal->direct_tail, 0, DIRECT_BLOCK_BYTES);
  if (tail_bytes > 0) {
    int reader = open(wal->segment_path, O_RDONLY | O_CLOEXEC);
    ssize_t got = reader >= 0 ? pread(reader, wal->direct_tail, tail_bytes, (off_t)block_offset) : -1;
    if (reader >= 0) {
      close(reader);
    }
    if (got != (ssize_t)tail_bytes) {
      return;
    }
  }
  if (!sl_fileio_set_direct(fd, true)) {
    return;
  }
  if (support == SL_FILEIO_DIRECT_YES) {
    wal->segment_direct = true;
    return;
  }
  ssize_t probe = pwrite(fd, wal->direct_tail, DIRECT_BLOCK_BYTES, (off_t)block_offset);
  if (probe > 0 && block_offset + (uint64_t)probe > wal->segment_file_bytes) {
    wal->segment_file_bytes = block_offset + (uint64_t)probe; /* zeros past the end: cut at seal */
  }
  if (probe != DIRECT_BLOCK_BYTES) {
    bool restored = sl_fileio_set_direct(fd, false);
    (void)restored; /* if even that fails, writes report it */
    return;
  }
  wal->segment_direct = true;
}

typedef struct direct_cursor {
  uint64_t offset;        /* where the chunk being filled goes in the segment (block-aligned) */
  size_t fill;            /* bytes in that chunk */
  int current;            /* which of the two chunks it is */
  sl_hash64_state *hash;  /* the record being copied, hashed from the chunk as it is copied */
} direct_cursor;

static uint8_t *cursor_chunk(const sl_wal *wal, const direct_cursor *cursor) {
  return wal->direct_chunk + (size_t)cursor->current * DIRECT_CHUNK_BYTES;
}

/* Copies bytes into the chunk being filled (hashing them there while they are in cache); a chunk
 * that fills is handed to the chunk writer once the other one is written, and filling goes on in
 * the other. Owner. */
static sl_status direct_put(sl_wal *wal, direct_cursor *cursor, const void *bytes, size_t size_bytes,
                            sl_error *err) {
  const uint8_t *from = bytes;
  while (size_bytes > 0) {
    uint8_t *chunk = cursor_chunk(wal, cursor);
    size_t take = DIRECT_CHUNK_BYTES - cursor->fill;
    take = take < size_bytes ? take : size_bytes;
    take = take < HASH_SLICE_BYTES ? take : HASH_SLICE_BYTES;
    int64_t began = sl_monotonic_ns();
    memcpy(chunk + cursor->fill, from, take);
    if (cursor->hash != NULL) {
      sl_hash64_add(cursor->hash, chunk + cursor->fill, take);
    }
    wal->timing.stage_ns += (uint64_t)(sl_monotonic_ns() - began);
    cursor->fill += take;
    from += take;
    size_bytes -= take;
    if (cursor->fill == DIRECT_CHUNK_BYTES) {
      SL_TRY(finish_chunk(wal, err)); /* the other chunk is free again */
      hand_over_chunk(wal, chunk, DIRECT_CHUNK_BYTES, cursor->offset);
      cursor->offset += DIRECT_CHUNK_BYTES;
      cursor->fill = 0;
      cursor->current ^= 1;
    }
  }
  return SL_OK;
}

/* Writes the group's records at the segment's end through the staging chunks: the last partial
 * block again, then for each record its header (frames, numbered), payload and checksum (hashed
 * as copied), then zeros to the next block boundary. No chunk write is in flight when it returns.
 * On success the tail block is the new end's. Owner. */
static sl_status direct_write(sl_wal *wal, const wal_request *group, uint8_t *frames, sl_error *err) {
  size_t tail_bytes = (size_t)(wal->segment_end_offset % DIRECT_BLOCK_BYTES);
  direct_cursor cursor = {.offset = wal->segment_end_offset - tail_bytes, .fill = tail_bytes, .current = 0};
  memcpy(wal->direct_chunk, wal->direct_tail, tail_bytes);
  sl_status status = SL_OK;
  uint8_t *header = frames;
  for (const wal_request *request = group; status == SL_OK && request != NULL; request = request->next) {
    sl_hash64_state hash;
    sl_hash64_begin(&hash, 0);
    cursor.hash = &hash;
    status = direct_put(wal, &cursor, header, RECORD_HEADER_BYTES, err);
    for (size_t i = 0; status == SL_OK && i < request->piece_count; i++) {
      status = direct_put(wal, &cursor, request->pieces[i].iov_base, request->pieces[i].iov_len, err);
    }
    cursor.hash = NULL;
    uint8_t *checksum = header + RECORD_HEADER_BYTES;
    put_u64(checksum, sl_hash64_end(&hash));
    if (status == SL_OK) {
      status = direct_put(wal, &cursor, checksum, CHECKSUM_BYTES, err);
    }
    header += SL_WAL_RECORD_OVERHEAD_BYTES;
  }
  /* The chunk handed over last is written before the last one: writes stay in file order. */
  sl_status written = finish_chunk(wal, status == SL_OK ? err : NULL);
  status = status == SL_OK ? written : status;
  if (status != SL_OK) {
    return status;
  }
  uint8_t *chunk = cursor_chunk(wal, &cursor);
  size_t padded = (cursor.fill + DIRECT_BLOCK_BYTES - 1) / DIRECT_BLOCK_BYTES * DIRECT_BLOCK_BYTES;
  memset(chunk + cursor.fill, 0, padded - cursor.fill);
  if (padded > 0) {
    int64_t began = sl_monotonic_ns();
    sl_status tail_written = sl_fileio_pwrite_all(wal->segment_fd, chunk, padded, cursor.offset, wal->segment_path, err);
    wal->timing.write_ns += (uint64_t)(sl_monotonic_ns() - began);
    SL_TRY(tail_written);
  }
  size_t last_block = cursor.fill - cursor.fill % DIRECT_BLOCK_BYTES;
  memcpy(wal->direct_tail, chunk + last_block, cursor.fill % DIRECT_BLOCK_BYTES);
  if (cursor.offset + padded > wal->segment_file_bytes) {
    wal->segment_file_bytes = cursor.offset + padded;
  }
  return SL_OK;
}

/* Turns the newest recycled segment into segment path: its new header is made durable under the
 * pool name, then it is renamed (so a segment file never shows an old header). Its old records
 * stay behind the header until overwritten; readers stop at the first one (numbered below the
 * header's first sequence). Owner only. Returns -1 when nothing could be reused (a file that
 * failed is removed from the pool). */
static int reuse_pooled(sl_wal *wal, const uint8_t header[SL_WAL_SEGMENT_HEADER_BYTES], const char *path,
                        uint64_t *file_bytes_out) {
  while (wal->pool.count > 0) {
    char pooled[PATH_BYTES];
    pool_path(wal->dir, wal->pool.first_sequences[--wal->pool.count], pooled, sizeof pooled);
    int fd = open(pooled, O_WRONLY | O_CLOEXEC);
    struct stat info;
    sl_error ignored;
    if (fd >= 0 && fstat(fd, &info) == 0 &&
        sl_fileio_pwrite_all(fd, header, SL_WAL_SEGMENT_HEADER_BYTES, 0, pooled, &ignored) == SL_OK &&
        sl_fileio_fdatasync(fd, pooled, &ignored) == SL_OK && rename(pooled, path) == 0) {
      *file_bytes_out = (uint64_t)info.st_size > SL_WAL_SEGMENT_HEADER_BYTES ? (uint64_t)info.st_size
                                                                             : SL_WAL_SEGMENT_HEADER_BYTES;
      return fd;
    }
    if (fd >= 0) {
      close(fd);
    }
    unlink(pooled); /* best effort: a pool file is never needed for recovery */
  }
  return -1;
}

/* Creates a segment file with its header (or reuses a recycled one: *reused_out), durable with its
 * directory entry, and adds it to the segment list. Owner only; the caller installs fd and path
 * (under the mutex once threads run) and counts three fsyncs and the segment. */
static sl_status create_segment(sl_wal *wal, uint64_t first_sequence, uint64_t previous_sequence,
                                int *fd_out, char path[PATH_BYTES], bool *reused_out, sl_error *err) {
  segment_path(wal->dir, first_sequence, path, PATH_BYTES);
  uint8_t header[SL_WAL_SEGMENT_HEADER_BYTES];
  sl_wal_encode_segment_header(first_sequence, previous_sequence, header);
  uint64_t file_bytes = SL_WAL_SEGMENT_HEADER_BYTES;
  int fd = reuse_pooled(wal, header, path, &file_bytes);
  bool reused = fd >= 0;
  sl_status status = SL_OK;
  if (!reused) {
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      return sl_fileio_errno_error(err, errno, "create WAL segment", path);
    }
    status = sl_fileio_pwrite_all(fd, header, sizeof header, 0, path, err);
    if (status == SL_OK) {
      status = sl_fileio_fsync(fd, path, err);
    }
  }
  if (status == SL_OK) {
    status = sl_fileio_fsync_dir(wal->dir, err);
  }
  if (status == SL_OK && !segment_list_push(&wal->segments, first_sequence)) {
    status = sl_error_set(err, SL_ERR_NOMEM, "WAL %s: out of memory", wal->dir);
  }
  if (status != SL_OK) {
    close(fd);
    unlink(path);
    return status;
  }
  wal->segment_end_offset = SL_WAL_SEGMENT_HEADER_BYTES;
  wal->segment_file_bytes = file_bytes;
  wal->segment_record_count = 0;
  *reused_out = reused;
  *fd_out = fd;
  return SL_OK;
}

/* Single-threaded (open): creates the first segment to append to. */
static sl_status start_segment(sl_wal *wal, uint64_t first_sequence, uint64_t previous_sequence,
                               sl_error *err) {
  char path[PATH_BYTES];
  bool reused = false;
  SL_TRY(create_segment(wal, first_sequence, previous_sequence, &wal->segment_fd, path, &reused, err));
  memcpy(wal->segment_path, path, sizeof path);
  direct_begin_segment(wal);
  wal->stats.segments_created++;
  wal->stats.segments_recycled += reused;
  wal->stats.fsyncs += 2;
  return SL_OK;
}

/* Seals the current segment and starts a new one whose first record is first_sequence. Owner. */
static sl_status rotate(sl_wal *wal, uint64_t first_sequence, bool *sticky, sl_error *err) {
  int old_fd = wal->segment_fd;
  /* A sealed segment ends with its last record: cut what a recycled file held beyond it. */
  if (wal->segment_file_bytes > wal->segment_end_offset) {
    if (ftruncate(old_fd, (off_t)wal->segment_end_offset) != 0) {
      return sl_fileio_errno_error(err, errno, "truncate (seal) WAL segment", wal->segment_path);
    }
    wal->segment_file_bytes = wal->segment_end_offset;
  }
  if (sl_fileio_fdatasync(old_fd, wal->segment_path, err) != SL_OK) {
    *sticky = true;
    return err != NULL ? err->status : SL_ERR_IO;
  }
  int new_fd = -1;
  char new_path[PATH_BYTES];
  bool reused = false;
  sl_status status = create_segment(wal, first_sequence, first_sequence - 1, &new_fd, new_path, &reused, err);
  lock(wal);
  wal->stats.fsyncs += status == SL_OK ? 3 : 1;
  if (status == SL_OK) {
    wal->segment_fd = new_fd;
    memcpy(wal->segment_path, new_path, sizeof new_path);
    wal->synced_sequence = wal->written_sequence;
    wal->stats.segments_created++;
    wal->stats.segments_recycled += reused;
  }
  unlock(wal);
  if (status != SL_OK) {
    return status; /* the sealed segment stays current; nothing was lost */
  }
  close(old_fd);
  direct_begin_segment(wal);
  return SL_OK;
}

static bool reserve_encode_buffer(sl_wal *wal, size_t size_bytes) {
  if (size_bytes <= wal->encode_capacity) {
    return true;
  }
  size_t capacity = wal->encode_capacity == 0 ? 65536 : wal->encode_capacity;
  while (capacity < size_bytes) {
    capacity *= 2;
  }
  uint8_t *grown = realloc(wal->encode_buffer, capacity);
  if (grown == NULL) {
    return false;
  }
  wal->encode_buffer = grown;
  wal->encode_capacity = capacity;
  return true;
}

/* Writes one group (numbered from first_sequence) and syncs it in batch mode. Owner only.
 * The payloads go to the file from the appenders' memory (one pwritev of header, payload and
 * checksum per record): only the 24 framing bytes of each record are encoded here.
 * *sticky is set when the WAL can no longer be trusted. */
static sl_status write_group(sl_wal *wal, wal_request *group, size_t records, size_t group_bytes,
                             uint64_t first_sequence, bool *sticky, sl_error *err) {
  *sticky = false;
  if (wal->segment_record_count > 0 &&
      wal->segment_end_offset + group_bytes > wal->options.segment_size_bytes) {
    int64_t began = sl_monotonic_ns();
    sl_status rotated = rotate(wal, first_sequence, sticky, err);
    wal->timing.rotate_ns += (uint64_t)(sl_monotonic_ns() - began);
    SL_TRY(rotated);
  }
  size_t frame_bytes = records * SL_WAL_RECORD_OVERHEAD_BYTES;
  size_t payload_pieces = 0;
  for (wal_request *request = group; request != NULL; request = request->next) {
    payload_pieces += request->piece_count;
  }
  size_t piece_bytes = (records * 2 + payload_pieces) * sizeof(struct iovec);
  if (!reserve_encode_buffer(wal, frame_bytes + piece_bytes)) {
    return sl_error_set(err, SL_ERR_NOMEM, "WAL %s: out of memory for a %zu-record group",
                        wal->dir, records);
  }
  struct iovec *pieces = (struct iovec *)(void *)wal->encode_buffer; /* realloc'd: max-aligned */
  uint8_t *frames = wal->encode_buffer + piece_bytes;
  size_t count = 0;
  size_t total = 0;
  uint64_t numbered = 0;
  for (wal_request *request = group; request != NULL; request = request->next) {
    assert(request->sequence == first_sequence + numbered);
    uint8_t *header = frames + numbered * SL_WAL_RECORD_OVERHEAD_BYTES;
    uint8_t *checksum = header + RECORD_HEADER_BYTES;
    put_u32(header, (uint32_t)request->size_bytes);
    put_u32(header + 4, 0);
    put_u64(header + 8, request->sequence);
    if (!wal->segment_direct) { /* a direct write hashes the record as it copies it */
      int64_t began = sl_monotonic_ns();
      put_u64(checksum, sl_hash64_gather(header, RECORD_HEADER_BYTES, request->pieces, request->piece_count, 0));
      wal->timing.stage_ns += (uint64_t)(sl_monotonic_ns() - began);
    }
    pieces[count++] = (struct iovec){.iov_base = header, .iov_len = RECORD_HEADER_BYTES};
    for (size_t i = 0; i < request->piece_count; i++) {
      if (request->pieces[i].iov_len > 0) {
        pieces[count++] = request->pieces[i];
      }
    }
    pieces[count++] = (struct iovec){.iov_base = checksum, .iov_len = CHECKSUM_BYTES};
    total += request->size_bytes + SL_WAL_RECORD_OVERHEAD_BYTES;
    numbered++;
  }
  assert(numbered == records && total == group_bytes);
  (void)total;
  sl_status status = SL_OK;
  if (wal->segment_direct) {
    status = direct_write(wal, group, frames, err);
  } else {
    int64_t began = sl_monotonic_ns();
    status = sl_fileio_pwritev_all(wal->segment_fd, pieces, count, wal->segment_end_offset, wal->segment_path, err);
    wal->timing.write_ns += (uint64_t)(sl_monotonic_ns() - began);
  }
  if (status != SL_OK) {
    /* Cut off whatever part of the group reached the file, so later records follow good ones. */
    if (ftruncate(wal->segment_fd, (off_t)wal->segment_end_offset) != 0) {
      *sticky = true;
    }
    wal->segment_file_bytes = wal->segment_end_offset;
    return status;
  }
  bool sync_failed = false;
  if (wal->options.sync_mode == SL_WAL_SYNC_BATCH) {
    int64_t began = sl_monotonic_ns();
    sync_failed = sl_fileio_fdatasync(wal->segment_fd, wal->segment_path, err) != SL_OK;
    wal->timing.sync_ns += (uint64_t)(sl_monotonic_ns() - began);
  }
  if (sync_failed) {
    /* Not acknowledged: take the group out of the file as well (best effort, the WAL is failed). */
    int truncated = ftruncate(wal->segment_fd, (off_t)wal->segment_end_offset);
    (void)truncated;
    wal->segment_file_bytes = wal->segment_end_offset;
    *sticky = true;
    return err != NULL ? err->status : SL_ERR_IO;
  }
  wal->segment_end_offset += group_bytes;
  if (wal->segment_end_offset > wal->segment_file_bytes) {
    wal->segment_file_bytes = wal->segment_end_offset;
  }
  wal->segment_record_count += records;
  return SL_OK;
}

static size_t histogram_bucket(uint64_t records) {
  size_t bucket = 0;
  while (records > 1 && bucket + 1 < SL_WAL_BATCH_HISTOGRAM_BUCKETS) {
    records >>= 1;
    bucket++;
  }
  return bucket;
}

/* With the mutex held: detaches up to MAX_GROUP_BYTES (at least one request) from the queue and
 * numbers them. */
static wal_request *take_group(sl_wal *wal, size_t *records_out, size_t *bytes_out) {
  wal_request *group = wal->queue_head;
  wal_request *last = group;
  size_t records = 0;
  size_t bytes = 0;
  for (wal_request *request = group; request != NULL; request = request->next) {
    size_t record_bytes = request->size_bytes + SL_WAL_RECORD_OVERHEAD_BYTES;
    if (records > 0 && bytes + record_bytes > MAX_GROUP_BYTES) {
      break;
    }
    request->sequence = wal->next_sequence + records;
    bytes += record_bytes;
    records++;
    last = request;
  }
  assert(records > 0);
  if (last == NULL) {
    abort(); /* invariant: a leader is chosen only while the queue holds a request */
  }
  wal->queue_head = last->next;
  if (wal->queue_head == NULL) {
    wal->queue_tail = NULL;
  }
  last->next = NULL;
  wal->next_sequence += records;
  *records_out = records;
  *bytes_out = bytes;
  return group;
}

/* With the mutex held (released during I/O): writes the head of the queue as one group. */
static void lead_group(sl_wal *wal) {
  acquire_io(wal);
  size_t records = 0;
  size_t bytes = 0;
  wal_request *group = take_group(wal, &records, &bytes);
  uint64_t first_sequence = group->sequence;
  sl_error group_error;
  sl_error_clear(&group_error);
  sl_status status = SL_OK;
  bool sticky = false;
  if (wal->failed) {
    group_error = wal->failure;
    status = group_error.status;
  } else {
    unlock(wal);
    int64_t began = sl_monotonic_ns();
    status = write_group(wal, group, records, bytes, first_sequence, &sticky, &group_error);
    wal->timing.group_ns = (uint64_t)(sl_monotonic_ns() - began);
    lock(wal);
    wal->stats.group_ns += wal->timing.group_ns;
    wal->stats.stage_ns += wal->timing.stage_ns;
    wal->stats.write_ns += wal->timing.write_ns;
    wal->stats.sync_ns += wal->timing.sync_ns;
    wal->stats.rotate_ns += wal->timing.rotate_ns;
    memset(&wal->timing, 0, sizeof wal->timing);
  }
  if (status == SL_OK) {
    wal->written_sequence = first_sequence + records - 1;
    if (wal->options.sync_mode == SL_WAL_SYNC_BATCH) {
      wal->synced_sequence = wal->written_sequence;
      wal->stats.fsyncs++;
    }
    wal->stats.records += records;
    wal->stats.bytes_written += bytes;
    wal->stats.payload_bytes += bytes - records * SL_WAL_RECORD_OVERHEAD_BYTES;
    wal->stats.write_calls++;
    wal->stats.direct_write_calls += wal->segment_direct;
    wal->stats.batch_histogram[histogram_bucket(records)]++;
    if (records > wal->stats.batch_records_max) {
      wal->stats.batch_records_max = records;
    }
  } else {
    wal->next_sequence = first_sequence; /* nothing of the group is in the file */
    wal->stats.failed_appends += records;
    if (sticky) {
      fail_sticky(wal, &group_error);
    }
  }
  for (wal_request *request = group; request != NULL;) {
    wal_request *next = request->next;
    request->status = status;
    if (status != SL_OK && request->err != NULL) {
      *request->err = group_error;
    }
    request->done = true; /* after this the request may vanish from its appender's stack */
    request = next;
  }
  release_io(wal);
}

static sl_status check_size(const sl_wal *wal, size_t size_bytes, sl_error *err) {
  if (size_bytes > SL_WAL_MAX_PAYLOAD_BYTES) {
    return sl_error_set(err, SL_ERR_INVALID, "WAL %s: record of %zu bytes over the %d-byte limit",
                        wal->dir, size_bytes, SL_WAL_MAX_PAYLOAD_BYTES);
  }
  return SL_OK;
}

/* With the mutex held: queues request, or refuses it when the WAL has failed. */
static sl_status enqueue(sl_wal *wal, wal_request *request, sl_error *err) {
  if (wal->failed) {
    if (err != NULL) {
      *err = wal->failure;
    }
    wal->stats.failed_appends++;
    return wal->failure.status;
  }
  if (wal->queue_tail == NULL) {
    wal->queue_head = request;
  } else {
    wal->queue_tail->next = request;
  }
  wal->queue_tail = request;
  return SL_OK;
}

/* With the mutex held: until request is written, writes the queue's head whenever the file is free. */
static void wait_done(sl_wal *wal, const wal_request *request) {
  while (!request->done) {
    if (!wal->io_busy) {
      lead_group(wal);
    } else {
      pthread_cond_wait(&wal->changed, &wal->mutex);
    }
  }
}

/* A request for the payload given as pieces (borrowed until it is done). */
static wal_request request_of(const struct iovec *pieces, size_t piece_count, size_t size_bytes, sl_error *err) {
  return (wal_request){.pieces = pieces, .piece_count = piece_count, .size_bytes = size_bytes, .status = SL_OK,
                       .err = err};
}

/* Makes the request's one piece its own copy (the caller's may be on a stack that goes first). */
static void keep_single_piece(wal_request *request, struct iovec piece) {
  request->single = piece;
  request->pieces = &request->single;
  request->piece_count = 1;
}

static size_t pieces_size(const struct iovec *pieces, size_t count) {
  size_t size_bytes = 0;
  for (size_t i = 0; i < count; i++) {
    assert(pieces[i].iov_base != NULL || pieces[i].iov_len == 0);
    size_bytes += pieces[i].iov_len;
  }
  return size_bytes;
}

sl_status sl_wal_append(sl_wal *wal, const void *payload, size_t size_bytes,
                        uint64_t *sequence_out, sl_error *err) {
  assert(wal != NULL);
  assert(payload != NULL || size_bytes == 0);
  SL_TRY(check_size(wal, size_bytes, err));
  wal_request request = request_of(NULL, 0, size_bytes, err);
  keep_single_piece(&request, (struct iovec){.iov_base = (void *)payload, .iov_len = size_bytes});
  lock(wal);
  sl_status status = enqueue(wal, &request, err);
  if (status == SL_OK) {
    wait_done(wal, &request);
    status = request.status;
  }
  unlock(wal);
  if (status == SL_OK && sequence_out != NULL) {
    *sequence_out = request.sequence;
  }
  return status;
}

struct sl_wal_ticket {
  wal_request request; /* first: the queue links requests */
  sl_error error;
};

sl_status sl_wal_submit(sl_wal *wal, const void *payload, size_t size_bytes, sl_wal_ticket **ticket_out,
                        sl_error *err) {
  assert(payload != NULL || size_bytes == 0);
  struct iovec whole = {.iov_base = (void *)payload, .iov_len = size_bytes};
  return sl_wal_submitv(wal, &whole, 1, ticket_out, err);
}

sl_status sl_wal_submitv(sl_wal *wal, const struct iovec *pieces, size_t piece_count, sl_wal_ticket **ticket_out,
                         sl_error *err) {
  assert(wal != NULL && ticket_out != NULL && (pieces != NULL || piece_count == 0));
  *ticket_out = NULL;
  size_t size_bytes = pieces_size(pieces, piece_count);
  SL_TRY(check_size(wal, size_bytes, err));
  sl_wal_ticket *ticket = calloc(1, sizeof *ticket);
  if (ticket == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "WAL %s: out of memory", wal->dir);
  }
  sl_error_clear(&ticket->error);
  ticket->request = request_of(pieces, piece_count, size_bytes, &ticket->error);
  if (piece_count == 1) {
    keep_single_piece(&ticket->request, pieces[0]); /* sl_wal_submit's is on its caller's stack */
  }
  lock(wal);
  sl_status status = enqueue(wal, &ticket->request, err);
  if (status == SL_OK) {
    pthread_cond_signal(&wal->work);
  }
  unlock(wal);
  if (status != SL_OK) {
    free(ticket);
    return status;
  }
  *ticket_out = ticket;
  return SL_OK;
}

sl_status sl_wal_wait(sl_wal *wal, sl_wal_ticket *ticket, uint64_t *sequence_out, sl_error *err) {
  assert(wal != NULL && ticket != NULL);
  lock(wal);
  wait_done(wal, &ticket->request); /* leads if the writer thread has not taken it yet */
  unlock(wal);
  sl_status status = ticket->request.status;
  if (status == SL_OK && sequence_out != NULL) {
    *sequence_out = ticket->request.sequence;
  }
  if (status != SL_OK && err != NULL) {
    *err = ticket->error;
  }
  free(ticket);
  return status;
}

/* Writes queued records while their submitters go on (sl_wal_submit); appenders that find the
 * file free write their own group without waiting for this thread. */
static void *writer_main(void *argument) {
  pthread_setname_np(pthread_self(), "wal-write");
  sl_wal *wal = argument;
  lock(wal);
  while (!wal->stopping) {
    if (wal->queue_head != NULL && !wal->io_busy) {
      lead_group(wal);
    } else {
      pthread_cond_wait(&wal->work, &wal->mutex);
    }
  }
  unlock(wal);
  return NULL;
}

sl_status sl_wal_sync(sl_wal *wal, sl_error *err) {
  assert(wal != NULL);
  lock(wal);
  acquire_io(wal);
  sl_status status = SL_OK;
  if (wal->failed) {
    status = wal->failure.status;
    if (err != NULL) {
      *err = wal->failure;
    }
  } else if (wal->synced_sequence != wal->written_sequence) {
    uint64_t target = wal->written_sequence;
    unlock(wal);
    sl_error sync_error;
    sl_error_clear(&sync_error);
    status = sl_fileio_fdatasync(wal->segment_fd, wal->segment_path, &sync_error);
    lock(wal);
    wal->stats.fsyncs++;
    if (status == SL_OK) {
      wal->synced_sequence = target > wal->synced_sequence ? target : wal->synced_sequence;
    } else {
      fail_sticky(wal, &sync_error);
      if (err != NULL) {
        *err = sync_error;
      }
    }
  }
  release_io(wal);
  unlock(wal);
  return status;
}

sl_status sl_wal_truncate_before(sl_wal *wal, uint64_t first_needed_sequence, sl_error *err) {
  assert(wal != NULL);
  lock(wal);
  acquire_io(wal);
  unlock(wal);
  segment_list *list = &wal->segments;
  size_t deleted = 0;
  sl_status status = SL_OK;
  char path[PATH_BYTES];
  /* Segment i holds sequences below first_sequences[i + 1]; the current one is never deleted.
   * Up to recycle_segments of them are renamed into the pool instead, for rotation to overwrite. */
  while (deleted + 1 < list->count && list->first_sequences[deleted + 1] <= first_needed_sequence) {
    uint64_t id = list->first_sequences[deleted];
    segment_path(wal->dir, id, path, sizeof path);
    if (wal->pool.count < wal->options.recycle_segments) {
      char pooled[PATH_BYTES];
      pool_path(wal->dir, id, pooled, sizeof pooled);
      if (rename(path, pooled) != 0) {
        status = sl_fileio_errno_error(err, errno, "recycle WAL segment", path);
        break;
      }
      if (!segment_list_push(&wal->pool, id)) {
        unlink(pooled);
      }
    } else if (unlink(path) != 0 && errno != ENOENT) {
      status = sl_fileio_errno_error(err, errno, "remove WAL segment", path);
      break;
    }
    deleted++;
  }
  if (deleted > 0) {
    memmove(list->first_sequences, list->first_sequences + deleted,
            (list->count - deleted) * sizeof *list->first_sequences);
    list->count -= deleted;
    sl_status sync_status = sl_fileio_fsync_dir(wal->dir, status == SL_OK ? err : NULL);
    status = status == SL_OK ? sync_status : status;
  }
  lock(wal);
  wal->stats.segments_deleted += deleted;
  wal->stats.fsyncs += deleted > 0;
  release_io(wal);
  unlock(wal);
  return status;
}

/* Owner only: deletes the pool's files, then fsyncs the directory when one went. */
static sl_status remove_pool(sl_wal *wal, sl_error *err) {
  sl_status status = SL_OK;
  char pooled[PATH_BYTES];
  size_t removed = 0;
  while (wal->pool.count > 0) {
    pool_path(wal->dir, wal->pool.first_sequences[wal->pool.count - 1], pooled, sizeof pooled);
    if (unlink(pooled) != 0 && errno != ENOENT) {
      status = sl_fileio_errno_error(err, errno, "remove recycled WAL segment", pooled);
      break;
    }
    wal->pool.count--;
    removed++;
  }
  if (removed > 0) {
    sl_status synced = sl_fileio_fsync_dir(wal->dir, status == SL_OK ? err : NULL);
    status = status == SL_OK ? synced : status;
  }
  return status;
}

/* The remover thread: deletes the files sl_wal_release_recycled gave up, a round at a time (every
 * file given so far, then one fsync of the directory), until stop finds nothing left to delete. */
static void *remover_main(void *argument) {
  pthread_setname_np(pthread_self(), "wal-remove");
  sl_wal *wal = argument;
  segment_list round = {0};
  lock(wal);
  for (;;) {
    while (wal->doomed.count == 0 && !wal->stopping) {
      pthread_cond_wait(&wal->removal, &wal->mutex);
    }
    if (wal->doomed.count == 0) {
      break;
    }
    segment_list taken = round;
    round = wal->doomed;
    wal->doomed = taken;
    wal->doomed.count = 0;
    wal->remover_busy = true;
    unlock(wal);
    sl_status status = SL_OK;
    sl_error error;
    sl_error_clear(&error);
    size_t removed = 0;
    char pooled[PATH_BYTES];
    for (size_t i = 0; i < round.count; i++) {
      pool_path(wal->dir, round.first_sequences[i], pooled, sizeof pooled);
      if (unlink(pooled) == 0 || errno == ENOENT) {
        removed++;
      } else if (status == SL_OK) {
        status = sl_fileio_errno_error(&error, errno, "remove recycled WAL segment", pooled);
      }
    }
    /* A file left behind is only a warning: it holds no record, and the next open takes it into
     * its pool or deletes it. A failed fsync of the directory is not: the directory's state on disk
     * is then unknown, segments created in it since included, so the WAL refuses appends from then
     * on, as for every other failed sync (docs/FORMAT.md "Recycled segments"). */
    sl_status synced = SL_OK;
    sl_error sync_error;
    sl_error_clear(&sync_error);
    if (removed > 0) {
      synced = sl_fileio_fsync_dir(wal->dir, &sync_error);
    }
    lock(wal);
    wal->stats.segments_deleted += removed;
    wal->stats.fsyncs += removed > 0;
    if (synced != SL_OK) {
      fail_sticky(wal, &sync_error);
      if (status == SL_OK) {
        status = synced;
        error = sync_error;
      }
    }
    if (status != SL_OK && wal->removal_status == SL_OK) {
      sl_error_prefix(&error, "WAL %s: deleting the recycled segments it gave up", wal->dir);
      size_t used = strlen(error.message);
      snprintf(error.message + used, sizeof error.message - used, "%s",
               synced != SL_OK ? " (no record written so far is affected; the WAL refuses appends from now on)"
                               : " (no record is affected: the next open reuses what is left as recycled"
                                 " segments, up to its pool's limit, and deletes the rest)");
      wal->removal_status = status;
      wal->removal_error = error;
    }
    wal->remover_busy = false;
    pthread_cond_broadcast(&wal->removal);
  }
  unlock(wal);
  segment_list_free(&round);
  return NULL;
}

/* With the mutex held and the file owned: moves the pool's files to the remover, starting it the
 * first time. Without memory or a thread for that it deletes them itself (false: not handed over). */
static bool hand_pool_to_remover(sl_wal *wal) {
  if (!wal->remover_started) {
    if (pthread_create(&wal->remover_thread, NULL, remover_main, wal) != 0) {
      return false;
    }
    wal->remover_started = true;
  }
  size_t moved = 0;
  while (moved < wal->pool.count && segment_list_push(&wal->doomed, wal->pool.first_sequences[moved])) {
    moved++;
  }
  memmove(wal->pool.first_sequences, wal->pool.first_sequences + moved,
          (wal->pool.count - moved) * sizeof *wal->pool.first_sequences);
  wal->pool.count -= moved;
  pthread_cond_broadcast(&wal->removal);
  return wal->pool.count == 0;
}

sl_status sl_wal_release_recycled(sl_wal *wal, sl_error *err) {
  assert(wal != NULL);
  lock(wal);
  acquire_io(wal);
  sl_status status = SL_OK;
  if (wal->pool.count > 0 && !hand_pool_to_remover(wal)) {
    unlock(wal);
    size_t before = wal->pool.count;
    status = remove_pool(wal, err);
    lock(wal);
    wal->stats.segments_deleted += before - wal->pool.count;
    wal->stats.fsyncs += before > wal->pool.count;
  }
  release_io(wal);
  unlock(wal);
  return status;
}

/* With the mutex held. */
static void wait_for_remover(sl_wal *wal) {
  while (wal->doomed.count > 0 || wal->remover_busy) {
    pthread_cond_wait(&wal->removal, &wal->mutex);
  }
}

void sl_wal_await_removals(sl_wal *wal) {
  assert(wal != NULL);
  lock(wal);
  wait_for_remover(wal);
  unlock(wal);
}

sl_status sl_wal_settle(sl_wal *wal, sl_error *err) {
  assert(wal != NULL);
  lock(wal);
  wait_for_remover(wal);
  sl_status status = wal->removal_status;
  if (status != SL_OK && err != NULL) {
    *err = wal->removal_error;
  }
  wal->removal_status = SL_OK;
  unlock(wal);
  return status;
}

sl_status sl_wal_rotate(sl_wal *wal, sl_error *err) {
  assert(wal != NULL);
  lock(wal);
  if (wal->failed) {
    if (err != NULL) {
      *err = wal->failure;
    }
    unlock(wal);
    return wal->failure.status != SL_OK ? wal->failure.status : SL_ERR_IO;
  }
  acquire_io(wal);
  unlock(wal);
  bool sticky = false;
  sl_status status = wal->segment_record_count > 0 ? rotate(wal, wal->written_sequence + 1, &sticky, err) : SL_OK;
  lock(wal);
  if (sticky) {
    fail_sticky(wal, err);
  }
  release_io(wal);
  unlock(wal);
  return status;
}

uint64_t sl_wal_last_sequence(sl_wal *wal) {
  assert(wal != NULL);
  lock(wal);
  uint64_t sequence = wal->written_sequence;
  unlock(wal);
  return sequence;
}

void sl_wal_stats_get(sl_wal *wal, sl_wal_stats *stats_out) {
  assert(wal != NULL && stats_out != NULL);
  lock(wal);
  *stats_out = wal->stats;
  unlock(wal);
}

/* ---- Interval mode: background fdatasync ---- */

static void deadline_after_ms(struct timespec *deadline, uint32_t interval_ms) {
  clock_gettime(CLOCK_MONOTONIC, deadline);
  deadline->tv_sec += interval_ms / 1000;
  deadline->tv_nsec += (long)(interval_ms % 1000) * 1000000L;
  if (deadline->tv_nsec >= 1000000000L) {
    deadline->tv_sec++;
    deadline->tv_nsec -= 1000000000L;
  }
}

/* With the mutex held: one background fdatasync of the current segment if anything is unsynced.
 * Works on a duplicate descriptor so that appenders are not blocked while it runs. */
static void interval_sync_once(sl_wal *wal) {
  if (wal->failed || wal->synced_sequence == wal->written_sequence) {
    return;
  }
  uint64_t target = wal->written_sequence;
  int fd = dup(wal->segment_fd);
  char path[PATH_BYTES];
  memcpy(path, wal->segment_path, sizeof path);
  unlock(wal);
  sl_error sync_error;
  sl_error_clear(&sync_error);
  sl_status status = fd < 0 ? sl_fileio_errno_error(&sync_error, errno, "dup", path)
                            : sl_fileio_fdatasync(fd, path, &sync_error);
  if (fd >= 0) {
    close(fd);
  }
  lock(wal);
  wal->stats.fsyncs++;
  if (status == SL_OK) {
    wal->synced_sequence = target > wal->synced_sequence ? target : wal->synced_sequence;
  } else {
    fail_sticky(wal, &sync_error);
  }
}

static void *interval_main(void *argument) {
  pthread_setname_np(pthread_self(), "wal-sync");
  sl_wal *wal = argument;
  lock(wal);
  while (!wal->stopping) {
    struct timespec deadline;
    deadline_after_ms(&deadline, wal->options.interval_ms);
    while (!wal->stopping &&
           pthread_cond_timedwait(&wal->interval_wake, &wal->mutex, &deadline) != ETIMEDOUT) {
    }
    if (!wal->stopping) {
      interval_sync_once(wal);
    }
  }
  unlock(wal);
  return NULL;
}

/* ---- Open and close ---- */

static sl_status init_sync_objects(sl_wal *wal, sl_error *err) {
  pthread_condattr_t attributes;
  if (pthread_condattr_init(&attributes) != 0 ||
      pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC) != 0) {
    return sl_error_set(err, SL_ERR_INTERNAL, "WAL %s: cannot set up a condition clock", wal->dir);
  }
  int failures = pthread_mutex_init(&wal->mutex, NULL) != 0;
  failures += pthread_cond_init(&wal->changed, NULL) != 0;
  failures += pthread_cond_init(&wal->interval_wake, &attributes) != 0;
  failures += pthread_cond_init(&wal->work, NULL) != 0;
  failures += pthread_cond_init(&wal->removal, NULL) != 0;
  failures += pthread_mutex_init(&wal->chunks.mutex, NULL) != 0;
  failures += pthread_cond_init(&wal->chunks.changed, NULL) != 0;
  wal->chunks.status = SL_OK;
  pthread_condattr_destroy(&attributes);
  if (failures != 0) {
    return sl_error_set(err, SL_ERR_INTERNAL, "WAL %s: cannot create locks", wal->dir);
  }
  return SL_OK;
}

/* Continues the last segment after its intact records (truncating a torn tail). */
static sl_status continue_segment(sl_wal *wal, const char *path, const sl_wal_segment_info *info,
                                  sl_error *err) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return sl_fileio_errno_error(err, errno, "open WAL segment", path);
  }
  if (info->torn_tail) {
    sl_status status = SL_OK;
    if (ftruncate(fd, (off_t)info->valid_end_offset) != 0) {
      status = sl_fileio_errno_error(err, errno, "truncate torn tail of", path);
    } else {
      status = sl_fileio_fdatasync(fd, path, err);
    }
    if (status != SL_OK) {
      close(fd);
      return status;
    }
  }
  struct stat file;
  if (fstat(fd, &file) != 0) {
    sl_status status = sl_fileio_errno_error(err, errno, "stat WAL segment", path);
    close(fd);
    return status;
  }
  snprintf(wal->segment_path, sizeof wal->segment_path, "%s", path);
  wal->segment_fd = fd;
  wal->segment_end_offset = info->valid_end_offset;
  wal->segment_file_bytes = (uint64_t)file.st_size > info->valid_end_offset ? (uint64_t)file.st_size
                                                                            : info->valid_end_offset;
  wal->segment_record_count = info->record_count;
  direct_begin_segment(wal);
  return SL_OK;
}

/* Finds where appends go: the last segment with a valid header, after removing last segments
 * whose header was torn. Sets the descriptor, the next sequence and the segment list. */
static sl_status recover_tail(sl_wal *wal, sl_error *err) {
  SL_TRY(list_segments(wal->dir, &wal->segments, err));
  /* Recycled segments left by a crash: reused up to the limit, the rest deleted. */
  SL_TRY(list_numbered(wal->dir, "free", &wal->pool, err));
  while (wal->pool.count > wal->options.recycle_segments) {
    char pooled[PATH_BYTES];
    pool_path(wal->dir, wal->pool.first_sequences[--wal->pool.count], pooled, sizeof pooled);
    SL_TRY(sl_fileio_remove_durable(pooled, err));
  }
  uint64_t floor_sequence = wal->options.min_next_sequence > 0 ? wal->options.min_next_sequence : 1;
  char path[PATH_BYTES];
  while (wal->segments.count > 0) {
    uint64_t name_sequence = wal->segments.first_sequences[wal->segments.count - 1];
    segment_path(wal->dir, name_sequence, path, sizeof path);
    sl_wal_segment_info info;
    SL_TRY(read_segment(path, name_sequence, true, UINT64_MAX, NULL, NULL, &info, NULL, err));
    if (!info.header_valid) {
      /* Created but its header never became durable: it holds nothing acknowledged. */
      SL_TRY(sl_fileio_remove_durable(path, err));
      wal->segments.count--;
      floor_sequence = name_sequence > floor_sequence ? name_sequence : floor_sequence;
      continue;
    }
    uint64_t next_sequence = info.last_sequence + 1;
    wal->written_sequence = info.last_sequence;
    wal->synced_sequence = info.last_sequence;
    if (next_sequence >= floor_sequence) {
      wal->next_sequence = next_sequence;
      return continue_segment(wal, path, &info, err);
    }
    /* The caller's snapshot covers more than the WAL holds: start a segment at the floor. */
    uint64_t previous_sequence = info.last_sequence;
    if (info.record_count == 0) {
      SL_TRY(sl_fileio_remove_durable(path, err));
      wal->segments.count--;
      previous_sequence = info.previous_sequence;
    }
    wal->next_sequence = floor_sequence;
    wal->written_sequence = floor_sequence - 1;
    wal->synced_sequence = floor_sequence - 1;
    return start_segment(wal, floor_sequence, previous_sequence, err);
  }
  wal->next_sequence = floor_sequence;
  wal->written_sequence = floor_sequence - 1;
  wal->synced_sequence = floor_sequence - 1;
  return start_segment(wal, floor_sequence, floor_sequence - 1, err);
}

static void free_wal(sl_wal *wal) {
  if (wal->segment_fd >= 0) {
    close(wal->segment_fd);
  }
  pthread_cond_destroy(&wal->interval_wake);
  pthread_cond_destroy(&wal->work);
  pthread_cond_destroy(&wal->changed);
  pthread_cond_destroy(&wal->removal);
  pthread_mutex_destroy(&wal->mutex);
  pthread_cond_destroy(&wal->chunks.changed);
  pthread_mutex_destroy(&wal->chunks.mutex);
  segment_list_free(&wal->segments);
  segment_list_free(&wal->pool);
  segment_list_free(&wal->doomed);
  free(wal->encode_buffer);
  free(wal->direct_chunk);
  free(wal->direct_tail);
  free(wal);
}

static void stop_threads(sl_wal *wal) {
  lock(wal);
  wal->stopping = true;
  pthread_cond_broadcast(&wal->interval_wake);
  pthread_cond_broadcast(&wal->work);
  pthread_cond_broadcast(&wal->removal);
  unlock(wal);
  if (wal->remover_started) { /* it deletes what it was given before it stops */
    pthread_join(wal->remover_thread, NULL);
    wal->remover_started = false;
  }
  if (wal->interval_thread_started) {
    pthread_join(wal->interval_thread, NULL);
    wal->interval_thread_started = false;
  }
  if (wal->writer_thread_started) {
    pthread_join(wal->writer_thread, NULL);
    wal->writer_thread_started = false;
  }
  stop_chunk_writer(wal); /* after the last leader: nothing is pending */
}

sl_status sl_wal_open(const char *dir, const sl_wal_options *options, sl_wal **wal_out,
                      sl_error *err) {
  assert(dir != NULL && wal_out != NULL);
  *wal_out = NULL;
  if (strlen(dir) + SEGMENT_NAME_LENGTH + 8 >= PATH_BYTES) {
    return sl_error_set(err, SL_ERR_INVALID, "WAL directory path too long: %s", dir);
  }
  sl_wal_options chosen;
  sl_wal_options_default(&chosen);
  if (options != NULL) {
    chosen = *options;
  }
  SL_TRY(check_options(&chosen, err));
  SL_TRY(sl_fileio_ensure_dir(dir, err));
  sl_wal *wal = calloc(1, sizeof *wal);
  if (wal == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "WAL %s: out of memory", dir);
  }
  snprintf(wal->dir, sizeof wal->dir, "%s", dir);
  wal->options = chosen;
  wal->segment_fd = -1;
  sl_status status = init_sync_objects(wal, err);
  if (status != SL_OK) {
    free(wal);
    return status;
  }
  status = recover_tail(wal, err);
  if (status == SL_OK && chosen.sync_mode == SL_WAL_SYNC_INTERVAL) {
    if (pthread_create(&wal->interval_thread, NULL, interval_main, wal) != 0) {
      status = sl_error_set(err, SL_ERR_INTERNAL, "WAL %s: cannot start the sync thread", dir);
    } else {
      wal->interval_thread_started = true;
    }
  }
  if (status == SL_OK) {
    if (pthread_create(&wal->writer_thread, NULL, writer_main, wal) != 0) {
      status = sl_error_set(err, SL_ERR_INTERNAL, "WAL %s: cannot start the writer thread", dir);
    } else {
      wal->writer_thread_started = true;
    }
  }
  if (status != SL_OK) {
    stop_threads(wal);
    free_wal(wal);
    return status;
  }
  assert(wal->segment_fd >= 0);
  assert(wal->next_sequence == wal->written_sequence + 1);
  *wal_out = wal;
  return SL_OK;
}

sl_status sl_wal_close(sl_wal *wal, sl_error *err) {
  if (wal == NULL) {
    return SL_OK;
  }
  stop_threads(wal);
  sl_status status = SL_OK;
  lock(wal);
  assert(wal->queue_head == NULL);
  acquire_io(wal);
  if (wal->failed) {
    status = wal->failure.status;
    if (err != NULL) {
      *err = wal->failure;
    }
  } else {
    /* The zeros a direct write left after the last record go (not synced: if the cut is lost in a
     * crash they read as a torn tail at the next open, and are cut then). */
    if (wal->segment_direct && wal->segment_file_bytes > wal->segment_end_offset &&
        ftruncate(wal->segment_fd, (off_t)wal->segment_end_offset) == 0) {
      wal->segment_file_bytes = wal->segment_end_offset;
    }
    if (wal->synced_sequence != wal->written_sequence) {
      status = sl_fileio_fdatasync(wal->segment_fd, wal->segment_path, err);
    }
  }
  /* A closed WAL keeps no recycled segment: the store's disk holds its data only (stop_threads
   * waited for the remover). A released file the remover could not delete holds no record
   * anyone needs, so it does not fail the close, whose errors are about records; it is said. */
  if (wal->removal_status != SL_OK) {
    fprintf(stderr, "spanlab: %s\n", wal->removal_error.message);
  }
  sl_status removed = remove_pool(wal, status == SL_OK ? err : NULL);
  status = status == SL_OK ? removed : status;
  release_io(wal);
  unlock(wal);
  free_wal(wal);
  return status;
}
