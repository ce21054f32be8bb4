// What a magic is: a name, a summary, a flag spec, and a `run` that calls the runtime API. See registry.ts for the
// contract a magic follows.
import type { CellWriter } from '../output/writer.js';
import type { Session } from '../session.js';
import type { ParamsSpec, ParsedArgs } from './parse.js';

export interface MagicContext {
  /** The notebook's session: `session.bind('model', m)`, `await session.gpu()`, `session.cwd`. */
  session: Session;
  /** Outputs of the running cell: text, tables, progress, display. */
  out: CellWriter;
  /** A cancellation point: throws CancelledError after an interrupt, and lets IPC messages through. Await it
   *  between steps of anything long. */
  step(): Promise<void>;
  /** Everything after the first line, for a cell magic (`%%name` starts the cell); undefined for a line magic. */
  body?: string;
}

export interface MagicDefinition<S extends ParamsSpec> {
  /** Without the %: 'load_model'. */
  name: string;
  /** One line for %help. */
  summary: string;
  params: S;
  /** 'line': `%name` (default). 'cell': `%%name` with a body. 'both': either. */
  form?: 'line' | 'cell' | 'both';
  /** A longer description and examples for `%help name`. */
  details?: string;
  run(args: ParsedArgs<S>, ctx: MagicContext): Promise<void> | void;
}

/** A magic as the registry holds it (its argument types erased). */
export interface Magic {
  name: string;
  summary: string;
  params: ParamsSpec;
  form: 'line' | 'cell' | 'both';
  details?: string;
  run(args: Record<string, unknown>, ctx: MagicContext): Promise<void> | void;
}

/** Declares a magic; `args` in `run` is typed from `params` (literal types kept for enums). */
export function defineMagic<const S extends ParamsSpec>(def: MagicDefinition<S>): Magic {
  return { ...def, form: def.form ?? 'line', run: def.run as Magic['run'] };
}
