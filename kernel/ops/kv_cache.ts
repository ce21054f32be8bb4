// KV cache update: the keys (or values) of new tokens are copied into the cache at their positions. For each
// sequence b the rows posOffset..posOffset+T-1 of cache [B, S, KV, Dh] are contiguous, so this is one buffer copy
// per sequence and needs no kernel.
import type { Gpu } from '../gpu/context.js';
import { Tensor, fmtShape } from '../gpu/tensor.js';
import { ShapeMismatchError, UsageError } from '../errors.js';
import { requireF32 } from './elementwise.js';

/** Writes fresh: [B, T, KV, Dh] f32 into cache: [B, S, KV, Dh] f32 at positions posOffset..posOffset+T-1. */
export function writeKvCache(gpu: Gpu, cache: Tensor, fresh: Tensor, posOffset: number): void {
  requireF32(cache, 'writeKvCache cache');
  requireF32(fresh, 'writeKvCache new keys/values');
  if (cache.shape.length !== 4 || fresh.shape.length !== 4 || cache.shape[0] !== fresh.shape[0]
    || cache.shape[2] !== fresh.shape[2] || cache.shape[3] !== fresh.shape[3]) {
    throw new ShapeMismatchError(`writeKvCache: new entries ${fmtShape(fresh.shape)} do not fit cache ${fmtShape(cache.shape)}`,
      'Expected fresh [B, T, KV, Dh] and cache [B, S, KV, Dh] with the same B, KV and Dh.');
  }
  const [B, S, KV, Dh] = cache.shape;
  const T = fresh.shape[1];
  if (!Number.isInteger(posOffset) || posOffset < 0 || posOffset + T > S) {
    throw new UsageError(`writeKvCache: positions ${posOffset}..${posOffset + T - 1} are outside the cache (${S} positions)`,
      'Allocate the cache for the full context, or start a new sequence.');
  }
  const rowBytes = KV * Dh * 4;
  for (let b = 0; b < B; b++) {
    gpu.copy(fresh.buffer, b * T * rowBytes, cache.buffer, (b * S + posOffset) * rowBytes, T * rowBytes);
  }
}
