// Text generation with the KV cache: one prefill over the prompt, then one single-token forward per new token.
// Stops at max tokens, at an EOS id from the config, or when cancelled (checked between tokens).
import type { DType } from '../gpu/tensor.js';
import { UsageError } from '../errors.js';
import { KvCache } from './kv_cache.js';
import type { LlamaModel } from './llama.js';
import { seededRandom } from '../random.js';
import { checkSampling, sampleToken, type SamplingOptions } from './sampling.js';

export interface GenerateOptions extends SamplingOptions {
  maxTokens: number;
  seed: number;
  compute?: DType;
  /** Extra stop ids besides the config's EOS ids. */
  stopIds?: number[];
  /** Called between tokens; throw (e.g. CancelledError) to stop. */
  checkpoint?: () => void | Promise<void>;
}

export interface GeneratedToken {
  id: number;
  /** Seconds since the prefill started. */
  elapsed: number;
}

/** Yields each new token id; the prompt is not repeated. */
export async function* generateTokens(model: LlamaModel, prompt: number[], o: GenerateOptions): AsyncGenerator<GeneratedToken> {
  if (model.head.kind !== 'lm') {
    throw new UsageError('this model has a classification head, which cannot generate text', 'Use %classify, or load a model with a language-model head.');
  }
  if (!prompt.length) throw new UsageError('empty prompt', 'Give at least one token of prompt.');
  if (!Number.isInteger(o.maxTokens) || o.maxTokens < 1) throw new UsageError(`max tokens must be a positive integer, got ${o.maxTokens}`, 'e.g. --max-tokens 32');
  checkSampling(o);
  const ctx = model.config.contextLength;
  if (prompt.length >= ctx) throw new UsageError(`the prompt has ${prompt.length} tokens; the context holds ${ctx}`, 'Shorten the prompt.');
  // The last new token is never fed back, so the cache needs prompt + maxTokens - 1 positions.
  const capacity = Math.min(ctx, prompt.length + o.maxTokens - 1);
  const stop = new Set([...model.config.eosTokenIds, ...(o.stopIds ?? [])]);
  const random = seededRandom(o.seed);
  await model.prepareKernels();
  const cache = new KvCache(model.gpu, model.config, 1, capacity);
  const t0 = performance.now();
  try {
    let input = prompt;
    for (let generated = 0; ; ) {
      const h = model.hidden(Uint32Array.from(input), 1, { cache, compute: o.compute });
      const lg = model.logits(h, [input.length - 1], o.compute);
      h.dispose();
      const logits = await lg.read();
      lg.dispose();
      const id = sampleToken(logits, o, random);
      yield { id, elapsed: (performance.now() - t0) / 1000 };
      if (stop.has(id) || ++generated >= o.maxTokens || cache.length >= capacity) return;
      await o.checkpoint?.();
      input = [id];
    }
  } finally {
    cache.dispose();
  }
}
