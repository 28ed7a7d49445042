/* random.c: see random.h. */
#include "gen/random.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

static uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void sl_rng_seed(sl_rng *rng, uint64_t seed, uint64_t stream, uint64_t index) {
  assert(rng != NULL);
  uint64_t mix = seed;
  uint64_t a = splitmix64(&mix);
  mix ^= stream * 0xd1b54a32d192ed03ULL;
  uint64_t b = splitmix64(&mix);
  mix ^= index * 0x8cb92ba72f3d8dd7ULL + a;
  uint64_t sm = mix ^ b;
  for (int i = 0; i < 4; i++) {
    rng->state[i] = splitmix64(&sm);
  }
  if ((rng->state[0] | rng->state[1] | rng->state[2] | rng->state[3]) == 0) {
    rng->state[0] = 1; /* xoshiro must not be all zero */
  }
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sl_rng_next(sl_rng *rng) {
  uint64_t *s = rng->state;
  const uint64_t result = rotl(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double sl_rng_uniform(sl_rng *rng) { return (double)(sl_rng_next(rng) >> 11) * 0x1.0p-53; }

uint64_t sl_rng_below(sl_rng *rng, uint64_t bound) {
  assert(bound > 0);
  /* Lemire's multiply-shift with rejection of the biased low range. */
  uint64_t x = sl_rng_next(rng);
  __uint128_t m = (__uint128_t)x * bound;
  uint64_t low = (uint64_t)m;
  if (low < bound) {
    uint64_t threshold = -bound % bound;
    while (low < threshold) {
      x = sl_rng_next(rng);
      m = (__uint128_t)x * bound;
      low = (uint64_t)m;
    }
  }
  return (uint64_t)(m >> 64);
}

int64_t sl_rng_between(sl_rng *rng, int64_t low, int64_t high) {
  assert(low <= high);
  return low + (int64_t)sl_rng_below(rng, (uint64_t)(high - low) + 1);
}

int sl_rng_chance(sl_rng *rng, double p) { return sl_rng_uniform(rng) < p; }

double sl_sample_exponential(sl_rng *rng, double mean) {
  assert(mean > 0);
  double u = 1.0 - sl_rng_uniform(rng); /* (0, 1] */
  return -mean * log(u);
}

double sl_sample_normal(sl_rng *rng, double mean, double stdev) {
  double u1 = 1.0 - sl_rng_uniform(rng);
  double u2 = sl_rng_uniform(rng);
  return mean + stdev * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

int sl_zipf_init(sl_zipf *zipf, size_t n, double exponent) {
  assert(zipf != NULL && n > 0 && exponent >= 0);
  zipf->n = n;
  zipf->exponent = exponent;
  zipf->cdf = malloc(n * sizeof(double));
  if (zipf->cdf == NULL) {
    return -1;
  }
  double total = 0;
  for (size_t k = 1; k <= n; k++) {
    total += pow((double)k, -exponent);
    zipf->cdf[k - 1] = total;
  }
  for (size_t k = 0; k < n; k++) {
    zipf->cdf[k] /= total;
  }
  zipf->cdf[n - 1] = 1.0;
  return 0;
}

void sl_zipf_free(sl_zipf *zipf) {
  if (zipf != NULL) {
    free(zipf->cdf);
    zipf->cdf = NULL;
  }
}

size_t sl_zipf_sample(const sl_zipf *zipf, sl_rng *rng) {
  double u = sl_rng_uniform(rng);
  size_t low = 0;
  size_t high = zipf->n - 1;
  while (low < high) { /* first k with cdf[k] > u */
    size_t middle = low + (high - low) / 2;
    if (zipf->cdf[middle] > u) {
      high = middle;
    } else {
      low = middle + 1;
    }
  }
  return low;
}

double sl_zipf_top_share(const sl_zipf *zipf, size_t k) {
  if (k == 0) {
    return 0;
  }
  return zipf->cdf[(k > zipf->n ? zipf->n : k) - 1];
}

static double top_share(size_t n, size_t top, double exponent) {
  double head = 0;
  double total = 0;
  for (size_t k = 1; k <= n; k++) {
    double weight = pow((double)k, -exponent);
    total += weight;
    if (k <= top) {
      head += weight;
    }
  }
  return head / total;
}

double sl_zipf_fit_exponent(size_t n, double top_fraction, double share) {
  assert(n > 0 && top_fraction > 0 && top_fraction <= 1);
  size_t top = (size_t)ceil(top_fraction * (double)n);
  if (top >= n || share <= top_fraction) {
    return 0; /* uniform already gives at least that share */
  }
  double low = 0;
  double high = 8;
  for (int i = 0; i < 60; i++) {
    double middle = (low + high) / 2;
    if (top_share(n, top, middle) < share) {
      low = middle;
    } else {
      high = middle;
    }
  }
  return (low + high) / 2;
}
