// %estimate: llmnb.estimate. What the model needs in GPU memory per layer, against the limit; computed from
// shapes, so it works on an empty model before anything is allocated.
import { sessionEstimate } from '../api/estimate.js';
import { defineMagic } from './types.js';

export default defineMagic({
  name: 'estimate',
  summary: 'GPU memory the model needs per layer (works on an --empty model), compared to the limit',
  params: {},
  details: 'Example: %load_model llama3-8b --empty, then %estimate',
  async run(_args, ctx) {
    ctx.out.display(await sessionEstimate(ctx));
  },
});
