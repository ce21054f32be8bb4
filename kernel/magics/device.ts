// %device [--memory-limit SIZE]: the adapter the kernel runs on (backend, software fallback notice, features,
// limits), the matmul kernels the autotune chose, and the allocator's memory budget, which --memory-limit sets.
import { UsageError } from '../errors.js';
import type { Gpu } from '../gpu/context.js';
import { formatBytes } from '../gpu/format.js';
import { tunedVariants } from '../ops/matmul/variants.js';
import { defineMagic } from './types.js';

export default defineMagic({
  name: 'device',
  summary: 'Show the GPU adapter, its limits and the memory budget; set the budget',
  params: {
    memoryLimit: { type: 'bytes', summary: 'budget for all GPU buffers, e.g. 24GiB (WebGPU cannot report VRAM)' },
  },
  async run(args, ctx) {
    const gpu = await ctx.session.gpu();
    if (args.memoryLimit !== undefined) setMemoryLimit(gpu, args.memoryLimit);
    ctx.out.text(deviceText(gpu));
  },
});

/** Sets the allocator's budget; refuses a budget below what is already allocated. */
export function setMemoryLimit(gpu: Gpu, bytes: number): void {
  const live = gpu.allocator.liveBytes;
  if (bytes < live) {
    throw new UsageError(`%device: --memory-limit ${formatBytes(bytes)} is below the ${formatBytes(live)} already allocated`,
      'Free tensors first (e.g. restart the kernel), or choose a larger limit.');
  }
  gpu.allocator.limitBytes = bytes;
}

export function deviceText(gpu: Gpu): string {
  const d = gpu.describe();
  const a = gpu.allocator;
  const limit = a.limitBytes === null ? 'unknown (set one with %device --memory-limit SIZE)' : formatBytes(a.limitBytes);
  const rows: [string, string][] = [
    ['adapter', d.adapter],
    ['backend', d.backend],
    ['software', d.software ? 'yes (CPU implementation of the GPU API: expect CPU speed)' : 'no'],
    ['memory limit', limit],
    ['memory in use', `${formatBytes(a.liveBytes)} (peak ${formatBytes(a.peakBytes)})`],
    ['max buffer', formatBytes(gpu.maxBufferBytes)],
    ['features', d.features.join(', ') || 'none'],
    ['bounds checks', robustnessText(d.robustAccess)],
    ['matmul kernels', matmulKernelsText(gpu)],
  ];
  const limits = Object.entries(d.limits).map(([k, v]): [string, string] => [k, String(v)]);
  const lines = [...aligned(rows), 'limits', ...aligned(limits).map((l) => `  ${l}`)];
  if (d.notice) lines.push('', `notice: ${d.notice}`);
  return lines.join('\n');
}

export function robustnessText(robust: boolean): string {
  return robust ? 'on (LLMNB_GPU_ROBUSTNESS=on)' : 'off: llmnb runs only its own tested kernels (LLMNB_GPU_ROBUSTNESS=on to check)';
}

function matmulKernelsText(gpu: Gpu): string {
  const tuned = tunedVariants(gpu);
  if (!tuned.length) return 'not tuned yet (measured at the first forward or training step, then cached per adapter)';
  return `${tuned.map(([cls, v]) => `${cls} ${v}`).join(', ')} (autotuned; other products: the built-in rule)`;
}

function aligned(rows: [string, string][]): string[] {
  const width = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
}
