// `llmnb forward --model PATH --ids 1,2,3 [--compute f32|bf16] --out FILE`: logits of every position of one
// sequence, written as {"logits": [[...V floats], ... T rows]}, and a one-line summary.
import fs from 'node:fs';
import { parseArgs, usageLine } from '../magics/parse.js';
import { argmax } from '../model/sampling.js';
import { cliTokens, openGpu, openModel } from './open.js';

export const summary = 'Compute the logits of one token sequence and write them as JSON';

const params = {
  model: { type: 'string', required: true, summary: 'model directory (config.json + weights), checkpoint file next to a config.json, or preset' },
  ids: { type: 'list', of: 'int', required: true, summary: 'comma-separated token ids, e.g. 128000,9906,4435' },
  compute: { type: 'enum', values: ['f32', 'bf16'], default: 'f32', summary: 'activation precision (bf16 rounds every op like PyTorch bf16)' },
  out: { type: 'path', required: true, summary: 'JSON file to write' },
} as const;

export const usage = usageLine('llmnb forward', params);

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(params, cliTokens(argv), { command: 'llmnb forward', cwd: process.cwd() });
  const gpu = await openGpu();
  const { model } = await openModel(gpu, args.model);
  model.checkInput(args.ids, args.ids.length);
  const t0 = performance.now();
  const rows = await model.forwardLogits(args.ids, { compute: args.compute });
  const seconds = (performance.now() - t0) / 1000;
  const out = fs.createWriteStream(args.out);
  out.write('{"logits": [\n');
  rows.forEach((r, i) => out.write(`[${Array.from(r).join(', ')}]${i + 1 < rows.length ? ',' : ''}\n`));
  out.write(']}\n');
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  console.log(`forward: ${args.ids.length} tokens x ${rows[0].length} logits (${args.compute} compute, ${model.dtype} weights) ` +
    `in ${seconds.toFixed(2)} s; last position argmax ${argmax(rows[rows.length - 1])}; wrote ${args.out}`);
  model.dispose();
  gpu.destroy();
  return 0;
}
