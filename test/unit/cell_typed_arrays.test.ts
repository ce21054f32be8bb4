// Typed arrays made in a cell (the vm context's realm, not the kernel's) are accepted where the runtime takes
// typed arrays: token ids for a forward pass, values written into a tensor.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REFERENCE_MODEL } from './helpers/io.js';
import { disposeModel, gpuSession, runOk } from './helpers/session.js';

test('a forward pass on ids from a cell\'s Uint32Array', async () => {
  const s = gpuSession();
  await runOk(s, `%load_model ${REFERENCE_MODEL}`);
  const run = await runOk(s, 'const h = model.hidden(new Uint32Array([1, 2, 3]), 1)\nconst v = await h.read()\nh.dispose();\n[v.length, v.every(Number.isFinite)]');
  assert.equal(run.text, '[ 192, true ]\n');
  disposeModel(s);
});
