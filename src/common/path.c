/* path.c: see path.h. */
#include "common/path.h"

#include <sys/stat.h>

bool sl_path_is_special(const char *path) {
  struct stat info;
  return stat(path, &info) == 0 && !S_ISREG(info.st_mode);
}
