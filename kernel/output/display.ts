// How a value is shown: a cell's final expression, `llmnb.display(value)`. Arrow tables become tables; an
// object can choose its own output by implementing the DISPLAY method; anything else is shown like Node's REPL.
import { inspect } from 'node:util';
import { Table } from 'apache-arrow';
import type { CellOutput } from '../notebook/format.js';
import { tableOutput } from './table.js';
import { textOutput } from './text.js';

/** `value[DISPLAY]()` returns the CellOutput that shows the value (e.g. a tensor's summary table). */
export const DISPLAY = Symbol.for('llmnb.display');

interface Displayable { [DISPLAY](): CellOutput }

function isDisplayable(v: unknown): v is Displayable {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as Partial<Displayable>)[DISPLAY] === 'function';
}

/** The output for `value`, or null for undefined (a statement's value shows nothing, as in the REPL). */
export function displayOutput(value: unknown): CellOutput | null {
  if (value === undefined) return null;
  if (value instanceof Table) return tableOutput(value);
  if (isDisplayable(value)) return value[DISPLAY]();
  return textOutput(inspect(value, { depth: 3, maxArrayLength: 50, maxStringLength: 10_000, breakLength: 100 }));
}
