// Per-layer byte totals by memory kind as a table (Arrow + text): what %memory reads from the allocator and what
// %estimate plans. One row per layer in layer order, one column per kind shown, a total column and a total row.
import { Float64, Table, Utf8, vectorFromArray, type Vector } from 'apache-arrow';
import type { MemoryKind } from '../gpu/allocator.js';
import { formatBytes } from '../gpu/format.js';
import type { KindBytes } from '../model/estimate.js';
import type { TableTextOptions } from '../output/table.js';

export function layerKindTable(rows: { layer: string; bytes: KindBytes }[], kinds: readonly MemoryKind[]): { table: Table; format: TableTextOptions } {
  const total = (b: KindBytes) => kinds.reduce((s, k) => s + b[k], 0);
  const sum = Object.fromEntries(kinds.map((k) => [k, rows.reduce((s, r) => s + r.bytes[k], 0)])) as KindBytes;
  const all = [...rows, { layer: 'total', bytes: sum }];
  const columns: Record<string, Vector> = { layer: vectorFromArray(all.map((r) => r.layer), new Utf8()) };
  for (const k of kinds) columns[k] = vectorFromArray(all.map((r) => r.bytes[k]), new Float64());
  columns.total = vectorFromArray(all.map((r) => total(r.bytes)), new Float64());
  const bytes = (v: unknown) => (v === 0 ? '-' : formatBytes(Number(v)));
  const format = Object.fromEntries([...kinds, 'total'].map((k) => [k, bytes]));
  return { table: new Table(columns), format: { maxRows: 10_000, format } };
}
