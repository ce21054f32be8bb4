// Parameter initialisation on the GPU: normal(0, std) or uniform(-a, a) from a counter-based hash (so no host
// memory is spent on 8B-sized random buffers, and the values depend only on the seed and the element index), and
// constants.
import { grid, type Gpu } from '../gpu/context.js';
import { Params } from '../gpu/params.js';
import { type Tensor, floatDtype } from '../gpu/tensor.js';
import { BF16, LINEAR_WORKGROUP } from './wgsl.js';

const WG = 256;

type Mode = 'normal' | 'uniform' | 'constant';

function source(dtype: 'f32' | 'bf16', mode: Mode) {
  // Each invocation writes one u32 word: one f32 element or two bf16 elements.
  const store = dtype === 'f32'
    ? 'out[w] = value(p.base + w);'
    : 'let i = p.base + 2u * w; out[w] = bf16_bits(value(i)) | select(bf16_bits(value(i + 1u)) << 16u, 0u, 2u * w + 1u >= p.n);';
  return {
    key: `init/${mode}/${dtype}`,
    storageBindings: 1,
    hasParams: true,
    wgsl: () => /* wgsl */ `
${BF16}${LINEAR_WORKGROUP}
@group(0) @binding(0) var<storage, read_write> out: array<${dtype === 'f32' ? 'f32' : 'u32'}>;
struct P { words: u32, n: u32, base: u32, seed: u32, a: f32 }
@group(0) @binding(1) var<uniform> p: P;

fn mix(x: u32) -> u32 {
  var h = x;
  h ^= h >> 16u; h *= 0x7feb352du; h ^= h >> 15u; h *= 0x846ca68bu; h ^= h >> 16u;
  return h;
}
fn unit(h: u32) -> f32 { return (f32(h >> 8u) + 0.5) * (1.0 / 16777216.0); } // (0, 1)
fn value(i: u32) -> f32 {
  let h1 = mix((i * 2u) ^ mix(p.seed));
  let h2 = mix((i * 2u + 1u) ^ mix(p.seed + 0x9e3779b9u));
  ${{
    constant: 'return p.a;',
    uniform: 'return p.a * (2.0 * unit(h1) - 1.0);',
    normal: 'return p.a * sqrt(-2.0 * log(unit(h1))) * cos(6.283185307179586 * unit(h2));',
  }[mode]}
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = linear_wg(wid, nwg) * ${WG}u + lid;
  if (w >= p.words) { return; }
  ${store}
}
`,
  };
}

function fill(gpu: Gpu, t: Tensor, mode: Mode, a: number, seed: number): void {
  const dtype = floatDtype(t, 'init');
  const k = gpu.kernel(source(dtype, mode));
  const rowElems = t.numel / Math.max(1, t.shape[0] ?? 1);
  for (const part of t.parts) {
    const n = part.rows * rowElems;
    const words = dtype === 'f32' ? n : Math.ceil(n / 2);
    const params = new Params().u32(words).u32(n).u32(part.rowStart * rowElems).u32(seed >>> 0).f32(a);
    gpu.dispatch(k, [part.buf.buffer], params, grid(Math.ceil(words / WG)));
  }
}

/** Fills `t` with normal(0, std) values that depend only on (seed, element index). */
export function fillNormal(gpu: Gpu, t: Tensor, std: number, seed: number): void {
  fill(gpu, t, 'normal', std, seed);
}

/** Fills `t` with uniform(-bound, bound) values that depend only on (seed, element index). */
export function fillUniform(gpu: Gpu, t: Tensor, bound: number, seed: number): void {
  fill(gpu, t, 'uniform', bound, seed);
}

export function fillConstant(gpu: Gpu, t: Tensor, value: number): void {
  fill(gpu, t, 'constant', value, 0);
}
