// Which WebGPU adapter llmnb gets on this machine; exits 2 when it is a software (CPU) adapter, which llmnb falls
// back to when no GPU driver answers, so that bench/gpu-check.sh stops instead of timing a CPU.
// Usage: node --import tsx bench/adapter-check.ts
import { Gpu } from '../kernel/gpu/context.js';
import { LlmnbError } from '../kernel/errors.js';

try {
  const gpu = await Gpu.open();
  const d = gpu.describe();
  console.log(`adapter: ${d.adapter} (${d.backend}${d.software ? ', software' : ''})`);
  console.log(`features: ${d.features.join(', ') || '(none)'}`);
  console.log(`limits: ${Object.entries(d.limits).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  gpu.destroy();
  if (d.software) {
    console.error(`no GPU adapter: llmnb fell back to a software adapter${d.notice ? ` (${d.notice})` : ''}. ` +
      'Install or fix the GPU\'s Vulkan (Linux), Metal (macOS) or D3D12 (Windows) driver; `vulkaninfo --summary` should list the GPU.');
    process.exit(2);
  }
  process.exit(0);
} catch (e) {
  if (e instanceof LlmnbError) {
    console.error(`${e.message}\n${e.hint ?? ''}`);
    process.exit(2);
  }
  throw e;
}
