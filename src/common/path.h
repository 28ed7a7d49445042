/* path.h: what a path names, before it is opened. */
#ifndef SPANLAB_COMMON_PATH_H
#define SPANLAB_COMMON_PATH_H

#include <stdbool.h>

/* True when path names something that is not a regular file (a FIFO, whose fopen blocks until a
 * writer comes; a directory, which reads as nothing; a device). False when it is a regular file or
 * does not exist, which the open then reports. */
bool sl_path_is_special(const char *path);

#endif
