/* runner.h: the benchmark runner behind `spanlab bench` and `spanlab run`. */
#ifndef SPANLAB_BENCH_RUNNER_H
#define SPANLAB_BENCH_RUNNER_H

#include "bench/options.h"

/* Runs every selected benchmark on every selected backend, options->iterations
 * times, writing OUT/results.json after each step.  Fails on a consistency
 * mismatch or an interruption (the partial results.json stays valid). */
sl_status sl_bench_run(const sl_bench_options *options, sl_error *err);

#endif
