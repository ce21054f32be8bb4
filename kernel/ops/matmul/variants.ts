// Which matmul kernel variant runs a product, and its tile shapes.
// - 'subgroup4': a 4-lane subgroup (one quad) shares the rows of A through quad swaps; register tiles, no barriers.
//   Best measured on SwiftShader (subgroup size 4). Needs the 'subgroups' feature and subgroups of at least 4.
// - 'plain': the same register tiles without subgroup operations, 64 invocations per workgroup. Works on any
//   adapter; the fallback for adapters without subgroups, and the decode (one-row) kernel on GPUs.
// - 'workgroup': shared-memory tiles with 256-invocation workgroups (workgroup_tiled.ts), the classic GPU kernel
//   for products of many rows. Slower on SwiftShader, where barriers are expensive.
// The choice per (op, shape class) comes from the autotune (autotune.ts) once it has run on this adapter; until
// then, and for products too small to matter, a rule by adapter kind decides.
import type { Gpu } from '../../gpu/context.js';
import type { KernelSource } from '../../gpu/pipelines.js';
import type { DType } from '../../gpu/tensor.js';
import { matmulKernel, tileCols, type Layout, type TileShape } from './tiled.js';
import { WORKGROUP_TILE, workgroupMatmulKernel } from './workgroup_tiled.js';

export const MATMUL_VARIANTS = ['subgroup4', 'plain', 'workgroup'] as const;
export type MatmulVariant = (typeof MATMUL_VARIANTS)[number];

/** The three products of a linear layer: forward x @ W^T, grad input dy @ W, grad weight dy^T @ x. */
export type MatmulOp = 'fwd' | 'dx' | 'dw';

/** What the variant choice depends on: the product, B's dtype, and one row of C (decode) or many. */
export interface MatmulClass {
  op: MatmulOp;
  bDtype: DType;
  rows: 'one' | 'many';
}

/** How each product stores A and B (see tiled.ts): x @ W^T, dy @ W, dy^T @ x. */
export const OP_LAYOUTS: Record<MatmulOp, [Layout, Layout]> = {
  fwd: ['rowMajor', 'rowMajor'],
  dx: ['rowMajor', 'colMajor'],
  dw: ['colMajor', 'colMajor'],
};

export function matmulClassKey(c: MatmulClass): string {
  return `${c.op}/${c.bDtype}/${c.rows}`;
}

/** Rows of C that still count as one: decode of a single sequence, or two rows of a 2-sequence batch. */
export function rowsClass(rows: number): MatmulClass['rows'] {
  return rows <= 2 ? 'one' : 'many';
}

let forced: MatmulVariant | null = null;

/** Makes every matmul use `variant` (tests, benchmarks and the autotune compare variants on one adapter); null restores the choice. */
export function forceMatmulVariant(variant: MatmulVariant | null): void {
  forced = variant;
}

/**
 * Variants worth measuring for class `c` on this adapter: subgroup4 needs subgroups of at least 4; the workgroup
 * tile (64 rows) would spend almost all of its staging on rows that do not exist in a one-row product.
 */
export function candidateVariants(gpu: Gpu, c: Pick<MatmulClass, 'rows'>): MatmulVariant[] {
  const info = gpu.adapter.info as GPUAdapterInfo & { subgroupMinSize?: number };
  const subgroupsOf4 = gpu.subgroups && (info.subgroupMinSize === undefined || info.subgroupMinSize >= 4);
  return MATMUL_VARIANTS.filter((v) => (v !== 'subgroup4' || subgroupsOf4) && (v !== 'workgroup' || c.rows === 'many'));
}

/**
 * The choice before the autotune has measured: subgroup tiles on a software adapter (measured best there); on a
 * GPU shared-memory tiles for many rows (a 4-invocation workgroup wastes most of a SIMD unit) and plain for one.
 */
export function defaultVariant(gpu: Gpu, c: Pick<MatmulClass, 'rows'>): MatmulVariant {
  if (gpu.software) return candidateVariants(gpu, c).includes('subgroup4') ? 'subgroup4' : 'plain';
  return c.rows === 'many' ? 'workgroup' : 'plain';
}

/** Variants the autotune measured best on each device, by class key. */
const tuned = new WeakMap<Gpu, Map<string, MatmulVariant>>();

export function setTunedVariant(gpu: Gpu, c: MatmulClass, variant: MatmulVariant): void {
  if (!tuned.has(gpu)) tuned.set(gpu, new Map());
  tuned.get(gpu)!.set(matmulClassKey(c), variant);
}

export function tunedVariant(gpu: Gpu, c: MatmulClass): MatmulVariant | undefined {
  return tuned.get(gpu)?.get(matmulClassKey(c));
}

/** Every tuned choice on this device: [class key, variant], in the order they were made. */
export function tunedVariants(gpu: Gpu): [string, MatmulVariant][] {
  return [...(tuned.get(gpu) ?? [])];
}

/** Products below this many multiply-adds run the plain kernel unless a variant is forced (see matmulVariantFor). */
export const SMALL_PRODUCT_MACS = 2 ** 22;

/**
 * The variant for one product on this adapter. bf16 weights whose rows do not start on a u32 boundary (odd K) are
 * read one element at a time: that rare case always takes the plain kernel. So do small products (tiny test
 * models, classifier heads) unless a variant is forced: a big subgroup tile takes seconds to compile on SwiftShader,
 * far more than it saves on a product of a few million multiply-adds. Otherwise: the forced variant, the tuned
 * one, or the default.
 */
export function matmulVariantFor(gpu: Gpu, product: MatmulClass & { bf16Elements: boolean; macs: number }): MatmulVariant {
  if (product.bf16Elements) return 'plain';
  if (forced) return forced;
  if (product.macs < SMALL_PRODUCT_MACS) return 'plain';
  return tunedVariant(gpu, product) ?? defaultVariant(gpu, product);
}

/** Forward products of at least this many multiply-adds may take 32-row tiles (see matmulTile). */
export const BIG_FORWARD_MACS = 2 ** 30;

/**
 * Tile for product `op` with `rows` rows of C and `macs` multiply-adds. Decode (one or two rows) gets a one-row
 * tile, so no work is spent on rows that do not exist; it is bound by reading W once, and narrow lanes with long
 * reduction steps read it best. Many rows: a 16 x 16 tile per lane, its 16 rows shared by the quad. On SwiftShader
 * 16 x 8 x 4 beat the 8 x 8 x 8 tile by 20-35% (fewer gathers per fma; the extra accumulators spill to the stack,
 * which costs far less than a gather), and 16 x 16 x 4 beat 16 x 8 x 4 in paired rounds at the 8B shapes:
 * 1.12-1.16x for grad weight (f32 B, one value a gather), 1.12-1.15x for grad input, 1.03-1.10x for the forward
 * product. Its pipelines take 3x as long to compile (4-5 s), once per process. The forward product runs 8 reduction
 * steps an iteration (each spilled accumulator is loaded and stored once per 8 fma): 1.03-1.22x over 4 steps in
 * paired rounds at three 8B shapes, 1.29x with f32 weights. The same change made grad input 1.25-1.33x slower and
 * grad weight no faster. Big forward products take 32 rows (a third fewer gathers per fma): 1.12x and 1.13x in
 * paired rounds at (128, 4096, 4096) and (128, 4096, 14336), but the pipeline compiles for 20-26 s instead of 8, so
 * only products of 2^30 multiply-adds or more (0.3 s and up on SwiftShader) use it, and only when padding the rows to
 * 32 costs at most 1/16 of them more than padding to 16.
 */
export function matmulTile(variant: Exclude<MatmulVariant, 'workgroup'>, rows: number, op: MatmulOp, macs: number): TileShape {
  if (variant === 'subgroup4') {
    if (rowsClass(rows) === 'one') return { tm: 1, cn: 2, u: 16, lanes: 4, wg: 4 };
    const padded = (tm: number) => Math.ceil(rows / tm) * tm;
    const tm = op === 'fwd' && macs >= BIG_FORWARD_MACS && padded(32) <= padded(16) + rows / 16 ? 32 : 16;
    return { tm, cn: 16, u: op === 'fwd' ? 8 : 4, lanes: 4, wg: 4 };
  }
  if (rows === 1) return { tm: 1, cn: 4, u: 4, lanes: 1, wg: 64 };
  return { tm: 4, cn: 4, u: 4, lanes: 1, wg: 64 };
}

/** The kernel that runs a product, and how much of C one workgroup covers. */
export interface MatmulPlan {
  kernel: KernelSource;
  rowsPerWorkgroup: number;
  colsPerWorkgroup: number;
}

/**
 * The kernel of `variant` for product `op` with `rows` rows of C, `macs` multiply-adds and store `flags` (FLAG_* in
 * tiled.ts; 0: write). B is f32, or bf16 read in u32 pairs unless `bf16Elements` (odd leading dimension: one element
 * at a time).
 */
export function matmulPlan(variant: MatmulVariant, c: Pick<MatmulClass, 'op' | 'bDtype'>, rows: number, macs: number,
  flags = 0, bf16Elements = false): MatmulPlan {
  const [aLayout, bLayout] = OP_LAYOUTS[c.op];
  const spec = { op: c.op, aLayout, bLayout, bDtype: c.bDtype, bPairs: c.bDtype === 'bf16' && !bf16Elements, flags };
  if (variant === 'workgroup') {
    return { kernel: workgroupMatmulKernel(spec), rowsPerWorkgroup: WORKGROUP_TILE.bm, colsPerWorkgroup: WORKGROUP_TILE.bn };
  }
  const tile = matmulTile(variant, rows, c.op, macs);
  return {
    kernel: matmulKernel({ ...spec, tile }),
    rowsPerWorkgroup: tile.tm,
    colsPerWorkgroup: tileCols(tile),
  };
}
