// Mean cross-entropy over a batch of logits (PyTorch F.cross_entropy, reduction 'mean') and its gradient.
// Workgroup barriers are very costly on software adapters, so the reductions are barrier-free except the final mean:
//   1. stats: each invocation reduces one strided segment of a row to (max, sum of exp(x - max)), online;
//   2. rows:  one invocation per row merges its segments into log-sum-exp and the row's loss;
//   3. mean:  one workgroup sums the row losses (strided sums, then a tree) and divides by B;
//   4. grad:  dLogits = (softmax - onehot(label)) * gradScale / B, one invocation per element.
import type { Gpu } from '../gpu/context.js';
import { Params } from '../gpu/params.js';
import { Tensor, fmtShape } from '../gpu/tensor.js';
import { DtypeMismatchError, ShapeMismatchError } from '../errors.js';
import { ELEMENT_ENTRY, elementGrid, requireF32 } from './elementwise.js';
import { LINEAR_WORKGROUP } from './wgsl.js';

/** Logits per stats invocation (at most): a row of C logits is split into ceil(C / SEGMENT) strided segments. */
const SEGMENT = 256;
const MEAN_WG = 64;
const LOWEST = '-3.4028234663852886e38';

/** Online (max, sum-exp) merge of two partial softmax denominators. */
const MERGE = /* wgsl */ `
fn merge(a: vec2f, b: vec2f) -> vec2f {
  let m = max(a.x, b.x);
  return vec2f(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}
`;

const STATS = {
  key: 'cross_entropy/stats',
  storageBindings: 2,
  hasParams: true,
  wgsl: () => /* wgsl */ `
${LINEAR_WORKGROUP}
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> partial: array<vec2f>;  // [rows, segments] (max, sum exp(x - max))
struct P { rows: u32, classes: u32, segments: u32 }
@group(0) @binding(2) var<uniform> p: P;
${ELEMENT_ENTRY}
  if (i >= p.rows * p.segments) { return; }
  let base = (i / p.segments) * p.classes;
  var acc = vec2f(${LOWEST}, 0.0);
  // Segment k holds classes k, k + S, k + 2S, ...: neighbouring invocations read neighbouring logits.
  for (var c = i % p.segments; c < p.classes; c += p.segments) {
    let x = logits[base + c];
    if (x > acc.x) { acc = vec2f(x, fma(acc.y, exp(acc.x - x), 1.0)); } else { acc.y += exp(x - acc.x); }
  }
  partial[i] = acc;
}
`,
};

const ROWS = {
  key: 'cross_entropy/rows',
  storageBindings: 5,
  hasParams: true,
  wgsl: () => /* wgsl */ `
${LINEAR_WORKGROUP}${MERGE}
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read> partial: array<vec2f>;
@group(0) @binding(3) var<storage, read_write> lse: array<f32>;       // [rows] log-sum-exp of each row
@group(0) @binding(4) var<storage, read_write> row_loss: array<f32>;  // [rows]
struct P { rows: u32, classes: u32, segments: u32 }
@group(0) @binding(5) var<uniform> p: P;
${ELEMENT_ENTRY}
  if (i >= p.rows) { return; }
  var acc = partial[i * p.segments];
  for (var k = 1u; k < p.segments; k++) { acc = merge(acc, partial[i * p.segments + k]); }
  let row_lse = acc.x + log(acc.y);
  lse[i] = row_lse;
  row_loss[i] = row_lse - logits[i * p.classes + min(labels[i], p.classes - 1u)];  // clamped: never another row's logit
}
`,
};

const MEAN = {
  key: 'cross_entropy/mean',
  storageBindings: 2,
  hasParams: true,
  wgsl: () => /* wgsl */ `
@group(0) @binding(0) var<storage, read> row_loss: array<f32>;
@group(0) @binding(1) var<storage, read_write> loss: array<f32>;  // [1]
struct P { rows: u32 }
@group(0) @binding(2) var<uniform> p: P;
var<workgroup> tree: array<f32, ${MEAN_WG}>;

@compute @workgroup_size(${MEAN_WG})
fn main(@builtin(local_invocation_index) lid: u32) {
  var sum = 0.0;
  for (var r = lid; r < p.rows; r += ${MEAN_WG}u) { sum += row_loss[r]; }
  tree[lid] = sum;
  workgroupBarrier();
  for (var s = ${MEAN_WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { tree[lid] += tree[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { loss[0] = tree[0] / f32(p.rows); }
}
`,
};

const GRAD = {
  key: 'cross_entropy/grad',
  storageBindings: 4,
  hasParams: true,
  wgsl: () => /* wgsl */ `
${LINEAR_WORKGROUP}
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read_write> d_logits: array<f32>;
struct P { rows: u32, classes: u32, scale: f32 }  // scale = gradScale / rows
@group(0) @binding(4) var<uniform> p: P;
${ELEMENT_ENTRY}
  if (i >= p.rows * p.classes) { return; }
  let row = i / p.classes;
  let softmax = exp(logits[i] - lse[row]);
  d_logits[i] = (softmax - select(0.0, 1.0, i % p.classes == labels[row])) * p.scale;
}
`,
};

/**
 * loss: [1] f32 = mean over rows of (logsumexp(logits[r]) - logits[r, labels[r]]); dLogits: [B, C] f32 = its
 * gradient times gradScale (1 normally, 1/k when accumulating k micro-batches). logits: [B, C] f32; labels: u32 [B]
 * with each label < C (the caller builds labels on the host and checks them there; an out-of-range label gives a
 * meaningless loss but never reads outside its row).
 */
export function crossEntropy(gpu: Gpu, logits: Tensor, labels: Tensor, gradScale = 1): { loss: Tensor; dLogits: Tensor } {
  requireF32(logits, 'crossEntropy logits');
  if (labels.dtype !== 'u32') throw new DtypeMismatchError(`crossEntropy: labels must be a u32 tensor, got ${labels.dtype}`);
  if (logits.shape.length !== 2 || labels.shape.length !== 1 || labels.shape[0] !== logits.shape[0]) {
    throw new ShapeMismatchError(`crossEntropy: expected logits [B, C] and labels [B], got ${fmtShape(logits.shape)} and ${fmtShape(labels.shape)}`);
  }
  const [rows, classes] = logits.shape;
  if (rows === 0 || classes === 0) throw new ShapeMismatchError(`crossEntropy: empty logits ${fmtShape(logits.shape)}`);
  const segments = Math.ceil(classes / SEGMENT);
  const partial = Tensor.scratch(gpu, [rows, segments, 2], gpu.activationTag('cross-entropy partials'));
  const lse = Tensor.scratch(gpu, [rows], gpu.activationTag('cross-entropy logsumexp'));
  const rowLoss = Tensor.scratch(gpu, [rows], gpu.activationTag('cross-entropy row losses'));
  const loss = Tensor.scratch(gpu, [1], gpu.activationTag('loss'));
  const dLogits = Tensor.scratch(gpu, [rows, classes], gpu.activationTag('d logits'));
  const shape = new Params().u32(rows).u32(classes).u32(segments);
  gpu.dispatch(gpu.kernel(STATS), [logits.buffer, partial.buffer], shape, elementGrid(rows * segments));
  gpu.dispatch(gpu.kernel(ROWS), [logits.buffer, labels.buffer, partial.buffer, lse.buffer, rowLoss.buffer], shape, elementGrid(rows));
  gpu.dispatch(gpu.kernel(MEAN), [rowLoss.buffer, loss.buffer], new Params().u32(rows), [1]);
  gpu.dispatch(gpu.kernel(GRAD), [logits.buffer, labels.buffer, lse.buffer, dLogits.buffer],
    new Params().u32(rows).u32(classes).f32(gradScale / rows), elementGrid(rows * classes));
  for (const t of [partial, lse, rowLoss]) t.dispose();
  return { loss, dLogits };
}
