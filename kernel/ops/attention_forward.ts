// WGSL of causal grouped-query attention, forward: an online-softmax (flash-style) pass over key blocks that never
// stores a [T, T] score matrix, and the pass that combines partial results when the keys were split.
//
// A lane group owns a block of query rows (heads of one KV group x consecutive tokens) and one range of keys (a
// split). Per block of `keyBlock` keys it computes the scores of every row, updates the running max m, the running
// sum l = sum exp(s - m) and the accumulator acc = sum exp(s - m) v, rescaling by exp(m_old - m_new) once per block.
// Without splits it writes o = acc / l (and lse = m + log l); with splits it writes (m, l, acc) per split and
// `combineSource` merges them: M = max m_s, L = sum l_s e^(m_s - M), o = sum acc_s e^(m_s - M) / L.
import type { DType } from '../gpu/tensor.js';
import type { KernelSource } from '../gpu/pipelines.js';
import { BF16, LINEAR_WORKGROUP, activationRounding } from './wgsl.js';
import { ELEMENT_ENTRY } from './elementwise.js';
import {
  NEG_SCORE, dot, entryPoint, laneDims, laneHeader, laneKey, laneSum, lines, rowDecls, rowsOf, type RowBlock,
} from './attention_codegen.js';

export interface ForwardBlock extends RowBlock {
  /** Keys scored together between two rescalings of the accumulators. */
  keyBlock: number;
}

/** Uniforms of the forward kernel, in WGSL order. */
const FORWARD_PARAMS = 'T: u32, H: u32, KV: u32, S: u32, kv_len: u32, pos_offset: u32, group: u32, '
  + 'head_blocks: u32, token_blocks: u32, splits: u32, chunk: u32, items: u32, scale: f32';

/**
 * Bindings: q [B, T, H, Dh], k and v [B, S, KV, Dh], then
 * final:   o [B, T, H, Dh] and, with `saveLse`, lse [B, H, T];
 * partial: acc [B, H, T, splits, Dh] and ml [B, H, T, splits, 2] (m, l).
 */
export function forwardSource(headDim: number, block: ForwardBlock, mode: 'final' | 'partial', saveLse: boolean, compute: DType): KernelSource {
  const { lanes, keyBlock: KB } = block;
  const R = rowsOf(block);
  const dims = laneDims(headDim, lanes);
  const DL = dims.length;
  const rows = (f: (r: number) => string) => lines(R, f);
  const perRowDim = (f: (r: number, i: number) => string) => lines(R * DL, (x) => f(Math.floor(x / DL), x % DL));
  const writesStats = mode === 'partial' || saveLse;

  const keyStep = (jj: number) => `  {
    let kb = ((b * p.S + min(j0 + ${jj}u, k_end - 1u)) * p.KV + g) * ${headDim}u;
${lines(DL, (i) => `let k${i} = k[kb + ${dims[i]}];`, '    ')}
${lines(R, (r) => `s${r}_${jj} = select(${NEG_SCORE}, ${laneSum(lanes, dot(DL, (i) => `q${r}_${i}`, (i) => `k${i}`))}, j0 + ${jj}u < lim${r});`, '    ')}
  }`;
  const valueStep = (jj: number) => `  {
    let vb = ((b * p.S + min(j0 + ${jj}u, k_end - 1u)) * p.KV + g) * ${headDim}u;
${lines(DL, (i) => `let v${i} = v[vb + ${dims[i]}];`, '    ')}
${lines(R * DL, (x) => { const r = Math.floor(x / DL), i = x % DL; return `a${r}_${i} = fma(p${r}_${jj}, v${i}, a${r}_${i});`; }, '    ')}
  }`;
  const softmaxStep = (r: number) => {
    const ss = Array.from({ length: KB }, (_, jj) => `s${r}_${jj}`);
    const blockMax = ss.reduce((acc, s) => `max(${acc}, ${s})`, `m${r}`);
    return `  {
    let mx = ${blockMax};
    let corr = exp(m${r} - mx);
${lines(KB, (jj) => `p${r}_${jj} = select(0.0, exp(s${r}_${jj} - mx), j0 + ${jj}u < lim${r});`, '    ')}
    l${r} = fma(l${r}, corr, ${ss.map((_, jj) => `p${r}_${jj}`).join(' + ')});
    m${r} = mx;
${lines(DL, (i) => `a${r}_${i} *= corr;`, '    ')}
  }`;
  };

  const finalWrites = () => rows((r) => `if (ok${r}) {
    let inv_l = 1.0 / l${r};
${lines(DL, (i) => `o[row${r} + ${dims[i]}] = act(a${r}_${i} * inv_l);`, '    ')}
${saveLse ? `    if (lane == 0u) { stats[(b * p.H + h${r}) * p.T + t${r}] = m${r} + log(l${r}); }` : ''}
  }`);
  const partialWrites = () => rows((r) => `if (ok${r}) {
    let at = ((b * p.H + h${r}) * p.T + t${r}) * p.splits + split;
${lines(DL, (i) => `o[at * ${headDim}u + ${dims[i]}] = a${r}_${i};`, '    ')}
    if (lane == 0u) { stats[at * 2u] = m${r}; stats[at * 2u + 1u] = l${r}; }
  }`);

  return {
    key: `attention/fwd/dh=${headDim}/${laneKey(block)}/rows=${block.headsPerItem}x${block.tokensPerItem}/kb=${KB}/${mode}/lse=${saveLse}/c=${compute}`,
    storageBindings: writesStats ? 5 : 4,
    hasParams: true,
    wgsl: () => /* wgsl */ `${laneHeader(lanes)}
${BF16}${LINEAR_WORKGROUP}${activationRounding(compute)}
@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
${writesStats ? '@group(0) @binding(4) var<storage, read_write> stats: array<f32>;' : ''}
struct P { ${FORWARD_PARAMS} }
@group(0) @binding(${writesStats ? 5 : 4}) var<uniform> p: P;

${entryPoint(block)}
  if (item >= p.items) { return; }
  // item = ((((b * KV + g) * splits + split) * token_blocks + tb) * head_blocks + hb)
  let hb = item % p.head_blocks;
  var x = item / p.head_blocks;
  let tb = x % p.token_blocks;
  x /= p.token_blocks;
  let split = x % p.splits;
  x /= p.splits;
  let g = x % p.KV;
  let b = x / p.KV;
${rowDecls(block, headDim)}
  let t_last = min(tb * ${block.tokensPerItem}u + ${block.tokensPerItem}u, p.T) - 1u;
  let k_start = split * p.chunk;
  let k_end = min(min(k_start + p.chunk, p.kv_len), p.pos_offset + t_last + 1u);
  // Row r sees keys j < lim_r (causal: j <= pos_offset + t_r; and only this split's keys).
${rows((r) => `let lim${r} = select(0u, min(p.pos_offset + t${r} + 1u, k_end), ok${r});`)}
${perRowDim((r, i) => `let q${r}_${i} = select(0.0, q[row${r} + ${dims[i]}] * p.scale, ok${r});`)}
${rows((r) => `var m${r} = ${NEG_SCORE};\n  var l${r} = 0.0;`)}
${perRowDim((r, i) => `var a${r}_${i} = 0.0;`)}
${lines(R * KB, (x) => `var s${Math.floor(x / KB)}_${x % KB}: f32;\n  var p${Math.floor(x / KB)}_${x % KB}: f32;`)}
  for (var j0 = k_start; j0 < k_end; j0 += ${KB}u) {
${Array.from({ length: KB }, (_, jj) => keyStep(jj)).join('\n')}
${Array.from({ length: R }, (_, r) => softmaxStep(r)).join('\n')}
${Array.from({ length: KB }, (_, jj) => valueStep(jj)).join('\n')}
  }
${mode === 'final' ? finalWrites() : partialWrites()}
}
`,
  };
}

/** Uniforms of the combine kernel, in WGSL order. */
const COMBINE_PARAMS = 'T: u32, H: u32, rows: u32, splits: u32';

/**
 * One invocation per output element (row, d) of o [B, T, H, Dh] from acc [B, H, T, splits, Dh] and
 * ml [B, H, T, splits, 2]; the d = 0 invocation of each row also writes lse [B, H, T] when `saveLse`.
 */
export function combineSource(headDim: number, saveLse: boolean, compute: DType): KernelSource {
  return {
    key: `attention/combine/dh=${headDim}/lse=${saveLse}/c=${compute}`,
    storageBindings: saveLse ? 4 : 3,
    hasParams: true,
    wgsl: () => /* wgsl */ `
${BF16}${LINEAR_WORKGROUP}${activationRounding(compute)}
@group(0) @binding(0) var<storage, read> acc: array<f32>;
@group(0) @binding(1) var<storage, read> ml: array<f32>;
@group(0) @binding(2) var<storage, read_write> o: array<f32>;
${saveLse ? '@group(0) @binding(3) var<storage, read_write> lse: array<f32>;' : ''}
struct P { ${COMBINE_PARAMS} }
@group(0) @binding(${saveLse ? 4 : 3}) var<uniform> p: P;

${ELEMENT_ENTRY}
  if (i >= p.rows * ${headDim}u) { return; }
  let row = i / ${headDim}u;            // (b * H + h) * T + t
  let d = i % ${headDim}u;
  let base = row * p.splits;
  var m = ${NEG_SCORE};
  for (var s = 0u; s < p.splits; s++) { m = max(m, ml[(base + s) * 2u]); }
  var l = 0.0;
  var a = 0.0;
  for (var s = 0u; s < p.splits; s++) {
    let w = exp(ml[(base + s) * 2u] - m);
    l = fma(ml[(base + s) * 2u + 1u], w, l);
    a = fma(acc[(base + s) * ${headDim}u + d], w, a);
  }
  let t = row % p.T;
  let bh = row / p.T;
  let h = bh % p.H;
  let b = bh / p.H;
  o[((b * p.T + t) * p.H + h) * ${headDim}u + d] = act(a / l);
${saveLse ? '  if (d == 0u) { lse[row] = m + log(l); }' : ''}
}
`,
  };
}
