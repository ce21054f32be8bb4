import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { embedding, embeddingGradWeight } from '../../kernel/ops/embedding.js';
import { Gpu } from '../../kernel/gpu/context.js';
import { Tensor } from '../../kernel/gpu/tensor.js';
import { roundBf16 } from '../../kernel/gpu/bf16.js';
import { testGpu } from './helpers/gpu.js';
import { randomArray, randomInts } from './helpers/random.js';
import { assertClose } from './helpers/compare.js';
import { numericGradient } from './helpers/finite_diff.js';

const WEIGHTS = { layer: 'embeddings', tensor: 'embed_tokens', kind: 'weights' } as const;
const GRADS = { layer: 'embeddings', tensor: 'embed_tokens', kind: 'grads' } as const;

function embeddingRef(table: ArrayLike<number>, ids: ArrayLike<number>, dim: number): Float64Array {
  const out = new Float64Array(ids.length * dim);
  for (let p = 0; p < ids.length; p++) for (let d = 0; d < dim; d++) out[p * dim + d] = table[ids[p] * dim + d];
  return out;
}

function embeddingGradRef(dy: ArrayLike<number>, ids: ArrayLike<number>, vocab: number, dim: number): Float64Array {
  const grad = new Float64Array(vocab * dim);
  for (let p = 0; p < ids.length; p++) for (let d = 0; d < dim; d++) grad[ids[p] * dim + d] += dy[p * dim + d];
  return grad;
}

// A device whose buffers hold at most 4 KiB, so that tables split into several parts.
let smallGpu: Promise<Gpu> | null = null;
const small = () => (smallGpu ??= Gpu.open({ maxBufferBytes: 4096 }));
after(async () => { if (smallGpu) (await smallGpu).destroy(); });

test('CPU embedding gradient matches central differences of the lookup', () => {
  const [vocab, dim] = [6, 3];
  const ids = [4, 1, 4, 0, 4];
  const dy = randomArray(ids.length * dim, 1, 1);
  const table = randomArray(vocab * dim, 2, 1);
  assertClose(embeddingGradRef(dy, ids, vocab, dim), numericGradient((t) => embeddingRef(t, ids, dim), table, dy),
    { rtol: 1e-8, what: 'dTable vs finite differences' });
});

const CASES = [
  { name: 'single buffer', vocab: 50, dim: 33, device: testGpu },
  // 300 x 7 bf16 = 4200 bytes: two parts, and an odd row width keeps every part on a u32 boundary.
  { name: 'split into parts', vocab: 300, dim: 7, device: small },
];

for (const c of CASES) {
  for (const dtype of ['f32', 'bf16'] as const) {
    test(`embedding ${c.vocab}x${c.dim} ${dtype}, ${c.name}: lookup matches float64`, async () => {
      const gpu = await c.device();
      let tv = randomArray(c.vocab * c.dim, c.vocab + c.dim, 2);
      if (dtype === 'bf16') tv = tv.map(roundBf16);
      const table = Tensor.alloc(gpu, [c.vocab, c.dim], dtype, WEIGHTS);
      table.write(tv);
      if (c.device === small) assert.ok(table.parts.length > 1, `expected a split table, got ${table.parts.length} part(s)`);
      const idv = [...randomInts(9, c.vocab, 3), 0, c.vocab - 1, c.vocab - 1];
      const ids = Tensor.alloc(gpu, [2, 6], 'u32', gpu.activationTag('ids'));
      ids.write(Uint32Array.from(idv));
      const out = embedding(gpu, table, ids);
      assert.deepEqual(out.shape, [2, 6, c.dim]);
      assertClose(await out.read(), embeddingRef(tv, idv, c.dim), { rtol: 0, what: 'embedding' });
      const outBf16 = embedding(gpu, table, ids, 'bf16');
      assertClose(await outBf16.read(), embeddingRef(tv, idv, c.dim).map(roundBf16), { rtol: 0, what: 'embedding bf16 compute' });
      for (const t of [table, ids, out, outBf16]) t.dispose();
    });
  }

  test(`embeddingGradWeight ${c.vocab}x${c.dim}, ${c.name}: scatter-add matches float64, repeated ids`, async () => {
    const gpu = await c.device();
    const idv = Uint32Array.from([...randomInts(40, c.vocab, 5), 3, 3, 3, c.vocab - 1, 0]);
    const dyv = randomArray(idv.length * c.dim, 6, 1);
    const initial = randomArray(c.vocab * c.dim, 7, 0.5);
    const dTable = Tensor.alloc(gpu, [c.vocab, c.dim], 'f32', GRADS);
    dTable.write(initial);
    if (c.device === small) assert.ok(dTable.parts.length > 2, `expected a split gradient, got ${dTable.parts.length} part(s)`);
    const dy = Tensor.alloc(gpu, [1, idv.length, c.dim], 'f32', gpu.activationTag('dy'));
    dy.write(dyv);
    embeddingGradWeight(gpu, dy, idv, dTable);
    const want = embeddingGradRef(dyv, idv, c.vocab, c.dim).map((g, i) => g + initial[i]);
    assertClose(await dTable.read(), want, { rtol: 1e-6, what: 'dTable (added to its previous value)' });
    dTable.dispose();
    dy.dispose();
  });
}

test('embeddingGradWeight rejects ids outside the vocabulary before touching the gradient', async () => {
  const gpu = await testGpu();
  const dTable = Tensor.alloc(gpu, [10, 4], 'f32', GRADS);
  const dy = Tensor.alloc(gpu, [2, 4], 'f32', gpu.activationTag('dy'));
  dy.write(new Float32Array(8).fill(1));
  assert.throws(() => embeddingGradWeight(gpu, dy, Uint32Array.from([3, 10]), dTable), { name: 'UsageError' });
  assert.throws(() => embeddingGradWeight(gpu, dy, Uint32Array.from([3]), dTable), { name: 'ShapeMismatchError' });
  assert.deepEqual(await dTable.read(), new Float32Array(40));
  dTable.dispose();
  dy.dispose();
});
