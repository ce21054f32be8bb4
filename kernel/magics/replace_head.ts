// %replace_head --classes N [--labels a,b] [--bias|--no-bias] [--init FILE] [--dtype bf16|f32] [--seed S]:
// llmnb.replaceHead. A classifier head in the model's dtype; the old head's memory is freed.
import { sessionReplaceHead } from '../api/head.js';
import { defineMagic } from './types.js';

export default defineMagic({
  name: 'replace_head',
  summary: 'Replace the output head with a classifier Linear(hidden, N) in the model\'s dtype',
  params: {
    classes: { type: 'int', min: 1, required: true, summary: 'number of classes' },
    labels: { type: 'list', of: 'string', summary: 'class names in index order (default 0..N-1)' },
    bias: { type: 'bool', default: true, summary: 'give the head a bias (chapter 6 does); --no-bias for none' },
    init: { type: 'path', summary: 'safetensors or .pth holding out_head.weight (and .bias): initial values' },
    dtype: { type: 'enum', values: ['bf16', 'f32'], summary: 'only a check: the head always takes the model\'s dtype' },
    seed: { type: 'int', min: 0, default: 0, summary: 'seed of the default uniform initialization' },
  },
  details: 'Example: %replace_head --classes 2 --labels ham,spam',
  async run(args, ctx) {
    ctx.out.display(await sessionReplaceHead(ctx, {
      classes: args.classes, bias: args.bias, seed: args.seed,
      ...(args.labels ? { labels: args.labels } : {}), ...(args.init ? { init: args.init } : {}), ...(args.dtype ? { dtype: args.dtype } : {}),
    }));
  },
});
