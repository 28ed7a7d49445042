/* test_support.c: see test_support.h. */
#include "test_support.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *test_temp_dir(const char *name) {
  static char path[4096];
  snprintf(path, sizeof path, "%s/test-tmp/%s-%d", SPANLAB_BINARY_DIR, name, (int)getpid());
  char command[8300];
  snprintf(command, sizeof command, "rm -rf '%s' && mkdir -p '%s'", path, path);
  assert_int_equal(system(command), 0);
  return path;
}

void test_write_file(const char *dir, const char *name, const char *text) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *file = fopen(path, "w");
  assert_non_null(file);
  assert_int_equal(fputs(text, file) >= 0, 1);
  assert_int_equal(fclose(file), 0);
}

char *test_read_file(const char *path, size_t *size_out) {
  FILE *file = fopen(path, "rb");
  if (file == NULL) {
    return NULL;
  }
  fseek(file, 0, SEEK_END);
  long size = ftell(file);
  fseek(file, 0, SEEK_SET);
  char *data = malloc((size_t)size + 1);
  assert_non_null(data);
  assert_int_equal(fread(data, 1, (size_t)size, file), (size_t)size);
  data[size] = '\0';
  fclose(file);
  if (size_out != NULL) {
    *size_out = (size_t)size;
  }
  return data;
}

uint64_t test_env_u64(const char *name, uint64_t fallback) {
  const char *text = getenv(name);
  if (text == NULL || *text == '\0') {
    return fallback;
  }
  char *end = NULL;
  unsigned long long value = strtoull(text, &end, 10);
  if (end == text || *end != '\0') {
    fail_msg("%s=%s is not a number", name, text);
  }
  return value;
}

long test_elapsed_us(const struct timespec *start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - start->tv_sec) * 1000000L + (now.tv_nsec - start->tv_nsec) / 1000L;
}

void test_first_entry_with_prefix(const char *dir, const char *prefix, char *out, size_t out_bytes) {
  DIR *listing = opendir(dir);
  if (listing == NULL) {
    fail_msg("cannot list %s", dir);
  }
  out[0] = '\0';
  for (struct dirent *entry; (entry = readdir(listing)) != NULL;) {
    if (strncmp(entry->d_name, prefix, strlen(prefix)) == 0) {
      int length = snprintf(out, out_bytes, "%s/%s", dir, entry->d_name);
      if (length < 0 || (size_t)length >= out_bytes) {
        closedir(listing);
        fail_msg("the path of %s in %s does not fit in %zu bytes", entry->d_name, dir, out_bytes);
      }
      break;
    }
  }
  closedir(listing);
  if (out[0] == '\0') {
    fail_msg("no entry of %s starts with %s", dir, prefix);
  }
}
