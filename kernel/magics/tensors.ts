// %tensors [GLOB]: llmnb.tensors. The model's tensors as a table: name, dtype, shape, bytes, kind, layer,
// trainable, resident.
import { sessionTensors } from '../api/tensors.js';
import { defineMagic } from './types.js';

export default defineMagic({
  name: 'tensors',
  summary: 'List the model\'s tensors (name, dtype, shape, bytes, kind, layer, trainable, resident)',
  params: {
    glob: { type: 'string', positional: true, summary: 'filter: * matches any characters, ? one; HF or from-scratch names' },
  },
  details: 'Examples: %tensors   %tensors model.layers.0.*   %tensors *q_proj*   %tensors trf_blocks.2.*',
  run(args, ctx) {
    ctx.out.display(sessionTensors(ctx, args.glob));
  },
});
