// %estimate: llmnb.estimate. What the model needs in GPU memory per layer, against the limit; computed from
// shapes, so it works on an empty model before anything is allocated. With training flags it adds the plan of a
// %train run: f32 gradients and AdamW state of the trainable tensors, and activations at that batch and length.
import { boundModel } from '../api/context.js';
import { sessionEstimate } from '../api/estimate.js';
import { trainingEstimate } from '../train/estimate.js';
import { parseTrainable } from '../train/trainable.js';
import { defineMagic } from './types.js';

export default defineMagic({
  name: 'estimate',
  summary: 'GPU memory the model needs per layer (works on an --empty model); with --batch etc., a planned %train too',
  params: {
    batch: { type: 'int', min: 1, summary: 'plan a %train run with this batch size (default 8 when another training flag is given)' },
    maxLength: { type: 'int', min: 1, summary: 'tokens per sequence of the planned run (default: the context length)' },
    trainable: { type: 'string', summary: 'last-block (default) | all | head | layers=A..B' },
    gradCheckpoint: { type: 'bool', summary: 'plan with gradient checkpointing' },
  },
  details: 'Examples: %load_model llama3-8b --empty, then %estimate, or %estimate --batch 8 --max-length 256 --trainable last-block',
  async run(args, ctx) {
    const planned = args.batch !== undefined || args.maxLength !== undefined || args.trainable !== undefined || args.gradCheckpoint;
    const extra = [];
    if (planned) {
      const model = boundModel(ctx);
      extra.push(trainingEstimate(model, {
        batch: args.batch ?? 8,
        seqLen: Math.min(args.maxLength ?? model.config.contextLength, model.config.contextLength),
        trainable: parseTrainable(args.trainable ?? 'last-block', model.config.numLayers),
        gradCheckpoint: args.gradCheckpoint,
      }));
    }
    ctx.out.display(await sessionEstimate(ctx, extra));
  },
});
