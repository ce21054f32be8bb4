// Matmul benchmark: every linear kernel variant against tfjs-backend-webgpu's f32 tf.matMul on the same WebGPU
// device, and against the adapter's FMA ceiling (a kernel that only does fma on registers), all in one run.
// Usage: node --import tsx bench/matmul.ts [--rounds N]
// Prints a table and the acceptance, appends one JSON line to bench/results/matmul.jsonl, exits 1 if a ratio target
// fails. Timings are the best of N interleaved rounds (other processes share the CPU of a software adapter: the best
// round is the least disturbed one). Each case is timed right after a run of the FMA ceiling, and its share of the
// ceiling is the median over rounds of those back-to-back pairs, which see the same contention (the best of each list
// can come from different minutes).
// On a software adapter the table also shows GFLOP/s per CPU time of this process times the core count: what the
// run would reach with the cores to itself (an estimate: cores shared with other processes still slow it down).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gpu } from '../kernel/gpu/context.js';
import { Params } from '../kernel/gpu/params.js';
import { Tensor, type DType } from '../kernel/gpu/tensor.js';
import { linear, linearGradInput, linearGradWeight } from '../kernel/ops/linear.js';
import { matmulClassesFor, tuneMatmuls } from '../kernel/ops/matmul/autotune.js';
import { candidateVariants, forceMatmulVariant, matmulVariantFor, rowsClass, type MatmulVariant } from '../kernel/ops/matmul/variants.js';
import { argCount, minTiming, timeOnce, type Timing } from './harness.js';
import { medianPairedRatio } from './stats.js';

/** `products`: how many products one run performs (small ones repeat so that a run lasts long enough to time). */
interface Case { name: string; flops: number; products: number; run: () => void | Promise<void> }
/** `ceilingShare`: median over rounds of this case's GFLOP/s over the ceiling's, timed just before it. */
interface Row { name: string; ms: number; gflops: number; cpuGflops: number; ceilingShare: number }

const SHAPES = [[128, 4096, 4096], [1, 4096, 4096]] as const;
// Targets for the forward product with bf16 weights: its speed over tfjs's f32 tf.matMul and over the FMA ceiling,
// and what they meant in GFLOP/s when the host ran tfjs at 0.5 (prefill) and the GEMV at ~1.3 (decode).
const MIN_X_TFJS = 12;
const MIN_CEILING_SHARE = 0.25;
const MIN_PREFILL_GFLOPS = 6;
const MIN_GEMV_GFLOPS = 1.2;
const rounds = argCount('--rounds', 3);

const gpu = await Gpu.open();
// The autotune's choices (measured now, or read from its cache) pick the variant of the backward products.
gpu.onNotice = (text) => console.log(text);
await tuneMatmuls(gpu, matmulClassesFor('bf16', true));
const [dxVariant, dwVariant] = (['dx', 'dw'] as const).map((op) =>
  matmulVariantFor(gpu, { op, bDtype: op === 'dx' ? 'bf16' : 'f32', rows: 'many', bf16Elements: false, macs: 128 * 4096 * 4096 }));
// The variants llmnb runs the forward product with (prefill and decode): what the acceptance judges.
const [prefillVariant, decodeVariant] = ([128, 1] as const).map((rows) =>
  matmulVariantFor(gpu, { op: 'fwd', bDtype: 'bf16', rows: rowsClass(rows), bf16Elements: false, macs: rows * 4096 * 4096 }));
const rand = (n: number) => Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
const tag = (tensor: string) => ({ layer: 'bench', tensor, kind: 'other' as const });

const cases: Case[] = [];
/** The cases the acceptance judges: the forward product with bf16 weights on llmnb's variants. */
const judged: Partial<Record<'prefill' | 'decode', Case>> = {};
const [, K, N] = SHAPES[0];
const wData = rand(N * K).map((v) => v * 0.02);
const weights: Record<DType, Tensor> = {
  bf16: Tensor.alloc(gpu, [N, K], 'bf16', tag('w bf16')),
  f32: Tensor.alloc(gpu, [N, K], 'f32', tag('w f32')),
};
weights.bf16.write(wData);
weights.f32.write(wData);
for (const [M] of SHAPES) {
  const x = Tensor.alloc(gpu, [M, K], 'f32', tag('x'));
  x.write(rand(M * K));
  for (const variant of candidateVariants(gpu, { rows: rowsClass(M) })) {
    for (const dtype of ['bf16', 'f32'] as const) {
      const c = ours(`linear ${variant} ${dtype} W (${M},${K},${N})`, variant, 2 * M * K * N, () => linear(gpu, x, weights[dtype]).dispose());
      cases.push(c);
      if (dtype === 'bf16' && variant === (M > 1 ? prefillVariant : decodeVariant)) judged[M > 1 ? 'prefill' : 'decode'] = c;
    }
  }
  if (M > 1) {
    const dy = Tensor.alloc(gpu, [M, N], 'f32', tag('dy'));
    dy.write(rand(M * N));
    const dw = Tensor.alloc(gpu, [N, K], 'f32', tag('dw'));
    cases.push(ours(`linearGradInput ${dxVariant} bf16 W (${M},${K},${N})`, dxVariant, 2 * M * K * N, () => linearGradInput(gpu, dy, weights.bf16).dispose()));
    cases.push(ours(`linearGradWeight ${dwVariant} f32 (${M},${K},${N})`, dwVariant, 2 * M * K * N, () => linearGradWeight(gpu, dy, x, dw, { accumulate: false })));
  }
}
const tfjs = await tfjsCases();
cases.push(...tfjs.cases);
const ceiling = fmaCeilingCase();
const gflops = (c: Case, ms: number) => c.flops / ms / 1e6;

// Warm-up (compiles every pipeline), then interleaved rounds, each case right after a ceiling run.
for (const c of [...cases, ceiling]) await timeOnce(gpu, c.run);
const runs = new Map<Case, Timing[]>([...cases, ceiling].map((c) => [c, []]));
const ceilingBefore = new Map<Case, Timing[]>(cases.map((c) => [c, []]));
for (let r = 0; r < rounds; r++) {
  for (const c of cases) {
    const tc = await timeOnce(gpu, ceiling.run);
    runs.get(ceiling)!.push(tc);
    ceilingBefore.get(c)!.push(tc);
    runs.get(c)!.push(await timeOnce(gpu, c.run));
  }
}
const cores = os.cpus().length;
const rowOf = new Map<Case, Row>();
const rows: Row[] = [...cases, ceiling].map((c) => {
  const { ms, cpuMs } = minTiming(runs.get(c)!);
  const before = ceilingBefore.get(c);
  const row = {
    name: c.name, ms: ms / c.products, gflops: gflops(c, ms), cpuGflops: c.flops / (cpuMs / cores) / 1e6,
    ceilingShare: before
      ? medianPairedRatio(runs.get(c)!.map((t) => gflops(c, t.ms)), before.map((t) => gflops(ceiling, t.ms)))
      : 1,
  };
  rowOf.set(c, row);
  return row;
});
const ceilingGflops = rows[rows.length - 1].gflops;
const tfjsGflops = (shape: string) => rows.find((r) => r.name.startsWith('tfjs') && r.name.endsWith(shape))?.gflops ?? NaN;

const desc = gpu.describe();
console.log(`adapter: ${desc.adapter} (${desc.backend}${desc.software ? ', software' : ''}), ${cores} CPUs, load ${os.loadavg()[0].toFixed(1)}, best of ${rounds} rounds`);
console.log(`% FMA: the best GFLOP/s over the ceiling's best; paired: the median over rounds of back-to-back (ceiling, case) pairs`);
console.log(`${'case'.padEnd(52)} ${'ms each'.padStart(9)} ${'GFLOP/s'.padStart(8)} ${'x tfjs'.padStart(7)} ${'% FMA'.padStart(6)} ${'paired'.padStart(6)}${desc.software ? ' cpu-est GFLOP/s' : ''}`);
for (const r of rows) {
  const shape = r.name.slice(r.name.lastIndexOf('('));
  const vsTfjs = r.name.startsWith('tfjs') || r === rows[rows.length - 1] ? '' : (r.gflops / tfjsGflops(shape)).toFixed(1);
  const cpu = desc.software ? r.cpuGflops.toFixed(2).padStart(16) : '';
  console.log(`${r.name.padEnd(52)} ${r.ms.toFixed(1).padStart(9)} ${r.gflops.toFixed(2).padStart(8)} ${vsTfjs.padStart(7)} ${(100 * r.gflops / ceilingGflops).toFixed(0).padStart(6)} ${(100 * r.ceilingShare).toFixed(0).padStart(6)}${cpu}`);
}

// Acceptance on a software adapter, on the variants llmnb chose. The ratios were measured in this run and judge the
// kernels (exit 1 if one fails); absolute GFLOP/s follow the host's speed, which moves by +-30% within minutes here.
const prefill = rowOf.get(judged.prefill!)!;
const decode = rowOf.get(judged.decode!)!;
const prefillXTfjs = prefill.gflops / tfjsGflops('(128,4096,4096)');
const ratioChecks: [string, boolean][] = [
  [`prefill product (${prefillVariant}) >= ${MIN_X_TFJS}x tfjs: ${prefillXTfjs.toFixed(1)}x`, prefillXTfjs >= MIN_X_TFJS],
  [`prefill product >= ${100 * MIN_CEILING_SHARE}% of the FMA ceiling (paired): ${(100 * prefill.ceilingShare).toFixed(0)}%`, prefill.ceilingShare >= MIN_CEILING_SHARE],
];
const absoluteChecks: [string, boolean][] = [
  [`prefill product >= ${MIN_PREFILL_GFLOPS} GFLOP/s: ${prefill.gflops.toFixed(2)}`, prefill.gflops >= MIN_PREFILL_GFLOPS],
  [`decode GEMV (${decodeVariant}) >= ${MIN_GEMV_GFLOPS} GFLOP/s: ${decode.gflops.toFixed(2)}`, decode.gflops >= MIN_GEMV_GFLOPS],
];
const verdict = ([text, ok]: [string, boolean]) => `${text} ${ok ? 'yes' : 'NO'}`;
if (desc.software) {
  console.log(`acceptance, ratios in this run: ${ratioChecks.map(verdict).join('; ')}`);
  console.log(`absolute, with the host's speed (ceiling ${ceilingGflops.toFixed(1)} GFLOP/s now): ${absoluteChecks.map(verdict).join('; ')}`);
} else {
  console.log('acceptance: the targets are set for SwiftShader (a software adapter), not judged on this one');
}

const resultsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
fs.mkdirSync(resultsDir, { recursive: true });
fs.appendFileSync(path.join(resultsDir, 'matmul.jsonl'), JSON.stringify({
  date: new Date().toISOString(), adapter: desc.adapter, backend: desc.backend, software: desc.software,
  cpus: cores, loadavg: os.loadavg()[0], rounds, dxVariant, dwVariant, fmaCeilingGflops: ceilingGflops,
  tfjs: tfjs.version, results: rows,
}) + '\n');
gpu.destroy();
process.exit(!desc.software || ratioChecks.every(([, ok]) => ok) ? 0 : 1);

function ours(name: string, variant: MatmulVariant, flops: number, op: () => void): Case {
  const repeat = flops < 1e9 ? 8 : 1;
  return { name, flops: flops * repeat, products: repeat, run: () => { forceMatmulVariant(variant); for (let i = 0; i < repeat; i++) op(); } };
}

/** tf.matMul(x, w, false, true) in f32 on a WebGPUBackend built on our own device (so: the same adapter). */
async function tfjsCases(): Promise<{ cases: Case[]; version: string }> {
  // Imported without navigator.gpu, tfjs-backend-webgpu registers its kernels for 'webgpu' but no backend; we
  // register one on our device. Its constructor only checks that navigator.gpu exists.
  const tf = await import('@tensorflow/tfjs-core');
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  (globalThis as { navigator?: unknown }).navigator ??= { gpu: {} };
  const backend = new WebGPUBackend(gpu.device, gpu.adapter.info);
  tf.registerBackend('webgpu', () => backend);
  await tf.setBackend('webgpu');
  const w = tf.tensor2d(wData, [N, K]);
  const out: Case[] = [];
  for (const [M] of SHAPES) {
    const x = tf.tensor2d(rand(M * K), [M, K]);
    const repeat = M === 1 ? 8 : 1;
    out.push({
      name: `tfjs f32 tf.matMul (${M},${K},${N})`, flops: 2 * M * K * N * repeat, products: repeat,
      run: () => {
        for (let i = 0; i < repeat; i++) tf.matMul(x, w, false, true).dispose();
        backend.endComputePassEncoder();
        backend.submitQueue();
      },
    });
  }
  return { cases: out, version: tf.version_core };
}

/** 32 independent accumulators, each updated by chains of 4 fma per loop iteration on register operands. */
function fmaCeilingCase(): Case {
  const acc = 32, chain = 4, wg = 64, groups = 64, iters = 4000;
  const body = Array.from({ length: acc }, (_, i) => `a${i} = ${'fma('.repeat(chain)}a${i}${', m, c)'.repeat(chain)};`);
  const k = gpu.kernel({
    key: 'bench/fma-ceiling', storageBindings: 1, hasParams: true, wgsl: () => `
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
struct P { iters: u32, m: f32, c: f32 }
@group(0) @binding(1) var<uniform> p: P;
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  ${Array.from({ length: acc }, (_, i) => `var a${i} = f32(gid.x + ${i}u);`).join(' ')}
  let m = p.m; let c = p.c;
  for (var i = 0u; i < p.iters; i++) { ${body.join(' ')} }
  y[gid.x] = ${Array.from({ length: acc }, (_, i) => `a${i}`).join(' + ')};
}`,
  });
  const y = Tensor.alloc(gpu, [groups * wg], 'f32', tag('fma ceiling out'));
  return {
    name: 'FMA ceiling (fma on registers only)', flops: 2 * acc * chain * iters * groups * wg, products: 1,
    run: () => gpu.dispatch(k, [y.buffer], new Params().u32(iters).f32(0.999).f32(0.001), [groups]),
  };
}
