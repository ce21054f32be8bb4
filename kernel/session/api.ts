// The `llmnb` namespace that cells see. Everything a magic does is reachable from here too, so a notebook can
// script what a magic does (loops over learning rates, custom evaluation). Runtime modules add their functions
// to this object, one line each, as they land.
import * as errors from '../errors.js';
import type { Gpu } from '../gpu/context.js';
import { formatBytes, parseBytes } from '../gpu/format.js';
import type { Progress, ProgressOptions } from '../output/progress.js';
import type { TableInput, TableTextOptions } from '../output/table.js';
import type { Session } from '../session.js';

export interface CellApi {
  /** A cancellation point for long loops: throws CancelledError after an interrupt; lets the kernel hear it. */
  step(): Promise<void>;
  /** Throws CancelledError if the user interrupted the cell (no yield). */
  checkCancelled(): void;
  /** Shows a value in the cell's output (like a final expression). */
  display(value: unknown): void;
  /** Shows a table: Arrow table, column arrays or row objects. */
  table(input: TableInput, opts?: TableTextOptions): void;
  /** A progress line updated in place: `const p = llmnb.progress({ label: 'train', total: 100 }); p.update(i)`. */
  progress(opts: ProgressOptions): Progress;
  /** Runs a magic line: `await llmnb.magic('%device')`. */
  magic(line: string): Promise<void>;
  /** The session's GPU context (opened when the kernel starts). */
  gpu(): Promise<Gpu>;
  formatBytes(bytes: number): string;
  parseBytes(text: string): number;
  /** The typed errors, for `catch (e) { if (e instanceof llmnb.errors.OutOfMemoryError) ... }`. */
  errors: typeof errors;
}

export function createCellApi(session: Session): CellApi {
  return Object.freeze({
    step: () => session.step(),
    checkCancelled: () => session.checkCancelled(),
    display: (value: unknown) => session.writer().display(value),
    table: (input: TableInput, opts?: TableTextOptions) => session.writer().table(input, opts),
    progress: (opts: ProgressOptions) => session.writer().progress(opts),
    magic: (line: string) => session.runMagic(line.replace(/^\s*%/, '')),
    gpu: () => session.gpu(),
    formatBytes,
    parseBytes,
    errors,
  });
}
