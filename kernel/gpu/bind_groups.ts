// Bind groups reused across dispatches. Creating one costs ~25 us of host time in dawn-node, more than recording
// the dispatch itself, and a decode step repeats the same ~70 dispatches (same kernels, same pooled buffers, same
// param slots) token after token. Least recently used groups are dropped beyond `capacity`; a group whose buffer
// was destroyed is never asked for again (a destroyed buffer cannot be bound) and ages out.
import type { Kernel } from './pipelines.js';

/** The params binding of a dispatch: a slice of the params arena. */
export interface ParamsBinding {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}

export class BindGroupCache {
  private readonly groups = new Map<string, GPUBindGroup>();
  private readonly ids = new WeakMap<GPUBuffer, number>();
  private nextId = 0;

  constructor(private readonly device: GPUDevice, private readonly capacity = 4096) {}

  /** Storage `buffers` at bindings 0..n-1 and `params` (if any) at binding n, for kernel `k`. */
  get(k: Kernel, buffers: GPUBuffer[], params: ParamsBinding | null): GPUBindGroup {
    let key = k.name;
    for (const b of buffers) key += `|${this.id(b)}`;
    if (params) key += `|p${params.offset}:${params.size}`;
    const hit = this.groups.get(key);
    if (hit) {
      // Re-inserted: a Map iterates in insertion order, so the first key is the least recently used.
      this.groups.delete(key);
      this.groups.set(key, hit);
      return hit;
    }
    const entries: GPUBindGroupEntry[] = buffers.map((buffer, binding) => ({ binding, resource: { buffer } }));
    if (params) entries.push({ binding: buffers.length, resource: params });
    const group = this.device.createBindGroup({ layout: k.layout, entries });
    this.groups.set(key, group);
    if (this.groups.size > this.capacity) this.groups.delete(this.groups.keys().next().value as string);
    return group;
  }

  get size(): number {
    return this.groups.size;
  }

  private id(b: GPUBuffer): number {
    let id = this.ids.get(b);
    if (id === undefined) this.ids.set(b, (id = this.nextId++));
    return id;
  }
}
