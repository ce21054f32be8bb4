// Shared CLI set-up: argument tokens, a GPU (its notices on stderr) and a model from --model.
import { Gpu } from '../gpu/context.js';
import type { Token } from '../magics/parse.js';
import { loadModel, type LoadedModel } from '../model/load.js';

/** Shell arguments arrive already split and unquoted: one token each. */
export function cliTokens(argv: string[]): Token[] {
  return argv.map((text) => ({ text, quoted: false }));
}

export async function openGpu(): Promise<Gpu> {
  const gpu = await Gpu.open();
  if (gpu.notice) process.stderr.write(`llmnb: ${gpu.notice}\n`);
  gpu.onNotice = (text) => process.stderr.write(`llmnb: ${text}\n`);
  return gpu;
}

export function openModel(gpu: Gpu, source: string): Promise<LoadedModel> {
  return loadModel(gpu, source, { cwd: process.cwd() });
}
