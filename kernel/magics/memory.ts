// %memory [--peak] [--by-tensor]: llmnb.memory. GPU memory as the allocator accounts it, per layer and kind
// (weights, grads, optimizer, activations, staging, other), with live, peak and limit.
import { sessionMemory } from '../api/memory.js';
import { defineMagic } from './types.js';

export default defineMagic({
  name: 'memory',
  summary: 'GPU memory per layer and kind (weights, grads, optimizer, activations, staging, other), peak and limit',
  params: {
    peak: { type: 'bool', summary: 'each tensor\'s peak bytes instead of its live bytes' },
    byTensor: { type: 'bool', summary: 'one row per tensor instead of per layer' },
  },
  async run(args, ctx) {
    ctx.out.display(await sessionMemory(ctx, { peak: args.peak, byTensor: args.byTensor }));
  },
});
