/**
 * The seeded pseudo-random generator behind every random choice of the tree trainer (bin sample,
 * row subsample, column sample), so the same data, parameters and seed give the same model.
 *
 * mulberry32 (a public-domain generator): a 32-bit state advanced by a Weyl increment and mixed by
 * two multiply–xorshift rounds. Its period (2^32) and quality are ample for the few million draws of a
 * training run, and it is a few lines of 32-bit integer arithmetic that give the same stream on every
 * JavaScript engine (unlike `Math.random`, which cannot be seeded).
 */

/** A deterministic stream of random numbers. */
export interface Prng {
  /** An unsigned 32-bit integer. */
  nextUint32(): number;
  /** A float in [0, 1) with 32 random bits. */
  nextFloat(): number;
  /** An integer in [0, n) for 1 <= n <= 2^32, without modulo bias. */
  nextInt(n: number): number;
}

/** A mulberry32 generator started from `seed` (any number; only its low 32 bits are used). */
export function createPrng(seed: number): Prng {
  let state = seed >>> 0;
  const nextUint32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return {
    nextUint32,
    nextFloat: () => nextUint32() / 4294967296,
    nextInt: (n: number): number => {
      // Rejection sampling: discard the top partial block of 2^32 so every residue is equally likely.
      const limit = 4294967296 - (4294967296 % n);
      for (;;) {
        const x = nextUint32();
        if (x < limit) return x % n;
      }
    },
  };
}

/**
 * A seed for an independent sub-stream: the trainer derives one per purpose (bins, rows, columns) so
 * adding draws to one purpose never shifts the others.
 */
export function deriveSeed(seed: number, stream: number): number {
  // One splitmix32-style finaliser over the pair, so nearby (seed, stream) pairs are far apart.
  let z = (Math.imul(seed >>> 0, 0x9e3779b9) + Math.imul(stream + 1, 0x85ebca6b)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Shuffles `items` in place (Fisher–Yates, from the end), drawing from `prng`. */
export function shuffleInPlace<T>(items: { length: number; [index: number]: T }, prng: Prng): void {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = prng.nextInt(i + 1);
    const t = items[i] as T;
    items[i] = items[j] as T;
    items[j] = t;
  }
}
