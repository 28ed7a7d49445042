/* random.h: deterministic random streams and the samplers the generator uses.
 *
 * sl_rng is xoshiro256** seeded through SplitMix64 from (seed, stream, index),
 * so every trace has its own stream whatever thread makes it.  Samplers are
 * plain functions of an sl_rng; sl_zipf owns its CDF table. */
#ifndef SPANLAB_GEN_RANDOM_H
#define SPANLAB_GEN_RANDOM_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_rng {
  uint64_t state[4];
} sl_rng;

/* A stream for (seed, stream, index): different triples give independent streams. */
void sl_rng_seed(sl_rng *rng, uint64_t seed, uint64_t stream, uint64_t index);
uint64_t sl_rng_next(sl_rng *rng);
/* Uniform in [0, 1). */
double sl_rng_uniform(sl_rng *rng);
/* Uniform integer in [0, bound), bound > 0, without modulo bias. */
uint64_t sl_rng_below(sl_rng *rng, uint64_t bound);
/* Uniform integer in [low, high]. */
int64_t sl_rng_between(sl_rng *rng, int64_t low, int64_t high);
/* true with probability p. */
int sl_rng_chance(sl_rng *rng, double p);

/* Exponential with the given mean (> 0). */
double sl_sample_exponential(sl_rng *rng, double mean);
/* Normal with mean and standard deviation (Box-Muller, one value per call). */
double sl_sample_normal(sl_rng *rng, double mean, double stdev);

/* Zipf over ranks 1..n with exponent s >= 0: P(k) proportional to 1 / k^s. */
typedef struct sl_zipf {
  size_t n;
  double exponent;
  double *cdf; /* cdf[k-1] = P(rank <= k); owned */
} sl_zipf;

/* 0 on success, -1 when out of memory. */
int sl_zipf_init(sl_zipf *zipf, size_t n, double exponent);
void sl_zipf_free(sl_zipf *zipf);
/* A rank in 0..n-1 (0 the most frequent). */
size_t sl_zipf_sample(const sl_zipf *zipf, sl_rng *rng);
/* P(rank < k): the share of the top k ranks. */
double sl_zipf_top_share(const sl_zipf *zipf, size_t k);

/* The exponent s for which the top `top_fraction` of n ranks receive
 * `share` of the mass (e.g. 0.2 and 0.8 for the 80/20 rule); bisection. */
double sl_zipf_fit_exponent(size_t n, double top_fraction, double share);

#endif
