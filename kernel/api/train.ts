// llmnb.train / %train: fine-tunes the bound classifier (chapter 6 recipe by default) with progress updated in
// place, an optional JSONL log, evaluation after each epoch, and a memory check before anything is allocated: a run
// that cannot fit is refused with the per-layer breakdown and what would fit.
import fs from 'node:fs';
import path from 'node:path';
import { OutOfMemoryError, UsageError } from '../errors.js';
import { formatBytes } from '../gpu/format.js';
import { estimateTotal, mergeEstimates, weightsEstimate, type MemoryEstimate } from '../model/estimate.js';
import type { LlamaModel } from '../model/llama.js';
import { ADAMW_DEFAULTS } from '../train/adamw.js';
import { trainingSteps } from '../train/batches.js';
import { trainingEstimate, type TrainingPlan } from '../train/estimate.js';
import type { LrSchedule } from '../train/schedule.js';
import { parseTrainable } from '../train/trainable.js';
import { train, type EvalRecord, type StepRecord, type TrainReport } from '../train/trainer.js';
import { textOutput } from '../output/text.js';
import { boundModel, boundTokenizer, type ApiContext } from './context.js';
import { withDisplay } from './display.js';
import { classifierData, padId, type DataColumns } from './train_data.js';

export interface TrainApiOptions extends DataColumns {
  data: string;
  eval?: string;
  epochs?: number;
  steps?: number;
  batch?: number;
  lr?: number;
  weightDecay?: number;
  /** 'last-block' (default), 'all', 'head' or 'layers=A..B'. */
  trainable?: string;
  gradAccum?: number;
  /** Clip the global gradient norm (clip_grad_norm_). */
  clip?: number;
  /** Linear warmup over this many steps, then cosine decay to minLr. */
  warmup?: number;
  minLr?: number;
  shuffle?: boolean;
  seed?: number;
  /** One JSON line per step ({"step","loss","lr","tokens",...}) and per evaluation. */
  log?: string;
  gradCheckpoint?: boolean;
}

export interface TrainResult extends TrainReport {
  summary: string;
}

export async function sessionTrain(ctx: ApiContext, o: TrainApiOptions): Promise<TrainResult> {
  const model = boundModel(ctx);
  const tokenizer = boundTokenizer(ctx);
  if (o.epochs !== undefined && o.steps !== undefined) throw new UsageError('give --epochs or --steps, not both', 'e.g. --epochs 3');
  const trainable = parseTrainable(o.trainable ?? 'last-block', model.config.numLayers);
  const data = await classifierData(model, tokenizer, o.data, o);
  const evalData = o.eval ? await classifierData(model, tokenizer, o.eval, o) : null;
  const batchSize = o.batch ?? 8;
  const gradAccum = o.gradAccum ?? 1;
  const length = o.steps !== undefined ? { steps: o.steps * gradAccum } : { epochs: o.epochs ?? 1 };
  const lr = o.lr ?? 5e-5;
  const micro = trainingSteps(data.ids.length, { batchSize, padId: 0, shuffle: false, seed: 0, dropLast: true, ...length });
  const steps = Math.ceil(micro / gradAccum);
  const schedule: LrSchedule = o.warmup === undefined ? { kind: 'constant', lr }
    : { kind: 'warmup-cosine', initialLr: 0, peakLr: lr, minLr: o.minLr ?? lr / 10, warmupSteps: o.warmup, totalSteps: steps };
  const plan: TrainingPlan = { batch: batchSize, seqLen: data.longest, trainable, gradCheckpoint: o.gradCheckpoint ?? false };
  checkFits(model, plan);

  if (o.log) fs.mkdirSync(path.dirname(o.log), { recursive: true });
  const log = o.log ? fs.openSync(o.log, 'w') : null;
  const writeLog = (rec: object) => { if (log !== null) fs.writeSync(log, `${JSON.stringify(rec)}\n`); };
  const progress = ctx.out.progress({ label: 'train', total: steps });
  let tokens = 0;
  const t0 = performance.now();
  const onStep = (r: StepRecord) => {
    tokens += r.tokens;
    const elapsed = (performance.now() - t0) / 1000;
    const eta = (elapsed / r.step) * (r.steps - r.step);
    progress.update(r.step, `epoch ${r.epoch}  loss ${r.loss.toFixed(4)}  acc ${(100 * r.accuracy).toFixed(1)}%  ` +
      `${(tokens / elapsed).toFixed(0)} tok/s  ETA ${eta.toFixed(0)} s`);
    writeLog({ step: r.step, loss: r.loss, lr: r.lr, tokens: r.tokens, accuracy: r.accuracy, epoch: r.epoch, ...(r.gradNorm !== undefined ? { grad_norm: r.gradNorm } : {}) });
  };
  const onEval = (e: EvalRecord) => {
    ctx.out.text(`eval after epoch ${e.epoch} (step ${e.step}): loss ${e.loss.toFixed(4)}, accuracy ${(100 * e.accuracy).toFixed(1)}% on ${e.rows} rows`);
    writeLog({ eval: o.eval, step: e.step, epoch: e.epoch, loss: e.loss, accuracy: e.accuracy, rows: e.rows });
  };
  try {
    const report = await train(model, {
      data, evalData, length, batchSize, gradAccum, trainable,
      optimizer: { ...ADAMW_DEFAULTS, weightDecay: o.weightDecay ?? ADAMW_DEFAULTS.weightDecay },
      schedule, clipNorm: o.clip ?? null, shuffle: o.shuffle ?? true, seed: o.seed ?? 123,
      gradCheckpoint: plan.gradCheckpoint, padId: padId(model), onStep, onEval, checkpoint: () => ctx.step(),
    });
    progress.finish();
    const result: TrainResult = { ...report, summary: summarize(report, data.truncated, data.ids.length) };
    return withDisplay(result, (r) => textOutput(r.summary));
  } finally {
    if (log !== null) fs.closeSync(log);
  }
}

function summarize(r: TrainReport, truncated: number, rows: number): string {
  const last = r.history[r.history.length - 1];
  const lines = [
    `Trained ${r.steps} steps in ${r.seconds.toFixed(1)} s (${(r.tokens / r.seconds).toFixed(0)} tokens/s); ` +
    `last loss ${last?.loss.toFixed(4) ?? '-'}; ${r.trainable.length} trainable tensors.`,
    `Peak GPU memory ${formatBytes(r.peakBytes.total)}: weights ${formatBytes(r.peakBytes.weights)}, gradients ${formatBytes(r.peakBytes.grads)}, ` +
    `optimizer ${formatBytes(r.peakBytes.optimizer)}, activations ${formatBytes(r.peakBytes.activations)} (gradients and optimizer state are freed now).`,
  ];
  if (truncated) lines.push(`${truncated} of ${rows} texts were longer than --max-length and were truncated.`);
  const ev = r.evals[r.evals.length - 1];
  if (ev) lines.push(`Final evaluation: accuracy ${(100 * ev.accuracy).toFixed(1)}%, loss ${ev.loss.toFixed(4)} on ${ev.rows} rows.`);
  return lines.join('\n');
}

/** What the plan needs beyond what is resident now, against the allocator's limit. */
export function trainingMemory(model: LlamaModel, plan: TrainingPlan): { estimate: MemoryEstimate; total: number; limit: number | null } {
  const estimate = mergeEstimates(weightsEstimate(model), trainingEstimate(model, plan));
  const snap = model.gpu.allocator.snapshot();
  // Buffers that are not the model's and stay during training (dispatch params, RoPE tables).
  const runtime = snap.kinds.other.liveBytes + snap.kinds.staging.liveBytes;
  return { estimate, total: estimateTotal(estimate) + runtime, limit: snap.limitBytes };
}

function checkFits(model: LlamaModel, plan: TrainingPlan): void {
  const { estimate, total, limit } = trainingMemory(model, plan);
  if (limit === null || total <= limit) return;
  const perKind = (e: MemoryEstimate) => {
    const sum = (k: 'weights' | 'grads' | 'optimizer' | 'activations') => formatBytes(e.layers.reduce((s, l) => s + l.bytes[k], 0));
    return `weights ${sum('weights')}, gradients ${sum('grads')}, optimizer ${sum('optimizer')}, activations ${sum('activations')}`;
  };
  const options: string[] = [];
  const tryPlan = (label: string, p: TrainingPlan) => {
    const t = trainingMemory(model, p).total;
    if (t <= limit) options.push(`${label} (${formatBytes(t)})`);
  };
  if (!plan.gradCheckpoint) tryPlan('--grad-checkpoint', { ...plan, gradCheckpoint: true });
  for (let b = Math.floor(plan.batch / 2); b >= 1; b = Math.floor(b / 2)) tryPlan(`--batch ${b}`, { ...plan, batch: b });
  if (plan.trainable !== 'head') tryPlan('--trainable head', { ...plan, trainable: 'head' });
  throw new OutOfMemoryError(
    `this training run needs ${formatBytes(total)} but the GPU memory limit is ${formatBytes(limit)} (${perKind(estimate)})`,
    ['Needed per layer:', ...estimate.layers.map((l) => `  ${l.layer}: ${Object.entries(l.bytes).filter(([, b]) => b > 0).map(([k, b]) => `${k} ${formatBytes(b)}`).join(', ')}`)].join('\n'),
    options.length ? `These would fit: ${options.join('; ')}. Nothing was allocated.` : 'Use a shorter --max-length, --grad-checkpoint, or a smaller model. Nothing was allocated.',
  );
}
