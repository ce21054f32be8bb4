// What the memory panel shows, computed from one kernel snapshot (kernel/output/memory.ts: the allocator's rows as
// Arrow IPC plus its per-layer and per-kind live/peak): live bytes per layer and kind summed over the allocator's
// tags exactly as %memory sums them (kernel/api/memory.ts bytesByLayer), each layer's peak, and the totals.
// Plain TypeScript with no DOM, so the numbers are tested in Node against %memory and the allocator.
import { tableFromIPC } from 'apache-arrow';
import { MEMORY_KINDS, type MemoryKind } from '../../kernel/gpu/allocator.js';
import { layerOrder } from '../../kernel/model/param_specs.js';
import type { MemorySnapshotMessage } from '../../kernel/protocol.js';

export type KindBytes = Record<MemoryKind, number>;

export interface LayerRow {
  /** 'embeddings', 'block.N', 'final_norm', 'head', 'runtime'. */
  layer: string;
  /** Live bytes per kind. */
  bytes: KindBytes;
  total: number;
  /** The most this layer held at one time (since the kernel started or the peak was reset). */
  peak: number;
}

export interface PanelData {
  /** In model order; layers with live bytes, and layers that are empty now but had a peak (e.g. staging). */
  layers: LayerRow[];
  /** Sum over the layers per kind (equals the allocator's live bytes per kind). */
  totals: KindBytes;
  liveBytes: number;
  peakBytes: number;
  limitBytes: number | null;
  kinds: MemorySnapshotMessage['kinds'];
}

/** One point of the timeline: live bytes at time t and the most live at once since the previous point. */
export interface TimelinePoint { t: number; live: number; max: number }

export function zeroKinds(): KindBytes {
  return Object.fromEntries(MEMORY_KINDS.map((k) => [k, 0])) as KindBytes;
}

export function timelinePoint(s: MemorySnapshotMessage): TimelinePoint {
  return { t: s.time, live: s.liveBytes, max: s.intervalPeakBytes };
}

/** Decodes a snapshot into the panel's rows. `bytes` is the Arrow IPC file of the snapshot (base64-decoded). */
export function panelData(s: MemorySnapshotMessage, bytes: Uint8Array): PanelData {
  const table = tableFromIPC(bytes);
  const layerCol = table.getChild('layer');
  const kindCol = table.getChild('kind');
  const liveCol = table.getChild('liveBytes');
  if (!layerCol || !kindCol || !liveCol) throw new Error('memory snapshot without layer, kind or liveBytes columns');
  const live = new Map<string, KindBytes>();
  for (let i = 0; i < table.numRows; i++) {
    const bytesLive = Number(liveCol.get(i));
    if (bytesLive === 0) continue;
    const layer = String(layerCol.get(i));
    const kind = String(kindCol.get(i)) as MemoryKind;
    const k = live.get(layer) ?? zeroKinds();
    k[kind] += bytesLive;
    live.set(layer, k);
  }
  const names = new Set([...live.keys(), ...Object.keys(s.layers).filter((l) => s.layers[l].peakBytes > 0)]);
  const layers = [...names].map((layer): LayerRow => {
    const b = live.get(layer) ?? zeroKinds();
    return { layer, bytes: b, total: MEMORY_KINDS.reduce((sum, k) => sum + b[k], 0), peak: s.layers[layer]?.peakBytes ?? 0 };
  }).sort((a, b) => layerOrder(a.layer) - layerOrder(b.layer) || a.layer.localeCompare(b.layer));
  const totals = zeroKinds();
  for (const r of layers) for (const k of MEMORY_KINDS) totals[k] += r.bytes[k];
  return { layers, totals, liveBytes: s.liveBytes, peakBytes: s.peakBytes, limitBytes: s.limitBytes, kinds: s.kinds };
}

/** Base64 to bytes without Node's Buffer (the webview is a browser). */
export function base64Bytes(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
