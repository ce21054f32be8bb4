// The allocator: every GPU buffer is created here with a tag {layer, tensor, kind}. WebGPU cannot report VRAM,
// so these numbers are what the user sees (panel, %memory, %estimate, benchmarks): live and peak bytes per tag
// and in total, exact to the byte of every buffer created.
import { OutOfMemoryError } from '../errors.js';
import { formatBytes } from './format.js';

export const MEMORY_KINDS = ['weights', 'grads', 'optimizer', 'activations', 'staging', 'other'] as const;
export type MemoryKind = (typeof MEMORY_KINDS)[number];

export interface MemoryTag {
  /** 'embeddings', 'block.N', 'final_norm', 'head', or 'runtime' for buffers that belong to no layer. */
  layer: string;
  /** Parameter name (HF) or a short description ('attention scores', 'staging chunk'). */
  tensor: string;
  kind: MemoryKind;
}

export interface MemoryRow extends MemoryTag {
  liveBytes: number;
  peakBytes: number;
  buffers: number;
}

export interface MemorySnapshot {
  rows: MemoryRow[];
  liveBytes: number;
  peakBytes: number;
  /** Live and peak bytes of each kind (a kind's peak is the most it held at one time, not a sum of tag peaks). */
  kinds: Record<MemoryKind, { liveBytes: number; peakBytes: number }>;
  /** The same per layer. */
  layers: Record<string, { liveBytes: number; peakBytes: number }>;
  /** The budget the allocator enforces, or null when unknown (real GPUs do not report VRAM). */
  limitBytes: number | null;
  /** Largest single buffer the device accepts. */
  maxBufferBytes: number;
}

/** A GPU buffer that the allocator accounts for. Destroy it through `Allocator.destroy`. */
export interface TrackedBuffer {
  readonly buffer: GPUBuffer;
  readonly bytes: number;
  tag: MemoryTag;
  destroyed: boolean;
}

interface TagStats { tag: MemoryTag; live: number; peak: number; buffers: number }

const key = (t: MemoryTag) => `${t.layer}\u0000${t.tensor}\u0000${t.kind}`;

export class Allocator {
  private readonly stats = new Map<string, TagStats>();
  private readonly kindStats = new Map<MemoryKind, { live: number; peak: number }>();
  private readonly layerStats = new Map<string, { live: number; peak: number }>();
  private live = 0;
  private peak = 0;
  private listeners = new Set<() => void>();
  /** Called before an allocation that would exceed the limit, to release cached buffers. */
  reclaim: (bytesNeeded: number) => number = () => 0;

  constructor(
    private readonly device: GPUDevice,
    readonly maxBufferBytes: number,
    public limitBytes: number | null,
  ) {}

  /** Creates a buffer of `bytes` (rounded up to 4) with the given usage. Throws OutOfMemoryError past the limit. */
  create(bytes: number, usage: GPUBufferUsageFlags, tag: MemoryTag, mappedAtCreation = false): TrackedBuffer {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    if (size > this.maxBufferBytes) {
      throw new OutOfMemoryError(
        `a single buffer of ${formatBytes(size)} for ${tag.tensor} exceeds the device's maximum buffer size (${formatBytes(this.maxBufferBytes)})`,
        this.breakdown(), 'This tensor must be split; report this as a bug with the model config.');
    }
    if (this.limitBytes !== null && this.live + size > this.limitBytes) {
      this.reclaim(this.live + size - this.limitBytes);
      if (this.live + size > this.limitBytes) {
        throw new OutOfMemoryError(
          `out of GPU memory: ${tag.kind} ${tag.tensor} (${tag.layer}) needs ${formatBytes(size)}, ` +
          `${formatBytes(this.live)} of ${formatBytes(this.limitBytes)} in use`,
          this.breakdown(),
          'Free memory (e.g. a smaller --batch or --max-length, --grad-checkpoint, fewer trainable layers), or raise the limit with %device --memory-limit if the GPU has more.');
      }
    }
    const buffer = this.device.createBuffer({ size, usage, mappedAtCreation, label: `${tag.layer}/${tag.tensor}/${tag.kind}` });
    const tracked: TrackedBuffer = { buffer, bytes: size, tag, destroyed: false };
    this.add(tag, size, 1);
    return tracked;
  }

  /** Moves a live buffer's bytes to another tag (e.g. an activation handed to the idle pool). */
  retag(buf: TrackedBuffer, tag: MemoryTag): void {
    if (buf.destroyed) throw new Error(`retag of destroyed buffer ${buf.tag.tensor}`);
    this.add(buf.tag, -buf.bytes, -1);
    buf.tag = tag;
    this.add(tag, buf.bytes, 1);
  }

  /** Destroys the buffer and releases its bytes. The caller must have submitted any work that uses it. */
  destroy(buf: TrackedBuffer): void {
    if (buf.destroyed) return;
    buf.destroyed = true;
    buf.buffer.destroy();
    this.add(buf.tag, -buf.bytes, -1);
  }

  get liveBytes(): number { return this.live; }
  get peakBytes(): number { return this.peak; }

  /** Starts a new peak measurement from the current live bytes (per tag and in total). */
  resetPeak(): void {
    this.peak = this.live;
    for (const [k, s] of this.stats) {
      if (s.live === 0) this.stats.delete(k);
      else s.peak = s.live;
    }
    for (const m of [this.kindStats, this.layerStats] as Map<unknown, { live: number; peak: number }>[]) {
      for (const [k, s] of m) {
        if (s.live === 0) m.delete(k);
        else s.peak = s.live;
      }
    }
  }

  snapshot(): MemorySnapshot {
    const rows: MemoryRow[] = [...this.stats.values()]
      .filter((s) => s.live > 0 || s.peak > 0)
      .map((s) => ({ ...s.tag, liveBytes: s.live, peakBytes: s.peak, buffers: s.buffers }));
    const kinds = Object.fromEntries(MEMORY_KINDS.map((k) => {
      const s = this.kindStats.get(k);
      return [k, { liveBytes: s?.live ?? 0, peakBytes: s?.peak ?? 0 }];
    })) as MemorySnapshot['kinds'];
    const layers = Object.fromEntries([...this.layerStats].map(([l, s]) => [l, { liveBytes: s.live, peakBytes: s.peak }]));
    return { rows, liveBytes: this.live, peakBytes: this.peak, kinds, layers, limitBytes: this.limitBytes, maxBufferBytes: this.maxBufferBytes };
  }

  /** Live bytes summed per layer and kind, for error messages. */
  breakdown(): string {
    const perLayer = new Map<string, Map<MemoryKind, number>>();
    for (const s of this.stats.values()) {
      if (s.live === 0) continue;
      const m = perLayer.get(s.tag.layer) ?? new Map<MemoryKind, number>();
      m.set(s.tag.kind, (m.get(s.tag.kind) ?? 0) + s.live);
      perLayer.set(s.tag.layer, m);
    }
    return ['In use per layer:', ...[...perLayer].map(([layer, kinds]) =>
      `  ${layer}: ${[...kinds].map(([k, b]) => `${k} ${formatBytes(b)}`).join(', ')}`)].join('\n');
  }

  /** Listeners run synchronously after every change; throttle in the listener. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private add(tag: MemoryTag, bytes: number, buffers: number): void {
    const k = key(tag);
    let s = this.stats.get(k);
    if (!s) { s = { tag: { ...tag }, live: 0, peak: 0, buffers: 0 }; this.stats.set(k, s); }
    s.live += bytes;
    s.buffers += buffers;
    if (s.live > s.peak) s.peak = s.live;
    bump(this.kindStats, tag.kind, bytes);
    bump(this.layerStats, tag.layer, bytes);
    this.live += bytes;
    if (this.live > this.peak) this.peak = this.live;
    for (const l of this.listeners) l();
  }
}

function bump<K>(m: Map<K, { live: number; peak: number }>, k: K, bytes: number): void {
  let s = m.get(k);
  if (!s) { s = { live: 0, peak: 0 }; m.set(k, s); }
  s.live += bytes;
  if (s.live > s.peak) s.peak = s.live;
}
