// llmnb.save / %save: writes the bound model as safetensors (streamed, atomic; see model/save.ts) with progress
// and cancellation between tensors.
import { formatBytes } from '../gpu/format.js';
import { resolvePath } from '../magics/parse.js';
import { saveModel, type SaveReport } from '../model/save.js';
import { textOutput } from '../output/text.js';
import { boundModel, type ApiContext } from './context.js';
import { withDisplay } from './display.js';
import { throughput, transferProgress } from './transfer_progress.js';

export interface SaveApiOptions {
  /** Only trainable parameters (load them later with %load_inplace FILE --partial). */
  trainableOnly?: boolean;
  chunkBytes?: number;
}

export async function sessionSave(ctx: ApiContext, target: string, opts: SaveApiOptions = {}): Promise<SaveReport> {
  const model = boundModel(ctx);
  const progress = transferProgress(ctx.out, 'save');
  const report = await saveModel(model, resolvePath(target, ctx.session.cwd), {
    ...opts, onProgress: (p) => progress.update(p), checkpoint: () => ctx.step(),
  });
  progress.finish();
  return withDisplay(report, (r) => textOutput(saveSummary(r)));
}

export function saveSummary(r: SaveReport): string {
  const what = `Saved ${r.tensors.length} tensors (${formatBytes(r.bytes)}) to ${r.file} in ${r.seconds.toFixed(2)} s (${throughput(r.bytes, r.seconds)})`;
  if (r.configFile) return `${what}, with ${r.configFile}: %load_model on the folder loads it again.`;
  return `${what}. Load it into a model of the same shape with %load_inplace ${r.file}${r.trainableOnly ? ' --partial (it holds the trainable tensors only)' : ''}.`;
}
