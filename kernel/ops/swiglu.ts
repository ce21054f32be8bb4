// SwiGLU gating of the Llama MLP: out = silu(gate) * up, elementwise, and its gradients.
// silu(g) = g * sigmoid(g); sigmoid is evaluated without overflow for either sign of g.
import type { Gpu } from '../gpu/context.js';
import { Params } from '../gpu/params.js';
import { Tensor, fmtShape, type DType } from '../gpu/tensor.js';
import { ShapeMismatchError } from '../errors.js';
import { ELEMENT_ENTRY, elementGrid, requireF32 } from './elementwise.js';
import { BF16, LINEAR_WORKGROUP, activationRounding } from './wgsl.js';

const SIGMOID = /* wgsl */ `
fn sigmoid(g: f32) -> f32 {
  let e = exp(-abs(g));  // in (0, 1]: never overflows
  return select(e / (1.0 + e), 1.0 / (1.0 + e), g >= 0.0);
}
`;

function forwardSource(compute: DType) {
  return {
    key: `swiglu/fwd/c=${compute}`,
    storageBindings: 3,
    hasParams: true,
    wgsl: () => /* wgsl */ `
${BF16}${LINEAR_WORKGROUP}${activationRounding(compute)}${SIGMOID}
@group(0) @binding(0) var<storage, read> gate: array<f32>;
@group(0) @binding(1) var<storage, read> up: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
struct P { n: u32 }
@group(0) @binding(3) var<uniform> p: P;
${ELEMENT_ENTRY}
  if (i >= p.n) { return; }
  let g = gate[i];
  out[i] = act(act(g * sigmoid(g)) * up[i]);  // bf16 compute rounds silu's output, then the product
}
`,
  };
}

const BACKWARD = {
  key: 'swiglu/bwd',
  storageBindings: 5,
  hasParams: true,
  wgsl: () => /* wgsl */ `
${LINEAR_WORKGROUP}${SIGMOID}
@group(0) @binding(0) var<storage, read> gate: array<f32>;
@group(0) @binding(1) var<storage, read> up: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> d_gate: array<f32>;
@group(0) @binding(4) var<storage, read_write> d_up: array<f32>;
struct P { n: u32 }
@group(0) @binding(5) var<uniform> p: P;
${ELEMENT_ENTRY}
  if (i >= p.n) { return; }
  let g = gate[i];
  let s = sigmoid(g);
  let d = dy[i];
  d_up[i] = d * g * s;
  // d silu / dg = s + g s (1 - s) = s (1 + g (1 - s))
  d_gate[i] = d * up[i] * s * fma(g, 1.0 - s, 1.0);
}
`,
};

function requireSameShapes(op: string, ...ts: Tensor[]): void {
  for (const t of ts) {
    requireF32(t, op);
    if (t.shape.length !== ts[0].shape.length || t.shape.some((d, i) => d !== ts[0].shape[i])) {
      throw new ShapeMismatchError(`${op}: shapes ${ts.map((x) => fmtShape(x.shape)).join(', ')} differ`,
        'gate, up (and dy) must all have the MLP intermediate shape [..., F].');
    }
  }
}

/** out: [..., F] f32 = silu(gate) * up; gate, up: [..., F] f32. */
export function swiglu(gpu: Gpu, gate: Tensor, up: Tensor, compute: DType = 'f32'): Tensor {
  requireSameShapes('swiglu', gate, up);
  const out = Tensor.scratch(gpu, gate.shape, gpu.activationTag('swiglu out'));
  gpu.dispatch(gpu.kernel(forwardSource(compute)), [gate.buffer, up.buffer, out.buffer], new Params().u32(gate.numel), elementGrid(gate.numel));
  return out;
}

/** Gradients of swiglu: dGate, dUp: [..., F] f32 for upstream dy: [..., F] f32 and the forward inputs. */
export function swigluBackward(gpu: Gpu, gate: Tensor, up: Tensor, dy: Tensor): { dGate: Tensor; dUp: Tensor } {
  requireSameShapes('swigluBackward', gate, up, dy);
  const dGate = Tensor.scratch(gpu, gate.shape, gpu.activationTag('swiglu d_gate'));
  const dUp = Tensor.scratch(gpu, gate.shape, gpu.activationTag('swiglu d_up'));
  gpu.dispatch(gpu.kernel(BACKWARD), [gate.buffer, up.buffer, dy.buffer, dGate.buffer, dUp.buffer],
    new Params().u32(gate.numel), elementGrid(gate.numel));
  return { dGate, dUp };
}
