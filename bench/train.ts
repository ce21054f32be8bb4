// Training benchmark: the chapter-6 recipe (the head replaced by a 2-class Linear with bias, the last block + the
// final norm + the head trainable, AdamW lr 5e-5, weight decay 0.1) through llmnb's trainer, on the demo preset
// and the Llama 3 8B-shaped model with 2 blocks (bench/models.ts), against the same recipe in PyTorch f32 and bf16
// (bench/llama_torch.py) when torch is importable.
// Usage: node --import tsx bench/train.ts [--models demo,8b-2] [--steps N] [--no-torch]
//          [--demo-batch 8] [--demo-length 256] [--8b-2-batch 1] [--8b-2-length 128]
//
// One warm-up step (pipelines compile, gradient and optimizer buffers are touched for the first time), then N timed
// steps; before each timed step a forward pass of the same batch (hidden states, the head at the last tokens,
// readback: what evaluation runs) is timed too, so both see the same load. Printed: training tokens/s, peak
// allocator bytes by kind (the trainer's report), and the measured ratio (step time / forward time) next to the
// FLOP ratio (n + 2k) / n for k trainable of n blocks. Best of the steps, by wall time and, on a software adapter,
// by CPU time (harness.ts). Appends one JSON line to bench/results/train.jsonl; exits 1 if the ratio is off by more
// than 15%.
import os from 'node:os';
import path from 'node:path';
import { Gpu } from '../kernel/gpu/context.js';
import { formatBytes } from '../kernel/gpu/format.js';
import { MEMORY_KINDS } from '../kernel/gpu/allocator.js';
import { replaceHead } from '../kernel/model/head.js';
import type { LlamaModel } from '../kernel/model/llama.js';
import { ADAMW_DEFAULTS } from '../kernel/train/adamw.js';
import { makeBatch, type TokenizedExamples } from '../kernel/train/batches.js';
import { train, type TrainReport } from '../kernel/train/trainer.js';
import {
  appendResult, argValue, describeRun, fmt, minTiming, printTable, rates, runInfo, timeOnce, type Timing,
} from './harness.js';
import { BENCH_MODELS, benchModel, benchModelDir, describeConfig, randomIds, type BenchModelName } from './models.js';
import { trainingFlopRatio } from './stats.js';
import { runTorch, torchUnavailable, type TorchDtype } from './torch_peer.js';

const LR = 5e-5;
const CLASSES = 2;
/** Acceptance: measured (step / forward) within this fraction of the FLOP ratio. */
const RATIO_TOLERANCE = 0.15;
const DEFAULT_SHAPE: Record<BenchModelName, { batch: number; length: number }> = {
  'demo': { batch: 8, length: 256 },
  '8b-2': { batch: 1, length: 128 },
};

interface TorchTrain {
  dtype: TorchDtype;
  threads: number;
  loadSeconds: number;
  tokens: number;
  step: Timing;
  forward: Timing;
  losses: number[];
}

interface ModelResult {
  model: BenchModelName;
  config: string;
  blocks: number;
  batch: number;
  length: number;
  tokens: number;
  step: Timing;
  forward: Timing;
  losses: number[];
  peakBytes: TrainReport['peakBytes'];
  flopRatio: number;
  ratio: number;
  cpuRatio: number;
  torch: TorchTrain[];
  torchSkipped: string | null;
  acceptance: { ratioWithin: boolean; basis: 'wall' | 'cpu' };
}

const log = (line: string) => console.log(line);
const steps = Number(argValue('--steps') ?? 3);
const models = (argValue('--models') ?? BENCH_MODELS.join(',')).split(',') as BenchModelName[];
for (const m of models) if (!BENCH_MODELS.includes(m)) throw new Error(`--models: unknown model ${m} (have ${BENCH_MODELS.join(', ')})`);
const cores = os.cpus().length;

const gpu = await Gpu.open();
const info = runInfo(gpu);
if (gpu.notice) log(gpu.notice);
log(describeRun(info, `best of ${steps} timed step${steps === 1 ? '' : 's'} after a warm-up step`));
const torchSkip = torchUnavailable();
if (torchSkip) log(`PyTorch peer skipped: ${torchSkip}`);

const results: ModelResult[] = [];
for (const name of models) results.push(await benchOne(name));
gpu.destroy();
const file = appendResult('train', { bench: 'train', ...info, steps, results });
log(`\nappended to ${path.relative(process.cwd(), file)}`);
process.exit(results.every((r) => r.acceptance.ratioWithin) ? 0 : 1);

async function benchOne(name: BenchModelName): Promise<ModelResult> {
  log(`\n== ${name} ==`);
  const batch = Number(argValue(`--${name}-batch`) ?? DEFAULT_SHAPE[name].batch);
  const length = Number(argValue(`--${name}-length`) ?? DEFAULT_SHAPE[name].length);
  const model = await benchModel(gpu, name, log);
  const c = model.config;
  if (length > c.contextLength) throw new Error(`--${name}-length ${length} exceeds the model's context (${c.contextLength})`);
  await replaceHead(model, { classes: CLASSES, seed: 0 });
  const ids = Array.from({ length: batch }, (_, b) => randomIds(length, c.vocabSize, 11 + b));
  const labels = Array.from({ length: batch }, (_, b) => b % CLASSES);
  const data: TokenizedExamples = {
    ids: ids.map((row) => Uint32Array.from(row)), labels: Uint32Array.from(labels), labelNames: ['0', '1'],
    maxLength: length, truncated: 0, longest: length,
  };
  const forwardOnce = forwardOf(model, data);
  await timeOnce(gpu, forwardOnce); // warm-up: compiles the forward's pipelines

  const forwards: Timing[] = [];
  const stepTimes: Timing[] = [];
  const losses: number[] = [];
  let cpuAtStep = process.cpuUsage();
  let stepIndex = 0;
  const report = await train(model, {
    data, length: { steps: steps + 1 }, batchSize: batch, gradAccum: 1, trainable: 'last-block',
    optimizer: ADAMW_DEFAULTS, schedule: { kind: 'constant', lr: LR }, clipNorm: null, shuffle: false, seed: 0,
    gradCheckpoint: false, padId: 0,
    // Called before each optimizer step: after the warm-up step, time a forward of the same batch first.
    checkpoint: async () => {
      if (stepIndex++ > 0) forwards.push(await timeOnce(gpu, forwardOnce));
      cpuAtStep = process.cpuUsage();
    },
    onStep: (r) => {
      const cpu = process.cpuUsage(cpuAtStep);
      losses.push(r.loss);
      if (r.step > 1) stepTimes.push({ ms: r.seconds * 1000, cpuMs: (cpu.user + cpu.system) / 1000 });
      log(`  step ${r.step}${r.step === 1 ? ' (warm-up)' : ''}: ${(r.seconds * 1000).toFixed(0)} ms, loss ${r.loss.toFixed(4)}`);
    },
  });
  model.dispose();
  gpu.pool.trim();

  const torch: TorchTrain[] = [];
  if (!torchSkip) {
    for (const dtype of ['f32', 'bf16'] as const) {
      log(`PyTorch ${dtype} ...`);
      torch.push(runTorch<TorchTrain>('train', benchModelDir(name), dtype, { ids, labels, classes: CLASSES, lr: LR, steps }));
    }
  }
  const step = minTiming(stepTimes);
  const forward = minTiming(forwards);
  const flopRatio = trainingFlopRatio(c.numLayers, 1);
  const ratio = step.ms / forward.ms;
  const cpuRatio = step.cpuMs / forward.cpuMs;
  // On a software adapter other processes share the "GPU": CPU time is the steadier measure of the work.
  const basis = info.software ? 'cpu' : 'wall';
  const judged = basis === 'cpu' ? cpuRatio : ratio;
  const result: ModelResult = {
    model: name, config: describeConfig(name, c), blocks: c.numLayers, batch, length, tokens: batch * length, step, forward, losses,
    peakBytes: report.peakBytes, flopRatio, ratio, cpuRatio, torch, torchSkipped: torchSkip,
    acceptance: { ratioWithin: Math.abs(judged / flopRatio - 1) <= RATIO_TOLERANCE, basis },
  };
  printModel(result);
  return result;
}

/** The forward pass evaluation runs on a batch: hidden states, the head at each last token, readback. */
function forwardOf(model: LlamaModel, data: TokenizedExamples): () => Promise<void> {
  const b = makeBatch(data, Array.from(data.ids.keys()), 0);
  return async () => {
    const h = model.hidden(b.ids, b.batch);
    const lg = model.logits(h, b.lastIndex);
    h.dispose();
    await lg.read();
    lg.dispose();
  };
}

function printModel(r: ModelResult): void {
  const cpuCols = info.software;
  log(`\n${r.config}; batch ${r.batch} x ${r.length} tokens, trainable: the last block, the final norm, the head`);
  const header = ['', 'step ms', 'tokens/s'];
  if (cpuCols) header.push('cpu-est tokens/s');
  header.push('forward ms', 'step / forward');
  const ours = rates(r.tokens, r.step, cores);
  const ourRow = ['llmnb', fmt(r.step.ms, 0), fmt(ours.perSecond, 1)];
  if (cpuCols) ourRow.push(fmt(ours.cpuEstPerSecond, 1));
  ourRow.push(fmt(r.forward.ms, 0), fmt(r.ratio, 2) + (cpuCols ? ` (cpu ${fmt(r.cpuRatio, 2)})` : ''));
  const rows = [ourRow];
  for (const t of r.torch) {
    const theirs = rates(t.tokens, t.step, Math.min(t.threads, cores));
    const row = [`torch ${t.dtype} (${t.threads} threads)`, fmt(t.step.ms, 0), fmt(theirs.perSecond, 1)];
    if (cpuCols) row.push(fmt(theirs.cpuEstPerSecond, 1));
    row.push(fmt(t.forward.ms, 0), fmt(t.step.ms / t.forward.ms, 2));
    rows.push(row);
  }
  printTable(header, rows);
  for (const t of r.torch) log(`llmnb / torch ${t.dtype} training tokens/s: ${fmt(t.step.ms / r.step.ms, 2)}`);
  const kinds = MEMORY_KINDS.filter((k) => r.peakBytes[k] > 0).map((k) => `${k} ${formatBytes(r.peakBytes[k])}`);
  log(`peak allocator bytes: ${formatBytes(r.peakBytes.total)} (${kinds.join(', ')}; peaks per kind need not coincide)`);
  log(`step / forward ${fmt(r.acceptance.basis === 'cpu' ? r.cpuRatio : r.ratio, 2)} (${r.acceptance.basis} time) vs FLOP ratio (n + 2k) / n = ${fmt(r.flopRatio, 2)} ` +
    `(n ${r.blocks}, k 1) -> within ${100 * RATIO_TOLERANCE}%: ${r.acceptance.ratioWithin ? 'yes' : 'NO'}`);
  if (r.torchSkipped) log(`PyTorch peer skipped: ${r.torchSkipped}`);
}
