// What a hover in a cell asks the kernel (src/hover/target.ts) and how the answer reads (src/hover/text.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { InspectResult } from '../../kernel/protocol.js';
import { hoverTarget } from '../../src/hover/target.js';
import { bytesText, hoverMarkdown } from '../../src/hover/text.js';

/** The target when hovering the first occurrence of `at` in `line` (offset `within` into it). */
function at(line: string, hovered: string, within = 0) {
  const col = line.indexOf(hovered);
  assert.ok(col >= 0, `${hovered} in ${line}`);
  const t = hoverTarget(line, col + within);
  return t && { text: t.text, kind: t.kind, range: line.slice(t.start, t.end) };
}

test('a member chain up to the hovered name; indexes and optional chaining; nothing through calls', () => {
  const line = 'const w = model.layers[31].mlp.down_proj.weight // the down projection';
  assert.deepEqual(at(line, 'weight'), { text: 'model.layers[31].mlp.down_proj.weight', kind: 'expression', range: 'model.layers[31].mlp.down_proj.weight' });
  assert.deepEqual(at(line, 'mlp', 1)?.text, 'model.layers[31].mlp');
  assert.equal(at(line, 'model')?.text, 'model');
  assert.equal(at(line, '31')?.text, 'model.layers[31]');
  assert.equal(at(line, '].')?.text, 'model.layers[31]');
  assert.equal(at(line, 'w ')?.text, 'w');
  assert.equal(at(line, 'down projection'), null, 'comments ask nothing');
  assert.equal(at("x = model?.layers?.[0]?.mlp", 'mlp')?.text, 'model.layers[0].mlp');
  assert.equal(at("model['layers'][2].mlp", 'mlp')?.text, "model['layers'][2].mlp");
  assert.equal(at('model.parameters().length', 'length'), null);
  assert.equal(at('(a || b).weight', 'weight'), null);
  assert.equal(at('layers[i].weight', 'weight'), null, 'a computed index that is not a literal');
  assert.equal(at('x = 1.5 + 2', '5'), null);
  assert.equal(at('x = [1, 2][0].y', 'y'), null);
  assert.equal(at('a + b', '+'), null);
});

test('parameter names and globs in magic lines and strings', () => {
  assert.deepEqual(at('%tensors model.layers.0.*', 'model', 3), { text: 'model.layers.0.*', kind: 'tensor-name', range: 'model.layers.0.*' });
  assert.deepEqual(at("%tensors 'trf_blocks.0.att.W_?????.weight'", 'att'), { text: 'trf_blocks.0.att.W_?????.weight', kind: 'tensor-name', range: "'trf_blocks.0.att.W_?????.weight'" });
  assert.equal(at('%tensors model.layers.0.*', 'tensors'), null, 'the magic name');
  assert.equal(at('%load_inplace ./ckpt/model.safetensors --partial', 'ckpt'), null, 'a path');
  assert.equal(at('%memory --by-tensor', 'by'), null, 'a flag');
  assert.deepEqual(at("const p = model.parameter('model.norm.weight')", 'norm'), { text: 'model.norm.weight', kind: 'tensor-name', range: "'model.norm.weight'" });
  assert.equal(at('console.log("hello world")', 'world'), null);
  assert.equal(at("s = 'it\\'s model.norm.weight'", 'norm'), null, 'a sentence is not a name');
});

test('bytes read "8 KiB (8192 bytes)"', () => {
  assert.equal(bytesText(8192), '8 KiB (8192 bytes)');
  assert.equal(bytesText(1536 * 1024), '1.5 MiB (1572864 bytes)');
  assert.equal(bytesText(110 * 1024), '110 KiB (112640 bytes)');
  assert.equal(bytesText(10 * 1024), '10 KiB (10240 bytes)');
  assert.equal(bytesText(128), '128 bytes');
});

test('hover text for a parameter, a module and a plain value', () => {
  const q: InspectResult = {
    expression: 'model.layers[0].self_attn.q_proj.weight', type: 'Parameter', text: '',
    tensor: { dtype: 'bf16', shape: [64, 64], bytes: 8192, name: 'model.layers.0.self_attn.q_proj.weight', layer: 'block.0', kind: 'weights', trainable: false, resident: true },
  };
  assert.equal(hoverMarkdown(q), [
    '**`model.layers[0].self_attn.q_proj.weight`**: Parameter `model.layers.0.self_attn.q_proj.weight`',
    'bf16 · [64, 64] · 8 KiB (8192 bytes)',
    'weights of block.0 · frozen · resident on the GPU',
  ].join('\n\n'));
  const block: InspectResult = { expression: 'model.layers[0]', type: 'Object', text: '', parameters: { count: 9, bytes: 112640, residentBytes: 0, trainable: 2, dtypes: ['bf16'] } };
  assert.equal(hoverMarkdown(block), [
    '**`model.layers[0]`**: Object, 9 parameter tensors', 'bf16 · 110 KiB (112640 bytes)', '2 of 9 trainable · none on the GPU',
  ].join('\n\n'));
  assert.equal(hoverMarkdown({ expression: 'answer', type: 'number', text: '42' }), null);
});
