/* spanfile.c: span files (docs/FORMAT.md "Span files"). */
#include "spanlab/spanfile.h"

#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/base64.h"
#include "common/path.h"
#include "common/utf8.h"

static const uint8_t bin_magic[8] = {'S', 'L', 'S', 'P', 'A', 'N', 'S', '\0'};
enum {
  BIN_VERSION = 1,
  BIN_HEADER_BYTES = 16,
  BIN_TRAILER_MARKER = 0xFFFFFFFFu,
  BIN_TRAILER_BYTES = 4 + 8 + 8 + 4,
  MAX_RECORD_BYTES = 64 << 20,
  MAX_LINE_BYTES = 96 << 20
};

void sl_byte_buffer_free(sl_byte_buffer *buffer) {
  free(buffer->data);
  memset(buffer, 0, sizeof *buffer);
}

static bool reserve(sl_byte_buffer *buffer, size_t more) {
  if (buffer->size + more <= buffer->capacity) {
    return true;
  }
  size_t capacity = buffer->capacity == 0 ? 4096 : buffer->capacity;
  while (capacity < buffer->size + more) {
    capacity *= 2;
  }
  uint8_t *grown = realloc(buffer->data, capacity);
  if (grown == NULL) {
    return false;
  }
  buffer->data = grown;
  buffer->capacity = capacity;
  return true;
}

static void put(sl_byte_buffer *buffer, const void *data, size_t size) {
  memcpy(buffer->data + buffer->size, data, size);
  buffer->size += size;
}

static void put_u32(sl_byte_buffer *buffer, uint32_t value) {
  uint8_t bytes[4] = {(uint8_t)value, (uint8_t)(value >> 8), (uint8_t)(value >> 16),
                      (uint8_t)(value >> 24)};
  put(buffer, bytes, 4);
}

static void put_u64(sl_byte_buffer *buffer, uint64_t value) {
  put_u32(buffer, (uint32_t)value);
  put_u32(buffer, (uint32_t)(value >> 32));
}

static void put_varint(sl_byte_buffer *buffer, uint64_t value) {
  while (value >= 0x80) {
    buffer->data[buffer->size++] = (uint8_t)(value | 0x80);
    value >>= 7;
  }
  buffer->data[buffer->size++] = (uint8_t)value;
}

static uint32_t get_u32(const uint8_t *bytes) {
  return (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 |
         (uint32_t)bytes[3] << 24;
}

static uint64_t get_u64(const uint8_t *bytes) {
  return (uint64_t)get_u32(bytes) | (uint64_t)get_u32(bytes + 4) << 32;
}

/* JSON string body escaping (RFC 8259). */
static void put_json_string(sl_byte_buffer *buffer, const sl_bytes *text) {
  static const char hex[] = "0123456789abcdef";
  buffer->data[buffer->size++] = '"';
  for (size_t i = 0; i < text->size_bytes; i++) {
    unsigned char c = (unsigned char)text->data[i];
    if (c == '"' || c == '\\') {
      buffer->data[buffer->size++] = '\\';
      buffer->data[buffer->size++] = c;
    } else if (c < 0x20) {
      put(buffer, "\\u00", 4);
      buffer->data[buffer->size++] = (uint8_t)hex[c >> 4];
      buffer->data[buffer->size++] = (uint8_t)hex[c & 15];
    } else {
      buffer->data[buffer->size++] = c;
    }
  }
  buffer->data[buffer->size++] = '"';
}

static sl_status encode_ndjson(const sl_span *span, sl_byte_buffer *out, sl_error *err) {
  size_t worst = 256 + 6 * (span->service_id.size_bytes + span->service_instance_id.size_bytes +
                            span->trace_id.size_bytes + span->span_id.size_bytes +
                            span->parent_span_id.size_bytes + span->operation_name.size_bytes +
                            span->component.size_bytes) +
                 sl_base64_encoded_size(span->data_binary.size_bytes);
  if (!reserve(out, worst)) {
    return sl_error_set(err, SL_ERR_NOMEM, "span file: out of memory encoding NDJSON");
  }
  char number[64];
  for (size_t i = 0; i < SL_SPAN_TAG_COUNT; i++) {
    put(out, i == 0 ? "{\"" : ",\"", 2);
    put(out, sl_span_tag_names[i], strlen(sl_span_tag_names[i]));
    put(out, "\":", 2);
    sl_value value = sl_span_tag_value(span, i);
    if (value.kind == SL_VALUE_INT) {
      int length = snprintf(number, sizeof number, "%lld", (long long)value.as.int_value);
      put(out, number, (size_t)length);
    } else if (value.kind == SL_VALUE_STR) {
      put_json_string(out, &value.as.str);
    } else {
      out->data[out->size++] = '"';
      sl_base64_encode((const uint8_t *)value.as.binary.data, value.as.binary.size_bytes,
                       (char *)out->data + out->size);
      out->size += sl_base64_encoded_size(value.as.binary.size_bytes);
      out->data[out->size++] = '"';
    }
  }
  put(out, "}\n", 2);
  return SL_OK;
}

static sl_status encode_bin(const sl_span *span, sl_byte_buffer *out, sl_error *err) {
  size_t worst = 8 + SL_SPAN_TAG_COUNT * 10;
  for (size_t i = 0; i < SL_SPAN_TAG_COUNT; i++) {
    sl_value value = sl_span_tag_value(span, i);
    worst += value.kind == SL_VALUE_STR ? value.as.str.size_bytes
             : value.kind == SL_VALUE_BINARY ? value.as.binary.size_bytes
                                             : 0;
  }
  if (worst > MAX_RECORD_BYTES) {
    return sl_error_set(err, SL_ERR_INVALID, "span file: a span of %zu bytes exceeds the %d-byte record limit",
                        worst, MAX_RECORD_BYTES);
  }
  if (!reserve(out, worst)) {
    return sl_error_set(err, SL_ERR_NOMEM, "span file: out of memory encoding a record");
  }
  size_t header = out->size;
  out->size += 8; /* length and checksum, filled below */
  for (size_t i = 0; i < SL_SPAN_TAG_COUNT; i++) {
    sl_value value = sl_span_tag_value(span, i);
    if (value.kind == SL_VALUE_INT) {
      uint64_t zigzag = ((uint64_t)value.as.int_value << 1) ^ (uint64_t)(value.as.int_value >> 63);
      put_varint(out, zigzag);
    } else {
      const sl_bytes *bytes = value.kind == SL_VALUE_STR ? &value.as.str : &value.as.binary;
      put_varint(out, bytes->size_bytes);
      put(out, bytes->data, bytes->size_bytes);
    }
  }
  uint32_t payload_bytes = (uint32_t)(out->size - header - 8);
  uint32_t checksum = XXH32(out->data + header + 8, payload_bytes, 0);
  uint8_t *at = out->data + header;
  for (int b = 0; b < 4; b++) {
    at[b] = (uint8_t)(payload_bytes >> (8 * b));
    at[4 + b] = (uint8_t)(checksum >> (8 * b));
  }
  return SL_OK;
}

sl_status sl_spanfile_encode(sl_spanfile_format format, const sl_span *spans, size_t count,
                             sl_byte_buffer *out, sl_error *err) {
  assert(spans != NULL || count == 0);
  for (size_t i = 0; i < count; i++) {
    SL_TRY(format == SL_SPANFILE_NDJSON ? encode_ndjson(&spans[i], out, err)
                                        : encode_bin(&spans[i], out, err));
  }
  return SL_OK;
}

/* Owns file and path. */
struct sl_spanfile_writer {
  FILE *file;
  char *path;
  sl_spanfile_format format;
  uint64_t spans;
  uint64_t bytes;
};

static sl_status write_error(const char *path, sl_error *err) {
  return sl_error_set(err, errno == ENOSPC ? SL_ERR_NOSPACE : SL_ERR_IO, "%s: cannot write: %s", path,
                      strerror(errno));
}

sl_status sl_spanfile_writer_open(const char *path, sl_spanfile_format format,
                                  sl_spanfile_writer **out, sl_error *err) {
  *out = NULL;
  sl_spanfile_writer *writer = calloc(1, sizeof *writer);
  if (writer == NULL || (writer->path = strdup(path)) == NULL) {
    free(writer);
    return sl_error_set(err, SL_ERR_NOMEM, "span file: out of memory");
  }
  writer->format = format;
  writer->file = fopen(path, "wb");
  if (writer->file == NULL) {
    sl_status status = sl_error_set(err, SL_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    free(writer->path);
    free(writer);
    return status;
  }
  if (format == SL_SPANFILE_BIN) {
    sl_byte_buffer header = {0};
    if (!reserve(&header, BIN_HEADER_BYTES)) {
      fclose(writer->file);
      free(writer->path);
      free(writer);
      return sl_error_set(err, SL_ERR_NOMEM, "span file: out of memory");
    }
    put(&header, bin_magic, 8);
    put_u32(&header, BIN_VERSION);
    put_u32(&header, 0);
    size_t written = fwrite(header.data, 1, header.size, writer->file);
    sl_byte_buffer_free(&header);
    if (written != BIN_HEADER_BYTES) {
      sl_status status = write_error(path, err);
      fclose(writer->file);
      free(writer->path);
      free(writer);
      return status;
    }
    writer->bytes = BIN_HEADER_BYTES;
  }
  *out = writer;
  return SL_OK;
}

sl_status sl_spanfile_writer_append(sl_spanfile_writer *writer, const sl_byte_buffer *records,
                                    uint64_t span_count, sl_error *err) {
  if (records->size > 0 && fwrite(records->data, 1, records->size, writer->file) != records->size) {
    return write_error(writer->path, err);
  }
  writer->bytes += records->size;
  writer->spans += span_count;
  return SL_OK;
}

uint64_t sl_spanfile_writer_bytes(const sl_spanfile_writer *writer) { return writer->bytes; }

sl_status sl_spanfile_writer_close(sl_spanfile_writer *writer, sl_error *err) {
  sl_status status = SL_OK;
  if (writer->format == SL_SPANFILE_BIN) {
    uint8_t trailer[BIN_TRAILER_BYTES];
    sl_byte_buffer buffer = {.data = trailer, .capacity = sizeof trailer};
    put_u32(&buffer, BIN_TRAILER_MARKER);
    put_u64(&buffer, writer->spans);
    put_u64(&buffer, writer->bytes);
    put_u32(&buffer, XXH32(trailer + 4, 16, 0));
    if (fwrite(trailer, 1, sizeof trailer, writer->file) != sizeof trailer) {
      status = write_error(writer->path, err);
    }
    writer->bytes += sizeof trailer;
  }
  if (status == SL_OK && (fflush(writer->file) != 0 || fsync(fileno(writer->file)) != 0)) {
    status = write_error(writer->path, err);
  }
  if (fclose(writer->file) != 0 && status == SL_OK) {
    status = write_error(writer->path, err);
  }
  free(writer->path);
  free(writer);
  return status;
}

/* ---- reading ---- */

/* Owns file, path, the line or record buffer and the decoded dataBinary. */
struct sl_spanfile_reader {
  FILE *file;
  char *path;
  sl_spanfile_format format;
  uint64_t records;
  uint64_t offset;    /* byte offset of the next record */
  uint8_t *buffer;
  size_t buffer_capacity;
  uint8_t *binary;    /* decoded dataBinary (NDJSON) */
  size_t binary_capacity;
  json_t *object;     /* the current NDJSON object, kept alive for borrowed strings */
  bool trailer_seen;
};

static bool grow(uint8_t **buffer, size_t *capacity, size_t needed) {
  if (needed <= *capacity) {
    return true;
  }
  size_t size = *capacity == 0 ? 65536 : *capacity;
  while (size < needed) {
    size *= 2;
  }
  uint8_t *grown = realloc(*buffer, size);
  if (grown == NULL) {
    return false;
  }
  *buffer = grown;
  *capacity = size;
  return true;
}

sl_status sl_spanfile_open(const char *path, sl_spanfile_reader **out, sl_error *err) {
  *out = NULL;
  sl_spanfile_reader *reader = calloc(1, sizeof *reader);
  if (reader == NULL || (reader->path = strdup(path)) == NULL) {
    free(reader);
    return sl_error_set(err, SL_ERR_NOMEM, "span file: out of memory");
  }
  if (sl_path_is_special(path)) {
    sl_status status = sl_error_set(err, SL_ERR_INVALID, "%s: not a regular file", path);
    free(reader->path);
    free(reader);
    return status;
  }
  reader->file = fopen(path, "rb");
  if (reader->file == NULL) {
    sl_status status = sl_error_set(err, errno == ENOENT ? SL_ERR_NOT_FOUND : SL_ERR_IO,
                                    "%s: cannot open: %s", path, strerror(errno));
    free(reader->path);
    free(reader);
    return status;
  }
  uint8_t header[BIN_HEADER_BYTES];
  size_t read = fread(header, 1, sizeof header, reader->file);
  if (read == 0 && ferror(reader->file) == 0) {
    sl_status status = sl_error_set(err, SL_ERR_INVALID, "%s: empty file (0 bytes): it holds no spans", path);
    sl_spanfile_close(reader);
    return status;
  }
  if (read >= 8 && memcmp(header, bin_magic, 8) == 0) {
    if (read < BIN_HEADER_BYTES) {
      sl_status status = sl_error_set(err, SL_ERR_CORRUPT,
                                      "%s: offset %zu: truncated header (%zu of its %d bytes; a binary span file cut short)",
                                      path, read, read, BIN_HEADER_BYTES);
      sl_spanfile_close(reader);
      return status;
    }
    if (get_u32(header + 8) != BIN_VERSION) {
      sl_status status = sl_error_set(
          err, SL_ERR_CORRUPT, "%s: offset 8: binary span file version %u, this build reads version %d",
          path, get_u32(header + 8), BIN_VERSION);
      sl_spanfile_close(reader);
      return status;
    }
    if (get_u32(header + 12) != 0) {
      sl_status status = sl_error_set(err, SL_ERR_CORRUPT, "%s: offset 12: unknown header flags %#x (this build writes 0)",
                                      path, get_u32(header + 12));
      sl_spanfile_close(reader);
      return status;
    }
    reader->format = SL_SPANFILE_BIN;
    reader->offset = BIN_HEADER_BYTES;
  } else {
    reader->format = SL_SPANFILE_NDJSON;
    rewind(reader->file);
  }
  *out = reader;
  return SL_OK;
}

sl_spanfile_format sl_spanfile_reader_format(const sl_spanfile_reader *reader) { return reader->format; }
uint64_t sl_spanfile_reader_records(const sl_spanfile_reader *reader) { return reader->records; }

void sl_spanfile_close(sl_spanfile_reader *reader) {
  if (reader == NULL) {
    return;
  }
  if (reader->file != NULL) {
    fclose(reader->file);
  }
  json_decref(reader->object);
  free(reader->buffer);
  free(reader->binary);
  free(reader->path);
  free(reader);
}

static sl_status corrupt(const sl_spanfile_reader *reader, uint64_t offset, sl_error *err,
                         const char *what) {
  return sl_error_set(err, SL_ERR_CORRUPT, "%s: record %llu at byte offset %llu: %s", reader->path,
                      (unsigned long long)reader->records + 1, (unsigned long long)offset, what);
}

/* Why bytes are not a string NDJSON could carry: NULL when they are UTF-8 without a NUL. */
static const char *string_problem(const uint8_t *bytes, size_t size) {
  for (size_t i = 0; i < size;) {
    if (bytes[i] == 0) {
      return "a NUL byte";
    }
    size_t length = sl_utf8_sequence_bytes(bytes + i, size - i);
    if (length == 0) {
      return "not valid UTF-8";
    }
    i += length;
  }
  return NULL;
}

static bool get_varint(const uint8_t **cursor, const uint8_t *end, uint64_t *value) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*cursor >= end) {
      return false;
    }
    uint8_t byte = *(*cursor)++;
    result |= (uint64_t)(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *value = result;
      return true;
    }
  }
  return false;
}

static sl_status next_bin(sl_spanfile_reader *reader, sl_span *span, bool *end, sl_error *err) {
  uint8_t frame[8];
  uint64_t offset = reader->offset;
  size_t read = fread(frame, 1, 4, reader->file);
  if (read == 0) {
    return corrupt(reader, offset, err, "file ends without its trailer (truncated?)");
  }
  if (read < 4) {
    return corrupt(reader, offset, err, "truncated record header");
  }
  uint32_t payload_bytes = get_u32(frame);
  if (payload_bytes == BIN_TRAILER_MARKER) {
    uint8_t trailer[BIN_TRAILER_BYTES - 4];
    if (fread(trailer, 1, sizeof trailer, reader->file) != sizeof trailer) {
      return corrupt(reader, offset, err, "truncated trailer");
    }
    if (XXH32(trailer, 16, 0) != get_u32(trailer + 16)) {
      return corrupt(reader, offset, err, "trailer checksum mismatch");
    }
    if (get_u64(trailer) != reader->records) {
      char message[160];
      snprintf(message, sizeof message, "trailer says %llu spans but %llu records were read",
               (unsigned long long)get_u64(trailer), (unsigned long long)reader->records);
      return corrupt(reader, offset, err, message);
    }
    if (fgetc(reader->file) != EOF) {
      return corrupt(reader, offset + BIN_TRAILER_BYTES, err, "bytes after the trailer");
    }
    *end = true;
    reader->trailer_seen = true;
    return SL_OK;
  }
  if (fread(frame + 4, 1, 4, reader->file) != 4) {
    return corrupt(reader, offset, err, "truncated record header");
  }
  if (payload_bytes > MAX_RECORD_BYTES) {
    return corrupt(reader, offset, err, "record length over the 64 MiB limit");
  }
  if (!grow(&reader->buffer, &reader->buffer_capacity, payload_bytes + 1)) {
    return sl_error_set(err, SL_ERR_NOMEM, "%s: out of memory reading record %llu", reader->path,
                        (unsigned long long)reader->records + 1);
  }
  if (fread(reader->buffer, 1, payload_bytes, reader->file) != payload_bytes) {
    return corrupt(reader, offset, err, "truncated record payload");
  }
  if (XXH32(reader->buffer, payload_bytes, 0) != get_u32(frame + 4)) {
    return corrupt(reader, offset, err, "record checksum mismatch");
  }
  const uint8_t *cursor = reader->buffer;
  const uint8_t *limit = reader->buffer + payload_bytes;
  sl_bytes *strings[] = {&span->service_id, &span->service_instance_id, &span->trace_id, NULL,
                         NULL, NULL, &span->span_id, &span->parent_span_id,
                         &span->operation_name, &span->component, &span->data_binary};
  int64_t *ints[] = {NULL, NULL, NULL, &span->start_time_ms, &span->latency_ms, &span->is_error};
  for (size_t i = 0; i < SL_SPAN_TAG_COUNT; i++) {
    uint64_t value = 0;
    if (!get_varint(&cursor, limit, &value)) {
      return corrupt(reader, offset, err, "bad varint in record");
    }
    if (strings[i] != NULL) {
      if (value > (uint64_t)(limit - cursor)) {
        char why[160];
        snprintf(why, sizeof why, "field %s: its length (%llu bytes) runs past the end of the record",
                 sl_span_tag_names[i], (unsigned long long)value);
        return corrupt(reader, offset, err, why);
      }
      strings[i]->data = (const char *)cursor;
      strings[i]->size_bytes = (size_t)value;
      const char *problem = strings[i] != &span->data_binary ? string_problem(cursor, (size_t)value) : NULL;
      if (problem != NULL) {
        char why[160];
        snprintf(why, sizeof why, "field %s holds %s (a string field; NDJSON and BanyanDB's protobuf strings are UTF-8)",
                 sl_span_tag_names[i], problem);
        return corrupt(reader, offset, err, why);
      }
      cursor += value;
    } else if (ints[i] != NULL) {
      *ints[i] = (int64_t)(value >> 1) ^ -(int64_t)(value & 1);
    }
  }
  if (cursor != limit) {
    return corrupt(reader, offset, err, "trailing bytes in record");
  }
  reader->offset += 8 + payload_bytes;
  reader->records++;
  *end = false;
  return SL_OK;
}

static sl_status next_ndjson(sl_spanfile_reader *reader, sl_span *span, bool *end, sl_error *err) {
  uint64_t offset = reader->offset;
  char *line = (char *)reader->buffer;
  size_t capacity = reader->buffer_capacity;
  errno = 0;
  ssize_t got = getline(&line, &capacity, reader->file);
  reader->buffer = (uint8_t *)line;
  reader->buffer_capacity = capacity;
  if (got < 0) {
    if (errno == ENOMEM) {
      return sl_error_set(err, SL_ERR_NOMEM, "%s: out of memory reading line %llu", reader->path,
                          (unsigned long long)reader->records + 1);
    }
    if (ferror(reader->file)) {
      return sl_error_set(err, SL_ERR_IO, "%s: read error at byte offset %llu: %s", reader->path,
                          (unsigned long long)offset, strerror(errno));
    }
    *end = true;
    return SL_OK;
  }
  size_t length = (size_t)got;
  reader->offset += length;
  if (line[length - 1] != '\n') {
    return corrupt(reader, offset, err, "last line has no newline (truncated?)");
  }
  length--;
  if (length > MAX_LINE_BYTES) {
    return corrupt(reader, offset, err, "line longer than 96 MiB");
  }
  if (length >= 3 && memcmp(reader->buffer, "\xef\xbb\xbf", 3) == 0) {
    return corrupt(reader, offset, err, "a UTF-8 byte-order mark (EF BB BF): NDJSON lines start with '{'");
  }
  if (length == 0 || (length == 1 && reader->buffer[0] == '\r')) {
    return corrupt(reader, offset, err, "an empty line: each line of NDJSON is one span");
  }
  json_decref(reader->object);
  json_error_t json_error;
  reader->object = json_loadb((const char *)reader->buffer, length, JSON_REJECT_DUPLICATES, &json_error);
  if (reader->object == NULL || !json_is_object(reader->object)) {
    char message[300];
    snprintf(message, sizeof message, "not a JSON object: %s (column %d)",
             reader->object == NULL ? json_error.text : "found another JSON value",
             reader->object == NULL ? json_error.column : 1);
    return corrupt(reader, offset, err, message);
  }
  if (json_object_size(reader->object) != SL_SPAN_TAG_COUNT) {
    const char *key;
    json_t *value;
    json_object_foreach(reader->object, key, value) {
      bool known = false;
      for (size_t i = 0; i < SL_SPAN_TAG_COUNT; i++) {
        known = known || strcmp(key, sl_span_tag_names[i]) == 0;
      }
      if (!known) {
        char message[300];
        snprintf(message, sizeof message, "unknown key \"%.200s\"; a span has exactly the seed's 11 tags", key);
        return corrupt(reader, offset, err, message);
      }
    }
  }
  sl_bytes *strings[] = {&span->service_id, &span->service_instance_id, &span->trace_id, NULL,
                         NULL, NULL, &span->span_id, &span->parent_span_id,
                         &span->operation_name, &span->component, NULL};
  int64_t *ints[] = {NULL, NULL, NULL, &span->start_time_ms, &span->latency_ms, &span->is_error};
  for (size_t i = 0; i < SL_SPAN_TAG_COUNT; i++) {
    json_t *value = json_object_get(reader->object, sl_span_tag_names[i]);
    char message[200];
    if (value == NULL) {
      snprintf(message, sizeof message, "missing key \"%s\"", sl_span_tag_names[i]);
      return corrupt(reader, offset, err, message);
    }
    if (i == 10) {
      if (!json_is_string(value)) {
        return corrupt(reader, offset, err, "\"dataBinary\" must be a base64 string");
      }
      size_t text_bytes = json_string_length(value);
      if (!grow(&reader->binary, &reader->binary_capacity, text_bytes / 4 * 3 + 3)) {
        return sl_error_set(err, SL_ERR_NOMEM, "%s: out of memory", reader->path);
      }
      size_t bad_offset = 0;
      long decoded = sl_base64_decode(json_string_value(value), text_bytes, reader->binary, &bad_offset);
      if (decoded < 0) {
        snprintf(message, sizeof message, "\"dataBinary\" is not valid base64 (at character %zu)",
                 bad_offset);
        return corrupt(reader, offset, err, message);
      }
      span->data_binary = (sl_bytes){.data = (const char *)reader->binary, .size_bytes = (size_t)decoded};
    } else if (strings[i] != NULL) {
      if (!json_is_string(value)) {
        snprintf(message, sizeof message, "\"%s\" must be a string", sl_span_tag_names[i]);
        return corrupt(reader, offset, err, message);
      }
      strings[i]->data = json_string_value(value);
      strings[i]->size_bytes = json_string_length(value);
    } else if (ints[i] != NULL) {
      if (!json_is_integer(value)) {
        snprintf(message, sizeof message, "\"%s\" must be an integer", sl_span_tag_names[i]);
        return corrupt(reader, offset, err, message);
      }
      *ints[i] = json_integer_value(value);
    }
  }
  reader->records++;
  *end = false;
  return SL_OK;
}

sl_status sl_spanfile_next(sl_spanfile_reader *reader, sl_span *span, bool *end, sl_error *err) {
  assert(reader != NULL && span != NULL && end != NULL);
  if (reader->trailer_seen) {
    *end = true;
    return SL_OK;
  }
  return reader->format == SL_SPANFILE_BIN ? next_bin(reader, span, end, err)
                                           : next_ndjson(reader, span, end, err);
}

const char *sl_spanfile_format_name(sl_spanfile_format format) {
  return format == SL_SPANFILE_BIN ? "bin" : "ndjson";
}

bool sl_spanfile_format_parse(const char *name, sl_spanfile_format *format) {
  if (strcmp(name, "ndjson") == 0) {
    *format = SL_SPANFILE_NDJSON;
    return true;
  }
  if (strcmp(name, "bin") == 0) {
    *format = SL_SPANFILE_BIN;
    return true;
  }
  return false;
}
