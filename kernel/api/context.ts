// What the notebook API functions (llmnb.loadModel, llmnb.save, ...) work with: the session (its GPU and the
// `model` / `tokenizer` bindings), the running cell's output, and the cancellation point. A magic's context is
// one; a cell gets one from `cellContext`, so a magic and the API call it wraps behave the same.
import { UsageError } from '../errors.js';
import { LlamaModel } from '../model/llama.js';
import { LlamaTokenizer } from '../model/tokenizer.js';
import type { CellWriter } from '../output/writer.js';
import type { Session } from '../session.js';

export interface ApiContext {
  session: Session;
  out: CellWriter;
  /** Throws CancelledError after an interrupt; await it between steps of anything long. */
  step(): Promise<void>;
}

/** The context of an API call made from cell code (writes to the running cell). */
export function cellContext(session: Session): ApiContext {
  return { session, out: session.writer(), step: () => session.step() };
}

/** The model that cells see as `model`; a UsageError when there is none. */
export function boundModel(ctx: ApiContext): LlamaModel {
  const model = ctx.session.bound('model');
  if (!(model instanceof LlamaModel)) {
    throw new UsageError(model === undefined ? 'no model is loaded' : '`model` is not a Llama model (a cell assigned something else to it)',
      'Load one first: %load_model PATH|PRESET (or `model = (await llmnb.loadModel(...)).model`).');
  }
  return model;
}

/** The tokenizer that cells see as `tokenizer`; a UsageError when there is none. */
export function boundTokenizer(ctx: ApiContext): LlamaTokenizer {
  const tokenizer = ctx.session.bound('tokenizer');
  if (!(tokenizer instanceof LlamaTokenizer)) {
    throw new UsageError('no tokenizer is loaded', '%load_model binds `tokenizer` along with `model`.');
  }
  return tokenizer;
}
