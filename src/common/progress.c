/* progress.c: see progress.h. */
#include "common/progress.h"

#include <assert.h>
#include <string.h>
#include <unistd.h>

#include "common/timeutil.h"

void sl_progress_start(sl_progress *progress, const char *label, const char *unit, uint64_t total,
                       bool enabled) {
  assert(progress != NULL && label != NULL && unit != NULL);
  memset(progress, 0, sizeof *progress);
  snprintf(progress->label, sizeof progress->label, "%s", label);
  progress->unit = unit;
  progress->total = total;
  progress->out = stderr;
  progress->enabled = enabled;
  progress->terminal = isatty(fileno(stderr)) == 1;
  progress->started_ns = sl_monotonic_ns();
  progress->last_decile = -1;
}

static void draw(sl_progress *progress, bool final) {
  int64_t elapsed_ns = sl_monotonic_ns() - progress->started_ns - progress->excluded_ns;
  double elapsed_s = elapsed_ns > 0 ? (double)elapsed_ns / 1e9 : 0;
  double rate = elapsed_s > 0 ? (double)progress->done / elapsed_s : 0;
  double fraction = progress->total > 0 ? (double)progress->done / (double)progress->total : 0;
  if (fraction > 1) {
    fraction = 1;
  }
  if (progress->terminal) {
    enum { BAR_WIDTH = 30 };
    char bar[BAR_WIDTH + 1];
    int filled = (int)(fraction * BAR_WIDTH);
    for (int i = 0; i < BAR_WIDTH; i++) {
      bar[i] = i < filled ? '#' : '.';
    }
    bar[BAR_WIDTH] = '\0';
    double left_s = rate > 0 && progress->total > progress->done
                        ? (double)(progress->total - progress->done) / rate
                        : 0;
    fprintf(progress->out, "\r%-24s [%s] %5.1f%% %llu/%llu %s  %.0f %s/s  %.0fs left   ",
            progress->label, bar, fraction * 100, (unsigned long long)progress->done,
            (unsigned long long)progress->total, progress->unit, rate, progress->unit, left_s);
    if (final) {
      fprintf(progress->out, "\n");
    }
  } else {
    fprintf(progress->out, "%s: %llu/%llu %s (%.0f%%), %.0f %s/s, %.1f s\n", progress->label,
            (unsigned long long)progress->done, (unsigned long long)progress->total,
            progress->unit, fraction * 100, rate, progress->unit, elapsed_s);
  }
  fflush(progress->out);
}

void sl_progress_exclude(sl_progress *progress, int64_t ns) {
  if (ns > 0) {
    progress->excluded_ns += ns;
  }
}

void sl_progress_update(sl_progress *progress, uint64_t done) {
  if (!progress->enabled) {
    return;
  }
  progress->done = done;
  if (progress->terminal) {
    int64_t now_ns = sl_monotonic_ns();
    if (now_ns - progress->last_draw_ns >= 100000000) {
      progress->last_draw_ns = now_ns;
      draw(progress, false);
    }
    return;
  }
  int decile = progress->total > 0 ? (int)(done * 10 / progress->total) : 0;
  if (decile > progress->last_decile && decile < 10) {
    progress->last_decile = decile;
    if (decile > 0) {
      draw(progress, false);
    }
  }
}

void sl_progress_finish(sl_progress *progress) {
  if (!progress->enabled) {
    return;
  }
  draw(progress, true);
}
