// Split-half rotary position embedding on token-major heads, and its backward (the inverse rotation).
// For head vector x[0..Dh) with h = Dh/2 at position p: out[j] = x[j] cos - x[j+h] sin, out[j+h] = x[j+h] cos + x[j] sin
// with cos/sin taken from row p, column j of the tables (see model/rope_tables.ts). One invocation per (j, j+h) pair.
import type { Gpu } from '../gpu/context.js';
import { Params } from '../gpu/params.js';
import { Tensor, fmtShape, type DType } from '../gpu/tensor.js';
import { ShapeMismatchError } from '../errors.js';
import { ELEMENT_ENTRY, elementGrid, requireF32 } from './elementwise.js';
import { BF16, LINEAR_WORKGROUP, activationRounding } from './wgsl.js';

function source(compute: DType) {
  return {
    key: `rope/c=${compute}`,
    storageBindings: 4,
    hasParams: true,
    wgsl: () => /* wgsl */ `
${BF16}${LINEAR_WORKGROUP}${activationRounding(compute)}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> cos_t: array<f32>;
@group(0) @binding(2) var<storage, read> sin_t: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
// pairs = B*T*H*half; sign = +1 rotates forward, -1 applies the inverse (transpose) rotation.
struct P { pairs: u32, half: u32, heads: u32, tokens: u32, pos_offset: u32, sign: f32 }
@group(0) @binding(4) var<uniform> p: P;
${ELEMENT_ENTRY}
  if (i >= p.pairs) { return; }
  let j = i % p.half;
  let head_row = i / p.half;                 // (b, t, head) flattened
  let t = (head_row / p.heads) % p.tokens;
  let lo = head_row * 2u * p.half + j;
  let hi = lo + p.half;
  let at = (p.pos_offset + t) * p.half + j;
  let c = cos_t[at];
  let s = p.sign * sin_t[at];
  let a = x[lo];
  let b = x[hi];
  out[lo] = act(a * c - b * s);
  out[hi] = act(b * c + a * s);
}
`,
  };
}

function dispatchRope(gpu: Gpu, x: Tensor, cos: Tensor, sin: Tensor, posOffset: number, sign: 1 | -1, compute: DType, tag: string): Tensor {
  const op = sign > 0 ? 'rope' : 'ropeBackward';
  for (const [t, what] of [[x, 'input'], [cos, 'cos table'], [sin, 'sin table']] as const) requireF32(t, `${op} ${what}`);
  if (x.shape.length !== 4) throw new ShapeMismatchError(`${op}: expected x of shape [B, T, heads, head_dim], got ${fmtShape(x.shape)}`);
  const [, tokens, heads, headDim] = x.shape;
  const half = headDim / 2;
  if (!Number.isInteger(half) || half < 1) throw new ShapeMismatchError(`${op}: head_dim ${headDim} must be even`);
  if (cos.shape.length !== 2 || cos.shape[1] !== half || sin.shape.length !== 2 || sin.shape[1] !== half || sin.shape[0] !== cos.shape[0]) {
    throw new ShapeMismatchError(`${op}: tables ${fmtShape(cos.shape)} / ${fmtShape(sin.shape)} do not match head_dim ${headDim} (expected [P, ${half}])`);
  }
  if (!Number.isInteger(posOffset) || posOffset < 0 || posOffset + tokens > cos.shape[0]) {
    throw new ShapeMismatchError(`${op}: positions ${posOffset}..${posOffset + tokens - 1} exceed the RoPE tables (${cos.shape[0]} positions)`,
      'Use a shorter sequence or build the tables for a longer context.');
  }
  const out = Tensor.scratch(gpu, x.shape, gpu.activationTag(tag));
  const pairs = x.numel / 2;
  const params = new Params().u32(pairs).u32(half).u32(heads).u32(tokens).u32(posOffset).f32(sign);
  gpu.dispatch(gpu.kernel(source(compute)), [x.buffer, cos.buffer, sin.buffer, out.buffer], params, elementGrid(pairs));
  return out;
}

/**
 * x: [B, T, heads, Dh] f32, token t at position posOffset + t; cos/sin: [P, Dh/2] f32 with P >= posOffset + T.
 * Returns the rotated [B, T, heads, Dh] f32 (rounded to bf16 in bf16 compute).
 */
export function rope(gpu: Gpu, x: Tensor, cos: Tensor, sin: Tensor, posOffset: number, compute: DType = 'f32'): Tensor {
  return dispatchRope(gpu, x, cos, sin, posOffset, 1, compute, 'rope out');
}

/** dx: [B, T, heads, Dh] f32 for upstream dy of rope(x): the rotation by the negative angle. */
export function ropeBackward(gpu: Gpu, dy: Tensor, cos: Tensor, sin: Tensor, posOffset: number): Tensor {
  return dispatchRope(gpu, dy, cos, sin, posOffset, -1, 'f32', 'rope dx');
}
