// Hovers on a real model: what `inspect` says about parameters, blocks, the model, GPU tensors and parameter names
// or globs, checked against Parameter.info() (the same facts, read without calling anything) and against sizes
// computed here from the reference config.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LlamaModel } from '../../kernel/model/llama.js';
import { Tensor } from '../../kernel/gpu/tensor.js';
import { inspectExpression, parameterFacts } from '../../kernel/session/inspect.js';
import { testGpu } from './helpers/gpu.js';
import { REFERENCE_MODEL } from './helpers/io.js';
import { disposeModel, gpuSession, runOk } from './helpers/session.js';

// The reference config: vocab 512, width 64, q 64, kv 32, MLP 192, 3 blocks, bf16 (2 bytes per element).
const BLOCK_BYTES = 2 * (64 + 64 * 64 + 32 * 64 + 32 * 64 + 64 * 64 + 64 + 3 * 192 * 64);
const MODEL_BYTES = 2 * (512 * 64) + 3 * BLOCK_BYTES + 2 * 64 + 2 * (512 * 64);

test('a parameter hover says dtype, shape, bytes, kind, layer, frozen/trainable and residency, as info() does', async () => {
  const s = gpuSession();
  await runOk(s, `%load_model ${REFERENCE_MODEL}`);
  const q = s.inspect('model.layers[0].self_attn.q_proj.weight');
  assert.equal(q?.type, 'Parameter');
  assert.deepEqual(q?.tensor, {
    dtype: 'bf16', shape: [64, 64], bytes: 8192, name: 'model.layers.0.self_attn.q_proj.weight', layer: 'block.0',
    kind: 'weights', trainable: false, resident: true,
  });
  const model = s.bound('model') as LlamaModel;
  model.layers[1].mlp.down_proj.weight.trainable = true;
  for (const p of model.parameters()) assert.deepEqual(parameterFacts(p), p.info(), p.name);
  assert.equal(s.inspect('model.layers[1].mlp.down_proj.weight')?.tensor?.trainable, true);
  assert.equal(s.inspect("model['layers'][2]['mlp'].up_proj.weight")?.tensor?.name, 'model.layers.2.mlp.up_proj.weight');
  await runOk(s, 'const w = model.norm.weight');
  assert.deepEqual(s.inspect('w')?.tensor?.shape, [64]);
  disposeModel(s);
});

test('objects holding parameters (a block, the layers, the model) sum them; names and globs find them', async () => {
  const s = gpuSession();
  await runOk(s, `%load_model ${REFERENCE_MODEL}`);
  assert.deepEqual(s.inspect('model.layers[0]')?.parameters, { count: 9, bytes: BLOCK_BYTES, residentBytes: BLOCK_BYTES, trainable: 0, dtypes: ['bf16'] });
  assert.equal(s.inspect('model.layers')?.parameters?.count, 27);
  const whole = s.inspect('model');
  assert.equal(whole?.type, 'LlamaModel');
  assert.deepEqual(whole?.parameters, { count: 30, bytes: MODEL_BYTES, residentBytes: MODEL_BYTES, trainable: 0, dtypes: ['bf16'] });

  assert.equal(s.inspect('model.norm.weight', 'tensor-name')?.tensor?.bytes, 128);
  assert.equal(s.inspect('trf_blocks.0.att.W_query.weight', 'tensor-name')?.tensor?.name, 'model.layers.0.self_attn.q_proj.weight');
  assert.deepEqual(s.inspect('model.layers.0.*', 'tensor-name')?.parameters, { count: 9, bytes: BLOCK_BYTES, residentBytes: BLOCK_BYTES, trainable: 0, dtypes: ['bf16'] });
  assert.equal(s.inspect('*q_proj*', 'tensor-name')?.parameters?.count, 3);
  assert.equal(s.inspect('model.layers.9.*', 'tensor-name'), null);
  assert.equal(s.inspect('./model.safetensors', 'tensor-name'), null);
  disposeModel(s);
  assert.equal(s.inspect('model.norm.weight', 'tensor-name'), null, 'no model, no hover');
  assert.equal(s.inspect('model')?.type, 'undefined');
});

test('a head made by %replace_head has the model\'s dtype; an empty model\'s parameters are not resident', async () => {
  const s = gpuSession();
  await runOk(s, `%load_model ${REFERENCE_MODEL}\n%replace_head --classes 2`);
  assert.deepEqual(s.inspect('model.out_head.weight')?.tensor, {
    dtype: 'bf16', shape: [2, 64], bytes: 256, name: 'out_head.weight', layer: 'head', kind: 'weights', trainable: false, resident: true,
  });
  assert.equal(s.inspect('out_head.bias', 'tensor-name')?.tensor?.dtype, 'bf16');
  disposeModel(s);
  await runOk(s, '%load_model tiny --empty');
  const empty = s.inspect('model.layers[0].self_attn.q_proj.weight')?.tensor;
  assert.equal(empty?.resident, false);
  assert.equal(s.inspect('model')?.parameters?.residentBytes, 0);
  disposeModel(s);
});

test('GPU tensors: dtype, shape, the allocator\'s kind and layer, and whether they (or their base) are disposed', async () => {
  const gpu = await testGpu();
  const h = Tensor.alloc(gpu, [3, 64], 'f32', { layer: 'final_norm', tensor: 'hidden', kind: 'activations' });
  const scope = { h, flat: h.reshape([192]) };
  assert.deepEqual(inspectExpression(scope, 'h'), {
    expression: 'h', type: 'Tensor',
    text: 'dtype f32\nshape [3, 64]\nbytes 768 (768 B)\nkind activations (final_norm)\nresident on the GPU',
    tensor: { dtype: 'f32', shape: [3, 64], bytes: 768, name: 'hidden', layer: 'final_norm', kind: 'activations', resident: true },
  });
  assert.deepEqual(inspectExpression(scope, 'flat')?.tensor?.shape, [192]);
  h.dispose();
  assert.equal(inspectExpression(scope, 'h')?.tensor?.resident, false);
  assert.equal(inspectExpression(scope, 'flat')?.tensor?.resident, false, 'a view of a disposed tensor');
});

test('hovers never run code: getters, proxies and calls are refused', async () => {
  const s = gpuSession();
  await runOk(s, `%load_model ${REFERENCE_MODEL}`);
  await runOk(s, [
    'globalThis.touched = 0',
    "const trap = new Proxy({ shape: [2], dtype: 'f32' }, { get() { touched++; return undefined }, getPrototypeOf() { touched++; return null } })",
    'const holder = { get weight() { touched++; return model.norm.weight } }',
    'const proxied = { inner: trap, layers: [trap] }',
  ].join('\n'));
  assert.equal(s.inspect('trap')?.type, 'Proxy');
  assert.equal(s.inspect('holder.weight'), null);
  assert.equal(s.inspect('proxied')?.parameters, undefined);
  assert.equal(s.inspect('model.parameters()'), null);
  assert.equal(s.inspect('model.parameter("model.norm.weight")'), null);
  assert.equal((await runOk(s, 'touched')).text, '0\n');
  disposeModel(s);
});
