// Register-tiled matmul kernels: C(i, j) (+)= sum_r A(i, r) * B(j, r), with A f32 and B f32 or bf16, each stored
// either "rowMajor" (element (i, r) at i*ld + r) or "colMajor" (element (i, r) at r*ld + i). The three linear
// products are instances: forward x @ W^T, grad input dy @ W, grad weight dy^T @ x (see linear.ts).
//
// Each invocation owns a TM x CN block of C in scalar accumulators (separate `var`s, updated with nested fma()
// chains over U reduction steps, so each accumulator is loaded and stored once per U steps). With `lanes: 4` a
// 4-lane subgroup shares the TM rows of A: every lane loads a quarter of the A values of a step and the others get
// them through quad swaps (one shuffle on SwiftShader; lane l's accumulator rows are then the quarters of lanes
// l, l^1, l^2, l^3) or, for a one-row tile, subgroupBroadcast; each lane loads its own CN columns of B (bf16
// pairs unpacked from one u32). No workgroup memory, no barriers: on SwiftShader every runtime-indexed load is a
// per-lane gather and barriers are expensive, so fewer loads per FMA is what counts. `lanes: 1` is the same
// kernel without subgroup operations, for adapters that lack them.
import type { KernelSource } from '../../gpu/pipelines.js';
import type { DType } from '../../gpu/tensor.js';
import { BF16, LINEAR_WORKGROUP } from '../wgsl.js';

export type Layout = 'rowMajor' | 'colMajor';

export interface TileShape {
  /** Rows of C (i) per invocation; with lanes 4 the whole subgroup shares them. */
  tm: number;
  /** Columns of C (j) per invocation. */
  cn: number;
  /** Reduction steps per loop iteration (even when B is bf16 pairs along r). */
  u: number;
  /** 4: a 4-lane subgroup (a quad) shares the A rows; 1: every invocation loads its own. */
  lanes: 1 | 4;
  /** Invocations per workgroup; each owns its own CN columns. */
  wg: number;
}

export interface MatmulKernelSpec {
  /** Names the product in the pipeline key ('fwd', 'dx', 'dw'). */
  op: string;
  aLayout: Layout;
  bLayout: Layout;
  bDtype: DType;
  /**
   * bf16 B read as u32 pairs along its contiguous dimension (needs an even leading dimension, and for colMajor B
   * an even column count). When false a bf16 B is read one element at a time (odd K).
   */
  bPairs: boolean;
  /**
   * FLAG_* bits: what the store does besides writing the sum. Compiled in, not a runtime parameter: on
   * SwiftShader the branches of runtime flags cost more per element than the rest of the store (dW, whose
   * reduction is short and stores many: 1.5x faster at depth 128, 2.5x at depth 32).
   */
  flags: number;
  tile: TileShape;
}

/** Params, in WGSL struct order. */
export const PARAM_FIELDS = ['rows', 'cols', 'depth', 'lda', 'ldb', 'ldc', 'aOff', 'cOff', 'tilesI', 'tilesJ'] as const;
export type MatmulParams = Record<(typeof PARAM_FIELDS)[number], number>;
/** C += existing C instead of C = result. */
export const FLAG_ACCUMULATE = 1;
/** Add bias[cOff + j] (f32 storage). */
export const FLAG_BIAS_F32 = 2;
/** Add bias[cOff + j] (bf16 storage). */
export const FLAG_BIAS_BF16 = 4;
/** Round every stored value to bf16. */
export const FLAG_ROUND_BF16 = 8;

/** Columns of C one workgroup covers. */
export function tileCols(t: TileShape): number {
  return t.wg * t.cn;
}

export function kernelKey(s: MatmulKernelSpec): string {
  const t = s.tile;
  const b = s.bDtype === 'bf16' ? (s.bPairs ? 'bf16x2' : 'bf16') : 'f32';
  return `matmul/${s.op}/a=${s.aLayout}/b=${s.bLayout}:${b}/tm${t.tm}cn${t.cn}u${t.u}l${t.lanes}wg${t.wg}/flags=${s.flags}`;
}

export function matmulKernel(s: MatmulKernelSpec): KernelSource {
  validate(s);
  return { key: kernelKey(s), storageBindings: 4, hasParams: true, wgsl: () => generate(s) };
}

function validate(s: MatmulKernelSpec): void {
  const { tm, cn, u, lanes, wg } = s.tile;
  if (lanes === 4 && wg !== 4) throw new Error('matmul tile: a subgroup-shared tile uses one 4-lane subgroup per workgroup');
  if ((tm * u) % lanes !== 0) throw new Error('matmul tile: tm * u must split evenly over the lanes');
  if (s.bDtype === 'bf16' && s.bPairs) {
    if (s.bLayout === 'rowMajor' && u % 2 !== 0) throw new Error('matmul tile: bf16 pairs along r need an even u');
    if (s.bLayout === 'colMajor' && cn % 2 !== 0) throw new Error('matmul tile: bf16 pairs along j need an even cn');
  }
}

/**
 * WGSL both matmul generators share (tiled.ts, workgroup_tiled.ts): the bindings (a, b, bias, c, params P),
 * `b_elem(e)` for one bf16 element of B, and `put(i, j, v)`, which stores C(i, j) with `flags` applied and skips
 * elements outside rows x cols. Needs BF16 in the module.
 */
export function matmulIo(bDtype: DType, flags: number): string {
  const bias = flags & (FLAG_BIAS_F32 | FLAG_BIAS_BF16);
  const store = [
    flags & FLAG_ACCUMULATE ? '  r += c[at];' : '',
    bias === FLAG_BIAS_F32 ? '  r += bitcast<f32>(bias[p.cOff + j]);' : '',
    bias === FLAG_BIAS_BF16 ? '  r += bias_at(p.cOff + j);' : '',
    // Without a bias the binding must still be used, or the pipeline's layout would lack it.
    bias ? '' : '  _ = &bias;',
    flags & FLAG_ROUND_BF16 ? '  r = bf16_round(r);' : '',
  ].filter(Boolean);
  return /* wgsl */ `@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<${bDtype === 'bf16' ? 'u32' : 'f32'}>;
@group(0) @binding(2) var<storage, read> bias: array<u32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
struct P { ${PARAM_FIELDS.map((f) => `${f}: u32`).join(', ')} }
@group(0) @binding(4) var<uniform> p: P;

${bias === FLAG_BIAS_BF16 ? `fn bias_at(j: u32) -> f32 {
  let w = bias[j >> 1u];
  return select(bf16_hi(w), bf16_lo(w), (j & 1u) == 0u);
}` : ''}
${bDtype === 'bf16' ? `fn b_elem(e: u32) -> f32 {
  let w = b[e >> 1u];
  return select(bitcast<f32>(w & 0xffff0000u), bitcast<f32>(w * 65536u), (e & 1u) == 0u);
}` : ''}
fn put(i: u32, j: u32, v: f32) {
  if (i >= p.rows || j >= p.cols) { return; }
  let at = i * p.ldc + p.cOff + j;
  var r = v;
${store.join('\n')}
  c[at] = r;
}
`;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function generate(s: MatmulKernelSpec): string {
  const { tm, cn, lanes, wg } = s.tile;
  const accs = range(tm).flatMap((i) => range(cn).map((c) => `var acc${i}_${c} = 0.0;`));
  return /* wgsl */ `${lanes === 4 ? 'enable subgroups;\n' : ''}${BF16}${LINEAR_WORKGROUP}
${matmulIo(s.bDtype, s.flags)}
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        ${lanes === 4 ? '@builtin(subgroup_invocation_id) lane: u32' : '@builtin(local_invocation_index) lane: u32'}) {
  let t = linear_wg(wid, nwg);
  let ti = t % p.tilesI;
  let tj = t / p.tilesI;
  if (tj >= p.tilesJ) { return; }
  let i0 = ti * ${tm}u;
  let j0 = tj * ${wg * cn}u + lane * ${cn}u;
  ${accs.join('\n  ')}
${setupA(s)}
${setupB(s)}
${loops(s)}
${range(tm).flatMap((i) => range(cn).map((c) => `  put(i0 + ${tileRow(s, i)}, j0 + ${c}u, acc${i}_${c});`)).join('\n')}
}
`;
}

/**
 * The reduction: a main loop of u steps and a tail for the rest. Integer division is a per-lane loop on SwiftShader,
 * so bf16 pairs along r count u32 words (rw) and derive r with a multiply.
 */
function loops(s: MatmulKernelSpec): string {
  const { u } = s.tile;
  const pairsAlongR = s.bDtype === 'bf16' && s.bPairs && s.bLayout === 'rowMajor';
  const ldbWords = s.bDtype === 'bf16' && s.bPairs && s.bLayout === 'colMajor' ? '  let ldbw = p.ldb / 2u;\n' : '';
  if (pairsAlongR) {
    return `${ldbWords}  let depthw = p.depth / 2u;
  var rw = 0u;
  for (; rw + ${u / 2}u <= depthw; rw += ${u / 2}u) {
    let r = rw * 2u;
${step(s, u, true)}
  }
  for (; rw < depthw; rw += 1u) {
    let r = rw * 2u;
${step(s, 2, false)}
  }`;
  }
  return `${ldbWords}  var r = 0u;
  for (; r + ${u}u <= p.depth; r += ${u}u) {
${step(s, u, true)}
  }
  for (; r < p.depth; r += 1u) {
${step(s, 1, false)}
  }`;
}

/** True when the subgroup shares A by quad swaps: each lane loads whole rows (a quarter of the tile's). */
function quadShared(s: MatmulKernelSpec): boolean {
  return s.tile.lanes === 4 && s.tile.tm % 4 === 0;
}

const QUAD_SWAPS = ['', 'quadSwapX', 'quadSwapY', 'quadSwapDiagonal']; // partner lane ^1, ^2, ^3

/**
 * Row of C (relative to i0) that accumulator row i holds in this lane. With quad sharing, rows [0, tm/4) are the
 * lane's own quarter and rows [q*tm/4, (q+1)*tm/4) the quarter of lane (lane ^ q).
 */
function tileRow(s: MatmulKernelSpec, i: number): string {
  if (!quadShared(s)) return `${i}u`;
  const quarter = s.tile.tm / 4;
  return `((lane ^ ${Math.floor(i / quarter)}u) * ${quarter}u + ${i % quarter}u)`;
}

/**
 * A(row i, step k) in the main loop, from the lane's slots: value v = i * u + k sits in slot v % slots of lane
 * v / slots. Quad sharing swaps it in from the partner lane; a one-row tile broadcasts it.
 */
function sharedValue(s: MatmulKernelSpec, i: number, k: number, slots: number): string {
  const { u, lanes } = s.tile;
  if (quadShared(s)) {
    const quarter = s.tile.tm / 4;
    const own = `as${(i % quarter) * u + k}`;
    const partner = Math.floor(i / quarter);
    return partner === 0 ? own : `${QUAD_SWAPS[partner]}(${own})`;
  }
  const v = i * u + k;
  return lanes === 4 ? `subgroupBroadcast(as${v % slots}, ${Math.floor(v / slots)}u)` : `as${v}`;
}

/** Offsets of the A values this lane loads: shared slots for the main loop, one per row for the tail. */
function setupA(s: MatmulKernelSpec): string {
  const { tm, u, lanes } = s.tile;
  const lines: string[] = [];
  const rowStart = (row: string) => (s.aLayout === 'rowMajor' ? `${row} * p.lda + p.aOff` : `p.aOff + ${row}`);
  const slots = (tm * u) / lanes;
  for (let q = 0; q < slots; q++) {
    // Slot q of lane l holds A(i0 + v / u, r + v % u) with v = l * slots + q.
    const v = lanes === 1 ? `${q}u` : `lane * ${slots}u + ${q}u`;
    const row = `min(i0 + (${v}) / ${u}u, p.rows - 1u)`;
    const du = `(${v}) % ${u}u`;
    lines.push(s.aLayout === 'rowMajor'
      ? `  let aq${q} = ${rowStart(row)} + ${du};`
      : `  let aq${q} = ${rowStart(row)} + (${du}) * p.lda;`);
  }
  for (let i = 0; i < tm; i++) lines.push(`  let ar${i} = ${rowStart(`min(i0 + ${tileRow(s, i)}, p.rows - 1u)`)};`);
  return lines.join('\n');
}

/** Offsets of this lane's B columns (clamped to the last column; results past it are never stored). */
function setupB(s: MatmulKernelSpec): string {
  const { cn } = s.tile;
  const lines: string[] = [];
  if (s.bDtype === 'bf16' && s.bPairs && s.bLayout === 'colMajor') {
    // Word index of the pair (j, j+1) within a row of B; cols is even here.
    for (let c = 0; c < cn; c += 2) lines.push(`  let bw${c / 2} = min(j0 + ${c}u, p.cols - 2u) / 2u;`);
  } else if (s.bDtype === 'bf16' && s.bPairs) {
    for (let c = 0; c < cn; c++) lines.push(`  let bw${c} = min(j0 + ${c}u, p.cols - 1u) * (p.ldb / 2u);`);
  } else {
    for (let c = 0; c < cn; c++) {
      lines.push(s.bLayout === 'rowMajor'
        ? `  let bo${c} = min(j0 + ${c}u, p.cols - 1u) * p.ldb;`
        : `  let bo${c} = min(j0 + ${c}u, p.cols - 1u);`);
    }
  }
  return lines.join('\n');
}

/**
 * One loop iteration over `u` reduction steps starting at r: all loads first (gathers split the code into small
 * blocks on SwiftShader), then per row of A the broadcasts and one nested fma chain per accumulator.
 * The main loop reads A through the lane's slots (shared over the subgroup); the tail reads every A value it
 * needs itself.
 */
function step(s: MatmulKernelSpec, u: number, main: boolean): string {
  const { tm, cn } = s.tile;
  const out: string[] = [];
  const ind = '    ';
  // r * ld for the colMajor operands, once per reduction step.
  if (s.aLayout === 'colMajor') out.push(`${ind}let ra = r * p.lda;`);
  if (s.bLayout === 'colMajor') {
    const ld = s.bDtype === 'bf16' && s.bPairs ? 'ldbw' : 'p.ldb';
    for (let k = 0; k < u; k++) out.push(`${ind}let rb${k} = (r + ${k}u) * ${ld};`);
  }
  // A values: shared slots (main loop) or one per (row, step) (tail / lanes 1).
  const aVal = new Map<string, string>();
  if (main) {
    const slots = (tm * u) / s.tile.lanes;
    for (let q = 0; q < slots; q++) {
      out.push(s.aLayout === 'rowMajor' ? `${ind}let as${q} = a[aq${q} + r];` : `${ind}let as${q} = a[aq${q} + ra];`);
    }
    for (let i = 0; i < tm; i++) {
      for (let k = 0; k < u; k++) aVal.set(`${i},${k}`, sharedValue(s, i, k, slots));
    }
  } else {
    for (let i = 0; i < tm; i++) {
      for (let k = 0; k < u; k++) {
        out.push(s.aLayout === 'rowMajor'
          ? `${ind}let as${i}_${k} = a[ar${i} + r + ${k}u];`
          : `${ind}let as${i}_${k} = a[ar${i} + ra + ${k}u * p.lda];`);
        aVal.set(`${i},${k}`, `as${i}_${k}`);
      }
    }
  }
  // B values bv{c}_{k} = B(j0 + c, r + k).
  out.push(...loadB(s, u).map((l) => ind + l));
  for (let i = 0; i < tm; i++) {
    const xs = range(u).map((k) => {
      const v = aVal.get(`${i},${k}`)!;
      if (!v.includes('(')) return v;
      out.push(`${ind}let x${i}_${k} = ${v};`);
      return `x${i}_${k}`;
    });
    for (let c = 0; c < cn; c++) {
      let e = `acc${i}_${c}`;
      for (let k = 0; k < u; k++) e = `fma(${xs[k]}, bv${c}_${k}, ${e})`;
      out.push(`${ind}acc${i}_${c} = ${e};`);
    }
  }
  return out.join('\n');
}

function loadB(s: MatmulKernelSpec, u: number): string[] {
  const { cn } = s.tile;
  const out: string[] = [];
  // u * 65536 is the low half moved up: a multiply is one SIMD instruction on SwiftShader, a shift is not.
  const lo = (w: string) => `bitcast<f32>(${w} * 65536u)`;
  const hi = (w: string) => `bitcast<f32>(${w} & 0xffff0000u)`;
  if (s.bDtype === 'f32') {
    for (let c = 0; c < cn; c++) {
      for (let k = 0; k < u; k++) {
        out.push(s.bLayout === 'rowMajor' ? `let bv${c}_${k} = b[bo${c} + r + ${k}u];` : `let bv${c}_${k} = b[rb${k} + bo${c}];`);
      }
    }
  } else if (!s.bPairs) {
    for (let c = 0; c < cn; c++) {
      for (let k = 0; k < u; k++) {
        out.push(s.bLayout === 'rowMajor' ? `let bv${c}_${k} = b_elem(bo${c} + r + ${k}u);` : `let bv${c}_${k} = b_elem(rb${k} + bo${c});`);
      }
    }
  } else if (s.bLayout === 'rowMajor') {
    for (let c = 0; c < cn; c++) {
      for (let k = 0; k < u; k += 2) {
        out.push(`let bw${c}_${k} = b[bw${c} + rw + ${k / 2}u];`);
        out.push(`let bv${c}_${k} = ${lo(`bw${c}_${k}`)};`, `let bv${c}_${k + 1} = ${hi(`bw${c}_${k}`)};`);
      }
    }
  } else {
    for (let c = 0; c < cn; c += 2) {
      for (let k = 0; k < u; k++) {
        out.push(`let bp${c}_${k} = b[rb${k} + bw${c / 2}];`);
        out.push(`let bv${c}_${k} = ${lo(`bp${c}_${k}`)};`, `let bv${c + 1}_${k} = ${hi(`bp${c}_${k}`)};`);
      }
    }
  }
  return out;
}
