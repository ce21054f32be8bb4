// Name mapping against the names LLMs-from-scratch's Llama3Model uses (pkg/llms_from_scratch/llama3.py) and the
// way its HF loader assigns them: fc1 <- gate_proj, fc2 <- up_proj, fc3 <- down_proj, norm1 <- input_layernorm,
// norm2 <- post_attention_layernorm, out_head <- lm_head.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openCheckpoint } from '../../kernel/io/checkpoint.js';
import { canonicalName, fromScratchName } from '../../kernel/io/names.js';
import { REFERENCE_MODEL } from './helpers/io.js';

const CASES: [string, string][] = [
  ['tok_emb.weight', 'model.embed_tokens.weight'],
  ['trf_blocks.0.att.W_query.weight', 'model.layers.0.self_attn.q_proj.weight'],
  ['trf_blocks.1.att.W_key.weight', 'model.layers.1.self_attn.k_proj.weight'],
  ['trf_blocks.2.att.W_value.weight', 'model.layers.2.self_attn.v_proj.weight'],
  ['trf_blocks.15.att.out_proj.weight', 'model.layers.15.self_attn.o_proj.weight'],
  ['trf_blocks.3.ff.fc1.weight', 'model.layers.3.mlp.gate_proj.weight'],
  ['trf_blocks.3.ff.fc2.weight', 'model.layers.3.mlp.up_proj.weight'],
  ['trf_blocks.3.ff.fc3.weight', 'model.layers.3.mlp.down_proj.weight'],
  ['trf_blocks.4.norm1.weight', 'model.layers.4.input_layernorm.weight'],
  ['trf_blocks.4.norm2.weight', 'model.layers.4.post_attention_layernorm.weight'],
  ['final_norm.weight', 'model.norm.weight'],
  ['out_head.bias', 'out_head.bias'],
  ['score.weight', 'out_head.weight'],
  ['embed_tokens.weight', 'model.embed_tokens.weight'],
  ['norm.weight', 'model.norm.weight'],
  ['layers.7.self_attn.q_proj.weight', 'model.layers.7.self_attn.q_proj.weight'],
  ['layers.7.mlp.down_proj.weight', 'model.layers.7.mlp.down_proj.weight'],
  ['module.trf_blocks.0.ff.fc1.weight', 'model.layers.0.mlp.gate_proj.weight'],
  ['_orig_mod.model.norm.weight', 'model.norm.weight'],
];

test('from-scratch, prefix-less and wrapped names map to HF names', () => {
  for (const [name, want] of CASES) assert.equal(canonicalName(name), want, name);
});

test('out_head.weight is the LM head of a base model and the classification head of a chapter-6 model', () => {
  assert.equal(canonicalName('out_head.weight', 'lm_head'), 'lm_head.weight');
  assert.equal(canonicalName('out_head.weight', 'classifier'), 'out_head.weight');
  assert.equal(canonicalName('out_head.weight'), 'out_head.weight');
});

test('every name of the reference checkpoint is canonical and has a from-scratch name that maps back', async () => {
  const c = await openCheckpoint(REFERENCE_MODEL);
  const scratch = new Set<string>();
  for (const name of c.tensors.keys()) {
    assert.equal(canonicalName(name), name);
    const fs = fromScratchName(name);
    assert.ok(fs, name);
    scratch.add(fs);
    assert.equal(canonicalName(fs, 'lm_head'), name);
  }
  assert.equal(scratch.size, c.tensors.size);
  c.close();
});

test('names that are not Llama parameters map to null', () => {
  for (const name of ['model.layers.0.self_attn.rotary_emb.inv_freq', 'trf_blocks.0.att.mask', 'tok_embeddings.weight',
    'layers.0.attention.wq.weight', 'model.layers.x.mlp.up_proj.weight', 'trf_blocks.0.ff.fc4.weight', 'cos', 'epoch', '']) {
    assert.equal(canonicalName(name), null, name);
  }
  assert.equal(fromScratchName('model.layers.0.self_attn.rotary_emb.inv_freq'), null);
});
