import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Gpu } from '../../kernel/gpu/context.js';
import { Tensor } from '../../kernel/gpu/tensor.js';
import { fillConstant, fillNormal, fillUniform } from '../../kernel/ops/init.js';
import { testGpu } from './helpers/gpu.js';

const tag = { layer: 'test', tensor: 'w', kind: 'weights' } as const;

for (const dtype of ['f32', 'bf16'] as const) {
  test(`fillNormal ${dtype}: mean 0, std as asked, depends only on seed and index`, async () => {
    const gpu = await testGpu();
    const t = Tensor.alloc(gpu, [301, 67], dtype, tag);
    fillNormal(gpu, t, 0.02, 7);
    const v = await t.read();
    const n = v.length;
    const mean = v.reduce((a, b) => a + b, 0) / n;
    const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
    // 20167 samples: standard error of the mean 0.02/142 = 1.4e-4, of the std about 1e-4.
    assert.ok(Math.abs(mean) < 6e-4, `mean ${mean}`);
    assert.ok(Math.abs(std - 0.02) < 6e-4, `std ${std}`);
    const within3 = v.filter((x) => Math.abs(x) < 0.06).length / n;
    assert.ok(Math.abs(within3 - 0.9973) < 0.002, `fraction within 3 sigma ${within3}`);
    const again = Tensor.alloc(gpu, [301, 67], dtype, tag);
    fillNormal(gpu, again, 0.02, 7);
    assert.deepEqual(await again.read(), v);
    fillNormal(gpu, again, 0.02, 8);
    assert.notDeepEqual(await again.read(), v);

    const small = await Gpu.open({ maxBufferBytes: 4096 });
    const split = Tensor.alloc(small, [301, 67], dtype, tag);
    assert.ok(split.parts.length > 3);
    fillNormal(small, split, 0.02, 7);
    assert.deepEqual(await split.read(), v, 'same values when the tensor is split into parts');
    for (const x of [t, again, split]) x.dispose();
    small.destroy();
  });
}

test('fillConstant writes every element, odd bf16 counts included', async () => {
  const gpu = await testGpu();
  const t = Tensor.alloc(gpu, [3], 'bf16', tag);
  fillConstant(gpu, t, 1);
  assert.deepEqual([...await t.read()], [1, 1, 1]);
  t.dispose();
});

test('fillUniform: values in (-a, a) with the uniform variance a^2/3', async () => {
  const gpu = await testGpu();
  const t = Tensor.alloc(gpu, [200, 101], 'f32', tag);
  fillUniform(gpu, t, 0.125, 3);
  const v = await t.read();
  assert.ok(v.every((x) => Math.abs(x) < 0.125));
  const variance = v.reduce((a, b) => a + b * b, 0) / v.length;
  assert.ok(Math.abs(variance - 0.125 ** 2 / 3) < 0.02 * 0.125 ** 2 / 3 * 3, `variance ${variance}`);
  const quarter = v.filter((x) => x > 0.0625).length / v.length;
  assert.ok(Math.abs(quarter - 0.25) < 0.01, `fraction above a/2: ${quarter}`);
  t.dispose();
});
