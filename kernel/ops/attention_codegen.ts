// Shared pieces of the attention kernels (forward, combine, backward): how a head vector is spread over the
// lanes of a subgroup, the unrolled WGSL those kernels are made of, and the row blocks an invocation owns.
//
// Cost model (SwiftShader, see shared/setup/webgpu-cpu.md): every load with a runtime index is a per-lane gather
// (measured here: 6-15 ns of CPU per lane and load, against ~0.3 ns per 4-lane fma), and vec4 or atomic loads are no
// cheaper. So each group of lanes keeps a block of query rows in registers and reuses every key and value it loads
// for all of them. With `lanes = 4` (a 4-wide subgroup) each lane holds Dh/4 of the dimensions
// (lane l owns d = l, l+4, ...) and dot products finish with subgroupAdd; with `lanes = 1` one invocation owns whole
// rows and no subgroup operation is used (devices without subgroups, or with another subgroup size).
import type { Gpu } from '../gpu/context.js';

export type Lanes = 1 | 4;

/** How a kernel's invocations are grouped: lanes per group and invocations per workgroup (a multiple of lanes). */
export interface LaneGroups {
  lanes: Lanes;
  /** SwiftShader runs one workgroup per CPU thread: small workgroups spread short dispatches over all cores. */
  workgroupSize: number;
}

/** Which query rows one lane group owns: `headsPerItem` heads of one KV group x `tokensPerItem` consecutive tokens. */
export interface RowBlock extends LaneGroups {
  headsPerItem: number;
  tokensPerItem: number;
}

/**
 * Workgroup size for a device: a real GPU wants at least a full warp/wavefront; on SwiftShader a workgroup runs on
 * one thread, so a few lane groups per workgroup leave enough workgroups to keep every core busy.
 */
export function defaultWorkgroupSize(gpu: Gpu): number {
  return gpu.software ? 16 : 64;
}

/**
 * Rows (or keys) a lane group owns on SwiftShader: as many as fit `floats` values of one head-vector slice each
 * (at most 16). Every loaded key then serves that many rows, but the unrolled code grows with rows x (Dh / lanes),
 * and SwiftShader's compile time with it (about 3 s at 128 floats and 6-10 s at 256 on this machine's CPU).
 */
export function softwareBlock(headDim: number, lanes: Lanes, floats: number): number {
  return Math.max(1, Math.min(16, Math.floor(floats / (headDim / lanes))));
}

/** 4 when the device has subgroups of exactly 4 lanes (SwiftShader) and Dh splits evenly over them; else 1. */
export function defaultLanes(gpu: Gpu, headDim: number): Lanes {
  const info = gpu.adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
  return gpu.subgroups && info.subgroupMinSize === 4 && info.subgroupMaxSize === 4 && headDim % 4 === 0 ? 4 : 1;
}

/** Throws if `lanes` cannot run on this device or head size (tests force variants through plans). */
export function checkLanes(gpu: Gpu, { lanes, workgroupSize }: LaneGroups, headDim: number): void {
  if (lanes === 4 && defaultLanes(gpu, headDim) !== 4) {
    throw new Error(`attention: 4-lane kernels need subgroups of exactly 4 lanes and head_dim divisible by 4 (head_dim ${headDim})`);
  }
  if (workgroupSize % lanes !== 0) throw new Error(`attention: workgroup size ${workgroupSize} is not a multiple of ${lanes} lanes`);
}

/** Module header: the subgroups extension when lanes share rows (their loops are uniform per lane group). */
export function laneHeader(lanes: Lanes): string {
  return lanes === 4 ? 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n' : '';
}

/** WGSL expression summing `expr` over the lanes of a group (the lanes hold disjoint dimensions). */
export function laneSum(lanes: Lanes, expr: string): string {
  return lanes === 4 ? `subgroupAdd(${expr})` : expr;
}

/** Offsets (WGSL expressions, relative to a head vector's start) of the dimensions lane `lane` owns. */
export function laneDims(headDim: number, lanes: Lanes): string[] {
  return Array.from({ length: headDim / lanes }, (_, i) => (lanes === 1 ? `${i}u` : `lane + ${i * lanes}u`));
}

/** `fma` chain: sum over i of a(i) * b(i), as one WGSL expression. */
export function dot(n: number, a: (i: number) => string, b: (i: number) => string): string {
  let e = `${a(0)} * ${b(0)}`;
  for (let i = 1; i < n; i++) e = `fma(${a(i)}, ${b(i)}, ${e})`;
  return e;
}

/** One line per index in 0..n-1. */
export function lines(n: number, f: (i: number) => string, indent = '  '): string {
  return Array.from({ length: n }, (_, i) => indent + f(i)).join('\n');
}

/** A large negative score standing for "masked": exp(NEG - m) is 0 and differences of two stay finite. */
export const NEG_SCORE = '-1.0e30';

/**
 * WGSL entry point: `lane` (0..lanes-1) and `item` (the lane group's index over the whole dispatch).
 * Lanes of a group are consecutive invocations, which a 4-wide subgroup covers exactly.
 */
export function entryPoint({ lanes, workgroupSize }: LaneGroups): string {
  return `@compute @workgroup_size(${workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let invocation = linear_wg(wid, nwg) * ${workgroupSize}u + lid;
  let lane = invocation % ${lanes}u;
  let item = invocation / ${lanes}u;`;
}

/** Workgroup count for `items` lane groups. */
export function itemWorkgroups(items: number, { lanes, workgroupSize }: LaneGroups): number {
  return Math.ceil((items * lanes) / workgroupSize);
}

/** Kernel-key fragment naming the lane grouping. */
export function laneKey({ lanes, workgroupSize }: LaneGroups): string {
  return `lanes=${lanes}/wg=${workgroupSize}`;
}

/**
 * WGSL statements that, for the query rows of item block (b, g, hb, tb), declare per row r: `h{r}` (head),
 * `t{r}` (token), `ok{r}` (row exists) and `row{r}` (index of the row's first element in [B, T, H, Dh]).
 * Needs `b`, `g`, `hb`, `tb` and uniforms `p.T`, `p.H`, `p.group` in scope.
 */
export function rowDecls(block: RowBlock, headDim: number): string {
  const out: string[] = [];
  for (let hi = 0; hi < block.headsPerItem; hi++) {
    for (let ti = 0; ti < block.tokensPerItem; ti++) {
      const r = hi * block.tokensPerItem + ti;
      out.push(`  let h${r} = g * p.group + hb * ${block.headsPerItem}u + ${hi}u;`,
        `  let t${r} = tb * ${block.tokensPerItem}u + ${ti}u;`,
        `  let ok${r} = hb * ${block.headsPerItem}u + ${hi}u < p.group && t${r} < p.T;`,
        `  let row${r} = select(0u, ((b * p.T + t${r}) * p.H + h${r}) * ${headDim}u, ok${r});`);
    }
  }
  return out.join('\n');
}

export function rowsOf(block: RowBlock): number {
  return block.headsPerItem * block.tokensPerItem;
}

/** The power of two >= n: sizes that pick a kernel variant are rounded to it so that varying lengths share pipelines. */
export function shapeClass(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, n)));
}
