// Cell errors. An LlmnbError shows its one-line message and its hint, never a stack: it is a condition the user can
// act on. Any other error shows name, message and the first frame in the user's cell code (kernel internals are
// noise to the user). Cell scripts are named `cell N` (see kernel/session/rewrite.ts), which is how their frames
// are recognised.
import { LlmnbError } from '../errors.js';
import type { CellOutput } from '../notebook/format.js';
import type { ErrorInfo } from '../protocol.js';
import { TEXT_MIME } from './text.js';

/** VS Code's error output mime: JSON {name, message, stack}. */
export const ERROR_MIME = 'application/vnd.code.notebook.error';
const CELL_FRAME = /\bcell \d+:\d+(?::\d+)?/;

export function errorInfo(e: unknown): ErrorInfo {
  if (e instanceof LlmnbError) return { name: e.name, message: e.message, hint: e.hint };
  // Errors thrown by cell code come from the vm context's own Error class, so no instanceof here.
  if (e !== null && typeof e === 'object' && 'message' in e) {
    const err = e as { name?: unknown; message?: unknown; stack?: unknown; hint?: unknown };
    const name = typeof err.name === 'string' && err.name ? err.name : 'Error';
    const message = String(err.message);
    const hint = typeof err.hint === 'string' ? err.hint : '';
    const frame = typeof err.stack === 'string' ? err.stack.split('\n').find((l) => /^\s+at /.test(l) && CELL_FRAME.test(l)) : undefined;
    return { name, message, hint, ...(frame ? { stack: `${name}: ${message}\n${frame}` } : {}) };
  }
  return { name: 'Error', message: `a value that is not an Error was thrown: ${describeThrown(e)}`, hint: '' };
}

export function errorText(info: ErrorInfo): string {
  const lines = [info.stack ?? `${info.name}: ${info.message}`];
  if (info.hint) lines.push(`hint: ${info.hint}`);
  return lines.join('\n');
}

/** An output showing the error: VS Code's error item (rendered with its stack field) plus the text rendering. */
export function errorOutput(info: ErrorInfo): CellOutput {
  const stack = errorText(info);
  return {
    items: [
      { mime: ERROR_MIME, data: JSON.stringify({ name: info.name, message: info.message, stack }) },
      { mime: TEXT_MIME, data: stack },
    ],
  };
}

function describeThrown(v: unknown): string {
  try {
    return typeof v === 'string' ? JSON.stringify(v) : String(v);
  } catch {
    return typeof v;
  }
}
