// Training benchmark: the chapter-6 recipe (the head replaced by a 2-class Linear with bias, the last block + the
// final norm + the head trainable, AdamW lr 5e-5, weight decay 0.1) through llmnb's trainer, on the demo preset
// and the Llama 3 8B-shaped model with 2 blocks (bench/models.ts), against the same recipe in PyTorch f32 and bf16
// (bench/llama_torch.py) when torch is importable.
// Usage: node --import tsx bench/train.ts [--models demo,8b-2] [--steps N] [--torch-steps N] [--no-torch] [--profile]
//          [--demo-batch 8] [--demo-length 256] [--8b-2-batch 1] [--8b-2-length 128]
//
// One warm-up step (pipelines compile, gradient and optimizer buffers are touched for the first time), then N timed
// steps; before each timed step a forward pass of the same batch (hidden states, the head at the last tokens,
// readback: what evaluation runs) is timed too, so both see the same load. Printed: training tokens/s, peak
// allocator bytes by kind (as the trainer reports them), and the measured ratio (step time / forward time) next to
// the FLOP ratio (n + 2k) / n for k trainable of n blocks; also the ratio without the step's per-parameter work
// (the AdamW update: memory-bound, independent of the batch; timed alone before training), which is what
// the FLOP ratio counts. Step and forward times (and tokens/s) are the best of the steps, by wall time and, on a
// software adapter, by CPU time (harness.ts); the ratios are medians over the steps of each step against the forward
// timed just before it (stats.ts). With --profile, one more step is broken down per dispatch (dispatch_profile.ts).
// Appends one JSON line to bench/results/train.jsonl; exits 1 if the ratio is off by more than 15%.
import os from 'node:os';
import path from 'node:path';
import { CancelledError } from '../kernel/errors.js';
import { Gpu } from '../kernel/gpu/context.js';
import { Tensor } from '../kernel/gpu/tensor.js';
import { formatBytes } from '../kernel/gpu/format.js';
import { MEMORY_KINDS, type MemoryKind } from '../kernel/gpu/allocator.js';
import { replaceHead } from '../kernel/model/head.js';
import type { LlamaModel } from '../kernel/model/llama.js';
import { ADAMW_DEFAULTS, AdamWState, adamwStep } from '../kernel/train/adamw.js';
import { selectTrainable } from '../kernel/train/trainable.js';
import { makeBatch, type TokenizedExamples } from '../kernel/train/batches.js';
import { train, type TrainReport } from '../kernel/train/trainer.js';
import {
  appendResult, argCount, argValue, describeRun, fmt, minTiming, printTable, rates, runInfo, timeOnce, type Timing,
} from './harness.js';
import { BENCH_MODELS, benchModel, benchModelDir, describeConfig, randomIds, type BenchModelName } from './models.js';
import { medianPairedRatio, trainingFlopRatio } from './stats.js';
import { runTorchPeers, torchUnavailable, type TorchDtype } from './torch_peer.js';
import { recordDispatches, replayDispatches, sumByKernel, type DispatchRecorder, type DispatchTime } from './dispatch_profile.js';

const LR = 5e-5;
const CLASSES = 2;
/** Acceptance: measured (step / forward) within this fraction of the FLOP ratio. */
const RATIO_TOLERANCE = 0.15;
/** Per model: batch and length, and PyTorch's timed steps (an 8B-shaped f32 step takes minutes here). */
const DEFAULTS: Record<BenchModelName, { batch: number; length: number; torchSteps: number }> = {
  'demo': { batch: 8, length: 256, torchSteps: 3 },
  '8b-2': { batch: 1, length: 128, torchSteps: 1 },
};

interface TorchTrain {
  dtype: TorchDtype;
  threads: number;
  loadSeconds: number;
  tokens: number;
  step: Timing;
  forward: Timing;
  /** Every timed step and the forward timed right after it, in order (pairs). */
  stepRuns: Timing[];
  forwardRuns: Timing[];
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
  profile: ReturnType<typeof sumByKernel> | null;
  /** The AdamW update of every trainable tensor, timed alone (see timePerParameterWork). */
  perParameter: Timing;
  flopRatio: number;
  /** step / forward by wall and CPU time: medians over the steps, each against the forward timed before it. */
  ratios: { wall: number; cpu: number };
  /** (step - perParameter) / forward, the same way, by the acceptance basis. */
  forwardBackwardRatio: number;
  torch: TorchTrain[];
  torchSkipped: string | null;
  /** Judged by CPU time on a software adapter, by wall time on a GPU. */
  acceptance: { basis: 'wall' | 'cpu'; ratioWithin: boolean; forwardBackwardWithin: boolean };
}

const log = (line: string) => console.log(line);
const steps = argCount('--steps', 3);
const models = (argValue('--models') ?? BENCH_MODELS.join(',')).split(',') as BenchModelName[];
for (const m of models) if (!BENCH_MODELS.includes(m)) throw new Error(`--models: unknown model ${m} (have ${BENCH_MODELS.join(', ')})`);
const cores = os.cpus().length;
const profiling = process.argv.includes('--profile');

const gpu = await Gpu.open();
gpu.onNotice = (text) => log(text);
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
  const batch = argCount(`--${name}-batch`, DEFAULTS[name].batch);
  const length = argCount(`--${name}-length`, DEFAULTS[name].length);
  const torchSteps = argCount('--torch-steps', DEFAULTS[name].torchSteps);
  const model = await benchModel(gpu, name, log);
  const c = model.config;
  if (length > c.contextLength) throw new Error(`--${name}-length ${length} exceeds the model's context (${c.contextLength})`);
  await replaceHead(model, { classes: CLASSES, seed: 0 });
  await model.prepareKernels(true); // the matmul autotune, as at a user's first training step (prints what it measured)
  const ids = Array.from({ length: batch }, (_, b) => randomIds(length, c.vocabSize, 11 + b));
  const labels = Array.from({ length: batch }, (_, b) => b % CLASSES);
  const data: TokenizedExamples = {
    ids: ids.map((row) => Uint32Array.from(row)), labels: Uint32Array.from(labels), labelNames: ['0', '1'],
    maxLength: length, truncated: 0, longest: length,
  };
  const forwardOnce = forwardOf(model, data);
  await timeOnce(gpu, forwardOnce); // warm-up: compiles the forward's pipelines
  const perParameter = await timePerParameterWork(model, steps);

  const forwards: Timing[] = [];
  const stepTimes: Timing[] = [];
  const losses: number[] = [];
  let cpuAtStep = process.cpuUsage();
  let stepIndex = 0;
  // --profile: one more step is recorded dispatch by dispatch, and replayed before the step after it (the last
  // point where the run's gradient and optimizer buffers still exist), which then stops the run.
  let recorder: DispatchRecorder | null = null;
  let profile: DispatchTime[] | null = null;
  try {
    await train(model, {
      data, length: { steps: steps + 1 + (profiling ? 2 : 0) }, batchSize: batch, gradAccum: 1, trainable: 'last-block',
      optimizer: ADAMW_DEFAULTS, schedule: { kind: 'constant', lr: LR }, clipNorm: null, shuffle: false, seed: 0,
      gradCheckpoint: false, padId: 0,
      // Called before each optimizer step: after the warm-up step, time a forward of the same batch first.
      checkpoint: async () => {
        const index = stepIndex++;
        if (recorder) {
          log('  replaying the recorded step dispatch by dispatch ...');
          profile = await replayDispatches(gpu, recorder.stop(), 20, 1);
          throw new CancelledError('profile taken');
        }
        if (index >= 1 && index <= steps) {
          const f = await timeOnce(gpu, forwardOnce);
          forwards.push(f);
          log(`  forward before step ${index + 1}: ${f.ms.toFixed(0)} ms (cpu ${f.cpuMs.toFixed(0)} ms)`);
        }
        if (profiling && index === steps + 1) recorder = recordDispatches(gpu);
        cpuAtStep = process.cpuUsage();
      },
      onStep: (r) => {
        const cpu = process.cpuUsage(cpuAtStep);
        const cpuMs = (cpu.user + cpu.system) / 1000;
        losses.push(r.loss);
        if (r.step > 1 && r.step <= steps + 1) stepTimes.push({ ms: r.seconds * 1000, cpuMs });
        const what = r.step === 1 ? ' (warm-up)' : r.step > steps + 1 ? ' (recorded for the profile)' : '';
        log(`  step ${r.step}${what}: ${(r.seconds * 1000).toFixed(0)} ms (cpu ${cpuMs.toFixed(0)} ms), loss ${r.loss.toFixed(4)}`);
      },
    });
  } catch (e) {
    if (!(e instanceof CancelledError && profile)) throw e;
  }
  const peakBytes = peaksByKind();
  model.dispose();
  gpu.pool.trim();

  const torch = torchSkip ? [] : runTorchPeers<TorchTrain>('train', benchModelDir(name), { ids, labels, classes: CLASSES, lr: LR, steps: torchSteps }, log);
  const step = minTiming(stepTimes);
  const forward = minTiming(forwards);
  const flopRatio = trainingFlopRatio(c.numLayers, 1);
  // On a software adapter other processes share the "GPU": CPU time is the steadier measure of the work.
  const basis = info.software ? 'cpu' : 'wall';
  const ratios = { wall: pairedRatio(stepTimes, forwards, 'wall'), cpu: pairedRatio(stepTimes, forwards, 'cpu') };
  const forwardBackwardRatio = pairedRatio(stepTimes, forwards, basis, perParameter);
  const within = (v: number) => Math.abs(v / flopRatio - 1) <= RATIO_TOLERANCE;
  const result: ModelResult = {
    model: name, config: describeConfig(name, c), blocks: c.numLayers, batch, length, tokens: batch * length, step, forward,
    perParameter, losses, peakBytes, profile: profile && sumByKernel(profile), flopRatio, ratios, forwardBackwardRatio,
    torch, torchSkipped: torchSkip,
    acceptance: { basis, ratioWithin: within(ratios[basis]), forwardBackwardWithin: within(forwardBackwardRatio) },
  };
  printModel(result);
  return result;
}

/**
 * What a step costs per trainable parameter, whatever the batch: the AdamW update (the trainer's own call), on zero
 * gradients and fresh state with lr 0, so the weights stay as they are. Timed alone before training (best of
 * `rounds` after a warm-up), then freed.
 */
async function timePerParameterWork(model: LlamaModel, rounds: number): Promise<Timing> {
  const { params } = selectTrainable(model, 'last-block');
  const grads = params.map((p) => Tensor.alloc(gpu, p.shape, 'f32', { layer: p.layer, tensor: `${p.name}:grad (timing)`, kind: 'grads' }));
  for (const g of grads) for (const part of g.parts) gpu.clear(part.buf.buffer);
  const states = params.map((p) => AdamWState.create(gpu, { tensor: p.tensor, name: p.name, layer: p.layer }));
  let t = 0;
  const run = () => {
    t++;
    params.forEach((p, i) => adamwStep(gpu, states[i], p.tensor, grads[i], t, { ...ADAMW_DEFAULTS, lr: 0 }));
  };
  const times: Timing[] = [];
  for (let r = 0; r <= rounds; r++) {
    const time = await timeOnce(gpu, run);
    if (r > 0) times.push(time);
  }
  for (const x of [...grads, ...states]) x.dispose();
  return minTiming(times);
}

/** Peak allocator bytes per kind since the trainer's resetPeak (what TrainReport.peakBytes holds). */
function peaksByKind(): TrainReport['peakBytes'] {
  const snap = gpu.allocator.snapshot();
  const out = { weights: 0, grads: 0, optimizer: 0, activations: 0, staging: 0, other: 0, total: snap.peakBytes };
  for (const [k, v] of Object.entries(snap.kinds)) out[k as MemoryKind] = v.peakBytes;
  return out;
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

/**
 * Median over back-to-back (step, forward) pairs of step / forward by wall or CPU time, with `perStep` (a timing
 * of work inside each step, e.g. the AdamW update) taken off each step first.
 */
function pairedRatio(steps: Timing[], forwards: Timing[], by: 'wall' | 'cpu', perStep?: Timing): number {
  const of = (t: Timing) => (by === 'wall' ? t.ms : t.cpuMs);
  return medianPairedRatio(steps.map((t) => of(t) - (perStep ? of(perStep) : 0)), forwards.map(of));
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
  ourRow.push(fmt(r.forward.ms, 0), fmt(r.ratios.wall, 2) + (cpuCols ? ` (cpu ${fmt(r.ratios.cpu, 2)})` : ''));
  const rows = [ourRow];
  for (const t of r.torch) {
    const theirs = rates(t.tokens, t.step, Math.min(t.threads, cores));
    const row = [`torch ${t.dtype} (${t.threads} threads)`, fmt(t.step.ms, 0), fmt(theirs.perSecond, 1)];
    if (cpuCols) row.push(fmt(theirs.cpuEstPerSecond, 1));
    row.push(fmt(t.forward.ms, 0), fmt(pairedRatio(t.stepRuns, t.forwardRuns, 'wall'), 2));
    rows.push(row);
  }
  printTable(header, rows);
  for (const t of r.torch) log(`llmnb / torch ${t.dtype} training tokens/s: ${fmt(t.step.ms / r.step.ms, 2)}`);
  const kinds = MEMORY_KINDS.filter((k) => r.peakBytes[k] > 0).map((k) => `${k} ${formatBytes(r.peakBytes[k])}`);
  log(`peak allocator bytes: ${formatBytes(r.peakBytes.total)} (${kinds.join(', ')}; peaks per kind need not coincide)`);
  const p = r.perParameter;
  log(`per-parameter work in a step (AdamW, timed alone): ${fmt(p.ms, 0)} ms (cpu ${fmt(p.cpuMs, 0)} ms), ` +
    `${fmt(100 * (r.acceptance.basis === 'cpu' ? p.cpuMs / r.step.cpuMs : p.ms / r.step.ms))}% of the step`);
  const by = r.acceptance.basis === 'cpu' ? 'CPU time (software adapter: the machine is shared)' : 'wall time';
  const verdict = (ok: boolean) => (ok ? 'yes' : 'NO');
  log(`acceptance by ${by}, FLOP ratio (n + 2k) / n = ${fmt(r.flopRatio, 2)} (n ${r.blocks}, k 1), within ${100 * RATIO_TOLERANCE}%: ` +
    `step / forward ${fmt(r.ratios[r.acceptance.basis], 2)} ${verdict(r.acceptance.ratioWithin)} (median of ${steps} step${steps === 1 ? '' : 's'}, each against the forward timed before it); ` +
    `(step - per-parameter work) / forward ${fmt(r.forwardBackwardRatio, 2)} ${verdict(r.acceptance.forwardBackwardWithin)}`);
  if (r.profile) {
    const total = r.profile.reduce((sum, k) => sum + k.ms, 0);
    log(`\none training step's dispatches, each replayed alone: ${fmt(total, 0)} ms in all`);
    printTable(['kernel', 'dispatches', 'ms', 'cpu ms', 'share'], r.profile.map((k) => [
      k.kernel, String(k.count), fmt(k.ms, 1), fmt(k.cpuMs, 1), `${fmt(100 * k.ms / total)}%`,
    ]));
  }
  if (r.torchSkipped) log(`PyTorch peer skipped: ${r.torchSkipped}`);
}
