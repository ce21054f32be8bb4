// What a model needs in GPU memory, per layer and kind, computed from shapes alone: works on an empty model
// (nothing allocated) and counts exactly what the allocator will account once the tensors are resident
// (Parameter.allocatedBytes: each buffer part padded to 4 bytes). Other planners (the trainer's grads, optimizer
// state and activations) produce the same MemoryEstimate shape and are merged with `mergeEstimates`.
import { MEMORY_KINDS, type MemoryKind } from '../gpu/allocator.js';
import type { LlamaModel } from './llama.js';
import { layerOrder } from './param_specs.js';

export type KindBytes = Record<MemoryKind, number>;

export interface LayerEstimate {
  /** 'embeddings', 'block.N', 'final_norm', 'head', 'runtime'. */
  layer: string;
  bytes: KindBytes;
}

export interface MemoryEstimate {
  /** In layer order. */
  layers: LayerEstimate[];
  /** One line each: what the numbers assume (e.g. "weights: 30 tensors in bf16"). */
  notes: string[];
}

export function zeroKinds(): KindBytes {
  return Object.fromEntries(MEMORY_KINDS.map((k) => [k, 0])) as KindBytes;
}

/** Bytes of the model's weights per layer, resident or not. */
export function weightsEstimate(model: LlamaModel): MemoryEstimate {
  const byLayer = new Map<string, KindBytes>();
  const params = model.parameters();
  for (const p of params) {
    const k = byLayer.get(p.layer) ?? zeroKinds();
    k.weights += p.allocatedBytes;
    byLayer.set(p.layer, k);
  }
  const numel = params.reduce((s, p) => s + p.numel, 0);
  return {
    layers: sortLayers([...byLayer].map(([layer, bytes]) => ({ layer, bytes }))),
    notes: [`weights: ${params.length} tensors, ${numel.toLocaleString('en-US')} parameters in ${model.dtype}`],
  };
}

/** Sums estimates layer by layer and kind by kind; notes are concatenated. */
export function mergeEstimates(...parts: MemoryEstimate[]): MemoryEstimate {
  const byLayer = new Map<string, KindBytes>();
  for (const part of parts) {
    for (const l of part.layers) {
      const k = byLayer.get(l.layer) ?? zeroKinds();
      for (const kind of MEMORY_KINDS) k[kind] += l.bytes[kind];
      byLayer.set(l.layer, k);
    }
  }
  return { layers: sortLayers([...byLayer].map(([layer, bytes]) => ({ layer, bytes }))), notes: parts.flatMap((p) => p.notes) };
}

export function estimateTotal(e: MemoryEstimate): number {
  return e.layers.reduce((s, l) => s + MEMORY_KINDS.reduce((t, k) => t + l.bytes[k], 0), 0);
}

export function sortLayers<T extends { layer: string }>(rows: T[]): T[] {
  return rows.sort((a, b) => layerOrder(a.layer) - layerOrder(b.layer) || a.layer.localeCompare(b.layer));
}
