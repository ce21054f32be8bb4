// Workgroup-memory tiled matmul for real GPUs: the same product, bindings and params as tiled.ts
// (C(i, j) (+)= sum_r A(i, r) * B(j, r), A f32, B f32 or bf16, each rowMajor or colMajor), so linear.ts can
// dispatch either generator.
//
// A workgroup owns a BM x BN block of C. Per round it stages a BM x BK slice of A and a BN x BK slice of B into
// workgroup memory as f32 (bf16 widened there, zeros outside rows/cols/depth), with consecutive invocations reading
// consecutive addresses of whichever dimension is contiguous in storage; after a barrier every invocation
// accumulates its TM x TN outputs with fma in scalar registers. An invocation's rows and columns are interleaved
// (row ty + i * BM/TM, column tx + c * BN/TN), so at each reduction step neighbouring invocations read neighbouring
// words of the staged B (no bank conflicts) and share the staged A value (a broadcast), and the stores to C are
// contiguous across invocations. SwiftShader runs this slower than tiled.ts (barriers are expensive on a CPU);
// GPUs are what it is for.
import type { KernelSource } from '../../gpu/pipelines.js';
import { BF16, LINEAR_WORKGROUP } from '../wgsl.js';
import { matmulIo, type MatmulKernelSpec } from './tiled.js';

export interface WorkgroupTile {
  /** Rows of C (i) per workgroup. */
  bm: number;
  /** Columns of C (j) per workgroup. */
  bn: number;
  /** Reduction steps (r) staged in workgroup memory per barrier round. */
  bk: number;
  /** Rows of C per invocation. */
  tm: number;
  /** Columns of C per invocation. */
  tn: number;
}

/**
 * The classic GPU shared-memory tile (no GPU was available to tune it): 64 x 64 outputs per workgroup, 4 x 4 per
 * invocation, so 256 invocations (8 warps of 32, 4 wavefronts of 64: enough to hide latency, and the WebGPU
 * default limit) with 16 accumulators each (low register pressure, so several workgroups fit per core). Each
 * reduction step reads 8 staged values for 16 fma. BK = 16 halves the barriers of BK = 8 while the two staged
 * slices stay at 8.3 KB, about half of WebGPU's default 16 KiB of workgroup storage.
 */
export const WORKGROUP_TILE: WorkgroupTile = { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 };

/** Invocations per workgroup; the most any WebGPU adapter must allow (SwiftShader's limit too). */
const MAX_INVOCATIONS = 256;
/** WebGPU's default maxComputeWorkgroupStorageSize. */
const MAX_WORKGROUP_BYTES = 16384;

export function workgroupKernelKey(s: Omit<MatmulKernelSpec, 'tile'>, t: WorkgroupTile): string {
  const b = s.bDtype === 'bf16' ? (s.bPairs ? 'bf16x2' : 'bf16') : 'f32';
  return `matmul-wg/${s.op}/a=${s.aLayout}/b=${s.bLayout}:${b}/bm${t.bm}bn${t.bn}bk${t.bk}tm${t.tm}tn${t.tn}/flags=${s.flags}`;
}

/**
 * The kernel for one product and tile. Dispatch grid(tilesI * tilesJ) workgroups with tilesI = ceil(rows / bm)
 * and tilesJ = ceil(cols / bn); params and flags as in tiled.ts (PARAM_FIELDS, FLAG_*).
 */
export function workgroupMatmulKernel(s: Omit<MatmulKernelSpec, 'tile'>, tile: WorkgroupTile = WORKGROUP_TILE): KernelSource {
  validate(s, tile);
  return { key: workgroupKernelKey(s, tile), storageBindings: 4, hasParams: true, wgsl: () => generate(s, tile) };
}

function validate(s: Omit<MatmulKernelSpec, 'tile'>, t: WorkgroupTile): void {
  const { bm, bn, bk, tm, tn } = t;
  if (![bm, bn, bk, tm, tn].every((v) => Number.isInteger(v) && v > 0)) throw new Error('workgroup matmul tile: sizes must be positive integers');
  if (bm % tm !== 0 || bn % tn !== 0) throw new Error('workgroup matmul tile: tm must divide bm and tn must divide bn');
  if ((bm / tm) * (bn / tn) > MAX_INVOCATIONS) throw new Error(`workgroup matmul tile: more than ${MAX_INVOCATIONS} invocations per workgroup`);
  if (stagedBytes(t) > MAX_WORKGROUP_BYTES) throw new Error(`workgroup matmul tile: staged slices exceed ${MAX_WORKGROUP_BYTES} bytes`);
  if (s.bDtype === 'bf16' && s.bPairs) {
    if (s.bLayout === 'rowMajor' && bk % 2 !== 0) throw new Error('workgroup matmul tile: bf16 pairs along r need an even bk');
    if (s.bLayout === 'colMajor' && bn % 2 !== 0) throw new Error('workgroup matmul tile: bf16 pairs along j need an even bn');
  }
}

/**
 * Staged rows are padded by one word: staging a rowMajor operand writes down a column of its slice (r varies
 * fastest across invocations), and without the pad those writes would all fall in one bank.
 */
const strideA = (t: WorkgroupTile) => t.bm + 1;
const strideB = (t: WorkgroupTile) => t.bn + 1;
const stagedBytes = (t: WorkgroupTile) => 4 * t.bk * (strideA(t) + strideB(t));

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function generate(s: Omit<MatmulKernelSpec, 'tile'>, t: WorkgroupTile): string {
  const { bm, bn, bk, tm, tn } = t;
  const tx = bn / tn; // invocations across the columns of the block
  const ty = bm / tm;
  const wg = tx * ty;
  const cells = range(tm).flatMap((i) => range(tn).map((c) => [i, c]));
  return /* wgsl */ `${BF16}${LINEAR_WORKGROUP}
${matmulIo(s.bDtype, s.flags)}
// tile_a[k * ${strideA(t)} + i] = A(i0 + i, r0 + k); tile_b[k * ${strideB(t)} + j] = B(j0 + j, r0 + k)
var<workgroup> tile_a: array<f32, ${bk * strideA(t)}>;
var<workgroup> tile_b: array<f32, ${bk * strideB(t)}>;

${loadA(s)}
${s.bDtype === 'bf16' && s.bPairs ? '' : loadB(s)}
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  // Uniform over the workgroup (workgroup id and params only), so the early return keeps the barriers uniform.
  let t = linear_wg(wid, nwg);
  let ti = t % p.tilesI;
  let tj = t / p.tilesI;
  if (tj >= p.tilesJ) { return; }
  let i0 = ti * ${bm}u;
  let j0 = tj * ${bn}u;
  let tx = lid % ${tx}u;
  let ty = lid / ${tx}u;
  ${cells.map(([i, c]) => `var acc${i}_${c} = 0.0;`).join('\n  ')}
  for (var r0 = 0u; r0 < p.depth; r0 += ${bk}u) {
${stageA(s, t, wg)}
${stageB(s, t, wg)}
    workgroupBarrier();
    for (var k = 0u; k < ${bk}u; k++) {
      ${range(tm).map((i) => `let a${i} = tile_a[k * ${strideA(t)}u + ty + ${i * ty}u];`).join('\n      ')}
      ${range(tn).map((c) => `let b${c} = tile_b[k * ${strideB(t)}u + tx + ${c * tx}u];`).join('\n      ')}
      ${cells.map(([i, c]) => `acc${i}_${c} = fma(a${i}, b${c}, acc${i}_${c});`).join('\n      ')}
    }
    workgroupBarrier();
  }
  ${cells.map(([i, c]) => `put(i0 + ty + ${i * ty}u, j0 + tx + ${c * tx}u, acc${i}_${c});`).join('\n  ')}
}
`;
}

/** `load_a(i, r)`: A(i, r), zero outside rows x depth. */
function loadA(s: Omit<MatmulKernelSpec, 'tile'>): string {
  const at = s.aLayout === 'rowMajor' ? 'p.aOff + i * p.lda + r' : 'p.aOff + r * p.lda + i';
  return `fn load_a(i: u32, r: u32) -> f32 {
  if (i >= p.rows || r >= p.depth) { return 0.0; }
  return a[${at}];
}`;
}

/** `load_b(j, r)`: B(j, r) for f32 or single bf16 elements, zero outside cols x depth. */
function loadB(s: Omit<MatmulKernelSpec, 'tile'>): string {
  const at = s.bLayout === 'rowMajor' ? 'j * p.ldb + r' : 'r * p.ldb + j';
  return `fn load_b(j: u32, r: u32) -> f32 {
  if (j >= p.cols || r >= p.depth) { return 0.0; }
  return ${s.bDtype === 'bf16' ? `b_elem(${at})` : `b[${at}]`};
}`;
}

/**
 * Loop of staging element e = lid, lid + wg, ... < count: the dimension contiguous in storage (`fast`, of extent
 * `fastN`) varies fastest across invocations, so their loads are coalesced.
 */
function stagingLoop(count: number, wg: number, fast: string, fastN: number, slow: string, body: string): string {
  return `    for (var e = lid; e < ${count}u; e += ${wg}u) {
      let ${fast} = e % ${fastN}u;
      let ${slow} = e / ${fastN}u;
      ${body}
    }`;
}

function stageA(s: Omit<MatmulKernelSpec, 'tile'>, t: WorkgroupTile, wg: number): string {
  const body = `tile_a[k * ${strideA(t)}u + i] = load_a(i0 + i, r0 + k);`;
  return s.aLayout === 'rowMajor'
    ? stagingLoop(t.bm * t.bk, wg, 'k', t.bk, 'i', body)
    : stagingLoop(t.bm * t.bk, wg, 'i', t.bm, 'k', body);
}

function stageB(s: Omit<MatmulKernelSpec, 'tile'>, t: WorkgroupTile, wg: number): string {
  const sb = strideB(t);
  if (!(s.bDtype === 'bf16' && s.bPairs)) {
    const body = `tile_b[k * ${sb}u + j] = load_b(j0 + j, r0 + k);`;
    return s.bLayout === 'rowMajor'
      ? stagingLoop(t.bn * t.bk, wg, 'k', t.bk, 'j', body)
      : stagingLoop(t.bn * t.bk, wg, 'j', t.bn, 'k', body);
  }
  if (s.bLayout === 'rowMajor') {
    // One u32 holds B(j, r) and B(j, r + 1), r even (r0 is a multiple of the even bk; ldb is even). An odd depth
    // leaves the last pair's high half past the end of the reduction: staged as zero.
    return stagingLoop(t.bn * t.bk / 2, wg, 'kw', t.bk / 2, 'j', `let k = kw * 2u;
      let r = r0 + k;
      var w = 0u;
      if (j0 + j < p.cols && r < p.depth) { w = b[(j0 + j) * (p.ldb / 2u) + r / 2u]; }
      tile_b[k * ${sb}u + j] = bf16_lo(w);
      tile_b[(k + 1u) * ${sb}u + j] = select(0.0, bf16_hi(w), r + 1u < p.depth);`);
  }
  // One u32 holds B(j, r) and B(j + 1, r), j even; cols is even, so j < cols means both are columns of C.
  return stagingLoop(t.bn * t.bk / 2, wg, 'jw', t.bn / 2, 'k', `let j = jw * 2u;
      let r = r0 + k;
      var w = 0u;
      if (j0 + j < p.cols && r < p.depth) { w = b[r * (p.ldb / 2u) + (j0 + j) / 2u]; }
      tile_b[k * ${sb}u + j] = bf16_lo(w);
      tile_b[k * ${sb}u + j + 1u] = bf16_hi(w);`);
}
