// %save: safetensors with HF names and stored dtypes, bit-identical to what was loaded, atomic (an interrupted
// save leaves no file), folders with config.json that %load_model reads back, a classifier head with its labels,
// --trainable-only; and %load_inplace of the saved file round-trips bit for bit.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { openCheckpoint } from '../../kernel/io/checkpoint.js';
import { REFERENCE_MODEL, splitSafetensors, tempDir } from './helpers/io.js';
import { disposeModel, gpuSession, parameterBytes, runCell, runOk } from './helpers/session.js';

const reference = splitSafetensors(REFERENCE_MODEL);

/** Every tensor of a saved file against the reference file's bytes (parsed here, not by the reader under test). */
function assertSameTensors(file: string, names = Object.keys(reference.header).filter((n) => n !== '__metadata__')): void {
  const saved = splitSafetensors(file);
  assert.deepEqual(Object.keys(saved.header).filter((n) => n !== '__metadata__').sort(), [...names].sort());
  for (const name of names) {
    const want = reference.header[name];
    const got = saved.header[name];
    assert.deepEqual([got.dtype, got.shape], [want.dtype, want.shape], name);
    assert.ok(saved.data.subarray(...got.data_offsets).equals(reference.data.subarray(...want.data_offsets)), `${name}: bytes`);
  }
}

test('%save writes every tensor bit for bit under its HF name; %load_inplace of the file restores a model bit for bit', async () => {
  const dir = tempDir();
  const s = gpuSession({ cwd: dir });
  await runOk(s, `%load_model ${path.resolve(REFERENCE_MODEL)}`);
  const original = await parameterBytes(s.bound('model')!);
  const saved = await runOk(s, '%save ./copy.safetensors');
  assert.match(saved.text, /Saved 30 tensors \(417 KiB\) to .*copy\.safetensors in [\d.]+ s \([\d.]+ MB\/s\)\. Load it into a model of the same shape with %load_inplace/);
  assertSameTensors(path.join(dir, 'copy.safetensors'));
  assert.deepEqual(fs.readdirSync(dir), ['copy.safetensors'], 'no temporary file left');

  await runOk(s, '%load_model tiny --init random --seed 9');
  const random = await parameterBytes(s.bound('model')!);
  assert.ok([...random].some(([name, b]) => !Buffer.from(b).equals(original.get(name)!)), 'random weights differ');
  const loaded = await runOk(s, '%load_inplace copy.safetensors');
  assert.match(loaded.text, /Loaded 30 tensors \(417 KiB\) from .*copy\.safetensors \(safetensors\) into the live model/);
  assert.match(loaded.text, /kept \(not in the file\): none/);
  const restored = await parameterBytes(s.bound('model')!);
  for (const [name, bytes] of original) assert.ok(Buffer.from(restored.get(name)!).equals(bytes), name);
  disposeModel(s);
});

test('a folder gets model.safetensors + config.json and loads again with %load_model; f32 models save F32', async () => {
  const dir = tempDir();
  const s = gpuSession({ cwd: dir });
  await runOk(s, `%load_model ${path.resolve(REFERENCE_MODEL)} --dtype f32`);
  const before = await parameterBytes(s.bound('model')!);
  const saved = await runOk(s, '%save out/f32');
  assert.match(saved.text, /with .*config\.json: %load_model on the folder loads it again/);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'out/f32')).sort(), ['config.json', 'model.safetensors']);
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'out/f32/config.json'), 'utf8'));
  assert.deepEqual([config.torch_dtype, config.hidden_size, config.num_key_value_heads, config.rope_scaling.factor, config.llmnb_head],
    ['float32', 64, 2, 32, undefined]);
  const file = splitSafetensors(path.join(dir, 'out/f32/model.safetensors'));
  assert.equal(file.header['model.layers.0.self_attn.q_proj.weight'].dtype, 'F32');
  await runOk(s, '%load_model out/f32');
  const after = await parameterBytes(s.bound('model')!);
  for (const [name, bytes] of before) assert.ok(Buffer.from(after.get(name)!).equals(bytes), name);
  disposeModel(s);
});

test('a classifier head saves as out_head.* with its labels and comes back as the same head from the folder', async () => {
  const dir = tempDir();
  const s = gpuSession({ cwd: dir });
  await runOk(s, `%load_model ${path.resolve(REFERENCE_MODEL)}`);
  await runOk(s, '%replace_head --classes 3 --labels ham,spam,eggs --seed 5');
  const before = await parameterBytes(s.bound('model')!);
  await runOk(s, '%save clf/');
  const ckpt = await openCheckpoint(path.join(dir, 'clf/model.safetensors'));
  try {
    assert.deepEqual(ckpt.tensors.get('out_head.weight')?.shape, [3, 64]);
    assert.deepEqual(ckpt.tensors.get('out_head.bias')?.shape, [3]);
    assert.equal(ckpt.tensors.has('lm_head.weight'), false);
    assert.deepEqual(JSON.parse(ckpt.metadata.llmnb_head), { classes: 3, labels: ['ham', 'spam', 'eggs'], bias: true });
  } finally {
    ckpt.close();
  }
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'clf/config.json'), 'utf8')).llmnb_head, { classes: 3, labels: ['ham', 'spam', 'eggs'], bias: true });
  const reloaded = await runOk(s, '%load_model clf');
  assert.match(reloaded.text, /Head: classifier Linear\(64 -> 3, bias\) in bf16 .*labels: ham, spam, eggs/);
  const after = await parameterBytes(s.bound('model')!);
  assert.deepEqual([...after.keys()], [...before.keys()]);
  for (const [name, bytes] of before) assert.ok(Buffer.from(after.get(name)!).equals(bytes), name);

  // Without config.json, the safetensors metadata carries the labels.
  fs.rmSync(path.join(dir, 'clf/config.json'));
  fs.copyFileSync(path.join(path.resolve(REFERENCE_MODEL), '../config.json'), path.join(dir, 'clf/config.json'));
  assert.match((await runOk(s, '%load_model clf/model.safetensors')).text, /labels: ham, spam, eggs/);
  disposeModel(s);
});

test('--trainable-only writes the trainable tensors; a trailing-slash folder gets trainable.safetensors alone', async () => {
  const dir = tempDir();
  const s = gpuSession({ cwd: dir });
  await runOk(s, `%load_model ${path.resolve(REFERENCE_MODEL)}`);
  const none = await runCell(s, '%save t.safetensors --trainable-only');
  assert.match(none.result.error?.message ?? '', /no parameter is trainable/);
  await runOk(s, "for (const p of model.parameters()) p.trainable = p.name.startsWith('model.layers.2.') || p.name === 'model.norm.weight'");
  await runOk(s, '%save delta/ --trainable-only');
  assert.deepEqual(fs.readdirSync(path.join(dir, 'delta')), ['trainable.safetensors']);
  const names = Object.keys(reference.header).filter((n) => n.startsWith('model.layers.2.') || n === 'model.norm.weight');
  assert.equal(names.length, 10);
  assertSameTensors(path.join(dir, 'delta/trainable.safetensors'), names);
  const partial = await runOk(s, '%load_inplace delta/trainable.safetensors --partial');
  assert.match(partial.text, /Loaded 10 tensors/);
  assert.equal((await runCell(s, '%load_inplace delta/trainable.safetensors')).result.error?.name, 'MissingTensorError');
  disposeModel(s);
});

test('an interrupted save leaves no file; an empty model or a .pth name is refused', async () => {
  const dir = tempDir();
  const s = gpuSession({ cwd: dir });
  await runOk(s, `%load_model ${path.resolve(REFERENCE_MODEL)}`);
  fs.writeFileSync(path.join(dir, 'keep.safetensors'), 'previous contents');
  const run = await runCell(s, '%save keep.safetensors', (e) => { if (e.kind === 'output' && e.key) s.interrupt(); });
  assert.equal(run.result.error?.name, 'CancelledError');
  assert.match(run.result.error?.message ?? '', /save interrupted after 1 of 30 tensors; nothing was written to .*keep\.safetensors/);
  assert.deepEqual(fs.readdirSync(dir), ['keep.safetensors'], 'no temporary file');
  assert.equal(fs.readFileSync(path.join(dir, 'keep.safetensors'), 'utf8'), 'previous contents');

  const pth = await runCell(s, '%save model.pth');
  assert.equal(pth.result.error?.name, 'UsageError');
  assert.match(pth.result.error?.hint ?? '', /\*\.safetensors/);
  await runOk(s, '%load_model tiny --empty');
  const empty = await runCell(s, '%save e.safetensors');
  assert.match(empty.result.error?.message ?? '', /30 of 30 tensors hold no values \(an empty model\)/);
  assert.deepEqual(fs.readdirSync(dir), ['keep.safetensors']);
  assert.equal((await runCell(s, 'await llmnb.save("x.safetensors")')).result.error?.name, 'UsageError');
  disposeModel(s);
});
