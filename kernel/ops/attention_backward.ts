// Causal grouped-query attention, backward (prefill layout: posOffset 0, kvLen T), flash-style: the probabilities are
// recomputed from q, k and the saved lse, so no [T, T] matrix is stored. With s = q.k / sqrt(Dh), P = exp(s - lse):
//   D_r   = sum_d dO_r,d O_r,d                 dS_rj = P_rj (dO_r . v_j - D_r)
//   dq_r  = sum_j dS_rj k_j / sqrt(Dh)         dk_j  = sum_r dS_rj q_r / sqrt(Dh)        dv_j = sum_r P_rj dO_r
// where r runs over the query rows of every head in the key's group with t_r >= j. Two passes and no atomics: the
// first owns query rows (D and dq), the second owns keys (dk and dv, looping over the queries that see them).
import type { Gpu } from '../gpu/context.js';
import { grid } from '../gpu/context.js';
import { Params } from '../gpu/params.js';
import { Tensor, fmtShape } from '../gpu/tensor.js';
import type { KernelSource } from '../gpu/pipelines.js';
import { ShapeMismatchError } from '../errors.js';
import { requireF32 } from './elementwise.js';
import { LINEAR_WORKGROUP } from './wgsl.js';
import {
  checkLanes, defaultLanes, defaultWorkgroupSize, dot, entryPoint, itemWorkgroups, laneDims, laneHeader, laneKey, laneSum,
  lines, rowDecls, rowsOf, shapeClass, softwareBlock, type LaneGroups, type Lanes, type RowBlock,
} from './attention_codegen.js';
import { attentionShape } from './attention_shape.js';

export interface BackwardPlan extends RowBlock {
  /** Keys one lane group owns in the dk/dv pass. */
  keysPerItem: number;
}

/** Head-vector floats per lane for the rows (dq pass) or keys (dk/dv pass) of a lane group on SwiftShader; each
 *  row carries three such slices (q, dO, dq) and each key four (k, v, dk, dv), so this is half the forward's. */
const SOFTWARE_BLOCK_FLOATS = 128;

/** The plan `attentionBackward` uses on this device. */
export function planAttentionBackward(gpu: Gpu, Dh: number, group: number, T: number): BackwardPlan {
  const lanes: Lanes = gpu.software ? defaultLanes(gpu, Dh) : 1;
  // Rows (dq pass) or keys (dk/dv pass) per lane group: as many as the register budget allows on SwiftShader.
  const fit = gpu.software ? softwareBlock(Dh, lanes, SOFTWARE_BLOCK_FLOATS) : 1;
  const headsPerItem = Math.min(group, fit);
  return {
    lanes, workgroupSize: defaultWorkgroupSize(gpu), headsPerItem,
    // Rounded up to a power of two: each distinct block is a separate pipeline, and T varies batch by batch.
    tokensPerItem: Math.min(shapeClass(T), Math.max(1, Math.floor(fit / headsPerItem))),
    keysPerItem: Math.min(shapeClass(T), fit),
  };
}

const PARAMS = 'T: u32, H: u32, KV: u32, group: u32, head_blocks: u32, token_blocks: u32, key_blocks: u32, items: u32, scale: f32';

/** Bindings: q, k, v, o, dO, lse [B, H, T]; writes dq [B, T, H, Dh] and D [B, H, T]. */
function dqSource(headDim: number, block: RowBlock): KernelSource {
  const { lanes } = block;
  const R = rowsOf(block);
  const dims = laneDims(headDim, lanes);
  const DL = dims.length;
  const rows = (f: (r: number) => string) => lines(R, f);
  const perRowDim = (f: (r: number, i: number) => string) => lines(R * DL, (x) => f(Math.floor(x / DL), x % DL));
  return {
    key: `attention/bwd_dq/dh=${headDim}/${laneKey(block)}/rows=${block.headsPerItem}x${block.tokensPerItem}`,
    storageBindings: 8,
    hasParams: true,
    wgsl: () => /* wgsl */ `${laneHeader(lanes)}
${LINEAR_WORKGROUP}
@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read> o: array<f32>;
@group(0) @binding(4) var<storage, read> d_o: array<f32>;
@group(0) @binding(5) var<storage, read> lse: array<f32>;
@group(0) @binding(6) var<storage, read_write> dq: array<f32>;
@group(0) @binding(7) var<storage, read_write> dsum: array<f32>;
struct P { ${PARAMS} }
@group(0) @binding(8) var<uniform> p: P;

${entryPoint(block)}
  if (item >= p.items) { return; }
  // item = ((b * KV + g) * token_blocks + tb) * head_blocks + hb
  let hb = item % p.head_blocks;
  var x = item / p.head_blocks;
  let tb = x % p.token_blocks;
  x /= p.token_blocks;
  let g = x % p.KV;
  let b = x / p.KV;
${rowDecls(block, headDim)}
  let k_end = min(tb * ${block.tokensPerItem}u + ${block.tokensPerItem}u, p.T);
${rows((r) => `let lim${r} = select(0u, t${r} + 1u, ok${r});\n  let stat${r} = select(0u, (b * p.H + h${r}) * p.T + t${r}, ok${r});  // 0 for rows that do not exist: select() below loads either way`)}
${perRowDim((r, i) => `let q${r}_${i} = select(0.0, q[row${r} + ${dims[i]}] * p.scale, ok${r});\n  let do${r}_${i} = select(0.0, d_o[row${r} + ${dims[i]}], ok${r});`)}
${rows((r) => `let lse${r} = select(0.0, lse[stat${r}], ok${r});\n  let dsum${r} = ${laneSum(lanes, dot(DL, (i) => `do${r}_${i}`, (i) => `select(0.0, o[row${r} + ${dims[i]}], ok${r})`))};`)}
${perRowDim((r, i) => `var dq${r}_${i} = 0.0;`)}
  for (var j = 0u; j < k_end; j++) {
    let kb = ((b * p.T + j) * p.KV + g) * ${headDim}u;
${lines(DL, (i) => `let k${i} = k[kb + ${dims[i]}];\n    let v${i} = v[kb + ${dims[i]}];`, '    ')}
${lines(R, (r) => `{
      let s = ${laneSum(lanes, dot(DL, (i) => `q${r}_${i}`, (i) => `k${i}`))};
      let dp = ${laneSum(lanes, dot(DL, (i) => `do${r}_${i}`, (i) => `v${i}`))};
      let ds = select(0.0, exp(s - lse${r}) * (dp - dsum${r}), j < lim${r});
${lines(DL, (i) => `dq${r}_${i} = fma(ds, k${i}, dq${r}_${i});`, '      ')}
    }`, '    ')}
  }
${rows((r) => `if (ok${r}) {
${lines(DL, (i) => `dq[row${r} + ${dims[i]}] = dq${r}_${i} * p.scale;`, '    ')}
    if (lane == 0u) { dsum[stat${r}] = dsum${r}; }
  }`)}
}
`,
  };
}

/** Bindings: q, k, v, dO, lse, D; writes dk and dv [B, T, KV, Dh]. */
function dkdvSource(headDim: number, groups: LaneGroups, keysPerItem: number): KernelSource {
  const { lanes } = groups;
  const C = keysPerItem;
  const dims = laneDims(headDim, lanes);
  const DL = dims.length;
  const keys = (f: (c: number) => string, indent = '  ') => lines(C, f, indent);
  const perKeyDim = (f: (c: number, i: number) => string, indent = '  ') => lines(C * DL, (x) => f(Math.floor(x / DL), x % DL), indent);
  return {
    key: `attention/bwd_dkdv/dh=${headDim}/${laneKey(groups)}/keys=${C}`,
    storageBindings: 8,
    hasParams: true,
    wgsl: () => /* wgsl */ `${laneHeader(lanes)}
${LINEAR_WORKGROUP}
@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read> d_o: array<f32>;
@group(0) @binding(4) var<storage, read> lse: array<f32>;
@group(0) @binding(5) var<storage, read> dsum: array<f32>;
@group(0) @binding(6) var<storage, read_write> dk: array<f32>;
@group(0) @binding(7) var<storage, read_write> dv: array<f32>;
struct P { ${PARAMS} }
@group(0) @binding(8) var<uniform> p: P;

${entryPoint(groups)}
  if (item >= p.items) { return; }
  // item = (b * KV + g) * key_blocks + kb
  let key_block = item % p.key_blocks;
  let g = (item / p.key_blocks) % p.KV;
  let b = item / (p.key_blocks * p.KV);
  let j_first = key_block * ${C}u;
${keys((c) => `let j${c} = j_first + ${c}u;\n  let ok${c} = j${c} < p.T;\n  let kb${c} = select(0u, ((b * p.T + j${c}) * p.KV + g) * ${headDim}u, ok${c});`)}
${perKeyDim((c, i) => `let k${c}_${i} = k[kb${c} + ${dims[i]}] * p.scale;\n  let v${c}_${i} = v[kb${c} + ${dims[i]}];\n  var dk${c}_${i} = 0.0;\n  var dv${c}_${i} = 0.0;`)}
  for (var t = j_first; t < p.T; t++) {
    for (var hi = 0u; hi < p.group; hi++) {
      let h = g * p.group + hi;
      let rb = ((b * p.T + t) * p.H + h) * ${headDim}u;
      let stat = (b * p.H + h) * p.T + t;
      let lse_r = lse[stat];
      let dsum_r = dsum[stat];
${lines(DL, (i) => `let q${i} = q[rb + ${dims[i]}];\n      let do${i} = d_o[rb + ${dims[i]}];`, '      ')}
${keys((c) => `{
        let s = ${laneSum(lanes, dot(DL, (i) => `q${i}`, (i) => `k${c}_${i}`))};
        let dp = ${laneSum(lanes, dot(DL, (i) => `do${i}`, (i) => `v${c}_${i}`))};
        let pr = select(0.0, exp(s - lse_r), j${c} <= t);
        let ds = pr * (dp - dsum_r);
${lines(DL, (i) => `dv${c}_${i} = fma(pr, do${i}, dv${c}_${i});\n        dk${c}_${i} = fma(ds, q${i}, dk${c}_${i});`, '        ')}
      }`, '      ')}
    }
  }
${keys((c) => `if (ok${c}) {
${lines(DL, (i) => `dk[kb${c} + ${dims[i]}] = dk${c}_${i} * p.scale;\n    dv[kb${c} + ${dims[i]}] = dv${c}_${i};`, '    ')}
  }`)}
}
`,
  };
}

/**
 * Gradients of `attention` in the prefill layout (posOffset 0, kvLen T) from q [B, T, H, Dh], k, v [B, T, KV, Dh],
 * the forward output out [B, T, H, Dh], its upstream gradient dOut [B, T, H, Dh] and the saved lse [B, H, T].
 * Returns dq [B, T, H, Dh] and dk, dv [B, T, KV, Dh] (each summed over the query heads of its group), all f32.
 */
export function attentionBackward(gpu: Gpu, q: Tensor, k: Tensor, v: Tensor, out: Tensor, dOut: Tensor, lse: Tensor): { dq: Tensor; dk: Tensor; dv: Tensor } {
  const s = attentionShape('attentionBackward', q, k, v);
  return runAttentionBackward(gpu, q, k, v, out, dOut, lse, planAttentionBackward(gpu, s.Dh, s.H / s.KV, s.T));
}

/** `attentionBackward` with an explicit plan (tests run every variant through it). */
export function runAttentionBackward(gpu: Gpu, q: Tensor, k: Tensor, v: Tensor, out: Tensor, dOut: Tensor, lse: Tensor,
  plan: BackwardPlan): { dq: Tensor; dk: Tensor; dv: Tensor } {
  const s = attentionShape('attentionBackward', q, k, v);
  if (s.S !== s.T) {
    throw new ShapeMismatchError(`attentionBackward: k ${fmtShape(k.shape)} must hold exactly the ${s.T} keys of q ${fmtShape(q.shape)}`,
      'The backward pass covers prefill (posOffset 0, kvLen T); pass the un-cached k and v.');
  }
  for (const [t, what] of [[out, 'out'], [dOut, 'dOut']] as const) {
    requireF32(t, `attentionBackward ${what}`);
    if (t.shape.some((d, i) => d !== q.shape[i]) || t.shape.length !== 4) {
      throw new ShapeMismatchError(`attentionBackward: ${what} ${fmtShape(t.shape)} differs from q ${fmtShape(q.shape)}`);
    }
  }
  requireF32(lse, 'attentionBackward lse');
  if (lse.shape.length !== 3 || lse.shape[0] !== s.B || lse.shape[1] !== s.H || lse.shape[2] !== s.T) {
    throw new ShapeMismatchError(`attentionBackward: lse ${fmtShape(lse.shape)} should be [${s.B}, ${s.H}, ${s.T}]`,
      'Run the forward pass with saveLse: true and pass its lse.');
  }
  checkLanes(gpu, plan, s.Dh);
  const group = s.H / s.KV;
  const headBlocks = Math.ceil(group / plan.headsPerItem);
  const tokenBlocks = Math.ceil(s.T / plan.tokensPerItem);
  const keyBlocks = Math.ceil(s.T / plan.keysPerItem);
  const dq = Tensor.scratch(gpu, q.shape, gpu.activationTag('attention dq'));
  const dk = Tensor.scratch(gpu, k.shape, gpu.activationTag('attention dk'));
  const dv = Tensor.scratch(gpu, k.shape, gpu.activationTag('attention dv'));
  const dsum = Tensor.scratch(gpu, [s.B, s.H, s.T], gpu.activationTag('attention rowsum(dO*O)'));
  const params = (items: number) => new Params().u32(s.T).u32(s.H).u32(s.KV).u32(group).u32(headBlocks).u32(tokenBlocks)
    .u32(keyBlocks).u32(items).f32(1 / Math.sqrt(s.Dh));
  const dqItems = s.B * s.KV * tokenBlocks * headBlocks;
  gpu.dispatch(gpu.kernel(dqSource(s.Dh, plan)), [q.buffer, k.buffer, v.buffer, out.buffer, dOut.buffer, lse.buffer, dq.buffer, dsum.buffer],
    params(dqItems), grid(itemWorkgroups(dqItems, plan)));
  const kvItems = s.B * s.KV * keyBlocks;
  gpu.dispatch(gpu.kernel(dkdvSource(s.Dh, plan, plan.keysPerItem)), [q.buffer, k.buffer, v.buffer, dOut.buffer, lse.buffer, dsum.buffer, dk.buffer, dv.buffer],
    params(kvItems), grid(itemWorkgroups(kvItems, plan)));
  dsum.dispose();
  return { dq, dk, dv };
}
