// Streaming a GPU tensor to the host in chunks through one MAP_READ staging buffer (for saving checkpoints):
// copy a chunk from the tensor's part(s), map, hand the mapped bytes to the sink, unmap, repeat.
import type { Gpu } from '../gpu/context.js';
import type { Tensor } from '../gpu/tensor.js';
import { partSegments } from './parts.js';

const MAP_MODE_READ = 0x0001;

/** `staging` is a MAP_READ | COPY_DST buffer of `stagingBytes` (a multiple of 8). */
export async function downloadThrough(gpu: Gpu, staging: GPUBuffer, stagingBytes: number, src: Tensor,
  sink: (chunk: Uint8Array) => Promise<void> | void): Promise<void> {
  const total = src.bytes;
  for (let start = 0; start < total; start += stagingBytes) {
    const n = Math.min(stagingBytes, total - start);
    const copyBytes = Math.ceil(n / 4) * 4; // an odd bf16 count: the last buffer's pad half-word comes along
    for (const s of partSegments(src, start, start + copyBytes)) gpu.copy(s.buffer, s.partOffset, staging, s.rangeOffset, s.bytes);
    gpu.flush();
    await staging.mapAsync(MAP_MODE_READ, 0, copyBytes);
    gpu.checkAlive();
    try {
      await sink(new Uint8Array(staging.getMappedRange(0, copyBytes), 0, n));
    } finally {
      staging.unmap();
    }
  }
}
