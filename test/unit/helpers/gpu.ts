// One GPU context per test process (pipelines compile once per process).
import { Gpu } from '../../../kernel/gpu/context.js';

let shared: Promise<Gpu> | null = null;

export function testGpu(): Promise<Gpu> {
  shared ??= Gpu.open();
  return shared;
}
