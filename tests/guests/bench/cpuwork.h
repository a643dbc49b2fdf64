/*
 * cpuwork.h - the CPU-bound work of the benchmark guest, shared with the
 * native build of the same loop (bench/cpu-native.c) so that both run the
 * very same code: SHA-256 over a 4 KiB buffer of pseudo-random bytes per
 * unit of work. A hash is real work (loads, rotates, adds, table lookups);
 * a dependent-chain loop would hide emulation cost (see bench/README.md).
 *
 * Freestanding: no libc, no struct copies the compiler could turn into a
 * memcpy call.
 */
#ifndef CPUWORK_H
#define CPUWORK_H

#include <stdint.h>

#define CPUWORK_BYTES 4096
#define CPUWORK_BLOCKS (CPUWORK_BYTES / 64)

struct cpuwork {
	uint32_t state[8];
	uint8_t buf[CPUWORK_BYTES];
};

static const uint32_t cpuwork_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t cpuwork_ror(uint32_t x, unsigned n)
{
	return x >> n | x << (32 - n);
}

/* The message schedule of one 64-byte block (big-endian words). */
static void cpuwork_schedule(const uint8_t *p, uint32_t *w)
{
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = cpuwork_ror(w[i - 15], 7) ^ cpuwork_ror(w[i - 15], 18) ^ w[i - 15] >> 3;
		uint32_t s1 = cpuwork_ror(w[i - 2], 17) ^ cpuwork_ror(w[i - 2], 19) ^ w[i - 2] >> 10;

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
}

/* The SHA-256 compression function on one block. */
static void cpuwork_block(uint32_t *h, const uint8_t *p)
{
	uint32_t w[64], v[8];

	cpuwork_schedule(p, w);
	for (int i = 0; i < 8; i++)
		v[i] = h[i];
	for (int i = 0; i < 64; i++) {
		uint32_t s1 = cpuwork_ror(v[4], 6) ^ cpuwork_ror(v[4], 11) ^ cpuwork_ror(v[4], 25);
		uint32_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
		uint32_t t1 = v[7] + s1 + ch + cpuwork_k[i] + w[i];
		uint32_t s0 = cpuwork_ror(v[0], 2) ^ cpuwork_ror(v[0], 13) ^ cpuwork_ror(v[0], 22);
		uint32_t maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);

		for (int j = 7; j > 0; j--)
			v[j] = v[j - 1];
		v[4] += t1;
		v[0] = t1 + s0 + maj;
	}
	for (int i = 0; i < 8; i++)
		h[i] += v[i];
}

/* The SHA-256 initial state and a buffer of xorshift32 bytes. */
static void cpuwork_init(struct cpuwork *cw)
{
	static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	uint32_t x = 0x2545f491;

	for (int i = 0; i < 8; i++)
		cw->state[i] = iv[i];
	for (int i = 0; i < CPUWORK_BYTES; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		cw->buf[i] = (uint8_t)x;
	}
}

/*
 * One unit of work: hash the whole buffer into the running state. The state
 * carries over, so no unit can be skipped or hoisted, and the final state is
 * a checksum of the run that the guest and the native build must agree on.
 */
static void cpuwork_unit(struct cpuwork *cw)
{
	for (int b = 0; b < CPUWORK_BLOCKS; b++)
		cpuwork_block(cw->state, cw->buf + 64 * b);
}

#endif
