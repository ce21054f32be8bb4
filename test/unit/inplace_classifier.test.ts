// Acceptance (in-place loading issue): a chapter-6 classifier checkpoint saved by PyTorch with LLMs-from-scratch
// names (review_classifier.pth, bf16) loads in place into a model whose head was replaced, and its logits equal bit
// for bit those of the same weights loaded from safetensors: the reference model + classifier.safetensors as the
// head's init, and the model saved with %save to a folder and loaded back with %load_model.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { LlamaModel } from '../../kernel/model/llama.js';
import { PTH_DIR, REFERENCE_DIR, REFERENCE_MODEL, tempDir } from './helpers/io.js';
import { disposeModel, gpuSession, parameterBytes, runOk } from './helpers/session.js';

const batch = (JSON.parse(fs.readFileSync(path.join(REFERENCE_DIR, 'finetune_reference.json'), 'utf8')) as { batch: { input_ids: number[][] } }).batch.input_ids;

/** The classifier logits of every position of every batch row, as raw f32 bits. */
async function logitBits(model: LlamaModel): Promise<Uint32Array[]> {
  const out: Uint32Array[] = [];
  for (const ids of batch) for (const row of await model.forwardLogits(ids)) out.push(new Uint32Array(row.buffer.slice(row.byteOffset, row.byteOffset + row.byteLength)));
  return out;
}

test('review_classifier.pth loads in place into a replaced head; logits equal the safetensors paths bit for bit', async () => {
  const dir = tempDir();
  const pth = gpuSession({ cwd: dir });
  await runOk(pth, `%load_model ${path.resolve(REFERENCE_MODEL)}`);
  await runOk(pth, '%replace_head --classes 2 --labels ham,spam --seed 11');
  const report = await runOk(pth, `%load_inplace ${path.resolve(PTH_DIR, 'review_classifier.pth')}`);
  assert.match(report.text, /Loaded 31 tensors \([\d.]+ KiB\) from .*review_classifier\.pth \(pth\) into the live model/);
  assert.match(report.text, /kept \(not in the file\): none/);
  const fromPth = await logitBits(pth.bound('model')!);
  assert.equal(fromPth[0].length, 2, 'two classes');

  const st = gpuSession();
  await runOk(st, `%load_model ${REFERENCE_MODEL}`);
  await runOk(st, `%replace_head --classes 2 --labels ham,spam --init ${path.join(REFERENCE_DIR, 'classifier.safetensors')}`);
  assert.deepEqual(await logitBits(st.bound('model')!), fromPth, 'reference safetensors + classifier.safetensors');
  disposeModel(st);

  await runOk(pth, '%save saved/');
  const reloaded = gpuSession({ cwd: dir });
  const load = await runOk(reloaded, '%load_model saved');
  assert.match(load.text, /Head: classifier Linear\(64 -> 2, bias\) in bf16 .*labels: ham, spam/);
  assert.deepEqual(await logitBits(reloaded.bound('model')!), fromPth, 'saved with %save, loaded with %load_model');
  const a = await parameterBytes(pth.bound('model')!);
  const b = await parameterBytes(reloaded.bound('model')!);
  for (const [name, bytes] of a) assert.ok(Buffer.from(b.get(name)!).equals(bytes), name);
  disposeModel(reloaded);
  disposeModel(pth);
});
