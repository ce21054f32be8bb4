// Acceptance (in-place loading issue): peak allocator bytes during an in-place load stay at model bytes + one
// staging chunk (into a loaded model: + one chunk only), measured with the allocator's own peak. Also on a device
// whose small buffer limit splits tensors into parts: load and save stream across part boundaries bit for bit.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Gpu } from '../../kernel/gpu/context.js';
import { loadModel } from '../../kernel/model/load.js';
import { loadWeightsInPlace } from '../../kernel/model/load_weights.js';
import { saveModel } from '../../kernel/model/save.js';
import { testGpu } from './helpers/gpu.js';
import { REFERENCE_MODEL, splitSafetensors, tempDir } from './helpers/io.js';
import { disposeModel, gpuSession, runOk } from './helpers/session.js';

const CHUNK = 4096;

test('in-place load into an empty model: peak <= live before + model bytes + one staging chunk', async () => {
  const gpu = await testGpu();
  const s = gpuSession();
  await runOk(s, `%load_model ${REFERENCE_MODEL} --empty`);
  const modelBytes = s.bound('model')!.weightBytes;
  gpu.allocator.resetPeak();
  const before = gpu.allocator.liveBytes;
  const run = await runOk(s, `const r = await llmnb.loadInplace(${JSON.stringify(REFERENCE_MODEL)}, { chunkBytes: ${CHUNK} }); r`);
  const peak = gpu.allocator.peakBytes;
  assert.ok(peak <= before + modelBytes + CHUNK, `peak ${peak} > ${before} + ${modelBytes} + ${CHUNK}`);
  assert.equal(gpu.allocator.liveBytes, before + modelBytes, 'the staging chunk is released');
  assert.match(run.text, /GPU memory: peak [\d.]+ KiB during the load; model weights 417 KiB, staging chunk 4\.00 KiB/);
  disposeModel(s);
});

test('in-place load into a loaded model: peak <= live before + one staging chunk (buffers are reused)', async () => {
  const gpu = await testGpu();
  const s = gpuSession();
  await runOk(s, `%load_model ${REFERENCE_MODEL}`);
  gpu.allocator.resetPeak();
  const before = gpu.allocator.liveBytes;
  await runOk(s, `await llmnb.loadInplace(${JSON.stringify(path.resolve('test/fixtures/pth/tiny_bf16.pth'))}, { chunkBytes: ${CHUNK} })`);
  assert.ok(gpu.allocator.peakBytes <= before + CHUNK, `peak ${gpu.allocator.peakBytes} > ${before} + ${CHUNK}`);
  assert.equal(gpu.allocator.liveBytes, before);
  disposeModel(s);
});

test('split tensors (4 KiB buffer limit): load then save reproduce the reference bytes; peak stays at model + chunk', async () => {
  const small = await Gpu.open({ maxBufferBytes: 4096 });
  try {
    const { model } = await loadModel(small, REFERENCE_MODEL, { empty: true });
    assert.equal(model.embed_tokens.weight.allocate().parts.length, 16, '512 x 64 bf16 in 4 KiB parts');
    small.allocator.resetPeak();
    const before = small.allocator.liveBytes;
    await loadWeightsInPlace(model, REFERENCE_MODEL, { chunkBytes: 1000 });
    assert.ok(small.allocator.peakBytes <= before + model.weightBytes + 1000);
    const dir = tempDir();
    const file = path.join(dir, 'split.safetensors');
    await saveModel(model, file, { chunkBytes: 1000 });
    const want = splitSafetensors(REFERENCE_MODEL);
    const got = splitSafetensors(file);
    for (const [name, info] of Object.entries(want.header)) {
      if (name === '__metadata__') continue;
      assert.ok(got.data.subarray(...got.header[name].data_offsets).equals(want.data.subarray(...info.data_offsets)), name);
    }
    assert.deepEqual(fs.readdirSync(dir), ['split.safetensors']);
    model.dispose();
  } finally {
    small.destroy();
  }
});
