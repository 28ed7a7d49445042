/* progress.h: progress of long work on stderr.  On a terminal a bar redrawn in
 * place (at most ~10 times a second) with rate and time left; otherwise one
 * plain line every ~10% so logs stay short.  Owns nothing beyond its label copy. */
#ifndef SPANLAB_COMMON_PROGRESS_H
#define SPANLAB_COMMON_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct sl_progress {
  char label[64];
  const char *unit; /* "spans", "queries" ... (static string) */
  uint64_t total;
  uint64_t done;
  int64_t started_ns;
  int64_t excluded_ns; /* time that is not the work's (sl_progress_exclude) */
  int64_t last_draw_ns;
  int last_decile;
  bool terminal;
  bool enabled;
  FILE *out;
} sl_progress;

/* enabled false makes every call a no-op (for --quiet). */
void sl_progress_start(sl_progress *progress, const char *label, const char *unit, uint64_t total,
                       bool enabled);
void sl_progress_update(sl_progress *progress, uint64_t done);
/* Leaves ns of other work out of the elapsed time and the rate (a load that generates its spans
 * between writes shows the rate of its writes). */
void sl_progress_exclude(sl_progress *progress, int64_t ns);
/* Draws the final state and ends the line. */
void sl_progress_finish(sl_progress *progress);

#endif
