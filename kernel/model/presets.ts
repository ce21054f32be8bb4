// Named configurations: the real Llama 3 family (for shapes, memory estimates and empty models; weights come
// from a checkpoint) and small Llama 3-architecture configs that tests and the demo can run on a CPU.
import { UsageError } from '../errors.js';
import type { LlamaConfig } from './config.js';

const LLAMA3_VOCAB = 128256;
const LLAMA3_BOS = 128000;
// <|end_of_text|>, <|eom_id|>, <|eot_id|>
const LLAMA3_EOS = [128001, 128008, 128009];
const LLAMA31_SCALING = { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 };
const LLAMA32_SCALING = { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 };

const llama3Base = {
  vocabSize: LLAMA3_VOCAB, rmsNormEps: 1e-5, ropeTheta: 500000, dtype: 'bf16' as const,
  bosTokenId: LLAMA3_BOS, eosTokenIds: LLAMA3_EOS,
};

export const PRESETS: Record<string, { summary: string; config: LlamaConfig }> = {
  'llama3-8b': {
    summary: 'Meta Llama 3 8B (8K context, no RoPE scaling)',
    config: { ...llama3Base, hiddenSize: 4096, intermediateSize: 14336, numLayers: 32, numHeads: 32, numKvHeads: 8, headDim: 128,
      contextLength: 8192, ropeScaling: null, tieWordEmbeddings: false },
  },
  'llama3.1-8b': {
    summary: 'Meta Llama 3.1 8B (128K context, RoPE scaling x8)',
    config: { ...llama3Base, hiddenSize: 4096, intermediateSize: 14336, numLayers: 32, numHeads: 32, numKvHeads: 8, headDim: 128,
      contextLength: 131072, ropeScaling: LLAMA31_SCALING, tieWordEmbeddings: false },
  },
  'llama3.2-1b': {
    summary: 'Meta Llama 3.2 1B (tied embeddings, RoPE scaling x32)',
    config: { ...llama3Base, hiddenSize: 2048, intermediateSize: 8192, numLayers: 16, numHeads: 32, numKvHeads: 8, headDim: 64,
      contextLength: 131072, ropeScaling: LLAMA32_SCALING, tieWordEmbeddings: true },
  },
  'llama3.2-3b': {
    summary: 'Meta Llama 3.2 3B (tied embeddings, RoPE scaling x32)',
    config: { ...llama3Base, hiddenSize: 3072, intermediateSize: 8192, numLayers: 28, numHeads: 24, numKvHeads: 8, headDim: 128,
      contextLength: 131072, ropeScaling: LLAMA32_SCALING, tieWordEmbeddings: true },
  },
  'tiny': {
    summary: 'test size: the shapes of the PyTorch reference model (vocab 512, width 64, 3 blocks)',
    config: { vocabSize: 512, hiddenSize: 64, intermediateSize: 192, numLayers: 3, numHeads: 4, numKvHeads: 2, headDim: 16,
      contextLength: 64, rmsNormEps: 1e-5, ropeTheta: 500000, ropeScaling: LLAMA32_SCALING, tieWordEmbeddings: false,
      dtype: 'bf16', bosTokenId: null, eosTokenIds: [] },
  },
  'demo': {
    summary: 'CPU demo size with the real Llama 3 vocabulary (width 128, 4 blocks, 256-token context)',
    config: { ...llama3Base, hiddenSize: 128, intermediateSize: 384, numLayers: 4, numHeads: 4, numKvHeads: 2, headDim: 32,
      contextLength: 256, ropeScaling: LLAMA32_SCALING, tieWordEmbeddings: true },
  },
};

export function presetConfig(name: string): LlamaConfig {
  const p = PRESETS[name];
  if (!p) {
    throw new UsageError(`unknown model preset ${JSON.stringify(name)}`,
      `Use a path to a model directory or one of: ${Object.keys(PRESETS).join(', ')}.`);
  }
  return { ...p.config, eosTokenIds: [...p.config.eosTokenIds], ropeScaling: p.config.ropeScaling && { ...p.config.ropeScaling } };
}
