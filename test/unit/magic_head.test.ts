// %replace_head (a classifier in the model's dtype, the LM head freed), %classify (the head's softmax at the last
// token, checked against the PyTorch chapter-6 reference logits) and %generate (streamed, greedy = argmax of the
// full forward, interruptible) through a Session.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { classifyIds, softmax } from '../../kernel/model/classify.js';
import { outputText } from '../../kernel/notebook/format.js';
import type { Session } from '../../kernel/session.js';
import { argmax } from '../../kernel/model/sampling.js';
import { REFERENCE_DIR, REFERENCE_MODEL } from './helpers/io.js';
import { maxAbs, maxAbsDiff } from './helpers/compare.js';
import { disposeModel, gpuSession, referenceModelDir, runCell, runOk } from './helpers/session.js';

interface FinetuneReference {
  batch: { input_ids: number[][] };
  runs: Record<string, { steps: { step: number; last_token_logits: number[][] }[] }>;
}
const finetune = JSON.parse(fs.readFileSync(path.join(REFERENCE_DIR, 'finetune_reference.json'), 'utf8')) as FinetuneReference;

/** Runs a cell ending in `JSON.stringify(...)` and parses the value it shows (a string, shown in single quotes). */
async function jsonValue(s: Session, source: string): Promise<unknown> {
  const run = await runOk(s, source);
  return JSON.parse(outputText(run.outputs.at(-1)!).replace(/^'|'$/g, ''));
}

test('%replace_head: the head takes the model dtype (bf16), the LM head is freed, --dtype f32 names both dtypes, --no-bias', async () => {
  const s = gpuSession();
  await runOk(s, `%load_model ${REFERENCE_MODEL}`);
  const wrong = await runCell(s, '%replace_head --classes 2 --dtype f32');
  assert.equal(wrong.result.error?.name, 'DtypeMismatchError');
  assert.match(wrong.result.error?.message ?? '', /the head would be f32 but the model is bf16/);
  assert.match(wrong.result.error?.hint ?? '', /--dtype f32/);
  assert.equal(s.bound('model')!.head.kind, 'lm', 'a refused replacement changes nothing');

  const run = await runOk(s, '%replace_head --classes 2 --labels ham,spam');
  assert.match(run.text, /Removed lm_head\.weight \[512,64\] bf16; freed 64\.0 KiB\./);
  assert.match(run.text, /New head: classifier Linear\(64 -> 2, bias\) in bf16 .*labels: ham, spam, initialized uniform/);
  const model = s.bound('model')!;
  assert.equal(model.parameter('lm_head.weight'), undefined);
  assert.deepEqual([model.parameter('out_head.weight')?.dtype, model.parameter('out_head.weight')?.shape], ['bf16', [2, 64]]);
  assert.match((await runOk(s, '%tensors out_head.*')).text, /out_head\.weight\s+bf16\s+\[2, 64\]\s+256\s+weights\s+head[\s\S]*out_head\.bias\s+bf16\s+\[2\]\s+4/);
  const gen = await runCell(s, '%generate "hi"');
  assert.match(gen.result.error?.message ?? '', /classification head, which cannot generate text/);

  await runOk(s, '%replace_head --classes 4 --no-bias');
  assert.equal(model.parameter('out_head.bias'), undefined);
  assert.deepEqual(model.head, { kind: 'classifier', classes: 4, labels: ['0', '1', '2', '3'], bias: false });
  const labels = await runCell(s, '%replace_head --classes 2 --labels a,b,c');
  assert.match(labels.result.error?.message ?? '', /--labels must name 2 distinct classes/);
  disposeModel(s);
});

test('%classify: softmax of the head at the last token; logits match PyTorch\'s chapter-6 run (f32)', async () => {
  const s = gpuSession({ cwd: referenceModelDir() });
  await runOk(s, '%load_model . --dtype f32');
  await runOk(s, `%replace_head --classes 2 --labels ham,spam --init ${path.resolve(REFERENCE_DIR, 'classifier_f32.safetensors')}`);
  const model = s.bound('model')!;
  const want = finetune.runs['f32_lr5e-5'].steps[0].last_token_logits;
  const bound = 2e-4 * Math.max(...want.map(maxAbs));
  for (const [i, ids] of finetune.batch.input_ids.entries()) {
    const got = await classifyIds(model, ids);
    assert.ok(maxAbsDiff(got.logits, want[i]).max <= bound, `row ${i}: ${got.logits} vs ${want[i]}`);
    assert.equal(got.label, ['ham', 'spam'][argmax(want[i])]);
  }

  const run = await runOk(s, '%classify "Win a free prize now"');
  const [label, tokens, logits, probabilities] = await jsonValue(s, 'const c = await llmnb.classify("Win a free prize now"); JSON.stringify([c.label, c.tokens, [...c.logits], c.probabilities])') as
    [string, number, number[], { label: string; probability: number }[]];
  assert.equal(tokens, 1 + 'Win a free prize now'.length, 'BOS + one token per byte');
  const p = softmax(logits);
  assert.deepEqual(probabilities.map((x) => x.label), ['ham', 'spam']);
  probabilities.forEach((x, i) => assert.ok(Math.abs(x.probability - p[i]) < 1e-12));
  assert.equal(label, p[1] > p[0] ? 'spam' : 'ham');
  assert.match(run.text, new RegExp(`^${label}  \\(21 tokens\\)\\n  ham   ${p[0].toFixed(4)}\\n  spam  ${p[1].toFixed(4)}`));

  const long = await runOk(s, `%classify "${'x'.repeat(100)}"`);
  assert.match(long.text, /\(64 tokens, truncated to the 64-token context\)/);
  await runOk(s, '%load_model . --dtype f32');
  assert.match((await runCell(s, '%classify "hi"')).result.error?.hint ?? '', /%replace_head --classes N/);
  disposeModel(s);
});

test('%generate streams the continuation: greedy tokens are the argmax of the full forward; tokens/s at the end', async () => {
  const s = gpuSession({ cwd: referenceModelDir() });
  await runOk(s, '%load_model .');
  const run = await runOk(s, '%generate "Hello" --max-tokens 6');
  const ids = await jsonValue(s, 'const g = await llmnb.generate("Hello", { maxTokens: 6 }); JSON.stringify(g.ids)') as number[];
  assert.equal(ids.length, 6);
  const model = s.bound('model')!;
  const tokenizer = s.bound('tokenizer')!;
  const context = tokenizer.encode('Hello');
  for (const id of ids) {
    const rows = await model.forwardLogits(context);
    assert.equal(id, argmax(rows.at(-1)!));
    context.push(id);
  }
  const streamed = run.events.filter((e) => e.kind === 'stream').map((e) => (e as { text: string }).text).join('');
  assert.equal(streamed, `Hello${tokenizer.decode(ids)}\n`);
  assert.match(run.text, /6 tokens in [\d.]+ s \([\d.]+ tokens\/s\); stopped: max tokens/);

  const sampled = await runOk(s, 'const a = await llmnb.generate("Hi", { maxTokens: 4, temperature: 1, topK: 20, seed: 7 }); const b = await llmnb.generate("Hi", { maxTokens: 4, temperature: 1, topK: 20, seed: 7 }); a.text === b.text');
  assert.match(sampled.text, /true\n$/);
  const bad = await runCell(s, '%generate "x" --top-p 2');
  assert.equal(bad.result.error?.name, 'UsageError');
  disposeModel(s);
});

test('an interrupted %generate stops between tokens and says so', async () => {
  const s = gpuSession({ cwd: referenceModelDir(), writer: { streamFlushMs: 0 } });
  await runOk(s, '%load_model .');
  const run = await runCell(s, '%generate "Hello" --max-tokens 50', (e) => {
    if (e.kind === 'stream' && e.text !== 'Hello') s.interrupt();
  });
  assert.equal(run.result.error?.name, 'CancelledError');
  const m = /(\d+) tokens in [\d.]+ s \([\d.]+ tokens\/s\); stopped: interrupted/.exec(run.text);
  assert.ok(m && Number(m[1]) >= 1 && Number(m[1]) < 50, run.text);
  disposeModel(s);
});
