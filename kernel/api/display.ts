// How API results show in a cell: each result object carries its own output (llmnb.display / a cell's final
// value / a magic all show the same thing), and tables come with notes (totals, limits) under their text.
import type { Table } from 'apache-arrow';
import { TEXT_MIME } from '../output/text.js';
import { DISPLAY } from '../output/display.js';
import { tableOutput, type TableTextOptions } from '../output/table.js';
import type { CellOutput } from '../notebook/format.js';

/** Attaches `output` as the value's display (non-enumerable, so inspecting or spreading the value ignores it). */
export function withDisplay<T extends object>(value: T, output: (v: T) => CellOutput): T {
  Object.defineProperty(value, DISPLAY, { value: () => output(value), enumerable: false });
  return value;
}

/** A table output (Arrow + text) whose text rendering ends with `notes` lines. */
export function tableWithNotes(table: Table, notes: string[], opts?: TableTextOptions): CellOutput {
  const out = tableOutput(table, opts);
  return {
    ...out,
    items: out.items.map((item) => (item.mime === TEXT_MIME && notes.length ? { ...item, data: `${item.data}\n\n${notes.join('\n')}` } : item)),
  };
}
