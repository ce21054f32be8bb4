// The magics a notebook knows, in the order %help lists them.
//
// The magic contract (how to add one: one file here + one line in MAGICS):
// 1. kernel/magics/<name>.ts default-exports `defineMagic({ name, summary, params, run })` (./types.ts).
//    `params` declares every positional argument and flag (./parse.ts: int, float, string, bool, enum, path,
//    bytes, list; `default`, `required`, `positional`, `min`/`max`). Keys are camelCase; the flag is kebab-case
//    (`maxTokens` -> `--max-tokens`). Parsing is strict and done before `run`: an unknown flag or a bad value is a
//    UsageError naming the flag and listing the valid ones; `args` arrives typed and converted (paths resolved
//    against the notebook's folder, sizes in bytes, defaults filled in).
// 2. `run(args, ctx)` is thin: it calls the same runtime API function that a cell could call (so everything a
//    magic does is scriptable) and writes the result with `ctx.out` (text, table as Arrow + text, progress line
//    updated in place, display). It binds what it creates with `ctx.session.bind('model', m)`.
// 3. Long work awaits `ctx.step()` between steps (layers, batches, chunks): that is where an interrupt stops it
//    (CancelledError) and how the kernel keeps hearing the host. Leave state consistent at every step boundary.
// 4. Errors are typed (kernel/errors.ts) with a message that says what went wrong and a hint that says what to
//    do; never print-and-continue. The GPU: `await ctx.session.gpu()`.
// 5. `form: 'cell'` makes it a cell magic (`%%name` first line; `ctx.body` is the rest of the cell).
// 6. Test it in test/unit/ through a Session (test/unit/session.test.ts shows how), and in the VS Code suite
//    (test/integration/) when it has UI-visible output.
import classify from './classify.js';
import device from './device.js';
import estimate from './estimate.js';
import generate from './generate.js';
import help from './help.js';
import loadInplace from './load_inplace.js';
import loadModel from './load_model.js';
import memory from './memory.js';
import replaceHead from './replace_head.js';
import save from './save.js';
import tensors from './tensors.js';
import train from './train.js';
import evalMagic from './eval.js';
import type { Magic } from './types.js';

export const MAGICS: readonly Magic[] = [
  help,
  device,
  loadModel,
  tensors,
  memory,
  estimate,
  generate,
  replaceHead,
  train,
  evalMagic,
  classify,
  loadInplace,
  save,
];
