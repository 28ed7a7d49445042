/* utf8.h: UTF-8 as RFC 3629 defines it (no overlong forms, no surrogates, nothing above U+10FFFF),
 * the strings protobuf and JSON carry. Hand-written: jansson validates only while building a
 * string, and no Debian package offers a plain check (docs/DEPENDENCIES.md). */
#ifndef SPANLAB_COMMON_UTF8_H
#define SPANLAB_COMMON_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The length (1-4) of the well-formed UTF-8 sequence at bytes[0..size), or 0 when none starts
 * there (size 0 included). */
size_t sl_utf8_sequence_bytes(const uint8_t *bytes, size_t size);

#endif
