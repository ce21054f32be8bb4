// Which matmul kernel variant runs on which adapter, and its tile shapes.
// - 'subgroup4': a 4-lane subgroup (one quad) shares the rows of A through quad swaps; register tiles, no barriers.
//   Best measured on SwiftShader (subgroup size 4). Needs the 'subgroups' feature and subgroups of at least 4.
// - 'plain': the same register tiles without subgroup operations, 64 invocations per workgroup. Works on any
//   adapter; the fallback for adapters without subgroups.
// A GPU-specific variant (workgroup-memory tiles, large workgroups) would be a third entry chosen by adapter here.
import type { Gpu } from '../../gpu/context.js';
import type { TileShape } from './tiled.js';

export const MATMUL_VARIANTS = ['subgroup4', 'plain'] as const;
export type MatmulVariant = (typeof MATMUL_VARIANTS)[number];

let forced: MatmulVariant | null = null;

/** Makes every matmul use `variant` (tests and benchmarks compare variants on one adapter); null restores the choice. */
export function forceMatmulVariant(variant: MatmulVariant | null): void {
  forced = variant;
}

export function matmulVariant(gpu: Gpu): MatmulVariant {
  if (forced) return forced;
  const info = gpu.adapter.info as GPUAdapterInfo & { subgroupMinSize?: number };
  const subgroupsOf4 = gpu.subgroups && (info.subgroupMinSize === undefined || info.subgroupMinSize >= 4);
  // On a real GPU a 4-invocation workgroup wastes most of each SIMD unit: use the plain tiles there.
  return gpu.software && subgroupsOf4 ? 'subgroup4' : 'plain';
}

/** Products below this many multiply-adds run the plain kernel unless a variant is forced (see matmulVariantFor). */
export const SMALL_PRODUCT_MACS = 2 ** 22;

/**
 * The variant for one product on this adapter. bf16 weights whose rows do not start on a u32 boundary (odd K) are
 * read one element at a time: that rare case always takes the plain kernel. So do small products (tiny test
 * models, classifier heads) unless a variant is forced: a big subgroup tile takes seconds to compile on SwiftShader,
 * far more than it saves on a product of a few million multiply-adds.
 */
export function matmulVariantFor(gpu: Gpu, product: { bf16Elements: boolean; macs: number }): MatmulVariant {
  if (product.bf16Elements) return 'plain';
  if (forced) return forced;
  return product.macs < SMALL_PRODUCT_MACS ? 'plain' : matmulVariant(gpu);
}

/**
 * Tile for a product with `rows` rows of C. Decode (one or two rows) gets a one-row tile, so no work is spent on
 * rows that do not exist. Grad weight gets a taller tile: its B (the f32 input) costs one gather per value (bf16
 * weights: half of one), and a taller tile reuses each B value over more rows.
 */
export function matmulTile(variant: MatmulVariant, rows: number, op: string): TileShape {
  if (variant === 'subgroup4') {
    if (rows <= 2) return { tm: 1, cn: 8, u: 8, lanes: 4, wg: 4 };
    return { tm: op === 'dw' ? 16 : 8, cn: 8, u: 8, lanes: 4, wg: 4 };
  }
  if (rows === 1) return { tm: 1, cn: 4, u: 4, lanes: 1, wg: 64 };
  return { tm: 4, cn: 4, u: 4, lanes: 1, wg: 64 };
}
