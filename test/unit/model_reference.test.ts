// The whole model against PyTorch (LLMs-from-scratch's Llama 3 on the reference config).
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { LlamaModel } from '../../kernel/model/llama.js';
import { loadModel } from '../../kernel/model/load.js';
import { KvCache } from '../../kernel/model/kv_cache.js';
import { llamaParamSpecs } from '../../kernel/model/param_specs.js';
import { testGpu } from './helpers/gpu.js';
import { llamaForwardRef } from './helpers/llama_ref.js';
import { assertBf16Logits, assertF32Logits, forwardReference } from './helpers/reference.js';
import { REFERENCE_MODEL } from './helpers/io.js';
import { assertClose } from './helpers/compare.js';

const ref = forwardReference();
let model: LlamaModel;

before(async () => {
  const gpu = await testGpu();
  model = (await loadModel(gpu, REFERENCE_MODEL)).model;
});

test('allocator accounts exactly the model\'s tensor bytes after loading', async () => {
  const weights = model.gpu.allocator.snapshot().rows.filter((r) => r.kind === 'weights');
  const expected = llamaParamSpecs(model.config).reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1) * 2, 0);
  assert.equal(weights.reduce((s, r) => s + r.liveBytes, 0), expected);
  assert.equal(weights.length, 30);
  const q = weights.find((r) => r.tensor === 'model.layers.0.self_attn.q_proj.weight');
  assert.deepEqual([q?.liveBytes, q?.layer], [8192, 'block.0']);
});

for (const seq of ['seq0', 'seq1'] as const) {
  test(`f32 compute matches PyTorch's f32 logits (${seq})`, async () => {
    const got = await model.forwardLogits(ref.inputs[seq]);
    assertF32Logits(got, ref.variants.f32.logits[seq], seq);
  });

  test(`bf16 compute stays within the bf16 bounds (${seq})`, async () => {
    const got = await model.forwardLogits(ref.inputs[seq], { compute: 'bf16' });
    assertBf16Logits(got, ref.variants.f32.logits[seq], seq);
  });
}

test('the float64 CPU reference used for other configs agrees with PyTorch', async () => {
  const weights = new Map<string, Float32Array>();
  for (const p of model.parameters()) weights.set(p.name, await p.read());
  const got = llamaForwardRef(model.config, (n) => weights.get(n)!, ref.inputs.seq1);
  assertF32Logits(got, ref.variants.f32.logits.seq1, 'cpu reference');
});

test('decoding with the KV cache gives the logits of the full forward', async () => {
  const ids = ref.inputs.seq1;
  const full = await model.forwardLogits(ids);
  const cache = new KvCache(model.gpu, model.config, 1, ids.length);
  try {
    // a prefill of 5 tokens, then one token at a time
    let h = model.hidden(Uint32Array.from(ids.slice(0, 5)), 1, { cache });
    let lg = model.logits(h, [4]);
    assertClose(await lg.read(), full[4], { rtol: 1e-5, what: 'prefill last row' });
    for (const bad of [5, -1, 1.5]) assert.throws(() => model.logits(h, [bad]), /logits: row .* is not a row of the hidden states \(0\.\.4\)/);
    h.dispose(); lg.dispose();
    for (let t = 5; t < ids.length; t++) {
      h = model.hidden(Uint32Array.of(ids[t]), 1, { cache });
      lg = model.logits(h, [0]);
      assertClose(await lg.read(), full[t], { rtol: 1e-5, what: `decode position ${t}` });
      h.dispose(); lg.dispose();
    }
  } finally {
    cache.dispose();
  }
});
