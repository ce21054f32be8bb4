// Key/value cache for decoding: per block, K and V of every position seen so far, so each new token costs one
// token's forward instead of the whole prefix.
import type { Gpu } from '../gpu/context.js';
import { Tensor } from '../gpu/tensor.js';
import type { LlamaConfig } from './config.js';

export class KvCache {
  /** Per block: [B, capacity, KV, Dh] f32. */
  readonly k: Tensor[] = [];
  readonly v: Tensor[] = [];
  /** Positions filled so far (the same for every sequence of the batch). */
  length = 0;

  constructor(gpu: Gpu, config: LlamaConfig, readonly batch: number, readonly capacity: number) {
    for (let i = 0; i < config.numLayers; i++) {
      const shape = [batch, capacity, config.numKvHeads, config.headDim];
      this.k.push(Tensor.alloc(gpu, shape, 'f32', { layer: `block.${i}`, tensor: 'kv cache (keys)', kind: 'activations' }));
      this.v.push(Tensor.alloc(gpu, shape, 'f32', { layer: `block.${i}`, tensor: 'kv cache (values)', kind: 'activations' }));
    }
  }

  dispose(): void {
    for (const t of [...this.k, ...this.v]) t.dispose();
  }
}
