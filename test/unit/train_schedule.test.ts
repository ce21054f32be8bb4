import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSchedule, learningRate, type LrSchedule } from '../../kernel/train/schedule.js';

test('constant schedule', () => {
  const s: LrSchedule = { kind: 'constant', lr: 5e-5 };
  checkSchedule(s);
  for (const step of [0, 1, 1000]) assert.equal(learningRate(s, step), 5e-5);
});

test('warmup + cosine: appendix D values (15 epochs x 9 batches, 20% warmup)', () => {
  // Appendix D's loop: total 135 steps, warmup int(0.2 * 135) = 27, initial 1e-4, peak 0.01, min 0.1 * initial.
  const s: LrSchedule = { kind: 'warmup-cosine', initialLr: 1e-4, peakLr: 0.01, minLr: 1e-5, warmupSteps: 27, totalSteps: 135 };
  checkSchedule(s);
  const inc = (0.01 - 1e-4) / 27;
  assert.equal(learningRate(s, 0), 1e-4, 'first step at the initial rate');
  assert.equal(learningRate(s, 10), 1e-4 + 10 * inc);
  assert.ok(learningRate(s, 26) < 0.01);
  assert.equal(learningRate(s, 27), 0.01, 'peak right after warmup');
  // Halfway through the decay, cos(pi/2) = 0: the midpoint of peak and min.
  assert.ok(Math.abs(learningRate(s, 27 + 54) - (1e-5 + 0.01) / 2) < 1e-15);
  // The last step (134) is one step short of the end of the cosine; only s = total reaches min.
  const last = 1e-5 + (0.01 - 1e-5) * 0.5 * (1 + Math.cos((Math.PI * 107) / 108));
  assert.equal(learningRate(s, 134), last);
  assert.equal(learningRate(s, 135), 1e-5);
  assert.equal(learningRate(s, 500), 1e-5, 'stays at min past the end');
  for (let k = 28; k < 135; k++) assert.ok(learningRate(s, k) < learningRate(s, k - 1), `decreasing at ${k}`);
});

test('warmup-cosine edge cases: no warmup, warmup = total, min = peak', () => {
  const noWarmup: LrSchedule = { kind: 'warmup-cosine', initialLr: 0, peakLr: 1, minLr: 0, warmupSteps: 0, totalSteps: 4 };
  assert.deepEqual([0, 1, 2, 3, 4].map((k) => learningRate(noWarmup, k)).map((x) => Number(x.toFixed(12))), [1, 0.853553390593, 0.5, 0.146446609407, 0]);
  const allWarmup: LrSchedule = { kind: 'warmup-cosine', initialLr: 0, peakLr: 1, minLr: 0, warmupSteps: 4, totalSteps: 4 };
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((k) => learningRate(allWarmup, k)), [0, 0.25, 0.5, 0.75, 1, 0]);
  const flat: LrSchedule = { kind: 'warmup-cosine', initialLr: 0, peakLr: 2e-5, minLr: 2e-5, warmupSteps: 2, totalSteps: 10 };
  assert.deepEqual([0, 1, 2, 5, 9].map((k) => learningRate(flat, k)), [0, 1e-5, 2e-5, 2e-5, 2e-5]);
});

test('schedules reject bad values', () => {
  assert.throws(() => checkSchedule({ kind: 'constant', lr: -1 }), { name: 'UsageError' });
  assert.throws(() => checkSchedule({ kind: 'constant', lr: NaN }), { name: 'UsageError' });
  const ok = { kind: 'warmup-cosine', initialLr: 0, peakLr: 1e-4, minLr: 0, warmupSteps: 2, totalSteps: 10 } as const;
  assert.throws(() => checkSchedule({ ...ok, warmupSteps: 11 }), /warmup steps must be an integer in \[0, 10\]/);
  assert.throws(() => checkSchedule({ ...ok, totalSteps: 0, warmupSteps: 0 }), /total steps/);
  assert.throws(() => learningRate(ok, -1), RangeError);
});
