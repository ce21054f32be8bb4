// The matmul autotune: at first use on an adapter, each matmul class a model needs (op, B dtype, one row or many)
// is run with every variant the adapter supports; a variant whose results are wrong (compared with a float64 CPU
// product) is rejected, the fastest of the rest is chosen. Choices are cached on disk per adapter, keyed by a hash
// of the kernels' WGSL so that changed kernels are measured again; later processes read them back in
// milliseconds. LLMNB_AUTOTUNE=off keeps the default rule (variants.ts) without measuring.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LlmnbError } from '../../errors.js';
import { backendName, describeAdapter } from '../../gpu/adapter.js';
import { roundBf16 } from '../../gpu/bf16.js';
import type { Gpu } from '../../gpu/context.js';
import { Tensor, type DType } from '../../gpu/tensor.js';
import { seededRandom } from '../../random.js';
import { linear, linearGradInput, linearGradWeight } from '../linear.js';
import { referenceProduct, type ReferenceProduct } from './reference.js';
import {
  forceMatmulVariant, matmulClassKey, matmulPlan, setTunedVariant, candidateVariants, tunedVariant,
  type MatmulClass, type MatmulVariant,
} from './variants.js';

const CACHE_FORMAT = 1;
const CACHE_FILE = 'matmul-autotune.json';
/** A timed round lasts at least this long (small products repeat), so timer and submit overheads stay small. */
const MIN_ROUND_MS = 20;

/** Linear-layer dimensions of a product: x [M, K], W [N, K]. */
interface Dims { M: number; K: number; N: number }

export interface ClassTuning {
  class: MatmulClass;
  variant: MatmulVariant;
  /** Milliseconds per product of each accepted variant at the timing shape. */
  ms: Partial<Record<MatmulVariant, number>>;
  /** Variants whose results were wrong on this adapter, with the error seen. */
  rejected: Partial<Record<MatmulVariant, string>>;
  /** Hash of the candidate kernels' WGSL: a cached choice holds only for the same kernels. */
  kernels: string;
}

export interface TuneReport {
  /** Classes measured in this call. */
  measured: ClassTuning[];
  /** Classes whose choice came from the cache file. */
  cached: MatmulClass[];
  cacheFile: string | null;
}

/** Classes a model with `dtype` weights runs: forward for prefill and decode, and the two backward products when training. */
export function matmulClassesFor(dtype: DType, training: boolean): MatmulClass[] {
  const classes: MatmulClass[] = [{ op: 'fwd', bDtype: dtype, rows: 'many' }, { op: 'fwd', bDtype: dtype, rows: 'one' }];
  if (training) classes.push({ op: 'dx', bDtype: dtype, rows: 'many' }, { op: 'dw', bDtype: 'f32', rows: 'many' });
  return classes;
}

/** Where choices are cached: $LLMNB_CACHE_DIR, else $XDG_CACHE_HOME/llmnb, else ~/.cache/llmnb. */
export function autotuneCacheFile(): string {
  const dir = process.env.LLMNB_CACHE_DIR || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'llmnb');
  return path.join(dir, CACHE_FILE);
}

/**
 * Makes sure every class in `classes` has a variant chosen on this device: from memory, from the cache file, or
 * measured now (tells `gpu.onNotice` when it starts measuring and what it measured). Cheap once done.
 */
export async function tuneMatmuls(gpu: Gpu, classes: MatmulClass[]): Promise<TuneReport> {
  const report: TuneReport = { measured: [], cached: [], cacheFile: null };
  // A device whose buffers cannot hold the timing operands whole (tests force tiny buffers) keeps the default rule.
  const pending = classes.filter((c) => tunedVariant(gpu, c) === undefined && largestOperandBytes(timingDims(c)) <= gpu.maxBufferBytes);
  if (!pending.length || /^(off|0|false)$/i.test(process.env.LLMNB_AUTOTUNE ?? '')) return report;
  const file = autotuneCacheFile();
  report.cacheFile = file;
  const cache = readCache(file);
  const adapter = adapterKey(gpu);
  const entries = (cache.adapters[adapter] ??= {});
  for (const c of pending) {
    const kernels = kernelsHash(gpu, c);
    const hit = entries[matmulClassKey(c)];
    if (hit && hit.kernels === kernels && candidateVariants(gpu, c).includes(hit.variant)) {
      setTunedVariant(gpu, c, hit.variant);
      report.cached.push(c);
      continue;
    }
    if (!report.measured.length) {
      gpu.onNotice('Tuning matmul kernels for this adapter (first use only: each variant is checked against float64 and timed) ...');
    }
    const t = await tuneClass(gpu, c, kernels);
    setTunedVariant(gpu, c, t.variant);
    entries[matmulClassKey(c)] = { variant: t.variant, kernels, ms: t.ms, rejected: t.rejected, date: new Date().toISOString() };
    report.measured.push(t);
  }
  if (report.measured.length) {
    const saved = writeCache(file, cache);
    gpu.onNotice(describeTuning(report.measured, saved ? file : null));
  }
  return report;
}

/** One line per measured class: the choice and every variant's time. */
export function describeTuning(measured: ClassTuning[], cacheFile: string | null): string {
  const lines = measured.map((t) => {
    const times = Object.entries(t.ms).map(([v, ms]) => `${v} ${ms!.toFixed(ms! < 10 ? 2 : 1)} ms`).join(', ');
    const bad = Object.entries(t.rejected).map(([v, why]) => `; ${v} rejected (${why})`).join('');
    return `  ${matmulClassKey(t.class)}: ${t.variant} (${times}${bad})`;
  });
  const where = cacheFile ? `cached in ${cacheFile}` : 'not cached: the cache folder is not writable';
  return `Tuned matmul kernels for this adapter (first use; ${where}):\n${lines.join('\n')}`;
}

async function tuneClass(gpu: Gpu, c: MatmulClass, kernels: string): Promise<ClassTuning> {
  const result: ClassTuning = { class: c, variant: 'plain', ms: {}, rejected: {}, kernels };
  for (const v of candidateVariants(gpu, c)) {
    const error = await checkVariant(gpu, c, v);
    if (error) result.rejected[v] = error;
    else result.ms[v] = await timeVariant(gpu, c, v);
  }
  const ranked = Object.entries(result.ms).sort((a, b) => a[1]! - b[1]!);
  if (!ranked.length) {
    throw new LlmnbError(`every matmul kernel gives wrong results on ${describeAdapter(gpu.adapter.info)} (${matmulClassKey(c)}): ` +
      Object.entries(result.rejected).map(([v, why]) => `${v}: ${why}`).join('; '),
    'This adapter or its driver miscomputes; update the GPU driver, or run on another adapter.');
  }
  result.variant = ranked[0][0] as MatmulVariant;
  return result;
}

/** Dimensions checked against the CPU: not multiples of any tile, with a main loop and a tail along the reduction. */
function probeDims(c: MatmulClass): Dims {
  return { M: c.rows === 'one' ? 1 : 37, K: 70, N: 46 };
}

/** Dimensions timed: a prefill-sized product, or a decode GEMV. */
function timingDims(c: MatmulClass): Dims {
  return c.rows === 'one' ? { M: 1, K: 2048, N: 2048 } : { M: 128, K: 1024, N: 1024 };
}

function largestOperandBytes({ M, K, N }: Dims): number {
  return 4 * Math.max(M * K, N * K, M * N);
}

/** Operands of one product of class `c`, filled with values in [-1, 1) (bf16-exact when B is bf16). */
class Operands {
  readonly x: Float32Array; // [M, K]
  readonly w: Float32Array; // [N, K]
  readonly dy: Float32Array; // [M, N]
  private readonly tensors: Tensor[] = [];
  /** dw is written into this tensor (the other products return theirs). */
  private dw: Tensor | null = null;

  constructor(private readonly gpu: Gpu, readonly c: MatmulClass, readonly d: Dims) {
    const random = seededRandom(12345);
    const next = () => random() * 2 - 1;
    const fill = (n: number, bf16: boolean) => Float32Array.from({ length: n }, () => (bf16 ? roundBf16(next()) : next()));
    this.x = fill(d.M * d.K, false);
    this.w = fill(d.N * d.K, c.bDtype === 'bf16');
    this.dy = fill(d.M * d.N, false);
  }

  tensor(data: Float32Array, shape: number[], dtype: DType): Tensor {
    const t = Tensor.alloc(this.gpu, shape, dtype, { layer: 'runtime', tensor: 'matmul autotune', kind: 'other' });
    t.write(data);
    this.tensors.push(t);
    return t;
  }

  /** Records one product of the class; returns its result tensor (the caller's to dispose), or null for dw. */
  recorder(): () => Tensor | null {
    const { M, K, N } = this.d;
    const { op, bDtype } = this.c;
    if (op === 'dw') {
      const dy = this.tensor(this.dy, [M, N], 'f32');
      const x = this.tensor(this.x, [M, K], 'f32');
      const dw = (this.dw = this.tensor(new Float32Array(N * K), [N, K], 'f32'));
      return () => { linearGradWeight(this.gpu, dy, x, dw, { accumulate: false }); return null; };
    }
    const w = this.tensor(this.w, [N, K], bDtype);
    if (op === 'dx') {
      const dy = this.tensor(this.dy, [M, N], 'f32');
      return () => linearGradInput(this.gpu, dy, w);
    }
    const x = this.tensor(this.x, [M, K], 'f32');
    return () => linear(this.gpu, x, w);
  }

  /** The product's values: the returned tensor, or the dw tensor. */
  async result(out: Tensor | null): Promise<Float32Array> {
    return (out ?? this.dw!).read();
  }

  /** The product in float64 on the CPU, with the scale of its rounding errors. */
  reference(): ReferenceProduct {
    const { M, K, N } = this.d;
    // C(i, j) = sum_r A(i, r) B(j, r) with (rows, cols, depth) and accessors per op.
    const [rows, cols, depth, a, b] = {
      fwd: [M, N, K, (i: number, r: number) => this.x[i * K + r], (j: number, r: number) => this.w[j * K + r]],
      dx: [M, K, N, (i: number, r: number) => this.dy[i * N + r], (j: number, r: number) => this.w[r * K + j]],
      dw: [N, K, M, (i: number, r: number) => this.dy[r * N + i], (j: number, r: number) => this.x[r * K + j]],
    }[this.c.op] as [number, number, number, (i: number, r: number) => number, (j: number, r: number) => number];
    return referenceProduct(rows, cols, depth, a, b);
  }

  dispose(): void {
    for (const t of this.tensors) t.dispose();
  }
}

/**
 * Null when every element of `got` is within f32 accumulation error of the float64 product (a few ulps of the sum
 * of |terms|; a broken kernel is off by O(1)), else the first element that is not.
 */
export function firstMismatch(got: Float32Array, ref: ReferenceProduct): string | null {
  if (got.length !== ref.value.length) return `${got.length} elements, expected ${ref.value.length}`;
  for (let e = 0; e < got.length; e++) {
    if (!(Math.abs(got[e] - ref.value[e]) <= 1e-5 * ref.magnitude[e] + 1e-30)) {
      return `element ${e} is ${got[e]}, expected ${ref.value[e].toPrecision(7)}`;
    }
  }
  return null;
}

/** Records `fn` with `variant` forced; recording is synchronous, so nothing else records in between. */
function withVariant<T>(variant: MatmulVariant, fn: () => T): T {
  forceMatmulVariant(variant);
  try {
    return fn();
  } finally {
    forceMatmulVariant(null);
  }
}

/** Null when `variant` computes class `c` correctly on this device, else what was wrong. */
export async function checkVariant(gpu: Gpu, c: MatmulClass, variant: MatmulVariant): Promise<string | null> {
  const ops = new Operands(gpu, c, probeDims(c));
  try {
    const record = ops.recorder();
    const out = withVariant(variant, record);
    const got = await ops.result(out);
    out?.dispose();
    return firstMismatch(got, ops.reference());
  } catch (e) {
    if (!(e instanceof Error) || e instanceof LlmnbError) throw e;
    return e.message.split('\n')[0];
  } finally {
    ops.dispose();
  }
}

/** Milliseconds per product of class `c` with `variant` at the timing shape: best of 3 rounds after a warm-up. */
async function timeVariant(gpu: Gpu, c: MatmulClass, variant: MatmulVariant): Promise<number> {
  const ops = new Operands(gpu, c, timingDims(c));
  try {
    const record = ops.recorder();
    const round = async (reps: number) => {
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) withVariant(variant, record)?.dispose();
      await gpu.sync();
      return (performance.now() - t0) / reps;
    };
    let reps = 1;
    let best = await round(1); // compiles the pipeline
    for (let r = 0; r < 3; r++) {
      reps = Math.min(256, Math.max(reps, Math.ceil(MIN_ROUND_MS / Math.max(best, 1e-3))));
      best = Math.min(best, await round(reps));
    }
    return best;
  } finally {
    ops.dispose();
  }
}

/**
 * The adapter as the cache knows it: vendor, architecture, device, driver description, backend, and whether
 * accesses are bounds-checked (which changes the kernels' relative speed).
 */
function adapterKey(gpu: Gpu): string {
  const i = gpu.adapter.info;
  return [i.vendor, i.architecture, i.device, i.description, backendName(), gpu.robustAccess ? 'robust' : 'unchecked'].join(' | ');
}

/** Hash of the WGSL every candidate variant would run for class `c` at its timing shape. */
function kernelsHash(gpu: Gpu, c: MatmulClass): string {
  const h = crypto.createHash('sha256');
  const { M, K, N } = timingDims(c);
  for (const v of candidateVariants(gpu, c)) h.update(`${v}\n${matmulPlan(v, c, M, M * K * N).kernel.wgsl()}\n`);
  return h.digest('hex').slice(0, 16);
}

interface CacheEntry { variant: MatmulVariant; kernels: string; ms: Partial<Record<MatmulVariant, number>>; rejected: Partial<Record<MatmulVariant, string>>; date: string }
interface CacheFile { format: number; adapters: Record<string, Record<string, CacheEntry>> }

/** The cache, or an empty one when the file is missing, unreadable or of another format (it is measured again). */
function readCache(file: string): CacheFile {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as CacheFile;
    if (parsed.format === CACHE_FORMAT && parsed.adapters && typeof parsed.adapters === 'object') return parsed;
  } catch {
    // Missing or damaged: start over.
  }
  return { format: CACHE_FORMAT, adapters: {} };
}

/** Writes atomically (a temporary file renamed), so concurrent processes never read half a file. False if the folder is not writable. */
function writeCache(file: string, cache: CacheFile): boolean {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(cache, null, 2) + '\n');
    fs.renameSync(tmp, file);
    return true;
  } catch {
    return false;
  }
}
