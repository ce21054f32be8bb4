// WGSL snippets shared by the ops: bf16 widening/rounding and typed accessors for weights in either dtype.
import type { DType } from '../gpu/tensor.js';

/** bf16 helpers: widen one half of a packed word; round an f32 to bf16 bits (nearest even, NaN kept). */
export const BF16 = /* wgsl */ `
fn bf16_lo(w: u32) -> f32 { return bitcast<f32>(w << 16u); }
fn bf16_hi(w: u32) -> f32 { return bitcast<f32>(w & 0xffff0000u); }
fn bf16_bits(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  if ((b & 0x7fffffffu) > 0x7f800000u) { return ((b >> 16u) | 0x40u) & 0xffffu; }
  return ((b + 0x7fffu + ((b >> 16u) & 1u)) >> 16u) & 0xffffu;
}
fn bf16_round(x: f32) -> f32 { return bitcast<f32>(bf16_bits(x) << 16u); }
`;

/**
 * Declares `var<storage, read> NAME: array<...>` at `binding` and `fn NAME_at(i: u32) -> f32` reading element i
 * as f32, for a tensor stored as `dtype`. Needs BF16 in the module when dtype is bf16.
 */
export function readOnlyTensor(name: string, binding: number, dtype: DType): string {
  if (dtype === 'f32') {
    return `@group(0) @binding(${binding}) var<storage, read> ${name}: array<f32>;
fn ${name}_at(i: u32) -> f32 { return ${name}[i]; }
`;
  }
  return `@group(0) @binding(${binding}) var<storage, read> ${name}: array<u32>;
fn ${name}_at(i: u32) -> f32 {
  let w = ${name}[i >> 1u];
  return select(bf16_hi(w), bf16_lo(w), (i & 1u) == 0u);
}
`;
}

/**
 * `fn act(x: f32) -> f32` applied to every activation an op stores: identity for f32 compute, rounding to
 * bf16 for bf16 compute (the PyTorch bf16 path rounds after each op).
 */
export function activationRounding(compute: DType): string {
  return compute === 'bf16' ? 'fn act(x: f32) -> f32 { return bf16_round(x); }\n' : 'fn act(x: f32) -> f32 { return x; }\n';
}

/** Linear workgroup index for dispatches split over x and y by `grid()`. */
export const LINEAR_WORKGROUP = /* wgsl */ `
fn linear_wg(wid: vec3u, nwg: vec3u) -> u32 { return wid.x + wid.y * nwg.x; }
`;
