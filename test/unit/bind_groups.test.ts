// Bind groups are reused per (kernel, buffers, params slot), the least recently used are dropped beyond the
// capacity, and dispatches that share a cached group still read their own params (uploaded at submit).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BindGroupCache } from '../../kernel/gpu/bind_groups.js';
import { Params } from '../../kernel/gpu/params.js';
import { Tensor } from '../../kernel/gpu/tensor.js';
import { testGpu } from './helpers/gpu.js';

const FILL = {
  key: 'test/fill_index_times',
  storageBindings: 1,
  hasParams: true,
  wgsl: () => /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
struct P { at: u32, value: f32 }
@group(0) @binding(1) var<uniform> p: P;
@compute @workgroup_size(1) fn main() { out[p.at] = p.value; }
`,
};

test('a group is reused for the same kernel, buffers and params slot, and made anew otherwise', async () => {
  const gpu = await testGpu();
  const k = gpu.kernel(FILL);
  const [a, b] = [0, 1].map((i) => Tensor.alloc(gpu, [4], 'f32', gpu.activationTag(`bg ${i}`)));
  const uniforms = gpu.allocator.create(1024, 0x0040 | 0x0008 /* UNIFORM | COPY_DST */, gpu.activationTag('bg params'));
  try {
    const cache = new BindGroupCache(gpu.device, 3);
    const slot = (offset: number) => ({ buffer: uniforms.buffer, offset, size: 16 });
    const ga = cache.get(k, [a.buffer], slot(0));
    assert.equal(cache.get(k, [a.buffer], slot(0)), ga);
    const gb = cache.get(k, [b.buffer], slot(0));
    const g256 = cache.get(k, [a.buffer], slot(256));
    assert.equal(new Set([ga, gb, g256]).size, 3);
    // ga was used last before gb and g256: it survives one more insertion, gb (least recent) does not.
    cache.get(k, [a.buffer], slot(0));
    cache.get(k, [b.buffer], slot(512));
    assert.equal(cache.size, 3);
    assert.equal(cache.get(k, [a.buffer], slot(0)), ga);
    assert.notEqual(cache.get(k, [b.buffer], slot(0)), gb);
  } finally {
    a.dispose();
    b.dispose();
    gpu.allocator.destroy(uniforms);
  }
});

test('repeated dispatches reuse groups yet each reads its own params, across submits', async () => {
  const gpu = await testGpu();
  const k = gpu.kernel(FILL);
  const out = Tensor.alloc(gpu, [6], 'f32', gpu.activationTag('bg out'));
  try {
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 6; i++) gpu.dispatch(k, [out.buffer], new Params().u32(i).f32(10 * round + i), [1]);
      assert.deepEqual([...await out.read()], [0, 1, 2, 3, 4, 5].map((i) => 10 * round + i));
    }
  } finally {
    out.dispose();
  }
});
