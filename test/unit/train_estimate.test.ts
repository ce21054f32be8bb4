// %estimate's training plan against what a training step really allocates (allocator peaks per kind).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MEMORY_KINDS, type MemoryKind } from '../../kernel/gpu/allocator.js';
import { replaceHead } from '../../kernel/model/head.js';
import { loadModel } from '../../kernel/model/load.js';
import { ADAMW_DEFAULTS } from '../../kernel/train/adamw.js';
import { trainingEstimate } from '../../kernel/train/estimate.js';
import { train } from '../../kernel/train/trainer.js';
import type { TrainableSpec } from '../../kernel/train/trainable.js';
import { testGpu } from './helpers/gpu.js';
import { REFERENCE_MODEL } from './helpers/io.js';

const cases: { B: number; T: number; trainable: TrainableSpec; gradCheckpoint: boolean }[] = [
  { B: 4, T: 14, trainable: 'last-block', gradCheckpoint: false },
  { B: 8, T: 40, trainable: 'all', gradCheckpoint: true },
];

for (const c of cases) {
  test(`estimate for batch ${c.B} x ${c.T}, --trainable ${JSON.stringify(c.trainable)}${c.gradCheckpoint ? ', checkpointing' : ''}: exact state, activations an upper bound within 25%`, async () => {
    const { model } = await loadModel(await testGpu(), REFERENCE_MODEL);
    await replaceHead(model, { classes: 2 });
    const ids = Array.from({ length: c.B }, (_, b) => Uint32Array.from({ length: c.T }, (_, i) => (b * 31 + i * 7) % 512));
    const r = await train(model, {
      data: { ids, labels: Uint32Array.from({ length: c.B }, (_, i) => i % 2), labelNames: ['0', '1'], maxLength: c.T, truncated: 0, longest: c.T },
      length: { steps: 1 }, batchSize: c.B, gradAccum: 1, trainable: c.trainable, optimizer: ADAMW_DEFAULTS,
      schedule: { kind: 'constant', lr: 1e-4 }, clipNorm: null, shuffle: false, seed: 0, gradCheckpoint: c.gradCheckpoint, padId: 0,
    });
    const e = trainingEstimate(model, { batch: c.B, seqLen: c.T, trainable: c.trainable, gradCheckpoint: c.gradCheckpoint });
    const est = Object.fromEntries(MEMORY_KINDS.map((k) => [k, e.layers.reduce((s, l) => s + l.bytes[k], 0)])) as Record<MemoryKind, number>;
    assert.equal(est.grads, r.peakBytes.grads);
    assert.equal(est.optimizer, r.peakBytes.optimizer);
    assert.ok(est.activations >= r.peakBytes.activations, `estimate ${est.activations} < measured ${r.peakBytes.activations}`);
    assert.ok(est.activations <= 1.25 * r.peakBytes.activations, `estimate ${est.activations} vs measured ${r.peakBytes.activations}`);
    model.dispose();
  });
}
