// The chapter-6 recipe against PyTorch: the reference's f32 run (head from classifier_f32.safetensors, the
// batch of finetune_reference.json, 3 AdamW steps at lr 5e-5, weight decay 0.1, no shuffling).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { before, test } from 'node:test';
import { openCheckpoint } from '../../kernel/io/checkpoint.js';
import { canonicalName } from '../../kernel/io/names.js';
import { replaceHead } from '../../kernel/model/head.js';
import type { LlamaModel } from '../../kernel/model/llama.js';
import { loadModel } from '../../kernel/model/load.js';
import { ADAMW_DEFAULTS } from '../../kernel/train/adamw.js';
import type { TokenizedExamples } from '../../kernel/train/batches.js';
import { train, type TrainReport } from '../../kernel/train/trainer.js';
import { testGpu } from './helpers/gpu.js';
import { entryBytes, REFERENCE_DIR, REFERENCE_MODEL } from './helpers/io.js';

interface FinetuneRef {
  batch: { input_ids: number[][]; labels: number[] };
  runs: { 'f32_lr5e-5': { lr: number; steps: { step: number; loss: number; grad_l2_norms?: Record<string, number> }[] } };
}

const ref: FinetuneRef = JSON.parse(fs.readFileSync(`${REFERENCE_DIR}/finetune_reference.json`, 'utf8'));
const run = ref.runs['f32_lr5e-5'];
let model: LlamaModel;
let initial: Map<string, Float32Array>;
let report: TrainReport;

async function readCheckpoint(file: string): Promise<Map<string, Float32Array>> {
  const ckpt = await openCheckpoint(file);
  const out = new Map<string, Float32Array>();
  for (const e of ckpt.tensors.values()) {
    assert.equal(e.dtype, 'F32');
    const b = await entryBytes(e);
    out.set(canonicalName(e.name)!, new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4).slice());
  }
  ckpt.close();
  return out;
}

before(async () => {
  const gpu = await testGpu();
  model = (await loadModel(gpu, REFERENCE_MODEL, { dtype: 'f32' })).model;
  await replaceHead(model, { classes: 2, init: `${REFERENCE_DIR}/classifier_f32.safetensors` });
  initial = new Map();
  for (const p of model.parameters()) initial.set(p.name, await p.read());
  const data: TokenizedExamples = {
    ids: ref.batch.input_ids.map((r) => Uint32Array.from(r)), labels: Uint32Array.from(ref.batch.labels),
    labelNames: ['0', '1'], maxLength: 12, truncated: 0, longest: 12,
  };
  report = await train(model, {
    data, length: { steps: 3 }, batchSize: 4, gradAccum: 1, trainable: 'last-block',
    optimizer: { ...ADAMW_DEFAULTS, weightDecay: 0.1 }, schedule: { kind: 'constant', lr: run.lr }, clipNorm: null,
    shuffle: false, seed: 0, gradCheckpoint: false, padId: 0, gradNormSteps: [1],
  });
});

test('per-step losses match PyTorch within 1e-4', () => {
  assert.equal(report.history.length, 3);
  run.steps.forEach((s, i) => assert.ok(Math.abs(report.history[i].loss - s.loss) <= 1e-4, `step ${s.step}: ${report.history[i].loss} vs ${s.loss}`));
});

test('step-1 gradient norms match PyTorch within 1e-3 relative', () => {
  const want = run.steps[0].grad_l2_norms!;
  const got = report.history[0].gradNorms!;
  assert.equal(Object.keys(got).length, 12);
  for (const [name, v] of Object.entries(want)) {
    const g = got[canonicalName(name)!];
    assert.ok(Math.abs(g - v) <= 1e-3 * v, `${name}: ${g} vs ${v}`);
  }
});

test('the 12 trainable tensors after step 3 satisfy the per-tensor rule', async () => {
  const want = await readCheckpoint(`${REFERENCE_DIR}/finetuned_f32_lr5e-5.safetensors`);
  assert.equal(want.size, 12);
  const lr = run.lr;
  for (const [name, ref3] of want) {
    const p = model.parameter(name)!;
    assert.ok(p.trainable, `${name} is trainable`);
    const got = await p.read();
    const init = initial.get(p.name)!;
    let close = 0;
    let diff2 = 0;
    let move2 = 0;
    for (let i = 0; i < got.length; i++) {
      const d = Math.abs(got[i] - ref3[i]);
      assert.ok(d <= lr, `${name}[${i}]: |${got[i]} - ${ref3[i]}| > lr`);
      if (d <= 0.05 * lr) close++;
      diff2 += d * d;
      move2 += (ref3[i] - init[i]) ** 2;
    }
    assert.ok(close >= 0.995 * got.length, `${name}: ${close}/${got.length} within 0.05 lr`);
    assert.ok(Math.sqrt(diff2) <= 5e-3 * Math.sqrt(move2), `${name}: ||p - ref|| ${Math.sqrt(diff2)} vs ||ref - init|| ${Math.sqrt(move2)}`);
  }
});

test('frozen tensors are bit-identical after training', async () => {
  for (const p of model.parameters()) {
    if (p.trainable) continue;
    assert.deepEqual(await p.read(), initial.get(p.name), p.name);
  }
});

test('no gradient or optimizer memory for frozen tensors, and none left after training', () => {
  const trainable = new Set(model.parameters().filter((p) => p.trainable).map((p) => p.name));
  const snap = model.gpu.allocator.snapshot();
  // per-parameter state lives in the parameter's layer; 'runtime' holds the gradient-norm workspace
  const stateRows = snap.rows.filter((r) => (r.kind === 'grads' || r.kind === 'optimizer') && r.layer !== 'runtime');
  assert.equal(stateRows.length, 12 * 3, 'a gradient and two moments per trainable tensor (f32 parameters are their own master)');
  for (const r of stateRows) {
    assert.ok(trainable.has(r.tensor.split(':')[0]), `${r.kind} memory for ${r.tensor}`);
    assert.equal(r.liveBytes, 0, `${r.tensor} freed after training`);
  }
  assert.equal(snap.kinds.grads.liveBytes + snap.kinds.optimizer.liveBytes, 0);
});
