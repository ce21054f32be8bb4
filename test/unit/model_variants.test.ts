// Configs the PyTorch reference does not cover (GQA shapes, tied head, no RoPE scaling, sequence lengths up to
// the full context), against the float64 CPU forward of test/unit/helpers/llama_ref.ts.
import { test } from 'node:test';
import type { LlamaConfig } from '../../kernel/model/config.js';
import { LlamaModel } from '../../kernel/model/llama.js';
import { fillConstant, fillNormal } from '../../kernel/ops/init.js';
import { testGpu } from './helpers/gpu.js';
import { llamaForwardRef } from './helpers/llama_ref.js';
import { assertF32Logits } from './helpers/reference.js';
import { randomInts } from './helpers/random.js';

const base: LlamaConfig = {
  vocabSize: 97, hiddenSize: 48, intermediateSize: 80, numLayers: 2, numHeads: 6, numKvHeads: 3, headDim: 8,
  contextLength: 160, rmsNormEps: 1e-5, ropeTheta: 10000,
  // a short original context puts this model's frequencies in all three bands (high, smoothed, low)
  ropeScaling: { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 64 },
  tieWordEmbeddings: false, dtype: 'bf16', bosTokenId: null, eosTokenIds: [],
};

const variants: { name: string; config: Partial<LlamaConfig>; lengths: number[] }[] = [
  { name: 'GQA 6/3 heads', config: {}, lengths: [1, 3, 45, 150, 160] },
  { name: 'MQA (1 KV head)', config: { numKvHeads: 1 }, lengths: [45] },
  { name: 'KV heads = heads', config: { numKvHeads: 6 }, lengths: [45] },
  { name: 'tied head', config: { tieWordEmbeddings: true }, lengths: [45] },
  { name: 'no RoPE scaling (Llama 3.0)', config: { ropeScaling: null, ropeTheta: 500000 }, lengths: [150] },
  { name: 'head_dim 32, f32 weights', config: { numHeads: 2, numKvHeads: 1, headDim: 32, hiddenSize: 64, dtype: 'f32' }, lengths: [45] },
];

for (const v of variants) {
  test(`forward matches the float64 reference: ${v.name}, lengths ${v.lengths.join(', ')}`, async () => {
    const gpu = await testGpu();
    const config = { ...base, ...v.config };
    const model = new LlamaModel(gpu, config);
    model.parameters().forEach((p, i) => {
      if (p.shape.length === 1) fillConstant(gpu, p.allocate(), 1);
      else fillNormal(gpu, p.allocate(), 1 / Math.sqrt(p.shape[1]), 1000 + i);
    });
    const weights = new Map<string, Float32Array>();
    for (const p of model.parameters()) weights.set(p.name, await p.read());
    try {
      for (const T of v.lengths) {
        const ids = randomInts(T, config.vocabSize, T);
        const want = llamaForwardRef(config, (n) => weights.get(n)!, ids);
        const got = await model.forwardLogits(ids);
        assertF32Logits(got, want.map((r) => Array.from(r)), `${v.name} T=${T}`);
      }
    } finally {
      model.dispose();
    }
  });
}
