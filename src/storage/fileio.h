/*
 * fileio.h: small durable-file helpers shared by the WAL, snapshots and part writers.
 *
 * Every helper names the file in its error. ENOSPC and EDQUOT become SL_ERR_NOSPACE, every other
 * errno SL_ERR_IO. Paths are borrowed; buffers returned by sl_fileio_read_file are owned by the
 * caller (free()).
 *
 * Fault injection: pwrite, fsync and fdatasync go through a table of function pointers that a
 * test may replace with sl_fileio_set_hooks (not thread-safe: set it before starting the code
 * under test, restore it with NULL afterwards).
 */
#ifndef SPANLAB_STORAGE_FILEIO_H
#define SPANLAB_STORAGE_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "spanlab/error.h"

typedef struct sl_fileio_hooks {
  ssize_t (*pwrite_fn)(int fd, const void *data, size_t size_bytes, off_t offset);
  int (*fsync_fn)(int fd);
  int (*fdatasync_fn)(int fd);
} sl_fileio_hooks;

/* Replaces the system calls used by the helpers below; NULL restores the real ones. A NULL member
 * keeps the real call. The table is copied. */
void sl_fileio_set_hooks(const sl_fileio_hooks *hooks);

/* Sets err from an errno value: "OPERATION PATH: strerror", SL_ERR_NOSPACE for ENOSPC/EDQUOT,
 * SL_ERR_NOT_FOUND for ENOENT, else SL_ERR_IO. Returns the status. */
sl_status sl_fileio_errno_error(sl_error *err, int error_number, const char *operation,
                                const char *path);

/* Writes all size_bytes at offset (retrying short writes and EINTR). On failure part of the data
 * may have been written. */
sl_status sl_fileio_pwrite_all(int fd, const void *data, size_t size_bytes, uint64_t offset,
                               const char *path, sl_error *err);

/* As sl_fileio_pwrite_all for the concatenation of pieces[0..count) (pwritev when the real pwrite
 * is in use; through the pwrite hook, piece by piece, when a test replaced it). */
struct iovec;
sl_status sl_fileio_pwritev_all(int fd, const struct iovec *pieces, size_t count, uint64_t offset,
                                const char *path, sl_error *err);

/* Direct I/O (O_DIRECT): whether the file system takes direct writes whose offsets, sizes and
 * memory are aligned to align_bytes, as statx (STATX_DIOALIGN, Linux 6.1) says; UNKNOWN when it
 * does not say (older kernels): a first direct write is then the test. */
typedef enum sl_fileio_direct { SL_FILEIO_DIRECT_NO, SL_FILEIO_DIRECT_YES, SL_FILEIO_DIRECT_UNKNOWN } sl_fileio_direct;
sl_fileio_direct sl_fileio_direct_support(int fd, size_t align_bytes);

/* Turns O_DIRECT on or off for an open descriptor (fcntl F_SETFL); false when the system refuses. */
bool sl_fileio_set_direct(int fd, bool on);

/* sl_fileio_pwrite_all for a descriptor that may have O_DIRECT on (*direct): when the system
 * refuses a direct write (EINVAL: the file system does not take it after all), turns O_DIRECT off,
 * clears *direct and writes the rest buffered. */
sl_status sl_fileio_pwrite_all_direct(int fd, const void *data, size_t size_bytes, uint64_t offset, bool *direct,
                                      const char *path, sl_error *err);

sl_status sl_fileio_fsync(int fd, const char *path, sl_error *err);
sl_status sl_fileio_fdatasync(int fd, const char *path, sl_error *err);

/* fsyncs fds[0..count) at once, on up to SL_FILEIO_FSYNC_THREADS threads (the caller's and the
 * process's fsync workers, started by the first call and kept): the device then flushes its cache
 * for several files together instead of once per file. Concurrent calls share the workers. Every
 * file is fsynced even when one fails; the error names the first failing file in array order.
 * paths[i] names fds[i] in errors. */
enum { SL_FILEIO_FSYNC_THREADS = 8 };
sl_status sl_fileio_fsync_all(const int *fds, const char *const *paths, size_t count, sl_error *err);

/* Opens the directory read-only and fsyncs it (makes creates, renames and removes durable). */
sl_status sl_fileio_fsync_dir(const char *dir_path, sl_error *err);

/* Writes path's parent directory into out (at most out_bytes with the NUL); "." if none. */
void sl_fileio_parent_dir(const char *path, char *out, size_t out_bytes);

/* rename(from, to) then fsync of to's directory. */
sl_status sl_fileio_rename_durable(const char *from_path, const char *to_path, sl_error *err);

/* unlink(path) then fsync of its directory; a missing file is not an error. */
sl_status sl_fileio_remove_durable(const char *path, sl_error *err);

/* Creates the directory if missing (one level) and fsyncs its parent when it was created. */
sl_status sl_fileio_ensure_dir(const char *dir_path, sl_error *err);

/* As sl_fileio_ensure_dir, and the parent is fsynced whether or not this call created the
 * directory: another thread's mkdir, or a process killed between its mkdir and that fsync, leaves
 * an entry a power loss can take. */
sl_status sl_fileio_ensure_dir_synced(const char *dir_path, sl_error *err);

/* Writes a whole file atomically: PATH.tmp created, written, fsynced, closed, renamed to PATH,
 * directory fsynced. On failure PATH is unchanged and PATH.tmp removed. */
sl_status sl_fileio_write_file_atomic(const char *path, const void *data, size_t size_bytes,
                                      sl_error *err);

/* Reads a whole file (at most max_bytes, else SL_ERR_CORRUPT). *data_out is malloc'ed, never NULL
 * on success (a 1-byte buffer for an empty file). */
sl_status sl_fileio_read_file(const char *path, uint64_t max_bytes, uint8_t **data_out,
                              size_t *size_out, sl_error *err);

/* Removes a directory tree (at most 8 levels deep), best effort: what cannot be removed stays. */
void sl_fileio_remove_tree(const char *path);

/* snprintf for paths: false (and out truncated) when the result does not fit. */
bool sl_fileio_path(char *out, size_t out_bytes, const char *format, ...) __attribute__((format(printf, 3, 4)));

#endif
