import { test } from 'node:test';
import assert from 'node:assert/strict';
import { presetConfig } from '../../kernel/model/presets.js';
import { decodeWeightBytes, fitLine, gemvBoundTokensPerSecond, medianPairedRatio, trainingFlopRatio } from '../../bench/stats.js';

const close = (got: number, want: number, tol = 1e-9) => assert.ok(Math.abs(got - want) <= tol, `${got} != ${want}`);

test('fitLine recovers a line exactly', () => {
  const xs = [128, 512, 1024, 2048];
  const f = fitLine(xs, xs.map((x) => 40 + 0.01 * x));
  close(f.intercept, 40);
  close(f.slope, 0.01);
  close(f.r2, 1);
  close(f.maxRelDeviation, 0);
});

test('fitLine on scattered points matches the closed-form least squares', () => {
  // (0,1), (1,2), (2,4): slope 3/2, intercept 5/6, residuals 1/6, -1/3, 1/6; SSE 1/6, SYY 42/9.
  const f = fitLine([0, 1, 2], [1, 2, 4]);
  close(f.slope, 1.5);
  close(f.intercept, 5 / 6);
  close(f.r2, 1 - (1 / 6) / (42 / 9));
  close(f.maxRelDeviation, (1 / 6) / (5 / 6)); // the first point, where the line is lowest
});

test('fitLine refuses fewer than two points or a single x', () => {
  assert.throws(() => fitLine([1], [1]), /two or more/);
  assert.throws(() => fitLine([3, 3], [1, 2]), /distinct x/);
});

test('decode bytes: every block weight, the final norm, the head and one embedding row (tiny preset, bf16)', () => {
  // tiny: D 64, MLP 192, 4 heads / 2 KV heads of 16, vocab 512, 3 blocks, untied head.
  const perBlock = 2 * 64 + 64 * 64 + 2 * (32 * 64) + 64 * 64 + 3 * 64 * 192;
  const b = decodeWeightBytes(presetConfig('tiny'), 2);
  assert.equal(b.blocks, 3 * perBlock * 2);
  assert.equal(b.head, 512 * 64 * 2);
  assert.equal(b.finalNorm, 64 * 2);
  assert.equal(b.embeddingRow, 64 * 2);
  assert.equal(b.total, b.blocks + b.head + b.finalNorm + b.embeddingRow);
});

test('decode bytes of Llama 3 8B with 2 blocks: 218,112,000 parameters per block, a 128256 x 4096 head', () => {
  const b = decodeWeightBytes({ ...presetConfig('llama3-8b'), numLayers: 2 }, 2);
  assert.equal(b.blocks, 2 * 218_112_000 * 2);
  assert.equal(b.head, 128256 * 4096 * 2);
});

test('a tied head is read as the [vocab, hidden] embedding matrix', () => {
  const demo = presetConfig('demo');
  assert.equal(demo.tieWordEmbeddings, true);
  assert.equal(decodeWeightBytes(demo, 2).head, demo.vocabSize * demo.hiddenSize * 2);
});

test('GEMV-bound rate and the training FLOP ratio', () => {
  close(gemvBoundTokensPerSecond(1.5e9, 3e8), 5);
  close(trainingFlopRatio(2, 1), 2);
  close(trainingFlopRatio(4, 1), 1.5);
  close(trainingFlopRatio(32, 32), 3);
  assert.throws(() => trainingFlopRatio(2, 3), /trainable/);
});

test('medianPairedRatio: the median of the pairs\' ratios, not the best of one list over the best of the other', () => {
  // Steps and forwards timed in pairs; the quiet forward (38.6) came with a slow step (102.1). Best over best would
  // give 94.5 / 38.6 = 2.45.
  const steps = [94.5, 99.9, 102.1];
  const forwards = [44.0, 46.4, 38.6];
  close(medianPairedRatio(steps, forwards), 99.9 / 46.4);
  // Pairing matters: the same numbers in another order give another median.
  close(medianPairedRatio([102.1, 99.9, 94.5], forwards), 102.1 / 44.0);
  close(medianPairedRatio([3, 8, 10, 1], [1, 2, 2, 1]), (3 + 4) / 2);
  close(medianPairedRatio([7], [2]), 3.5);
  assert.throws(() => medianPairedRatio([1, 2], [1]), /equal, non-empty/);
  assert.throws(() => medianPairedRatio([], []), /equal, non-empty/);
});
