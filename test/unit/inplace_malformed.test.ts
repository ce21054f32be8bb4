// Acceptance (in-place loading issue): every malformed checkpoint (truncated, wrong shapes, wrong dtype, extra or
// missing names, hostile pickles, formats the reader refuses) leaves the loaded model bit-identical (every
// parameter's stored bytes compared before and after) and gives a one-paragraph error.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Session } from '../../kernel/session.js';
import { PTH_DIR, REFERENCE_MODEL, splitSafetensors, tempDir, writeRawSafetensors } from './helpers/io.js';
import { disposeModel, gpuSession, parameterBytes, runCell, runOk } from './helpers/session.js';

const PICKLE_MARKER = '/tmp/llmnb-pickle-executed';
const PTH = path.resolve(PTH_DIR);
const dir = tempDir();
let s: Session;
let original: Map<string, Uint8Array>;

before(async () => {
  s = gpuSession({ cwd: dir });
  await runOk(s, `%load_model ${path.resolve(REFERENCE_MODEL)}`);
  original = await parameterBytes(s.bound('model')!);
});
after(() => disposeModel(s));

/** A copy of the reference safetensors with its header edited by `edit` (data appended with `extra`). */
function editedReference(name: string, edit: (h: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>) => void, extra = Buffer.alloc(0)): string {
  const { header, data } = splitSafetensors(REFERENCE_MODEL);
  edit(header);
  const file = path.join(dir, name);
  writeRawSafetensors(file, header, Buffer.concat([data, extra]));
  return file;
}

function truncatedCopy(src: string, name: string, keep: number): string {
  const bytes = fs.readFileSync(src);
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length * keep)));
  return file;
}

/** Runs `line`, checks that it fails with `errorName` and `message` and changed no parameter; returns the error. */
async function assertRefused(line: string, errorName: string, message: RegExp): Promise<{ message: string; hint?: string }> {
  const run = await runCell(s, line);
  const e = run.result.error;
  assert.equal(e?.name, errorName, `${line}: ${e?.name}: ${e?.message}`);
  assert.match(e?.message ?? '', message, line);
  assert.ok(!e?.message.includes('\n') && !(e?.hint ?? '').includes('\n'), `${line}: one paragraph`);
  const now = await parameterBytes(s.bound('model')!);
  for (const [name, bytes] of original) assert.ok(Buffer.from(now.get(name)!).equals(bytes), `${line}: ${name} changed`);
  return e!;
}

test('truncated files: safetensors cut in its data, .pth cut anywhere', async () => {
  await assertRefused(`%load_inplace ${truncatedCopy(REFERENCE_MODEL, 'cut.safetensors', 0.9)}`, 'CheckpointFormatError', /cut\.safetensors.*ends past the end of the file.*truncated/);
  await assertRefused(`%load_inplace ${truncatedCopy(REFERENCE_MODEL, 'cut_last.safetensors', 0.9999)}`, 'CheckpointFormatError', /model\.norm\.weight.*truncated/);
  await assertRefused(`%load_inplace ${truncatedCopy(path.join(PTH, 'tiny_bf16.pth'), 'cut.pth', 0.6)}`, 'CheckpointFormatError', /cut\.pth/);
  await assertRefused(`%load_inplace ${truncatedCopy(path.join(PTH, 'tiny_bf16.pth'), 'cut_end.pth', 0.995)}`, 'CheckpointFormatError', /cut_end\.pth/);
});

test('wrong shapes (in the last block); a classifier head for a language-model head', async () => {
  const shape = editedReference('shape.safetensors', (h) => { h['model.layers.2.self_attn.k_proj.weight'].shape = [64, 32]; });
  await assertRefused(`%load_inplace ${shape}`, 'ShapeMismatchError', /model\.layers\.2\.self_attn\.k_proj\.weight: checkpoint \[64, 32\] vs model \[32, 64\]/);
  await assertRefused(`%load_inplace ${path.join(PTH, 'review_classifier.pth')}`, 'ShapeMismatchError', /out_head\.weight \[2, 64\] is a classification head.*%replace_head --classes 2/);
});

test('wrong dtype without --dtype-cast names both dtypes', async () => {
  await assertRefused(`%load_inplace ${path.join(PTH, 'tiny_f32_subset.pth')} --partial`, 'DtypeMismatchError', /checkpoint F32 vs model bf16/);
  const f16 = editedReference('f16.safetensors', (h) => { h['model.norm.weight'].dtype = 'F16'; });
  await assertRefused(`%load_inplace ${f16}`, 'DtypeMismatchError', /model\.norm\.weight: checkpoint F16 vs model bf16/);
});

test('extra and missing names', async () => {
  const { data } = splitSafetensors(REFERENCE_MODEL);
  const extra = editedReference('extra.safetensors', (h) => {
    h['model.layers.3.self_attn.q_proj.weight'] = { dtype: 'BF16', shape: [64, 64], data_offsets: [data.length, data.length + 8192] };
  }, Buffer.alloc(8192));
  await assertRefused(`%load_inplace ${extra}`, 'MissingTensorError', /unexpected 1: model\.layers\.3\.self_attn\.q_proj\.weight/);
  await assertRefused(`%load_inplace ${extra} --partial`, 'MissingTensorError', /unexpected 1/);
  const missing = editedReference('missing.safetensors', (h) => { delete h['model.norm.weight']; });
  await assertRefused(`%load_inplace ${missing}`, 'MissingTensorError', /missing 1: model\.norm\.weight/);
  // Only the LM head missing: a tied checkpoint read with an untied config. The hint names the config key.
  const noHead = editedReference('no_head.safetensors', (h) => { delete h['lm_head.weight']; });
  const noHeadError = await assertRefused(`%load_inplace ${noHead}`, 'MissingTensorError', /missing 1: lm_head\.weight/);
  assert.match(noHeadError.hint ?? '', /"tie_word_embeddings": true/);
  await assertRefused(`%load_inplace ${path.join(PTH, 'tiny_f32_subset.pth')} --dtype-cast`, 'MissingTensorError', /missing 22:/);
});

test('hostile pickles are refused without running anything; formats the reader refuses leave the model alone', async () => {
  const existedBefore = fs.existsSync(PICKLE_MARKER);
  await assertRefused(`%load_inplace ${path.join(PTH, 'malicious_os_system.pth')}`, 'CheckpointFormatError', /malicious_os_system\.pth/);
  await assertRefused(`%load_inplace ${path.join(PTH, 'malicious_os_system_p4.pth')}`, 'CheckpointFormatError', /malicious_os_system_p4\.pth/);
  assert.equal(fs.existsSync(PICKLE_MARKER), existedBefore, 'no code ran');
  await assertRefused(`%load_inplace ${path.join(PTH, 'storage_too_short.pth')} --partial`, 'CheckpointFormatError', /has 64 bytes/);
  await assertRefused(`%load_inplace ${path.join(PTH, 'non_contiguous.pth')} --partial`, 'CheckpointFormatError', /not contiguous/);
  await assertRefused(`%load_inplace ${path.join(PTH, 'deflated.pth')} --partial`, 'CheckpointFormatError', /compressed/);
  await assertRefused(`%load_inplace ${path.join(PTH, 'big_endian.pth')} --partial`, 'CheckpointFormatError', /big-endian/);
  await assertRefused(`%load_inplace ${path.join(PTH, 'legacy_format.pth')} --partial`, 'CheckpointFormatError', /legacy/);
  const garbage = path.join(dir, 'garbage.safetensors');
  fs.writeFileSync(garbage, Buffer.from('{"not": "a checkpoint"}'));
  await assertRefused(`%load_inplace ${garbage}`, 'CheckpointFormatError', /garbage\.safetensors/);
  await assertRefused(`%load_inplace ${path.join(dir, 'nothing-here.safetensors')}`, 'CheckpointFormatError', /no such file or directory/);
});
