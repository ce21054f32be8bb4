// Seeded random inputs for tests: reproducible on every run.
import { seededRandom } from '../../../kernel/random.js';

/** Uniform values in [-scale, scale). */
export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  const r = seededRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}

export function randomInts(n: number, max: number, seed: number): number[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, () => Math.floor(r() * max));
}

export { seededRandom as rng };
