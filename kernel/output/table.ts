// Tables: an Arrow IPC file (apache-arrow's tableToIPC) that renderers and the memory panel read, plus an
// aligned text rendering for terminals, diffs and screen readers.
import { Table, tableFromArrays, tableFromJSON, tableToIPC } from 'apache-arrow';
import { binaryItem, type CellOutput } from '../notebook/format.js';
import { TEXT_MIME } from './text.js';

export const ARROW_MIME = 'application/vnd.apache.arrow.file';

/** Column arrays (`{ name: ['a'], bytes: Float64Array.of(1) }`), row objects, or an Arrow table. */
export type TableInput = Table | Record<string, ArrayLike<unknown>> | Record<string, unknown>[];

export function toArrowTable(input: TableInput): Table {
  if (input instanceof Table) return input;
  if (Array.isArray(input)) return tableFromJSON(input as Record<string, unknown>[]);
  return tableFromArrays(input as Parameters<typeof tableFromArrays>[0]);
}

export interface TableTextOptions {
  /** Rows shown before "... N more rows" (default 50). */
  maxRows?: number;
  /** Per column: how to print a value (e.g. bytes as "8.0 KiB"). */
  format?: Record<string, (value: unknown) => string>;
}

/** The text item comes first: it is what a terminal or a host without an Arrow renderer shows. */
export function tableOutput(input: TableInput, opts: TableTextOptions = {}): CellOutput {
  const table = toArrowTable(input);
  return {
    items: [
      { mime: TEXT_MIME, data: tableText(table, opts) },
      binaryItem(ARROW_MIME, tableToIPC(table, 'file')),
    ],
  };
}

/** Columns separated by two spaces, numbers right-aligned, a dashed line under the header. */
export function tableText(table: Table, opts: TableTextOptions = {}): string {
  const maxRows = opts.maxRows ?? 50;
  const names = table.schema.fields.map((f) => f.name);
  const shown = Math.min(table.numRows, maxRows);
  const columns = names.map((name) => {
    const vector = table.getChild(name);
    const fmt = opts.format?.[name] ?? formatValue;
    const values: unknown[] = [];
    for (let r = 0; r < shown; r++) values.push(vector?.get(r));
    const numeric = values.length > 0 && values.every((v) => v === null || typeof v === 'number' || typeof v === 'bigint');
    const cells = values.map((v) => (v === null || v === undefined ? '' : fmt(v)));
    const width = Math.max(name.length, ...cells.map((c) => c.length));
    return { name, cells, width, numeric };
  });
  const pad = (s: string, width: number, right: boolean) => (right ? s.padStart(width) : s.padEnd(width));
  const lines = [
    columns.map((c) => pad(c.name, c.width, c.numeric)).join('  ').trimEnd(),
    columns.map((c) => '-'.repeat(c.width)).join('  '),
  ];
  for (let r = 0; r < shown; r++) lines.push(columns.map((c) => pad(c.cells[r], c.width, c.numeric)).join('  ').trimEnd());
  if (table.numRows > shown) lines.push(`... ${table.numRows - shown} more rows`);
  return lines.join('\n');
}

function formatValue(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  if (typeof v === 'bigint' || typeof v === 'string' || typeof v === 'boolean') return String(v);
  if (v instanceof Date) return v.toISOString();
  // Arrow list values are vectors; show them like arrays, e.g. a shape [64, 64].
  if (v !== null && typeof v === 'object' && 'toArray' in v && typeof v.toArray === 'function') {
    return `[${Array.from(v.toArray() as ArrayLike<unknown>, formatValue).join(', ')}]`;
  }
  return JSON.stringify(v) ?? String(v);
}
