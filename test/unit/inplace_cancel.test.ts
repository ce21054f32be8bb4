// Acceptance (in-place loading issue): a load cancelled mid-way leaves every tensor either fully old or fully new,
// and the error says which were replaced. Cancelled through the loader's checkpoint hook after k tensors, and
// through an interrupt of %load_inplace.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { CancelledError } from '../../kernel/errors.js';
import { loadWeightsInPlace } from '../../kernel/model/load_weights.js';
import { REFERENCE_MODEL, splitSafetensors, tempDir } from './helpers/io.js';
import { disposeModel, gpuSession, parameterBytes, runCell, runOk } from './helpers/session.js';

/** Tensor names of a safetensors file by data offset (parsed here, not by the reader under test). */
function fileOrder(file: string): string[] {
  const { header } = splitSafetensors(file);
  return Object.keys(header).filter((n) => n !== '__metadata__').sort((a, b) => header[a].data_offsets[0] - header[b].data_offsets[0]);
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(b);

test('cancelling after k tensors: exactly the first k (in file order) are new, all others old, none mixed', async () => {
  const dir = tempDir();
  const s = gpuSession({ cwd: dir });
  await runOk(s, '%load_model tiny --init random --seed 21');
  await runOk(s, '%save new.safetensors');
  const fresh = await parameterBytes(s.bound('model')!);
  await runOk(s, `%load_model ${path.resolve(REFERENCE_MODEL)}`);
  const model = s.bound('model')!;
  const old = await parameterBytes(model);
  for (const [name, bytes] of old) assert.ok(!same(bytes, fresh.get(name)!), `${name} differs between the two checkpoints`);

  for (const k of [0, 7, 29]) {
    await loadWeightsInPlace(model, path.resolve(REFERENCE_MODEL)); // back to the old values
    let calls = 0;
    const err = await loadWeightsInPlace(model, path.join(dir, 'new.safetensors'), {
      chunkBytes: 1024, // several chunks per tensor: a cancel must still never split one
      checkpoint: () => { if (calls++ === k) throw new CancelledError(); },
    }).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof CancelledError, `k=${k}: ${String(err)}`);
    assert.match(err.message, new RegExp(`load interrupted after ${k} of 30 tensors; ${k ? 'replaced: ' : 'nothing was replaced'}`));
    const now = await parameterBytes(model);
    const replaced = [...now].filter(([name, bytes]) => {
      const isNew = same(bytes, fresh.get(name)!);
      assert.ok(isNew || same(bytes, old.get(name)!), `k=${k}: ${name} is neither fully old nor fully new`);
      return isNew;
    }).map(([name]) => name);
    assert.equal(replaced.length, k);
    // The loader streams in file order (by data offset).
    assert.deepEqual(replaced.sort(), fileOrder(path.join(dir, 'new.safetensors')).slice(0, k).sort());
    for (const name of fileOrder(path.join(dir, 'new.safetensors')).slice(0, Math.min(k, 8))) assert.ok(err.message.includes(name), `the message names ${name}`);
  }
  disposeModel(s);
});

test('an interrupted %load_inplace reports what it replaced and keeps the rest', async () => {
  const dir = tempDir();
  const s = gpuSession({ cwd: dir });
  await runOk(s, '%load_model tiny --init random --seed 22');
  await runOk(s, '%save new.safetensors');
  const fresh = await parameterBytes(s.bound('model')!);
  await runOk(s, `%load_model ${path.resolve(REFERENCE_MODEL)}`);
  const old = await parameterBytes(s.bound('model')!);
  const run = await runCell(s, '%load_inplace new.safetensors', (e) => { if (e.kind === 'output' && e.key) s.interrupt(); });
  assert.equal(run.result.error?.name, 'CancelledError');
  const first = fileOrder(path.join(dir, 'new.safetensors'))[0];
  assert.equal(run.result.error?.message, `load interrupted after 1 of 30 tensors; replaced: ${first}; all others keep their previous values`);
  const now = await parameterBytes(s.bound('model')!);
  for (const [name, bytes] of now) assert.ok(same(bytes, (name === first ? fresh : old).get(name)!), name);
  disposeModel(s);
});
