// Activation pool: buffers of tensors that were disposed wait here, tagged as idle cache, and are handed out
// again for the same byte size (shapes repeat step after step, so exact sizes match). Like PyTorch's caching
// allocator, idle bytes stay visible in the accounting until `trim` releases them.
import type { MemoryTag, TrackedBuffer } from './allocator.js';
import type { Gpu } from './context.js';

export const IDLE_TAG: MemoryTag = { layer: 'runtime', tensor: 'activation cache (idle)', kind: 'activations' };

export class BufferPool {
  private readonly free = new Map<number, TrackedBuffer[]>();
  private idle = 0;

  constructor(private readonly gpu: Gpu) {}

  get idleBytes(): number { return this.idle; }

  /** A buffer of exactly `bytes` (rounded up to 4), contents undefined: the caller overwrites it. */
  acquire(bytes: number, tag: MemoryTag): TrackedBuffer {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const list = this.free.get(size);
    const buf = list?.pop();
    if (buf) {
      this.idle -= buf.bytes;
      this.gpu.allocator.retag(buf, tag);
      return buf;
    }
    return this.gpu.createBuffer(size, tag);
  }

  /** Returns a buffer for reuse. Work already recorded that reads it stays correct: the queue runs in order. */
  release(buf: TrackedBuffer): void {
    this.gpu.allocator.retag(buf, IDLE_TAG);
    const list = this.free.get(buf.bytes) ?? [];
    list.push(buf);
    this.free.set(buf.bytes, list);
    this.idle += buf.bytes;
  }

  /** Destroys idle buffers, largest first, until `bytes` are released (all by default). Returns bytes released. */
  trim(bytes = Infinity): number {
    if (this.idle === 0) return 0;
    this.gpu.flush();
    let released = 0;
    for (const size of [...this.free.keys()].sort((a, b) => b - a)) {
      const list = this.free.get(size)!;
      while (list.length && released < bytes) {
        const buf = list.pop()!;
        this.gpu.allocator.destroy(buf);
        this.idle -= buf.bytes;
        released += buf.bytes;
      }
      if (!list.length) this.free.delete(size);
      if (released >= bytes) break;
    }
    return released;
  }
}
