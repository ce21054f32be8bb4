// parseConfig reads the three ways a Llama 3 config is written (transformers 4, transformers 5, LLMs-from-scratch's
// dict) into the same LlamaConfig, and refuses configs that describe another architecture with one clear error.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig, toHfConfig, type LlamaConfig } from '../../kernel/model/config.js';
import { REFERENCE_DIR } from './helpers/io.js';

const referenceJson = JSON.parse(fs.readFileSync(path.join(REFERENCE_DIR, 'config.json'), 'utf8'));

// The reference config.json as its README describes it.
const reference: LlamaConfig = {
  vocabSize: 512, hiddenSize: 64, intermediateSize: 192, numLayers: 3, numHeads: 4, numKvHeads: 2, headDim: 16,
  contextLength: 64, rmsNormEps: 1e-5, ropeTheta: 500000,
  ropeScaling: { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 },
  tieWordEmbeddings: false, dtype: 'bf16', bosTokenId: null, eosTokenIds: [],
};

/** The reference config as transformers 5 saves it: RoPE base and scaling in one rope_parameters object. */
function transformers5(json: Record<string, unknown>, ropeParameters: Record<string, unknown>): Record<string, unknown> {
  const { rope_theta: _theta, rope_scaling: _scaling, torch_dtype: dtype, ...rest } = json;
  return { ...rest, dtype, rope_parameters: ropeParameters };
}

test('transformers 4 config.json (the reference)', () => {
  assert.deepEqual(parseConfig(referenceJson), reference);
});

test('transformers 5 rope_parameters: Llama 3 scaling, and "default" (unscaled, its own base)', () => {
  const { rope_scaling: scaling } = referenceJson;
  assert.deepEqual(parseConfig(transformers5(referenceJson, { ...scaling, rope_theta: 500000 })), reference);
  assert.deepEqual(parseConfig(transformers5(referenceJson, { rope_type: 'default', rope_theta: 10000 })),
    { ...reference, ropeTheta: 10000, ropeScaling: null });
  assert.deepEqual(parseConfig(transformers5(referenceJson, { rope_theta: 250000 })), { ...reference, ropeTheta: 250000, ropeScaling: null });
  assert.deepEqual(parseConfig({ ...referenceJson, rope_scaling: { rope_type: 'default' } }), { ...reference, ropeScaling: null });
});

test('an LLMs-from-scratch config dict (Llama 3.2 style keys)', () => {
  const dict = {
    vocab_size: 512, context_length: 64, emb_dim: 64, n_heads: 4, n_layers: 3, hidden_dim: 192, n_kv_groups: 2,
    rope_base: 500000, dtype: 'torch.bfloat16',
    rope_freq: { factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_context_length: 8192 },
  };
  assert.deepEqual(parseConfig(dict), reference);
});

test('what llmnb writes next to a checkpoint reads back the same', () => {
  const tied = { ...reference, tieWordEmbeddings: true, bosTokenId: 1, eosTokenIds: [2, 3], ropeScaling: null };
  for (const c of [reference, tied]) assert.deepEqual(parseConfig(toHfConfig(c)), c);
});

test('other architectures and inconsistent shapes: one ConfigError naming the key', () => {
  const refused: [Record<string, unknown>, RegExp][] = [
    [{ ...referenceJson, model_type: 'mistral' }, /model_type "mistral"/],
    [{ ...referenceJson, attention_bias: true }, /attention_bias/],
    [{ ...referenceJson, mlp_bias: true }, /mlp_bias/],
    [{ ...referenceJson, hidden_act: 'gelu' }, /hidden_act "gelu"/],
    [{ ...referenceJson, rope_scaling: { rope_type: 'yarn', factor: 4 } }, /rope_scaling type "yarn"/],
    [transformers5(referenceJson, { rope_type: 'linear', rope_theta: 10000, factor: 2 }), /rope_parameters type "linear"/],
    [transformers5(referenceJson, { rope_type: 'llama3', rope_theta: 10000 }), /missing factor \(rope_parameters\)/],
    [{ ...referenceJson, rope_parameters: 'llama3' }, /rope_parameters must be an object/],
    [{ ...referenceJson, num_key_value_heads: 3 }, /not a multiple of num_key_value_heads 3/],
  ];
  for (const [json, message] of refused) {
    assert.throws(() => parseConfig(json), (e: Error) => e.name === 'ConfigError' && message.test(e.message), String(message));
  }
});
