// %load_model PATH|PRESET [--dtype bf16|f32] [--init random --seed N] [--empty]: llmnb.loadModel. Binds `model`
// and `tokenizer`; progress while loading; an interrupt stops between tensors and binds nothing.
import { sessionLoadModel } from '../api/load_model.js';
import { UsageError } from '../errors.js';
import { PRESETS } from '../model/presets.js';
import { defineMagic } from './types.js';

export default defineMagic({
  name: 'load_model',
  summary: 'Load a model (checkpoint folder or file, or a preset) and bind `model` and `tokenizer`',
  params: {
    source: { type: 'string', positional: true, required: true, summary: 'folder with config.json + weights, a checkpoint file next to a config.json, or a preset' },
    dtype: { type: 'enum', values: ['bf16', 'f32'], summary: 'storage dtype (default: the config\'s torch_dtype); checkpoint tensors are converted' },
    init: { type: 'enum', values: ['random'], summary: 'random weights instead of a checkpoint (normal(0, 0.02), unit norms)' },
    seed: { type: 'int', min: 0, summary: 'seed for --init random (default 0)' },
    empty: { type: 'bool', summary: 'shapes only, nothing allocated: plan with %estimate, fill with %load_inplace' },
  },
  details: [
    `Presets: ${Object.entries(PRESETS).map(([name, p]) => `${name} (${p.summary})`).join('; ')}.`,
    'A model that is already loaded is freed first. A folder saved by %save (with a classifier head) loads with that head and its labels.',
    'Examples: %load_model ./my-model   %load_model tiny --init random --seed 1   %load_model llama3-8b --empty',
  ].join('\n'),
  async run(args, ctx) {
    if (args.seed !== undefined && !args.init) throw new UsageError('%load_model: --seed applies to --init random only', 'Add --init random, or drop --seed.');
    ctx.out.display(await sessionLoadModel(ctx, args.source, {
      ...(args.dtype ? { dtype: args.dtype } : {}), ...(args.init ? { init: args.init } : {}),
      ...(args.seed !== undefined ? { seed: args.seed } : {}), empty: args.empty,
    }));
  },
});
