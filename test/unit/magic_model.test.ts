// %load_model, %tensors, %memory and %estimate through a Session on the reference model: what they show, what
// they bind, what they allocate (checked against sizes computed here from the config), and their errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { itemBytes } from '../../kernel/notebook/format.js';
import { LlamaModel } from '../../kernel/model/llama.js';
import { ARROW_MIME } from '../../kernel/output/table.js';
import { testGpu } from './helpers/gpu.js';
import { REFERENCE_MODEL } from './helpers/io.js';
import { disposeModel, gpuSession, runCell, runOk } from './helpers/session.js';

// The reference config: vocab 512, width 64, 4 heads x 16 (q 64), 2 KV heads (kv 32), MLP 192, 3 blocks, bf16.
const BLOCK_BYTES = 2 * (64 + 64 * 64 + 32 * 64 + 32 * 64 + 64 * 64 + 64 + 3 * 192 * 64);
const MODEL_BYTES = 2 * (512 * 64) + 3 * BLOCK_BYTES + 2 * 64 + 2 * (512 * 64);

function arrowTable(run: { outputs: { items: { mime: string }[] }[] }) {
  const output = run.outputs.find((o) => o.items.some((i) => i.mime === ARROW_MIME));
  assert.ok(output, 'an Arrow table output');
  return tableFromIPC(itemBytes(output.items.find((i) => i.mime === ARROW_MIME) as Parameters<typeof itemBytes>[0]));
}

test('%load_model binds model and tokenizer, shows a summary; %tensors lists every tensor with dtype, shape, bytes', async () => {
  const s = gpuSession();
  const load = await runOk(s, `%load_model ${REFERENCE_MODEL}`);
  assert.match(load.text, /Loaded .*model_bf16\.safetensors \(safetensors, 30 tensors, [\d.]+ KiB\) in [\d.]+ s \([\d.]+ MB\/s\)/);
  assert.match(load.text, /3 blocks, width 64, 4 heads \/ 2 KV heads.*[\d,]+ parameters in bf16/);
  assert.match(load.text, /Head: language-model head/);
  assert.match(load.text, /tokenizer knows 128,256 tokens but the model only 512/);
  assert.ok(load.events.some((e) => e.kind === 'output' && e.key !== undefined), 'a progress line');
  assert.ok(s.bound('model') instanceof LlamaModel);
  assert.equal((await runOk(s, 'model.config.hiddenSize')).text, '64\n');

  const all = await runOk(s, '%tensors');
  const table = arrowTable(all);
  assert.equal(table.numRows, 30);
  const q = table.toArray().find((r) => r.name === 'model.layers.0.self_attn.q_proj.weight');
  assert.deepEqual([q.dtype, [...q.shape], q.bytes, q.kind, q.layer, q.trainable, q.resident], ['bf16', [64, 64], 8192, 'weights', 'block.0', false, true]);
  assert.match(all.text, /model\.layers\.0\.self_attn\.q_proj\.weight\s+bf16\s+\[64, 64\]\s+8192\s+weights\s+block\.0\s+false\s+true/);
  assert.equal(table.toArray().reduce((sum, r) => sum + r.bytes, 0), MODEL_BYTES);

  assert.deepEqual(arrowTable(await runOk(s, '%tensors *q_proj*')).toArray().map((r) => r.name),
    [0, 1, 2].map((i) => `model.layers.${i}.self_attn.q_proj.weight`));
  assert.deepEqual(arrowTable(await runOk(s, "%tensors 'trf_blocks.1.att.W_?????.weight'")).toArray().map((r) => r.name),
    ['model.layers.1.self_attn.q_proj.weight', 'model.layers.1.self_attn.v_proj.weight'], 'from-scratch names: W_query, W_value');
  const none = await runCell(s, '%tensors nothing.*');
  assert.equal(none.result.error?.name, 'UsageError');
  assert.match(none.result.error?.hint ?? '', /\* matches any characters/);
  const api = await runOk(s, "const list = llmnb.tensors('model.norm.weight'); [list.rows.length, list.bytes]");
  assert.equal(api.text, '[ 1, 128 ]\n');
  disposeModel(s);
});

test('%memory: weights per layer from the allocator, totals, peak and limit; --by-tensor lists tensors', async () => {
  const s = gpuSession();
  await runOk(s, `%load_model ${REFERENCE_MODEL}`);
  const run = await runOk(s, '%memory');
  const rows = arrowTable(run).toArray();
  const weights = Object.fromEntries(rows.map((r) => [r.layer, r.weights]));
  assert.equal(weights['embeddings'], 512 * 64 * 2);
  for (let i = 0; i < 3; i++) assert.equal(weights[`block.${i}`], BLOCK_BYTES);
  assert.equal(weights['final_norm'], 128);
  assert.equal(weights['head'], 512 * 64 * 2);
  assert.deepEqual(Object.keys(rows[0]), ['layer', 'weights', 'grads', 'optimizer', 'activations', 'staging', 'other', 'total']);
  const gpu = await testGpu();
  assert.equal(rows.at(-1).layer, 'total');
  assert.equal(rows.at(-1).total, gpu.allocator.liveBytes, 'the total row is every live byte');
  assert.match(run.text, /live [\d.]+ [KMG]iB, peak [\d.]+ [KMG]iB, limit /);
  assert.match(run.text, /block\.0\s+96\.3 KiB/);

  const byTensor = arrowTable(await runOk(s, '%memory --by-tensor')).toArray();
  const q = byTensor.find((r) => r.tensor === 'model.layers.2.self_attn.q_proj.weight');
  assert.deepEqual([q.layer, q.kind, q.liveBytes, q.buffers], ['block.2', 'weights', 8192, 1]);
  const peak = await runOk(s, '%memory --peak');
  assert.match(peak.text, /each tensor's own peak/);
  disposeModel(s);
});

test('an --empty model allocates nothing; %estimate plans it from shapes and compares with the limit', async () => {
  const s = gpuSession();
  const gpu = await testGpu();
  const before = gpu.allocator.liveBytes;
  const created = await runOk(s, '%load_model llama3-8b --empty');
  assert.match(created.text, /Created an empty model from llama3-8b \(nothing allocated\).*8,030,261,248 parameters in bf16 will take 15\.0 GiB/);
  assert.equal(gpu.allocator.liveBytes, before, 'nothing allocated');
  const { text } = await runOk(s, 'const e = await llmnb.estimate(); [e.totalBytes, e.residentBytes]');
  assert.equal(text, '[ 16060522496, 0 ]\n', 'Llama 3 8B: 8,030,261,248 bf16 parameters');
  const layers = (await runOk(s, 'e.estimate.layers.map((l) => l.layer).join()')).text;
  assert.equal(layers, `'${['embeddings', ...Array.from({ length: 32 }, (_, i) => `block.${i}`), 'final_norm', 'head'].join()}'\n`);
  const limit = gpu.allocator.limitBytes;
  try {
    gpu.allocator.limitBytes = 8 * 2 ** 30;
    const small = await runOk(s, '%estimate');
    assert.match(small.text, /needs 15\.0 GiB but the limit is 8\.00 GiB: does NOT fit \(6\.96 GiB over\)/);
    assert.match(small.text, /block\.31\s+416 MiB\s+416 MiB/);
    gpu.allocator.limitBytes = 20 * 2 ** 30;
    assert.match((await runOk(s, '%estimate')).text, /needs 15\.0 GiB of the 20\.0 GiB limit: fits/);
  } finally {
    gpu.allocator.limitBytes = limit;
  }
  const tensors = arrowTable(await runOk(s, '%tensors model.embed_tokens.weight')).toArray();
  assert.deepEqual([[...tensors[0].shape], tensors[0].resident], [[128256, 4096], false]);
});

test('loading a second model frees the first; --init random is seeded; usage errors', async () => {
  const s = gpuSession();
  const gpu = await testGpu();
  const base = gpu.allocator.snapshot().rows.filter((r) => r.kind === 'weights').reduce((a, r) => a + r.liveBytes, 0);
  await runOk(s, '%load_model tiny --init random --seed 3');
  const first = await runOk(s, 'const a = await model.layers[0].self_attn.q_proj.weight.tensor.readRaw(); a.length');
  assert.equal(first.text, '4096\n');
  const again = await runOk(s, '%load_model tiny --init random --seed 3');
  assert.match(again.text, /^Freed the previous model \(tiny \(random init, seed 3\), [\d.]+ KiB\) before loading\./);
  const weightsNow = gpu.allocator.snapshot().rows.filter((r) => r.kind === 'weights').reduce((a, r) => a + r.liveBytes, 0);
  assert.equal(weightsNow - base, MODEL_BYTES, 'one model resident, not two');
  assert.equal((await runOk(s, 'const b = await model.layers[0].self_attn.q_proj.weight.tensor.readRaw(); a.every((v, i) => v === b[i])')).text, 'true\n');
  await runOk(s, '%load_model tiny --init random --seed 4');
  assert.equal((await runOk(s, 'const c = await model.layers[0].self_attn.q_proj.weight.tensor.readRaw(); a.some((v, i) => v !== c[i])')).text, 'true\n');

  const seedOnly = await runCell(s, '%load_model tiny --seed 1');
  assert.equal(seedOnly.result.error?.name, 'UsageError');
  assert.match(seedOnly.result.error?.message ?? '', /--seed applies to --init random/);
  const noWeights = await runCell(s, '%load_model tiny');
  assert.match(noWeights.result.error?.hint ?? '', /--init random/);
  const unknown = await runCell(s, '%load_model no-such-model');
  assert.match(unknown.result.error?.message ?? '', /no such model file, directory or preset: no-such-model/);
  assert.equal((await runCell(s, '%load_model tiny --dtype f16')).result.error?.message, '%load_model: --dtype must be one of bf16, f32, got "f16"');
  disposeModel(s);
});

test('an interrupted %load_model binds nothing and frees what it had allocated', async () => {
  const s = gpuSession();
  const gpu = await testGpu();
  const before = gpu.allocator.liveBytes;
  const run = await runCell(s, `%load_model ${REFERENCE_MODEL}`, (e) => { if (e.kind === 'output' && e.key) s.interrupt(); });
  assert.equal(run.result.error?.name, 'CancelledError');
  assert.match(run.result.error?.message ?? '', /load interrupted after 1 of 30 tensors/);
  assert.equal(s.bound('model'), undefined);
  assert.equal(gpu.allocator.liveBytes, before);
  assert.equal((await runCell(s, '%tensors')).result.error?.message, 'no model is loaded');
});
