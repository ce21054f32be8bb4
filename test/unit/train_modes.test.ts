// Properties of the trainer beyond the PyTorch reference run: gradient checkpointing changes memory, not
// numbers; accumulation over micro-batches equals one big batch; right padding does not change a sequence's loss;
// bf16 models train through f32 master weights; frozen embedding rows only decay when the embedding trains.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { roundBf16 } from '../../kernel/gpu/bf16.js';
import type { DType } from '../../kernel/gpu/tensor.js';
import { replaceHead } from '../../kernel/model/head.js';
import type { LlamaModel } from '../../kernel/model/llama.js';
import { loadModel } from '../../kernel/model/load.js';
import { ADAMW_DEFAULTS } from '../../kernel/train/adamw.js';
import type { TokenizedExamples } from '../../kernel/train/batches.js';
import { train, type TrainOptions } from '../../kernel/train/trainer.js';
import type { TrainableSpec } from '../../kernel/train/trainable.js';
import { testGpu } from './helpers/gpu.js';
import { REFERENCE_DIR, REFERENCE_MODEL } from './helpers/io.js';
import { randomInts } from './helpers/random.js';

const LR = 1e-3;

/** Sequences of different lengths (3..14 tokens) from a 400-id subset of the vocabulary, labels alternating. */
function dataset(rows: number, seed: number): TokenizedExamples {
  const ids = Array.from({ length: rows }, (_, i) => Uint32Array.from(randomInts(3 + ((i * 5) % 12), 400, seed + i)));
  return { ids, labels: Uint32Array.from(ids, (_, i) => i % 2), labelNames: ['a', 'b'], maxLength: 64, truncated: 0, longest: 14 };
}

async function freshModel(dtype: DType = 'f32'): Promise<LlamaModel> {
  const { model } = await loadModel(await testGpu(), REFERENCE_MODEL, { dtype });
  await replaceHead(model, { classes: 2, init: `${REFERENCE_DIR}/classifier${dtype === 'f32' ? '_f32' : ''}.safetensors` });
  return model;
}

function options(data: TokenizedExamples, o: Partial<TrainOptions> = {}): TrainOptions {
  return {
    data, length: { steps: 2 }, batchSize: 4, gradAccum: 1, trainable: 'last-block' as TrainableSpec,
    optimizer: ADAMW_DEFAULTS, schedule: { kind: 'constant', lr: LR }, clipNorm: null, shuffle: false, seed: 0,
    gradCheckpoint: false, padId: 0, ...o,
  };
}

async function params(model: LlamaModel): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const p of model.parameters()) out.set(p.name, await p.read());
  return out;
}

test('gradient checkpointing: identical losses and weights, lower peak activation bytes', async () => {
  const data = dataset(8, 1);
  const runs = [];
  for (const gradCheckpoint of [false, true]) {
    const model = await freshModel();
    const r = await train(model, options(data, { gradCheckpoint, trainable: { first: 0, last: 2 } }));
    runs.push({ r, weights: await params(model) });
    model.dispose();
  }
  const [plain, ckpt] = runs;
  assert.deepEqual(ckpt.r.history.map((h) => h.loss), plain.r.history.map((h) => h.loss));
  for (const [name, w] of plain.weights) assert.deepEqual(ckpt.weights.get(name), w, name);
  assert.ok(ckpt.r.peakBytes.activations < plain.r.peakBytes.activations,
    `activations peak ${ckpt.r.peakBytes.activations} with checkpointing vs ${plain.r.peakBytes.activations}`);
});

test('gradient accumulation over 2 micro-batches of 2 equals one batch of 4', async () => {
  const data = dataset(4, 2);
  const big = await freshModel();
  const r1 = await train(big, options(data, { length: { steps: 1 } }));
  const small = await freshModel();
  const r2 = await train(small, options(data, { length: { epochs: 1 }, batchSize: 2, gradAccum: 2 }));
  assert.equal(r2.steps, 1);
  assert.ok(Math.abs(r1.history[0].loss - r2.history[0].loss) < 1e-6, `${r1.history[0].loss} vs ${r2.history[0].loss}`);
  const a = await params(big);
  const b = await params(small);
  for (const p of big.parameters().filter((q) => q.trainable)) {
    const x = a.get(p.name)!;
    const y = b.get(p.name)!;
    // one AdamW step moves each weight by about lr; summation order may differ in the last bits
    for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i] - y[i]) <= 1e-3 * LR + 1e-7, `${p.name}[${i}] ${x[i]} vs ${y[i]}`);
  }
  big.dispose();
  small.dispose();
});

test('right padding leaves each sequence\'s loss unchanged (the head reads the last real token)', async () => {
  const data = dataset(4, 3);
  const model = await freshModel();
  const perSequence: number[] = [];
  for (let i = 0; i < 4; i++) {
    const one: TokenizedExamples = { ...data, ids: [data.ids[i]], labels: data.labels.subarray(i, i + 1) };
    const h = model.hidden(one.ids[0], 1);
    const lg = model.logits(h, [one.ids[0].length - 1]);
    h.dispose();
    const [a, b] = await lg.read();
    lg.dispose();
    const lse = Math.max(a, b) + Math.log(Math.exp(a - Math.max(a, b)) + Math.exp(b - Math.max(a, b)));
    perSequence.push(lse - (one.labels[0] === 0 ? a : b));
  }
  const r = await train(model, options(data, { length: { steps: 1 } }));
  const mean = perSequence.reduce((s, v) => s + v, 0) / 4;
  assert.ok(Math.abs(r.history[0].loss - mean) < 1e-5, `batch loss ${r.history[0].loss} vs mean of single-sequence losses ${mean}`);
  model.dispose();
});

test('bf16 model: f32 master weights, bf16 copies re-rounded, same first loss as f32', async () => {
  const data = dataset(8, 4);
  const f32 = await freshModel('f32');
  const rf = await train(f32, options(data));
  const bf = await freshModel('bf16');
  const rb = await train(bf, options(data));
  // identical values (bf16-representable weights) and f32 compute: the first loss is the same computation
  assert.equal(rb.history[0].loss, rf.history[0].loss);
  assert.ok(Math.abs(rb.history[1].loss - rf.history[1].loss) < 1e-2, `${rb.history[1].loss} vs ${rf.history[1].loss}`);
  const wf = await params(f32);
  for (const p of bf.parameters().filter((q) => q.trainable)) {
    assert.equal(p.dtype, 'bf16');
    const got = await p.read();
    const want = wf.get(p.name)!;
    // each bf16 weight is the rounding of an f32 master that tracks the f32 run closely
    for (let i = 0; i < got.length; i++) {
      assert.ok(Math.abs(got[i] - roundBf16(want[i])) <= Math.abs(want[i]) * 2 ** -7 + LR, `${p.name}[${i}] ${got[i]} vs ${want[i]}`);
    }
  }
  f32.dispose();
  bf.dispose();
});

test('--trainable all: embedding rows of unseen tokens only decay; head-only keeps every block frozen', async () => {
  const data = dataset(4, 5);
  const model = await freshModel();
  const before = await model.embed_tokens.weight.read();
  await train(model, options(data, { length: { steps: 1 }, trainable: 'all' }));
  const after = await model.embed_tokens.weight.read();
  const seen = new Set(data.ids.flatMap((r) => Array.from(r)));
  const D = model.config.hiddenSize;
  for (const row of [450, 451, 511]) {
    assert.ok(!seen.has(row));
    for (let i = 0; i < D; i++) assert.equal(after[row * D + i], Math.fround(before[row * D + i] * Math.fround(1 - LR * 0.1)), `row ${row}`);
  }
  const moved = [...seen].filter((row) => after.subarray(row * D, (row + 1) * D).some((v, i) => Math.abs(v - before[row * D + i]) > LR / 2));
  assert.equal(moved.length, seen.size, 'every seen token\'s row moved by about lr');

  const headOnly = await freshModel();
  const w0 = await params(headOnly);
  const r = await train(headOnly, options(data, { length: { steps: 1 }, trainable: 'head' }));
  assert.deepEqual(r.trainable.sort(), ['out_head.bias', 'out_head.weight']);
  for (const p of headOnly.parameters().filter((q) => !q.name.startsWith('out_head.'))) assert.deepEqual(await p.read(), w0.get(p.name), p.name);
  model.dispose();
  headOnly.dispose();
});
