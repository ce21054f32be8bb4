// In-place dtype conversions of a chunk of elements in one buffer (the mapped staging range), so a cast costs
// no host memory beyond the staging chunk. Rounding matches kernel/gpu/bf16.ts: f32 -> bf16 to nearest even,
// NaN kept quiet; widening is exact.
import type { TensorDType } from '../gpu/tensor.js';
import type { FileDtype } from './entry.js';

export type Conversion = 'copy' | 'f32->bf16' | 'bf16->f32' | 'f16->f32' | 'f16->bf16';

/** How file elements become tensor elements, or null when the pair cannot be converted. */
export function conversionFor(file: FileDtype, tensor: TensorDType): Conversion | null {
  switch (`${file}->${tensor}`) {
    case 'F32->f32': case 'BF16->bf16': return 'copy';
    case 'F32->bf16': return 'f32->bf16';
    case 'BF16->f32': return 'bf16->f32';
    case 'F16->f32': return 'f16->f32';
    case 'F16->bf16': return 'f16->bf16';
    default: return null;
  }
}

/**
 * Converts `n` elements stored at the start of `buf` (4-byte aligned) in place; the result also starts at byte 0.
 * A widening conversion needs 4n bytes of room.
 */
export function convertInPlace(conversion: Conversion, buf: ArrayBuffer, n: number): void {
  switch (conversion) {
    case 'copy': return;
    case 'f32->bf16': {
      // Forward: element i's output (bytes 2i..2i+1) only overwrites inputs already consumed.
      const src = new Uint32Array(buf, 0, n);
      const dst = new Uint16Array(buf, 0, n);
      for (let i = 0; i < n; i++) dst[i] = f32BitsToBf16Bits(src[i]);
      return;
    }
    case 'bf16->f32': {
      // Backward: element i's output (bytes 4i..4i+3) only overwrites inputs 2i, 2i+1 >= i, already consumed.
      const src = new Uint16Array(buf, 0, n);
      const dst = new Uint32Array(buf, 0, n);
      for (let i = n - 1; i >= 0; i--) dst[i] = src[i] << 16;
      return;
    }
    case 'f16->f32': {
      const table = f16Table();
      const src = new Uint16Array(buf, 0, n);
      const dst = new Uint32Array(buf, 0, n);
      for (let i = n - 1; i >= 0; i--) dst[i] = table[src[i]];
      return;
    }
    case 'f16->bf16': {
      const table = f16Table();
      const bits = new Uint16Array(buf, 0, n);
      for (let i = 0; i < n; i++) bits[i] = f32BitsToBf16Bits(table[bits[i]]);
      return;
    }
  }
}

function f32BitsToBf16Bits(b: number): number {
  if ((b & 0x7fffffff) >>> 0 > 0x7f800000) return ((b >>> 16) | 0x0040) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

let f16ToF32: Uint32Array | null = null;

/** f16 bits -> f32 bits for all 65536 values (exact; subnormals normalized). */
function f16Table(): Uint32Array {
  if (f16ToF32) return f16ToF32;
  const t = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    let mant = h & 0x3ff;
    if (exp === 0x1f) t[h] = sign | 0x7f800000 | (mant << 13);
    else if (exp !== 0) t[h] = sign | ((exp + 112) << 23) | (mant << 13);
    else if (mant === 0) t[h] = sign;
    else {
      let e = 113; // mant * 2^-24: shift the leading one into bit 10, lowering the exponent each step
      while (!(mant & 0x400)) { mant <<= 1; e--; }
      t[h] = sign | (e << 23) | ((mant & 0x3ff) << 13);
    }
  }
  return (f16ToF32 = t);
}
