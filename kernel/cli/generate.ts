// `llmnb generate --model PATH --prompt "..." [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S]`:
// prints the continuation as it is generated; Ctrl-C stops after the current token.
import { CancelledError } from '../errors.js';
import { parseArgs, usageLine } from '../magics/parse.js';
import { generateTokens } from '../model/generate.js';
import { cliTokens, openGpu, openModel } from './open.js';

export const summary = 'Continue a prompt (greedy or sampled, with the KV cache)';

const params = {
  model: { type: 'string', required: true, summary: 'model directory, checkpoint file next to a config.json, or preset' },
  prompt: { type: 'string', required: true, summary: 'text to continue' },
  maxTokens: { type: 'int', min: 1, default: 32, summary: 'new tokens at most' },
  temperature: { type: 'float', min: 0, default: 0, summary: '0 = greedy' },
  topK: { type: 'int', min: 0, default: 0, summary: 'sample from the k most likely tokens (0 = all)' },
  topP: { type: 'float', min: 0, max: 1, default: 1, summary: 'nucleus sampling threshold (1 = off)' },
  seed: { type: 'int', min: 0, default: 0, summary: 'random seed for sampling' },
  compute: { type: 'enum', values: ['f32', 'bf16'], default: 'f32', summary: 'activation precision' },
} as const;

export const usage = usageLine('llmnb generate', params);

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(params, cliTokens(argv), { command: 'llmnb generate', cwd: process.cwd() });
  const gpu = await openGpu();
  const { model, tokenizer } = await openModel(gpu, args.model);
  const prompt = tokenizer.encode(args.prompt);
  let interrupted = false;
  const onInt = () => { interrupted = true; };
  process.once('SIGINT', onInt);
  const ids: number[] = [];
  let shown = '';
  let elapsed = 0;
  process.stdout.write(args.prompt);
  try {
    const stream = generateTokens(model, prompt, { ...args, checkpoint: () => { if (interrupted) throw new CancelledError(); } });
    for await (const tok of stream) {
      ids.push(tok.id);
      elapsed = tok.elapsed;
      const text = tokenizer.decode(ids);
      process.stdout.write(text.slice(shown.length));
      shown = text;
    }
  } catch (e) {
    if (!(e instanceof CancelledError)) throw e;
  } finally {
    process.off('SIGINT', onInt);
  }
  process.stdout.write('\n');
  process.stderr.write(`generate: ${ids.length} tokens in ${elapsed.toFixed(2)} s (${(ids.length / Math.max(elapsed, 1e-9)).toFixed(1)} tokens/s)${interrupted ? ', interrupted' : ''}\n`);
  model.dispose();
  gpu.destroy();
  return 0;
}
