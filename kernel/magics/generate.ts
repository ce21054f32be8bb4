// %generate "prompt" [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S]: llmnb.generate.
// The text streams into the cell as tokens arrive; an interrupt stops between tokens.
import { sessionGenerate } from '../api/generate.js';
import { defineMagic } from './types.js';

export default defineMagic({
  name: 'generate',
  summary: 'Continue a prompt with the model (greedy or sampled), streaming the text',
  params: {
    prompt: { type: 'string', positional: true, required: true, summary: 'text to continue (quote it)' },
    maxTokens: { type: 'int', min: 1, default: 32, summary: 'new tokens at most' },
    temperature: { type: 'float', min: 0, default: 0, summary: '0 = greedy' },
    topK: { type: 'int', min: 0, default: 0, summary: 'sample from the k most likely tokens (0 = all)' },
    topP: { type: 'float', min: 0, max: 1, default: 1, summary: 'nucleus sampling threshold (1 = off)' },
    seed: { type: 'int', min: 0, default: 0, summary: 'random seed for sampling' },
  },
  details: 'Example: %generate "The capital of France is" --max-tokens 16',
  async run(args, ctx) {
    ctx.out.display(await sessionGenerate(ctx, args.prompt, args));
  },
});
