/* test_support.h: small helpers for the cmocka tests. */
#ifndef SPANLAB_TEST_SUPPORT_H
#define SPANLAB_TEST_SUPPORT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* A fresh empty directory under the build tree, named after the test; the
 * returned string is static storage overwritten by the next call. */
const char *test_temp_dir(const char *name);

/* Writes text to dir/name; fails the test on error. */
void test_write_file(const char *dir, const char *name, const char *text);

/* Writes to out the path dir/ENTRY of the first entry of dir whose name starts with prefix (in
 * readdir's order); fails the test when there is none or the path does not fit. */
void test_first_entry_with_prefix(const char *dir, const char *prefix, char *out, size_t out_bytes);

/* Reads a whole file into a malloc'ed NUL-terminated buffer (caller frees). */
char *test_read_file(const char *path, size_t *size_out);

/* The environment variable name as a decimal number, fallback when unset or empty; fails the test
 * when it is not a number. */
uint64_t test_env_u64(const char *name, uint64_t fallback);

/* Microseconds since start (CLOCK_MONOTONIC). */
struct timespec;
long test_elapsed_us(const struct timespec *start);

#endif
