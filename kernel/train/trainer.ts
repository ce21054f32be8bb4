// The fine-tuning loop (LLMs-from-scratch chapter 6 on Llama 3): gradients and AdamW state exist only for the
// trainable parameters, and only for the length of the run; each optimizer step sums the gradients over its
// micro-batches (gradients.ts: the first contribution writes, later ones add), optionally clips them, and applies
// AdamW with the step's learning rate. An interrupt stops between optimizer steps, so the model always holds the
// weights of a completed step.
import { CancelledError } from '../errors.js';
import type { MemoryKind } from '../gpu/allocator.js';
import { argmax } from '../model/sampling.js';
import type { LlamaModel } from '../model/llama.js';
import type { Parameter } from '../model/parameter.js';
import { adamwStep, AdamWState, checkAdamWConfig, type AdamWConfig } from './adamw.js';
import { trainingBatches, trainingSteps, type BatchOptions, type TokenizedExamples, type TrainingBatch, type TrainingLength } from './batches.js';
import { evaluate, type EvalResult } from './evaluate.js';
import { gradNorms } from './grad_norm.js';
import { checkSchedule, learningRate, type LrSchedule } from './schedule.js';
import { forwardBackward } from './step.js';
import { Gradients } from './gradients.js';
import { selectTrainable, type TrainableSpec } from './trainable.js';

export interface TrainOptions {
  data: TokenizedExamples;
  /** Evaluated after every epoch (and at the end of a --steps run). */
  evalData?: TokenizedExamples | null;
  length: TrainingLength;
  /** Sequences per micro-batch. */
  batchSize: number;
  /** Micro-batches per optimizer step. */
  gradAccum: number;
  trainable: TrainableSpec;
  /** betas, eps, weight decay (lr comes from `schedule`). */
  optimizer: Omit<AdamWConfig, 'lr'>;
  schedule: LrSchedule;
  /** Clip the global gradient norm to this (torch.nn.utils.clip_grad_norm_); null: no clipping. */
  clipNorm: number | null;
  shuffle: boolean;
  seed: number;
  gradCheckpoint: boolean;
  padId: number;
  /** Per-tensor gradient L2 norms are computed and reported for these steps (1-based), e.g. [1]. */
  gradNormSteps?: number[];
  onStep?: (r: StepRecord) => void;
  onEval?: (r: EvalRecord) => void;
  /** Awaited between optimizer steps; throw CancelledError to stop. */
  checkpoint?: () => void | Promise<void>;
}

export interface StepRecord {
  /** Optimizer step, from 1. */
  step: number;
  steps: number;
  epoch: number;
  /** Mean loss over the step's micro-batches. */
  loss: number;
  /** Fraction of the step's sequences classified right (before the update). */
  accuracy: number;
  lr: number;
  /** Real tokens this step. */
  tokens: number;
  seconds: number;
  tokensPerSecond: number;
  /** Global gradient norm (before clipping) when clipping or asked for. */
  gradNorm?: number;
  /** Per-tensor gradient norms when asked for (gradNormSteps). */
  gradNorms?: Record<string, number>;
}

export interface EvalRecord extends EvalResult { step: number; epoch: number }

export interface TrainReport {
  steps: number;
  seconds: number;
  tokens: number;
  history: StepRecord[];
  evals: EvalRecord[];
  trainable: string[];
  /** Peak allocator bytes during the run, by kind, and in total. */
  peakBytes: Record<MemoryKind | 'total', number>;
}

export async function train(model: LlamaModel, o: TrainOptions): Promise<TrainReport> {
  checkAdamWConfig({ ...o.optimizer, lr: 0 });
  checkSchedule(o.schedule);
  const gpu = model.gpu;
  const set = selectTrainable(model, o.trainable);
  const batchOpts: BatchOptions & TrainingLength = {
    batchSize: o.batchSize, padId: o.padId, shuffle: o.shuffle, seed: o.seed, dropLast: true, ...o.length,
  };
  const micro = trainingSteps(o.data.ids.length, batchOpts);
  await model.prepareKernels(true);
  const steps = Math.ceil(micro / o.gradAccum);
  gpu.pool.trim(); // idle cached buffers from earlier work would blur this run's peak
  gpu.allocator.resetPeak();
  let grads: Gradients | null = null;
  const states = new Map<Parameter, AdamWState>();
  const report: TrainReport = { steps: 0, seconds: 0, tokens: 0, history: [], evals: [], trainable: set.params.map((p) => p.name), peakBytes: emptyPeaks() };
  const t0 = performance.now();
  try {
    grads = new Gradients(gpu, set.params);
    for (const p of set.params) states.set(p, AdamWState.create(gpu, { tensor: p.tensor, name: p.name, layer: p.layer }));
    const batches = trainingBatches(o.data, batchOpts);
    let lastEpoch = 0;
    for (let step = 1; step <= steps; step++) {
      await o.checkpoint?.();
      const group = takeGroup(batches, Math.min(o.gradAccum, micro - (step - 1) * o.gradAccum));
      if (group[0].epoch !== lastEpoch) {
        await runEval(model, o, report, step - 1, lastEpoch);
        lastEpoch = group[0].epoch;
      }
      const tStep = performance.now();
      grads.startStep();
      let loss = 0;
      let correct = 0;
      let seqs = 0;
      let tokens = 0;
      for (const b of group) {
        const out = forwardBackward(model, set, grads, b, { gradScale: 1 / group.length, gradCheckpoint: o.gradCheckpoint });
        loss += (await out.loss.read())[0] / group.length;
        const logits = await out.logits.read();
        out.loss.dispose();
        out.logits.dispose();
        const C = logits.length / b.batch;
        for (let i = 0; i < b.batch; i++) if (argmax(logits.subarray(i * C, (i + 1) * C)) === b.labels[i]) correct++;
        seqs += b.batch;
        tokens += b.tokens;
      }
      const record: StepRecord = {
        step, steps, epoch: group[0].epoch + 1, loss, accuracy: correct / seqs, lr: learningRate(o.schedule, step - 1),
        tokens, seconds: 0, tokensPerSecond: 0,
      };
      const wantNorms = o.gradNormSteps?.includes(step) ?? false;
      const stepGrads = grads.finishStep();
      const norms = o.clipNorm !== null || wantNorms ? gradNorms(gpu, stepGrads.map(([, g]) => g), o.clipNorm !== null ? { maxNorm: o.clipNorm } : {}) : null;
      for (const [p, g] of stepGrads) {
        adamwStep(gpu, states.get(p)!, p.tensor, g, step, { ...o.optimizer, lr: record.lr }, o.clipNorm !== null ? norms!.clipScale : undefined);
      }
      if (norms) {
        const v = await norms.read();
        record.gradNorm = v.total;
        if (wantNorms) record.gradNorms = Object.fromEntries(set.params.map((p, i) => [p.name, v.perTensor[i]]));
        norms.dispose();
      }
      await gpu.sync();
      record.seconds = (performance.now() - tStep) / 1000;
      record.tokensPerSecond = tokens / record.seconds;
      report.history.push(record);
      report.steps = step;
      report.tokens += tokens;
      o.onStep?.(record);
    }
    await runEval(model, o, report, steps, lastEpoch);
  } catch (e) {
    if (e instanceof CancelledError) {
      throw new CancelledError(`training interrupted after step ${report.steps} of ${steps}: the model holds the weights of step ${report.steps}`);
    }
    throw e;
  } finally {
    grads?.dispose();
    for (const s of states.values()) s.dispose();
    gpu.pool.trim();
    report.seconds = (performance.now() - t0) / 1000;
    report.peakBytes = peaks(model);
  }
  return report;
}

function takeGroup(batches: Generator<TrainingBatch>, n: number): TrainingBatch[] {
  const group: TrainingBatch[] = [];
  while (group.length < n) {
    const next = batches.next();
    if (next.done) break;
    group.push(next.value);
  }
  return group;
}

async function runEval(model: LlamaModel, o: TrainOptions, report: TrainReport, step: number, epoch: number): Promise<void> {
  if (!o.evalData) return;
  const r = await evaluate(model, o.evalData, { batchSize: o.batchSize, padId: o.padId, checkpoint: o.checkpoint });
  const rec: EvalRecord = { ...r, step, epoch: epoch + 1 };
  report.evals.push(rec);
  o.onEval?.(rec);
}

function emptyPeaks(): Record<MemoryKind | 'total', number> {
  return { weights: 0, grads: 0, optimizer: 0, activations: 0, staging: 0, other: 0, total: 0 };
}

/** Peak bytes per kind since the run's resetPeak. */
function peaks(model: LlamaModel): Record<MemoryKind | 'total', number> {
  const snap = model.gpu.allocator.snapshot();
  const out = emptyPeaks();
  for (const [k, v] of Object.entries(snap.kinds)) out[k as MemoryKind] = v.peakBytes;
  out.total = snap.peakBytes;
  return out;
}
