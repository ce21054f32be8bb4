// %memory [--peak] [--by-tensor] [--panel]: llmnb.memory. GPU memory as the allocator accounts it, per layer and
// kind (weights, grads, optimizer, activations, staging, other), with live, peak and limit. --panel also asks VS Code
// to open the memory panel, which shows the same numbers live.
import { sessionMemory } from '../api/memory.js';
import { defineMagic } from './types.js';

export default defineMagic({
  name: 'memory',
  summary: 'GPU memory per layer and kind (weights, grads, optimizer, activations, staging, other), peak and limit',
  params: {
    peak: { type: 'bool', summary: 'each tensor\'s peak bytes instead of its live bytes' },
    byTensor: { type: 'bool', summary: 'one row per tensor instead of per layer' },
    panel: { type: 'bool', summary: 'also open the memory panel (VS Code), updated live while cells run' },
  },
  async run(args, ctx) {
    ctx.out.display(await sessionMemory(ctx, { peak: args.peak, byTensor: args.byTensor }));
    if (args.panel) ctx.session.showView('memory');
  },
});
