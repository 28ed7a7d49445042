/* fileio.c: see fileio.h. */
#include "storage/fileio.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

enum { PATH_BYTES = 4096, READ_CHUNK_BYTES = 1 << 20 };

static const sl_fileio_hooks real_hooks = {pwrite, fsync, fdatasync};
static sl_fileio_hooks active_hooks = {pwrite, fsync, fdatasync};

void sl_fileio_set_hooks(const sl_fileio_hooks *hooks) {
  if (hooks == NULL) {
    active_hooks = real_hooks;
    return;
  }
  active_hooks.pwrite_fn = hooks->pwrite_fn != NULL ? hooks->pwrite_fn : real_hooks.pwrite_fn;
  active_hooks.fsync_fn = hooks->fsync_fn != NULL ? hooks->fsync_fn : real_hooks.fsync_fn;
  active_hooks.fdatasync_fn =
      hooks->fdatasync_fn != NULL ? hooks->fdatasync_fn : real_hooks.fdatasync_fn;
}

static sl_status status_of_errno(int error_number) {
  if (error_number == ENOSPC || error_number == EDQUOT) {
    return SL_ERR_NOSPACE;
  }
  return error_number == ENOENT ? SL_ERR_NOT_FOUND : SL_ERR_IO;
}

sl_status sl_fileio_errno_error(sl_error *err, int error_number, const char *operation,
                                const char *path) {
  assert(operation != NULL);
  assert(path != NULL);
  return sl_error_set(err, status_of_errno(error_number), "%s %s: %s", operation, path,
                      strerror(error_number));
}

/* A failed write at offset: errno error_number, or 0 when the system wrote nothing. */
static sl_status write_error(sl_error *err, int error_number, const char *path, uint64_t offset) {
  if (error_number == 0) {
    return sl_error_set(err, SL_ERR_IO, "write %s: at offset %llu: the system wrote 0 bytes", path,
                        (unsigned long long)offset);
  }
  return sl_error_set(err, status_of_errno(error_number), "write %s at offset %llu: %s", path,
                      (unsigned long long)offset, strerror(error_number));
}

sl_status sl_fileio_pwrite_all(int fd, const void *data, size_t size_bytes, uint64_t offset,
                               const char *path, sl_error *err) {
  bool direct = false; /* EINVAL is an error, not a reason to retry */
  return sl_fileio_pwrite_all_direct(fd, data, size_bytes, offset, &direct, path, err);
}

sl_fileio_direct sl_fileio_direct_support(int fd, size_t align_bytes) {
  assert(align_bytes > 0);
#ifdef STATX_DIOALIGN
  struct statx info;
  if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &info) == 0 && (info.stx_mask & STATX_DIOALIGN) != 0) {
    bool fits = info.stx_dio_offset_align != 0 && info.stx_dio_mem_align != 0 &&
                align_bytes % info.stx_dio_offset_align == 0 && align_bytes % info.stx_dio_mem_align == 0;
    return fits ? SL_FILEIO_DIRECT_YES : SL_FILEIO_DIRECT_NO;
  }
#else
  (void)fd;
#endif
  return SL_FILEIO_DIRECT_UNKNOWN;
}

bool sl_fileio_set_direct(int fd, bool on) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) {
    return false;
  }
  int wanted = on ? (flags | O_DIRECT) : (flags & ~O_DIRECT);
  return wanted == flags || fcntl(fd, F_SETFL, wanted) == 0;
}

sl_status sl_fileio_pwrite_all_direct(int fd, const void *data, size_t size_bytes, uint64_t offset, bool *direct,
                                      const char *path, sl_error *err) {
  assert(fd >= 0 && direct != NULL);
  assert(data != NULL || size_bytes == 0);
  const uint8_t *bytes = data;
  size_t written_bytes = 0;
  while (written_bytes < size_bytes) {
    uint64_t at_offset = offset + written_bytes;
    ssize_t result = active_hooks.pwrite_fn(fd, bytes + written_bytes, size_bytes - written_bytes,
                                            (off_t)at_offset);
    if (result < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EINVAL && *direct && sl_fileio_set_direct(fd, false)) {
        *direct = false;
        continue;
      }
      return write_error(err, errno, path, at_offset);
    }
    if (result == 0) {
      return write_error(err, 0, path, at_offset);
    }
    written_bytes += (size_t)result;
  }
  return SL_OK;
}

sl_status sl_fileio_pwritev_all(int fd, const struct iovec *pieces, size_t count, uint64_t offset,
                                const char *path, sl_error *err) {
  assert(fd >= 0 && (pieces != NULL || count == 0));
  if (active_hooks.pwrite_fn != real_hooks.pwrite_fn) {
    for (size_t i = 0; i < count; i++) {
      SL_TRY(sl_fileio_pwrite_all(fd, pieces[i].iov_base, pieces[i].iov_len, offset, path, err));
      offset += pieces[i].iov_len;
    }
    return SL_OK;
  }
  enum { BATCH = 64 };
  size_t next = 0;      /* first piece not wholly written */
  size_t skipped = 0;   /* bytes of pieces[next] already written */
  while (next < count) {
    struct iovec batch[BATCH];
    int used = 0;
    for (size_t i = next; i < count && used < BATCH; i++, used++) {
      batch[used] = pieces[i];
    }
    batch[0].iov_base = (char *)batch[0].iov_base + skipped;
    batch[0].iov_len -= skipped;
    ssize_t result = pwritev(fd, batch, used, (off_t)offset);
    if (result < 0) {
      if (errno == EINTR) {
        continue;
      }
      return write_error(err, errno, path, offset);
    }
    if (result == 0) {
      return write_error(err, 0, path, offset);
    }
    offset += (uint64_t)result;
    size_t left = (size_t)result;
    while (next < count && left >= pieces[next].iov_len - skipped) {
      left -= pieces[next].iov_len - skipped;
      skipped = 0;
      next++;
    }
    skipped += left;
  }
  return SL_OK;
}

sl_status sl_fileio_fsync(int fd, const char *path, sl_error *err) {
  assert(fd >= 0);
  if (active_hooks.fsync_fn(fd) != 0) {
    return sl_fileio_errno_error(err, errno, "fsync", path);
  }
  return SL_OK;
}

/* The files of one sl_fileio_fsync_all, shared by its caller and the pool's workers. A worker
 * claims a file (next) only under pool.lock while the batch is queued, and the caller returns only
 * once every claimed file is finished, so a batch on the caller's stack outlives every use. */
typedef struct fsync_batch {
  const int *fds;
  size_t count;
  atomic_size_t next;
  size_t finished;        /* under pool.lock */
  int *errors;            /* errno per file, 0 when its fsync succeeded */
  bool queued;            /* under pool.lock: in the pool's list */
  struct fsync_batch *later;
} fsync_batch;

/* The process's fsync workers (SL_FILEIO_FSYNC_THREADS - 1, started by the first batch): creating
 * and joining a thread cost 140-160 us on these VMs, and a load's part flushes made ~860 of them
 * (docs/FORMAT.md "Part names and merges"). A forked child has none of its parent's workers: the
 * fork handlers hold the lock across fork() and the child starts afresh. */
static struct {
  pthread_mutex_t lock;
  pthread_cond_t work;     /* a batch was queued */
  pthread_cond_t finished; /* a file of some batch finished */
  fsync_batch *first;      /* queued batches, oldest first */
  fsync_batch *last;
  size_t workers;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0};

static pthread_once_t pool_fork_handlers = PTHREAD_ONCE_INIT;

static void pool_before_fork(void) { pthread_mutex_lock(&pool.lock); }
static void pool_after_fork_parent(void) { pthread_mutex_unlock(&pool.lock); }
static void pool_after_fork_child(void) {
  /* Only the forking thread lives on: no worker, and a queued batch is the parent's. The parent's
   * workers were waiting on the condition variables, which the child inherits with waiters that do
   * not exist there (its next broadcast waited for them): every synchronisation object starts
   * afresh, the lock too, which the child holds from pool_before_fork. */
  pool.first = pool.last = NULL;
  pool.workers = 0;
  pthread_mutex_init(&pool.lock, NULL);
  pthread_cond_init(&pool.work, NULL);
  pthread_cond_init(&pool.finished, NULL);
}
static void install_fork_handlers(void) {
  (void)pthread_atfork(pool_before_fork, pool_after_fork_parent, pool_after_fork_child);
}

/* Under pool.lock. */
static void dequeue(fsync_batch *batch) {
  if (!batch->queued) {
    return;
  }
  fsync_batch **link = &pool.first;
  fsync_batch *previous = NULL;
  while (*link != batch) {
    previous = *link;
    link = &(*link)->later;
  }
  *link = batch->later;
  if (pool.last == batch) {
    pool.last = previous;
  }
  batch->queued = false;
}

/* Under pool.lock: fsyncs file i of batch with the lock released, then counts it. */
static void sync_claimed(fsync_batch *batch, size_t i) {
  pthread_mutex_unlock(&pool.lock);
  int error = active_hooks.fsync_fn(batch->fds[i]) != 0 ? (errno != 0 ? errno : EIO) : 0;
  pthread_mutex_lock(&pool.lock);
  batch->errors[i] = error;
  batch->finished++;
  if (batch->finished == batch->count) {
    pthread_cond_broadcast(&pool.finished);
  }
}

static void *fsync_worker(void *unused) {
  (void)unused;
  pthread_setname_np(pthread_self(), "fsync");
  pthread_mutex_lock(&pool.lock);
  for (;;) {
    while (pool.first == NULL) {
      pthread_cond_wait(&pool.work, &pool.lock);
    }
    fsync_batch *batch = pool.first;
    size_t i = atomic_fetch_add(&batch->next, 1);
    if (i >= batch->count) {
      dequeue(batch); /* every file claimed: the caller waits for those still running */
      continue;
    }
    sync_claimed(batch, i);
  }
  return NULL;
}

/* Under pool.lock: starts the workers a batch can use, as far as threads can be made. */
static void start_workers(size_t wanted) {
  while (pool.workers < wanted) {
    pthread_attr_t attributes;
    pthread_t thread;
    bool started = pthread_attr_init(&attributes) == 0;
    started = started && pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED) == 0 &&
              pthread_create(&thread, &attributes, fsync_worker, NULL) == 0;
    pthread_attr_destroy(&attributes);
    if (!started) {
      return; /* the caller and the workers there are sync every file */
    }
    /* Named here as well as by the worker itself, so that it has its name once this returns. */
    pthread_setname_np(thread, "fsync");
    pool.workers++;
  }
}

sl_status sl_fileio_fsync_all(const int *fds, const char *const *paths, size_t count, sl_error *err) {
  assert(count == 0 || (fds != NULL && paths != NULL));
  if (count <= 1) {
    return count == 1 ? sl_fileio_fsync(fds[0], paths[0], err) : SL_OK;
  }
  int *errors = calloc(count, sizeof *errors);
  if (errors == NULL) { /* no memory for the batch: one after another, every file still fsynced */
    sl_status status = SL_OK;
    for (size_t i = 0; i < count; i++) {
      sl_status synced = sl_fileio_fsync(fds[i], paths[i], status == SL_OK ? err : NULL);
      status = status == SL_OK ? synced : status;
    }
    return status;
  }
  pthread_once(&pool_fork_handlers, install_fork_handlers);
  fsync_batch batch = {.fds = fds, .count = count, .errors = errors, .queued = true};
  atomic_init(&batch.next, 0);
  pthread_mutex_lock(&pool.lock);
  start_workers(SL_FILEIO_FSYNC_THREADS - 1);
  if (pool.last != NULL) {
    pool.last->later = &batch;
  } else {
    pool.first = &batch;
  }
  pool.last = &batch;
  pthread_cond_broadcast(&pool.work);
  /* The caller syncs files too: with no worker (none could start) it syncs them all. */
  for (size_t i = atomic_fetch_add(&batch.next, 1); i < count; i = atomic_fetch_add(&batch.next, 1)) {
    sync_claimed(&batch, i);
  }
  dequeue(&batch);
  while (batch.finished < count) {
    pthread_cond_wait(&pool.finished, &pool.lock);
  }
  pthread_mutex_unlock(&pool.lock);
  sl_status status = SL_OK;
  for (size_t i = 0; i < count && status == SL_OK; i++) {
    if (errors[i] != 0) {
      status = sl_fileio_errno_error(err, errors[i], "fsync", paths[i]);
    }
  }
  free(errors);
  return status;
}

sl_status sl_fileio_fdatasync(int fd, const char *path, sl_error *err) {
  assert(fd >= 0);
  if (active_hooks.fdatasync_fn(fd) != 0) {
    return sl_fileio_errno_error(err, errno, "fdatasync", path);
  }
  return SL_OK;
}

sl_status sl_fileio_fsync_dir(const char *dir_path, sl_error *err) {
  assert(dir_path != NULL);
  int fd = open(dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return sl_fileio_errno_error(err, errno, "open directory", dir_path);
  }
  sl_status status = sl_fileio_fsync(fd, dir_path, err);
  close(fd);
  return status;
}

void sl_fileio_parent_dir(const char *path, char *out, size_t out_bytes) {
  assert(path != NULL);
  assert(out != NULL && out_bytes >= 2);
  const char *slash = strrchr(path, '/');
  if (slash == NULL) {
    snprintf(out, out_bytes, ".");
    return;
  }
  size_t length = (size_t)(slash - path);
  if (length == 0) {
    snprintf(out, out_bytes, "/");
    return;
  }
  if (length >= out_bytes) {
    length = out_bytes - 1;
  }
  memcpy(out, path, length);
  out[length] = '\0';
}

sl_status sl_fileio_rename_durable(const char *from_path, const char *to_path, sl_error *err) {
  assert(from_path != NULL && to_path != NULL);
  if (rename(from_path, to_path) != 0) {
    int saved = errno;
    return sl_error_set(err, status_of_errno(saved), "rename %s to %s: %s", from_path, to_path,
                        strerror(saved));
  }
  char parent[PATH_BYTES];
  sl_fileio_parent_dir(to_path, parent, sizeof parent);
  return sl_fileio_fsync_dir(parent, err);
}

sl_status sl_fileio_remove_durable(const char *path, sl_error *err) {
  assert(path != NULL);
  if (unlink(path) != 0) {
    if (errno == ENOENT) {
      return SL_OK;
    }
    return sl_fileio_errno_error(err, errno, "remove", path);
  }
  char parent[PATH_BYTES];
  sl_fileio_parent_dir(path, parent, sizeof parent);
  return sl_fileio_fsync_dir(parent, err);
}

/* Makes dir_path if missing, and fsyncs its parent when it made it or when always_sync is set. */
static sl_status ensure_dir(const char *dir_path, bool always_sync, sl_error *err) {
  assert(dir_path != NULL);
  bool made = mkdir(dir_path, 0755) == 0;
  if (!made) {
    if (errno != EEXIST) {
      return sl_fileio_errno_error(err, errno, "create directory", dir_path);
    }
    struct stat info;
    if (stat(dir_path, &info) != 0) {
      return sl_fileio_errno_error(err, errno, "stat", dir_path);
    }
    if (!S_ISDIR(info.st_mode)) {
      return sl_error_set(err, SL_ERR_INVALID, "%s: exists and is not a directory", dir_path);
    }
  }
  if (!made && !always_sync) {
    return SL_OK;
  }
  char parent[PATH_BYTES];
  sl_fileio_parent_dir(dir_path, parent, sizeof parent);
  return sl_fileio_fsync_dir(parent, err);
}

sl_status sl_fileio_ensure_dir(const char *dir_path, sl_error *err) { return ensure_dir(dir_path, false, err); }

sl_status sl_fileio_ensure_dir_synced(const char *dir_path, sl_error *err) { return ensure_dir(dir_path, true, err); }

static sl_status write_and_sync_new_file(const char *path, const void *data, size_t size_bytes,
                                         sl_error *err) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return sl_fileio_errno_error(err, errno, "create", path);
  }
  sl_status status = sl_fileio_pwrite_all(fd, data, size_bytes, 0, path, err);
  if (status == SL_OK) {
    status = sl_fileio_fsync(fd, path, err);
  }
  if (close(fd) != 0 && status == SL_OK) {
    status = sl_fileio_errno_error(err, errno, "close", path);
  }
  return status;
}

sl_status sl_fileio_write_file_atomic(const char *path, const void *data, size_t size_bytes,
                                      sl_error *err) {
  assert(path != NULL);
  assert(data != NULL || size_bytes == 0);
  char temporary_path[PATH_BYTES];
  int length = snprintf(temporary_path, sizeof temporary_path, "%s.tmp", path);
  if (length < 0 || (size_t)length >= sizeof temporary_path) {
    return sl_error_set(err, SL_ERR_INVALID, "%s: path too long", path);
  }
  sl_status status = write_and_sync_new_file(temporary_path, data, size_bytes, err);
  if (status == SL_OK) {
    status = sl_fileio_rename_durable(temporary_path, path, err);
  }
  if (status != SL_OK) {
    unlink(temporary_path);
  }
  return status;
}

static sl_status read_open_file(int fd, const char *path, uint64_t max_bytes, uint8_t **data_out,
                                size_t *size_out, sl_error *err) {
  struct stat info;
  if (fstat(fd, &info) != 0) {
    return sl_fileio_errno_error(err, errno, "stat", path);
  }
  if (!S_ISREG(info.st_mode)) {
    return sl_error_set(err, SL_ERR_CORRUPT, "%s: not a regular file", path);
  }
  if ((uint64_t)info.st_size > max_bytes) {
    return sl_error_set(err, SL_ERR_CORRUPT, "%s: file is %lld bytes, more than the %llu allowed",
                        path, (long long)info.st_size, (unsigned long long)max_bytes);
  }
  size_t capacity_bytes = (size_t)info.st_size + 1;
  uint8_t *data = malloc(capacity_bytes);
  if (data == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "%s: out of memory reading %zu bytes", path,
                        capacity_bytes);
  }
  size_t size_bytes = 0;
  while (size_bytes < capacity_bytes - 1) {
    size_t want = capacity_bytes - 1 - size_bytes;
    ssize_t result = read(fd, data + size_bytes, want < READ_CHUNK_BYTES ? want : READ_CHUNK_BYTES);
    if (result < 0 && errno == EINTR) {
      continue;
    }
    if (result < 0) {
      int saved = errno;
      free(data);
      return sl_fileio_errno_error(err, saved, "read", path);
    }
    if (result == 0) {
      break; /* the file shrank while we read it; return what is there */
    }
    size_bytes += (size_t)result;
  }
  *data_out = data;
  *size_out = size_bytes;
  return SL_OK;
}

sl_status sl_fileio_read_file(const char *path, uint64_t max_bytes, uint8_t **data_out,
                              size_t *size_out, sl_error *err) {
  assert(path != NULL);
  assert(data_out != NULL && size_out != NULL);
  *data_out = NULL;
  *size_out = 0;
  /* O_NONBLOCK: a FIFO in a file's place opens at once (and is refused), instead of blocking until
   * a writer comes; it changes nothing for a regular file. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    return sl_fileio_errno_error(err, errno, "open", path);
  }
  sl_status status = read_open_file(fd, path, max_bytes, data_out, size_out, err);
  close(fd);
  return status;
}

bool sl_fileio_path(char *out, size_t out_bytes, const char *format, ...) {
  va_list args;
  va_start(args, format);
  int written = vsnprintf(out, out_bytes, format, args);
  va_end(args);
  return written >= 0 && (size_t)written < out_bytes;
}

static void remove_tree_at(const char *path, int depth) {
  DIR *dir = depth < 8 ? opendir(path) : NULL;
  if (dir != NULL) {
    for (struct dirent *entry = readdir(dir); entry != NULL; entry = readdir(dir)) {
      if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) {
        continue;
      }
      char child[4096];
      if (!sl_fileio_path(child, sizeof child, "%s/%s", path, entry->d_name)) {
        continue;
      }
      struct stat info;
      if (lstat(child, &info) == 0 && S_ISDIR(info.st_mode)) {
        remove_tree_at(child, depth + 1);
      } else {
        (void)unlink(child);
      }
    }
    closedir(dir);
  }
  (void)rmdir(path);
}

void sl_fileio_remove_tree(const char *path) { remove_tree_at(path, 0); }
