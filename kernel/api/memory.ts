// llmnb.memory / %memory: the allocator's accounting (the truth about GPU memory: WebGPU cannot report VRAM) per
// layer and kind, or per tensor, with total live bytes, the peak and the limit.
import type { Table } from 'apache-arrow';
import { MEMORY_KINDS, type MemorySnapshot } from '../gpu/allocator.js';
import { formatBytes } from '../gpu/format.js';
import { sortLayers, zeroKinds, type KindBytes } from '../model/estimate.js';
import { memoryTable } from '../output/memory.js';
import type { TableTextOptions } from '../output/table.js';
import type { ApiContext } from './context.js';
import { tableWithNotes, withDisplay } from './display.js';
import { layerKindTable } from './layer_table.js';

export interface MemoryOptions {
  /** Per-tag peak bytes instead of live bytes. */
  peak?: boolean;
  /** One row per tensor (tag) instead of per layer. */
  byTensor?: boolean;
}

export interface MemoryReport {
  table: Table;
  liveBytes: number;
  peakBytes: number;
  limitBytes: number | null;
  /** Live (or peak, with `peak`) bytes per layer and kind. */
  layers: { layer: string; bytes: KindBytes }[];
}

export async function sessionMemory(ctx: ApiContext, opts: MemoryOptions = {}): Promise<MemoryReport> {
  const snapshot = (await ctx.session.gpu()).allocator.snapshot();
  const layers = bytesByLayer(snapshot, opts.peak ? 'peakBytes' : 'liveBytes');
  let table: Table;
  let format: TableTextOptions;
  if (opts.byTensor) {
    const rows = sortLayers([...snapshot.rows]).filter((r) => opts.peak || r.liveBytes > 0);
    table = memoryTable({ ...snapshot, rows });
    format = { maxRows: 10_000, format: { liveBytes: (v) => formatBytes(Number(v)), peakBytes: (v) => formatBytes(Number(v)) } };
  } else {
    ({ table, format } = layerKindTable(layers, MEMORY_KINDS));
  }
  const report: MemoryReport = { table, liveBytes: snapshot.liveBytes, peakBytes: snapshot.peakBytes, limitBytes: snapshot.limitBytes, layers };
  return withDisplay(report, (r) => tableWithNotes(r.table, memoryNotes(r, opts), format));
}

/** Bytes per layer and kind, summed over the tags (tensors) of each. */
export function bytesByLayer(s: MemorySnapshot, field: 'liveBytes' | 'peakBytes'): { layer: string; bytes: KindBytes }[] {
  const byLayer = new Map<string, KindBytes>();
  for (const r of s.rows) {
    if (r[field] === 0) continue;
    const k = byLayer.get(r.layer) ?? zeroKinds();
    k[r.kind] += r[field];
    byLayer.set(r.layer, k);
  }
  return sortLayers([...byLayer].map(([layer, bytes]) => ({ layer, bytes })));
}

function memoryNotes(r: MemoryReport, opts: MemoryOptions): string[] {
  const limit = r.limitBytes === null ? 'unknown (set one with %device --memory-limit SIZE)'
    : `${formatBytes(r.limitBytes)} (${((100 * r.liveBytes) / r.limitBytes).toFixed(1)}% in use)`;
  const notes = [`live ${formatBytes(r.liveBytes)}, peak ${formatBytes(r.peakBytes)}, limit ${limit}`];
  if (opts.peak) notes.push('Bytes shown are each tensor\'s own peak, summed; they may not all have been live at once (the peak above was).');
  return notes;
}
