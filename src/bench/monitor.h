/* monitor.h: the resource monitor: a thread sampling /proc every interval
 * (250 ms by default) through every phase of a run (docs/MONITOR.md).
 *
 * Per sample: process CPU (user, system), system CPU (user, system, idle,
 * iowait), RSS, virtual memory, swap, page faults, disk operations, bytes and
 * average latency of the device holding the store, the process's own I/O,
 * network bytes and packets (all interfaces but loopback, and loopback), load
 * averages, context switches, thread count; per thread name (a trailing "-N"
 * dropped) the CPU seconds used.
 *
 * Ownership: the monitor owns its thread and samples; sl_monitor_stop joins
 * the thread and hands back a jansson object the caller owns. */
#ifndef SPANLAB_BENCH_MONITOR_H
#define SPANLAB_BENCH_MONITOR_H

#include <jansson.h>
#include <stdint.h>

#include "spanlab/error.h"

typedef struct sl_monitor sl_monitor;

typedef struct sl_monitor_options {
  uint32_t interval_ms;   /* 0: 250 */
  const char *store_path; /* a path on the disk to watch; NULL: none */
} sl_monitor_options;

sl_status sl_monitor_start(const sl_monitor_options *options, sl_monitor **out, sl_error *err);

/* Starts a phase; samples from now on carry its name (copied). */
void sl_monitor_mark_phase(sl_monitor *monitor, const char *phase);

/* Counts items done (the runner: spans written, queries answered); each sample's
 * throughput_per_s is their rate, and each phase reports how it correlates with
 * CPU, disk and RSS (Pearson over the phase's samples). */
void sl_monitor_add_progress(sl_monitor *monitor, uint64_t items);

/* Takes one sample now (tests use it to avoid waiting for the interval). */
void sl_monitor_sample_now(sl_monitor *monitor);

/* Stops sampling and returns {"interval_ms", "samples": [...], "phases": [...],
 * "thread_cpu_seconds": {...}, "monitor_cpu_seconds", "monitor_overhead_pct"}. */
json_t *sl_monitor_stop(sl_monitor *monitor);

#endif
