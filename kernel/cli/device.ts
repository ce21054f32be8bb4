// `llmnb device`: the adapter llmnb would use, its backend, limits and features.
import { formatBytes } from '../gpu/format.js';
import { robustnessText } from '../magics/device.js';
import { parseArgs, usageLine } from '../magics/parse.js';
import { cliTokens, openGpu } from './open.js';

export const summary = 'Show the WebGPU adapter, backend, limits and features';
export const usage = usageLine('llmnb device', {});

export async function main(argv: string[]): Promise<number> {
  parseArgs({}, cliTokens(argv), { command: 'llmnb device', cwd: process.cwd() });
  const gpu = await openGpu();
  const d = gpu.describe();
  console.log(`adapter:  ${d.adapter}${d.software ? ' [software]' : ''}`);
  console.log(`backend:  ${d.backend}`);
  console.log(`bounds checks: ${robustnessText(d.robustAccess)}`);
  for (const [k, v] of Object.entries(d.limits)) console.log(`${k.padEnd(36)} ${/Size$/.test(k) ? `${formatBytes(v)} (${v})` : v}`);
  console.log(`features: ${d.features.join(', ')}`);
  console.log(`memory budget: ${gpu.allocator.limitBytes === null ? 'unknown (set with %device --memory-limit)' : formatBytes(gpu.allocator.limitBytes)}`);
  gpu.destroy();
  return 0;
}
