/* monitor_bench.c: the resource monitor's own cost.
 *   build/release/bench/monitor_bench [SECONDS] [INTERVAL_MS]
 * Runs the monitor alone and prints the CPU its thread used as a share of one
 * core (issue #8 target: at most 1% at 250 ms). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench/monitor.h"

int main(int argc, char **argv) {
  int seconds = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 20;
  sl_monitor_options options = {.interval_ms = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 250,
                                .store_path = "."};
  sl_monitor *monitor = NULL;
  sl_error err;
  if (sl_monitor_start(&options, &monitor, &err) != SL_OK) {
    fprintf(stderr, "%s\n", err.message);
    return 1;
  }
  sleep((unsigned)seconds);
  json_t *report = sl_monitor_stop(monitor);
  printf("interval %u ms, %d s, %zu samples, disk %s: monitor thread %.4f CPU s = %.3f%% of one core\n",
         options.interval_ms, seconds, json_array_size(json_object_get(report, "samples")),
         json_string_value(json_object_get(report, "disk")),
         json_real_value(json_object_get(report, "monitor_cpu_seconds")),
         json_real_value(json_object_get(report, "monitor_overhead_pct_of_one_core")));
  json_decref(report);
  return 0;
}
