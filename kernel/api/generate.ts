// llmnb.generate / %generate: continues a prompt with the bound model, streaming the text into the cell as tokens
// arrive (appended, like a terminal), then a line with the token count and speed. Interruptible between tokens.
import { CancelledError } from '../errors.js';
import type { DType } from '../gpu/tensor.js';
import { generateTokens } from '../model/generate.js';
import { textOutput } from '../output/text.js';
import { boundModel, boundTokenizer, type ApiContext } from './context.js';
import { withDisplay } from './display.js';

export interface GenerateApiOptions {
  maxTokens?: number;
  /** 0 = greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  compute?: DType;
}

export interface Generation {
  prompt: string;
  /** The continuation (without the prompt). */
  text: string;
  ids: number[];
  seconds: number;
  tokensPerSecond: number;
  /** Why it stopped. */
  stop: 'eos' | 'max tokens' | 'context full' | 'interrupted';
}

export async function sessionGenerate(ctx: ApiContext, prompt: string, opts: GenerateApiOptions = {}): Promise<Generation> {
  const model = boundModel(ctx);
  const tokenizer = boundTokenizer(ctx);
  const maxTokens = opts.maxTokens ?? 32;
  const promptIds = tokenizer.encode(prompt);
  const ids: number[] = [];
  let shown = '';
  let seconds = 0;
  let stop: Generation['stop'] = 'max tokens';
  ctx.out.stream('stdout', prompt);
  try {
    const tokens = generateTokens(model, promptIds, {
      maxTokens, temperature: opts.temperature ?? 0, topK: opts.topK ?? 0, topP: opts.topP ?? 1, seed: opts.seed ?? 0,
      compute: opts.compute, checkpoint: () => ctx.step(),
    });
    for await (const tok of tokens) {
      ids.push(tok.id);
      seconds = tok.elapsed;
      const text = tokenizer.decode(ids);
      // A token may end inside a multi-byte character: wait for the rest before showing it.
      if (text.startsWith(shown) && !text.endsWith('\uFFFD')) {
        ctx.out.stream('stdout', text.slice(shown.length));
        shown = text;
      }
    }
    const last = ids.at(-1);
    if (last !== undefined && model.config.eosTokenIds.includes(last)) stop = 'eos';
    else if (ids.length < maxTokens) stop = 'context full';
  } catch (e) {
    if (!(e instanceof CancelledError)) throw e;
    stop = 'interrupted';
    ctx.out.stream('stdout', '\n');
    ctx.out.text(generationLine({ ids, seconds, stop }));
    throw e;
  }
  ctx.out.stream('stdout', '\n');
  const text = tokenizer.decode(ids);
  const result: Generation = { prompt, text, ids, seconds, tokensPerSecond: ids.length / Math.max(seconds, 1e-9), stop };
  return withDisplay(result, (r) => textOutput(generationLine(r)));
}

function generationLine(r: Pick<Generation, 'ids' | 'seconds' | 'stop'>): string {
  const rate = r.ids.length / Math.max(r.seconds, 1e-9);
  return `${r.ids.length} tokens in ${r.seconds.toFixed(2)} s (${rate.toFixed(1)} tokens/s); stopped: ${r.stop}`;
}
