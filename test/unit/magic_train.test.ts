// %train and %eval through a Session on the reference model (with a byte-level tokenizer so text fits its
// 512-token vocabulary): progress, the JSONL log, evaluation, label names, the memory refusal, and interrupts.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { LlamaModel } from '../../kernel/model/llama.js';
import { tempDir } from './helpers/io.js';
import { disposeModel, gpuSession, parameterBytes, referenceModelDir, runCell, runOk } from './helpers/session.js';

/** Texts whose label is whether they mention money; enough rows for a few batches. */
function writeData(dir: string): { train: string; val: string } {
  const rows = (n: number, offset: number) => Array.from({ length: n }, (_, i) => {
    const k = i + offset;
    const spam = k % 2 === 1;
    return `"${spam ? `win ${k} dollars now` : `meeting at ${k} tomorrow`}",${spam ? 'spam' : 'ham'}`;
  });
  const train = path.join(dir, 'train.csv');
  const val = path.join(dir, 'validation.csv');
  fs.writeFileSync(train, ['text,label', ...rows(24, 0)].join('\n'));
  fs.writeFileSync(val, ['text,label', ...rows(6, 100)].join('\n'));
  return { train, val };
}

test('%train: progress, log lines per step and eval, adopted label names, model consistent; %eval confusion matrix', async () => {
  const s = gpuSession();
  const { train, val } = writeData(tempDir());
  const log = path.join(tempDir(), 'log.jsonl');
  await runOk(s, `%load_model ${referenceModelDir()}`);
  await runOk(s, '%replace_head --classes 2');
  const run = await runOk(s, `%train --data ${train} --eval ${val} --epochs 2 --batch 4 --lr 1e-3 --log ${log}`);
  assert.match(run.text, /train\s+100%.*12\/12\s+epoch 2\s+loss [\d.]+\s+acc [\d.]+%\s+\d+ tok\/s/);
  assert.match(run.text, /eval after epoch 1 \(step 6\): loss [\d.]+, accuracy [\d.]+% on 6 rows/);
  assert.match(run.text, /Trained 12 steps in [\d.]+ s .*12 trainable tensors/);
  assert.match(run.text, /Peak GPU memory .* gradients .* optimizer .* activations/);
  const lines = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const steps = lines.filter((l) => 'step' in l && !('eval' in l));
  assert.deepEqual(steps.map((l) => l.step), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  for (const l of steps) for (const k of ['loss', 'lr', 'tokens']) assert.equal(typeof l[k], 'number', k);
  assert.deepEqual(lines.filter((l) => 'eval' in l).map((l) => l.step), [6, 12]);
  const model = s.bound('model') as LlamaModel;
  assert.deepEqual(model.head.kind === 'classifier' && model.head.labels, ['ham', 'spam']);

  const ev = await runOk(s, `%eval --data ${val}`);
  assert.match(ev.text, /true \\ predicted\s+ham\s+spam/);
  assert.match(ev.text, /accuracy [\d.]+% \(\d of 6\), loss [\d.]+/);
  const api = await runOk(s, `const r = await llmnb.evaluate({ data: ${JSON.stringify(val)} }); [r.rows, r.confusion.flat().reduce((a, b) => a + b)]`);
  assert.equal(api.text, '[ 6, 6 ]\n');
  disposeModel(s);
});

test('%train refuses a run that cannot fit, with the breakdown and what would fit, allocating nothing', async () => {
  const s = gpuSession();
  const { train } = writeData(tempDir());
  await runOk(s, `%load_model ${referenceModelDir()}`);
  await runOk(s, '%replace_head --classes 2');
  const model = s.bound('model') as LlamaModel;
  const plan = await runOk(s, '%estimate --batch 4 --max-length 20 --trainable head');
  // head: Linear(64 -> 2) + bias in bf16 = 260 B of weights; f32 gradients 520 B; AdamW master + moments 1560 B
  assert.match(plan.text, /head\s+260 B\s+520 B\s+1\.52 KiB/);
  assert.match(plan.text, /training: 2 trainable tensors .* at batch 4 x 20 tokens/);
  const live = model.gpu.allocator.liveBytes;
  const limit = model.gpu.allocator.limitBytes;
  try {
    await runOk(s, `%device --memory-limit ${live + 2.5 * 2 ** 20}`);
    const r = await runCell(s, `%train --data ${train} --steps 1 --batch 16 --trainable all`);
    assert.equal(r.result.error?.name, 'OutOfMemoryError');
    assert.match(r.result.error?.message ?? '', /needs [\d.]+ [KM]iB but the GPU memory limit is/);
    assert.match(r.result.error?.hint ?? '', /These would fit: .*--trainable head/);
    assert.match(r.result.error?.hint ?? '', /Needed per layer:\n {2}embeddings: weights/);
    assert.equal(model.gpu.allocator.liveBytes, live, 'nothing allocated');
  } finally {
    model.gpu.allocator.limitBytes = limit;
    disposeModel(s);
  }
});

test('an interrupt stops %train between steps with the weights of a completed step', async () => {
  const s = gpuSession();
  const { train } = writeData(tempDir());
  await runOk(s, `%load_model ${referenceModelDir()}`);
  await runOk(s, '%replace_head --classes 2');
  const model = s.bound('model') as LlamaModel;
  let seen = 0;
  const r = await runCell(s, `%train --data ${train} --epochs 3 --batch 4`, (e) => {
    if (e.kind === 'output' && e.key && /train\s+\d+%.*[1-9]\/18/.test(JSON.stringify(e.output)) && ++seen === 1) s.interrupt();
  });
  assert.equal(r.result.error?.name, 'CancelledError');
  assert.match(r.result.error?.message ?? '', /training interrupted after step \d+ of 18: the model holds the weights of step \d+/);
  const snap = model.gpu.allocator.snapshot();
  assert.equal(snap.kinds.grads.liveBytes + snap.kinds.optimizer.liveBytes, 0, 'training state freed');
  const before = await parameterBytes(model);
  await runOk(s, `%eval --data ${train}`); // the model still runs
  assert.deepEqual(await parameterBytes(model), before);
  disposeModel(s);
});
