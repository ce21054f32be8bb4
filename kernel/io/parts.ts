// Where a byte range of a tensor lies in its parts (a tensor larger than the device's maximum buffer is split
// by rows). Part boundaries fall on 4-byte multiples (planParts keeps bf16 parts on whole u32 words), so copies
// of 4-byte-aligned ranges stay aligned in every part.
import { dtypeBytes, type Tensor } from '../gpu/tensor.js';

export interface PartSegment {
  buffer: GPUBuffer;
  /** Offset of the segment within the requested range. */
  rangeOffset: number;
  /** Offset of the segment within the part's buffer. */
  partOffset: number;
  bytes: number;
}

/**
 * The pieces of tensor bytes [start, end) per part. `end` may run up to 3 bytes past the tensor's last element
 * (the padding of the last buffer), so that odd bf16 element counts copy whole words.
 */
export function partSegments(t: Tensor, start: number, end: number): PartSegment[] {
  const rowBytes = (t.numel / Math.max(1, t.shape[0] ?? 1)) * dtypeBytes(t.dtype);
  const out: PartSegment[] = [];
  t.parts.forEach((p, i) => {
    const partStart = p.rowStart * rowBytes;
    const partEnd = i === t.parts.length - 1 ? partStart + p.buf.bytes : partStart + p.rows * rowBytes;
    const from = Math.max(start, partStart);
    const to = Math.min(end, partEnd);
    if (to > from) out.push({ buffer: p.buf.buffer, rangeOffset: from - start, partOffset: from - partStart, bytes: to - from });
  });
  return out;
}
