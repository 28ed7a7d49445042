/* gen_bench.c: generator throughput on one thread, without file I/O.
 *   build/release/bench/gen_bench [SPANS] [PAYLOAD_BYTES]
 * Prints spans/s and MB/s of dataBinary made, and the peak RSS. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "common/timeutil.h"
#include "spanlab/gen.h"

int main(int argc, char **argv) {
  sl_gen_profile profile;
  sl_gen_profile_init(&profile, "small", NULL);
  if (argc > 1) profile.spans = strtoull(argv[1], NULL, 10);
  if (argc > 2) profile.payload_bytes = (uint32_t)strtoul(argv[2], NULL, 10);
  sl_error err;
  sl_gen *gen = NULL;
  int64_t open_ns = sl_monotonic_ns();
  if (sl_gen_open(&profile, &gen, &err) != SL_OK) {
    fprintf(stderr, "%s\n", err.message);
    return 1;
  }
  int64_t start_ns = sl_monotonic_ns();
  static sl_span spans[1000];
  uint64_t count = 0, bytes = 0;
  for (;;) {
    size_t got = 0;
    if (sl_gen_next(gen, spans, 1000, &got, &err) != SL_OK) {
      fprintf(stderr, "%s\n", err.message);
      return 1;
    }
    if (got == 0) break;
    for (size_t i = 0; i < got; i++) bytes += spans[i].data_binary.size_bytes;
    count += got;
  }
  double seconds = (double)(sl_monotonic_ns() - start_ns) / 1e9;
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  printf("spans %llu, planning %.3f s, making %.3f s: %.0f spans/s on one thread, %.1f MB/s of dataBinary, "
         "peak RSS %.1f MB\n",
         (unsigned long long)count, (double)(start_ns - open_ns) / 1e9, seconds, (double)count / seconds,
         (double)bytes / 1e6 / seconds, (double)usage.ru_maxrss / 1024);
  sl_gen_close(gen);
  return 0;
}
